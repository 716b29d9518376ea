//! gRPC adapter of `ecommerce.cart.v1.CartService`.

use ecommerce_proto::ecommerce::cart::v1::cart_service_server::{CartService, CartServiceServer};

/// Thin adapter between the generated server trait and the domain.
#[derive(Debug, Default)]
pub struct CartGrpc;

impl CartGrpc {
    pub fn server() -> CartServiceServer<Self> {
        CartServiceServer::new(Self)
    }
}

// No RPC is overridden yet: the generated default of each answers UNIMPLEMENTED.
#[tonic::async_trait]
impl CartService for CartGrpc {}
