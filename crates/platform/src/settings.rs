//! Typed settings read from environment variables, each with a default that
//! runs locally. Every error names the variable it came from.
//!
//! Parsing goes through an [`EnvSource`], so tests hand in a map instead of
//! mutating the process environment (`std::env::set_var` is `unsafe` in
//! edition 2024 and racy across parallel tests).
//!
//! A variable set to an empty (or all-blank) value counts as unset: compose
//! files and `.env` templates often write `OTEL_EXPORTER_OTLP_ENDPOINT=` to mean
//! "off".

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;
use tracing_subscriber::EnvFilter;

use crate::tls::ServerTlsSettings;

/// A setting that could not be read. Always names the variable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingsError {
    #[error("environment variable {variable} has an invalid value {value:?}: {reason}")]
    Invalid {
        variable: String,
        value: String,
        reason: String,
    },
    #[error("environment variable {variable} is not valid unicode")]
    NotUnicode { variable: String },
}

/// The identity every service declares once, as a `const`, and hands to the
/// platform: its name in logs and traces, the prefix of its own variables and
/// the port it listens on by default.
///
/// ```
/// use ecommerce_platform::settings::ServiceInfo;
///
/// pub const SERVICE: ServiceInfo = ServiceInfo {
///     name: "orders-svc",
///     env_prefix: "ORDERS",
///     default_port: 50054,
/// };
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceInfo {
    /// Service name used in logs and as the OpenTelemetry `service.name`, e.g. `orders-svc`.
    pub name: &'static str,
    /// Prefix of the service's own variables, e.g. `ORDERS` for `ORDERS_GRPC_ADDR`.
    pub env_prefix: &'static str,
    /// Port of the local default address `127.0.0.1:<default_port>`.
    pub default_port: u16,
}

impl ServiceInfo {
    /// The name of one of this service's own variables: `ORDERS` + `GRPC_ADDR`
    /// gives `ORDERS_GRPC_ADDR`.
    pub fn variable(&self, suffix: &str) -> String {
        format!("{}_{suffix}", self.env_prefix)
    }
}

type Lookup = dyn Fn(&str) -> Option<OsString> + Send + Sync;

/// Where settings are read from: the process environment in production, a
/// closure or a list of pairs in tests.
pub struct EnvSource {
    lookup: Box<Lookup>,
}

impl fmt::Debug for EnvSource {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values may be secrets; never print them.
        formatter.debug_struct("EnvSource").finish_non_exhaustive()
    }
}

impl EnvSource {
    /// The process environment.
    pub fn process() -> Self {
        Self::from_fn(|name| std::env::var_os(name))
    }

    /// Any lookup function, e.g. over a map built by a test.
    pub fn from_fn(lookup: impl Fn(&str) -> Option<OsString> + Send + Sync + 'static) -> Self {
        Self {
            lookup: Box::new(lookup),
        }
    }

    /// A fixed set of variables; everything else is unset.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let variables: HashMap<String, OsString> = pairs
            .into_iter()
            .map(|(name, value)| (name.to_owned(), OsString::from(value)))
            .collect();
        Self::from_fn(move |name| variables.get(name).cloned())
    }

    /// The raw value of `name`, `None` when unset or blank.
    pub fn string(&self, name: &str) -> Result<Option<String>, SettingsError> {
        let Some(raw) = (self.lookup)(name) else {
            return Ok(None);
        };
        let value = raw.into_string().map_err(|_| SettingsError::NotUnicode {
            variable: name.to_owned(),
        })?;
        if value.trim().is_empty() {
            return Ok(None);
        }
        Ok(Some(value))
    }

    /// `name` parsed as `T`, or `None` when unset.
    pub fn opt<T>(&self, name: &str) -> Result<Option<T>, SettingsError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        let Some(value) = self.string(name)? else {
            return Ok(None);
        };
        match value.trim().parse() {
            Ok(parsed) => Ok(Some(parsed)),
            Err(error) => Err(invalid(name, &value, error)),
        }
    }

    /// `name` parsed as `T`, or `default` when unset.
    pub fn or<T>(&self, name: &str, default: T) -> Result<T, SettingsError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        Ok(self.opt(name)?.unwrap_or(default))
    }

    /// `name` as a secret (taken verbatim, not trimmed), or `default` when unset.
    pub fn secret(&self, name: &str, default: &str) -> Result<SecretString, SettingsError> {
        let value = self.string(name)?.unwrap_or_else(|| default.to_owned());
        Ok(SecretString::from(value))
    }
}

