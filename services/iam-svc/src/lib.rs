//! iam-svc: users, credentials, sessions, email verification and roles; publishes to `iam.events` and `iam.security-events`.
//!
//! The domain RPCs are not built yet. Until they are, the gRPC surface is served
//! (health, reflection, every RPC of `ecommerce.iam.v1.IamService`) and each
//! RPC answers `UNIMPLEMENTED`, never a fake success.

pub mod grpc;

use ecommerce_platform::grpc::GrpcServer;
use ecommerce_platform::settings::ServiceInfo;

/// Name, env prefix (`IAM_GRPC_ADDR`) and default port of this service.
pub const SERVICE: ServiceInfo = ServiceInfo {
    name: "iam-svc",
    env_prefix: "IAM",
    default_port: 50052,
};

/// Adds this service's gRPC endpoints to the shared server.
pub fn register(server: GrpcServer) -> GrpcServer {
    server.add_service(grpc::IamGrpc::server())
}
