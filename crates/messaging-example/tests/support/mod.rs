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
            topology
                .queues
                .push(QueueDeclaration::quorum(tap_queue.clone()));
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

// ─────────── the whole example in the test's process (the worked example) ───────────

/// The example running in this process: a relay per outbox and the stock
/// keeper's inbox consumer, until [`RunningExample::stop`].
pub struct RunningExample {
    consumer: RunningConsumer,
    stop_relays: tokio::sync::watch::Sender<bool>,
    relays: Vec<tokio::task::JoinHandle<()>>,
}

impl RunningExample {
    /// Stops the consumer, then the relays, and waits for all of them.
    pub async fn stop(self) {
        self.consumer
            .stop()
            .await
            .expect("the stock keeper stopped cleanly");
        self.stop_relays.send_replace(true);
        for relay in self.relays {
            tokio::time::timeout(PATIENCE, relay)
                .await
                .expect("the relay stops in time")
                .expect("the relay did not panic");
        }
    }
}

/// Relays that poll and back off in milliseconds, so a test takes seconds
/// (a commit through the same [`ecommerce_outbox::Outbox`] wakes them at once).
pub fn fast_relay_settings() -> ecommerce_outbox::RelaySettings {
    ecommerce_outbox::RelaySettings {
        poll_interval: Duration::from_millis(20),
        backoff_base: Duration::from_millis(10),
        backoff_cap: Duration::from_millis(200),
        ..ecommerce_outbox::RelaySettings::default()
    }
}

impl World {
    /// Starts the orders relay, the inventory relay and the [`StockKeeper`]
    /// consumer in this process.
    pub async fn run_example(&self) -> RunningExample {
        let inventory_outbox = self
            .place
            .inventory_outbox(self.broker.names())
            .expect("inventory outbox");
        let consumer = StockKeeper::new(self.schema.name()).into_consumer(
            self.db().clone(),
            self.place.inbox().expect("inbox table"),
            inventory_outbox.clone(),
        );
        self.run_with_consumer(consumer, inventory_outbox).await
    }

    /// Like [`World::run_example`], with `handler` in the stock keeper's
    /// place: same consumer name, inbox, outbox and queue.
    pub async fn run_example_with(
        &self,
        handler: impl ecommerce_inbox::EventHandler,
    ) -> RunningExample {
        let inventory_outbox = self
            .place
            .inventory_outbox(self.broker.names())
            .expect("inventory outbox");
        let consumer = InboxConsumer::new(
            ecommerce_messaging_example::stock_keeper::CONSUMER_NAME,
            self.db().clone(),
            self.place.inbox().expect("inbox table"),
            handler,
        )
        .with_outbox(inventory_outbox.clone());
        self.run_with_consumer(consumer, inventory_outbox).await
    }

    /// The consumer emits through `inventory_outbox`, the inventory relay
    /// relays that same clone, so the consumer's commits wake it.
    async fn run_with_consumer(
        &self,
        consumer: InboxConsumer,
        inventory_outbox: ecommerce_outbox::Outbox,
    ) -> RunningExample {
        let (stop_relays, relays_stopped) = tokio::sync::watch::channel(false);
        let publisher: std::sync::Arc<dyn ecommerce_outbox::OutboxPublisher> =
            std::sync::Arc::new(self.broker.broker.publisher());
        let mut relays = Vec::new();
        for outbox in [self.desk.outbox().clone(), inventory_outbox] {
            // Its own pool: a batch holds a connection while the broker confirms.
            let relay = ecommerce_outbox::Relay::new(
                self.schema.connect(2).await.expect("relay pool"),
                outbox,
                publisher.clone(),
                fast_relay_settings(),
            );
            let mut stopped = relays_stopped.clone();
            relays.push(tokio::spawn(async move {
                relay
                    .run(async move {
                        let _ = stopped.wait_for(|stop| *stop).await;
                    })
                    .await;
            }));
        }
        let consumer =
            RunningConsumer::spawn(self.broker.broker.consumer(), &self.stock_queue(), consumer);
        RunningExample {
            consumer,
            stop_relays,
            relays,
        }
    }

    /// Waits until the stock keeper's queue holds nothing, ready or
    /// unacknowledged (the ack follows the commit or the dead-lettering).
    pub async fn wait_for_stock_queue_drained(&self) {
        let stock_queue = self.stock_queue();
        self.wait_for("the stock queue drained", async |world: &World| {
            world.queue_depth(&stock_queue).await == (0, 0)
        })
        .await;
    }

    /// The stock keeper's dead-letter queue.
    pub fn stock_dead_letter_queue(&self) -> String {
        self.broker
            .names()
            .dead_letter_queue(ConsumerQueue::InventoryOrderEvents)
    }

    /// orders-svc's queue for inventory events: where `StockReserved` lands.
    pub fn inventory_events_queue(&self) -> String {
        self.broker
            .names()
            .queue(ConsumerQueue::OrdersInventoryEvents)
            .to_owned()
    }

    /// Inbox records of the message `event_id`.
    pub async fn times_processed(&self, event_id: uuid::Uuid) -> i64 {
        self.count(&format!(
            "{{schema}}.processed_messages WHERE message_id = '{event_id}'"
        ))
        .await
    }

    /// Reservation rows of the order `order_id`.
    pub async fn reservations_for(&self, order_id: uuid::Uuid) -> i64 {
        self.count(&format!(
            "{{schema}}.example_reservations WHERE order_id = '{order_id}'"
        ))
        .await
    }

