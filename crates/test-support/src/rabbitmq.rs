//! RabbitMQ for integration tests: a private, prefixed copy of the system
//! topology per test (deleted at the end, even when the test fails), an admin
//! connection to inspect queues, and `rabbitmqctl`.
//!
//! Test code: failures panic with a message saying what was expected.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ecommerce_broker::lapin::message::BasicGetMessage;
use ecommerce_broker::lapin::options::{
    BasicGetOptions, ExchangeDeclareOptions, QueueDeclareOptions,
};
use ecommerce_broker::lapin::types::FieldTable;
use ecommerce_broker::lapin::{Channel, Connection, ConnectionProperties, ExchangeKind};
use ecommerce_broker::{
    Backoff, Broker, BrokerSettings, ConsumerSettings, OutgoingMessage, Topology, TopologyNames,
    topology,
};
use ecommerce_events::{CONTENT_TYPE_PROTOBUF, DELIVERY_MODE_PERSISTENT, MessageProperties};
use secrecy::ExposeSecret as _;
use uuid::Uuid;

/// Settings for one test: every name under `prefix`, a unique connection
/// name, fast retries and reconnects.
pub fn test_settings(prefix: &str) -> BrokerSettings {
    let mut settings = BrokerSettings::from_env().expect("valid broker settings");
    settings.names = settings.names.with_prefix(prefix);
    settings.connection_name = format!("{prefix}broker");
    settings.reconnect_backoff =
        Backoff::new(Duration::from_millis(20), Duration::from_millis(500));
    settings.confirm_timeout = Duration::from_secs(10);
    settings.consumer = ConsumerSettings {
        prefetch: 16,
        concurrency: 1,
        batch_size: 8,
        retry_budget: 2,
        retry_backoff: Backoff::new(Duration::from_millis(5), Duration::from_millis(40)),
        // Tests that need delayed retries turn them on.
        delayed_retries: 0,
        retry_delay: Duration::from_millis(200),
    };
    settings
}

/// `t-<uuid>.`: unique per test, recognisable when something leaks.
pub fn unique_prefix() -> String {
    format!("t-{}.", Uuid::now_v7().simple())
}

/// A connected [`Broker`] over a private copy of the topology.
pub struct TestBroker {
    pub prefix: String,
    pub settings: BrokerSettings,
    pub topology: Topology,
    /// `topology` plus every consumer queue's retry path: what `finish` deletes.
    owned: Topology,
    pub broker: Broker,
    pub admin: Admin,
    cleanup: TopologyCleanup,
}

impl TestBroker {
    /// The system topology under a fresh prefix.
    pub async fn start() -> Self {
        Self::start_with(|_, _| {}).await
    }

    /// Like [`TestBroker::start`], after `customize` adjusted the settings or
    /// added to the topology (every added name must carry the prefix).
    pub async fn start_with(customize: impl FnOnce(&mut BrokerSettings, &mut Topology)) -> Self {
        Self::start_under(unique_prefix(), customize).await
    }

    /// Like [`TestBroker::start_with`] under a prefix the caller chose (from
    /// [`unique_prefix`]), so it can name its own additions after it.
    pub async fn start_under(
        prefix: String,
        customize: impl FnOnce(&mut BrokerSettings, &mut Topology),
    ) -> Self {
        crate::init_test_tracing();
        let mut settings = test_settings(&prefix);
        let mut topology = settings.topology();
        customize(&mut settings, &mut topology);
        // What the test's consumers add (each declares its queue's retry
        // path) goes too.
        let mut owned = topology.clone();
        owned.extend(topology::retry_paths(&settings.names));
        // Armed before anything is declared, so a failure half-way still cleans up.
        let cleanup = TopologyCleanup::new(&settings, &owned);
        let admin = Admin::connect(&settings, &format!("{prefix}admin")).await;
        let broker = Broker::connect(settings.clone(), topology.clone())
            .await
            .expect("broker connects and declares the topology");
        Self {
            prefix,
            settings,
            topology,
            owned,
            broker,
            admin,
            cleanup,
        }
    }

    pub fn names(&self) -> &TopologyNames {
        &self.settings.names
    }

