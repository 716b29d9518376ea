//! The started service answers health and reflection, and its domain RPCs
//! say UNIMPLEMENTED until they are built.

ecommerce_test_support::grpc_surface_test!(
    service: orders_svc,
    grpc_service: "ecommerce.orders.v1.OrderService",
    client: ecommerce_proto::ecommerce::orders::v1::order_service_client::OrderServiceClient,
    unimplemented_rpc: get_order(ecommerce_proto::ecommerce::orders::v1::GetOrderRequest::default()),
);
