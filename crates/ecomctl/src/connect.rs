//! Connections to the broker, the databases and the services, each failing
//! with an error that says what was unreachable, where, through which
//! setting, and what to do about it.

use std::str::FromStr as _;
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use ecommerce_broker::lapin::uri::AMQPUri;
use ecommerce_broker::topology::Topology;
use ecommerce_broker::{Broker, BrokerSettings, BrokerState};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use secrecy::{ExposeSecret as _, SecretString};
use tonic::transport::{Channel, Endpoint};

/// What every "unreachable" error ends with.
pub const START_HINT: &str = "is it running? (scripts/up starts it)";

/// How long a database connection may take before it counts as unreachable.
const DATABASE_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A connected broker that declares nothing: ecomctl looks at the topology
/// the services declared, it never changes it on connect.
pub async fn connect_broker(settings: &BrokerSettings) -> anyhow::Result<Broker> {
    let shown = amqp_url_for_display(settings.amqp_url.expose_secret());
    let variable = settings.amqp_url_variable.clone();
    let broker = Broker::start(settings.clone(), Topology::default())
        .with_context(|| format!("invalid RabbitMQ URL in {variable}"))?;
    let mut state = broker.state();
    // The first attempt's outcome: refused connections fail at once rather
    // than after the whole reconnect schedule.
    let first = tokio::time::timeout(settings.connect_timeout + Duration::from_secs(1), async {
        // Copied out at once: the watch's guard would block the supervisor.
        state
            .wait_for(|state| *state != BrokerState::Connecting)
            .await
            .map(|state| *state)
    })
    .await;
    if matches!(first, Ok(Ok(BrokerState::Connected))) {
        // The session follows the state at once.
        if broker
            .wait_until_connected(settings.confirm_timeout)
            .await
            .is_ok()
        {
            return Ok(broker);
        }
    }
    let reason = last_broker_error(&broker).await;
    broker.close().await;
    Err(anyhow!(
        "cannot connect to RabbitMQ at {shown} ({variable}): {} — {}",
        explain_broker_error(&reason),
        broker_hint(&reason)
    ))
}

/// The supervisor's last error: it records it just after it reports the
/// failed state, so ask a few times.
async fn last_broker_error(broker: &Broker) -> String {
    for _ in 0..50 {
        match broker.wait_until_connected(Duration::from_millis(10)).await {
            Err(ecommerce_broker::BrokerError::NotConnected {
                last_error: Some(error),
                ..
            }) => return error,
            Ok(()) => return "connected too late".to_owned(),
            Err(_) => {}
        }
    }
    "no answer within the connect timeout (AMQP_CONNECT_TIMEOUT_MS)".to_owned()
}

/// The failure in a few words.
pub fn explain_broker_error(error: &str) -> String {
    let lower = error.to_ascii_lowercase();
    if lower.contains("connection refused") {
        "connection refused".to_owned()
    } else if lower.contains("access_refused") || lower.contains("access refused") {
        "access refused".to_owned()
    } else if lower.contains("not_allowed") && lower.contains("vhost") {
        "the virtual host is not open to this user".to_owned()
    } else {
        error.to_owned()
    }
}

fn broker_hint(error: &str) -> &'static str {
    let lower = error.to_ascii_lowercase();
    if lower.contains("access_refused") || lower.contains("access refused") {
        "check the user and password in AMQP_URL (or --amqp-url)"
    } else {
        START_HINT
    }
}

/// `amqp://host:port[/vhost]` with the user but never the password.
pub fn amqp_url_for_display(url: &str) -> String {
    match AMQPUri::from_str(url) {
        Ok(uri) => {
            let scheme = match uri.scheme {
                ecommerce_broker::lapin::uri::AMQPScheme::AMQP => "amqp",
                ecommerce_broker::lapin::uri::AMQPScheme::AMQPS => "amqps",
            };
            let vhost = if uri.vhost == "/" {
                String::new()
            } else {
                format!("/{}", uri.vhost)
            };
            format!(
                "{scheme}://{}:{}{vhost}",
                uri.authority.host, uri.authority.port
            )
        }
        Err(_) => "(an unparsable AMQP_URL)".to_owned(),
    }
}

/// `postgres://user@host:port/database`, without password or parameters.
pub fn database_url_for_display(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(parsed) => {
            let user = if parsed.username().is_empty() {
                String::new()
            } else {
                format!("{}@", parsed.username())
            };
            let host = parsed.host_str().unwrap_or("");
            let port = parsed
                .port()
                .map(|port| format!(":{port}"))
                .unwrap_or_default();
            format!("{}://{user}{host}{port}{}", parsed.scheme(), parsed.path())
        }
        Err(_) => "(an unparsable database URL)".to_owned(),
    }
}

