//! The `main` of every service: settings, telemetry, the gRPC server, signals.

use std::future::Future;

use anyhow::Context as _;
use tokio::net::TcpListener;

use crate::grpc::GrpcServer;
use crate::settings::{GrpcSettings, ServiceInfo, TelemetrySettings};
use crate::{shutdown, telemetry};

/// Runs a service until SIGINT or SIGTERM: reads its settings, initialises
/// telemetry, binds `<PREFIX>_GRPC_ADDR` and serves what `register` adds.
///
/// ```no_run
/// # use ecommerce_platform::{grpc::GrpcServer, settings::ServiceInfo};
/// # const SERVICE: ServiceInfo = ServiceInfo { name: "orders-svc", env_prefix: "ORDERS", default_port: 50054 };
/// # fn register(server: GrpcServer) -> GrpcServer { server }
/// #[tokio::main]
/// async fn main() -> anyhow::Result<()> {
///     ecommerce_platform::service::run(&SERVICE, register).await
/// }
/// ```
pub async fn run(
    info: &ServiceInfo,
    register: impl FnOnce(GrpcServer) -> GrpcServer,
) -> anyhow::Result<()> {
    let telemetry_settings = TelemetrySettings::from_env().context("invalid telemetry settings")?;
    let grpc_settings = GrpcSettings::from_env(info).context("invalid gRPC settings")?;
    let telemetry_guard = telemetry::init(info, &telemetry_settings)
        .with_context(|| format!("could not initialise telemetry for {}", info.name))?;
    let addr = grpc_settings.addr;
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("could not bind the gRPC address {addr}"))?;
    let served = serve_on(
        info,
        &grpc_settings,
        listener,
        register,
        shutdown::shutdown_signal(),
    )
    .await;
    if let Err(error) = &served {
        tracing::error!(
            service = info.name,
            error = format!("{error:#}"),
            "service failed"
        );
    }
    // Flushes the spans of the shutdown itself before the process exits.
    drop(telemetry_guard);
    served
}

/// Serves a service on an already bound listener until `shutdown` completes.
/// Integration tests call this (through `ecommerce-test-support`) with a
/// `127.0.0.1:0` listener; telemetry is left to the caller.
pub async fn serve_on(
    info: &ServiceInfo,
    settings: &GrpcSettings,
    listener: TcpListener,
    register: impl FnOnce(GrpcServer) -> GrpcServer,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let server = register(GrpcServer::new(info, settings));
    server
        .serve_with_listener(listener, shutdown)
        .await
        .with_context(|| format!("{} stopped with an error", info.name))
}
