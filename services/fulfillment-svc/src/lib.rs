//! fulfillment-svc: shipping options and shipments; publishes to
//! `fulfillment.events`.
//!
//! - [`domain`]: the rules, without I/O (the shipment state machine
//!   PENDING -> SHIPPED -> DELIVERED, or PENDING -> CANCELED).
//! - [`storage`]: the tables through SeaORM (migrations:
//!   `fulfillment-migration`, which seeds the shipping options).
//! - [`app`]: the use cases, each in one transaction with its outbox event.
//! - [`events`]: the inbox consumers of `fulfillment.inventory-events` (a
//!   committed reservation opens a shipment) and `fulfillment.order-events`
//!   (an order's shipping option; a cancel cancels its shipment).
//! - [`grpc`]: the tonic adapter ([`grpc::FulfillmentGrpc`]).
//! - [`convert`]: every proto <-> domain conversion, for `grpc` and
//!   `events` alike (requests, responses, the consumed and emitted events).
//!
//! `grpc` and `events` call `app`, which calls `domain` and `storage`; no
//! proto type reaches `app` or `domain`.
//!
//! The binary runs it on `ecommerce-runtime` (schema `fulfillment`,
//! migrator `fulfillment-migration`, the relay and the consumer in-process)
//! behind the auth layer.

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

use crate::app::FulfillmentApp;
use crate::events::consumers::{InventoryEventsHandler, OrderEventsHandler};
use crate::grpc::FulfillmentGrpc;

/// Name, env prefix (`FULFILLMENT_GRPC_ADDR`) and default port of this
/// service: its row of the one service table.
pub const SERVICE: ServiceInfo = ecommerce_platform::services::FULFILLMENT;

/// The schema fulfillment-svc owns unless `FULFILLMENT_DB_SCHEMA` says otherwise.
pub const DEFAULT_SCHEMA: &str = "fulfillment";

/// [`start_with`] on the wall clock.
pub fn start(runtime: &ServiceRuntime) -> anyhow::Result<FulfillmentApp> {
    start_with(runtime, Arc::new(SystemClock))
}

/// The application on `runtime`: its outbox with the relay running, the
/// consumer of `fulfillment.inventory-events` (writing `shipment.created`
/// through that outbox) and the consumer of `fulfillment.order-events`
/// (noting each order's shipping option, writing `shipment.canceled`), all
/// stopped by the runtime's shutdown.
/// Fulfillment has no settings of its own; only the clock is chosen.
pub fn start_with(
    runtime: &ServiceRuntime,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<FulfillmentApp> {
    let outbox = runtime.outbox(&OutboxTable::FULFILLMENT, EventsExchange::Fulfillment)?;
    runtime.spawn_relay(&outbox);
    let app = FulfillmentApp::new(runtime.db().clone(), outbox.clone(), clock);
    runtime.spawn_consumer(
        ConsumerQueue::FulfillmentInventoryEvents,
        InventoryEventsHandler::new(app.clone()),
        Some(&outbox),
    )?;
    runtime.spawn_consumer(
        ConsumerQueue::FulfillmentOrderEvents,
        OrderEventsHandler::new(app.clone()),
        Some(&outbox),
    )?;
    Ok(app)
}

/// Adds fulfillment's handlers over `app`, behind the auth layer that
/// verifies bearer access tokens, to the shared server.
pub fn register(server: GrpcServer, auth: &AuthLayer, app: FulfillmentApp) -> GrpcServer {
    server.add_service(auth.layer(FulfillmentGrpc::new(app).into_server()))
}
