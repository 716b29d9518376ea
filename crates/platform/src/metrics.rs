//! Prometheus metrics: one registry per process (prometheus' default one),
//! the gRPC server's metrics, and the `/metrics` endpoint every service
//! serves on `<PREFIX>_METRICS_ADDR`.
//!
//! Other crates register theirs in the same registry through the re-exported
//! [`prometheus`] crate (the broker's consumer counters, the outbox relay's,
//! the runtime's pool and outbox gauges), so the endpoint shows them all.
//! Names follow Prometheus' conventions: the unit in the name
//! (`_seconds`), `_total` on counters, labels with a bounded set of values
//! (methods, codes, queue and outbox names; never ids).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::LazyLock;
use std::time::Duration;

pub use prometheus;
use prometheus::{Encoder as _, HistogramOpts, HistogramVec, IntCounterVec, Opts, TextEncoder};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

use crate::settings::{EnvSource, ServiceInfo, SettingsError};

/// Taken from a service's gRPC port for its default metrics port (50054 →
/// 9054): below Linux's ephemeral range (32768–60999), where an outgoing
/// connection's source port could hold the metrics port first.
pub const METRICS_PORT_OFFSET: u16 = 41_000;

/// Latency buckets for calls and handlers: 1 ms to 10 s.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0,
];

static GRPC_HANDLED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(IntCounterVec::new(
        Opts::new(
            "grpc_server_handled_total",
            "gRPC calls completed by the server, by service, method and status code.",
        ),
        &["grpc_service", "grpc_method", "grpc_code"],
    ))
});

static GRPC_HANDLING: LazyLock<HistogramVec> = LazyLock::new(|| {
    register(HistogramVec::new(
        HistogramOpts::new(
            "grpc_server_handling_seconds",
            "Time from a gRPC call's arrival to its status, by service and method.",
        )
        .buckets(LATENCY_BUCKETS.to_vec()),
        &["grpc_service", "grpc_method"],
    ))
});

/// Registers `metric` in the process registry. A metric is created once
/// per process (in a `LazyLock`); a second registration of the same name is
/// a programming error, and the metric then still counts, unexported.
pub fn register<M>(metric: Result<M, prometheus::Error>) -> M
where
    M: prometheus::core::Collector + Clone + 'static,
{
    #[allow(clippy::expect_used)]
    let metric = metric.expect("a valid metric definition");
    if let Err(error) = prometheus::register(Box::new(metric.clone())) {
        tracing::error!(%error, "a metric could not be registered");
    }
    metric
}

/// Counts one finished gRPC call. A call to a path no service serves
/// (UNIMPLEMENTED: no service here leaves a method unimplemented) counts as
/// `unknown`, so a client cannot grow the label set.
pub fn record_grpc_call(service: &str, method: &str, code: tonic::Code, elapsed: Duration) {
    let (service, method) = if code == tonic::Code::Unimplemented {
        ("unknown", "unknown")
    } else {
        (service, method)
    };
    let code = format!("{code:?}");
    GRPC_HANDLED
        .with_label_values(&[service, method, code.as_str()])
        .inc();
    GRPC_HANDLING
        .with_label_values(&[service, method])
        .observe(elapsed.as_secs_f64());
}

/// Every registered metric in Prometheus' text format (version 0.0.4).
pub fn render() -> String {
    let mut buffer = Vec::new();
    if let Err(error) = TextEncoder::new().encode(&prometheus::gather(), &mut buffer) {
        tracing::error!(%error, "metrics could not be encoded");
    }
    String::from_utf8(buffer).unwrap_or_default()
}

/// Where a service serves `/metrics`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetricsSettings {
    /// `<PREFIX>_METRICS_ADDR`: `127.0.0.1:<gRPC port − 41000>` (9051…) by default;
    /// `off` serves none.
    pub addr: Option<SocketAddr>,
}

impl MetricsSettings {
    pub fn from_env(service: &ServiceInfo) -> Result<Self, SettingsError> {
        Self::from_source(service, &EnvSource::process())
    }

