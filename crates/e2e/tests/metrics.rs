//! Every service binary serves Prometheus metrics on its own address
//! (`<PREFIX>_METRICS_ADDR`): after one checkout, each endpoint is scraped
//! and linted by Prometheus' own parser (`promtool check metrics`), and
//! shows the families an operator relies on: gRPC calls by method and
//! code, consumers' outcomes by queue, outbox backlog and relay batches,
//! database pools.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use ecommerce_e2e::shop::OrderStatus;
use ecommerce_e2e::{Shop, Stack, StackOptions, Svc};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

async fn scrape(addr: SocketAddr) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nhost: metrics\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    body.to_owned()
}

/// `promtool check metrics`: Prometheus' parser and its naming lint.
async fn promtool_check(service: Svc, body: &str) {
    let mut child = tokio::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect(
            "promtool is installed (scripts/lib.sh: ensure_promtool, Debian's prometheus package)",
        );
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(body.as_bytes()).await.unwrap();
    drop(stdin);
    let output = child.wait_with_output().await.unwrap();
    assert!(
        output.status.success(),
        "{service:?}: promtool check metrics: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Whether `body` has a sample of `family` whose labels include all of `labels`.
fn has_sample(body: &str, family: &str, labels: &[&str]) -> bool {
    body.lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| {
            line.strip_prefix(family)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .any(|line| labels.iter().all(|label| line.contains(label)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_serves_prometheus_metrics_that_promtool_accepts() {
    let stack = Stack::start(StackOptions::default()).await.unwrap();
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
    // A health check or two refreshes the gauges.
    tokio::time::sleep(Duration::from_secs(3)).await;

    for service in Svc::ALL {
        let addr = stack
            .metrics_addr(service)
            .unwrap_or_else(|| panic!("{service:?} runs"));
        let body = scrape(addr).await;
        promtool_check(service, &body).await;
        for family in [
            "# TYPE grpc_server_handled_total counter",
            "# TYPE grpc_server_handling_seconds histogram",
            "# TYPE db_pool_connections gauge",
        ] {
            assert!(body.contains(family), "{service:?} lacks {family}");
        }
        assert!(
            has_sample(
                &body,
                "db_pool_connections",
                &["pool=\"service\"", "state=\"idle\""]
            ),
            "{service:?}"
        );
    }

    // What the checkout did, where it did it.
    let orders = scrape(stack.metrics_addr(Svc::Orders).unwrap()).await;
    assert!(has_sample(
        &orders,
        "grpc_server_handled_total",
        &["grpc_method=\"PlaceOrder\"", "grpc_code=\"Ok\""]
    ));
    assert!(has_sample(
        &orders,
        "consumer_handled_messages_total",
        &["orders.inventory-events\""]
    ));
    for family in [
        "outbox_pending_events",
        "outbox_failed_events",
        "outbox_oldest_pending_age_seconds",
        "outbox_published_events_total",
        "outbox_relay_batch_size_bucket",
    ] {
        assert!(
            has_sample(&orders, family, &["outbox=\""]),
            "orders lacks {family}"
        );
    }
    assert!(has_sample(
        &orders,
        "db_pool_connections",
        &["pool=\"relay\""]
    ));
    let cart = scrape(stack.metrics_addr(Svc::Cart).unwrap()).await;
    assert!(has_sample(
        &cart,
        "grpc_server_handled_total",
        &[
            "grpc_service=\"ecommerce.cart.v1.CartService\"",
            "grpc_method=\"Checkout\""
        ]
    ));
    stack.finish().await.unwrap();
}
