//! payments-svc: payment intents, authorizations, captures and voids; publishes to `orders.events`.
//!
//! The domain RPCs are not built yet. Until they are, the gRPC surface is served
//! (health, reflection, every RPC of `ecommerce.payments.v1.PaymentService`) and each
//! RPC answers `UNIMPLEMENTED`, never a fake success.

pub mod domain;
pub mod grpc;

use ecommerce_auth::AuthLayer;
use ecommerce_platform::grpc::GrpcServer;
use ecommerce_platform::settings::ServiceInfo;
use tower::Layer as _;

/// Name, env prefix (`PAYMENTS_GRPC_ADDR`) and default port of this service.
pub const SERVICE: ServiceInfo = ServiceInfo {
    name: "payments-svc",
    env_prefix: "PAYMENTS",
    default_port: 50055,
};

/// Adds this service's gRPC endpoints, behind the auth layer that verifies
/// bearer access tokens, to the shared server.
pub fn register(server: GrpcServer, auth: &AuthLayer) -> GrpcServer {
    server.add_service(auth.layer(grpc::PaymentGrpc::server()))
}
