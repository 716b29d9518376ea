//! The messaging backbone, worked end to end with test-only domain code.
//!
//! An [`OrderDesk`] places orders: one transaction inserts the order row and
//! enqueues `orders.order_placed.v1` through the outbox. A relay publishes
//! it to RabbitMQ. A stock keeper consumes it through the inbox, reserves
//! stock in its own table and emits `inventory.stock.reserved.v1` caused by
//! the order event, all in one transaction, then acks.
//!
//! The same code runs in-process (the worked example tests) and as the
//! `example-relay` and `example-consumer` processes that the fault tests kill
//! with SIGKILL at a crash point. Everything lives in one Postgres schema and
//! under one topology prefix, both passed to the processes through
//! [`SCHEMA_VAR`] and [`TOPOLOGY_PREFIX_VAR`], so tests stay isolated.

pub mod crash_point;
pub mod order_desk;
pub mod stock_keeper;

pub use order_desk::{OrderDesk, PlacedOrder};
pub use stock_keeper::StockKeeper;

use anyhow::Context as _;
use ecommerce_broker::{Broker, BrokerSettings, EventsExchange, TopologyNames};
use ecommerce_inbox::InboxTable;
use ecommerce_outbox::{Outbox, OutboxTable};
use ecommerce_platform::ServiceInfo;
use ecommerce_platform::telemetry::TelemetryGuard;
use sea_orm::{Database, DatabaseConnection};
use tokio::sync::watch;

/// The Postgres schema the example's tables live in.
pub const SCHEMA_VAR: &str = "EXAMPLE_SCHEMA";
/// Prefix of every exchange and queue name of the example's topology.
pub const TOPOLOGY_PREFIX_VAR: &str = "EXAMPLE_TOPOLOGY_PREFIX";

/// The Postgres URL: `DATABASE_URL`, else the local development database.
pub fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
        .unwrap_or_else(|| {
            "postgres://postgres@127.0.0.1:5432/ecommerce?sslmode=disable".to_owned()
        })
}

/// Where one run of the example lives: a schema and a topology prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExamplePlace {
    pub schema: String,
    pub topology_prefix: String,
}

impl ExamplePlace {
    /// Reads [`SCHEMA_VAR`] and [`TOPOLOGY_PREFIX_VAR`].
    pub fn from_env() -> anyhow::Result<Self> {
        let schema =
            std::env::var(SCHEMA_VAR).with_context(|| format!("{SCHEMA_VAR} is not set"))?;
        let topology_prefix = std::env::var(TOPOLOGY_PREFIX_VAR)
            .with_context(|| format!("{TOPOLOGY_PREFIX_VAR} is not set"))?;
        Ok(Self {
            schema,
            topology_prefix,
        })
    }

    /// The variables a child process needs to find this place.
    pub fn env(&self) -> [(&'static str, String); 2] {
        [
            (SCHEMA_VAR, self.schema.clone()),
            (TOPOLOGY_PREFIX_VAR, self.topology_prefix.clone()),
        ]
    }

    /// `settings` with every name under this place's prefix.
    pub fn broker_settings(&self, mut settings: BrokerSettings) -> BrokerSettings {
        settings.names = settings.names.with_prefix(&self.topology_prefix);
        settings
    }

    /// The order desk's outbox: the orders preset table in this schema,
    /// publishing to the (prefixed) orders exchange.
    pub fn orders_outbox(&self, names: &TopologyNames) -> anyhow::Result<Outbox> {
        let table = OutboxTable::ORDERS.in_schema(self.schema.clone())?;
        Ok(Outbox::new(table, names.exchange(EventsExchange::Orders)))
    }

    /// The stock keeper's inbox: `processed_messages` in this schema.
    pub fn inbox(&self) -> anyhow::Result<InboxTable> {
        Ok(InboxTable::new(self.schema.clone())?)
    }

    /// The stock keeper's outbox, publishing to the inventory exchange.
    pub fn inventory_outbox(&self, names: &TopologyNames) -> anyhow::Result<Outbox> {
        let table = OutboxTable::INVENTORY.in_schema(self.schema.clone())?;
        Ok(Outbox::new(
            table,
            names.exchange(EventsExchange::Inventory),
        ))
    }
}

/// What both example processes start with: logs, their place, a broker
/// connection with the topology declared, and a database pool.
pub struct ProcessContext {
    pub place: ExamplePlace,
    pub settings: BrokerSettings,
    pub broker: Broker,
    pub db: DatabaseConnection,
    _telemetry: TelemetryGuard,
}

impl ProcessContext {
    /// Starts process `name` from the environment (see [`ExamplePlace`]).
    pub async fn start(name: &'static str) -> anyhow::Result<Self> {
        let service = ServiceInfo {
            name,
            env_prefix: "EXAMPLE",
            default_port: 0,
        };
        let telemetry = ecommerce_platform::telemetry::init(
            &service,
            &ecommerce_platform::TelemetrySettings::from_env()?,
        )?;
        let place = ExamplePlace::from_env()?;
        let settings = place.broker_settings(BrokerSettings::from_env()?);
        let broker = Broker::connect(settings.clone(), settings.topology()).await?;
        let db = Database::connect(database_url()).await?;
        Ok(Self {
            place,
            settings,
            broker,
            db,
            _telemetry: telemetry,
        })
    }
}

/// A shutdown signal any number of tasks can wait for: `stopping()` gives a
/// future that completes on SIGINT / SIGTERM.
pub fn shutdown_on_signal() -> impl Fn() -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(async move {
        ecommerce_platform::shutdown::shutdown_signal().await;
        let _ = stop.send(true);
    });
    move || {
        let mut stopped = stopped.clone();
        Box::pin(async move {
            // An error means the sender is gone: stop too.
            let _ = stopped.wait_for(|stop| *stop).await;
        })
    }
}
