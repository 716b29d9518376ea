//! gRPC adapter of `ecommerce.inventory.v1.InventoryService`.

use ecommerce_proto::ecommerce::inventory::v1::inventory_service_server::{
    InventoryService, InventoryServiceServer,
};

/// Thin adapter between the generated server trait and the domain.
#[derive(Debug, Default)]
pub struct InventoryGrpc;

impl InventoryGrpc {
    pub fn server() -> InventoryServiceServer<Self> {
        InventoryServiceServer::new(Self)
    }
}

// No RPC is overridden yet: the generated default of each answers UNIMPLEMENTED.
#[tonic::async_trait]
impl InventoryService for InventoryGrpc {}
