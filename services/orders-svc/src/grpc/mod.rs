//! gRPC adapter of `ecommerce.orders.v1.OrderService`.

use ecommerce_proto::ecommerce::orders::v1::order_service_server::{
    OrderService, OrderServiceServer,
};

/// Thin adapter between the generated server trait and the domain.
#[derive(Debug, Default)]
pub struct OrderGrpc;

impl OrderGrpc {
    pub fn server() -> OrderServiceServer<Self> {
        OrderServiceServer::new(Self)
    }
}

// No RPC is overridden yet: the generated default of each answers UNIMPLEMENTED.
#[tonic::async_trait]
impl OrderService for OrderGrpc {}
