//! The one gRPC server builder every service uses.
//!
//! Whatever a service registers, the server also serves gRPC reflection (v1
//! for `buf curl`, v1alpha for grpcurl 1.8) and `grpc.health.v1.Health`,
//! traces every call ([`GrpcTraceLayer`]), applies the configured message size
//! limits to every service ([`WithMessageLimits`]) and shuts down gracefully.
//! It serves TLS when the settings carry [`ServerTlsSettings`]
//! (`GRPC_TLS_CERT` / `GRPC_TLS_KEY`), plaintext otherwise.
//!
//! Outbound channels come from [`client::lazy_channel`].

pub mod client;
mod correlation;
mod error;
mod limits;
mod trace;

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;

use tokio::net::TcpListener;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::service::RoutesBuilder;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;
use tonic_health::pb::health_server::HealthServer;
use tonic_health::server::{HealthReporter, HealthService};
use tower::Service;

pub use self::client::{ChannelError, ChannelTimeouts, lazy_channel, traced_request};
pub use self::correlation::{CORRELATION_ID_KEYS, MAX_CORRELATION_ID_LEN, correlation_id};
pub use self::error::{ErrorCode, INTERNAL_MESSAGE, ServiceError, status_of};
pub use self::limits::WithMessageLimits;
pub use self::trace::{GrpcTrace, GrpcTraceLayer, TracedBody};
use crate::settings::{GrpcSettings, ServiceInfo};
#[cfg(doc)]
use crate::tls::ServerTlsSettings;

/// Why the gRPC server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum GrpcServerError {
    #[error("could not bind the gRPC address {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("service {service} was added twice")]
    DuplicateService { service: &'static str },
    #[error("could not build the gRPC reflection service")]
    Reflection(#[source] tonic_reflection::server::Error),
    #[error("the gRPC server failed")]
    Transport(#[source] tonic::transport::Error),
}

/// Builds and runs a service's gRPC server; see the module documentation.
///
/// ```no_run
/// # use ecommerce_platform::grpc::GrpcServer;
/// # use ecommerce_platform::settings::{GrpcSettings, ServiceInfo};
/// # const SERVICE: ServiceInfo = ServiceInfo { name: "orders-svc", env_prefix: "ORDERS", default_port: 50054 };
/// # async fn example(settings: GrpcSettings) -> Result<(), Box<dyn std::error::Error>> {
/// let server = GrpcServer::new(&SERVICE, &settings); // .add_service(OrderServiceServer::new(handlers))
/// server.serve(ecommerce_platform::shutdown::shutdown_signal()).await?;
/// # Ok(()) }
/// ```
pub struct GrpcServer {
    service: ServiceInfo,
    settings: GrpcSettings,
    routes: RoutesBuilder,
    service_names: Vec<&'static str>,
    duplicate: Option<&'static str>,
    health_reporter: HealthReporter,
}

impl std::fmt::Debug for GrpcServer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("GrpcServer")
            .field("service", &self.service.name)
            .field("settings", &self.settings)
            .field("service_names", &self.service_names)
            .finish_non_exhaustive()
    }
}

/// Name of the health service, always served.
pub const HEALTH_SERVICE: &str = <HealthServer<HealthService> as NamedService>::NAME;
/// Name of gRPC reflection v1, always served.
pub const REFLECTION_V1_SERVICE: &str = "grpc.reflection.v1.ServerReflection";
/// Name of gRPC reflection v1alpha, always served.
pub const REFLECTION_V1ALPHA_SERVICE: &str = "grpc.reflection.v1alpha.ServerReflection";

impl GrpcServer {
    pub fn new(service: &ServiceInfo, settings: &GrpcSettings) -> Self {
        Self {
            service: *service,
            settings: settings.clone(),
            routes: RoutesBuilder::default(),
            service_names: Vec::new(),
            duplicate: None,
            health_reporter: HealthReporter::new(),
        }
    }

