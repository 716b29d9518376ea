//! What ecomctl connects to: the variables the services read, with the
//! command-line flags layered on top.
//!
//! The settings are read through the shared readers (`BrokerSettings`,
//! `DatabaseSettings`, `SchemaRegistrySettings`) from one [`EnvSource`]
//! whose lookups see the flags first and the process environment second,
//! so a flag and its variable mean exactly what they mean to a service.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use ecommerce_broker::BrokerSettings;
use ecommerce_broker::settings::AMQP_URL_VAR;
use ecommerce_broker::topology::TOPOLOGY_PREFIX_VAR;
use ecommerce_db::{DATABASE_URL_VAR, DatabaseSettings};
use ecommerce_outbox::OutboxTable;
use ecommerce_platform::services;
use ecommerce_platform::settings::{EnvSource, ServiceInfo};
use ecommerce_runtime::SchemaRegistrySettings;
use ecommerce_runtime::schemas::SCHEMA_REGISTRY_URL_VAR;

/// The services that publish events, each with its outbox preset (whose
/// schema is the service's default schema: `auth` for iam-svc).
pub const OUTBOX_SERVICES: [(ServiceInfo, OutboxTable); 6] = [
    (services::CATALOG, OutboxTable::CATALOG),
    (services::IAM, OutboxTable::IAM),
    (services::INVENTORY, OutboxTable::INVENTORY),
    (services::ORDERS, OutboxTable::ORDERS),
    (services::PAYMENTS, OutboxTable::PAYMENTS),
    (services::FULFILLMENT, OutboxTable::FULFILLMENT),
];

/// What the global flags override.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--amqp-url`, instead of `AMQP_URL`.
    pub amqp_url: Option<String>,
    /// `--topology-prefix`, instead of `AMQP_TOPOLOGY_PREFIX`.
    pub topology_prefix: Option<String>,
    /// `--database-url`: every service's database, instead of
    /// `<PREFIX>_DATABASE_URL` and `DATABASE_URL`.
    pub database_url: Option<String>,
    /// `--schema SERVICE=SCHEMA`, instead of `<PREFIX>_DB_SCHEMA`.
    pub schemas: Vec<(ServiceInfo, String)>,
    /// `--registry-url`, instead of `SCHEMA_REGISTRY_URL`.
    pub registry_url: Option<String>,
    /// `--grpc SERVICE=URL`, instead of `<PREFIX>_GRPC_ADDR`.
    pub grpc: Vec<(ServiceInfo, String)>,
}

/// Where a variable's value comes from when no flag sets it.
type Lookup = dyn Fn(&str) -> Option<OsString> + Send + Sync;

