//! inventory-svc: stock per SKU, reservations with a TTL and adjustments; publishes to `inventory.events`.
//!
//! The domain RPCs are not built yet. Until they are, the gRPC surface is served
//! (health, reflection, every RPC of `ecommerce.inventory.v1.InventoryService`) and each
//! RPC answers `UNIMPLEMENTED`, never a fake success.

pub mod domain;
pub mod grpc;

use ecommerce_auth::AuthLayer;
use ecommerce_platform::grpc::GrpcServer;
use ecommerce_platform::settings::ServiceInfo;
use tower::Layer as _;

/// Name, env prefix (`INVENTORY_GRPC_ADDR`) and default port of this service.
pub const SERVICE: ServiceInfo = ServiceInfo {
    name: "inventory-svc",
    env_prefix: "INVENTORY",
    default_port: 50053,
};

/// Adds this service's gRPC endpoints, behind the auth layer that verifies
/// bearer access tokens, to the shared server.
pub fn register(server: GrpcServer, auth: &AuthLayer) -> GrpcServer {
    server.add_service(auth.layer(grpc::InventoryGrpc::server()))
}
