//! Broker settings read from environment variables, each with a default that
//! runs against the local RabbitMQ. Every error names its variable.

use std::str::FromStr;
use std::time::Duration;

use ecommerce_platform::run_mode::DevelopmentDefault;
use ecommerce_platform::settings::{EnvSource, SettingsError};
use lapin::uri::{AMQPScheme, AMQPUri};
use secrecy::{ExposeSecret, SecretString};

use crate::topology::{DEFAULT_DELIVERY_LIMIT, Topology, TopologyNames};
use ecommerce_platform::Backoff;

/// Variable holding the broker URL (a secret: it carries the password).
pub const AMQP_URL_VAR: &str = "AMQP_URL";
/// The local broker, default vhost `/`.
pub const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
/// Variable holding the `connection_name` client property shown by the broker.
pub const AMQP_CONNECTION_NAME_VAR: &str = "AMQP_CONNECTION_NAME";
/// Variable holding the per-consumer prefetch (unacknowledged deliveries in flight).
pub const AMQP_PREFETCH_VAR: &str = "AMQP_PREFETCH";
/// Variable holding how many handlers one consumer runs at once.
pub const AMQP_CONSUMER_CONCURRENCY_VAR: &str = "AMQP_CONSUMER_CONCURRENCY";
/// Variable holding the most deliveries one consumer hands its handler at once.
pub const AMQP_CONSUMER_BATCH_SIZE_VAR: &str = "AMQP_CONSUMER_BATCH_SIZE";
/// Variable holding the first reconnect delay ceiling, in milliseconds.
pub const AMQP_RECONNECT_BACKOFF_MIN_MS_VAR: &str = "AMQP_RECONNECT_BACKOFF_MIN_MS";
/// Variable holding the largest reconnect delay, in milliseconds.
pub const AMQP_RECONNECT_BACKOFF_MAX_MS_VAR: &str = "AMQP_RECONNECT_BACKOFF_MAX_MS";
/// Variable holding how long one connection attempt may take, in milliseconds.
pub const AMQP_CONNECT_TIMEOUT_MS_VAR: &str = "AMQP_CONNECT_TIMEOUT_MS";
/// Variable holding how long a publish waits for its confirm, in milliseconds.
pub const AMQP_CONFIRM_TIMEOUT_MS_VAR: &str = "AMQP_CONFIRM_TIMEOUT_MS";
/// Variable holding the consumer queues' `x-delivery-limit`.
pub const AMQP_DELIVERY_LIMIT_VAR: &str = "AMQP_DELIVERY_LIMIT";
/// Variable holding how many times a consumer requeues a message whose
/// handler asked for a retry before it dead-letters it.
pub const AMQP_RETRY_BUDGET_VAR: &str = "AMQP_RETRY_BUDGET";
/// Variable naming the broker user that publishes each service's events, as
/// a template where `{service}` stands for the producer (`orders-svc`): with
/// it, consumers refuse an event whose AMQP `user_id` is not its producer's.
pub const AMQP_EVENT_PRODUCER_USER_VAR: &str = "AMQP_EVENT_PRODUCER_USER";
/// The placeholder of [`AMQP_EVENT_PRODUCER_USER_VAR`].
pub const SERVICE_PLACEHOLDER: &str = "{service}";
/// Variable holding how many delayed retries follow the immediate ones.
pub const AMQP_DELAYED_RETRIES_VAR: &str = "AMQP_DELAYED_RETRIES";
/// Variable holding how long a delayed retry waits, in milliseconds.
pub const AMQP_RETRY_DELAY_MS_VAR: &str = "AMQP_RETRY_DELAY_MS";
/// Variable holding the first retry delay ceiling, in milliseconds.
pub const AMQP_RETRY_BACKOFF_MIN_MS_VAR: &str = "AMQP_RETRY_BACKOFF_MIN_MS";
/// Variable holding the largest retry delay, in milliseconds.
pub const AMQP_RETRY_BACKOFF_MAX_MS_VAR: &str = "AMQP_RETRY_BACKOFF_MAX_MS";

