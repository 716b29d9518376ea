//! Logs and traces: a `tracing` subscriber writing text (or JSON lines), and,
//! when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, an OpenTelemetry tracer
//! exporting spans over OTLP/gRPC.

use std::io::IsTerminal as _;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::{EnvFilter, ParseError, filter_fn};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::{SubscriberInitExt as _, TryInitError};
use tracing_subscriber::{Layer as _, fmt};

use crate::settings::{LogFormat, ServiceInfo, TelemetrySettings};

/// Why telemetry could not be initialised.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("invalid log filter (RUST_LOG) {filter:?}")]
    InvalidFilter {
        filter: String,
        #[source]
        source: ParseError,
    },
    #[error("could not build the OTLP span exporter for {endpoint}")]
    Exporter {
        endpoint: String,
        #[source]
        source: opentelemetry_otlp::ExporterBuildError,
    },
    /// Another subscriber (an earlier `init`, or a test's) owns the process.
    #[error("a global tracing subscriber is already installed")]
    AlreadyInitialized(#[source] TryInitError),
}

/// Keeps the trace exporter alive; dropping it flushes buffered spans and
/// shuts the exporter down.
///
/// Drop it inside the Tokio runtime (as [`crate::service::run`] does): the
/// OTLP/gRPC exporter sends through a tonic channel that runs on it.
#[must_use = "dropping the guard stops trace export"]
#[derive(Debug)]
pub struct TelemetryGuard {
    tracer_provider: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    /// Whether spans are exported over OTLP.
    pub fn exports_traces(&self) -> bool {
        self.tracer_provider.is_some()
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.tracer_provider.take() {
            if let Err(error) = provider.shutdown() {
                tracing::warn!(%error, "could not flush traces on shutdown");
            }
        }
    }
}

/// Installs the global subscriber for `service`.
///
/// Calling it again (tests) does not panic: it returns
/// [`TelemetryError::AlreadyInitialized`] and changes nothing.
pub fn init(
    service: &ServiceInfo,
    settings: &TelemetrySettings,
) -> Result<TelemetryGuard, TelemetryError> {
    let filter = EnvFilter::builder()
        .parse(&settings.log_filter)
        .map_err(|source| TelemetryError::InvalidFilter {
            filter: settings.log_filter.clone(),
            source,
        })?;

    let tracer_provider = match &settings.otlp_endpoint {
        Some(endpoint) => {
            let service_name = settings
                .service_name_override
                .as_deref()
                .unwrap_or(service.name);
            Some(tracer_provider(endpoint, service_name)?)
        }
        None => None,
    };
    let otel_layer = tracer_provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer(service.name))
            // The exporter's own HTTP/2 client is traced too; exporting those
            // spans would feed the exporter with its own work.
            .with_filter(filter_fn(|metadata| {
                !is_transport_target(metadata.target())
            }))
    });

    let (text_layer, json_layer) = match settings.log_format {
        LogFormat::Text => (
            Some(fmt::layer().with_ansi(std::io::stdout().is_terminal())),
            None,
        ),
        LogFormat::Json => (
            None,
            Some(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false),
            ),
        ),
    };

    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(text_layer)
        .with(json_layer)
        .with(otel_layer)
        .try_init();
    if let Err(error) = installed {
        if let Some(provider) = tracer_provider {
            // Nothing was installed; the unused exporter has nothing to flush.
            let _ = provider.shutdown();
        }
        return Err(TelemetryError::AlreadyInitialized(error));
    }

    // Set even without export, so other crates can inject and extract W3C
    // trace context through the global propagator.
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    if let Some(provider) = &tracer_provider {
        opentelemetry::global::set_tracer_provider(provider.clone());
    }
    tracing::debug!(
        service = service.name,
        log_format = ?settings.log_format,
        otlp_endpoint = settings.otlp_endpoint.as_deref(),
        "telemetry initialised"
    );
    Ok(TelemetryGuard { tracer_provider })
}

fn tracer_provider(
    endpoint: &str,
    service_name: &str,
) -> Result<SdkTracerProvider, TelemetryError> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .map_err(|source| TelemetryError::Exporter {
            endpoint: endpoint.to_owned(),
            source,
        })?;
    let resource = Resource::builder()
        .with_service_name(service_name.to_owned())
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

fn is_transport_target(target: &str) -> bool {
    [
        "h2",
        "hyper",
        "hyper_util",
        "tonic",
        "tower",
        "opentelemetry",
    ]
    .iter()
    .any(|prefix| {
        target == *prefix
            || target
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with("::") || rest.starts_with('_'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDERS: ServiceInfo = ServiceInfo {
        name: "orders-svc",
        env_prefix: "ORDERS",
        default_port: 50054,
    };

    #[test]
    fn transport_targets_are_kept_out_of_exported_traces() {
        assert!(is_transport_target("h2"));
        assert!(is_transport_target("h2::codec"));
        assert!(is_transport_target("hyper_util::client"));
        assert!(is_transport_target("opentelemetry_sdk"));
        assert!(is_transport_target("tonic::transport"));
        assert!(!is_transport_target("ecommerce_platform::grpc::trace"));
        assert!(!is_transport_target("orders_svc"));
        assert!(!is_transport_target("h2o"));
    }

    #[test]
    fn an_invalid_filter_is_reported_before_anything_is_installed() {
        let settings = TelemetrySettings {
            log_filter: "orders_svc=[".to_owned(),
            ..TelemetrySettings::default()
        };
        let error = init(&ORDERS, &settings).unwrap_err();
        assert!(
            matches!(error, TelemetryError::InvalidFilter { .. }),
            "{error:?}"
        );
    }

    // The only test in this binary that installs the global subscriber.
    // Multi-threaded: the OTLP exporter's channel must be able to make progress
    // while the guard's drop blocks on the flush.
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_second_init_reports_the_installed_subscriber_without_panicking() {
        let settings = TelemetrySettings {
            otlp_endpoint: Some("http://127.0.0.1:4317".to_owned()),
            ..TelemetrySettings::default()
        };
        let guard = init(&ORDERS, &settings).unwrap();
        assert!(guard.exports_traces());
        let again = init(&ORDERS, &TelemetrySettings::default()).unwrap_err();
        assert!(
            matches!(again, TelemetryError::AlreadyInitialized(_)),
            "{again:?}"
        );
        drop(guard);
    }
}
