//! inventory-svc: stock per SKU, reservations with a TTL and adjustments;
//! publishes to `inventory.events`.
//!
//! - [`domain`]: the rules, without I/O.
//! - [`storage`]: the tables through SeaORM (migrations: `inventory-migration`).
//! - [`app`]: the use cases, each in one transaction with its outbox event,
//!   and the expiry worker.
//! - [`events`]: the inbox consumers of `inventory.order-events` and
//!   `inventory.catalog-events`.
//! - [`grpc`]: the tonic adapter ([`grpc::InventoryGrpc`]).
//! - [`convert`]: every proto <-> domain conversion, for `grpc` and
//!   `events` alike (requests, responses, consumed and emitted events).
//!
//! `grpc` and `events` call `app`, which calls `domain` and `storage`; no
//! proto type reaches `app` or `domain`.
//!
//! The binary runs it on `ecommerce-runtime` (schema `inventory`, migrator
//! `inventory-migration`, the relay, both consumers and the expiry worker
//! in-process) behind the auth layer.

pub mod app;
pub mod convert;
pub mod domain;
pub mod events;
pub mod grpc;
pub mod storage;

use std::sync::Arc;

use ecommerce_auth::AuthLayer;
use ecommerce_broker::{ConsumerQueue, EventsExchange};
use ecommerce_kernel::{Clock, SystemClock};
use ecommerce_outbox::OutboxTable;
use ecommerce_platform::grpc::GrpcServer;
use ecommerce_platform::settings::ServiceInfo;
use ecommerce_runtime::ServiceRuntime;
use tower::Layer as _;

use crate::app::InventoryApp;
use crate::app::settings::InventorySettings;
use crate::events::consumers::{CatalogEventsHandler, OrderEventsHandler};
use crate::grpc::InventoryGrpc;

/// Name, env prefix (`INVENTORY_GRPC_ADDR`) and default port of this
/// service: its row of the one service table.
pub const SERVICE: ServiceInfo = ecommerce_platform::services::INVENTORY;

/// The schema inventory-svc owns unless `INVENTORY_DB_SCHEMA` says otherwise.
pub const DEFAULT_SCHEMA: &str = "inventory";

/// [`start_with`] on the settings from the environment and the wall clock.
pub fn start(runtime: &ServiceRuntime) -> anyhow::Result<InventoryApp> {
    start_with(
        runtime,
        InventorySettings::from_env()?,
        Arc::new(SystemClock),
    )
}

/// The application on `runtime`: its outbox with the relay running, both
/// consumers (writing their follow-up events through that outbox) and the
/// expiry worker, all stopped by the runtime's shutdown.
pub fn start_with(
    runtime: &ServiceRuntime,
    settings: InventorySettings,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<InventoryApp> {
    let outbox = runtime.outbox(&OutboxTable::INVENTORY, EventsExchange::Inventory)?;
    runtime.spawn_relay(&outbox);
    let app = InventoryApp::new(runtime.db().clone(), outbox.clone(), settings, clock);
    runtime.spawn_consumer(
        ConsumerQueue::InventoryOrderEvents,
        OrderEventsHandler::new(app.clone()),
        Some(&outbox),
    )?;
    runtime.spawn_consumer(
        ConsumerQueue::InventoryCatalogEvents,
        CatalogEventsHandler::new(app.clone()),
        Some(&outbox),
    )?;
    runtime.spawn_timer(
        "reservation expiry",
        app::expiry::run(app.clone(), runtime.stopping()),
    );
    Ok(app)
}

/// Adds inventory's handlers over `app`, behind the auth layer that
/// verifies bearer access tokens, to the shared server.
pub fn register(server: GrpcServer, auth: &AuthLayer, app: InventoryApp) -> GrpcServer {
    server.add_service(auth.layer(InventoryGrpc::new(app).into_server()))
}
