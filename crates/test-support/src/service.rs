//! A whole service in-process for an integration test: its runtime on a
//! fresh Postgres schema and a private RabbitMQ topology, its gRPC server on
//! an ephemeral port, and taps that catch the events it publishes.

use std::time::Duration;

use ecommerce_broker::EventsExchange;
use ecommerce_db::DatabaseSettings;
use ecommerce_events::ReceivedEvent;
use ecommerce_events::{DecodedEvent, EventMetadata};
use ecommerce_outbox::{Outbox, OutboxTable, RelaySettings, create_outbox_table};
use ecommerce_platform::grpc::GrpcServer;
use ecommerce_platform::metrics::MetricsSettings;
use ecommerce_platform::run_mode::RunMode;
use ecommerce_platform::settings::{GrpcSettings, ServiceInfo};
use ecommerce_runtime::{
    HealthSettings, Roles, RuntimeSettings, SchemaRegistrySettings, ServiceRuntime,
};
use sea_orm_migration::MigratorTrait;
use secrecy::SecretString;

use crate::postgres::TestSchema;
use crate::rabbitmq::{TestBroker, unique_prefix};
use crate::server::{TestServer, spawn_service};
use crate::tap::{EventTap, declare_tap};

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
        Self::start_configured::<M>(service, tapped, |_| {}).await
    }

    /// [`TestService::start`] with the test's settings changed by
    /// `configure` first (e.g. a consumer retry budget a test depends on).
    pub async fn start_configured<M: MigratorTrait>(
        service: &ServiceInfo,
        tapped: &[EventsExchange],
        configure: impl FnOnce(&mut RuntimeSettings),
    ) -> anyhow::Result<Self> {
        let prefix = unique_prefix();
        let tap_queue = format!("{prefix}tap");
        let broker = TestBroker::start_under(prefix, |settings, topology| {
            declare_tap(topology, &settings.names, &tap_queue, tapped);
        })
        .await;
        let schema = TestSchema::create(service.env_prefix.to_ascii_lowercase().as_str()).await?;
        let mut settings = RuntimeSettings {
            grpc: GrpcSettings::for_tests(),
            database: DatabaseSettings {
                url: SecretString::from(schema.application_url()),
                schema: schema.name().to_owned(),
                max_connections: 10,
                acquire_timeout: Duration::from_secs(10),
            },
            broker: broker.settings.clone(),
            relay: RelaySettings {
                poll_interval: Duration::from_millis(50),
                ..RelaySettings::default()
            },
            // One per relay a test may start (its own and `upstream` ones):
            // relays sharing one connection queue behind each other's
            // publishes, and an upstream event could overtake another.
            relay_db_connections: 4,
            roles: Roles::ALL,
            // No registry runs beside a single service under test; events
            // go out without registry ids (the e2e stack runs one).
            registry: SchemaRegistrySettings::disabled(),
            run_mode: RunMode::Development,
            health: HealthSettings {
                interval: Duration::from_millis(100),
                database_timeout: Duration::from_millis(500),
                ..HealthSettings::default()
            },
            // Tests serve no /metrics of their own (the registry is per
            // process; the e2e stack scrapes the service binaries).
            metrics: MetricsSettings { addr: None },
        };
        configure(&mut settings);
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

    /// The outbox of a service upstream of this one (`preset`, publishing
    /// to `exchange`), created in this test's schema with its relay
    /// running: the test publishes that service's events through it, as
    /// that service would. Replaces a test migrator adding outboxes.
    pub async fn upstream(
        &self,
        preset: &OutboxTable,
        exchange: EventsExchange,
    ) -> anyhow::Result<Outbox> {
        let outbox = self.runtime.outbox(preset, exchange)?;
        create_outbox_table(self.schema.db(), outbox.table()).await?;
        self.runtime.spawn_relay(&outbox);
        Ok(outbox)
    }

    /// Enqueues `event` through `outbox` in a transaction of its own and
    /// commits: one event published as its service would. Returns its id.
    pub async fn publish(
        &self,
        outbox: &Outbox,
        event: impl Into<DecodedEvent>,
        metadata: EventMetadata,
    ) -> anyhow::Result<uuid::Uuid> {
        let transaction = outbox.begin(self.runtime.db()).await?;
        let id = transaction.emit(event, metadata).await?;
        transaction.commit().await?;
        Ok(id)
    }

    /// `SELECT count(*) ...` (any query whose one row has a bigint `n`) on
    /// the test's schema.
    pub async fn count(&self, sql: &str) -> i64 {
        self.schema.count(sql).await
    }

    /// A channel to the served service.
    pub fn channel(&self) -> tonic::transport::Channel {
        match &self.server {
            Some(server) => server.channel.clone(),
            None => panic!("TestService::serve was not called"),
        }
    }

    /// The tap: every event of the tapped exchanges.
    pub fn tap(&self) -> EventTap<'_> {
        EventTap {
            admin: &self.broker.admin,
            queue: &self.tap_queue,
        }
    }

    /// See [`EventTap::next_event`].
    pub async fn next_event(&self, timeout: Duration) -> Option<ReceivedEvent> {
        self.tap().next_event(timeout).await
    }

    /// See [`EventTap::expect_event`].
    pub async fn expect_event(&self, event_type: &str, timeout: Duration) -> ReceivedEvent {
        self.tap().expect_event(event_type, timeout).await
    }

    /// See [`EventTap::expect_no_event`].
    pub async fn expect_no_event(&self, event_type: &str, quiet: Duration) {
        self.tap().expect_no_event(event_type, quiet).await
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
