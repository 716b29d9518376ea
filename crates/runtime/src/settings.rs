//! Everything a service runtime reads from the environment.

use anyhow::Context as _;
use ecommerce_broker::BrokerSettings;
use ecommerce_db::DatabaseSettings;
use ecommerce_outbox::RelaySettings;
use ecommerce_platform::metrics::MetricsSettings;
use ecommerce_platform::run_mode::{DevelopmentDefault, RunMode};
use ecommerce_platform::settings::EnvSource;
use ecommerce_platform::{GrpcSettings, ServiceInfo};

use crate::Roles;
use crate::health::HealthSettings;
use crate::schemas::SchemaRegistrySettings;

/// Variable holding the size of the relays' own database pool.
pub const RELAY_DB_CONNECTIONS_VAR: &str = "OUTBOX_RELAY_DB_CONNECTIONS";

/// The settings of one service process: each part documents its variables
/// (`<PREFIX>_GRPC_ADDR`, `<PREFIX>_DATABASE_URL`, `<PREFIX>_DB_SCHEMA`,
/// `<PREFIX>_AMQP_URL` or `AMQP_URL`, the exchange names, `OUTBOX_RELAY_*`, ...).
#[derive(Clone, Debug)]
pub struct RuntimeSettings {
    pub grpc: GrpcSettings,
    pub database: DatabaseSettings,
    pub broker: BrokerSettings,
    pub relay: RelaySettings,
    /// `OUTBOX_RELAY_DB_CONNECTIONS` (default 2): the relays' own pool, so a
    /// relay neither waits behind the handlers for a connection nor holds
    /// one of theirs while the broker confirms a batch.
    pub relay_db_connections: u32,
    /// `<PREFIX>_ROLES` (a `--roles` argument wins): the parts this process
    /// runs; all of them by default.
    pub roles: Roles,
    /// `SCHEMA_REGISTRY_URL` and the start-up wait: where the service
    /// registers the schemas of the events it emits.
    pub registry: SchemaRegistrySettings,
    /// `ECOMMERCE_ENV`: whether a development default stops the start.
    pub run_mode: RunMode,
    /// `HEALTH_CHECK_INTERVAL_MS`, `HEALTH_OUTBOX_MAX_AGE_SECS`: what
    /// `grpc.health.v1` says about the database, the broker and the outbox.
    pub health: HealthSettings,
    /// `<PREFIX>_METRICS_ADDR`: where `/metrics` is served (gRPC port + 1000
    /// on 127.0.0.1 by default, `off` for none).
    pub metrics: MetricsSettings,
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
        // `<PREFIX>_AMQP_URL` wins, so each service logs in as its own broker user.
        let amqp_url_var = service.variable("AMQP_URL");
        if let Some(url) = EnvSource::process().string(&amqp_url_var)? {
            broker = broker
                .with_amqp_url(&amqp_url_var, url.into())
                .context("invalid broker settings")?;
        }
        if std::env::var_os("AMQP_CONNECTION_NAME").is_none() {
            broker = broker.with_connection_name(service.name);
        }
        let relay = RelaySettings::from_env().context("invalid outbox relay settings")?;
        let relay_db_connections: u32 = EnvSource::process().or(RELAY_DB_CONNECTIONS_VAR, 2)?;
        if relay_db_connections == 0 {
            anyhow::bail!("invalid {RELAY_DB_CONNECTIONS_VAR}: must be at least 1");
        }
        let roles_var = service.variable("ROLES");
        let roles = match EnvSource::process().string(&roles_var)? {
            Some(list) => Roles::parse(&list)
                .map_err(|reason| anyhow::anyhow!("invalid {roles_var}: {reason}"))?,
            None => Roles::ALL,
        };
        let registry =
            SchemaRegistrySettings::from_env().context("invalid schema registry settings")?;
        let run_mode = RunMode::from_env()?;
        let health = HealthSettings::from_env().context("invalid health settings")?;
        let metrics = MetricsSettings::from_env(service).context("invalid metrics settings")?;
        Ok(Self {
            grpc,
            database,
            broker,
            relay,
            relay_db_connections,
            roles,
            registry,
            run_mode,
            health,
            metrics,
        })
    }

    /// The development defaults every service shares: the database and
    /// broker credentials.
    pub fn development_defaults(&self, service: &ServiceInfo) -> Vec<DevelopmentDefault> {
        let mut defaults = self.database.development_defaults(service);
        defaults.extend(self.broker.development_defaults());
        defaults
    }
}
