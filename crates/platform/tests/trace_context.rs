//! The request span continues the caller's W3C trace and records the call.
//!
//! Uses a thread-local subscriber (`set_default`) on the current-thread test
//! runtime, where the in-process server runs too, so it does not interfere
//! with tests running in parallel.

// Test helpers fail the test by panicking, like the tests themselves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::{Arc, Mutex};

use ecommerce_platform::grpc::GrpcServer;
use ecommerce_platform::settings::ServiceInfo;
use ecommerce_proto::ecommerce::orders::v1::GetOrderRequest;
use ecommerce_proto::ecommerce::orders::v1::order_service_client::OrderServiceClient;
use ecommerce_proto::ecommerce::orders::v1::order_service_server::OrderServiceServer;
use ecommerce_test_support::spawn_service;
use opentelemetry::trace::{SpanId, SpanKind, TraceId};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use tonic::Code;
use tracing_subscriber::layer::SubscriberExt as _;

use crate::support::EmptyOrders;

const ORDERS: ServiceInfo = ecommerce_platform::services::ORDERS;

#[derive(Debug, Clone, Default)]
struct CapturedSpans(Arc<Mutex<Vec<SpanData>>>);

impl SpanExporter for CapturedSpans {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.lock().unwrap().extend(batch);
        Ok(())
    }
}

#[tokio::test]
async fn the_rpc_span_continues_the_incoming_traceparent() {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let captured = CapturedSpans::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(captured.clone())
        .build();
    let subscriber =
        tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(
            opentelemetry::trace::TracerProvider::tracer(&provider, "test"),
        ));
    let _default = tracing::subscriber::set_default(subscriber);

    let server = spawn_service(&ORDERS, |server: GrpcServer| {
        server.add_service(OrderServiceServer::new(EmptyOrders::default()))
    })
    .await
    .unwrap();
    let mut request = tonic::Request::new(GetOrderRequest::default());
    request.metadata_mut().insert(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            .parse()
            .unwrap(),
    );
    let status = OrderServiceClient::new(server.channel.clone())
        .get_order(request)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
    server.shutdown().await.unwrap();

    let spans = captured.0.lock().unwrap().clone();
    let rpc = spans
        .iter()
        .find(|span| span.name == "ecommerce.orders.v1.OrderService/GetOrder")
        .unwrap_or_else(|| {
            panic!(
                "no rpc span among {:?}",
                spans.iter().map(|span| &span.name).collect::<Vec<_>>()
            )
        });
    assert_eq!(
        rpc.span_context.trace_id(),
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap()
    );
    assert_eq!(
        rpc.parent_span_id,
        SpanId::from_hex("00f067aa0ba902b7").unwrap()
    );
    assert_eq!(rpc.span_kind, SpanKind::Server);
    let attribute = |key: &str| {
        rpc.attributes
            .iter()
            .find(|attribute| attribute.key.as_str() == key)
            .map(|attribute| attribute.value.to_string())
    };
    assert_eq!(
        attribute("rpc.service").as_deref(),
        Some("ecommerce.orders.v1.OrderService")
    );
    assert_eq!(attribute("rpc.method").as_deref(), Some("GetOrder"));
    assert_eq!(attribute("rpc.grpc.status_code").as_deref(), Some("12"));
    assert!(
        matches!(rpc.status, opentelemetry::trace::Status::Error { .. }),
        "{:?}",
        rpc.status
    );
}
