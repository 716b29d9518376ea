//! PlaceOrder, GetOrder, ListOrders and CancelOrder through the generated
//! client against the service as the binary runs it (runtime, migrator,
//! relay, consumers, auth layer), with events read off RabbitMQ.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use chrono::{Duration, Utc};
use ecommerce_events::DecodedEvent;
use ecommerce_proto::ecommerce::orders::v1 as pb;
use ecommerce_test_support::{QUIET, assert_standard_grpc_surface, with_bearer};
use tonic::Code;
use uuid::Uuid;

use support::{World, call, snapshot, snapshot_at};

#[tokio::test]
async fn a_placed_order_is_pending_emits_order_placed_once_and_a_retry_returns_it() {
    let world = World::start().await;
    let server = world.service.server.as_ref().unwrap();
    assert_standard_grpc_surface(server, "ecommerce.orders.v1.OrderService").await;
    let customer = Uuid::now_v7();
    let token = world.token(customer);
    let snapshot = snapshot(customer);
    let request = world.signed(&snapshot);

    let order = world
        .place(&token, request.clone(), "corr-place")
        .await
        .unwrap();
    assert_eq!(order.status(), pb::OrderStatus::Pending);
    assert_eq!(order.user_id, customer.to_string());
    assert_eq!(order.total.as_ref().unwrap().amount_minor, 10_400);
    assert_eq!(order.subtotal.as_ref().unwrap().amount_minor, 9_900);
    assert_eq!(order.shipping_price.as_ref().unwrap().amount_minor, 500);
    assert_eq!(order.currency, "EUR");
    assert_eq!(order.correlation_id, "corr-place");
    assert_eq!(order.lines.len(), 1);
    assert_eq!(order.lines[0].sku, "SHOE-42");
    assert_eq!(order.lines[0].quantity, 2);
    assert_eq!(order.status_history.len(), 1);
    assert_eq!(order.status_history[0].status(), pb::OrderStatus::Pending);

    let event = world.event("orders.order_placed.v1").await;
    assert_eq!(event.metadata.correlation_id.as_deref(), Some("corr-place"));
    assert_eq!(event.metadata.aggregate.id, order.id);
    let DecodedEvent::OrdersOrderPlacedV1(placed) = &event.event else {
        panic!("{:?}", event.event)
    };
    assert_eq!(placed.order_id, order.id);
    assert_eq!(placed.user_id, customer.to_string());
    assert_eq!(placed.total.as_ref().unwrap().amount_minor, 10_400);
    assert_eq!(placed.currency, "EUR");
    assert_eq!(placed.payment_method_token, "pm_card_visa");
    assert_eq!(placed.shipping_option_id, snapshot.shipping_option_id);
    assert_eq!(placed.lines, order.lines);

    // The same checkout again, concurrently and once more: the same order,
    // no second event.
    let (first, second) = tokio::join!(
        world.place(&token, request.clone(), "corr-retry-1"),
        world.place(&token, request.clone(), "corr-retry-2"),
    );
    for retried in [first.unwrap(), second.unwrap()] {
        assert_eq!(retried.id, order.id);
        assert_eq!(retried.correlation_id, "corr-place");
    }
    world
        .service
        .expect_no_event("orders.order_placed.v1", QUIET)
        .await;
    assert_eq!(world.row_counts().await, [1, 1, 1, 1]);

    // Owner and admin read it; anyone else gets NOT_FOUND.
    let read = world.get(&token, &order.id).await.unwrap();
    assert_eq!(read, order);
    world.get(&world.admin_token(), &order.id).await.unwrap();
    let stranger = world.token(Uuid::now_v7());
    let error = world.get(&stranger, &order.id).await.unwrap_err();
    assert_eq!(error.code(), Code::NotFound);
    let error = world
        .get(&token, &Uuid::now_v7().to_string())
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::NotFound);
    let error = world.get(&token, "not-a-uuid").await.unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);

    // ListOrders: the owner sees it, a stranger sees nothing of it and may
    // not name the owner; an admin may.
    let mut client = world.client.clone();
    let listed = client
        .list_orders(with_bearer(pb::ListOrdersRequest::default(), &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.orders, vec![order.clone()]);
    assert_eq!(listed.next_page_token, "");
    let listed = client
        .list_orders(with_bearer(pb::ListOrdersRequest::default(), &stranger))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.orders.is_empty());
    let by_owner = pb::ListOrdersRequest {
        user_id: customer.to_string(),
        ..Default::default()
    };
    let error = client
        .list_orders(with_bearer(by_owner.clone(), &stranger))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::PermissionDenied);
    let listed = client
        .list_orders(with_bearer(by_owner, &world.admin_token()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.orders.len(), 1);

    world.finish().await;
}

