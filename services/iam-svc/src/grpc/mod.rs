//! gRPC adapter of `ecommerce.iam.v1.IamService`.

use ecommerce_proto::ecommerce::iam::v1::iam_service_server::{IamService, IamServiceServer};

/// Thin adapter between the generated server trait and the domain.
#[derive(Debug, Default)]
pub struct IamGrpc;

impl IamGrpc {
    pub fn server() -> IamServiceServer<Self> {
        IamServiceServer::new(Self)
    }
}

// No RPC is overridden yet: the generated default of each answers UNIMPLEMENTED.
#[tonic::async_trait]
impl IamService for IamGrpc {}
