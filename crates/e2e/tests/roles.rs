//! `--roles`: one service's parts split over two processes. orders-svc runs
//! gRPC only (`ORDERS_ROLES=grpc`), so an order is stored but nothing is
//! published or consumed; a second orders-svc process with
//! `--roles relay,consumers,timers` then publishes it and drives the saga.

use std::time::Duration;

use ecommerce_e2e::shop::OrderStatus;
use ecommerce_e2e::{Shop, Stack, StackOptions, Svc};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grpc_only_process_and_a_relay_and_consumers_process_run_one_service_together() {
    let options = StackOptions::default().with_service_env(Svc::Orders, "ORDERS_ROLES", "grpc");
    let mut stack = Stack::start(options).await.unwrap();
    let shop = Shop::open(&stack).await.unwrap();
    let sku = shop.sellable_sku(1200, 3).await.unwrap();
    let customer = shop.customer().await.unwrap();

    let order_id = shop.buy(&customer, &sku, 1).await.unwrap();
    stack
        .tap()
        .expect_no_event("orders.order_placed.v1", Duration::from_secs(3))
        .await;
    let order = shop.order(&customer, &order_id).await.unwrap();
    assert_eq!(order.status(), OrderStatus::Pending, "no relay, no saga");

    stack
        .spawn_extra(Svc::Orders, &["--roles", "relay,consumers,timers"])
        .await
        .unwrap();
    shop.wait_for_status(
        &order_id,
        &[OrderStatus::Confirmed],
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    let stock = shop.stock(&sku).await.unwrap();
    assert_eq!((stock.on_hand, stock.reserved), (2, 0));
    stack.finish().await.unwrap();
}