#[tokio::test]
async fn refused_checkouts_write_nothing_and_say_why() {
    let world = World::start().await;
    let customer = Uuid::now_v7();
    let token = world.token(customer);

    // A byte of the signed snapshot changed.
    let mut tampered = world.signed(&snapshot(customer));
    let last = tampered.snapshot.len() - 1;
    tampered.snapshot[last] ^= 0x01;
    let error = world.place(&token, tampered, "corr-1").await.unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument, "{error:?}");

    // The total raised and the signature left as it was.
    let original = snapshot(customer);
    let mut raised = original.clone();
    raised.total = Some(ecommerce_proto::ecommerce::common::v1::Money {
        amount_minor: 1,
        currency: "EUR".to_owned(),
    });
    let mut forged = world.signed(&raised);
    forged.signature = world.signed(&original).signature;
    let error = world.place(&token, forged, "corr-2").await.unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument, "{error:?}");

    // Signed with another key.
    let other_key = ecommerce_checkout::SnapshotKey::from_bytes(&[9; 32]).unwrap();
    let other =
        ecommerce_checkout::sign(&snapshot(customer), &other_key).into_place_order_request();
    let error = world.place(&token, other, "corr-3").await.unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument, "{error:?}");

    // Expired: issued an hour ago, valid for five minutes.
    let expired = world.signed(&snapshot_at(customer, Utc::now() - Duration::hours(1)));
    let error = world.place(&token, expired, "corr-4").await.unwrap_err();
    assert_eq!(error.code(), Code::FailedPrecondition, "{error:?}");

    // Someone else's checkout.
    let stranger = world.token(Uuid::now_v7());
    let error = world
        .place(&stranger, world.signed(&snapshot(customer)), "corr-5")
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::PermissionDenied, "{error:?}");

    // No caller at all.
    let mut client = world.client.clone();
    let error = client
        .place_order(world.signed(&snapshot(customer)))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::Unauthenticated, "{error:?}");

    assert_eq!(world.row_counts().await, [0, 0, 0, 0]);
    world
        .service
        .expect_no_event("orders.order_placed.v1", QUIET)
        .await;
    world.finish().await;
}

#[tokio::test]
async fn an_admin_may_place_a_customers_order_and_an_expired_retry_still_finds_it() {
    let world = World::start().await;
    let customer = Uuid::now_v7();
    // Issued 4m59s ago: still valid now, expired in a moment.
    let snapshot = snapshot_at(customer, Utc::now() - Duration::seconds(299));
    let request = world.signed(&snapshot);
    let order = world
        .place(&world.admin_token(), request.clone(), "corr-admin")
        .await
        .unwrap();
    assert_eq!(order.user_id, customer.to_string());
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let retried = world
        .place(&world.token(customer), request.clone(), "corr-late")
        .await
        .unwrap();
    assert_eq!(retried.id, order.id);
    // A stranger replaying it learns nothing.
    let error = world
        .place(&world.token(Uuid::now_v7()), request, "corr-stranger")
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::FailedPrecondition);
    world.finish().await;
}

/// A replayed checkout key is the same checkout only with the same signed
/// bytes: a snapshot re-signed for the key (what cart-svc did on a retry
/// before it resent the bytes it stored) is ALREADY_EXISTS naming the key,
/// valid or expired, and writes nothing; the original bytes still get the
/// order.
#[tokio::test]
async fn a_replayed_key_with_other_snapshot_bytes_is_already_exists_naming_the_key() {
    let world = World::start().await;
    let customer = Uuid::now_v7();
    let token = world.token(customer);
    let first = snapshot(customer);
    let request = world.signed(&first);
    let order = world
        .place(&token, request.clone(), "corr-first")
        .await
        .unwrap();
    world.event("orders.order_placed.v1").await;

    // Re-priced and re-signed under the same key: other lines, other bytes.
    let mut repriced = snapshot_at(customer, Utc::now());
    repriced.checkout_key = first.checkout_key.clone();
    repriced.lines[0].quantity = 1;
    repriced.lines[0].line_total = repriced.lines[0].unit_price.clone();
    repriced.subtotal = repriced.lines[0].unit_price.clone();
    repriced.total = Some(ecommerce_proto::ecommerce::common::v1::Money {
        amount_minor: 4_950 + 500,
        currency: "EUR".to_owned(),
    });
    let error = world
        .place(&token, world.signed(&repriced), "corr-repriced")
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::AlreadyExists, "{error:?}");
    assert!(
        error.message().starts_with("idempotency_key: "),
        "{error:?}"
    );
    assert!(error.message().contains(&first.checkout_key), "{error:?}");

    // The same lines re-issued later are other bytes too, and so is an
    // expired snapshot of the key (answered with the order only for its
    // own bytes).
    let mut reissued = first.clone();
    reissued.issued_at = Some(ecommerce_proto::timestamp(
        Utc::now() + Duration::seconds(1),
    ));
    let error = world
        .place(&token, world.signed(&reissued), "corr-reissued")
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::AlreadyExists, "{error:?}");
    let mut expired = snapshot_at(customer, Utc::now() - Duration::hours(1));
    expired.checkout_key = first.checkout_key.clone();
    let error = world
        .place(&token, world.signed(&expired), "corr-expired")
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::AlreadyExists, "{error:?}");

    // The bytes the order was placed from: the same order.
    let retried = world.place(&token, request, "corr-retry").await.unwrap();
    assert_eq!(retried.id, order.id);
    assert_eq!(retried.lines, order.lines);
    assert_eq!(world.row_counts().await, [1, 1, 1, 1]);
    world
        .service
        .expect_no_event("orders.order_placed.v1", QUIET)
        .await;
    world.finish().await;
}