fn invalid(variable: &str, value: &str, reason: impl fmt::Display) -> SettingsError {
    SettingsError::Invalid {
        variable: variable.to_owned(),
        value: value.to_owned(),
        reason: reason.to_string(),
    }
}

/// `name` from the process environment parsed as `T`, or `default` when unset.
pub fn env_or<T>(name: &str, default: T) -> Result<T, SettingsError>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    EnvSource::process().or(name, default)
}

/// `name` from the process environment parsed as `T`, or `None` when unset.
pub fn env_opt<T>(name: &str) -> Result<Option<T>, SettingsError>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    EnvSource::process().opt(name)
}

/// `name` from the process environment as a secret, or `default` when unset.
pub fn env_secret(name: &str, default: &str) -> Result<SecretString, SettingsError> {
    EnvSource::process().secret(name, default)
}

/// Explicit per-message size limits applied to every gRPC service, in both
/// directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageLimits {
    /// Largest request (or streamed message) a service accepts, in bytes.
    pub max_decoding_message_size: usize,
    /// Largest response message a service sends, in bytes.
    pub max_encoding_message_size: usize,
}

impl Default for MessageLimits {
    fn default() -> Self {
        Self {
            max_decoding_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_encoding_message_size: DEFAULT_MAX_MESSAGE_SIZE,
        }
    }
}

/// 4 MiB, gRPC's customary default for both directions.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 4 * 1024 * 1024;

/// Variable holding the largest accepted message, in bytes.
pub const MAX_DECODING_MESSAGE_SIZE_VAR: &str = "GRPC_MAX_DECODING_MESSAGE_SIZE";
/// Variable holding the largest sent message, in bytes.
pub const MAX_ENCODING_MESSAGE_SIZE_VAR: &str = "GRPC_MAX_ENCODING_MESSAGE_SIZE";

/// How much one client can make a server do at once, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// `GRPC_REQUEST_TIMEOUT_MS`: a call still running after this is ended
    /// (CANCELLED, "Timeout expired"); a shorter `grpc-timeout` the client
    /// sends wins.
    pub request_timeout: Duration,
    /// `GRPC_CONCURRENCY_LIMIT_PER_CONNECTION`: calls one connection runs at
    /// once; the rest wait for a slot.
    pub concurrency_per_connection: usize,
    /// `GRPC_MAX_CONCURRENT_STREAMS`: HTTP/2 streams a client may open on one
    /// connection.
    pub max_concurrent_streams: u32,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(30),
            concurrency_per_connection: 256,
            max_concurrent_streams: 256,
        }
    }
}

/// Variable holding the request timeout, in milliseconds.
pub const REQUEST_TIMEOUT_MS_VAR: &str = "GRPC_REQUEST_TIMEOUT_MS";
/// Variable holding the calls one connection runs at once.
pub const CONCURRENCY_LIMIT_PER_CONNECTION_VAR: &str = "GRPC_CONCURRENCY_LIMIT_PER_CONNECTION";
/// Variable holding the HTTP/2 streams a client may open on one connection.
pub const MAX_CONCURRENT_STREAMS_VAR: &str = "GRPC_MAX_CONCURRENT_STREAMS";