/// A small pool on `url` (no `search_path`: every statement names its
/// schema). `variables` says which settings chose it, for the error.
pub async fn connect_database(
    url: &SecretString,
    variables: &str,
) -> anyhow::Result<DatabaseConnection> {
    let shown = database_url_for_display(url.expose_secret());
    let unreachable = |reason: &str| {
        anyhow!("cannot connect to PostgreSQL at {shown} ({variables}): {reason} — {START_HINT}")
    };
    // The pool retries a refused connection until its timeout and then
    // reports only the timeout: ask the port first, to say why.
    if let Some(address) = tcp_address(url.expose_secret()) {
        match tokio::time::timeout(
            DATABASE_CONNECT_TIMEOUT,
            tokio::net::TcpStream::connect(&address),
        )
        .await
        {
            Ok(Ok(_)) => {}
            Ok(Err(error)) if error.kind() == std::io::ErrorKind::ConnectionRefused => {
                return Err(unreachable("connection refused"));
            }
            Ok(Err(error)) => return Err(unreachable(&error.to_string())),
            Err(_) => {
                return Err(unreachable(&format!(
                    "no answer within {}s",
                    DATABASE_CONNECT_TIMEOUT.as_secs()
                )));
            }
        }
    }
    let mut options = ConnectOptions::new(url.expose_secret().to_owned());
    options
        .max_connections(2)
        .min_connections(0)
        .connect_timeout(DATABASE_CONNECT_TIMEOUT)
        .acquire_timeout(DATABASE_CONNECT_TIMEOUT * 2)
        .sqlx_logging(false);
    Database::connect(options).await.map_err(|error| {
        let reason = error.to_string();
        let reason = reason
            .strip_prefix("Connection Error: ")
            .unwrap_or(&reason)
            .to_owned();
        anyhow!("cannot connect to PostgreSQL at {shown} ({variables}): {reason}")
    })
}

/// `host:port` of a TCP database URL; `None` for a Unix socket.
fn tcp_address(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    if parsed
        .query_pairs()
        .any(|(name, value)| name == "host" && value.starts_with('/'))
    {
        return None;
    }
    let host = parsed.host_str().filter(|host| !host.is_empty())?;
    let port = parsed.port().unwrap_or(5432);
    Some(format!("{host}:{port}"))
}

/// A lazily connecting channel to a service (`url`, chosen by `chosen_by`).
pub fn grpc_channel(url: &str, chosen_by: &str) -> anyhow::Result<Channel> {
    let endpoint = Endpoint::from_shared(url.to_owned())
        .with_context(|| format!("invalid gRPC URL `{url}` ({chosen_by})"))?
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(30));
    Ok(endpoint.connect_lazy())
}

/// The failure of a call to `service` in a few words, with what to do.
pub fn explain_grpc_error(
    service: &str,
    url: &str,
    chosen_by: &str,
    status: &tonic::Status,
) -> String {
    let detail = grpc_error_chain(status);
    let lower = detail.to_ascii_lowercase();
    if lower.contains("connection refused") {
        return format!(
            "cannot reach {service} at {url} ({chosen_by}): connection refused — {START_HINT}"
        );
    }
    if status.code() == tonic::Code::Unavailable || status.code() == tonic::Code::DeadlineExceeded {
        return format!("cannot reach {service} at {url} ({chosen_by}): {detail} — {START_HINT}");
    }
    format!(
        "{service} at {url} answered {:?}: {}",
        status.code(),
        status.message()
    )
}

fn grpc_error_chain(status: &tonic::Status) -> String {
    let mut text = status.message().to_owned();
    let mut source = std::error::Error::source(status);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_their_password() {
        assert_eq!(
            amqp_url_for_display("amqp://app:hunter2@rabbit:5673/shop"),
            "amqp://rabbit:5673/shop"
        );
        assert_eq!(
            amqp_url_for_display("amqp://guest:guest@127.0.0.1:5672/%2f"),
            "amqp://127.0.0.1:5672"
        );
        assert_eq!(
            database_url_for_display("postgres://orders:hunter2@db:6432/ecommerce?sslmode=disable"),
            "postgres://orders@db:6432/ecommerce"
        );
        assert_eq!(
            database_url_for_display("postgres://postgres@127.0.0.1:5432/ecommerce"),
            "postgres://postgres@127.0.0.1:5432/ecommerce"
        );
        assert!(!database_url_for_display("nonsense").contains("nonsense"));
    }

    #[test]
    fn database_urls_name_their_tcp_address() {
        assert_eq!(
            tcp_address("postgres://postgres@127.0.0.1:5432/ecommerce?sslmode=disable").as_deref(),
            Some("127.0.0.1:5432")
        );
        assert_eq!(
            tcp_address("postgres://db/ecommerce").as_deref(),
            Some("db:5432")
        );
        assert_eq!(tcp_address("postgres:///e?host=/run/postgresql"), None);
    }

    #[test]
    fn broker_errors_are_said_in_a_few_words() {
        assert_eq!(
            explain_broker_error(
                "could not connect to the broker: IO error: Connection refused (os error 111)"
            ),
            "connection refused"
        );
        assert_eq!(
            explain_broker_error("ACCESS_REFUSED - Login was refused"),
            "access refused"
        );
        assert!(broker_hint("ACCESS_REFUSED").contains("AMQP_URL"));
        assert_eq!(broker_hint("Connection refused"), START_HINT);
    }
}