const DEFAULT_CONNECTION_NAME: &str = "ecommerce";
const DEFAULT_PREFETCH: u16 = 64;
const DEFAULT_CONSUMER_CONCURRENCY: usize = 1;
const DEFAULT_CONSUMER_BATCH_SIZE: usize = 32;
const DEFAULT_RECONNECT_BACKOFF_MIN: Duration = Duration::from_millis(100);
const DEFAULT_RECONNECT_BACKOFF_MAX: Duration = Duration::from_secs(5);
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_CONFIRM_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_RETRY_BUDGET: u32 = 5;
const DEFAULT_DELAYED_RETRIES: u32 = 10;
const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(30);
const DEFAULT_RETRY_BACKOFF_MIN: Duration = Duration::from_millis(200);
const DEFAULT_RETRY_BACKOFF_MAX: Duration = Duration::from_secs(5);

/// How a consumer takes deliveries and handles failures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConsumerSettings {
    /// `AMQP_PREFETCH`: unacknowledged deliveries the broker sends ahead (`basic.qos`).
    pub prefetch: u16,
    /// `AMQP_CONSUMER_CONCURRENCY`: handlers running at once. 1 (the default)
    /// handles a queue's messages in order.
    pub concurrency: usize,
    /// `AMQP_CONSUMER_BATCH_SIZE`: the most deliveries handed to the handler
    /// at once. A batch is what has already arrived (prefetched) when the
    /// consumer is free, never a wait for more; the inbox applies a batch in
    /// one transaction. 1 turns batching off.
    pub batch_size: usize,
    /// `AMQP_RETRY_BUDGET`: requeues allowed after a `Retry`; the delivery
    /// whose `x-delivery-count` has reached it is dead-lettered instead. Kept
    /// below the queues' delivery limit so the consumer, which knows the
    /// reason, dead-letters before the broker does.
    pub retry_budget: u32,
    /// `AMQP_RETRY_BACKOFF_MIN_MS` / `_MAX_MS`: wait before requeueing a `Retry`.
    pub retry_backoff: Backoff,
    /// `AMQP_DELAYED_RETRIES`: once the immediate retries are spent, how many
    /// times a message still failing transiently is parked for
    /// [`retry_delay`](Self::retry_delay) in its queue's wait queue and
    /// delivered again, before it is dead-lettered. 0: dead-letter at once.
    pub delayed_retries: u32,
    /// `AMQP_RETRY_DELAY_MS`: how long each delayed retry waits. The default
    /// 10 × 30 s rides out a five-minute outage of a dependency.
    pub retry_delay: Duration,
}

impl Default for ConsumerSettings {
    fn default() -> Self {
        Self {
            prefetch: DEFAULT_PREFETCH,
            concurrency: DEFAULT_CONSUMER_CONCURRENCY,
            batch_size: DEFAULT_CONSUMER_BATCH_SIZE,
            retry_budget: DEFAULT_RETRY_BUDGET,
            retry_backoff: Backoff::new(DEFAULT_RETRY_BACKOFF_MIN, DEFAULT_RETRY_BACKOFF_MAX),
            delayed_retries: DEFAULT_DELAYED_RETRIES,
            retry_delay: DEFAULT_RETRY_DELAY,
        }
    }
}

/// Everything the broker crate reads from the environment.
#[derive(Clone, Debug)]
pub struct BrokerSettings {
    /// `AMQP_URL`, parsed and validated at start-up.
    pub amqp_url: SecretString,
    /// The variable `amqp_url` came from, for messages: `AMQP_URL`, or a
    /// service's own (`ORDERS_AMQP_URL`, see [`Self::with_amqp_url`]).
    pub amqp_url_variable: String,
    /// `AMQP_CONNECTION_NAME`: shown by `rabbitmqctl list_connections` and the
    /// management UI; services set their own name.
    pub connection_name: String,
    /// `AMQP_RECONNECT_BACKOFF_MIN_MS` / `_MAX_MS`.
    pub reconnect_backoff: Backoff,
    /// `AMQP_CONNECT_TIMEOUT_MS`: TCP connect plus AMQP handshake.
    pub connect_timeout: Duration,
    /// `AMQP_CONFIRM_TIMEOUT_MS`: also how long a publish waits for a connection.
    pub confirm_timeout: Duration,
    /// `AMQP_DELIVERY_LIMIT`: `x-delivery-limit` of every consumer queue.
    pub delivery_limit: u32,
    pub consumer: ConsumerSettings,
    /// Every exchange and queue name (see [`TopologyNames::from_source`]).
    pub names: TopologyNames,
    /// `AMQP_EVENT_PRODUCER_USER`: the broker user expected to have published
    /// each event (`{service}` replaced by its producer); `None` accepts any.
    pub producer_user_template: Option<String>,
}

