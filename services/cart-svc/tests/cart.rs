//! Carts through the generated client: anonymous and signed-in carts,
//! versions, merging, catalog flags and checkout (see `support` for the
//! fakes and the real orders-svc in-process).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use cart_svc::domain::QuoteStatus;
use cart_svc::upstream::GrpcOrderPlacer;
use ecommerce_proto::ecommerce::cart::v1 as pb;
use ecommerce_proto::ecommerce::catalog::v1::{ProductArchived, VariantDiscontinued};
use ecommerce_proto::ecommerce::orders::v1 as orders_pb;
use ecommerce_test_support::{EVENT_WAIT, TestAuth, assert_standard_grpc_surface, with_bearer};
use uuid::Uuid;

use support::{World, start_orders, test_keys};

#[tokio::test]
async fn anonymous_cart_add_update_remove_with_versions_and_keys() {
    let world = World::start().await;
    assert_standard_grpc_surface(
        world.service.server.as_ref().unwrap(),
        "ecommerce.cart.v1.CartService",
    )
    .await;
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
        .catalog
        .set("GONE", QuoteStatus::NotPublished, None, Uuid::now_v7());

    // An anonymous caller with no cart id: NOT_FOUND to read, a new cart to add to.
    let missing = world.get(None, "").await.unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);
    let cart = world
        .add(None, "", "SHOE-42", 2, "key-1", None)
        .await
        .unwrap();
    assert_eq!(cart.version, 1);
    assert_eq!(cart.user_id, None);
    assert_eq!(cart.subtotal.as_ref().unwrap().amount_minor, 9_900);
    let cart_id = cart.id.clone();

    // The same key again: the first result, not two more shoes.
    let retried = world
        .add(None, "", "SHOE-42", 2, "key-1", None)
        .await
        .unwrap();
    assert_eq!(
        (retried.id.as_str(), retried.version),
        (cart_id.as_str(), 1)
    );
    assert_eq!(retried.lines[0].quantity, 2);

    let cart = world
        .add(None, &cart_id, "SOCK-1", 3, "key-2", Some(1))
        .await
        .unwrap();
    assert_eq!(cart.version, 2);
    assert_eq!(cart.subtotal.as_ref().unwrap().amount_minor, 9_900 + 1_500);

    // Not sellable, invalid, too many.
    let refused = world
        .add(None, &cart_id, "GONE", 1, "", None)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    let invalid = world
        .add(None, &cart_id, "SHOE-42", 0, "", None)
        .await
        .unwrap_err();
    assert_eq!(invalid.code(), tonic::Code::InvalidArgument);
    let too_many = world
        .add(None, &cart_id, "SHOE-42", 98, "", None)
        .await
        .unwrap_err();
    assert_eq!(too_many.code(), tonic::Code::FailedPrecondition);

    // Update with a stale version: ABORTED, nothing changed.
    let mut client = world.client.clone();
    let stale = client
        .update_item(pb::UpdateItemRequest {
            cart_id: cart_id.clone(),
            sku: "SHOE-42".to_owned(),
            quantity: 5,
            expected_version: Some(1),
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), tonic::Code::Aborted);
    let updated = client
        .update_item(pb::UpdateItemRequest {
            cart_id: cart_id.clone(),
            sku: "SHOE-42".to_owned(),
            quantity: 5,
            expected_version: Some(2),
        })
        .await
        .unwrap()
        .into_inner()
        .cart
        .unwrap();
    assert_eq!(updated.version, 3);
    assert_eq!(updated.lines[0].quantity, 5);
    let absent = client
        .update_item(pb::UpdateItemRequest {
            cart_id: cart_id.clone(),
            sku: "NOPE".to_owned(),
            quantity: 1,
            expected_version: None,
        })
        .await
        .unwrap_err();
    assert_eq!(absent.code(), tonic::Code::NotFound);

    // A price change shows on the next read.
    world
        .catalog
        .set("SOCK-1", QuoteStatus::Available, Some(600), Uuid::now_v7());
    let repriced = world.get(None, &cart_id).await.unwrap();
    let sock = repriced
        .lines
        .iter()
        .find(|line| line.sku == "SOCK-1")
        .unwrap();
    assert!(sock.price_changed);
    assert_eq!(sock.unit_price.as_ref().unwrap().amount_minor, 600);

    // Remove: an absent SKU is a no-op; a present one bumps the version.
    let same = client
        .remove_item(pb::RemoveItemRequest {
            cart_id: cart_id.clone(),
            sku: "NOPE".to_owned(),
            expected_version: None,
        })
        .await
        .unwrap()
        .into_inner()
        .cart
        .unwrap();
    assert_eq!(same.version, 3);
    let removed = client
        .remove_item(pb::RemoveItemRequest {
            cart_id: cart_id.clone(),
            sku: "SOCK-1".to_owned(),
            expected_version: Some(3),
        })
        .await
        .unwrap()
        .into_inner()
        .cart
        .unwrap();
    assert_eq!(removed.version, 4);
    assert_eq!(removed.lines.len(), 1);

    // A user's cart is not reachable by others.
    let token = world.auth.customer_token();
    let mine = world
        .add(Some(&token), "", "SOCK-1", 1, "", None)
        .await
        .unwrap();
    assert!(mine.user_id.is_some());
    let other = world.get(None, &mine.id).await.unwrap_err();
    assert_eq!(other.code(), tonic::Code::NotFound);
    let stranger = world.auth.customer_token();
    let other = world.get(Some(&stranger), &mine.id).await.unwrap_err();
    assert_eq!(other.code(), tonic::Code::NotFound);

    world.service.finish().await.unwrap();
}

