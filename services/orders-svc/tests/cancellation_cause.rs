//! Every path into CANCELED names its cause, machine-readably, on
//! `orders.order_canceled.v1` (`cause`) and on the order (`cancellation_cause`),
//! next to the text reason: CancelOrder by the owner or by an admin, a
//! declined payment, an expired reservation, a reservation released without
//! the order asking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use ecommerce_events::DecodedEvent;
use ecommerce_proto::ecommerce::inventory::v1 as inventory_pb;
use ecommerce_proto::ecommerce::orders::v1 as pb;
use ecommerce_proto::ecommerce::payments::v1 as payments_pb;
use uuid::Uuid;

use support::{World, snapshot};

/// A PENDING order of a new customer, its placed event consumed off the
/// tap; with the customer's token.
async fn placed_order(world: &World) -> (pb::Order, String) {
    let customer = Uuid::now_v7();
    let token = world.token(customer);
    let order = world
        .place(&token, world.signed(&snapshot(customer)), "corr-cause")
        .await
        .unwrap();
    world.event("orders.order_placed.v1").await;
    (order, token)
}

/// The next `orders.order_canceled.v1`, which must be about `order`.
async fn canceled_event(world: &World, order: &pb::Order) -> pb::OrderCanceled {
    let event = world.event("orders.order_canceled.v1").await;
    let DecodedEvent::OrdersOrderCanceledV1(canceled) = event.event else {
        panic!("{:?}", event.event)
    };
    assert_eq!(canceled.order_id, order.id);
    canceled
}

/// The event and the stored order both carry `cause`, and the text reason
/// stays what it was.
async fn assert_canceled_by(
    world: &World,
    order: &pb::Order,
    cause: pb::OrderCancellationCause,
    reason: &str,
) {
    let canceled = canceled_event(world, order).await;
    assert_eq!(canceled.cause(), cause);
    assert_eq!(canceled.reason, reason);
    let stored = world
        .wait_for_status(&order.id, pb::OrderStatus::Canceled)
        .await;
    assert_eq!(stored.cancellation_cause(), cause);
    assert_eq!(stored.cancellation_reason, reason);
}

#[tokio::test]
async fn cancel_order_names_the_customer_or_the_admin() {
    let world = World::start().await;

    let (by_customer, token) = placed_order(&world).await;
    assert_eq!(
        by_customer.cancellation_cause(),
        pb::OrderCancellationCause::Unspecified
    );
    let response = world.cancel(&token, &by_customer.id).await.unwrap();
    assert_eq!(
        response.cancellation_cause(),
        pb::OrderCancellationCause::Customer
    );
    assert_canceled_by(
        &world,
        &by_customer,
        pb::OrderCancellationCause::Customer,
        "canceled by the customer",
    )
    .await;

    let (by_admin, _token) = placed_order(&world).await;
    let response = world
        .cancel(&world.admin_token(), &by_admin.id)
        .await
        .unwrap();
    assert_eq!(
        response.cancellation_cause(),
        pb::OrderCancellationCause::Admin
    );
    assert_canceled_by(
        &world,
        &by_admin,
        pb::OrderCancellationCause::Admin,
        "canceled by an administrator",
    )
    .await;
    world.finish().await;
}

#[tokio::test]
async fn a_declined_payment_is_payment_failed() {
    let world = World::start().await;
    let (order, _token) = placed_order(&world).await;
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
    assert_canceled_by(
        &world,
        &order,
        pb::OrderCancellationCause::PaymentFailed,
        "payment failed: card declined",
    )
    .await;
    world.finish().await;
}

#[tokio::test]
async fn an_expired_reservation_is_reservation_expired() {
    let world = World::start().await;
    let (order, _token) = placed_order(&world).await;
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
            &world.inventory,
            &order,
            &inventory_pb::StockReservationExpired {
                order_id: order.id.clone(),
                ..Default::default()
            },
        )
        .await;
    assert_canceled_by(
        &world,
        &order,
        pb::OrderCancellationCause::ReservationExpired,
        "the stock reservation expired before the order was confirmed",
    )
    .await;
    world.finish().await;
}

#[tokio::test]
async fn a_released_reservation_is_reservation_released() {
    let world = World::start().await;
    let (order, _token) = placed_order(&world).await;
    world
        .publish(
            &world.inventory,
            &order,
            &inventory_pb::StockReservationReleased {
                order_id: order.id.clone(),
                reason: "released by an operator".to_owned(),
                ..Default::default()
            },
        )
        .await;
    assert_canceled_by(
        &world,
        &order,
        pb::OrderCancellationCause::ReservationReleased,
        "the stock reservation was released: released by an operator",
    )
    .await;
    world.finish().await;
}
