//! catalog-svc: products, variants (SKU), prices and their publish state; publishes to `catalog.events`.
//!
//! The domain RPCs are not built yet. Until they are, the gRPC surface is served
//! (health, reflection, every RPC of `ecommerce.catalog.v1.CatalogService`) and each
//! RPC answers `UNIMPLEMENTED`, never a fake success.

pub mod grpc;

use ecommerce_auth::AuthLayer;
use ecommerce_platform::grpc::GrpcServer;
use ecommerce_platform::settings::ServiceInfo;
use tower::Layer as _;

/// Name, env prefix (`CATALOG_GRPC_ADDR`) and default port of this service.
pub const SERVICE: ServiceInfo = ServiceInfo {
    name: "catalog-svc",
    env_prefix: "CATALOG",
    default_port: 50051,
};

/// Adds this service's gRPC endpoints, behind the auth layer that verifies
/// bearer access tokens, to the shared server.
pub fn register(server: GrpcServer, auth: &AuthLayer) -> GrpcServer {
    server.add_service(auth.layer(grpc::CatalogGrpc::server()))
}
