//! The saga consumers: inventory and payments events, published through
//! their own outboxes and relays into the real topology, move orders
//! through the state machine; orders' follow-up events carry the checkout's
//! correlation id and the causing event's id.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use ecommerce_broker::ConsumerQueue;
use ecommerce_events::DecodedEvent;
use ecommerce_proto::ecommerce::fulfillment::v1 as fulfillment_pb;
use ecommerce_proto::ecommerce::inventory::v1 as inventory_pb;
use ecommerce_proto::ecommerce::orders::v1 as pb;
use ecommerce_proto::ecommerce::payments::v1 as payments_pb;
use tonic::Code;
use uuid::Uuid;

use ecommerce_test_support::{EVENT_WAIT, QUIET};
use support::{World, snapshot};

async fn placed_order(world: &World, correlation: &str) -> (pb::Order, String) {
    let customer = Uuid::now_v7();
    let token = world.token(customer);
    let order = world
        .place(&token, world.signed(&snapshot(customer)), correlation)
        .await
        .unwrap();
    world.event("orders.order_placed.v1").await;
    (order, token)
}

#[tokio::test]
async fn reserved_authorized_and_committed_confirm_the_order_once() {
    let world = World::start().await;
    let (order, token) = placed_order(&world, "corr-saga").await;

    world
        .publish(
            &world.inventory,
            &order,
            &inventory_pb::StockReserved {
                order_id: order.id.clone(),
                ..Default::default()
            },
        )
        .await;
    world
        .wait_for_status(&order.id, pb::OrderStatus::Reserved)
        .await;
    world
        .publish(
            &world.payments,
            &order,
            &payments_pb::PaymentAuthorized {
                order_id: order.id.clone(),
                ..Default::default()
            },
        )
        .await;
    world
        .wait_for_status(&order.id, pb::OrderStatus::Paid)
        .await;
    let committed_id = world
        .publish(
            &world.inventory,
            &order,
            &inventory_pb::StockCommitted {
                order_id: order.id.clone(),
                ..Default::default()
            },
        )
        .await;

    let event = world.event("orders.order_confirmed.v1").await;
    assert_eq!(event.metadata.correlation_id.as_deref(), Some("corr-saga"));
    assert_eq!(
        event.metadata.causation_id.as_deref(),
        Some(committed_id.to_string().as_str())
    );
    assert_eq!(event.metadata.aggregate.id, order.id);
    let DecodedEvent::OrdersOrderConfirmedV1(confirmed) = &event.event else {
        panic!("{:?}", event.event)
    };
    assert_eq!(confirmed.order_id, order.id);
    assert_eq!(confirmed.user_id, order.user_id);

    let confirmed = world.get(&token, &order.id).await.unwrap();
    assert_eq!(confirmed.status(), pb::OrderStatus::Confirmed);
    let statuses: Vec<_> = confirmed
        .status_history
        .iter()
        .map(|change| change.status())
        .collect();
    assert_eq!(
        statuses,
        vec![
            pb::OrderStatus::Pending,
            pb::OrderStatus::Reserved,
            pb::OrderStatus::Paid,
            pb::OrderStatus::Confirmed,
        ]
    );

    // A late duplicate cause changes nothing and emits nothing.
    world
        .publish(
            &world.inventory,
            &order,
            &inventory_pb::StockReserved {
                order_id: order.id.clone(),
                ..Default::default()
            },
        )
        .await;
    world
        .service
        .expect_no_event("orders.order_confirmed.v1", QUIET)
        .await;
    let unchanged = world.get(&token, &order.id).await.unwrap();
    assert_eq!(unchanged, confirmed);

    // The one-statement locking read (lines and history aggregated as JSON)
    // rebuilds exactly the order the plain reads do.
    let order_id = orders_svc::domain::OrderId::parse(&order.id).unwrap();
    let db = world.service.runtime.db();
    let read = orders_svc::storage::orders::find_by_id(db, order_id)
        .await
        .unwrap()
        .unwrap();
    let transaction = sea_orm::TransactionTrait::begin(db).await.unwrap();
    let locked = orders_svc::storage::orders::lock_by_id(&transaction, order_id)
        .await
        .unwrap()
        .unwrap();
    transaction.rollback().await.unwrap();
    assert_eq!(locked, read);
    assert_eq!(locked.history.len(), 4);
    assert!(!locked.lines.is_empty());
    world.finish().await;
}

#[tokio::test]
async fn a_commit_arriving_first_confirms_and_infers_the_skipped_statuses() {
    let world = World::start().await;
    let (order, token) = placed_order(&world, "corr-early").await;
    world
        .publish(
            &world.inventory,
            &order,
            &inventory_pb::StockCommitted {
                order_id: order.id.clone(),
                ..Default::default()
            },
        )
        .await;
    let event = world.event("orders.order_confirmed.v1").await;
    assert_eq!(event.metadata.correlation_id.as_deref(), Some("corr-early"));
    let confirmed = world.get(&token, &order.id).await.unwrap();
    assert_eq!(confirmed.status(), pb::OrderStatus::Confirmed);
    assert_eq!(confirmed.status_history.len(), 4);
    // The event's type names the cause of every skipped status.
    for skipped in &confirmed.status_history[1..3] {
        assert_eq!(skipped.reason, "inferred from inventory.stock.committed.v1");
    }
    world.finish().await;
}

