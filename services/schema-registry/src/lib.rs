//! schema-registry: the event schema registry (Confluent Schema Registry
//! semantics over gRPC). It stores each event payload's schema as the
//! canonical `FileDescriptorSet` of the message's file and its imports,
//! under a subject (by convention the event type string), with versions
//! counting from 1 per subject and registry-wide ids; enforces a
//! compatibility level per subject (global default BACKWARD; subjects
//! created under `SCHEMA_REGISTRY_STRICT_SUBJECT_PREFIXES`, this project's
//! own event subjects, start at WIRE_STRICT) through
//! `ecommerce-schema-compat`; and answers by id, so any consumer can decode
//! a payload dynamically. Registration is idempotent under the canonical
//! form; versions are soft-deleted; GetReferences tells which registered
//! subjects a schema imports and which schemas import it. It publishes and
//! consumes no events (no outbox, no inbox).
//!
//! - [`domain`]: the rules, without I/O (canonical form and fingerprint,
//!   idempotent registration, compatibility, paging).
//! - [`storage`]: the tables through SeaORM (migrations:
//!   `registry-migration`); registrations serialize on the subject's row.
//! - [`app`]: the use cases, each write in one retried transaction, and the
//!   settings ([`app::settings::RegistrySettings`]).
//! - [`convert`]: every proto <-> domain conversion.
//! - [`grpc`]: the tonic adapter ([`grpc::SchemaRegistryGrpc`]). Reads,
//!   RegisterSchema and CheckCompatibility are open to every caller;
//!   SetCompatibility and the deletes need `admin`.
//!
//! The binary runs it on `ecommerce-runtime` (schema `registry`, migrator
//! `registry-migration`) behind the auth layer.

pub mod app;
pub mod convert;
pub mod domain;
pub mod grpc;
pub mod storage;

use std::sync::Arc;

use ecommerce_auth::AuthLayer;
use ecommerce_kernel::{Clock, SystemClock};
use ecommerce_platform::grpc::GrpcServer;
use ecommerce_platform::settings::ServiceInfo;
use ecommerce_runtime::ServiceRuntime;
use tower::Layer as _;

use crate::app::RegistryApp;
use crate::app::settings::RegistrySettings;
use crate::grpc::SchemaRegistryGrpc;

/// Name, env prefix (`SCHEMA_REGISTRY_GRPC_ADDR`) and default port of this
/// service: its row of the one service table.
pub const SERVICE: ServiceInfo = ecommerce_platform::services::SCHEMA_REGISTRY;

/// The schema schema-registry owns unless `SCHEMA_REGISTRY_DB_SCHEMA` says otherwise.
pub const DEFAULT_SCHEMA: &str = "registry";

/// [`start_with`] on the settings from the environment and the wall clock.
pub fn start(runtime: &ServiceRuntime) -> anyhow::Result<RegistryApp> {
    start_with(
        runtime,
        RegistrySettings::from_env()?,
        Arc::new(SystemClock),
    )
}

/// The application on `runtime`'s database. The registry has no relay,
/// consumer or timer: nothing else is spawned.
pub fn start_with(
    runtime: &ServiceRuntime,
    settings: RegistrySettings,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<RegistryApp> {
    Ok(RegistryApp::new(runtime.db().clone(), settings, clock))
}

/// Adds the registry's handlers over `app`, behind the auth layer that
/// verifies bearer access tokens, to the shared server.
pub fn register(server: GrpcServer, auth: &AuthLayer, app: RegistryApp) -> GrpcServer {
    server.add_service(auth.layer(SchemaRegistryGrpc::new(app).into_server()))
}
