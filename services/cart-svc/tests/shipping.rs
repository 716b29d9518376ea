//! Checkout's shipping prices come from fulfillment's GetShippingOptions,
//! remembered for `SHIPPING_OPTIONS_TTL`: a stub fulfillment counts the calls.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use cart_svc::app::AppError;
use cart_svc::app::ports::ShippingPricer;
use cart_svc::upstream::GrpcShippingPricer;
use ecommerce_platform::tls::ClientTlsSettings;
use ecommerce_proto::ecommerce::common::v1::Money;
use ecommerce_proto::ecommerce::fulfillment::v1 as pb;
use ecommerce_proto::ecommerce::fulfillment::v1::fulfillment_service_server::{
    FulfillmentService, FulfillmentServiceServer,
};
use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};
use uuid::Uuid;

/// Answers GetShippingOptions with one option and counts the calls.
#[derive(Clone)]
struct Fulfillment {
    option_id: Uuid,
    calls: Arc<AtomicUsize>,
}

#[tonic::async_trait]
impl FulfillmentService for Fulfillment {
    async fn get_shipping_options(
        &self,
        _request: Request<pb::GetShippingOptionsRequest>,
    ) -> Result<Response<pb::GetShippingOptionsResponse>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(Response::new(pb::GetShippingOptionsResponse {
            shipping_options: vec![pb::ShippingOption {
                id: self.option_id.to_string(),
                name: "Standard".to_owned(),
                price: Some(Money {
                    amount_minor: 499,
                    currency: "EUR".to_owned(),
                }),
                min_delivery_days: 2,
                max_delivery_days: 4,
            }],
        }))
    }

    async fn get_shipment(
        &self,
        _request: Request<pb::GetShipmentRequest>,
    ) -> Result<Response<pb::GetShipmentResponse>, Status> {
        Err(Status::unimplemented("not in this stub"))
    }

    async fn list_shipments(
        &self,
        _request: Request<pb::ListShipmentsRequest>,
    ) -> Result<Response<pb::ListShipmentsResponse>, Status> {
        Err(Status::unimplemented("not in this stub"))
    }

    async fn mark_shipped(
        &self,
        _request: Request<pb::MarkShippedRequest>,
    ) -> Result<Response<pb::MarkShippedResponse>, Status> {
        Err(Status::unimplemented("not in this stub"))
    }

    async fn mark_delivered(
        &self,
        _request: Request<pb::MarkDeliveredRequest>,
    ) -> Result<Response<pb::MarkDeliveredResponse>, Status> {
        Err(Status::unimplemented("not in this stub"))
    }
}

#[tokio::test]
async fn shipping_options_are_fetched_once_and_again_only_for_an_unknown_option() {
    let stub = Fulfillment {
        option_id: Uuid::now_v7(),
        calls: Arc::default(),
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        Server::builder()
            .add_service(FulfillmentServiceServer::new(stub.clone()))
            .serve_with_incoming_shutdown(TcpIncoming::from(listener), async {
                let _ = stopped.await;
            }),
    );
    let pricer =
        GrpcShippingPricer::new(&format!("http://{addr}"), &ClientTlsSettings::default()).unwrap();

    for _ in 0..3 {
        assert_eq!(
            pricer.shipping_price(stub.option_id, "EUR").await.unwrap(),
            499
        );
    }
    assert_eq!(stub.calls.load(Ordering::SeqCst), 1, "remembered");
    // Priced in another currency: refused from what is remembered.
    let other_currency = pricer.shipping_price(stub.option_id, "USD").await;
    assert!(matches!(
        other_currency,
        Err(AppError::FailedPrecondition(_))
    ));
    assert_eq!(stub.calls.load(Ordering::SeqCst), 1);
    // An id fulfillment did not list a minute ago is asked for at once.
    let unknown = pricer.shipping_price(Uuid::now_v7(), "EUR").await;
    assert!(matches!(unknown, Err(AppError::FailedPrecondition(_))));
    assert_eq!(stub.calls.load(Ordering::SeqCst), 2);

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