impl Default for BrokerSettings {
    fn default() -> Self {
        Self {
            amqp_url: SecretString::from(DEFAULT_AMQP_URL),
            amqp_url_variable: AMQP_URL_VAR.to_owned(),
            connection_name: DEFAULT_CONNECTION_NAME.to_owned(),
            reconnect_backoff: Backoff::new(
                DEFAULT_RECONNECT_BACKOFF_MIN,
                DEFAULT_RECONNECT_BACKOFF_MAX,
            ),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            confirm_timeout: DEFAULT_CONFIRM_TIMEOUT,
            delivery_limit: DEFAULT_DELIVERY_LIMIT,
            consumer: ConsumerSettings::default(),
            names: TopologyNames::default(),
            producer_user_template: None,
        }
    }
}

impl BrokerSettings {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_source(&EnvSource::process())
    }

    /// Reads and validates the settings from `source`.
    pub fn from_source(source: &EnvSource) -> Result<Self, SettingsError> {
        let amqp_url = source.secret(AMQP_URL_VAR, DEFAULT_AMQP_URL)?;
        parse_amqp_url(&amqp_url)?;
        let connection_name = source
            .string(AMQP_CONNECTION_NAME_VAR)?
            .map(|name| name.trim().to_owned())
            .unwrap_or_else(|| DEFAULT_CONNECTION_NAME.to_owned());

        let prefetch = source.or(AMQP_PREFETCH_VAR, DEFAULT_PREFETCH)?;
        if prefetch == 0 {
            // basic.qos 0 means "unlimited": a slow consumer would buffer the whole queue.
            return Err(invalid(
                AMQP_PREFETCH_VAR,
                "0",
                "must be at least 1 (0 would mean unlimited)",
            ));
        }
        let concurrency = source.or(AMQP_CONSUMER_CONCURRENCY_VAR, DEFAULT_CONSUMER_CONCURRENCY)?;
        if concurrency == 0 {
            return Err(invalid(
                AMQP_CONSUMER_CONCURRENCY_VAR,
                "0",
                "must be at least 1",
            ));
        }
        let batch_size = source.or(AMQP_CONSUMER_BATCH_SIZE_VAR, DEFAULT_CONSUMER_BATCH_SIZE)?;
        if batch_size == 0 {
            return Err(invalid(
                AMQP_CONSUMER_BATCH_SIZE_VAR,
                "0",
                "must be at least 1 (1 handles one delivery at a time)",
            ));
        }
        let delivery_limit = source.or(AMQP_DELIVERY_LIMIT_VAR, DEFAULT_DELIVERY_LIMIT)?;
        if delivery_limit == 0 {
            return Err(invalid(AMQP_DELIVERY_LIMIT_VAR, "0", "must be at least 1"));
        }
        let retry_budget = source.or(AMQP_RETRY_BUDGET_VAR, DEFAULT_RETRY_BUDGET)?;
        if retry_budget >= delivery_limit {
            return Err(invalid(
                AMQP_RETRY_BUDGET_VAR,
                &retry_budget.to_string(),
                format!(
                    "must be below {AMQP_DELIVERY_LIMIT_VAR} ({delivery_limit}), or the broker \
                     dead-letters the message without the failure reason first"
                ),
            ));
        }

        Ok(Self {
            amqp_url,
            amqp_url_variable: AMQP_URL_VAR.to_owned(),
            connection_name,
            reconnect_backoff: backoff(
                source,
                AMQP_RECONNECT_BACKOFF_MIN_MS_VAR,
                DEFAULT_RECONNECT_BACKOFF_MIN,
                AMQP_RECONNECT_BACKOFF_MAX_MS_VAR,
                DEFAULT_RECONNECT_BACKOFF_MAX,
            )?,
            connect_timeout: positive_millis(
                source,
                AMQP_CONNECT_TIMEOUT_MS_VAR,
                DEFAULT_CONNECT_TIMEOUT,
            )?,
            confirm_timeout: positive_millis(
                source,
                AMQP_CONFIRM_TIMEOUT_MS_VAR,
                DEFAULT_CONFIRM_TIMEOUT,
            )?,
            delivery_limit,
            consumer: ConsumerSettings {
                prefetch,
                concurrency,
                batch_size,
                retry_budget,
                retry_backoff: backoff(
                    source,
                    AMQP_RETRY_BACKOFF_MIN_MS_VAR,
                    DEFAULT_RETRY_BACKOFF_MIN,
                    AMQP_RETRY_BACKOFF_MAX_MS_VAR,
                    DEFAULT_RETRY_BACKOFF_MAX,
                )?,
                delayed_retries: source.or(AMQP_DELAYED_RETRIES_VAR, DEFAULT_DELAYED_RETRIES)?,
                retry_delay: positive_millis(source, AMQP_RETRY_DELAY_MS_VAR, DEFAULT_RETRY_DELAY)?,
            },
            names: TopologyNames::from_source(source)?,
            producer_user_template: producer_user_template(source)?,
        })
    }

    /// The system topology under these names and delivery limit.
    pub fn topology(&self) -> Topology {
        Topology::system(&self.names).with_delivery_limit(self.delivery_limit)
    }

    /// The same settings logging in with `amqp_url`, read from `variable`
    /// (a service's own URL, so each service has its own broker user).
    pub fn with_amqp_url(
        mut self,
        variable: &str,
        amqp_url: SecretString,
    ) -> Result<Self, SettingsError> {
        parse_amqp_url(&amqp_url).map_err(|error| match error {
            SettingsError::Invalid { value, reason, .. } => invalid(variable, &value, reason),
            other => other,
        })?;
        self.amqp_url = amqp_url;
        self.amqp_url_variable = variable.to_owned();
        Ok(self)
    }

    /// The same settings under another `connection_name`.
    pub fn with_connection_name(mut self, connection_name: impl Into<String>) -> Self {
        self.connection_name = connection_name.into();
        self
    }

    /// The development defaults in these settings: RabbitMQ's `guest`
    /// account (also what a URL without credentials logs in as), and events
    /// accepted from any broker user.
    pub fn development_defaults(&self) -> Vec<DevelopmentDefault> {
        let mut defaults = Vec::new();
        if self.username() == "guest" {
            defaults.push(DevelopmentDefault::new(
                &self.amqp_url_variable,
                "logs in to RabbitMQ as the default guest account",
            ));
        }
        if self.producer_user_template.is_none() {
            defaults.push(DevelopmentDefault::new(
                AMQP_EVENT_PRODUCER_USER_VAR,
                "accepts events published by any broker user",
            ));
        }
        defaults
    }

    /// The user `AMQP_URL` logs in as (`guest` when it names none): every
    /// message this process publishes carries it as its AMQP `user_id`,
    /// which RabbitMQ checks against the connection.
    pub fn username(&self) -> String {
        self.amqp_uri()
            .map(|uri| uri.authority.userinfo.username)
            .unwrap_or_default()
    }

    /// The parsed `AMQP_URL`.
    pub(crate) fn amqp_uri(&self) -> Result<AMQPUri, SettingsError> {
        parse_amqp_url(&self.amqp_url)
    }
}

