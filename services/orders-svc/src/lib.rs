//! orders-svc: orders and their state machine; publishes to `orders.events`.
//!
//! The domain RPCs are not built yet. Until they are, the gRPC surface is served
//! (health, reflection, every RPC of `ecommerce.orders.v1.OrderService`) and each
//! RPC answers `UNIMPLEMENTED`, never a fake success.
//!
//! - [`domain`]: the order rules without I/O (the order built from a verified
//!   checkout snapshot, its state machine, who may read and cancel it),
//!   ready for the storage and gRPC layers to use.

pub mod domain;
pub mod grpc;

use ecommerce_auth::AuthLayer;
use ecommerce_platform::grpc::GrpcServer;
use ecommerce_platform::settings::ServiceInfo;
use tower::Layer as _;

/// Name, env prefix (`ORDERS_GRPC_ADDR`) and default port of this service.
pub const SERVICE: ServiceInfo = ServiceInfo {
    name: "orders-svc",
    env_prefix: "ORDERS",
    default_port: 50054,
};

/// Adds this service's gRPC endpoints, behind the auth layer that verifies
/// bearer access tokens, to the shared server.
pub fn register(server: GrpcServer, auth: &AuthLayer) -> GrpcServer {
    server.add_service(auth.layer(grpc::OrderGrpc::server()))
}
