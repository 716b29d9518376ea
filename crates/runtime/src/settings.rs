//! Everything a service runtime reads from the environment.

use anyhow::Context as _;
use ecommerce_broker::BrokerSettings;
use ecommerce_db::DatabaseSettings;
use ecommerce_outbox::RelaySettings;
use ecommerce_platform::{GrpcSettings, ServiceInfo};

/// The settings of one service process: each part documents its variables
/// (`<PREFIX>_GRPC_ADDR`, `<PREFIX>_DATABASE_URL`, `<PREFIX>_DB_SCHEMA`,
/// `AMQP_URL`, the exchange names, `OUTBOX_RELAY_*`, ...).
#[derive(Clone, Debug)]
pub struct RuntimeSettings {
    pub grpc: GrpcSettings,
    pub database: DatabaseSettings,
    pub broker: BrokerSettings,
    pub relay: RelaySettings,
}

impl RuntimeSettings {
    /// Reads every part, each error naming its variable. The broker
    /// connection is named after the service unless `AMQP_CONNECTION_NAME`
    /// says otherwise, so `rabbitmqctl list_connections` tells them apart.
    pub fn from_env(service: &ServiceInfo, default_schema: &str) -> anyhow::Result<Self> {
        let grpc = GrpcSettings::from_env(service).context("invalid gRPC settings")?;
        let database = DatabaseSettings::from_env(service, default_schema)
            .context("invalid database settings")?;
        let mut broker = BrokerSettings::from_env().context("invalid broker settings")?;
        if std::env::var_os("AMQP_CONNECTION_NAME").is_none() {
            broker = broker.with_connection_name(service.name);
        }
        let relay = RelaySettings::from_env().context("invalid outbox relay settings")?;
        Ok(Self {
            grpc,
            database,
            broker,
            relay,
        })
    }
}
