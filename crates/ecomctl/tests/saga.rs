//! `ecomctl saga` over real outbox tables: one checkout's rows spread over
//! four services' outboxes, next to another checkout's.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Outboxes, ecomctl, metadata};

#[tokio::test]
async fn saga_prints_one_correlations_events_as_a_timeline_and_in_causation_order() {
    let outboxes = Outboxes::create("ecomctl_saga").await;
    let order = format!("order-{}", uuid::Uuid::now_v7().simple());
    let correlation = format!("checkout-{}", uuid::Uuid::now_v7().simple());
    let meta = |millis, cause| metadata("order", &order, millis, &correlation, cause);

    // Written out of time order on purpose: the story sorts them.
    let placed = outboxes
        .write("ORDERS", "orders.order_placed.v1", meta(0, None))
        .await;
    let reserved = outboxes
        .write(
            "INVENTORY",
            "inventory.stock.reserved.v1",
            meta(40, Some(placed)),
        )
        .await;
    let authorized = outboxes
        .write(
            "PAYMENTS",
            "payments.payment_authorized.v1",
            meta(70, Some(reserved)),
        )
        .await;
    let committed = outboxes
        .write(
            "INVENTORY",
            "inventory.stock.committed.v1",
            meta(95, Some(authorized)),
        )
        .await;
    let shipment = outboxes
        .write(
            "FULFILLMENT",
            "fulfillment.shipment.created.v1",
            meta(120, Some(committed)),
        )
        .await;
    let confirmed = outboxes
        .write(
            "ORDERS",
            "orders.order_confirmed.v1",
            meta(110, Some(committed)),
        )
        .await;
    for (prefix, id, after) in [
        ("ORDERS", placed, 3),
        ("INVENTORY", reserved, 5),
        ("PAYMENTS", authorized, 2),
        ("INVENTORY", committed, 4),
        ("ORDERS", confirmed, 6),
    ] {
        outboxes.mark_published(prefix, id, after).await;
    }
    outboxes.mark_failed("FULFILLMENT", shipment, 20).await;
    // Another checkout, which must not show.
    let other = outboxes
        .write(
            "ORDERS",
            "orders.order_placed.v1",
            metadata("order", "order-other", 5, "checkout-other", None),
        )
        .await;
    outboxes.mark_published("ORDERS", other, 1).await;
    outboxes
        .write(
            "CATALOG",
            "catalog.product.created.v1",
            metadata("product", "p-1", 1, "setup", None),
        )
        .await;

    let pad = format!(
        "{:<width$}",
        "AGGREGATE",
        width = "order:".len() + order.len()
    );
    let expected_body = format!(
        "\
6 events from 4 services, 2026-03-01T10:00:00.000Z to 2026-03-01T10:00:00.120Z (120ms); 1 FAILED (ecomctl outbox retry --failed)

TIMELINE
   OFFSET  STEP  SERVICE          EVENT                            {pad}  PUBLISHED
  +0.000s     -  orders-svc       orders.order_placed.v1           order:{order}  after 3ms
  +0.040s  40ms  inventory-svc    inventory.stock.reserved.v1      order:{order}  after 5ms
  +0.070s  30ms  payments-svc     payments.payment_authorized.v1   order:{order}  after 2ms
  +0.095s  25ms  inventory-svc    inventory.stock.committed.v1     order:{order}  after 4ms
  +0.110s  15ms  orders-svc       orders.order_confirmed.v1        order:{order}  after 6ms
  +0.120s  25ms  fulfillment-svc  fulfillment.shipment.created.v1  order:{order}  FAILED after 20 attempts: the broker returned the message as unroutable: 312 NO_ROUTE

CAUSATION
orders.order_placed.v1  orders-svc  +0.000s
└─ inventory.stock.reserved.v1  inventory-svc  +0.040s  (40ms after orders.order_placed.v1)
   └─ payments.payment_authorized.v1  payments-svc  +0.070s  (30ms after inventory.stock.reserved.v1)
      └─ inventory.stock.committed.v1  inventory-svc  +0.095s  (25ms after payments.payment_authorized.v1)
         ├─ orders.order_confirmed.v1  orders-svc  +0.110s  (15ms after inventory.stock.committed.v1)
         └─ fulfillment.shipment.created.v1  fulfillment-svc  +0.120s  (25ms after inventory.stock.committed.v1)  [FAILED]
",
    );

    let by_correlation = ecomctl(&["saga", "--correlation", &correlation], &outboxes.env())
        .await
        .ok();
    assert_eq!(
        by_correlation.stdout,
        format!("correlation {correlation}\n{expected_body}")
    );

    let by_order = ecomctl(&["saga", &order], &outboxes.env()).await.ok();
    assert_eq!(
        by_order.stdout,
        format!("order {order}: correlation {correlation}\n{expected_body}")
    );

    let json = ecomctl(&["saga", &order, "--json"], &outboxes.env())
        .await
        .ok();
    let value: serde_json::Value = serde_json::from_str(json.stdout.trim()).unwrap();
    let in_causation_order: Vec<(&str, u64)> = value["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| {
            (
                event["type"].as_str().unwrap(),
                event["depth"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        in_causation_order,
        [
            ("orders.order_placed.v1", 0),
            ("inventory.stock.reserved.v1", 1),
            ("payments.payment_authorized.v1", 2),
            ("inventory.stock.committed.v1", 3),
            ("orders.order_confirmed.v1", 4),
            ("fulfillment.shipment.created.v1", 4),
        ]
    );
    assert_eq!(value["events"][5]["status"], "failed");
    assert_eq!(value["events"][1]["id"], reserved.to_string());

    let unknown = ecomctl(&["saga", "order-nobody-placed"], &outboxes.env())
        .await
        .error();
    assert!(
        unknown.starts_with("error: no event about order order-nobody-placed in the outboxes of "),
        "{unknown}"
    );
    outboxes.drop().await;
}
