//! The started service answers health and reflection, and its domain RPCs
//! say UNIMPLEMENTED until they are built.

ecommerce_test_support::grpc_surface_test!(
    service: inventory_svc,
    grpc_service: "ecommerce.inventory.v1.InventoryService",
    client: ecommerce_proto::ecommerce::inventory::v1::inventory_service_client::InventoryServiceClient,
    unimplemented_rpc: get_stock(ecommerce_proto::ecommerce::inventory::v1::GetStockRequest::default()),
);
