//! gRPC adapter of `ecommerce.payments.v1.PaymentService`.

use ecommerce_proto::ecommerce::payments::v1::payment_service_server::{
    PaymentService, PaymentServiceServer,
};

/// Thin adapter between the generated server trait and the domain.
#[derive(Debug, Default)]
pub struct PaymentGrpc;

impl PaymentGrpc {
    pub fn server() -> PaymentServiceServer<Self> {
        PaymentServiceServer::new(Self)
    }
}

// No RPC is overridden yet: the generated default of each answers UNIMPLEMENTED.
#[tonic::async_trait]
impl PaymentService for PaymentGrpc {}
