//! gRPC adapter of `ecommerce.registry.v1.SchemaRegistryService`.

use ecommerce_proto::ecommerce::registry::v1::schema_registry_service_server::{
    SchemaRegistryService, SchemaRegistryServiceServer,
};

/// Thin adapter between the generated server trait and the domain.
#[derive(Debug, Default)]
pub struct SchemaRegistryGrpc;

impl SchemaRegistryGrpc {
    pub fn server() -> SchemaRegistryServiceServer<Self> {
        SchemaRegistryServiceServer::new(Self)
    }
}

// No RPC is overridden yet: the generated default of each answers UNIMPLEMENTED.
#[tonic::async_trait]
impl SchemaRegistryService for SchemaRegistryGrpc {}
