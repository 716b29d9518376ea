//! The saga consumers: orders, inventory and fulfillment events, published
//! through their own outboxes and relays into the real topology, drive the
//! payment of an order through its state machine; the `payments.*` events
//! it emits are read off RabbitMQ with the checkout's correlation id and
//! the causing event's id.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use ecommerce_broker::ConsumerQueue;
use ecommerce_events::DecodedEvent;
use ecommerce_proto::ecommerce::fulfillment::v1 as fulfillment_pb;
use ecommerce_proto::ecommerce::inventory::v1 as inventory_pb;
use ecommerce_proto::ecommerce::orders::v1 as orders_pb;
use ecommerce_proto::ecommerce::payments::v1 as pb;
use ecommerce_test_support::{EVENT_WAIT, QUIET, assert_standard_grpc_surface, with_bearer};
use tonic::Code;
use uuid::Uuid;

use support::{LIMIT_MINOR, TestOrder, World, eur};

fn reserved(order: &TestOrder) -> inventory_pb::StockReserved {
    inventory_pb::StockReserved {
        reservation_id: Uuid::now_v7().to_string(),
        order_id: order.id.clone(),
        ..Default::default()
    }
}

fn shipped(order: &TestOrder) -> fulfillment_pb::ShipmentShipped {
    fulfillment_pb::ShipmentShipped {
        shipment_id: Uuid::now_v7().to_string(),
        order_id: order.id.clone(),
        carrier: "DHL".to_owned(),
        ..Default::default()
    }
}

#[tokio::test]
async fn reserved_authorizes_and_shipped_captures_once_each() {
    let world = World::start().await;
    let order = world.place("pm_card_visa", 10_400, "corr-happy").await;

    let reserved_id = world
        .publish(&world.inventory, &order, &reserved(&order))
        .await;
    let event = world.event("payments.payment_authorized.v1").await;
    assert_eq!(event.metadata.correlation_id.as_deref(), Some("corr-happy"));
    assert_eq!(
        event.metadata.causation_id.as_deref(),
        Some(reserved_id.to_string().as_str())
    );
    let DecodedEvent::PaymentsPaymentAuthorizedV1(authorized) = &event.event else {
        panic!("{:?}", event.event)
    };
    assert_eq!(authorized.order_id, order.id);
    assert_eq!(authorized.amount, eur(10_400));
    assert_eq!(
        authorized.provider_reference,
        format!("sim_auth_{}", order.id)
    );
    assert_eq!(event.metadata.aggregate.id, authorized.payment_id);

    // The customer reads it; someone else does not learn it exists.
    let payment = world
        .get(&world.token(order.user_id), &authorized.payment_id)
        .await
        .unwrap();
    assert_eq!(payment.status(), pb::PaymentStatus::Authorized);
    assert_eq!(payment.provider_reference, authorized.provider_reference);
    assert!(payment.authorized_at.is_some());
    let error = world
        .get(&world.token(Uuid::now_v7()), &authorized.payment_id)
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::NotFound);

    // A second reservation (a new message for the same order) is ignored.
    world
        .publish(&world.inventory, &order, &reserved(&order))
        .await;
    let shipped_id = world
        .publish(&world.fulfillment, &order, &shipped(&order))
        .await;
    let event = world.event("payments.payment_captured.v1").await;
    assert_eq!(event.metadata.correlation_id.as_deref(), Some("corr-happy"));
    assert_eq!(
        event.metadata.causation_id.as_deref(),
        Some(shipped_id.to_string().as_str())
    );
    let DecodedEvent::PaymentsPaymentCapturedV1(captured) = &event.event else {
        panic!("{:?}", event.event)
    };
    assert_eq!(captured.payment_id, authorized.payment_id);
    assert_eq!(captured.amount, eur(10_400));

    // Duplicates of both causes change nothing and emit nothing.
    world
        .publish(&world.fulfillment, &order, &shipped(&order))
        .await;
    world
        .publish(&world.inventory, &order, &reserved(&order))
        .await;
    world
        .service
        .expect_no_event("payments.payment_captured.v1", QUIET)
        .await;
    let payments = world.list(&order.id).await;
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0].status(), pb::PaymentStatus::Captured);
    assert!(payments[0].captured_at.is_some());
    world.finish().await;
}