    /// `(event_type, causation_id, correlation_id)` of the stock keeper's
    /// outbox rows, oldest first.
    pub async fn inventory_outbox_events(&self) -> Vec<(String, Option<String>, Option<String>)> {
        let sql = format!(
            "SELECT event_type, causation_id, correlation_id \
             FROM \"{}\".inventory_outbox_events ORDER BY created_at, id",
            self.schema.name()
        );
        self.db()
            .query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
            .await
            .expect("inventory outbox rows")
            .iter()
            .map(|row| {
                (
                    row.try_get("", "event_type").expect("event_type"),
                    row.try_get("", "causation_id").expect("causation_id"),
                    row.try_get("", "correlation_id").expect("correlation_id"),
                )
            })
            .collect()
    }
}

/// The event view of a message taken off a queue with
/// [`ecommerce_test_support::rabbitmq::Admin::get`]: what
/// [`ecommerce_events::decode`] checks the envelope against. Scalar headers
/// become text; nested ones (`x-death`) are left out.
pub fn event_properties(
    message: &ecommerce_broker::lapin::message::BasicGetMessage,
) -> ecommerce_events::MessageProperties {
    use ecommerce_broker::lapin::types::AMQPValue;

    let properties = &message.delivery.properties;
    let text = |value: &Option<ecommerce_broker::lapin::types::ShortString>| {
        value
            .as_ref()
            .map(|value| value.as_str().to_owned())
            .unwrap_or_default()
    };
    let headers = properties
        .headers()
        .as_ref()
        .map(|table| {
            table
                .inner()
                .iter()
                .filter_map(|(name, value)| {
                    let value = match value {
                        AMQPValue::LongString(value) => {
                            String::from_utf8_lossy(value.as_bytes()).into_owned()
                        }
                        AMQPValue::ShortString(value) => value.as_str().to_owned(),
                        _ => return None,
                    };
                    Some((name.as_str().to_owned(), value))
                })
                .collect()
        })
        .unwrap_or_default();
    ecommerce_events::MessageProperties {
        message_id: text(properties.message_id()),
        event_type: text(properties.kind()),
        timestamp: properties.timestamp().unwrap_or(0),
        correlation_id: properties
            .correlation_id()
            .as_ref()
            .map(|id| id.as_str().to_owned()),
        content_type: text(properties.content_type()),
        delivery_mode: properties.delivery_mode().unwrap_or(0),
        headers,
    }
}

/// Decodes a message taken off a queue as a consumer would, properties
/// checked against the envelope.
pub fn decode_message(
    message: &ecommerce_broker::lapin::message::BasicGetMessage,
) -> ecommerce_events::ReceivedEvent {
    ecommerce_events::decode(&event_properties(message), &message.delivery.data)
        .expect("an event the codec accepts")
}

/// A message taken off a queue, ready to be published again byte for byte
/// to the exchange it came through, as a relay that crashed before marking
/// its row published would send it.
pub fn copy_of(
    message: &ecommerce_broker::lapin::message::BasicGetMessage,
) -> ecommerce_broker::OutgoingMessage {
    ecommerce_broker::OutgoingMessage::new(
        message.delivery.exchange.as_str(),
        message.delivery.routing_key.as_str(),
        message.delivery.data.clone(),
        event_properties(message),
    )
}

/// Places `count` orders at about `per_second`, each in its own transaction,
/// in a task of its own: the load that runs while a fault is injected.
pub fn produce_orders(
    world: &World,
    count: usize,
    per_second: u32,
) -> tokio::task::JoinHandle<Vec<uuid::Uuid>> {
    let db = world.db().clone();
    let desk = world.desk.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(Duration::from_secs(1) / per_second);
        let mut event_ids = Vec::with_capacity(count);
        for _ in 0..count {
            ticks.tick().await;
            let placed = desk.place_order(&db, 1).await.expect("order placed");
            event_ids.push(placed.event_id);
        }
        event_ids
    })
}

impl World {
    /// A fresh admin connection, after the broker dropped the old one.
    pub async fn reconnect_admin(&mut self) {
        self.broker.admin = ecommerce_test_support::rabbitmq::Admin::connect(
            &self.broker.settings,
            &format!("{}admin-2", self.place.topology_prefix),
        )
        .await;
    }

    /// Every order applied exactly once, every follow-up event published,
    /// nothing pending or failed in either outbox, the stock queue empty.
    pub async fn assert_everything_applied_once(&self, orders: i64) {
        let stock_queue = self.stock_queue();
        self.wait_for(
            "every order applied and acknowledged",
            async |world: &World| {
                world.effects().await.2 == orders && world.queue_depth(&stock_queue).await == (0, 0)
            },
        )
        .await;
        self.wait_for("every follow-up event published", async |world: &World| {
            world
                .count("{schema}.inventory_outbox_events WHERE status = 'published'")
                .await
                == orders
        })
        .await;
        assert_eq!(
            self.effects().await,
            (orders, orders, orders),
            "each order applied exactly once"
        );
        assert_eq!(self.order_outbox_statuses().await, (0, orders, 0));
        assert_eq!(
            self.count("{schema}.inventory_outbox_events WHERE status <> 'published'")
                .await,
            0,
            "nothing stuck in the stock keeper's outbox"
        );
    }
}
