//! The started service answers health and reflection, and its domain RPCs
//! say UNIMPLEMENTED until they are built.

ecommerce_test_support::grpc_surface_test!(
    service: iam_svc,
    grpc_service: "ecommerce.iam.v1.IamService",
    client: ecommerce_proto::ecommerce::iam::v1::iam_service_client::IamServiceClient,
    unimplemented_rpc: get_current_user(ecommerce_proto::ecommerce::iam::v1::GetCurrentUserRequest::default()),
);