    /// Closes the broker, deletes the topology and checks nothing is left.
    pub async fn finish(mut self) {
        self.broker.close().await;
        let channel = self.admin.channel().await;
        topology::delete(&channel, &self.owned)
            .await
            .expect("topology deleted");
        for queue in &self.owned.queues {
            assert!(
                !self.admin.queue_exists(&queue.name).await,
                "queue {} left behind",
                queue.name
            );
        }
        for exchange in &self.owned.exchanges {
            assert!(
                !self.admin.exchange_exists(&exchange.name).await,
                "exchange {} left behind",
                exchange.name
            );
        }
        self.cleanup.disarm();
        self.admin.close().await;
    }
}

/// Deletes a test's topology when dropped without [`TestBroker::finish`]
/// (a failed assertion unwinds through it).
struct TopologyCleanup {
    amqp_url: String,
    topology: Option<Topology>,
}

impl TopologyCleanup {
    fn new(settings: &BrokerSettings, topology: &Topology) -> Self {
        Self {
            amqp_url: settings.amqp_url.expose_secret().to_owned(),
            topology: Some(topology.clone()),
        }
    }

    fn disarm(&mut self) {
        self.topology = None;
    }
}

impl Drop for TopologyCleanup {
    fn drop(&mut self) {
        let Some(topology) = self.topology.take() else {
            return;
        };
        let amqp_url = self.amqp_url.clone();
        // Drop cannot await, and the test's runtime may be unwinding: use a
        // runtime of our own on a thread of our own.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("cleanup runtime");
            runtime.block_on(async move {
                // The broker may be coming back from a fault test: retry a while.
                let mut attempts = 0;
                let connection = loop {
                    match Connection::connect(&amqp_url, ConnectionProperties::default()).await {
                        Ok(connection) => break connection,
                        Err(error) if attempts < 30 => {
                            attempts += 1;
                            eprintln!("cleanup cannot reach RabbitMQ yet ({error}); retrying");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                        Err(error) => panic!("cleanup connection: {error}"),
                    }
                };
                let channel = connection.create_channel().await.expect("cleanup channel");
                topology::delete(&channel, &topology)
                    .await
                    .expect("cleanup deletes the topology");
                let _ = connection.close(200, "cleanup done".into()).await;
            });
        });
        if cleanup.join().is_err() {
            eprintln!("could not delete a test topology; look for t-* queues");
        }
    }
}

/// A connection of its own (not the broker under test) to look at queues.
pub struct Admin {
    connection: Connection,
}

impl Admin {
    pub async fn connect(settings: &BrokerSettings, connection_name: &str) -> Self {
        let connection = Connection::connect(
            settings.amqp_url.expose_secret(),
            ConnectionProperties::default().with_connection_name(connection_name.into()),
        )
        .await
        .expect("admin connection");
        Self { connection }
    }

    /// A fresh channel: a refused operation closes its channel.
    pub async fn channel(&self) -> Channel {
        self.connection
            .create_channel()
            .await
            .expect("admin channel")
    }

    pub async fn close(self) {
        let _ = self.connection.close(200, "test done".into()).await;
    }

    /// Ready messages in `queue` (not counting unacknowledged ones).
    pub async fn message_count(&self, queue: &str) -> u32 {
        let channel = self.channel().await;
        let declared = channel
            .queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .unwrap_or_else(|error| panic!("queue {queue} exists: {error}"));
        let _ = channel.close(200, "done".into()).await;
        declared.message_count()
    }