#[tokio::test]
async fn a_declined_card_fails_the_payment() {
    let world = World::start().await;
    let order = world
        .place("pm_card_declined", 10_400, "corr-declined")
        .await;
    let reserved_id = world
        .publish(&world.inventory, &order, &reserved(&order))
        .await;
    let event = world.event("payments.payment_failed.v1").await;
    assert_eq!(
        event.metadata.correlation_id.as_deref(),
        Some("corr-declined")
    );
    assert_eq!(
        event.metadata.causation_id.as_deref(),
        Some(reserved_id.to_string().as_str())
    );
    let DecodedEvent::PaymentsPaymentFailedV1(failed) = &event.event else {
        panic!("{:?}", event.event)
    };
    assert_eq!(failed.order_id, order.id);
    assert_eq!(failed.reason, "card_declined");
    let payment = world.list(&order.id).await.pop().unwrap();
    assert_eq!(payment.status(), pb::PaymentStatus::Failed);
    assert_eq!(payment.failure_reason, "card_declined");
    assert!(payment.provider_reference.is_empty());
    world.finish().await;
}

#[tokio::test]
async fn an_amount_over_the_limit_fails_the_payment() {
    let world = World::start().await;
    let order = world
        .place("pm_card_visa", LIMIT_MINOR + 1, "corr-limit")
        .await;
    world
        .publish(&world.inventory, &order, &reserved(&order))
        .await;
    let event = world.event("payments.payment_failed.v1").await;
    let DecodedEvent::PaymentsPaymentFailedV1(failed) = &event.event else {
        panic!("{:?}", event.event)
    };
    assert_eq!(failed.reason, "amount_over_limit");
    assert_eq!(failed.amount, eur(LIMIT_MINOR + 1));
    world.finish().await;
}

#[tokio::test]
async fn a_cancel_after_authorization_voids_the_payment() {
    let world = World::start().await;
    let order = world.place("pm_card_visa", 10_400, "corr-cancel").await;
    world
        .publish(&world.inventory, &order, &reserved(&order))
        .await;
    world.event("payments.payment_authorized.v1").await;
    let canceled = orders_pb::OrderCanceled {
        order_id: order.id.clone(),
        user_id: order.user_id.to_string(),
        reason: "changed my mind".to_owned(),
        ..Default::default()
    };
    let canceled_id = world.publish(&world.orders, &order, &canceled).await;
    let event = world.event("payments.payment_voided.v1").await;
    assert_eq!(
        event.metadata.correlation_id.as_deref(),
        Some("corr-cancel")
    );
    assert_eq!(
        event.metadata.causation_id.as_deref(),
        Some(canceled_id.to_string().as_str())
    );
    let DecodedEvent::PaymentsPaymentVoidedV1(voided) = &event.event else {
        panic!("{:?}", event.event)
    };
    assert_eq!(voided.reason, "order_canceled");
    // The release inventory sends after the cancel changes nothing more.
    let released = inventory_pb::StockReservationReleased {
        order_id: order.id.clone(),
        ..Default::default()
    };
    world.publish(&world.inventory, &order, &released).await;
    world
        .service
        .expect_no_event("payments.payment_voided.v1", QUIET)
        .await;
    let payment = world.list(&order.id).await.pop().unwrap();
    assert_eq!(payment.status(), pb::PaymentStatus::Voided);
    assert!(!payment.provider_reference.is_empty());
    world.finish().await;
}

