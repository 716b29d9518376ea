//! The started service answers health and reflection, and its domain RPCs
//! say UNIMPLEMENTED until they are built.

ecommerce_test_support::grpc_surface_test!(
    service: catalog_svc,
    grpc_service: "ecommerce.catalog.v1.CatalogService",
    client: ecommerce_proto::ecommerce::catalog::v1::catalog_service_client::CatalogServiceClient,
    unimplemented_rpc: get_product(ecommerce_proto::ecommerce::catalog::v1::GetProductRequest::default()),
);
