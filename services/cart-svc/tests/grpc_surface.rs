//! The started service answers health and reflection, and its domain RPCs
//! say UNIMPLEMENTED until they are built.

ecommerce_test_support::grpc_surface_test!(
    service: cart_svc,
    grpc_service: "ecommerce.cart.v1.CartService",
    client: ecommerce_proto::ecommerce::cart::v1::cart_service_client::CartServiceClient,
    unimplemented_rpc: get_cart(ecommerce_proto::ecommerce::cart::v1::GetCartRequest::default()),
);