impl ServerLimits {
    fn from_source(source: &EnvSource) -> Result<Self, SettingsError> {
        let defaults = Self::default();
        let timeout_ms = source.or(
            REQUEST_TIMEOUT_MS_VAR,
            u64::try_from(defaults.request_timeout.as_millis()).unwrap_or(u64::MAX),
        )?;
        let concurrency = source.or(
            CONCURRENCY_LIMIT_PER_CONNECTION_VAR,
            defaults.concurrency_per_connection,
        )?;
        let streams = source.or(MAX_CONCURRENT_STREAMS_VAR, defaults.max_concurrent_streams)?;
        for (variable, value) in [
            (REQUEST_TIMEOUT_MS_VAR, timeout_ms),
            (CONCURRENCY_LIMIT_PER_CONNECTION_VAR, concurrency as u64),
            (MAX_CONCURRENT_STREAMS_VAR, u64::from(streams)),
        ] {
            if value == 0 {
                return Err(invalid(variable, "0", "must be at least 1"));
            }
        }
        Ok(Self {
            request_timeout: Duration::from_millis(timeout_ms),
            concurrency_per_connection: concurrency,
            max_concurrent_streams: streams,
        })
    }
}

/// Where and how a service serves gRPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrpcSettings {
    /// `<PREFIX>_GRPC_ADDR`; `127.0.0.1:<default_port>` locally, `0.0.0.0:<port>` in containers.
    pub addr: SocketAddr,
    /// `GRPC_MAX_DECODING_MESSAGE_SIZE` / `GRPC_MAX_ENCODING_MESSAGE_SIZE`.
    pub message_limits: MessageLimits,
    /// `GRPC_REQUEST_TIMEOUT_MS`, `GRPC_CONCURRENCY_LIMIT_PER_CONNECTION`,
    /// `GRPC_MAX_CONCURRENT_STREAMS`.
    pub limits: ServerLimits,
    /// `GRPC_TLS_CERT`, `GRPC_TLS_KEY`, `GRPC_TLS_CLIENT_CA`: TLS (mutual
    /// with the last) when set, plaintext when `None`.
    pub tls: Option<ServerTlsSettings>,
}

impl GrpcSettings {
    /// The local defaults: `127.0.0.1:<default_port>`, 4 MiB limits.
    pub fn local(service: &ServiceInfo) -> Self {
        Self {
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), service.default_port),
            message_limits: MessageLimits::default(),
            limits: ServerLimits::default(),
            tls: None,
        }
    }

    /// For in-process tests: an ephemeral port on loopback, 4 MiB limits.
    pub fn for_tests() -> Self {
        Self {
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            message_limits: MessageLimits::default(),
            limits: ServerLimits::default(),
            tls: None,
        }
    }

    /// Reads the settings from the process environment.
    pub fn from_env(service: &ServiceInfo) -> Result<Self, SettingsError> {
        Self::from_source(service, &EnvSource::process())
    }

    /// Reads the settings from `source`, reading and checking the TLS
    /// files named (an error names the variable and the path).
    pub fn from_source(service: &ServiceInfo, source: &EnvSource) -> Result<Self, SettingsError> {
        let defaults = Self::local(service);
        let addr = source
            .opt::<String>(&service.variable("GRPC_ADDR"))?
            .map(|value| parse_socket_addr(&service.variable("GRPC_ADDR"), &value))
            .transpose()?
            .unwrap_or(defaults.addr);
        Ok(Self {
            addr,
            message_limits: MessageLimits {
                max_decoding_message_size: message_size(source, MAX_DECODING_MESSAGE_SIZE_VAR)?,
                max_encoding_message_size: message_size(source, MAX_ENCODING_MESSAGE_SIZE_VAR)?,
            },
            limits: ServerLimits::from_source(source)?,
            tls: ServerTlsSettings::from_source(source)?,
        })
    }
}

fn parse_socket_addr(variable: &str, value: &str) -> Result<SocketAddr, SettingsError> {
    value.trim().parse().map_err(|error| {
        invalid(
            variable,
            value,
            format!("{error}; expected an IP address and port such as 0.0.0.0:50051"),
        )
    })
}

fn message_size(source: &EnvSource, variable: &str) -> Result<usize, SettingsError> {
    let size = source.or(variable, DEFAULT_MAX_MESSAGE_SIZE)?;
    if size == 0 {
        return Err(invalid(variable, "0", "must be greater than zero (bytes)"));
    }
    Ok(size)
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human readable, coloured when stdout is a terminal.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.to_ascii_lowercase().as_str() {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            _ => Err("expected `text` or `json`".to_owned()),
        }
    }
}