#[tokio::test]
async fn adding_an_item_quotes_each_sku_once() {
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
    world.catalog.take_asked();

    let cart = world
        .add(None, "", "SHOE-42", 1, "key-1", None)
        .await
        .unwrap();
    // The quote taken to check the SKU prices the answer too.
    assert_eq!(world.catalog.take_asked(), [["SHOE-42"]]);
    let cart = world
        .add(None, &cart.id, "SOCK-1", 1, "key-2", Some(cart.version))
        .await
        .unwrap();
    // The new SKU, then only the line not quoted yet.
    assert_eq!(world.catalog.take_asked(), [["SOCK-1"], ["SHOE-42"]]);
    assert_eq!(cart.subtotal.as_ref().unwrap().amount_minor, 5_450);
    world.service.finish().await.unwrap();
}

#[tokio::test]
async fn a_retried_add_answers_with_its_cart_even_once_the_sku_is_no_longer_sellable() {
    let world = World::start().await;
    world
        .catalog
        .set("HAT-7", QuoteStatus::Available, Some(1_500), Uuid::now_v7());
    let cart = world
        .add(None, "", "HAT-7", 1, "key-hat", None)
        .await
        .unwrap();
    world
        .catalog
        .set("HAT-7", QuoteStatus::NotPublished, None, Uuid::now_v7());

    // The retry of the same call: the cart it made, not a refusal.
    let retried = world
        .add(None, "", "HAT-7", 1, "key-hat", None)
        .await
        .unwrap();
    assert_eq!(
        (retried.id.as_str(), retried.version),
        (cart.id.as_str(), 1)
    );
    // A new call for that SKU is refused.
    let refused = world
        .add(None, &cart.id, "HAT-7", 1, "key-other", Some(1))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    world.service.finish().await.unwrap();
}