#[tokio::test]
async fn an_expiry_before_authorization_voids_and_a_late_reservation_never_authorizes() {
    let world = World::start().await;
    let order = world.place("pm_card_visa", 10_400, "corr-expired").await;
    let expired = inventory_pb::StockReservationExpired {
        reservation_id: Uuid::now_v7().to_string(),
        order_id: order.id.clone(),
        ..Default::default()
    };
    let expired_id = world.publish(&world.inventory, &order, &expired).await;
    let event = world.event("payments.payment_voided.v1").await;
    assert_eq!(
        event.metadata.causation_id.as_deref(),
        Some(expired_id.to_string().as_str())
    );
    let DecodedEvent::PaymentsPaymentVoidedV1(voided) = &event.event else {
        panic!("{:?}", event.event)
    };
    assert_eq!(voided.reason, "reservation_expired");

    world
        .publish(&world.inventory, &order, &reserved(&order))
        .await;
    world
        .service
        .expect_no_event("payments.payment_authorized.v1", QUIET)
        .await;
    let payment = world.list(&order.id).await.pop().unwrap();
    assert_eq!(payment.status(), pb::PaymentStatus::Voided);
    assert!(payment.provider_reference.is_empty());
    world.finish().await;
}

#[tokio::test]
async fn an_admin_captures_an_authorized_payment_once() {
    let world = World::start().await;
    let order = world.place("pm_card_visa", 2_500, "corr-admin").await;
    let pending = world.list(&order.id).await.pop().unwrap();
    let admin = world.admin_token();

    // Not authorized yet: nothing to capture.
    let error = world.capture(&admin, &pending.id).await.unwrap_err();
    assert_eq!(error.code(), Code::FailedPrecondition);

    world
        .publish(&world.inventory, &order, &reserved(&order))
        .await;
    world.event("payments.payment_authorized.v1").await;

    let customer = world.token(order.user_id);
    let error = world.capture(&customer, &pending.id).await.unwrap_err();
    assert_eq!(error.code(), Code::PermissionDenied);

    let captured = world.capture(&admin, &pending.id).await.unwrap();
    assert_eq!(captured.status(), pb::PaymentStatus::Captured);
    let event = world.event("payments.payment_captured.v1").await;
    assert_eq!(event.metadata.correlation_id.as_deref(), Some("corr-admin"));

    // Again: unchanged, no second event; a later shipment is ignored too.
    let again = world.capture(&admin, &pending.id).await.unwrap();
    assert_eq!(again, captured);
    world
        .publish(&world.fulfillment, &order, &shipped(&order))
        .await;
    world
        .service
        .expect_no_event("payments.payment_captured.v1", QUIET)
        .await;

    let error = world
        .capture(&admin, &Uuid::now_v7().to_string())
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::NotFound);
    world.finish().await;
}

#[tokio::test]
async fn the_surface_answers_health_and_reflection_and_checks_its_callers() {
    let world = World::start().await;
    assert_standard_grpc_surface(
        world.service.server.as_ref().unwrap(),
        "ecommerce.payments.v1.PaymentService",
    )
    .await;

    let mut client = world.client.clone();
    let request = pb::GetPaymentRequest {
        payment_id: Uuid::now_v7().to_string(),
    };
    let error = client.get_payment(request).await.unwrap_err();
    assert_eq!(error.code(), Code::Unauthenticated);

    let request = pb::GetPaymentRequest {
        payment_id: "not-a-uuid".to_owned(),
    };
    let error = client
        .get_payment(with_bearer(request, &world.admin_token()))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);

    let request = pb::ListPaymentsRequest {
        order_id: Uuid::now_v7().to_string(),
        ..Default::default()
    };
    let page = client
        .list_payments(with_bearer(request, &world.token(Uuid::now_v7())))
        .await
        .unwrap()
        .into_inner();
    assert!(page.payments.is_empty());
    assert!(page.next_page_token.is_empty());
    world.finish().await;
}

