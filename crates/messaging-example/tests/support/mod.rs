//! The fault tests' world: a fresh schema, a private topology with a tap
//! queue that sees every order event the relay publishes, the order desk,
//! and the example's processes, started and killed like real ones.

#![allow(dead_code)]

use std::process::Stdio;
use std::time::{Duration, Instant};

use ecommerce_broker::ConsumerQueue;
use ecommerce_broker::EventsExchange;
use ecommerce_broker::topology::{BindingDeclaration, QueueDeclaration};
use ecommerce_inbox::InboxConsumer;
use ecommerce_messaging_example::{ExamplePlace, OrderDesk, StockKeeper};
use ecommerce_test_support::TestSchema;
use ecommerce_test_support::rabbitmq::{RunningConsumer, TestBroker, queue_listing, unique_prefix};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use secrecy::ExposeSecret as _;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// How long a test waits for what should happen before it fails.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// One isolated run of the example.
pub struct World {
    pub schema: TestSchema,
    pub broker: TestBroker,
    pub place: ExamplePlace,
    pub desk: OrderDesk,
    /// Bound to every order event: it counts what was published, duplicates
    /// included, independently of any consumer.
    pub tap_queue: String,
}

impl World {
    pub async fn create(name: &str) -> Self {
        let prefix = unique_prefix();
        let tap_queue = format!("{prefix}tap.orders");
        let broker = TestBroker::start_under(prefix.clone(), |settings, topology| {
            topology.queues.push(QueueDeclaration {
                name: tap_queue.clone(),
                delivery_limit: None,
                dead_letter: None,
            });
            topology.bindings.push(BindingDeclaration {
                exchange: settings.names.exchange(EventsExchange::Orders).to_owned(),
                queue: tap_queue.clone(),
                routing_key: "orders.#".to_owned(),
            });
        })
        .await;
        let schema = TestSchema::create(name).await.expect("test schema");
        let place = ExamplePlace {
            schema: schema.name().to_owned(),
            topology_prefix: prefix,
        };
        let desk = OrderDesk::new(place.orders_outbox(broker.names()).expect("orders outbox"));
        desk.create_tables(schema.db())
            .await
            .expect("example tables");
        StockKeeper::new(schema.name())
            .create_tables(
                schema.db(),
                &place.inbox().expect("inbox table"),
                &place
                    .inventory_outbox(broker.names())
                    .expect("inventory outbox"),
            )
            .await
            .expect("stock keeper tables");
        Self {
            schema,
            broker,
            place,
            desk,
            tap_queue,
        }
    }

    pub fn db(&self) -> &DatabaseConnection {
        self.schema.db()
    }

    /// The stock keeper as an inbox consumer of this process.
    pub fn stock_keeper(&self) -> InboxConsumer {
        StockKeeper::new(self.schema.name()).into_consumer(
            self.db().clone(),
            self.place.inbox().expect("inbox table"),
            self.place
                .inventory_outbox(self.broker.names())
                .expect("inventory outbox"),
        )
    }

    /// The stock keeper's queue.
    pub fn stock_queue(&self) -> String {
        self.broker
            .names()
            .queue(ConsumerQueue::InventoryOrderEvents)
            .to_owned()
    }

    /// Runs the stock keeper in this process until [`RunningConsumer::stop`].
    pub fn start_stock_keeper(&self) -> RunningConsumer {
        RunningConsumer::spawn(
            self.broker.broker.consumer(),
            &self.stock_queue(),
            self.stock_keeper(),
        )
    }

    /// (reservation rows, distinct orders reserved, inbox records): equal
    /// when every order was applied exactly once.
    pub async fn effects(&self) -> (i64, i64, i64) {
        (
            self.count("{schema}.example_reservations").await,
            self.count("(SELECT DISTINCT order_id FROM {schema}.example_reservations) AS orders")
                .await,
            self.count("{schema}.processed_messages").await,
        )
    }

    /// Ready and unacknowledged messages in `queue`.
    pub async fn queue_depth(&self, queue: &str) -> (u64, u64) {
        let columns = queue_listing(queue).await;
        let number = |index: usize| columns[index].trim().parse::<u64>().unwrap_or(u64::MAX);
        (number(2), number(3))
    }