    /// Adds a generated tonic server, with the configured message limits applied.
    pub fn add_service<S>(mut self, server: S) -> Self
    where
        S: WithMessageLimits
            + Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        if self.is_registered(S::NAME) {
            // Reported by `serve`: a builder that cannot fail keeps `register` functions simple.
            self.duplicate.get_or_insert(S::NAME);
            return self;
        }
        self.service_names.push(S::NAME);
        self.routes
            .add_service(server.with_message_limits(self.settings.message_limits));
        self
    }

    /// The health reporter behind `grpc.health.v1.Health`, for services that
    /// report a dependency going down. The server sets every added service
    /// SERVING when it starts and NOT_SERVING when shutdown begins.
    pub fn health_reporter(&self) -> HealthReporter {
        self.health_reporter.clone()
    }

    /// The fully qualified names of the services added so far.
    pub fn service_names(&self) -> &[&'static str] {
        &self.service_names
    }

    pub fn settings(&self) -> &GrpcSettings {
        &self.settings
    }

    fn is_registered(&self, name: &str) -> bool {
        self.service_names.contains(&name)
            || [
                HEALTH_SERVICE,
                REFLECTION_V1_SERVICE,
                REFLECTION_V1ALPHA_SERVICE,
            ]
            .contains(&name)
    }

    /// Binds `settings.addr` and serves until `shutdown` completes.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), GrpcServerError> {
        let addr = self.settings.addr;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| GrpcServerError::Bind { addr, source })?;
        self.serve_with_listener(listener, shutdown).await
    }

    /// Serves on an already bound listener (tests bind `127.0.0.1:0`) until
    /// `shutdown` completes, then drains in-flight calls.
    pub async fn serve_with_listener(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), GrpcServerError> {
        if let Some(service) = self.duplicate {
            return Err(GrpcServerError::DuplicateService { service });
        }
        let local_addr = listener.local_addr().unwrap_or(self.settings.addr);
        let mut routes = self.routes;
        let limits = self.settings.message_limits;
        routes.add_service(
            HealthServer::new(HealthService::from_health_reporter(
                self.health_reporter.clone(),
            ))
            .with_message_limits(limits),
        );
        routes.add_service(
            reflection_builder(&self.service_names)
                .build_v1()
                .map_err(GrpcServerError::Reflection)?
                .with_message_limits(limits),
        );
        routes.add_service(
            reflection_builder(&self.service_names)
                .build_v1alpha()
                .map_err(GrpcServerError::Reflection)?
                .with_message_limits(limits),
        );

        // The overall server ("") and every added service; the built-in ones
        // answer as long as the process does.
        let health_names: Vec<&'static str> = std::iter::once("")
            .chain(self.service_names.iter().copied())
            .collect();
        for name in &health_names {
            self.health_reporter
                .set_service_status(name, ServingStatus::Serving)
                .await;
        }

        let reporter = self.health_reporter;
        let service_name = self.service.name;
        let signal = async move {
            shutdown.await;
            tracing::info!(
                service = service_name,
                "shutting down, draining in-flight calls"
            );
            for name in &health_names {
                reporter
                    .set_service_status(name, ServingStatus::NotServing)
                    .await;
            }
        };

        let tls = self.settings.tls.as_ref();
        tracing::info!(
            service = service_name,
            addr = %local_addr,
            services = ?self.service_names,
            tls = tls.is_some(),
            mutual_tls = tls.is_some_and(|tls| tls.is_mutual()),
            "serving"
        );
        // Accepted sockets carry small request/response frames; Nagle would add latency.
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        let limits = self.settings.limits;
        let builder = match tls {
            Some(tls) => Server::builder()
                .tls_config(tls.tonic_config())
                .map_err(GrpcServerError::Transport)?,
            None => Server::builder(),
        };
        builder
            .timeout(limits.request_timeout)
            .concurrency_limit_per_connection(limits.concurrency_per_connection)
            .max_concurrent_streams(limits.max_concurrent_streams)
            .layer(GrpcTraceLayer)
            .add_routes(routes.routes())
            .serve_with_incoming_shutdown(incoming, signal)
            .await
            .map_err(GrpcServerError::Transport)?;
        tracing::info!(service = service_name, "stopped");
        Ok(())
    }
}

/// Reflection advertises the services this process serves, not every service
/// in the shared descriptor set, so `grpcurl list` shows what can be called.
fn reflection_builder(
    service_names: &[&'static str],
) -> tonic_reflection::server::Builder<'static> {
    let advertised: BTreeSet<&str> = service_names
        .iter()
        .copied()
        .chain([
            HEALTH_SERVICE,
            REFLECTION_V1_SERVICE,
            REFLECTION_V1ALPHA_SERVICE,
        ])
        .collect();
    let builder = tonic_reflection::server::Builder::configure()
        // Both reflection versions describe both, so either client can
        // describe every listed service.
        .include_reflection_service(false)
        .register_encoded_file_descriptor_set(ecommerce_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET);
    advertised
        .into_iter()
        .fold(builder, |builder, name| builder.with_service_name(name))
}