fn producer_user_template(source: &EnvSource) -> Result<Option<String>, SettingsError> {
    let Some(template) = source.string(AMQP_EVENT_PRODUCER_USER_VAR)? else {
        return Ok(None);
    };
    let template = template.trim();
    if template.is_empty() {
        return Ok(None);
    }
    if !template.contains(SERVICE_PLACEHOLDER) {
        return Err(invalid(
            AMQP_EVENT_PRODUCER_USER_VAR,
            template,
            format!(
                "must contain {SERVICE_PLACEHOLDER}, the producing service (e.g. `{SERVICE_PLACEHOLDER}` \
                 for users named orders-svc, payments-svc, ...)"
            ),
        ));
    }
    Ok(Some(template.to_owned()))
}

fn parse_amqp_url(amqp_url: &SecretString) -> Result<AMQPUri, SettingsError> {
    // The URL carries the password: the error shows neither it nor the URL.
    let hidden = "(hidden)";
    let uri = AMQPUri::from_str(amqp_url.expose_secret())
        .map_err(|reason| invalid(AMQP_URL_VAR, hidden, reason))?;
    if uri.scheme == AMQPScheme::AMQPS {
        return Err(invalid(
            AMQP_URL_VAR,
            hidden,
            "amqps:// needs lapin's TLS support, which this build leaves out; use amqp://",
        ));
    }
    Ok(uri)
}