/// Variable selecting the log format.
pub const LOG_FORMAT_VAR: &str = "LOG_FORMAT";
/// Variable holding the `tracing` filter directives.
pub const LOG_FILTER_VAR: &str = "RUST_LOG";
/// Variable enabling OTLP trace export when set.
pub const OTLP_ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// Variable overriding the exported `service.name`.
pub const OTEL_SERVICE_NAME_VAR: &str = "OTEL_SERVICE_NAME";

/// Logging and tracing settings, shared by every service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetrySettings {
    /// `LOG_FORMAT`: `text` (default) or `json`.
    pub log_format: LogFormat,
    /// `RUST_LOG`: `tracing-subscriber` `EnvFilter` directives, `info` by default.
    pub log_filter: String,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`: OTLP/gRPC collector; traces are exported only when set.
    pub otlp_endpoint: Option<String>,
    /// `OTEL_SERVICE_NAME`: overrides the service's own name in exported traces.
    pub service_name_override: Option<String>,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self {
            log_format: LogFormat::Text,
            log_filter: "info".to_owned(),
            otlp_endpoint: None,
            service_name_override: None,
        }
    }
}

impl TelemetrySettings {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_source(&EnvSource::process())
    }

    /// Reads the settings from `source`, validating the filter and endpoint up
    /// front so a typo fails at start-up naming its variable.
    pub fn from_source(source: &EnvSource) -> Result<Self, SettingsError> {
        let defaults = Self::default();
        let log_filter = source
            .string(LOG_FILTER_VAR)?
            .unwrap_or(defaults.log_filter);
        if let Err(error) = EnvFilter::builder().parse(&log_filter) {
            return Err(invalid(LOG_FILTER_VAR, &log_filter, error));
        }
        let otlp_endpoint = source.string(OTLP_ENDPOINT_VAR)?;
        if let Some(endpoint) = &otlp_endpoint {
            validate_endpoint(endpoint)?;
        }
        Ok(Self {
            log_format: source.or(LOG_FORMAT_VAR, defaults.log_format)?,
            log_filter,
            otlp_endpoint,
            service_name_override: source.string(OTEL_SERVICE_NAME_VAR)?,
        })
    }
}

fn validate_endpoint(endpoint: &str) -> Result<(), SettingsError> {
    let uri: http::Uri = endpoint
        .parse()
        .map_err(|error| invalid(OTLP_ENDPOINT_VAR, endpoint, error))?;
    if uri.scheme().is_none() || uri.host().is_none() {
        return Err(invalid(
            OTLP_ENDPOINT_VAR,
            endpoint,
            "expected an absolute URL such as http://127.0.0.1:4317",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    const ORDERS: ServiceInfo = ServiceInfo {
        name: "orders-svc",
        env_prefix: "ORDERS",
        default_port: 50054,
    };

    #[test]
    fn grpc_settings_default_to_loopback_on_the_service_port() {
        let settings = GrpcSettings::from_source(&ORDERS, &EnvSource::from_pairs([])).unwrap();
        assert_eq!(settings.addr, "127.0.0.1:50054".parse().unwrap());
        assert_eq!(
            settings.message_limits.max_decoding_message_size,
            4 * 1024 * 1024
        );
        assert_eq!(
            settings.message_limits.max_encoding_message_size,
            4 * 1024 * 1024
        );
        assert_eq!(settings, GrpcSettings::local(&ORDERS));
    }

    #[test]
    fn grpc_settings_read_the_prefixed_address_and_the_shared_limits() {
        let source = EnvSource::from_pairs([
            ("ORDERS_GRPC_ADDR", "0.0.0.0:6000"),
            ("GRPC_MAX_DECODING_MESSAGE_SIZE", "1024"),
            ("GRPC_MAX_ENCODING_MESSAGE_SIZE", " 2048 "),
            // Another service's address must not leak in.
            ("CART_GRPC_ADDR", "0.0.0.0:7000"),
        ]);
        let settings = GrpcSettings::from_source(&ORDERS, &source).unwrap();
        assert_eq!(settings.addr, "0.0.0.0:6000".parse().unwrap());
        assert_eq!(settings.message_limits.max_decoding_message_size, 1024);
        assert_eq!(settings.message_limits.max_encoding_message_size, 2048);
    }

    #[test]
    fn server_limits_have_defaults_read_their_variables_and_refuse_zero() {
        let defaults = GrpcSettings::from_source(&ORDERS, &EnvSource::from_pairs([])).unwrap();
        assert_eq!(defaults.limits, ServerLimits::default());
        assert_eq!(defaults.limits.request_timeout, Duration::from_secs(30));
        let source = EnvSource::from_pairs([
            ("GRPC_REQUEST_TIMEOUT_MS", "1500"),
            ("GRPC_CONCURRENCY_LIMIT_PER_CONNECTION", "8"),
            ("GRPC_MAX_CONCURRENT_STREAMS", "16"),
        ]);
        let limits = GrpcSettings::from_source(&ORDERS, &source).unwrap().limits;
        assert_eq!(
            limits,
            ServerLimits {
                request_timeout: Duration::from_millis(1500),
                concurrency_per_connection: 8,
                max_concurrent_streams: 16,
            }
        );
        for variable in [
            "GRPC_REQUEST_TIMEOUT_MS",
            "GRPC_CONCURRENCY_LIMIT_PER_CONNECTION",
            "GRPC_MAX_CONCURRENT_STREAMS",
        ] {
            let source = EnvSource::from_pairs([(variable, "0")]);
            let error = GrpcSettings::from_source(&ORDERS, &source).unwrap_err();
            assert!(error.to_string().contains(variable), "{error}");
        }
    }

    #[test]
    fn an_invalid_address_names_the_variable_and_the_value() {
        let source = EnvSource::from_pairs([("ORDERS_GRPC_ADDR", "localhost")]);
        let error = GrpcSettings::from_source(&ORDERS, &source).unwrap_err();
        let SettingsError::Invalid {
            variable, value, ..
        } = &error
        else {
            panic!("unexpected error {error:?}");
        };
        assert_eq!(variable, "ORDERS_GRPC_ADDR");
        assert_eq!(value, "localhost");
        let message = error.to_string();
        assert!(message.contains("ORDERS_GRPC_ADDR"), "{message}");
        assert!(message.contains("\"localhost\""), "{message}");
        assert!(message.contains("0.0.0.0:50051"), "{message}");
    }

    #[test]
    fn a_zero_message_size_is_refused() {
        let source = EnvSource::from_pairs([("GRPC_MAX_ENCODING_MESSAGE_SIZE", "0")]);
        let error = GrpcSettings::from_source(&ORDERS, &source).unwrap_err();
        assert_eq!(
            error.to_string(),
            "environment variable GRPC_MAX_ENCODING_MESSAGE_SIZE has an invalid value \"0\": \
             must be greater than zero (bytes)"
        );
    }

    #[test]
    fn a_non_numeric_message_size_names_the_variable() {
        let source = EnvSource::from_pairs([("GRPC_MAX_DECODING_MESSAGE_SIZE", "4MiB")]);
        let error = GrpcSettings::from_source(&ORDERS, &source).unwrap_err();
        assert!(matches!(
            &error,
            SettingsError::Invalid { variable, value, .. }
                if variable == "GRPC_MAX_DECODING_MESSAGE_SIZE" && value == "4MiB"
        ));
    }

    #[test]
    fn non_unicode_values_name_the_variable() {
        use std::os::unix::ffi::OsStringExt;

        let source = EnvSource::from_fn(|name| {
            (name == "ORDERS_GRPC_ADDR").then(|| OsString::from_vec(vec![0x30, 0xff, 0xfe]))
        });
        let error = GrpcSettings::from_source(&ORDERS, &source).unwrap_err();
        assert_eq!(
            error,
            SettingsError::NotUnicode {
                variable: "ORDERS_GRPC_ADDR".to_owned()
            }
        );
        assert_eq!(
            error.to_string(),
            "environment variable ORDERS_GRPC_ADDR is not valid unicode"
        );
    }

    #[test]
    fn blank_values_count_as_unset() {
        let source = EnvSource::from_pairs([
            ("ORDERS_GRPC_ADDR", ""),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "  "),
        ]);
        assert_eq!(
            GrpcSettings::from_source(&ORDERS, &source).unwrap(),
            GrpcSettings::local(&ORDERS)
        );
        assert_eq!(
            TelemetrySettings::from_source(&source)
                .unwrap()
                .otlp_endpoint,
            None
        );
    }

    #[test]
    fn env_source_or_and_opt_parse_any_from_str_type() {
        let source = EnvSource::from_pairs([("RETRIES", "7"), ("RATIO", "x")]);
        assert_eq!(source.or("RETRIES", 3_u32).unwrap(), 7);
        assert_eq!(source.or("MISSING", 3_u32).unwrap(), 3);
        assert_eq!(source.opt::<u32>("MISSING").unwrap(), None);
        let error = source.opt::<f64>("RATIO").unwrap_err();
        assert_eq!(
            error.to_string(),
            "environment variable RATIO has an invalid value \"x\": invalid float literal"
        );
    }

    #[test]
    fn secrets_fall_back_to_their_default_and_never_print() {
        let source = EnvSource::from_pairs([("CHECKOUT_SIGNING_KEY", " s3cr3t ")]);
        let secret = source.secret("CHECKOUT_SIGNING_KEY", "dev-key").unwrap();
        assert_eq!(secret.expose_secret(), " s3cr3t ");
        assert!(!format!("{secret:?}").contains("s3cr3t"));
        let default = source.secret("OTHER_KEY", "dev-key").unwrap();
        assert_eq!(default.expose_secret(), "dev-key");
    }

    #[test]
    fn telemetry_settings_default_to_text_logs_at_info_without_export() {
        let settings = TelemetrySettings::from_source(&EnvSource::from_pairs([])).unwrap();
        assert_eq!(settings, TelemetrySettings::default());
        assert_eq!(settings.log_format, LogFormat::Text);
        assert_eq!(settings.log_filter, "info");
        assert_eq!(settings.otlp_endpoint, None);
    }

    #[test]
    fn telemetry_settings_read_every_variable() {
        let source = EnvSource::from_pairs([
            ("LOG_FORMAT", "JSON"),
            ("RUST_LOG", "warn,orders_svc=debug"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel-collector:4317"),
            ("OTEL_SERVICE_NAME", "orders-blue"),
        ]);
        let settings = TelemetrySettings::from_source(&source).unwrap();
        assert_eq!(settings.log_format, LogFormat::Json);
        assert_eq!(settings.log_filter, "warn,orders_svc=debug");
        assert_eq!(
            settings.otlp_endpoint.as_deref(),
            Some("http://otel-collector:4317")
        );
        assert_eq!(
            settings.service_name_override.as_deref(),
            Some("orders-blue")
        );
    }

    #[test]
    fn an_unknown_log_format_names_the_variable() {
        let source = EnvSource::from_pairs([("LOG_FORMAT", "yaml")]);
        let error = TelemetrySettings::from_source(&source).unwrap_err();
        assert_eq!(
            error.to_string(),
            "environment variable LOG_FORMAT has an invalid value \"yaml\": expected `text` or `json`"
        );
    }

    #[test]
    fn an_invalid_filter_names_rust_log() {
        let source = EnvSource::from_pairs([("RUST_LOG", "orders_svc=loud")]);
        let error = TelemetrySettings::from_source(&source).unwrap_err();
        assert!(matches!(
            &error,
            SettingsError::Invalid { variable, .. } if variable == "RUST_LOG"
        ));
    }

    #[test]
    fn a_relative_otlp_endpoint_is_refused() {
        let source = EnvSource::from_pairs([("OTEL_EXPORTER_OTLP_ENDPOINT", "otel-collector")]);
        let error = TelemetrySettings::from_source(&source).unwrap_err();
        assert!(matches!(
            &error,
            SettingsError::Invalid { variable, value, .. }
                if variable == "OTEL_EXPORTER_OTLP_ENDPOINT" && value == "otel-collector"
        ));
    }

    #[test]
    fn debug_output_of_a_source_hides_values() {
        let source = EnvSource::from_pairs([("DATABASE_PASSWORD", "hunter2")]);
        assert!(!format!("{source:?}").contains("hunter2"));
    }
}