    /// Polls until `queue` holds `expected` ready messages; returns the last count.
    pub async fn wait_for_message_count(
        &self,
        queue: &str,
        expected: u32,
        timeout: Duration,
    ) -> u32 {
        let deadline = Instant::now() + timeout;
        loop {
            let count = self.message_count(queue).await;
            if count == expected || Instant::now() >= deadline {
                return count;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Takes one message off `queue` (auto-ack).
    pub async fn get(&self, queue: &str) -> Option<BasicGetMessage> {
        let channel = self.channel().await;
        let message = channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await
            .expect("basic.get");
        let _ = channel.close(200, "done".into()).await;
        message
    }

    pub async fn queue_exists(&self, queue: &str) -> bool {
        let channel = self.channel().await;
        let declared = channel
            .queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await;
        if declared.is_ok() {
            let _ = channel.close(200, "done".into()).await;
        }
        declared.is_ok()
    }

    pub async fn exchange_exists(&self, exchange: &str) -> bool {
        let channel = self.channel().await;
        let declared = channel
            .exchange_declare(
                exchange.into(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    passive: true,
                    ..ExchangeDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await;
        if declared.is_ok() {
            let _ = channel.close(200, "done".into()).await;
        }
        declared.is_ok()
    }
}

/// A message with a fresh id, typed and routed by `routing_key`.
pub fn test_message(exchange: &str, routing_key: &str, body: &[u8]) -> OutgoingMessage {
    OutgoingMessage::new(
        exchange,
        routing_key,
        body.to_vec(),
        MessageProperties {
            message_id: Uuid::now_v7().to_string(),
            event_type: routing_key.to_owned(),
            timestamp: 1_720_000_000,
            correlation_id: Some("correlation-1".to_owned()),
            content_type: CONTENT_TYPE_PROTOBUF.to_owned(),
            delivery_mode: DELIVERY_MODE_PERSISTENT,
            headers: [("x-test".to_owned(), "yes".to_owned())].into(),
        },
    )
}

/// Runs `rabbitmqctl` with `arguments` and returns its standard output.
pub async fn rabbitmqctl(arguments: &[&str]) -> String {
    let arguments: Vec<String> = arguments
        .iter()
        .map(|argument| (*argument).to_owned())
        .collect();
    tokio::task::spawn_blocking(move || {
        let output = Command::new("rabbitmqctl")
            .args(&arguments)
            .output()
            .expect("rabbitmqctl runs");
        assert!(
            output.status.success(),
            "rabbitmqctl {arguments:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    })
    .await
    .expect("rabbitmqctl task")
}

/// Closes, from the broker's side, the one connection whose client-provided
/// `connection_name` is `connection_name` (other tests' connections stay).
pub async fn close_connection_named(connection_name: &str) {
    let listing = rabbitmqctl(&[
        "list_connections",
        "-q",
        "--no-table-headers",
        "pid",
        "client_properties",
    ])
    .await;
    let quoted = format!("\"{connection_name}\"");
    let pids: Vec<&str> = listing
        .lines()
        .filter(|line| line.contains(&quoted))
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert_eq!(
        pids.len(),
        1,
        "one connection named {connection_name} in:\n{listing}"
    );
    rabbitmqctl(&["close_connection", pids[0], "forced by a broker test"]).await;
}

/// `name type messages_ready messages_unacknowledged arguments` of `queue`,
/// as `rabbitmqctl list_queues` prints them.
pub async fn queue_listing(queue: &str) -> Vec<String> {
    let listing = rabbitmqctl(&[
        "list_queues",
        "-q",
        "--no-table-headers",
        "name",
        "type",
        "messages_ready",
        "messages_unacknowledged",
        "arguments",
    ])
    .await;
    listing
        .lines()
        .map(|line| line.split('\t').map(str::to_owned).collect::<Vec<_>>())
        .find(|columns| columns.first().map(String::as_str) == Some(queue))
        .unwrap_or_else(|| panic!("queue {queue} listed in:\n{listing}"))
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes.
pub async fn eventually(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    condition()
}

/// A cloneable record of what a handler saw.
pub type Seen<T> = Arc<std::sync::Mutex<Vec<T>>>;

/// A consumer running in the background until [`RunningConsumer::stop`].
pub struct RunningConsumer {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), ecommerce_broker::ConsumerError>>,
}

impl RunningConsumer {
    pub fn spawn<H: ecommerce_broker::MessageHandler>(
        consumer: ecommerce_broker::Consumer,
        queue: &str,
        handler: H,
    ) -> Self {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let queue = queue.to_owned();
        let task = tokio::spawn(async move {
            consumer
                .run(&queue, handler, async move {
                    let _ = stopped.await;
                })
                .await
        });
        Self { stop, task }
    }

    /// Asks for a graceful stop and waits for `run` to return.
    pub async fn stop(self) -> Result<(), ecommerce_broker::ConsumerError> {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("the consumer stops in time")
            .expect("the consumer task did not panic")
    }
}

/// The text of header `name` of a message read with [`Admin::get`].
pub fn header_text(message: &BasicGetMessage, name: &str) -> Option<String> {
    let headers = message.delivery.properties.headers().as_ref()?;
    match headers.inner().get(name)? {
        ecommerce_broker::lapin::types::AMQPValue::LongString(text) => {
            Some(String::from_utf8_lossy(text.as_bytes()).into_owned())
        }
        other => Some(format!("{other:?}")),
    }
}