fn positive_millis(
    source: &EnvSource,
    variable: &str,
    default: Duration,
) -> Result<Duration, SettingsError> {
    let Some(millis) = source.opt::<u64>(variable)? else {
        return Ok(default);
    };
    if millis == 0 {
        return Err(invalid(variable, "0", "must be at least 1 (milliseconds)"));
    }
    Ok(Duration::from_millis(millis))
}

fn backoff(
    source: &EnvSource,
    min_variable: &str,
    default_min: Duration,
    max_variable: &str,
    default_max: Duration,
) -> Result<Backoff, SettingsError> {
    let min = positive_millis(source, min_variable, default_min)?;
    let max = positive_millis(source, max_variable, default_max)?;
    if max < min {
        return Err(invalid(
            max_variable,
            &max.as_millis().to_string(),
            format!("must be at least {min_variable} ({} ms)", min.as_millis()),
        ));
    }
    Ok(Backoff::new(min, max))
}

fn invalid(variable: &str, value: &str, reason: impl Into<String>) -> SettingsError {
    SettingsError::Invalid {
        variable: variable.to_owned(),
        value: value.to_owned(),
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use crate::topology::{ConsumerQueue, EventsExchange};

    use super::*;

    #[test]
    fn defaults_run_against_the_local_broker() {
        let settings = BrokerSettings::from_source(&EnvSource::from_pairs([])).unwrap();
        assert_eq!(settings.amqp_url.expose_secret(), DEFAULT_AMQP_URL);
        assert_eq!(settings.connection_name, "ecommerce");
        assert_eq!(settings.consumer.prefetch, 64);
        assert_eq!(settings.consumer.concurrency, 1);
        assert_eq!(settings.consumer.batch_size, 32);
        assert_eq!(settings.consumer.retry_budget, 5);
        assert_eq!(settings.consumer.delayed_retries, 10);
        assert_eq!(settings.consumer.retry_delay, Duration::from_secs(30));
        assert_eq!(settings.delivery_limit, 10);
        assert_eq!(settings.confirm_timeout, Duration::from_secs(10));
        assert_eq!(
            settings.reconnect_backoff,
            Backoff::new(Duration::from_millis(100), Duration::from_secs(5))
        );
        assert_eq!(settings.names, TopologyNames::default());
        let uri = settings.amqp_uri().unwrap();
        assert_eq!(uri.vhost, "/");
        assert_eq!(uri.authority.port, 5672);
    }

    #[test]
    fn every_variable_is_read() {
        let source = EnvSource::from_pairs([
            ("AMQP_URL", "amqp://app:pw@rabbitmq:5673/shop"),
            ("AMQP_CONNECTION_NAME", "orders-svc"),
            ("AMQP_PREFETCH", "10"),
            ("AMQP_CONSUMER_CONCURRENCY", "4"),
            ("AMQP_CONSUMER_BATCH_SIZE", "8"),
            ("AMQP_RECONNECT_BACKOFF_MIN_MS", "50"),
            ("AMQP_RECONNECT_BACKOFF_MAX_MS", "800"),
            ("AMQP_CONNECT_TIMEOUT_MS", "1500"),
            ("AMQP_CONFIRM_TIMEOUT_MS", "2500"),
            ("AMQP_DELIVERY_LIMIT", "20"),
            ("AMQP_RETRY_BUDGET", "3"),
            ("AMQP_RETRY_BACKOFF_MIN_MS", "5"),
            ("AMQP_RETRY_BACKOFF_MAX_MS", "60"),
            ("AMQP_DELAYED_RETRIES", "4"),
            ("AMQP_RETRY_DELAY_MS", "1500"),
            ("ORDER_EVENTS_EXCHANGE", "legacy.orders"),
            ("INVENTORY_ORDER_EVENTS_QUEUE", "legacy.inventory"),
        ]);
        let settings = BrokerSettings::from_source(&source).unwrap();
        assert_eq!(
            settings.amqp_url.expose_secret(),
            "amqp://app:pw@rabbitmq:5673/shop"
        );
        assert_eq!(settings.connection_name, "orders-svc");
        assert_eq!(
            settings.consumer,
            ConsumerSettings {
                prefetch: 10,
                concurrency: 4,
                batch_size: 8,
                retry_budget: 3,
                retry_backoff: Backoff::new(Duration::from_millis(5), Duration::from_millis(60)),
                delayed_retries: 4,
                retry_delay: Duration::from_millis(1500),
            }
        );
        assert_eq!(
            settings.reconnect_backoff,
            Backoff::new(Duration::from_millis(50), Duration::from_millis(800))
        );
        assert_eq!(settings.connect_timeout, Duration::from_millis(1500));
        assert_eq!(settings.confirm_timeout, Duration::from_millis(2500));
        assert_eq!(settings.delivery_limit, 20);
        assert_eq!(
            settings.names.exchange(EventsExchange::Orders),
            "legacy.orders"
        );
        assert_eq!(
            settings.names.queue(ConsumerQueue::InventoryOrderEvents),
            "legacy.inventory"
        );
        let topology = settings.topology();
        assert_eq!(
            topology.queue("legacy.inventory").unwrap().delivery_limit,
            Some(20)
        );
        assert!(topology.queue("legacy.inventory.dlq").is_some());
    }

    #[test]
    fn an_invalid_url_names_the_variable_but_not_the_value() {
        let source = EnvSource::from_pairs([("AMQP_URL", "http//user:hunter2@nowhere")]);
        let error = BrokerSettings::from_source(&source).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("AMQP_URL"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }

    #[test]
    fn amqps_is_refused_in_this_build() {
        let source = EnvSource::from_pairs([("AMQP_URL", "amqps://user:hunter2@broker/%2f")]);
        let error = BrokerSettings::from_source(&source).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("amqps://"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }

    #[test]
    fn zero_prefetch_concurrency_and_timeouts_are_refused() {
        for variable in [
            "AMQP_PREFETCH",
            "AMQP_CONSUMER_CONCURRENCY",
            "AMQP_CONSUMER_BATCH_SIZE",
            "AMQP_RETRY_DELAY_MS",
            "AMQP_CONFIRM_TIMEOUT_MS",
            "AMQP_CONNECT_TIMEOUT_MS",
            "AMQP_DELIVERY_LIMIT",
        ] {
            let source = EnvSource::from_pairs([(variable, "0")]);
            let error = BrokerSettings::from_source(&source).unwrap_err();
            assert!(
                matches!(&error, SettingsError::Invalid { variable: named, .. } if named == variable),
                "{variable}: {error}"
            );
        }
    }

    #[test]
    fn a_retry_budget_at_or_above_the_delivery_limit_is_refused() {
        let source =
            EnvSource::from_pairs([("AMQP_DELIVERY_LIMIT", "4"), ("AMQP_RETRY_BUDGET", "4")]);
        let error = BrokerSettings::from_source(&source).unwrap_err();
        assert!(matches!(
            &error,
            SettingsError::Invalid { variable, value, .. }
                if variable == "AMQP_RETRY_BUDGET" && value == "4"
        ));
    }

    #[test]
    fn a_backoff_max_below_its_min_names_the_max_variable() {
        let source = EnvSource::from_pairs([
            ("AMQP_RECONNECT_BACKOFF_MIN_MS", "1000"),
            ("AMQP_RECONNECT_BACKOFF_MAX_MS", "10"),
        ]);
        let error = BrokerSettings::from_source(&source).unwrap_err();
        assert!(matches!(
            &error,
            SettingsError::Invalid { variable, .. } if variable == "AMQP_RECONNECT_BACKOFF_MAX_MS"
        ));
    }

    #[test]
    fn a_non_numeric_prefetch_names_the_variable() {
        let source = EnvSource::from_pairs([("AMQP_PREFETCH", "lots")]);
        let error = BrokerSettings::from_source(&source).unwrap_err();
        assert!(matches!(
            &error,
            SettingsError::Invalid { variable, value, .. }
                if variable == "AMQP_PREFETCH" && value == "lots"
        ));
    }

    #[test]
    fn debug_output_hides_the_url() {
        let source = EnvSource::from_pairs([("AMQP_URL", "amqp://app:hunter2@broker:5672/%2f")]);
        let settings = BrokerSettings::from_source(&source).unwrap();
        assert!(!format!("{settings:?}").contains("hunter2"));
    }
}
