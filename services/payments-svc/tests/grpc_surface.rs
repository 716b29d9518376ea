//! The started service answers health and reflection, and its domain RPCs
//! say UNIMPLEMENTED until they are built.

ecommerce_test_support::grpc_surface_test!(
    service: payments_svc,
    grpc_service: "ecommerce.payments.v1.PaymentService",
    client: ecommerce_proto::ecommerce::payments::v1::payment_service_client::PaymentServiceClient,
    unimplemented_rpc: get_payment(ecommerce_proto::ecommerce::payments::v1::GetPaymentRequest::default()),
);
