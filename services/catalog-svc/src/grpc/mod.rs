//! gRPC adapter of `ecommerce.catalog.v1.CatalogService`.

use ecommerce_proto::ecommerce::catalog::v1::catalog_service_server::{
    CatalogService, CatalogServiceServer,
};

/// Thin adapter between the generated server trait and the domain.
#[derive(Debug, Default)]
pub struct CatalogGrpc;

impl CatalogGrpc {
    pub fn server() -> CatalogServiceServer<Self> {
        CatalogServiceServer::new(Self)
    }
}

// No RPC is overridden yet: the generated default of each answers UNIMPLEMENTED.
#[tonic::async_trait]
impl CatalogService for CatalogGrpc {}
