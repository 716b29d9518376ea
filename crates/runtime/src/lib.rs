//! What every event-emitting service runs besides its gRPC handlers.
//!
//! A [`ServiceRuntime`] holds a service's database pool on its own schema
//! (migrated at start-up), its broker connection (the shared topology is
//! declared on every connect, so no event is published before the queues
//! that should receive it exist) and the relays of its outboxes, and stops
//! them in order. [`run`] is the whole `main` of a service:
//!
//! ```no_run
//! # use ecommerce_platform::{grpc::GrpcServer, ServiceInfo};
//! # use ecommerce_runtime::ServiceRuntime;
//! # struct Migrator;
//! # #[sea_orm_migration::async_trait::async_trait]
//! # impl sea_orm_migration::MigratorTrait for Migrator {
//! #     fn migrations() -> Vec<Box<dyn sea_orm_migration::MigrationTrait>> { vec![] }
//! # }
//! # const SERVICE: ServiceInfo = ServiceInfo { name: "catalog-svc", env_prefix: "CATALOG", default_port: 50051 };
//! async fn start(runtime: ServiceRuntime) -> anyhow::Result<impl FnOnce(GrpcServer) -> GrpcServer> {
//!     // let outbox = runtime.outbox(&OutboxTable::CATALOG, EventsExchange::Catalog)?;
//!     // runtime.spawn_relay(&outbox);
//!     Ok(|server: GrpcServer| server /* .add_service(...) */)
//! }
//!
//! #[tokio::main]
//! async fn main() -> anyhow::Result<()> {
//!     ecommerce_runtime::run::<Migrator, _, _, _>(&SERVICE, "catalog", start).await
//! }
//! ```
//!
//! A service registers the schemas of the events it emits with the schema
//! registry before anything of it runs (see [`schemas`]): a refused schema
//! stops the start, an unreachable registry does not.
//!
//! `<binary> migrate` only brings the schema up to date and exits, for
//! deployments that migrate before rolling out. `<binary> --roles grpc,relay`
//! (or `<PREFIX>_ROLES`) runs only some parts of the service: see [`Roles`].

pub mod health;
mod metrics;
pub mod revocations;
mod roles;
mod runtime;
pub mod schemas;
mod settings;

pub use health::{BROKER_HEALTH_SERVICE, HealthSettings, OUTBOX_HEALTH_SERVICE};
pub use roles::{Role, Roles};
pub use runtime::{ServiceRuntime, run, run_once};
pub use schemas::{REGISTRATION_HEALTH_SERVICE, SchemaRegistrySettings};
pub use settings::RuntimeSettings;