#[tokio::test]
async fn a_reservation_failure_rejects_with_the_short_lines_and_a_contradiction_is_dead_lettered() {
    let world = World::start().await;
    let (order, token) = placed_order(&world, "corr-reject").await;
    let failed_id = world
        .publish(
            &world.inventory,
            &order,
            &inventory_pb::StockReservationFailed {
                order_id: order.id.clone(),
                reason: inventory_pb::ReservationFailureReason::InsufficientStock as i32,
                short_lines: vec![inventory_pb::ShortLine {
                    sku: "SHOE-42".to_owned(),
                    requested: 2,
                    available: 1,
                }],
            },
        )
        .await;
    let event = world.event("orders.order_rejected.v1").await;
    assert_eq!(
        event.metadata.correlation_id.as_deref(),
        Some("corr-reject")
    );
    assert_eq!(
        event.metadata.causation_id.as_deref(),
        Some(failed_id.to_string().as_str())
    );
    let DecodedEvent::OrdersOrderRejectedV1(rejected) = &event.event else {
        panic!("{:?}", event.event)
    };
    assert_eq!(rejected.reason(), pb::OrderRejectionReason::OutOfStock);
    assert_eq!(
        rejected.short_lines,
        vec![pb::ShortLine {
            sku: "SHOE-42".to_owned(),
            requested: 2,
            available: 1,
        }]
    );
    let stored = world.get(&token, &order.id).await.unwrap();
    assert_eq!(stored.status(), pb::OrderStatus::Rejected);
    assert_eq!(
        stored.rejection_reason(),
        pb::OrderRejectionReason::OutOfStock
    );

    // A rejected order cannot be canceled.
    let error = world.cancel(&token, &order.id).await.unwrap_err();
    assert_eq!(error.code(), Code::FailedPrecondition);

    // A reservation for a rejected order contradicts its history: it goes
    // to the dead-letter queue, and the order stays as it was.
    world
        .publish(
            &world.inventory,
            &order,
            &inventory_pb::StockReserved {
                order_id: order.id.clone(),
                ..Default::default()
            },
        )
        .await;
    let dead_letters = world
        .service
        .runtime
        .names()
        .dead_letter_queue(ConsumerQueue::OrdersInventoryEvents);
    let admin = &world.service.broker.admin;
    assert_eq!(
        admin
            .wait_for_message_count(&dead_letters, 1, EVENT_WAIT)
            .await,
        1
    );
    assert_eq!(world.get(&token, &order.id).await.unwrap(), stored);

    // So is an event about an order this service never stored.
    let unknown = pb::Order {
        id: Uuid::now_v7().to_string(),
        correlation_id: "corr-unknown".to_owned(),
        ..Default::default()
    };
    world
        .publish(
            &world.inventory,
            &unknown,
            &inventory_pb::StockCommitted {
                order_id: unknown.id.clone(),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(
        admin
            .wait_for_message_count(&dead_letters, 2, EVENT_WAIT)
            .await,
        2
    );
    world.finish().await;
}

#[tokio::test]
async fn a_declined_payment_cancels_and_emits_order_canceled() {
    let world = World::start().await;
    let (order, _token) = placed_order(&world, "corr-declined").await;
    world
        .publish(
            &world.payments,
            &order,
            &payments_pb::PaymentFailed {
                order_id: order.id.clone(),
                reason: "card declined".to_owned(),
                ..Default::default()
            },
        )
        .await;
    let event = world.event("orders.order_canceled.v1").await;
    assert_eq!(
        event.metadata.correlation_id.as_deref(),
        Some("corr-declined")
    );
    let DecodedEvent::OrdersOrderCanceledV1(canceled) = &event.event else {
        panic!("{:?}", event.event)
    };
    assert_eq!(canceled.reason, "payment failed: card declined");
    let stored = world
        .wait_for_status(&order.id, pb::OrderStatus::Canceled)
        .await;
    assert_eq!(stored.cancellation_reason, "payment failed: card declined");
    world.finish().await;
}

#[tokio::test]
async fn shipment_events_ship_and_deliver_and_a_shipped_order_cannot_be_canceled() {
    let world = World::start().await;
    let (order, token) = placed_order(&world, "corr-ship").await;
    world
        .publish(
            &world.inventory,
            &order,
            &inventory_pb::StockCommitted {
                order_id: order.id.clone(),
                ..Default::default()
            },
        )
        .await;
    world.event("orders.order_confirmed.v1").await;
    world
        .publish(
            &world.fulfillment,
            &order,
            &fulfillment_pb::ShipmentShipped {
                order_id: order.id.clone(),
                carrier: "DHL".to_owned(),
                tracking_number: "TRACK-1".to_owned(),
                ..Default::default()
            },
        )
        .await;
    let shipped = world
        .wait_for_status(&order.id, pb::OrderStatus::Shipped)
        .await;
    let last = shipped.status_history.last().unwrap();
    assert_eq!(last.reason, "shipped with DHL, tracking number TRACK-1");

    let error = world.cancel(&token, &order.id).await.unwrap_err();
    assert_eq!(error.code(), Code::FailedPrecondition);

    world
        .publish(
            &world.fulfillment,
            &order,
            &fulfillment_pb::ShipmentDelivered {
                order_id: order.id.clone(),
                ..Default::default()
            },
        )
        .await;
    let delivered = world
        .wait_for_status(&order.id, pb::OrderStatus::Delivered)
        .await;
    assert_eq!(delivered.status_history.len(), 6);
    // Reaching SHIPPED and DELIVERED emits nothing more.
    world
        .service
        .expect_no_event("orders.order_confirmed.v1", QUIET)
        .await;
    world.finish().await;
}
