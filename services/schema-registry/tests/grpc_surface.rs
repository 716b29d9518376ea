//! The started service answers health and reflection, and its domain RPCs
//! say UNIMPLEMENTED until they are built.

ecommerce_test_support::grpc_surface_test!(
    service: schema_registry,
    grpc_service: "ecommerce.registry.v1.SchemaRegistryService",
    client: ecommerce_proto::ecommerce::registry::v1::schema_registry_service_client::SchemaRegistryServiceClient,
    unimplemented_rpc: list_subjects(ecommerce_proto::ecommerce::registry::v1::ListSubjectsRequest::default()),
);
