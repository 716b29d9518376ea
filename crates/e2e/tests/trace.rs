//! One checkout, one trace: the services of a stack export their spans over
//! OTLP to a collector run by the test (an in-process tonic server for the
//! OTLP trace service), and every span of the checkout, from cart-svc's
//! Checkout through orders, inventory and payments to `order_confirmed` and
//! the consumers downstream of it, shares one trace id and hangs from one
//! tree: every parent is there.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ecommerce_e2e::shop::OrderStatus;
use ecommerce_e2e::stack::free_loopback_addr;
use ecommerce_e2e::{Shop, Stack, StackOptions};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;

/// One exported span, as the test needs it.
#[derive(Clone, Debug)]
struct Exported {
    service: String,
    name: String,
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
    parent_span_id: Vec<u8>,
}

/// The collector: keeps every span it is sent.
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<Exported>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.spans.lock().unwrap();
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|resource| &resource.attributes)
                .find(|attribute| attribute.key == "service.name")
                .and_then(|attribute| attribute.value.as_ref()?.value.clone())
                .map(|value| match value {
                    Value::StringValue(name) => name,
                    other => format!("{other:?}"),
                })
                .unwrap_or_default();
            for scope_spans in resource_spans.scope_spans {
                for span in scope_spans.spans {
                    spans.push(Exported {
                        service: service.clone(),
                        name: span.name,
                        trace_id: span.trace_id,
                        span_id: span.span_id,
                        parent_span_id: span.parent_span_id,
                    });
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

impl Collector {
    fn spans(&self) -> Vec<Exported> {
        self.spans.lock().unwrap().clone()
    }
}

/// The trace of the Checkout call, once it holds spans of `services`.
fn checkout_trace(spans: &[Exported]) -> Option<Vec<Exported>> {
    let checkout = spans
        .iter()
        .find(|span| span.name == "ecommerce.cart.v1.CartService/Checkout")?;
    Some(
        spans
            .iter()
            .filter(|span| span.trace_id == checkout.trace_id)
            .cloned()
            .collect(),
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_checkout_is_one_trace_across_the_services() {
    let collector = Collector::default();
    let collector_addr = free_loopback_addr().unwrap();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .serve(collector_addr),
    );
    let stack = Stack::start(
        StackOptions::default()
            .with_env(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                format!("http://{collector_addr}"),
            )
            // The batch exporter's default is 5 s between exports.
            .with_env("OTEL_BSP_SCHEDULE_DELAY", "200"),
    )
    .await
    .unwrap();
    let shop = Shop::open(&stack).await.unwrap();
    let sku = shop.sellable_sku(1999, 5).await.unwrap();
    let customer = shop.customer().await.unwrap();
    let order_id = shop.buy(&customer, &sku, 1).await.unwrap();
    shop.wait_for_status(
        &order_id,
        &[OrderStatus::Confirmed],
        Duration::from_secs(60),
    )
    .await
    .unwrap();

    // The saga's services, each with spans in the checkout's trace.
    let expected: BTreeSet<&str> = [
        "cart-svc",
        "orders-svc",
        "inventory-svc",
        "payments-svc",
        "fulfillment-svc",
        "notifications-svc",
        "reporting-svc",
    ]
    .into_iter()
    .collect();
    let started = Instant::now();
    let trace = loop {
        let trace = checkout_trace(&collector.spans()).unwrap_or_default();
        let services: BTreeSet<&str> = trace.iter().map(|span| span.service.as_str()).collect();
        if expected.is_subset(&services) || started.elapsed() > Duration::from_secs(30) {
            break trace;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // A moment for the last batches, then the whole trace.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let trace = checkout_trace(&collector.spans()).unwrap_or(trace);
    let services: BTreeSet<&str> = trace.iter().map(|span| span.service.as_str()).collect();
    if !expected.is_subset(&services) {
        let mut all: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for span in collector.spans() {
            all.entry(span.service.clone()).or_default().insert(format!(
                "{} trace={} parent={}",
                span.name,
                hex(&span.trace_id[..4.min(span.trace_id.len())]),
                hex(&span.parent_span_id)
            ));
        }
        panic!(
            "services in the checkout's trace: {services:?}, expected at least {expected:?}; \
             every span exported: {all:#?}"
        );
    }

    // One tree: a single root (the Checkout call, which nobody called with
    // a trace), every other span's parent exported too.
    let ids: BTreeSet<&[u8]> = trace.iter().map(|span| span.span_id.as_slice()).collect();
    let roots: Vec<&Exported> = trace
        .iter()
        .filter(|span| span.parent_span_id.is_empty())
        .collect();
    assert_eq!(
        roots
            .iter()
            .map(|span| span.name.as_str())
            .collect::<Vec<_>>(),
        ["ecommerce.cart.v1.CartService/Checkout"],
        "the only root"
    );
    let orphans: Vec<String> = trace
        .iter()
        .filter(|span| !span.parent_span_id.is_empty())
        .filter(|span| !ids.contains(span.parent_span_id.as_slice()))
        .map(|span| format!("{} {}", span.service, span.name))
        .collect();
    assert!(
        orphans.is_empty(),
        "spans whose parent is missing: {orphans:?}"
    );
    // What each service did in it, for the failure message and the README.
    let mut by_service: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for span in &trace {
        by_service
            .entry(span.service.as_str())
            .or_default()
            .insert(span.name.as_str());
    }
    eprintln!(
        "the checkout's trace: {} spans: {by_service:#?}",
        trace.len()
    );
    stack.finish().await.unwrap();
    server.abort();
}
