//! catalog-svc: products, variants (SKU), prices and their publish state;
//! publishes to `catalog.events`.
//!
//! - [`domain`]: the rules, without I/O.
//! - [`storage`]: the tables through SeaORM (migrations: `catalog-migration`).
//! - [`app`]: one method per RPC, each write in one transaction with its
//!   outbox event.
//! - [`convert`]: every proto <-> domain conversion: requests, responses
//!   and the event payloads.
//! - [`grpc`]: the tonic adapter ([`grpc::CatalogGrpc`]).
//!
//! The binary runs it on `ecommerce-runtime` (schema `catalog`, migrator
//! `catalog-migration`, the outbox relay in-process) behind the auth layer.

pub mod app;
pub mod convert;
pub mod domain;
pub mod grpc;
pub mod storage;

use ecommerce_auth::AuthLayer;
use ecommerce_broker::EventsExchange;
use ecommerce_outbox::OutboxTable;
use ecommerce_platform::grpc::GrpcServer;
use ecommerce_platform::settings::ServiceInfo;
use ecommerce_runtime::ServiceRuntime;
use tower::Layer as _;

use crate::app::CatalogApp;
use crate::grpc::CatalogGrpc;

/// Name, env prefix (`CATALOG_GRPC_ADDR`) and default port of this
/// service: its row of the one service table.
pub const SERVICE: ServiceInfo = ecommerce_platform::services::CATALOG;

/// The schema catalog-svc owns unless `CATALOG_DB_SCHEMA` says otherwise.
pub const DEFAULT_SCHEMA: &str = "catalog";

/// The application on `runtime`: its outbox (in the service's schema,
/// publishing to the catalog exchange) with the relay running.
pub fn start(runtime: &ServiceRuntime) -> anyhow::Result<CatalogApp> {
    let outbox = runtime.outbox(&OutboxTable::CATALOG, EventsExchange::Catalog)?;
    runtime.spawn_relay(&outbox);
    Ok(CatalogApp::new(runtime.db().clone(), outbox))
}

/// Adds the catalog's handlers over `app`, behind the auth layer that
/// verifies bearer access tokens, to the shared server.
pub fn register(server: GrpcServer, auth: &AuthLayer, app: CatalogApp) -> GrpcServer {
    server.add_service(auth.layer(CatalogGrpc::new(app).into_server()))
}
