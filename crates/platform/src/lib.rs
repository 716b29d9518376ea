//! The bootstrap every service uses: typed settings from the environment,
//! telemetry (logs and OpenTelemetry traces), one gRPC server builder with
//! reflection, health, request tracing, message limits and TLS behind
//! settings, the one builder of outbound channels, and graceful shutdown on
//! SIGINT / SIGTERM.
//!
//! A service's `main` is one call:
//!
//! ```no_run
//! # use ecommerce_platform::{grpc::GrpcServer, settings::ServiceInfo};
//! # const SERVICE: ServiceInfo = ServiceInfo { name: "orders-svc", env_prefix: "ORDERS", default_port: 50054 };
//! # fn register(server: GrpcServer) -> GrpcServer { server }
//! #[tokio::main]
//! async fn main() -> anyhow::Result<()> {
//!     ecommerce_platform::service::run(&SERVICE, register).await
//! }
//! ```

pub mod backoff;
mod error_chain;
pub mod grpc;
pub mod metrics;
pub mod run_mode;
pub mod service;
pub mod services;
pub mod settings;
pub mod shutdown;
pub mod telemetry;
pub mod tls;
pub mod trace_context;

pub use self::error_chain::error_chain;
pub use backoff::Backoff;
pub use grpc::{GrpcServer, WithMessageLimits};
pub use settings::{GrpcSettings, ServerLimits, ServiceInfo, SettingsError, TelemetrySettings};
pub use tls::{ClientTlsSettings, ServerTlsSettings};