    /// Places `count` orders, each in its own committed transaction.
    pub async fn place_orders(&self, count: usize) -> Vec<uuid::Uuid> {
        let mut event_ids = Vec::with_capacity(count);
        for _ in 0..count {
            let placed = self
                .desk
                .place_order(self.db(), 1)
                .await
                .expect("order placed");
            event_ids.push(placed.event_id);
        }
        event_ids
    }

    /// `SELECT count(*)` of `sql_from`, with `{schema}` replaced.
    pub async fn count(&self, sql_from: &str) -> i64 {
        let sql = format!(
            "SELECT count(*) AS n FROM {}",
            sql_from.replace("{schema}", &format!("\"{}\"", self.schema.name()))
        );
        let row = self
            .db()
            .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
            .await
            .expect("count query")
            .expect("a count row");
        row.try_get("", "n").expect("count column")
    }

    /// Order outbox rows by status: (pending, published, failed).
    pub async fn order_outbox_statuses(&self) -> (i64, i64, i64) {
        let table = "{schema}.orders_outbox_events";
        (
            self.count(&format!("{table} WHERE status = 'pending'"))
                .await,
            self.count(&format!("{table} WHERE status = 'published'"))
                .await,
            self.count(&format!("{table} WHERE status = 'failed'"))
                .await,
        )
    }

    /// The message ids on the tap queue, taken off it.
    pub async fn drain_tap(&self) -> Vec<String> {
        let mut ids = Vec::new();
        while let Some(message) = self.broker.admin.get(&self.tap_queue).await {
            ids.push(
                message
                    .delivery
                    .properties
                    .message_id()
                    .as_ref()
                    .map(|id| id.as_str().to_owned())
                    .unwrap_or_default(),
            );
        }
        ids
    }

    /// A command for one of the example's binaries, pointed at this world.
    pub fn command(&self, program: &str, role: &str) -> Command {
        let mut command = Command::new(program);
        command
            .envs(self.place.env())
            .env("DATABASE_URL", ecommerce_test_support::database_url())
            .env("AMQP_URL", self.broker.settings.amqp_url.expose_secret())
            .env(
                "AMQP_CONNECTION_NAME",
                format!("{}{role}", self.place.topology_prefix),
            )
            .env("AMQP_RECONNECT_BACKOFF_MIN_MS", "50")
            .env("AMQP_RECONNECT_BACKOFF_MAX_MS", "1000")
            .env("OUTBOX_RELAY_POLL_INTERVAL_MS", "50")
            .env("OUTBOX_RELAY_BACKOFF_BASE_MS", "50")
            .env("OUTBOX_RELAY_BACKOFF_CAP_MS", "1000")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        command
    }

    /// Waits until `condition` holds on the database, or fails the test.
    pub async fn wait_for(&self, what: &str, mut condition: impl AsyncFnMut(&Self) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        while !condition(self).await {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn finish(self) {
        self.broker.finish().await;
        self.schema.drop_schema().await.expect("schema dropped");
    }
}

/// A running example process whose stdout lines the test can wait for.
pub struct ExampleProcess {
    name: String,
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
}

impl ExampleProcess {
    pub fn spawn(name: &str, mut command: Command) -> Self {
        let mut child = command
            .spawn()
            .unwrap_or_else(|error| panic!("{name} starts: {error}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, lines) = mpsc::unbounded_channel();
        let prefix = name.to_owned();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                // Echoed for the test's output when it fails.
                eprintln!("[{prefix}] {line}");
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            name: name.to_owned(),
            child,
            lines,
        }
    }

    /// Waits for a line containing `needle`, or fails the test.
    pub async fn wait_for_line(&mut self, needle: &str) -> String {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(line)) if line.contains(needle) => return line,
                Ok(Some(_)) => {}
                Ok(None) => panic!("{} exited before printing {needle:?}", self.name),
                Err(_) => panic!("{} did not print {needle:?} in time", self.name),
            }
        }
    }

    /// SIGKILL, then reaps it: no cleanup runs in the process.
    pub async fn kill(mut self) {
        self.child.kill().await.expect("SIGKILL delivered");
    }

    /// SIGTERM and waits for a clean exit.
    pub async fn terminate(mut self) {
        let pid = self.child.id().expect("still running").to_string();
        let status = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .expect("kill runs");
        assert!(status.success(), "SIGTERM sent to {}", self.name);
        let exit = tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("{} stops after SIGTERM", self.name))
            .expect("wait");
        assert!(exit.success(), "{} exited cleanly: {exit}", self.name);
    }
}