/// The layered settings source.
#[derive(Clone)]
pub struct Settings {
    variables: Arc<BTreeMap<String, String>>,
    base: Arc<Lookup>,
    grpc: Vec<(ServiceInfo, String)>,
    amqp_url_flag: bool,
    database_url_flag: bool,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The overrides may hold passwords (URLs): names only.
        formatter
            .debug_struct("Settings")
            .field("overridden", &self.variables.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// One service's database: where its outbox table is.
#[derive(Clone, Debug)]
pub struct ServiceDatabase {
    pub service: ServiceInfo,
    pub settings: DatabaseSettings,
    /// The service's outbox table in its configured schema.
    pub outbox: OutboxTable,
    /// The flag or variables that chose the URL, for messages.
    pub chosen_by: String,
}

impl ServiceDatabase {
    /// What chose this database, for messages.
    pub fn variables(&self) -> String {
        format!("{}'s database: {}", self.service.name, self.chosen_by)
    }
}

impl Settings {
    /// The flags over the process environment.
    pub fn from_process(overrides: Overrides) -> Self {
        Self::new(overrides, |name| std::env::var_os(name))
    }

    /// The flags over `base` (tests pass their own variables).
    pub fn new(
        overrides: Overrides,
        base: impl Fn(&str) -> Option<OsString> + Send + Sync + 'static,
    ) -> Self {
        let mut variables = BTreeMap::new();
        let amqp_url_flag = overrides.amqp_url.is_some();
        let database_url_flag = overrides.database_url.is_some();
        if let Some(url) = overrides.amqp_url {
            variables.insert(AMQP_URL_VAR.to_owned(), url);
        }
        if let Some(prefix) = overrides.topology_prefix {
            variables.insert(TOPOLOGY_PREFIX_VAR.to_owned(), prefix);
        }
        if let Some(url) = overrides.registry_url {
            variables.insert(SCHEMA_REGISTRY_URL_VAR.to_owned(), url);
        }
        if let Some(url) = overrides.database_url {
            // The flag names one database for all: it wins over each
            // service's own variable too.
            for service in services::ALL {
                variables.insert(service.variable("DATABASE_URL"), url.clone());
            }
            variables.insert(DATABASE_URL_VAR.to_owned(), url);
        }
        for (service, schema) in overrides.schemas {
            variables.insert(service.variable("DB_SCHEMA"), schema);
        }
        Self {
            variables: Arc::new(variables),
            base: Arc::new(base),
            grpc: overrides.grpc,
            amqp_url_flag,
            database_url_flag,
        }
    }

    /// A settings source: the flags first, then the base environment.
    pub fn source(&self) -> EnvSource {
        let variables = Arc::clone(&self.variables);
        let base = Arc::clone(&self.base);
        EnvSource::from_fn(move |name| {
            variables
                .get(name)
                .map(OsString::from)
                .or_else(|| base(name))
        })
    }

    /// One variable's value (flags first), trimmed; `None` when unset or blank.
    pub fn variable(&self, name: &str) -> Option<String> {
        let value = match self.variables.get(name) {
            Some(value) => value.clone(),
            None => (self.base)(name)?.to_string_lossy().into_owned(),
        };
        let value = value.trim();
        (!value.is_empty()).then(|| value.to_owned())
    }

    /// The broker settings a service would read (`AMQP_URL`,
    /// `AMQP_TOPOLOGY_PREFIX`, the name variables, ...), named `ecomctl`
    /// in `rabbitmqctl list_connections`.
    pub fn broker(&self) -> anyhow::Result<BrokerSettings> {
        let settings =
            BrokerSettings::from_source(&self.source()).context("invalid broker settings")?;
        let mut named = match self.variable("AMQP_CONNECTION_NAME") {
            Some(_) => settings,
            None => settings.with_connection_name("ecomctl"),
        };
        if self.amqp_url_flag {
            "--amqp-url".clone_into(&mut named.amqp_url_variable);
        }
        Ok(named)
    }

    /// `SCHEMA_REGISTRY_URL` (default the local registry; `off` for none).
    pub fn registry_url(&self) -> anyhow::Result<Option<String>> {
        let settings = SchemaRegistrySettings::from_source(&self.source())
            .context("invalid schema registry settings")?;
        Ok(settings.url)
    }

    /// Every event-publishing service's database and outbox table.
    pub fn service_databases(&self) -> anyhow::Result<Vec<ServiceDatabase>> {
        let source = self.source();
        OUTBOX_SERVICES
            .iter()
            .map(|(service, preset)| {
                let settings = DatabaseSettings::from_source(service, preset.schema(), &source)
                    .with_context(|| format!("invalid database settings for {}", service.name))?;
                let outbox = preset.in_schema(settings.schema.clone()).with_context(|| {
                    format!(
                        "{} is not a schema an outbox can live in",
                        service.variable("DB_SCHEMA")
                    )
                })?;
                let chosen_by = if self.database_url_flag {
                    "--database-url".to_owned()
                } else {
                    format!(
                        "{}, else {DATABASE_URL_VAR}; schema {}",
                        service.variable("DATABASE_URL"),
                        service.variable("DB_SCHEMA")
                    )
                };
                Ok(ServiceDatabase {
                    service: *service,
                    settings,
                    outbox,
                    chosen_by,
                })
            })
            .collect()
    }

    /// Where `service`'s gRPC API is: `--grpc`, else `http://` +
    /// `<PREFIX>_GRPC_ADDR` (an unspecified `0.0.0.0` becomes loopback),
    /// else its default port on 127.0.0.1. Also says which it was.
    pub fn grpc_url(&self, service: &ServiceInfo) -> anyhow::Result<(String, String)> {
        if let Some((_, url)) = self
            .grpc
            .iter()
            .find(|(known, _)| known.name == service.name)
        {
            return Ok((url.clone(), "--grpc".to_owned()));
        }
        let variable = service.variable("GRPC_ADDR");
        match self.variable(&variable) {
            Some(addr) => Ok((grpc_url_of_listen_addr(&addr), variable)),
            None => Ok((
                format!("http://127.0.0.1:{}", service.default_port),
                format!("{variable} unset: the default port"),
            )),
        }
    }
}

/// The URL a client dials for a service listening on `addr`.
pub fn grpc_url_of_listen_addr(addr: &str) -> String {
    if addr.starts_with("http://") || addr.starts_with("https://") {
        return addr.to_owned();
    }
    let dialable = if let Some(port) = addr.strip_prefix("0.0.0.0:") {
        format!("127.0.0.1:{port}")
    } else if let Some(port) = addr.strip_prefix("[::]:") {
        format!("[::1]:{port}")
    } else {
        addr.to_owned()
    };
    format!("http://{dialable}")
}

/// A service named on the command line: `orders`, `orders-svc`, `ORDERS`.
pub fn parse_service(name: &str) -> anyhow::Result<ServiceInfo> {
    let wanted = name.trim().to_ascii_lowercase();
    let found = services::ALL.into_iter().find(|service| {
        let short = service.name.trim_end_matches("-svc");
        wanted == service.name || wanted == short || wanted == service.env_prefix.to_lowercase()
    });
    match found {
        Some(service) => Ok(service),
        None => bail!(
            "unknown service `{name}`; one of: {}",
            services::ALL
                .iter()
                .map(|service| service.name.trim_end_matches("-svc"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `SERVICE=VALUE`.
pub fn parse_service_assignment(text: &str) -> anyhow::Result<(ServiceInfo, String)> {
    let Some((service, value)) = text.split_once('=') else {
        bail!("expected SERVICE=VALUE, got `{text}`");
    };
    let value = value.trim();
    if value.is_empty() {
        bail!("no value after `=` in `{text}`");
    }
    Ok((parse_service(service)?, value.to_owned()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use secrecy::ExposeSecret as _;

    use super::*;

    fn settings(overrides: Overrides, pairs: &[(&'static str, &'static str)]) -> Settings {
        let pairs: Vec<(&'static str, &'static str)> = pairs.to_vec();
        Settings::new(overrides, move |name| {
            pairs
                .iter()
                .find(|(known, _)| *known == name)
                .map(|(_, value)| OsString::from(*value))
        })
    }

    #[test]
    fn services_read_their_own_variables_and_the_flag_wins_over_all() {
        let env = [
            ("DATABASE_URL", "postgres://shared/ecommerce"),
            ("ORDERS_DATABASE_URL", "postgres://orders-db/ecommerce"),
            ("PAYMENTS_DB_SCHEMA", "payments_blue"),
        ];
        let databases = settings(Overrides::default(), &env)
            .service_databases()
            .unwrap();
        let by_name = |name: &str| {
            databases
                .iter()
                .find(|database| database.service.name == name)
                .unwrap()
                .clone()
        };
        assert_eq!(
            by_name("orders-svc").settings.url.expose_secret(),
            "postgres://orders-db/ecommerce"
        );
        assert_eq!(
            by_name("catalog-svc").settings.url.expose_secret(),
            "postgres://shared/ecommerce"
        );
        assert_eq!(
            by_name("iam-svc").outbox.to_string(),
            "auth.iam_outbox_events"
        );
        assert_eq!(
            by_name("payments-svc").outbox.to_string(),
            "payments_blue.payments_outbox_events"
        );

        let flagged = settings(
            Overrides {
                database_url: Some("postgres://flag/ecommerce".to_owned()),
                schemas: vec![(services::ORDERS, "t_orders".to_owned())],
                ..Overrides::default()
            },
            &env,
        );
        let databases = flagged.service_databases().unwrap();
        for database in &databases {
            assert_eq!(
                database.settings.url.expose_secret(),
                "postgres://flag/ecommerce"
            );
        }
        assert!(
            databases
                .iter()
                .any(|database| database.outbox.to_string() == "t_orders.orders_outbox_events")
        );
    }

    #[test]
    fn the_topology_prefix_flag_reaches_the_broker_names() {
        let prefixed = settings(
            Overrides {
                topology_prefix: Some("t-1.".to_owned()),
                ..Overrides::default()
            },
            &[],
        );
        let broker = prefixed.broker().unwrap();
        assert_eq!(
            broker
                .names
                .exchange(ecommerce_broker::EventsExchange::Orders),
            "t-1.orders.events"
        );
        assert_eq!(broker.connection_name, "ecomctl");
    }

    #[test]
    fn grpc_urls_come_from_the_flag_the_listen_address_or_the_default_port() {
        let env = [("CART_GRPC_ADDR", "0.0.0.0:7000")];
        let flagged = settings(
            Overrides {
                grpc: vec![(services::IAM, "http://iam:1".to_owned())],
                ..Overrides::default()
            },
            &env,
        );
        assert_eq!(flagged.grpc_url(&services::IAM).unwrap().0, "http://iam:1");
        assert_eq!(
            flagged.grpc_url(&services::CART).unwrap(),
            (
                "http://127.0.0.1:7000".to_owned(),
                "CART_GRPC_ADDR".to_owned()
            )
        );
        assert_eq!(
            flagged.grpc_url(&services::ORDERS).unwrap().0,
            "http://127.0.0.1:50054"
        );
        assert_eq!(grpc_url_of_listen_addr("[::]:9"), "http://[::1]:9");
    }

    #[test]
    fn services_are_named_in_several_ways() {
        for name in ["orders", "orders-svc", "ORDERS", " Orders "] {
            assert_eq!(parse_service(name).unwrap().name, "orders-svc");
        }
        assert_eq!(parse_service("iam").unwrap().name, "iam-svc");
        assert_eq!(
            parse_service("schema-registry").unwrap().name,
            "schema-registry"
        );
        let error = parse_service("shipping").unwrap_err().to_string();
        assert!(error.contains("unknown service `shipping`"), "{error}");
        assert!(error.contains("fulfillment"), "{error}");
        assert_eq!(
            parse_service_assignment("orders=t_1").unwrap(),
            (services::ORDERS, "t_1".to_owned())
        );
        assert!(parse_service_assignment("orders").is_err());
        assert!(parse_service_assignment("orders=").is_err());
    }
}
