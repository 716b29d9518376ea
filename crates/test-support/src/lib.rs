//! Helpers for integration tests: start a service's real gRPC server
//! in-process on `127.0.0.1:0` and ask its health and reflection services.
//!
//! ```no_run
//! # use ecommerce_platform::{grpc::GrpcServer, settings::ServiceInfo};
//! # const SERVICE: ServiceInfo = ServiceInfo { name: "orders-svc", env_prefix: "ORDERS", default_port: 50054 };
//! # fn register(server: GrpcServer) -> GrpcServer { server }
//! # async fn example() -> anyhow::Result<()> {
//! use ecommerce_test_support::{health_check, spawn_service};
//!
//! let server = spawn_service(&SERVICE, register).await?;
//! let status = health_check(server.channel.clone(), "").await?;
//! server.shutdown().await?;
//! # Ok(()) }
//! ```

pub mod auth;
pub mod postgres;
mod proxy;
pub mod rabbitmq;
mod reflection;
mod server;
pub mod service;
mod surface;
pub mod tap;

use tonic::transport::Channel;
pub use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

pub use self::auth::{TestAuth, with_bearer};
pub use self::postgres::{TestSchema, connect_creating_database, database_url};
pub use self::proxy::TcpProxy;
pub use self::reflection::{
    reflection_file_containing_symbol_v1, reflection_file_containing_symbol_v1alpha,
    reflection_list_services_v1, reflection_list_services_v1alpha,
};
pub use self::server::{TestServer, spawn_service, spawn_service_with_settings};
pub use self::service::TestService;
pub use self::surface::assert_standard_grpc_surface;
pub use self::tap::{EventTap, assert_binds_exactly_what_it_handles, declare_tap};

/// How long a test waits for an event a service should publish (a relay
/// poll, a broker hop and a consumer's transaction, on a loaded CI box).
pub const EVENT_WAIT: std::time::Duration = std::time::Duration::from_secs(15);
/// How long a test listens to be sure an event does not come.
pub const QUIET: std::time::Duration = std::time::Duration::from_millis(1500);

/// `grpc.health.v1.Health/Check` for `service` (`""` is the whole server).
pub async fn health_check(channel: Channel, service: &str) -> Result<ServingStatus, tonic::Status> {
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await?
        .into_inner();
    serving_status(&response)
}

/// `grpc.health.v1.Health/Watch` for `service`: the current status first,
/// then every change.
pub async fn health_watch(
    channel: Channel,
    service: &str,
) -> Result<tonic::Streaming<HealthCheckResponse>, tonic::Status> {
    let response = HealthClient::new(channel)
        .watch(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await?;
    Ok(response.into_inner())
}

/// The typed status of a health answer.
pub fn serving_status(response: &HealthCheckResponse) -> Result<ServingStatus, tonic::Status> {
    ServingStatus::try_from(response.status)
        .map_err(|_| tonic::Status::internal(format!("unknown serving status {}", response.status)))
}

/// Sends the test's `tracing` output to the test harness (shown for failing
/// tests), filtered by `RUST_LOG` (default `warn`). Safe to call from every
/// test: only the first call in a process installs anything.
pub fn init_test_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // Another test (or the test itself) may have installed one already.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}
