//! schema-registry: event schemas, their versions and compatibility policy.
//!
//! The domain RPCs are not built yet. Until they are, the gRPC surface is served
//! (health, reflection, every RPC of `ecommerce.registry.v1.SchemaRegistryService`) and each
//! RPC answers `UNIMPLEMENTED`, never a fake success.

pub mod grpc;

use ecommerce_auth::AuthLayer;
use ecommerce_platform::grpc::GrpcServer;
use ecommerce_platform::settings::ServiceInfo;
use tower::Layer as _;

/// Name, env prefix (`SCHEMA_REGISTRY_GRPC_ADDR`) and default port of this service.
pub const SERVICE: ServiceInfo = ServiceInfo {
    name: "schema-registry",
    env_prefix: "SCHEMA_REGISTRY",
    default_port: 50058,
};

/// Adds this service's gRPC endpoints, behind the auth layer that verifies
/// bearer access tokens, to the shared server.
pub fn register(server: GrpcServer, auth: &AuthLayer) -> GrpcServer {
    server.add_service(auth.layer(grpc::SchemaRegistryGrpc::server()))
}
