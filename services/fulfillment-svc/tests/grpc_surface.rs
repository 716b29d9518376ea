//! The started service answers health and reflection, and its domain RPCs
//! say UNIMPLEMENTED until they are built.

ecommerce_test_support::grpc_surface_test!(
    service: fulfillment_svc,
    grpc_service: "ecommerce.fulfillment.v1.FulfillmentService",
    client: ecommerce_proto::ecommerce::fulfillment::v1::fulfillment_service_client::FulfillmentServiceClient,
    unimplemented_rpc: get_shipment(ecommerce_proto::ecommerce::fulfillment::v1::GetShipmentRequest::default()),
);
