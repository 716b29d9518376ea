//! A retried checkout is the same checkout: the attempt is stored, signed,
//! before orders is called and a retry resends its bytes; keys are the
//! caller's; a price the shopper has not seen is not charged.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use cart_svc::domain::QuoteStatus;
use cart_svc::upstream::GrpcOrderPlacer;
use chrono::{Duration, Utc};
use ecommerce_kernel::ManualClock;
use ecommerce_proto::ecommerce::orders::v1 as orders_pb;
use ecommerce_test_support::{EVENT_WAIT, QUIET, TestAuth, with_bearer};
use tonic::Code;
use uuid::Uuid;

use support::{FakeOrders, FaultyOrders, World, lines, start_orders, test_keys};

/// The deadline race: orders commits the order, but the shopper's deadline
/// ends before cart hears back, so cart records nothing. Meanwhile catalog
/// reprices the cart's line and, while the retry is in flight, the shopper
/// adds another line. The retry with the same key resends the very bytes
/// of the first call (no repricing), gets the same order from the real
/// orders-svc, and only the ordered lines leave the cart.
#[tokio::test]
async fn a_retry_after_the_deadline_ended_past_orders_commit_is_the_same_checkout() {
    let auth = TestAuth::new();
    let orders = start_orders(&auth).await;
    let placer = Arc::new(FaultyOrders::new(Arc::new(GrpcOrderPlacer::from_channel(
        orders.channel(),
        test_keys(),
    ))));
    let user_id = Uuid::now_v7();
    let token = auth.token(user_id, &[]);
    let world = World::start_with(auth, Some(placer.clone())).await;
    world.catalog.set(
        "SHOE-42",
        QuoteStatus::Available,
        Some(4_950),
        Uuid::now_v7(),
    );
    world
        .catalog
        .set("SOCK-1", QuoteStatus::Available, Some(500), Uuid::now_v7());
    world
        .add(Some(&token), "", "SHOE-42", 2, "", None)
        .await
        .unwrap();

    // Orders commits; cart hears nothing back.
    placer.lose_next_answer();
    let lost = world.checkout(&token, "race-1", None).await.unwrap_err();
    assert_eq!(lost.code(), Code::Unavailable, "{lost:?}");
    let placed_event = orders
        .expect_event("orders.order_placed.v1", EVENT_WAIT)
        .await;
    let order_id = placed_event.metadata.aggregate.id.clone();
    let cart = world.get(Some(&token), "").await.unwrap();
    assert_eq!(lines(&cart), [("SHOE-42".to_owned(), 2)]);

    // Catalog reprices; the shopper adds socks while the retry is in flight.
    world.catalog.set(
        "SHOE-42",
        QuoteStatus::Available,
        Some(5_200),
        Uuid::now_v7(),
    );
    let hold = placer.hold_next();
    let (retried, ()) = tokio::join!(world.checkout(&token, "race-1", None), async {
        hold.entered.await.unwrap();
        world
            .add(Some(&token), "", "SOCK-1", 1, "", None)
            .await
            .unwrap();
        hold.release.send(()).unwrap();
    });
    let retried = retried.unwrap();
    assert_eq!(retried.order_id, order_id);
    assert_eq!(retried.order_status, orders_pb::OrderStatus::Pending as i32);
    let sent = placer.sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0], sent[1], "the retry resends the stored bytes");
    orders
        .expect_no_event("orders.order_placed.v1", QUIET)
        .await;

    // The order is the first checkout's, at the price the shopper saw.
    let mut orders_client =
        orders_pb::order_service_client::OrderServiceClient::new(orders.channel());
    let order = orders_client
        .get_order(with_bearer(
            orders_pb::GetOrderRequest {
                order_id: order_id.clone(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(order.lines.len(), 1);
    assert_eq!(order.total.as_ref().unwrap().amount_minor, 2 * 4_950 + 500);
    // Only the ordered shoes left the cart; the socks added meanwhile stay.
    let cart = world.get(Some(&token), "").await.unwrap();
    assert_eq!(lines(&cart), [("SOCK-1".to_owned(), 1)]);

    // Once recorded, the key answers with its order without calling orders.
    let again = world.checkout(&token, "race-1", None).await.unwrap();
    assert_eq!(again.order_id, order_id);
    assert_eq!(placer.sent().len(), 2);
    assert_eq!(
        world
            .service
            .count("SELECT count(*) AS n FROM cart_checkouts WHERE snapshot IS NOT NULL")
            .await,
        0,
        "a recorded checkout keeps no snapshot (it holds the payment token)"
    );

    world.service.finish().await.unwrap();
    orders.finish().await.unwrap();
}

/// A checkout that never reached orders, then the cart changed: the same
/// key is FAILED_PRECONDITION naming `idempotency_key` (so is another
/// shipping option); a new key checks out the cart as it is now.
#[tokio::test]
async fn the_same_key_with_another_cart_is_failed_precondition_naming_the_key() {
    let fake = Arc::new(FakeOrders::default());
    let placer = Arc::new(FaultyOrders::new(fake.clone()));
    let world = World::start_with(TestAuth::new(), Some(placer.clone())).await;
    world
        .catalog
        .set("SHOE-42", QuoteStatus::Available, Some(100), Uuid::now_v7());
    world
        .catalog
        .set("SOCK-1", QuoteStatus::Available, Some(10), Uuid::now_v7());
    let token = world.auth.customer_token();
    world
        .add(Some(&token), "", "SHOE-42", 1, "", None)
        .await
        .unwrap();

    placer.refuse_next();
    let refused = world.checkout(&token, "key-1", None).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    world
        .add(Some(&token), "", "SOCK-1", 1, "", None)
        .await
        .unwrap();

    let reused = world.checkout(&token, "key-1", None).await.unwrap_err();
    assert_eq!(reused.code(), Code::FailedPrecondition, "{reused:?}");
    assert!(
        reused.message().starts_with("idempotency_key: "),
        "{reused:?}"
    );
    assert!(reused.message().contains("key-1"), "{reused:?}");
    let other_shipping = world
        .checkout_with(&token, "key-1", None, Uuid::now_v7())
        .await
        .unwrap_err();
    assert_eq!(other_shipping.code(), Code::FailedPrecondition);
    assert!(placer.sent().is_empty(), "nothing reached orders");
    let cart = world.get(Some(&token), "").await.unwrap();
    assert_eq!(
        lines(&cart),
        [("SHOE-42".to_owned(), 1), ("SOCK-1".to_owned(), 1)]
    );

    let placed = world.checkout(&token, "key-2", None).await.unwrap();
    {
        let placed_orders = fake.placed.lock().unwrap();
        assert_eq!(placed_orders.len(), 1);
        assert_eq!(placed_orders[0].0.lines.len(), 2);
    }
    assert!(world.get(Some(&token), "").await.unwrap().lines.is_empty());
    // The attempt under key-1 never placed anything and stays refused for
    // another cart; key-2 answers with its order.
    let again = world.checkout(&token, "key-2", None).await.unwrap();
    assert_eq!(again.order_id, placed.order_id);

    world.service.finish().await.unwrap();
}

/// AddItem and Checkout keys are the caller's: the same key from two users,
/// or on two anonymous carts, is two operations.
#[tokio::test]
async fn the_same_key_from_two_callers_is_two_operations() {
    let world = World::start().await;
    world
        .catalog
        .set("SHOE-42", QuoteStatus::Available, Some(100), Uuid::now_v7());
    let alice = Uuid::now_v7();
    let bob = Uuid::now_v7();
    let alice_token = world.auth.token(alice, &[]);
    let bob_token = world.auth.token(bob, &[]);

    // AddItem, signed in: each gets their own cart, and a retry is still
    // idempotent for each.
    let alices = world
        .add(Some(&alice_token), "", "SHOE-42", 1, "same-key", None)
        .await
        .unwrap();
    let bobs = world
        .add(Some(&bob_token), "", "SHOE-42", 2, "same-key", None)
        .await
        .unwrap();
    assert_ne!(alices.id, bobs.id);
    assert_eq!(alices.user_id, Some(alice.to_string()));
    assert_eq!(bobs.user_id, Some(bob.to_string()));
    assert_eq!(lines(&bobs), [("SHOE-42".to_owned(), 2)]);
    let retried = world
        .add(Some(&alice_token), "", "SHOE-42", 1, "same-key", None)
        .await
        .unwrap();
    assert_eq!(
        (retried.id.as_str(), retried.version),
        (alices.id.as_str(), 1)
    );

    // AddItem on two anonymous carts with one key: both apply.
    let first = world
        .add(None, "", "SHOE-42", 1, "anon-create-1", None)
        .await
        .unwrap();
    let second = world
        .add(None, "", "SHOE-42", 1, "anon-create-2", None)
        .await
        .unwrap();
    let first = world
        .add(None, &first.id, "SHOE-42", 1, "anon-key", None)
        .await
        .unwrap();
    let second = world
        .add(None, &second.id, "SHOE-42", 1, "anon-key", None)
        .await
        .unwrap();
    assert_eq!(lines(&first), [("SHOE-42".to_owned(), 2)]);
    assert_eq!(lines(&second), [("SHOE-42".to_owned(), 2)]);
    let first_again = world
        .add(None, &first.id, "SHOE-42", 1, "anon-key", None)
        .await
        .unwrap();
    assert_eq!(first_again.version, first.version);

    // Checkout: two orders, each under a key scoped to its shopper.
    let alices_order = world
        .checkout(&alice_token, "same-key", None)
        .await
        .unwrap();
    let bobs_order = world.checkout(&bob_token, "same-key", None).await.unwrap();
    assert_ne!(alices_order.order_id, bobs_order.order_id);
    {
        let placed = world.orders.placed.lock().unwrap();
        let owners: Vec<_> = placed
            .iter()
            .map(|(checkout, _)| (checkout.user_id, checkout.checkout_key.to_string()))
            .collect();
        assert_eq!(
            owners,
            [
                (alice, format!("{alice}:same-key")),
                (bob, format!("{bob}:same-key"))
            ]
        );
    }
    // Each retry finds its own order.
    let alices_retry = world
        .checkout(&alice_token, "same-key", None)
        .await
        .unwrap();
    assert_eq!(alices_retry.order_id, alices_order.order_id);

    world.service.finish().await.unwrap();
}

/// A price that changed between GetCart and Checkout is not charged
/// silently: FAILED_PRECONDITION listing the SKU with both prices, nothing
/// stored or placed; GetCart shows the new price (marked changed once), and
/// then Checkout charges it.
#[tokio::test]
async fn a_price_changed_since_the_cart_was_read_refuses_checkout_until_read_again() {
    let world = World::start().await;
    world.catalog.set(
        "SHOE-42",
        QuoteStatus::Available,
        Some(4_950),
        Uuid::now_v7(),
    );
    world
        .catalog
        .set("SOCK-1", QuoteStatus::Available, Some(500), Uuid::now_v7());
    let token = world.auth.customer_token();
    world
        .add(Some(&token), "", "SHOE-42", 2, "", None)
        .await
        .unwrap();
    world
        .add(Some(&token), "", "SOCK-1", 1, "", None)
        .await
        .unwrap();
    let read = world.get(Some(&token), "").await.unwrap();
    assert!(read.lines.iter().all(|line| !line.price_changed));

    world.catalog.set(
        "SHOE-42",
        QuoteStatus::Available,
        Some(5_200),
        Uuid::now_v7(),
    );
    let refused = world.checkout(&token, "priced-1", None).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(
        refused.message().contains("SHOE-42: 4950 -> 5200 EUR"),
        "{refused:?}"
    );
    assert!(!refused.message().contains("SOCK-1"), "{refused:?}");
    assert!(world.orders.placed.lock().unwrap().is_empty());
    assert_eq!(
        world
            .service
            .count("SELECT count(*) AS n FROM cart_checkouts")
            .await,
        0
    );

    // GetCart shows the change once, and so accepts it.
    let shown = world.get(Some(&token), "").await.unwrap();
    let shoe = shown
        .lines
        .iter()
        .find(|line| line.sku == "SHOE-42")
        .unwrap();
    assert!(shoe.price_changed);
    assert_eq!(shoe.unit_price.as_ref().unwrap().amount_minor, 5_200);
    let version = shown.version;
    let reread = world.get(Some(&token), "").await.unwrap();
    assert!(reread.lines.iter().all(|line| !line.price_changed));
    assert_eq!(
        reread.version, version,
        "seeing a price is not a cart change"
    );

    let placed = world
        .checkout(&token, "priced-1", Some(version))
        .await
        .unwrap();
    assert!(!placed.order_id.is_empty());
    {
        let placed_orders = world.orders.placed.lock().unwrap();
        assert_eq!(placed_orders.len(), 1);
        assert_eq!(
            placed_orders[0].0.total.amount_minor(),
            2 * 5_200 + 500 + 500
        );
    }

    world.service.finish().await.unwrap();
}

/// An attempt that never reached orders before its snapshot expired is
/// refused by orders; cart then forgets it, so the same key checks out
/// afresh (a placed one would have been answered with its order).
#[tokio::test]
async fn an_attempt_that_expired_unplaced_is_forgotten_and_the_key_starts_again() {
    let clock = Arc::new(ManualClock::new(Utc::now() - Duration::minutes(10)));
    let fake = Arc::new(FakeOrders::default());
    let placer = Arc::new(FaultyOrders::new(fake.clone()));
    let world = World::start_with_clock(TestAuth::new(), Some(placer.clone()), clock.clone()).await;
    world
        .catalog
        .set("SHOE-42", QuoteStatus::Available, Some(100), Uuid::now_v7());
    let token = world.auth.customer_token();
    world
        .add(Some(&token), "", "SHOE-42", 1, "", None)
        .await
        .unwrap();

    placer.refuse_next();
    let refused = world.checkout(&token, "late-1", None).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    clock.set(Utc::now());
    let expired = world.checkout(&token, "late-1", None).await.unwrap_err();
    assert_eq!(expired.code(), Code::FailedPrecondition, "{expired:?}");
    assert!(expired.message().contains("expired"), "{expired:?}");
    assert!(fake.placed.lock().unwrap().is_empty());

    let placed = world.checkout(&token, "late-1", None).await.unwrap();
    assert_eq!(fake.placed.lock().unwrap().len(), 1);
    let sent = placer.sent();
    assert_eq!(sent.len(), 2);
    assert_ne!(sent[0], sent[1], "signed afresh");
    assert_eq!(
        world
            .checkout(&token, "late-1", None)
            .await
            .unwrap()
            .order_id,
        placed.order_id
    );

    world.service.finish().await.unwrap();
}
