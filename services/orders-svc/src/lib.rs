//! orders-svc: orders and their state machine; publishes to `orders.events`.
//!
//! - [`domain`]: the order rules without I/O (the order built from a
//!   verified checkout snapshot, its state machine, who may read and
//!   cancel it, the events it emits).
//! - [`storage`]: the tables through SeaORM (migrations: `orders-migration`).
//! - [`app`]: one method per RPC, each write in one transaction with its
//!   outbox events, and one for the saga's events on the inbox's
//!   transaction. Speaks domain types only.
//! - [`convert`]: every proto ⇄ domain conversion, requests, orders and
//!   events alike.
//! - [`grpc`]: the tonic adapter ([`grpc::OrderGrpc`]).
//! - [`events`]: the saga consumer that moves orders on inventory,
//!   payments and fulfillment events.
//!
//! `grpc` and `events` call `app` (through `convert`); `app` calls
//! `domain` and `storage`; neither adapter imports the other.
//!
//! The binary runs it on `ecommerce-runtime` (schema `orders`, migrator
//! `orders-migration`, the outbox relay and the three consumers in-process)
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
use ecommerce_checkout::SnapshotKeys;
use ecommerce_outbox::OutboxTable;
use ecommerce_platform::grpc::GrpcServer;
use ecommerce_platform::settings::ServiceInfo;
use ecommerce_runtime::ServiceRuntime;
use tower::Layer as _;

use ecommerce_kernel::{Clock, SystemClock};

use crate::app::OrdersApp;
use crate::events::SagaHandler;
use crate::grpc::OrderGrpc;

/// Name, env prefix (`ORDERS_GRPC_ADDR`) and default port of this
/// service: its row of the one service table.
pub const SERVICE: ServiceInfo = ecommerce_platform::services::ORDERS;

/// The schema orders-svc owns unless `ORDERS_DB_SCHEMA` says otherwise.
pub const DEFAULT_SCHEMA: &str = "orders";

/// The queues orders consumes, all through [`SagaHandler`].
pub const CONSUMER_QUEUES: [ConsumerQueue; 3] = [
    ConsumerQueue::OrdersInventoryEvents,
    ConsumerQueue::OrdersPaymentEvents,
    ConsumerQueue::OrdersFulfillmentEvents,
];

/// [`start_with`] on the wall clock.
pub fn start(runtime: &ServiceRuntime, keys: SnapshotKeys) -> anyhow::Result<OrdersApp> {
    start_with(runtime, keys, Arc::new(SystemClock))
}

/// The application on `runtime`: its outbox (in the service's schema,
/// publishing to the orders exchange) with the relay running, and the
/// three saga consumers over the same app, whose follow-up events go out
/// through the same outbox. `keys` verify checkout snapshots
/// (`SnapshotKeys::from_env` in the binary).
pub fn start_with(
    runtime: &ServiceRuntime,
    keys: SnapshotKeys,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<OrdersApp> {
    let outbox = runtime.outbox(&OutboxTable::ORDERS, EventsExchange::Orders)?;
    runtime.spawn_relay(&outbox);
    let app = OrdersApp::new(runtime.db().clone(), outbox.clone(), keys, clock);
    for queue in CONSUMER_QUEUES {
        runtime.spawn_consumer(queue, SagaHandler::new(app.clone()), Some(&outbox))?;
    }
    Ok(app)
}

/// Adds the orders' handlers over `app`, behind the auth layer that
/// verifies bearer access tokens, to the shared server.
pub fn register(server: GrpcServer, auth: &AuthLayer, app: OrdersApp) -> GrpcServer {
    server.add_service(auth.layer(OrderGrpc::new(app).into_server()))
}
