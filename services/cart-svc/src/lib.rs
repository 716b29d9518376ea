//! cart-svc: carts, line items and signed checkout snapshots; publishes
//! nothing.
//!
//! - [`domain`]: the cart rules, without I/O.
//! - [`storage`]: the tables (migrations: `cart-migration`).
//! - [`app`]: the use cases, each write in one retried transaction, and the
//!   ports to catalog (prices), fulfillment (shipping prices) and orders
//!   (PlaceOrder), in the domain's terms.
//! - [`convert`]: every proto <-> domain conversion.
//! - [`events`]: the inbox consumer of `cart.catalog-events`.
//! - [`grpc`]: the tonic adapter ([`grpc::CartGrpc`]).
//! - [`upstream`]: the gRPC clients behind the ports; the orders one signs
//!   checkout snapshots.
//!
//! The binary runs it on `ecommerce-runtime` (schema `cart`, migrator
//! `cart-migration`, the catalog consumer in-process) behind the auth layer.

pub mod app;
pub mod convert;
pub mod domain;
pub mod events;
pub mod grpc;
pub mod storage;
pub mod upstream;

use std::sync::Arc;

use ecommerce_auth::AuthLayer;
use ecommerce_broker::ConsumerQueue;
use ecommerce_checkout::SnapshotKeys;
use ecommerce_kernel::SystemClock;
use ecommerce_platform::grpc::GrpcServer;
use ecommerce_platform::settings::ServiceInfo;
use ecommerce_platform::tls::ClientTlsSettings;
use ecommerce_runtime::ServiceRuntime;
use tower::Layer as _;

use crate::app::settings::CartSettings;
use crate::app::{CartApp, Dependencies};
use crate::events::CatalogEventsHandler;
use crate::grpc::CartGrpc;
use crate::upstream::{GrpcOrderPlacer, GrpcPriceQuoter, GrpcShippingPricer};

/// Name, env prefix (`CART_GRPC_ADDR`) and default port of this
/// service: its row of the one service table.
pub const SERVICE: ServiceInfo = ecommerce_platform::services::CART;

/// The schema cart-svc owns unless `CART_DB_SCHEMA` says otherwise.
pub const DEFAULT_SCHEMA: &str = "cart";

/// [`start_with`] on the settings from the environment, the wall clock and
/// the gRPC clients of catalog, fulfillment and orders (which signs
/// snapshots with the keys from the environment).
pub fn start(runtime: &ServiceRuntime) -> anyhow::Result<CartApp> {
    let settings = CartSettings::from_env()?;
    let keys = SnapshotKeys::from_env()?;
    runtime.refuse_development_defaults(&keys.development_defaults())?;
    // GRPC_TLS_CA and the client certificate, read (and their files checked) once.
    let tls = ClientTlsSettings::from_env()?;
    let dependencies = Dependencies {
        quoter: Arc::new(GrpcPriceQuoter::new(&settings.catalog_url, &tls)?),
        shipping: Arc::new(GrpcShippingPricer::new(&settings.fulfillment_url, &tls)?),
        placer: Arc::new(GrpcOrderPlacer::new(&settings.orders_url, &tls, keys)?),
        clock: Arc::new(SystemClock),
    };
    start_with(runtime, settings, dependencies)
}

/// The application on `runtime`, with the catalog consumer and the
/// anonymous-cart cleanup timer running (stopped by the runtime's shutdown).
pub fn start_with(
    runtime: &ServiceRuntime,
    settings: CartSettings,
    dependencies: Dependencies,
) -> anyhow::Result<CartApp> {
    let app = CartApp::new(runtime.db().clone(), settings, dependencies);
    runtime.spawn_consumer(
        ConsumerQueue::CartCatalogEvents,
        CatalogEventsHandler::new(app.clone()),
        None,
    )?;
    runtime.spawn_timer(
        "anonymous cart cleanup",
        app::cleanup::run(app.clone(), runtime.stopping()),
    );
    Ok(app)
}

/// Adds the cart's handlers over `app`, behind the auth layer that
/// verifies bearer access tokens, to the shared server.
pub fn register(server: GrpcServer, auth: &AuthLayer, app: CartApp) -> GrpcServer {
    server.add_service(auth.layer(CartGrpc::new(app).into_server()))
}
