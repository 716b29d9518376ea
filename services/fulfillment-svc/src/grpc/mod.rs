//! gRPC adapter of `ecommerce.fulfillment.v1.FulfillmentService`.

use ecommerce_proto::ecommerce::fulfillment::v1::fulfillment_service_server::{
    FulfillmentService, FulfillmentServiceServer,
};

/// Thin adapter between the generated server trait and the domain.
#[derive(Debug, Default)]
pub struct FulfillmentGrpc;

impl FulfillmentGrpc {
    pub fn server() -> FulfillmentServiceServer<Self> {
        FulfillmentServiceServer::new(Self)
    }
}

// No RPC is overridden yet: the generated default of each answers UNIMPLEMENTED.
#[tonic::async_trait]
impl FulfillmentService for FulfillmentGrpc {}