#[tokio::test]
async fn a_reservation_racing_the_order_is_retried_and_one_without_an_order_is_dead_lettered() {
    let world = World::start().await;
    let order = TestOrder {
        id: Uuid::now_v7().to_string(),
        user_id: Uuid::now_v7(),
        correlation_id: "corr-race".to_owned(),
    };
    let placed = orders_pb::OrderPlaced {
        order_id: order.id.clone(),
        user_id: order.user_id.to_string(),
        total: eur(1_000),
        currency: "EUR".to_owned(),
        payment_method_token: "pm_card_visa".to_owned(),
        ..Default::default()
    };
    // The two arrive on different queues: whichever is consumed first, a
    // reservation without an intent is requeued, not lost or refused.
    world.publish(&world.orders, &order, &placed).await;
    let reserved_id = world
        .publish(&world.inventory, &order, &reserved(&order))
        .await;
    let event = world.event("payments.payment_authorized.v1").await;
    assert_eq!(
        event.metadata.causation_id.as_deref(),
        Some(reserved_id.to_string().as_str())
    );
    assert_eq!(event.metadata.correlation_id.as_deref(), Some("corr-race"));

    // A reservation whose order never comes is retried until the budget is
    // spent (four retries in these tests), then dead-lettered; nothing
    // is authorized or recorded.
    let orphan = TestOrder {
        id: Uuid::now_v7().to_string(),
        user_id: Uuid::now_v7(),
        correlation_id: "corr-orphan".to_owned(),
    };
    world
        .publish(&world.inventory, &orphan, &reserved(&orphan))
        .await;
    let dead_letters = world
        .service
        .runtime
        .names()
        .dead_letter_queue(ConsumerQueue::PaymentsInventoryEvents);
    let admin = &world.service.broker.admin;
    assert_eq!(
        admin
            .wait_for_message_count(&dead_letters, 1, EVENT_WAIT)
            .await,
        1
    );
    assert!(world.list(&orphan.id).await.is_empty());
    world.finish().await;
}

#[tokio::test]
async fn a_shipment_of_an_unauthorized_payment_is_dead_lettered() {
    let world = World::start().await;
    let order = world
        .place("pm_card_visa", 10_400, "corr-contradiction")
        .await;
    world
        .publish(&world.fulfillment, &order, &shipped(&order))
        .await;
    let dead_letters = world
        .service
        .runtime
        .names()
        .dead_letter_queue(ConsumerQueue::PaymentsFulfillmentEvents);
    let admin = &world.service.broker.admin;
    assert_eq!(
        admin
            .wait_for_message_count(&dead_letters, 1, EVENT_WAIT)
            .await,
        1
    );
    let payment = world.list(&order.id).await.pop().unwrap();
    assert_eq!(payment.status(), pb::PaymentStatus::Pending);
    world.finish().await;
}

#[tokio::test]
async fn the_table_refuses_states_the_machine_cannot_reach() {
    use sea_orm::{ConnectionTrait, Statement};

    let world = World::start().await;
    let order = world.place("pm_card_visa", 10_400, "corr-checks").await;
    let db = world.service.runtime.db();
    let refused = [
        // authorized without a provider reference
        "UPDATE payments SET status = 'authorized' WHERE order_id = $1",
        // captured without captured_at
        "UPDATE payments SET status = 'captured', provider_reference = 'r', authorized_at = now() WHERE order_id = $1",
        // failed without a reason
        "UPDATE payments SET status = 'failed' WHERE order_id = $1",
        // voided with an unknown reason
        "UPDATE payments SET status = 'voided', void_reason = 'bored', voided_at = now() WHERE order_id = $1",
        // a negative amount, a bad currency, an unknown status
        "UPDATE payments SET amount_minor = -1 WHERE order_id = $1",
        "UPDATE payments SET currency = 'eur' WHERE order_id = $1",
        "UPDATE payments SET status = 'refunded' WHERE order_id = $1",
    ];
    let order_id = Uuid::parse_str(&order.id).unwrap();
    for sql in refused {
        let error = db
            .execute_raw(Statement::from_sql_and_values(
                db.get_database_backend(),
                sql,
                [order_id.into()],
            ))
            .await
            .expect_err(sql);
        assert!(error.to_string().contains("check"), "{sql}: {error}");
    }
    // A second payment for the same order is refused too.
    let error = db
        .execute_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "INSERT INTO payments (id, order_id, user_id, amount_minor, currency, \
             payment_method_token, status, created_at, updated_at) \
             VALUES ($1, $2, $1, 1, 'EUR', 'pm_card_visa', 'pending', now(), now())",
            [Uuid::now_v7().into(), order_id.into()],
        ))
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("payments_order_id_key"),
        "{error}"
    );
    world.finish().await;
}