#[tokio::test]
async fn merge_then_checkout_signs_a_snapshot_orders_accepts() {
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
    let user_id = Uuid::now_v7();
    let token = world.auth.token(user_id, &[]);

    let anonymous = world.add(None, "", "SHOE-42", 1, "", None).await.unwrap();
    world
        .add(None, &anonymous.id, "SOCK-1", 2, "", None)
        .await
        .unwrap();
    world
        .add(Some(&token), "", "SHOE-42", 1, "", None)
        .await
        .unwrap();

    let mut client = world.client.clone();
    let unauthenticated = client
        .merge_carts(pb::MergeCartsRequest {
            anonymous_cart_id: anonymous.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(unauthenticated.code(), tonic::Code::Unauthenticated);
    let merged = client
        .merge_carts(with_bearer(
            pb::MergeCartsRequest {
                anonymous_cart_id: anonymous.id.clone(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .cart
        .unwrap();
    assert_eq!(merged.user_id, Some(user_id.to_string()));
    let quantities: Vec<_> = merged
        .lines
        .iter()
        .map(|line| (line.sku.as_str(), line.quantity))
        .collect();
    assert_eq!(quantities, [("SHOE-42", 2), ("SOCK-1", 2)]);
    // Merged again: unchanged; the anonymous cart is gone.
    let again = client
        .merge_carts(with_bearer(
            pb::MergeCartsRequest {
                anonymous_cart_id: anonymous.id.clone(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .cart
        .unwrap();
    assert_eq!(again.version, merged.version);
    assert_eq!(
        world.get(None, &anonymous.id).await.unwrap_err().code(),
        tonic::Code::NotFound
    );
    // Someone else's cart cannot be merged.
    let other_token = world.auth.customer_token();
    let others = world
        .add(Some(&other_token), "", "SOCK-1", 1, "", None)
        .await
        .unwrap();
    let denied = client
        .merge_carts(with_bearer(
            pb::MergeCartsRequest {
                anonymous_cart_id: others.id.clone(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);

    // Checkout: a stale version is ABORTED; then the order is placed with a
    // snapshot orders verifies, under the shopper's token.
    let stale = world
        .checkout(&token, "checkout-1", Some(merged.version - 1))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), tonic::Code::Aborted);
    let placed = world
        .checkout(&token, "checkout-1", Some(merged.version))
        .await
        .unwrap();
    assert_eq!(placed.order_status, orders_pb::OrderStatus::Pending as i32);
    {
        let placed_orders = world.orders.placed.lock().unwrap();
        assert_eq!(placed_orders.len(), 1);
        let (checkout, bearer) = &placed_orders[0];
        assert_eq!(bearer, &token);
        assert_eq!(checkout.user_id, user_id);
        assert_eq!(checkout.cart_version, merged.version);
        // The key is the shopper's: orders gets it scoped to them.
        assert_eq!(
            checkout.checkout_key.as_str(),
            format!("{user_id}:checkout-1")
        );
        assert_eq!(checkout.subtotal.amount_minor(), 2 * 4_950 + 2 * 500);
        assert_eq!(checkout.total.amount_minor(), 2 * 4_950 + 2 * 500 + 500);
        assert_eq!(checkout.lines.len(), 2);
    }
    // The cart is emptied; a retry returns the same order without placing again.
    let emptied = world.get(Some(&token), "").await.unwrap();
    assert!(emptied.lines.is_empty());
    let retried = world.checkout(&token, "checkout-1", None).await.unwrap();
    assert_eq!(retried.order_id, placed.order_id);
    assert_eq!(world.orders.placed.lock().unwrap().len(), 1);
    // An empty cart cannot be checked out; an anonymous caller cannot at all.
    let empty = world
        .checkout(&token, "checkout-2", None)
        .await
        .unwrap_err();
    assert_eq!(empty.code(), tonic::Code::FailedPrecondition);
    let anonymous_checkout = client
        .checkout(pb::CheckoutRequest {
            cart_id: anonymous.id.clone(),
            shipping_option_id: Uuid::now_v7().to_string(),
            payment_method_token: "pm_card_visa".to_owned(),
            idempotency_key: "x".to_owned(),
            expected_version: None,
        })
        .await
        .unwrap_err();
    assert_eq!(anonymous_checkout.code(), tonic::Code::Unauthenticated);

    world.service.finish().await.unwrap();
}

#[tokio::test]
async fn catalog_events_flag_lines_and_flagged_lines_refuse_checkout() {
    let world = World::start().await;
    let shoe_product = Uuid::now_v7();
    let sock_product = Uuid::now_v7();
    world
        .catalog
        .set("SHOE-42", QuoteStatus::Available, Some(4_950), shoe_product);
    world
        .catalog
        .set("SOCK-1", QuoteStatus::Available, Some(500), sock_product);
    let token = world.auth.customer_token();
    world
        .add(Some(&token), "", "SHOE-42", 1, "", None)
        .await
        .unwrap();
    world
        .add(Some(&token), "", "SOCK-1", 1, "", None)
        .await
        .unwrap();

    world
        .publish(VariantDiscontinued {
            variant_id: Uuid::now_v7().to_string(),
            product_id: shoe_product.to_string(),
            sku: "SHOE-42".to_owned(),
            version: 2,
        })
        .await;
    world
        .wait_for_reason(&token, "SHOE-42", pb::UnavailableReason::Discontinued)
        .await;
    // Catalog still quotes it available: the flag wins, and checkout is refused.
    let cart = world.get(Some(&token), "").await.unwrap();
    assert_eq!(cart.subtotal.as_ref().unwrap().amount_minor, 500);
    let refused = world.checkout(&token, "", None).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert!(refused.message().contains("SHOE-42"));

    world
        .publish(ProductArchived {
            product_id: sock_product.to_string(),
            version: 3,
        })
        .await;
    world
        .wait_for_reason(&token, "SOCK-1", pb::UnavailableReason::NotPublished)
        .await;
    assert!(world.orders.placed.lock().unwrap().is_empty());

    world.service.finish().await.unwrap();
}

/// Checkout against the real orders-svc in-process (its own schema and
/// topology, the same token issuer and snapshot key): the order is stored
/// PENDING for the shopper, `orders.order_placed.v1` goes out, and a retry
/// returns the same order.
#[tokio::test]
async fn checkout_places_the_order_with_the_real_orders_service() {
    let auth = TestAuth::new();
    let orders = start_orders(&auth).await;
    let placer = Arc::new(GrpcOrderPlacer::from_channel(orders.channel(), test_keys()));
    let user_id = Uuid::now_v7();
    let token = auth.token(user_id, &[]);
    let world = World::start_with(auth, Some(placer)).await;
    world.catalog.set(
        "SHOE-42",
        QuoteStatus::Available,
        Some(4_950),
        Uuid::now_v7(),
    );
    world
        .add(Some(&token), "", "SHOE-42", 2, "", None)
        .await
        .unwrap();

    let placed = world
        .checkout(&token, "real-checkout-1", None)
        .await
        .unwrap();
    assert_eq!(placed.order_status, orders_pb::OrderStatus::Pending as i32);
    let event = orders
        .expect_event("orders.order_placed.v1", EVENT_WAIT)
        .await;
    assert_eq!(event.metadata.aggregate.id, placed.order_id);

    let mut orders_client =
        orders_pb::order_service_client::OrderServiceClient::new(orders.channel());
    let order = orders_client
        .get_order(with_bearer(
            orders_pb::GetOrderRequest {
                order_id: placed.order_id.clone(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(order.user_id, user_id.to_string());
    assert_eq!(order.total.as_ref().unwrap().amount_minor, 2 * 4_950 + 500);

    let retried = world
        .checkout(&token, "real-checkout-1", None)
        .await
        .unwrap();
    assert_eq!(retried.order_id, placed.order_id);

    world.service.finish().await.unwrap();
    orders.finish().await.unwrap();
}

/// Concurrent writers that saw the same version: exactly one wins, the
/// others are ABORTED; concurrent first AddItems of one user make one cart.
#[tokio::test]
async fn concurrent_writers_on_one_version_one_wins() {
    let world = World::start().await;
    world
        .catalog
        .set("SHOE-42", QuoteStatus::Available, Some(100), Uuid::now_v7());
    let token = world.auth.customer_token();

    let first_adds = (0..8).map(|_| world.add(Some(&token), "", "SHOE-42", 1, "", None));
    let carts: Vec<pb::Cart> = futures::future::join_all(first_adds)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert!(
        carts.iter().all(|cart| cart.id == carts[0].id),
        "one cart per user"
    );
    let cart = world.get(Some(&token), "").await.unwrap();
    assert_eq!((cart.version, cart.lines[0].quantity), (8, 8));

    let racing = (0..8).map(|_| world.add(Some(&token), "", "SHOE-42", 1, "", Some(8)));
    let outcomes = futures::future::join_all(racing).await;
    let won = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
    assert_eq!(won, 1);
    assert!(
        outcomes
            .iter()
            .filter_map(|outcome| outcome.as_ref().err())
            .all(|status| status.code() == tonic::Code::Aborted)
    );
    let cart = world.get(Some(&token), "").await.unwrap();
    assert_eq!((cart.version, cart.lines[0].quantity), (9, 9));

    world.service.finish().await.unwrap();
}