#[tokio::test]
async fn the_owner_cancels_once_and_order_canceled_carries_the_checkouts_correlation_id() {
    let world = World::start().await;
    let customer = Uuid::now_v7();
    let token = world.token(customer);
    let order = world
        .place(&token, world.signed(&snapshot(customer)), "corr-order")
        .await
        .unwrap();

    let stranger = world.token(Uuid::now_v7());
    let error = world.cancel(&stranger, &order.id).await.unwrap_err();
    assert_eq!(error.code(), Code::NotFound);

    let mut client = world.client.clone();
    let canceled = client
        .cancel_order(call(
            pb::CancelOrderRequest {
                order_id: order.id.clone(),
                reason: "changed my mind".to_owned(),
            },
            &token,
            "corr-cancel-call",
        ))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(canceled.status(), pb::OrderStatus::Canceled);
    assert_eq!(canceled.cancellation_reason, "changed my mind");
    let statuses: Vec<_> = canceled
        .status_history
        .iter()
        .map(|change| change.status())
        .collect();
    assert_eq!(
        statuses,
        vec![pb::OrderStatus::Pending, pb::OrderStatus::Canceled]
    );

    let event = world.event("orders.order_canceled.v1").await;
    assert_eq!(event.metadata.correlation_id.as_deref(), Some("corr-order"));
    let DecodedEvent::OrdersOrderCanceledV1(payload) = &event.event else {
        panic!("{:?}", event.event)
    };
    assert_eq!(payload.order_id, order.id);
    assert_eq!(payload.user_id, customer.to_string());
    assert_eq!(payload.reason, "changed my mind");

    // Again: unchanged, no second event.
    let again = world.cancel(&token, &order.id).await.unwrap();
    assert_eq!(again, canceled);
    world
        .service
        .expect_no_event("orders.order_canceled.v1", QUIET)
        .await;
    world.finish().await;
}

#[tokio::test]
async fn list_orders_pages_newest_first_and_filters_by_status() {
    let world = World::start().await;
    let customer = Uuid::now_v7();
    let token = world.token(customer);
    let mut placed = Vec::new();
    for index in 0..3 {
        let order = world
            .place(
                &token,
                world.signed(&snapshot(customer)),
                &format!("corr-{index}"),
            )
            .await
            .unwrap();
        placed.push(order.id);
    }
    world.cancel(&token, &placed[1]).await.unwrap();

    let mut client = world.client.clone();
    let first = client
        .list_orders(with_bearer(
            pb::ListOrdersRequest {
                page_size: 2,
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<_> = first.orders.iter().map(|order| order.id.clone()).collect();
    assert_eq!(ids, vec![placed[2].clone(), placed[1].clone()]);
    assert_ne!(first.next_page_token, "");
    let second = client
        .list_orders(with_bearer(
            pb::ListOrdersRequest {
                page_size: 2,
                page_token: first.next_page_token,
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<_> = second.orders.iter().map(|order| order.id.clone()).collect();
    assert_eq!(ids, vec![placed[0].clone()]);
    assert_eq!(second.next_page_token, "");

    let canceled = client
        .list_orders(with_bearer(
            pb::ListOrdersRequest {
                status: pb::OrderStatus::Canceled as i32,
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<_> = canceled
        .orders
        .iter()
        .map(|order| order.id.clone())
        .collect();
    assert_eq!(ids, vec![placed[1].clone()]);
    world.finish().await;
}
