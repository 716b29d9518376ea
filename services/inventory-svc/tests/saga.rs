//! inventory-svc as the binary runs it, with real Postgres and RabbitMQ
//! (see [`support`]): catalog events, the checkout saga's reservations,
//! admin adjustments and the database's own checks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use ecommerce_broker::ConsumerQueue;
use ecommerce_events::DecodedEvent;
use ecommerce_proto::ecommerce::catalog::v1::VariantDiscontinued;
use ecommerce_proto::ecommerce::inventory::v1 as pb;
use ecommerce_proto::ecommerce::orders::v1::OrderCanceled;
use ecommerce_proto::ecommerce::payments::v1::PaymentFailed;
use ecommerce_test_support::{EVENT_WAIT, QUIET, assert_standard_grpc_surface, with_bearer};
use inventory_svc::convert::{MAX_BATCH_SKUS, MAX_RESERVE_LINES};
use inventory_svc::events::consumers::OrderEventsHandler;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use uuid::Uuid;

use crate::support::{World, order_id, violated_field};

#[tokio::test]
async fn catalog_events_open_and_block_stock_and_admins_adjust_it() {
    let world = World::start(900).await;
    assert_standard_grpc_surface(
        world.service.server.as_ref().unwrap(),
        "ecommerce.inventory.v1.InventoryService",
    )
    .await;

    world.variant_created("SKU-OPEN").await;
    let opened = world.wait_for_stock("SKU-OPEN").await;
    assert_eq!(
        (opened.on_hand, opened.reserved, opened.available),
        (0, 0, 0)
    );
    assert_eq!(opened.status, pb::StockStatus::Active as i32);
    assert_eq!(opened.version, 1);

    // A customer may read but not adjust.
    let denied = world
        .client
        .clone()
        .adjust_stock(with_bearer(
            pb::AdjustStockRequest {
                sku: "SKU-OPEN".to_owned(),
                delta: 3,
                reason: "receipt".to_owned(),
                ..Default::default()
            },
            &world.auth.customer_token(),
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
    let invalid = world.adjust("SKU-OPEN", 0).await.unwrap_err();
    assert_eq!(invalid.code(), tonic::Code::InvalidArgument);

    let adjusted = world.adjust("SKU-OPEN", 7).await.unwrap();
    let level = adjusted.stock_level.unwrap();
    assert_eq!((level.on_hand, level.available, level.version), (7, 7, 2));
    let event = world
        .service
        .expect_event("inventory.stock.adjustment_applied.v1", EVENT_WAIT)
        .await;
    assert_eq!(
        event.metadata.correlation_id.as_deref(),
        Some("corr-adjust")
    );
    let DecodedEvent::InventoryStockAdjustmentAppliedV1(applied) = event.event else {
        panic!("not an adjustment");
    };
    assert_eq!(applied.adjustment_id, adjusted.adjustment_id);
    assert_eq!(
        (applied.sku.as_str(), applied.delta, applied.on_hand),
        ("SKU-OPEN", 7, 7)
    );

    let below = world.adjust("SKU-OPEN", -8).await.unwrap_err();
    assert_eq!(below.code(), tonic::Code::FailedPrecondition);
    let unknown = world.adjust("SKU-NONE", 1).await.unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);

    // Discontinued: blocked, and an order for it is refused.
    let discontinued = VariantDiscontinued {
        variant_id: Uuid::now_v7().to_string(),
        product_id: Uuid::now_v7().to_string(),
        sku: "SKU-OPEN".to_owned(),
        version: 2,
    };
    world
        .publish(
            &world.catalog,
            &discontinued,
            ("variant", "SKU-OPEN"),
            "corr-catalog",
        )
        .await;
    let deadline = tokio::time::Instant::now() + EVENT_WAIT;
    while world.get_stock("SKU-OPEN").await.status != pb::StockStatus::Blocked as i32 {
        assert!(tokio::time::Instant::now() < deadline, "never blocked");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let order = order_id();
    let placed = world
        .place_order(&order, &[("SKU-OPEN", 1)], "corr-blocked")
        .await;
    let failed = world
        .expect(
            "inventory.stock.reservation_failed.v1",
            "corr-blocked",
            placed,
        )
        .await;
    let DecodedEvent::InventoryStockReservationFailedV1(failed) = failed.event else {
        panic!("not a failure");
    };
    assert_eq!(
        failed.reason,
        pb::ReservationFailureReason::SkuBlocked as i32
    );
    world.finish().await;
}

#[tokio::test]
async fn an_order_is_reserved_then_committed_on_authorization() {
    let world = World::start(900).await;
    world.stock("SKU-A", 5).await;
    world.stock("SKU-B", 2).await;

    let order = order_id();
    let placed = world
        .place_order(
            &order,
            &[("SKU-B", 1), ("SKU-A", 2), ("SKU-A", 1)],
            "corr-happy",
        )
        .await;
    let reserved = world
        .expect("inventory.stock.reserved.v1", "corr-happy", placed)
        .await;
    let DecodedEvent::InventoryStockReservedV1(reserved) = reserved.event else {
        panic!("not a reservation");
    };
    assert_eq!(reserved.order_id, order);
    let lines: Vec<(String, i32)> = reserved
        .lines
        .iter()
        .map(|line| (line.sku.clone(), line.quantity))
        .collect();
    assert_eq!(lines, [("SKU-A".to_owned(), 3), ("SKU-B".to_owned(), 1)]);
    assert!(reserved.expires_at.is_some());
    let a = world.get_stock("SKU-A").await;
    assert_eq!((a.on_hand, a.reserved, a.available), (5, 3, 2));

    // The same order re-published (new message id) reserves nothing more.
    world
        .place_order(&order, &[("SKU-A", 3)], "corr-happy")
        .await;

    let authorized = world.authorize(&order, "corr-happy").await;
    let committed = world
        .expect("inventory.stock.committed.v1", "corr-happy", authorized)
        .await;
    let DecodedEvent::InventoryStockCommittedV1(committed) = committed.event else {
        panic!("not a commit");
    };
    assert_eq!(committed.reservation_id, reserved.reservation_id);
    let a = world.get_stock("SKU-A").await;
    assert_eq!((a.on_hand, a.reserved, a.available), (2, 0, 2));
    let b = world.get_stock("SKU-B").await;
    assert_eq!((b.on_hand, b.reserved), (1, 0));

    let reservation = world
        .client
        .clone()
        .get_reservation(with_bearer(
            pb::GetReservationRequest {
                reservation_id: reserved.reservation_id.clone(),
            },
            &world.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .reservation
        .unwrap();
    assert_eq!(reservation.status, pb::ReservationStatus::Committed as i32);
    world.assert_invariants().await;
    world.finish().await;
}

#[tokio::test]
async fn insufficient_stock_fails_with_the_short_lines_and_reserves_nothing() {
    let world = World::start(900).await;
    world.stock("SKU-A", 5).await;
    world.stock("SKU-B", 1).await;

    let order = order_id();
    let placed = world
        .place_order(
            &order,
            &[("SKU-A", 2), ("SKU-B", 3), ("SKU-UNKNOWN", 1)],
            "corr-short",
        )
        .await;
    let failed = world
        .expect(
            "inventory.stock.reservation_failed.v1",
            "corr-short",
            placed,
        )
        .await;
    let DecodedEvent::InventoryStockReservationFailedV1(failed) = failed.event else {
        panic!("not a failure");
    };
    assert_eq!(failed.order_id, order);
    assert_eq!(
        failed.reason,
        pb::ReservationFailureReason::InsufficientStock as i32
    );
    let short: Vec<(String, i32, i32)> = failed
        .short_lines
        .iter()
        .map(|line| (line.sku.clone(), line.requested, line.available))
        .collect();
    assert_eq!(
        short,
        [("SKU-B".to_owned(), 3, 1), ("SKU-UNKNOWN".to_owned(), 1, 0)]
    );
    let a = world.get_stock("SKU-A").await;
    assert_eq!((a.on_hand, a.reserved), (5, 0));
    let b = world.get_stock("SKU-B").await;
    assert_eq!((b.on_hand, b.reserved), (1, 0));
    world.assert_invariants().await;
    world.finish().await;
}

#[tokio::test]
async fn a_failed_payment_or_a_cancel_releases_the_reservation() {
    let world = World::start(900).await;
    world.stock("SKU-A", 4).await;

    let declined = order_id();
    let placed = world
        .place_order(&declined, &[("SKU-A", 3)], "corr-declined")
        .await;
    world
        .expect("inventory.stock.reserved.v1", "corr-declined", placed)
        .await;
    let failed = PaymentFailed {
        payment_id: Uuid::now_v7().to_string(),
        order_id: declined.clone(),
        reason: "card_declined".to_owned(),
        ..Default::default()
    };
    let failed_id = world
        .publish(
            &world.orders,
            &failed,
            ("payment", &declined),
            "corr-declined",
        )
        .await;
    let released = world
        .expect(
            "inventory.stock.reservation_released.v1",
            "corr-declined",
            failed_id,
        )
        .await;
    let DecodedEvent::InventoryStockReservationReleasedV1(released) = released.event else {
        panic!("not a release");
    };
    assert_eq!(released.reason, "payment_failed");
    let a = world.get_stock("SKU-A").await;
    assert_eq!((a.on_hand, a.reserved), (4, 0));

    let canceled = order_id();
    let placed = world
        .place_order(&canceled, &[("SKU-A", 4)], "corr-cancel")
        .await;
    world
        .expect("inventory.stock.reserved.v1", "corr-cancel", placed)
        .await;
    let cancel = OrderCanceled {
        order_id: canceled.clone(),
        reason: "changed my mind".to_owned(),
        ..Default::default()
    };
    let cancel_id = world
        .publish(&world.orders, &cancel, ("order", &canceled), "corr-cancel")
        .await;
    let released = world
        .expect(
            "inventory.stock.reservation_released.v1",
            "corr-cancel",
            cancel_id,
        )
        .await;
    let DecodedEvent::InventoryStockReservationReleasedV1(released) = released.event else {
        panic!("not a release");
    };
    assert_eq!(released.reason, "order_canceled");
    let a = world.get_stock("SKU-A").await;
    assert_eq!((a.on_hand, a.reserved, a.available), (4, 0, 4));
    world.assert_invariants().await;
    world.finish().await;
}

#[tokio::test]
async fn a_cancel_after_the_commit_puts_the_committed_units_back_once() {
    let world = World::start(900).await;
    world.stock("SKU-A", 5).await;
    world.stock("SKU-B", 2).await;
    let order = order_id();
    let placed = world
        .place_order(&order, &[("SKU-A", 2), ("SKU-B", 1)], "corr-restock")
        .await;
    let reserved = world
        .expect("inventory.stock.reserved.v1", "corr-restock", placed)
        .await;
    let DecodedEvent::InventoryStockReservedV1(reserved) = reserved.event else {
        panic!("not a reservation");
    };
    let authorized = world.authorize(&order, "corr-restock").await;
    world
        .expect("inventory.stock.committed.v1", "corr-restock", authorized)
        .await;
    let a = world.get_stock("SKU-A").await;
    assert_eq!((a.on_hand, a.reserved), (3, 0));

    // Canceled at CONFIRMED: the committed units are on hand again.
    let cancel = world.cancel_order(&order, "corr-restock").await;
    let restocked = world
        .expect("inventory.stock.restocked.v1", "corr-restock", cancel)
        .await;
    assert_eq!(
        restocked.metadata.aggregate.id,
        reserved.reservation_id.as_str()
    );
    let DecodedEvent::InventoryStockRestockedV1(restocked) = restocked.event else {
        panic!("not a restock");
    };
    assert_eq!(restocked.order_id, order);
    assert_eq!(restocked.reason, "order_canceled");
    let lines: Vec<(&str, i32)> = restocked
        .lines
        .iter()
        .map(|line| (line.sku.as_str(), line.quantity))
        .collect();
    assert_eq!(lines, [("SKU-A", 2), ("SKU-B", 1)]);
    let a = world.get_stock("SKU-A").await;
    assert_eq!((a.on_hand, a.reserved, a.available), (5, 0, 5));
    let b = world.get_stock("SKU-B").await;
    assert_eq!((b.on_hand, b.available), (2, 2));
    let reservation = world
        .client
        .clone()
        .get_reservation(with_bearer(
            pb::GetReservationRequest {
                reservation_id: reserved.reservation_id.clone(),
            },
            &world.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .reservation
        .unwrap();
    assert_eq!(reservation.status, pb::ReservationStatus::Restocked as i32);

    // The cancel re-published (a new message id): never a second restock;
    // nor does a late authorization commit it again.
    world.cancel_order(&order, "corr-restock").await;
    world.authorize(&order, "corr-restock").await;
    world
        .service
        .expect_no_event("inventory.stock.restocked.v1", QUIET)
        .await;
    let a = world.get_stock("SKU-A").await;
    assert_eq!((a.on_hand, a.reserved), (5, 0));
    // The ledger: adjustments minus what is still committed is on hand.
    let off_ledger = world
        .service
        .count(
            "SELECT count(*) AS n FROM stock_levels s WHERE s.on_hand <> \
               COALESCE((SELECT sum(a.delta) FROM stock_adjustments a WHERE a.sku = s.sku), 0) \
             - COALESCE((SELECT sum(l.quantity) FROM reservation_lines l \
                 JOIN reservations r ON r.id = l.reservation_id \
                 WHERE r.status = 'committed' AND l.sku = s.sku), 0)",
        )
        .await;
    assert_eq!(off_ledger, 0);
    world.assert_invariants().await;
    world.finish().await;
}

#[tokio::test]
async fn a_reservation_expires_after_its_ttl_and_a_late_authorization_does_not_commit() {
    let world = World::start(1).await;
    world.stock("SKU-A", 3).await;

    let order = order_id();
    let placed = world
        .place_order(&order, &[("SKU-A", 2)], "corr-expiry")
        .await;
    world
        .expect("inventory.stock.reserved.v1", "corr-expiry", placed)
        .await;
    let expired = world
        .service
        .expect_event("inventory.stock.reservation_expired.v1", EVENT_WAIT)
        .await;
    // The worker's event stays in the checkout's correlation.
    assert_eq!(
        expired.metadata.correlation_id.as_deref(),
        Some("corr-expiry")
    );
    let DecodedEvent::InventoryStockReservationExpiredV1(expired) = expired.event else {
        panic!("not an expiry");
    };
    assert_eq!(expired.order_id, order);
    let a = world.get_stock("SKU-A").await;
    assert_eq!((a.on_hand, a.reserved, a.available), (3, 0, 3));

    world.authorize(&order, "corr-expiry").await;
    world
        .service
        .expect_no_event("inventory.stock.committed.v1", Duration::from_secs(2))
        .await;
    let a = world.get_stock("SKU-A").await;
    assert_eq!((a.on_hand, a.reserved), (3, 0));
    let reservation = world
        .client
        .clone()
        .get_reservation(with_bearer(
            pb::GetReservationRequest {
                reservation_id: expired.reservation_id,
            },
            &world.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .reservation
        .unwrap();
    assert_eq!(reservation.status, pb::ReservationStatus::Expired as i32);
    world.assert_invariants().await;
    world.finish().await;
}

#[tokio::test]
async fn concurrent_orders_for_the_last_units_never_oversell() {
    const AVAILABLE: i32 = 5;
    const ORDERS: usize = 30;
    let world = World::start(900).await;
    world.stock("SKU-LAST", AVAILABLE).await;
    world.stock("SKU-OTHER", 100).await;

    // Three more consumers on the queue, as more instances would be, so
    // orders are handled concurrently and race for the rows.
    for _ in 0..3 {
        world
            .service
            .runtime
            .spawn_consumer(
                ConsumerQueue::InventoryOrderEvents,
                OrderEventsHandler::new(world.app.clone()),
                Some(world.app.outbox()),
            )
            .unwrap();
    }
    // Through the queue: every order in its own transaction, published at
    // once; half list the SKUs in the opposite order.
    let orders: Vec<String> = (0..ORDERS).map(|_| order_id()).collect();
    futures::future::join_all(orders.iter().enumerate().map(|(index, order)| {
        let world = &world;
        async move {
            let lines: &[(&str, i32)] = if index % 2 == 0 {
                &[("SKU-LAST", 1), ("SKU-OTHER", 1)]
            } else {
                &[("SKU-OTHER", 1), ("SKU-LAST", 1)]
            };
            world.place_order(order, lines, "corr-rush").await
        }
    }))
    .await;

    let mut reserved = BTreeSet::new();
    let mut failed = BTreeSet::new();
    while reserved.len() + failed.len() < ORDERS {
        let event = world
            .service
            .next_event(EVENT_WAIT)
            .await
            .unwrap_or_else(|| panic!("{} reserved, {} failed", reserved.len(), failed.len()));
        match event.event {
            DecodedEvent::InventoryStockReservedV1(event) => {
                assert!(reserved.insert(event.order_id));
            }
            DecodedEvent::InventoryStockReservationFailedV1(event) => {
                assert!(failed.insert(event.order_id));
            }
            _ => {}
        }
    }
    assert_eq!(reserved.len(), AVAILABLE as usize);
    assert_eq!(failed.len(), ORDERS - AVAILABLE as usize);
    let last = world.get_stock("SKU-LAST").await;
    assert_eq!(
        (last.on_hand, last.reserved, last.available),
        (AVAILABLE, AVAILABLE, 0)
    );
    let other = world.get_stock("SKU-OTHER").await;
    assert_eq!(other.reserved, AVAILABLE);
    world.assert_invariants().await;

    // Through the RPC, concurrently: nothing is left, so every one is refused.
    let mut client = world.client.clone();
    let results = futures::future::join_all((0..10).map(|_| {
        let mut client = client.clone();
        let admin = world.admin.clone();
        async move {
            client
                .reserve_stock(with_bearer(
                    pb::ReserveStockRequest {
                        order_id: order_id(),
                        lines: vec![pb::StockLine {
                            sku: "SKU-LAST".to_owned(),
                            quantity: 1,
                        }],
                        ..Default::default()
                    },
                    &admin,
                ))
                .await
        }
    }))
    .await;
    for result in results {
        assert_eq!(result.unwrap_err().code(), tonic::Code::FailedPrecondition);
    }
    // Restock three units and race twenty RPC reservations for them.
    world.adjust("SKU-LAST", 3).await.unwrap();
    let results = futures::future::join_all((0..20).map(|_| {
        let mut client = client.clone();
        let admin = world.admin.clone();
        async move {
            client
                .reserve_stock(with_bearer(
                    pb::ReserveStockRequest {
                        order_id: order_id(),
                        lines: vec![pb::StockLine {
                            sku: "SKU-LAST".to_owned(),
                            quantity: 1,
                        }],
                        ..Default::default()
                    },
                    &admin,
                ))
                .await
        }
    }))
    .await;
    let granted = results.iter().filter(|result| result.is_ok()).count();
    assert_eq!(granted, 3);
    let last = client
        .get_stock(pb::GetStockRequest {
            sku: "SKU-LAST".to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .stock_level
        .unwrap();
    assert_eq!(
        (last.on_hand, last.reserved, last.available),
        (AVAILABLE + 3, AVAILABLE + 3, 0)
    );
    world.assert_invariants().await;
    world.finish().await;
}

#[tokio::test]
async fn the_database_refuses_what_the_domain_refuses() {
    let world = World::start(900).await;
    world.stock("SKU-A", 2).await;
    let db = world.app.db();
    for statement in [
        "UPDATE stock_levels SET reserved = on_hand + 1 WHERE sku = 'SKU-A'",
        "UPDATE stock_levels SET on_hand = -1, reserved = 0 WHERE sku = 'SKU-A'",
        "UPDATE stock_levels SET reserved = -1 WHERE sku = 'SKU-A'",
        "UPDATE stock_levels SET status = 'gone' WHERE sku = 'SKU-A'",
    ] {
        let refused = db
            .execute_raw(Statement::from_string(DbBackend::Postgres, statement))
            .await;
        assert!(refused.is_err(), "{statement} was accepted");
    }
    // One reservation per order.
    let order = order_id();
    let placed = world.place_order(&order, &[("SKU-A", 1)], "corr-db").await;
    world
        .expect("inventory.stock.reserved.v1", "corr-db", placed)
        .await;
    let duplicate = db
        .execute_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "INSERT INTO reservations (id, order_id, status, expires_at, created_at, updated_at) \
                 VALUES ('{}', '{order}', 'held', now() + interval '1 minute', now(), now())",
                Uuid::now_v7()
            ),
        ))
        .await;
    assert!(
        duplicate.is_err(),
        "a second reservation of one order was accepted"
    );
    world.finish().await;
}

#[tokio::test]
async fn get_reservation_is_for_admins_only() {
    let world = World::start(900).await;
    world.stock("SKU-A", 2).await;
    let mut client = world.client.clone();
    let reservation = client
        .reserve_stock(with_bearer(
            pb::ReserveStockRequest {
                order_id: order_id(),
                lines: vec![pb::StockLine {
                    sku: "SKU-A".to_owned(),
                    quantity: 1,
                }],
                ..Default::default()
            },
            &world.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .reservation
        .unwrap();
    let request = || pb::GetReservationRequest {
        reservation_id: reservation.id.clone(),
    };

    let anonymous = client.get_reservation(request()).await.unwrap_err();
    assert_eq!(anonymous.code(), tonic::Code::Unauthenticated);
    let customer = client
        .get_reservation(with_bearer(request(), &world.auth.customer_token()))
        .await
        .unwrap_err();
    assert_eq!(customer.code(), tonic::Code::PermissionDenied);

    let read = client
        .get_reservation(with_bearer(request(), &world.admin))
        .await
        .unwrap()
        .into_inner()
        .reservation
        .unwrap();
    assert_eq!(read, reservation);
    assert_eq!(read.status, pb::ReservationStatus::Pending as i32);
    world.finish().await;
}

#[tokio::test]
async fn oversized_repeated_fields_are_invalid_arguments() {
    let world = World::start(900).await;
    world.stock("SKU-A", 2).await;
    let mut client = world.client.clone();

    let at_most: Vec<String> = std::iter::once("SKU-A".to_owned())
        .chain((1..MAX_BATCH_SKUS).map(|index| format!("SKU-UNKNOWN-{index}")))
        .collect();
    let levels = client
        .batch_get_stock(pb::BatchGetStockRequest { skus: at_most })
        .await
        .unwrap()
        .into_inner()
        .stock_levels;
    assert_eq!(levels.len(), 1);
    let oversized = client
        .batch_get_stock(pb::BatchGetStockRequest {
            skus: vec!["SKU-A".to_owned(); MAX_BATCH_SKUS + 1],
        })
        .await
        .unwrap_err();
    assert_eq!(violated_field(&oversized), "skus");

    let too_many_lines = client
        .reserve_stock(with_bearer(
            pb::ReserveStockRequest {
                order_id: order_id(),
                lines: vec![
                    pb::StockLine {
                        sku: "SKU-A".to_owned(),
                        quantity: 1,
                    };
                    MAX_RESERVE_LINES + 1
                ],
                ..Default::default()
            },
            &world.admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_field(&too_many_lines), "lines");
    let a = world.get_stock("SKU-A").await;
    assert_eq!((a.on_hand, a.reserved), (2, 0));
    world.assert_invariants().await;
    world.finish().await;
}
