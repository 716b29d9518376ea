//! A whole service in-process for an integration test: its runtime on a
//! fresh Postgres schema and a private RabbitMQ topology, its gRPC server on
//! an ephemeral port, and taps that catch the events it publishes.

use std::time::Duration;

use ecommerce_broker::EventsExchange;
use ecommerce_broker::lapin::message::BasicGetMessage;
use ecommerce_broker::properties::from_basic_properties;
use ecommerce_broker::topology::{BindingDeclaration, QueueDeclaration};
use ecommerce_db::DatabaseSettings;
use ecommerce_events::ReceivedEvent;
use ecommerce_outbox::RelaySettings;
use ecommerce_platform::grpc::GrpcServer;
use ecommerce_platform::settings::{GrpcSettings, ServiceInfo};
use ecommerce_runtime::{RuntimeSettings, ServiceRuntime};
use sea_orm_migration::MigratorTrait;
use secrecy::SecretString;

use crate::postgres::{TestSchema, database_url};
use crate::rabbitmq::{TestBroker, unique_prefix};
use crate::server::{TestServer, spawn_service};

/// One test's isolated service. Call [`TestService::finish`] at the end:
/// it stops the server and the relay, then drops the schema and the topology.
pub struct TestService {
    pub schema: TestSchema,
    pub broker: TestBroker,
    pub runtime: ServiceRuntime,
    pub server: Option<TestServer>,
    /// The queue bound to every event of the tapped exchanges.
    pub tap_queue: String,
}

impl TestService {
    /// Migrates a fresh schema with `M` and starts the runtime; the topology
    /// gets a tap queue bound with `#` to each of `tapped` exchanges. Start
    /// the gRPC server with [`TestService::serve`].
    pub async fn start<M: MigratorTrait>(
        service: &ServiceInfo,
        tapped: &[EventsExchange],
    ) -> anyhow::Result<Self> {
        let prefix = unique_prefix();
        let tap_queue = format!("{prefix}tap");
        let broker = TestBroker::start_under(prefix, |settings, topology| {
            topology.queues.push(QueueDeclaration {
                name: tap_queue.clone(),
                delivery_limit: None,
                dead_letter: None,
            });
            for exchange in tapped {
                topology.bindings.push(BindingDeclaration {
                    exchange: settings.names.exchange(*exchange).to_owned(),
                    queue: tap_queue.clone(),
                    routing_key: "#".to_owned(),
                });
            }
        })
        .await;
        let schema = TestSchema::create(service.env_prefix.to_ascii_lowercase().as_str()).await?;
        let settings = RuntimeSettings {
            grpc: GrpcSettings::for_tests(),
            database: DatabaseSettings {
                url: SecretString::from(database_url()),
                schema: schema.name().to_owned(),
                max_connections: 10,
                acquire_timeout: Duration::from_secs(10),
            },
            broker: broker.settings.clone(),
            relay: RelaySettings {
                poll_interval: Duration::from_millis(50),
                ..RelaySettings::default()
            },
        };
        let runtime = ServiceRuntime::start::<M>(service, &settings).await?;
        Ok(Self {
            schema,
            broker,
            runtime,
            server: None,
            tap_queue,
        })
    }

    /// Serves what `register` adds on `127.0.0.1:<ephemeral>`.
    pub async fn serve(
        &mut self,
        service: &ServiceInfo,
        register: impl FnOnce(GrpcServer) -> GrpcServer,
    ) -> anyhow::Result<&TestServer> {
        let server = spawn_service(service, register).await?;
        Ok(self.server.insert(server))
    }

    /// A channel to the served service.
    pub fn channel(&self) -> tonic::transport::Channel {
        match &self.server {
            Some(server) => server.channel.clone(),
            None => panic!("TestService::serve was not called"),
        }
    }

    /// The next event off the tap, decoded with the generated codec, within
    /// `timeout`; `None` when none came.
    pub async fn next_event(&self, timeout: Duration) -> Option<ReceivedEvent> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(message) = self.broker.admin.get(&self.tap_queue).await {
                return Some(decode(&message));
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Events off the tap until one of `event_type` comes (returned) or
    /// `timeout` passes (panics, naming what did come).
    pub async fn expect_event(&self, event_type: &str, timeout: Duration) -> ReceivedEvent {
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + timeout;
        while let Some(event) = self
            .next_event(deadline.saturating_duration_since(tokio::time::Instant::now()))
            .await
        {
            if event.event.event_type() == event_type {
                return event;
            }
            seen.push(event.event.event_type().to_owned());
        }
        panic!("no {event_type} within {timeout:?}; saw {seen:?}");
    }

    /// Waits `quiet` and asserts no event of `event_type` arrived meanwhile
    /// (events of other types are consumed and ignored).
    pub async fn expect_no_event(&self, event_type: &str, quiet: Duration) {
        while let Some(event) = self.next_event(quiet).await {
            assert_ne!(
                event.event.event_type(),
                event_type,
                "unexpected {event_type}: {:?}",
                event.metadata
            );
        }
    }

    /// Stops the server, the relays and the broker connection, then deletes
    /// the schema and the topology.
    pub async fn finish(mut self) -> anyhow::Result<()> {
        if let Some(server) = self.server.take() {
            server.shutdown().await?;
        }
        self.runtime.shutdown().await;
        self.schema.drop_schema().await?;
        self.broker.finish().await;
        Ok(())
    }
}

/// Decodes a tapped message as a consumer would (properties checked against
/// the envelope); the AMQP correlation id must match the envelope's.
#[allow(clippy::panic)]
fn decode(message: &BasicGetMessage) -> ReceivedEvent {
    let properties = from_basic_properties(&message.delivery.properties);
    let received = ecommerce_events::decode(&properties, &message.delivery.data)
        .unwrap_or_else(|error| panic!("a tapped message does not decode: {error}"));
    assert_eq!(
        properties.correlation_id, received.metadata.correlation_id,
        "AMQP correlation_id and envelope disagree"
    );
    received
}