    pub fn from_source(service: &ServiceInfo, source: &EnvSource) -> Result<Self, SettingsError> {
        let variable = service.variable("METRICS_ADDR");
        let default = SocketAddr::new(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            service.default_port.saturating_sub(METRICS_PORT_OFFSET),
        );
        let addr = match source.string(&variable)? {
            None => Some(default),
            Some(value) if value.trim().eq_ignore_ascii_case("off") => None,
            Some(value) => Some(value.trim().parse().map_err(|_| SettingsError::Invalid {
                variable: variable.clone(),
                value: value.clone(),
                reason: "expected host:port (e.g. 0.0.0.0:51054) or off".to_owned(),
            })?),
        };
        Ok(Self { addr })
    }
}

/// Serves `GET /metrics` (Prometheus text) on `listener` until `shutdown`;
/// anything else is 404. One small HTTP/1.1 answer per connection.
pub async fn serve(listener: TcpListener, shutdown: impl std::future::Future<Output = ()>) {
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((mut stream, _)) = accepted else {
            continue;
        };
        tokio::spawn(async move {
            let mut request = vec![0_u8; 4096];
            let read =
                tokio::time::timeout(Duration::from_secs(5), stream.read(&mut request)).await;
            let Ok(Ok(read)) = read else {
                return;
            };
            let request = String::from_utf8_lossy(&request[..read]);
            let path = request
                .lines()
                .next()
                .and_then(|line| {
                    let mut words = line.split_whitespace();
                    (words.next() == Some("GET"))
                        .then(|| words.next())
                        .flatten()
                })
                .unwrap_or("");
            let response = if path == "/metrics" || path.starts_with("/metrics?") {
                let body = render();
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4; charset=utf-8\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                )
            } else {
                "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    .to_owned()
            };
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const SERVICE: ServiceInfo = ServiceInfo {
        name: "orders-svc",
        env_prefix: "ORDERS",
        default_port: 50054,
    };

    #[test]
    fn the_address_defaults_to_the_grpc_port_minus_41000_and_can_be_off() {
        let default = MetricsSettings::from_source(&SERVICE, &EnvSource::from_pairs([])).unwrap();
        assert_eq!(default.addr, Some("127.0.0.1:9054".parse().unwrap()));
        let off = MetricsSettings::from_source(
            &SERVICE,
            &EnvSource::from_pairs([("ORDERS_METRICS_ADDR", "off")]),
        )
        .unwrap();
        assert_eq!(off.addr, None);
        let bad = MetricsSettings::from_source(
            &SERVICE,
            &EnvSource::from_pairs([("ORDERS_METRICS_ADDR", "nowhere")]),
        )
        .unwrap_err();
        assert!(bad.to_string().contains("ORDERS_METRICS_ADDR"), "{bad}");
    }

    #[tokio::test]
    async fn serves_the_registry_on_get_metrics_and_404_elsewhere() {
        record_grpc_call(
            "ecommerce.test.v1.Test",
            "Do",
            tonic::Code::Ok,
            Duration::from_millis(3),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(serve(listener, std::future::pending()));
        let get = |path: &'static str| async move {
            let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            stream
                .write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes())
                .await
                .unwrap();
            let mut answer = String::new();
            stream.read_to_string(&mut answer).await.unwrap();
            answer
        };
        let metrics = get("/metrics").await;
        assert!(metrics.starts_with("HTTP/1.1 200 OK"), "{metrics}");
        assert!(
            metrics.contains(
                "grpc_server_handled_total{grpc_code=\"Ok\",grpc_method=\"Do\",grpc_service=\"ecommerce.test.v1.Test\"} 1"
            ),
            "{metrics}"
        );
        assert!(metrics.contains("grpc_server_handling_seconds_bucket{"));
        assert!(get("/").await.starts_with("HTTP/1.1 404"));
        server.abort();
    }
}
