//! End-to-end scenarios beyond the happy path: stock shortages, cancels and
//! expiries while payments-svc is down, late authorizations, and the
//! security rules of PlaceOrder, GetOrder and CancelOrder. Every test starts
//! its own stack and talks to it only through gRPC, the event tap and
//! read-only queries of a service's schema.

use std::time::{Duration, SystemTime};

use ecommerce_checkout::{SnapshotKeys, sign};
use ecommerce_e2e::shop::{CARD_OK, CURRENCY, OrderStatus};
use ecommerce_e2e::{CheckoutArgs, Session, Shop, Stack, StackOptions, Svc};
use ecommerce_events::{DecodedEvent, ReceivedEvent};
use ecommerce_proto::ecommerce::common::v1::Money;
use ecommerce_proto::ecommerce::orders::v1 as orders_pb;
use ecommerce_proto::ecommerce::orders::v1::OrderRejectionReason;
use ecommerce_proto::ecommerce::payments::v1::PaymentStatus;
use ecommerce_test_support::with_bearer;
use prost::Message as _;
use sea_orm::{ConnectionTrait, Statement};
use tonic::Code;
use uuid::Uuid;

const SAGA: Duration = Duration::from_secs(60);
/// How long the tap must stay empty before the events seen are complete.
const QUIET: Duration = Duration::from_secs(3);

/// The order an event is about, when it is about one.
fn order_of(event: &DecodedEvent) -> Option<&str> {
    Some(match event {
        DecodedEvent::OrdersOrderPlacedV1(event) => &event.order_id,
        DecodedEvent::OrdersOrderCanceledV1(event) => &event.order_id,
        DecodedEvent::OrdersOrderConfirmedV1(event) => &event.order_id,
        DecodedEvent::OrdersOrderRejectedV1(event) => &event.order_id,
        DecodedEvent::InventoryStockReservedV1(event) => &event.order_id,
        DecodedEvent::InventoryStockReservationFailedV1(event) => &event.order_id,
        DecodedEvent::InventoryStockCommittedV1(event) => &event.order_id,
        DecodedEvent::InventoryStockReservationReleasedV1(event) => &event.order_id,
        DecodedEvent::InventoryStockReservationExpiredV1(event) => &event.order_id,
        DecodedEvent::PaymentsPaymentAuthorizedV1(event) => &event.order_id,
        DecodedEvent::PaymentsPaymentFailedV1(event) => &event.order_id,
        DecodedEvent::PaymentsPaymentCapturedV1(event) => &event.order_id,
        DecodedEvent::PaymentsPaymentVoidedV1(event) => &event.order_id,
        _ => return None,
    })
}

/// Every event read off the tap so far, in the order the broker got them.
/// Holds no borrow of the stack, so services can be killed in between.
#[derive(Default)]
struct Seen {
    events: Vec<ReceivedEvent>,
}

impl Seen {
    /// Reads the tap until an event of `event_type` about `order_id` comes
    /// (or was already seen); panics after `timeout`, naming what came.
    async fn wait_for(
        &mut self,
        stack: &Stack,
        event_type: &str,
        order_id: &str,
        timeout: Duration,
    ) -> ReceivedEvent {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(event) = self.events.iter().find(|event| {
                event.event.event_type() == event_type && order_of(&event.event) == Some(order_id)
            }) {
                return event.clone();
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match stack.tap().next_event(left).await {
                Some(event) => self.events.push(event),
                None => panic!(
                    "no {event_type} for order {order_id} within {timeout:?}; saw {:?}",
                    self.types(order_id)
                ),
            }
        }
    }

    /// Reads the tap until it stays empty for `quiet`.
    async fn settle(&mut self, stack: &Stack, quiet: Duration) {
        self.events.extend(stack.tap().drain(quiet).await);
    }

    /// The types of the events about `order_id`, in order.
    fn types(&self, order_id: &str) -> Vec<String> {
        self.events
            .iter()
            .filter(|event| order_of(&event.event) == Some(order_id))
            .map(|event| event.event.event_type().to_owned())
            .collect()
    }

    /// How many events of `event_type` are about `order_id`.
    fn count(&self, event_type: &str, order_id: &str) -> usize {
        self.types(order_id)
            .iter()
            .filter(|seen| *seen == event_type)
            .count()
    }

    /// Position of the first event of `event_type` about `order_id`.
    fn position(&self, event_type: &str, order_id: &str) -> Option<usize> {
        self.events.iter().position(|event| {
            event.event.event_type() == event_type && order_of(&event.event) == Some(order_id)
        })
    }
}

/// (on_hand, reserved, available) of `sku`.
async fn stock(shop: &Shop, sku: &str) -> anyhow::Result<(i32, i32, i32)> {
    let level = shop.stock(sku).await?;
    Ok((level.on_hand, level.reserved, level.available))
}

/// Rows of the orders schema's tables: (orders, lines, status history).
async fn order_rows(stack: &Stack) -> anyhow::Result<(i64, i64, i64)> {
    let schema = stack.schema(Svc::Orders);
    let row = stack
        .db(Svc::Orders)
        .query_one_raw(Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            format!(
                "SELECT (SELECT count(*) FROM {schema}.orders) AS orders, \
                 (SELECT count(*) FROM {schema}.order_lines) AS lines, \
                 (SELECT count(*) FROM {schema}.order_status_history) AS history"
            ),
        ))
        .await?
        .ok_or_else(|| anyhow::anyhow!("the count returned no row"))?;
    Ok((
        row.try_get::<i64>("", "orders")?,
        row.try_get::<i64>("", "lines")?,
        row.try_get::<i64>("", "history")?,
    ))
}

fn eur(amount_minor: i64) -> Option<Money> {
    Some(Money {
        amount_minor,
        currency: CURRENCY.to_owned(),
    })
}

/// A well-formed checkout snapshot of one unit of `sku` at 10.00 plus 5.00
/// shipping, for `customer`, under `checkout_key`, valid from `issued_at`
/// to `expires_at`.
fn snapshot(
    shop: &Shop,
    customer: &Session,
    sku: &str,
    checkout_key: &str,
    issued_at: SystemTime,
    expires_at: SystemTime,
) -> orders_pb::CheckoutSnapshot {
    orders_pb::CheckoutSnapshot {
        cart_id: Uuid::now_v7().to_string(),
        cart_version: 1,
        user_id: customer.user_id.clone(),
        lines: vec![orders_pb::CheckoutLine {
            sku: sku.to_owned(),
            variant_id: Uuid::now_v7().to_string(),
            product_id: Uuid::now_v7().to_string(),
            title: format!("Product {sku}"),
            quantity: 1,
            unit_price: eur(1_000),
            line_total: eur(1_000),
        }],
        subtotal: eur(1_000),
        shipping_option_id: shop.shipping_option_id().to_owned(),
        shipping_price: eur(500),
        total: eur(1_500),
        currency: CURRENCY.to_owned(),
        issued_at: Some(issued_at.into()),
        expires_at: Some(expires_at.into()),
        payment_method_token: CARD_OK.to_owned(),
        checkout_key: checkout_key.to_owned(),
    }
}

/// A snapshot valid for the next five minutes, signed with the key the
/// stack's cart and orders use (the development key unless
/// `CHECKOUT_SIGNING_KEY` is set, which the services inherit too).
fn signed_request(
    shop: &Shop,
    customer: &Session,
    sku: &str,
    checkout_key: &str,
) -> anyhow::Result<orders_pb::PlaceOrderRequest> {
    let now = SystemTime::now();
    let snapshot = snapshot(
        shop,
        customer,
        sku,
        checkout_key,
        now,
        now + Duration::from_secs(300),
    );
    let keys = SnapshotKeys::from_env()?;
    Ok(sign(&snapshot, keys.signing_key()).into_place_order_request())
}

async fn place_order(
    shop: &Shop,
    customer: &Session,
    request: orders_pb::PlaceOrderRequest,
) -> Result<orders_pb::Order, tonic::Status> {
    let response = shop
        .orders_client()
        .place_order(with_bearer(request, &customer.access_token))
        .await?;
    response
        .into_inner()
        .order
        .ok_or_else(|| tonic::Status::internal("PlaceOrder returned no order"))
}

/// The stack of the TTL scenarios: reservations last 2 s and the expiry
/// worker sweeps every 200 ms.
fn short_ttl() -> StackOptions {
    StackOptions::default()
        .with_service_env(Svc::Inventory, "ORDER_RESERVATION_TTL_SECONDS", "2")
        .with_service_env(Svc::Inventory, "INVENTORY_EXPIRY_INTERVAL_MS", "200")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insufficient_stock_rejects_the_order_with_the_short_line() {
    let stack = Stack::start(StackOptions::default()).await.unwrap();
    let shop = Shop::open(&stack).await.unwrap();
    let sku = shop.sellable_sku(1_250, 2).await.unwrap();
    let customer = shop.customer().await.unwrap();
    let mut seen = Seen::default();

    let order_id = shop.buy(&customer, &sku, 3).await.unwrap();

    let order = shop
        .wait_for_status(&order_id, &[OrderStatus::Rejected], SAGA)
        .await
        .unwrap();
    assert_eq!(
        order.rejection_reason(),
        OrderRejectionReason::OutOfStock,
        "{order:?}"
    );
    let failed = seen
        .wait_for(
            &stack,
            "inventory.stock.reservation_failed.v1",
            &order_id,
            SAGA,
        )
        .await;
    let DecodedEvent::InventoryStockReservationFailedV1(failed) = failed.event else {
        unreachable!("matched on the event type")
    };
    let short: Vec<(String, i32, i32)> = failed
        .short_lines
        .iter()
        .map(|line| (line.sku.clone(), line.requested, line.available))
        .collect();
    assert_eq!(short, [(sku.clone(), 3, 2)]);
    let rejected = seen
        .wait_for(&stack, "orders.order_rejected.v1", &order_id, SAGA)
        .await;
    let DecodedEvent::OrdersOrderRejectedV1(rejected) = rejected.event else {
        unreachable!("matched on the event type")
    };
    assert_eq!(rejected.reason(), OrderRejectionReason::OutOfStock);
    let short: Vec<(String, i32, i32)> = rejected
        .short_lines
        .iter()
        .map(|line| (line.sku.clone(), line.requested, line.available))
        .collect();
    assert_eq!(short, [(sku.clone(), 3, 2)]);

    // Nothing was reserved, so nothing moved; the payment intent is voided
    // without ever reaching the provider.
    assert_eq!(stock(&shop, &sku).await.unwrap(), (2, 0, 2));
    shop.wait_for_payment(&order_id, PaymentStatus::Voided, SAGA)
        .await
        .unwrap();
    seen.settle(&stack, QUIET).await;
    for never in [
        "inventory.stock.reserved.v1",
        "payments.payment_authorized.v1",
        "inventory.stock.committed.v1",
    ] {
        assert_eq!(
            seen.count(never, &order_id),
            0,
            "{never} in {:?}",
            seen.types(&order_id)
        );
    }
    let payments = shop.payments(&order_id).await.unwrap();
    assert_eq!(payments.len(), 1, "{payments:?}");
    assert!(payments[0].provider_reference.is_empty(), "{payments:?}");
    assert_eq!(stock(&shop, &sku).await.unwrap(), (2, 0, 2));
    stack.finish().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_cancel_while_reserved_releases_the_stock_and_voids_the_payment() {
    let mut stack = Stack::start(StackOptions::default()).await.unwrap();
    let shop = Shop::open(&stack).await.unwrap();
    let sku = shop.sellable_sku(800, 5).await.unwrap();
    let customer = shop.customer().await.unwrap();
    let mut seen = Seen::default();

    // Without payments-svc nothing authorizes, so the order stays RESERVED.
    stack.kill(Svc::Payments).await.unwrap();
    let order_id = shop.buy(&customer, &sku, 2).await.unwrap();
    shop.wait_for_status(&order_id, &[OrderStatus::Reserved], SAGA)
        .await
        .unwrap();
    assert_eq!(stock(&shop, &sku).await.unwrap(), (5, 2, 3));

    let canceled = shop
        .cancel(&customer, &order_id, "changed my mind")
        .await
        .unwrap();
    assert_eq!(canceled.status(), OrderStatus::Canceled);
    assert_eq!(canceled.cancellation_reason, "changed my mind");
    seen.wait_for(&stack, "orders.order_canceled.v1", &order_id, SAGA)
        .await;
    seen.wait_for(
        &stack,
        "inventory.stock.reservation_released.v1",
        &order_id,
        SAGA,
    )
    .await;
    assert_eq!(stock(&shop, &sku).await.unwrap(), (5, 0, 5));

    // payments-svc catches up on everything it missed and ends VOIDED,
    // whether or not it authorized first.
    stack.restart(Svc::Payments).await.unwrap();
    shop.wait_for_payment(&order_id, PaymentStatus::Voided, SAGA)
        .await
        .unwrap();
    seen.wait_for(&stack, "payments.payment_voided.v1", &order_id, SAGA)
        .await;
    seen.settle(&stack, QUIET).await;
    assert_eq!(
        seen.count("inventory.stock.committed.v1", &order_id),
        0,
        "{:?}",
        seen.types(&order_id)
    );
    let payments = shop.payments(&order_id).await.unwrap();
    assert_eq!(
        payments
            .iter()
            .map(|payment| payment.status())
            .collect::<Vec<_>>(),
        [PaymentStatus::Voided]
    );
    let order = shop.order(&customer, &order_id).await.unwrap();
    assert_eq!(order.status(), OrderStatus::Canceled);
    assert_eq!(stock(&shop, &sku).await.unwrap(), (5, 0, 5));
    stack.finish().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_reservation_cancels_the_order_releases_the_stock_and_voids_the_payment() {
    let mut stack = Stack::start(short_ttl()).await.unwrap();
    let shop = Shop::open(&stack).await.unwrap();
    let sku = shop.sellable_sku(800, 4).await.unwrap();
    let customer = shop.customer().await.unwrap();
    let mut seen = Seen::default();

    stack.kill(Svc::Payments).await.unwrap();
    let order_id = shop.buy(&customer, &sku, 3).await.unwrap();
    seen.wait_for(&stack, "inventory.stock.reserved.v1", &order_id, SAGA)
        .await;
    seen.wait_for(
        &stack,
        "inventory.stock.reservation_expired.v1",
        &order_id,
        SAGA,
    )
    .await;
    let order = shop
        .wait_for_status(&order_id, &[OrderStatus::Canceled], SAGA)
        .await
        .unwrap();
    assert!(!order.cancellation_reason.is_empty(), "{order:?}");
    let history: Vec<OrderStatus> = order
        .status_history
        .iter()
        .map(|change| change.status())
        .collect();
    assert_eq!(
        history,
        [
            OrderStatus::Pending,
            OrderStatus::Reserved,
            OrderStatus::Canceled
        ]
    );
    seen.wait_for(&stack, "orders.order_canceled.v1", &order_id, SAGA)
        .await;
    assert_eq!(stock(&shop, &sku).await.unwrap(), (4, 0, 4));

    stack.restart(Svc::Payments).await.unwrap();
    shop.wait_for_payment(&order_id, PaymentStatus::Voided, SAGA)
        .await
        .unwrap();
    seen.settle(&stack, QUIET).await;
    assert_eq!(
        seen.count("inventory.stock.committed.v1", &order_id),
        0,
        "{:?}",
        seen.types(&order_id)
    );
    assert_eq!(
        seen.count("inventory.stock.reservation_expired.v1", &order_id),
        1,
        "{:?}",
        seen.types(&order_id)
    );
    assert_eq!(stock(&shop, &sku).await.unwrap(), (4, 0, 4));
    let order = shop.order(&customer, &order_id).await.unwrap();
    assert_eq!(order.status(), OrderStatus::Canceled);
    stack.finish().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_authorization_after_expiry_never_commits_the_stock() {
    let mut stack = Stack::start(short_ttl()).await.unwrap();
    let shop = Shop::open(&stack).await.unwrap();
    let sku = shop.sellable_sku(800, 6).await.unwrap();
    let customer = shop.customer().await.unwrap();
    let mut seen = Seen::default();

    stack.kill(Svc::Payments).await.unwrap();
    let order_id = shop.buy(&customer, &sku, 2).await.unwrap();
    seen.wait_for(
        &stack,
        "inventory.stock.reservation_expired.v1",
        &order_id,
        SAGA,
    )
    .await;
    shop.wait_for_status(&order_id, &[OrderStatus::Canceled], SAGA)
        .await
        .unwrap();
    assert_eq!(stock(&shop, &sku).await.unwrap(), (6, 0, 6));

    // payments-svc now finds stock.reserved (and the expiry, and the
    // cancel) waiting: it may authorize late, but it must void in the end
    // and inventory must not commit an expired reservation.
    stack.restart(Svc::Payments).await.unwrap();
    shop.wait_for_payment(&order_id, PaymentStatus::Voided, SAGA)
        .await
        .unwrap();
    seen.wait_for(&stack, "payments.payment_voided.v1", &order_id, SAGA)
        .await;
    seen.settle(&stack, QUIET).await;
    let types = seen.types(&order_id);
    let expired = seen
        .position("inventory.stock.reservation_expired.v1", &order_id)
        .unwrap();
    if let Some(authorized) = seen.position("payments.payment_authorized.v1", &order_id) {
        eprintln!("payments authorized late: {types:?}");
        assert!(authorized > expired, "{types:?}");
        let voided = seen
            .position("payments.payment_voided.v1", &order_id)
            .unwrap();
        assert!(voided > authorized, "{types:?}");
    } else {
        eprintln!("payments voided the intent without authorizing: {types:?}");
    }
    assert!(
        seen.count("payments.payment_authorized.v1", &order_id) <= 1,
        "{types:?}"
    );
    for never in [
        "inventory.stock.committed.v1",
        "orders.order_confirmed.v1",
        "payments.payment_captured.v1",
    ] {
        assert_eq!(seen.count(never, &order_id), 0, "{never} in {types:?}");
    }
    assert_eq!(seen.count("payments.payment_voided.v1", &order_id), 1);
    assert_eq!(stock(&shop, &sku).await.unwrap(), (6, 0, 6));
    let order = shop.order(&customer, &order_id).await.unwrap();
    assert_eq!(order.status(), OrderStatus::Canceled);
    let payments = shop.payments(&order_id).await.unwrap();
    assert_eq!(
        payments
            .iter()
            .map(|payment| payment.status())
            .collect::<Vec<_>>(),
        [PaymentStatus::Voided]
    );
    assert!(shop.shipments(&order_id).await.unwrap().is_empty());
    stack.finish().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_or_expired_snapshot_is_refused_and_writes_nothing() {
    let stack = Stack::start(StackOptions::default()).await.unwrap();
    let shop = Shop::open(&stack).await.unwrap();
    let sku = shop.sellable_sku(1_000, 5).await.unwrap();
    let customer = shop.customer().await.unwrap();
    let before = order_rows(&stack).await.unwrap();

    // The bytes signed, then changed: the total lowered to 0.01 (a valid
    // snapshot in itself, but not the one signed).
    let genuine = signed_request(&shop, &customer, &sku, &Uuid::now_v7().to_string()).unwrap();
    let mut altered = orders_pb::CheckoutSnapshot::decode(genuine.snapshot.as_slice()).unwrap();
    altered.lines[0].unit_price = eur(1);
    altered.lines[0].line_total = eur(1);
    altered.subtotal = eur(1);
    altered.total = eur(501);
    let tampered = orders_pb::PlaceOrderRequest {
        snapshot: altered.encode_to_vec(),
        ..genuine.clone()
    };
    let refused = place_order(&shop, &customer, tampered).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    // One flipped byte anywhere is refused the same way.
    let mut flipped = genuine.clone();
    let middle = flipped.snapshot.len() / 2;
    flipped.snapshot[middle] ^= 0x01;
    let refused = place_order(&shop, &customer, flipped).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    // So is a changed signature.
    let mut resigned = genuine.clone();
    resigned.signature[0] ^= 0x80;
    let refused = place_order(&shop, &customer, resigned).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");

    // Correctly signed, but it expired a minute ago.
    let now = SystemTime::now();
    let stale = snapshot(
        &shop,
        &customer,
        &sku,
        &Uuid::now_v7().to_string(),
        now - Duration::from_secs(360),
        now - Duration::from_secs(60),
    );
    let keys = SnapshotKeys::from_env().unwrap();
    let expired = sign(&stale, keys.signing_key()).into_place_order_request();
    let refused = place_order(&shop, &customer, expired).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");

    assert_eq!(order_rows(&stack).await.unwrap(), before);
    stack
        .tap()
        .expect_no_event("orders.order_placed.v1", QUIET)
        .await;
    // The genuine request itself was fine all along.
    let order = place_order(&shop, &customer, genuine).await.unwrap();
    assert_eq!(order.status(), OrderStatus::Pending);
    assert_eq!(order.user_id, customer.user_id);
    assert_eq!(order_rows(&stack).await.unwrap().0, before.0 + 1);
    stack.finish().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_place_order_returns_the_same_order_and_places_it_once() {
    let stack = Stack::start(StackOptions::default()).await.unwrap();
    let shop = Shop::open(&stack).await.unwrap();
    let sku = shop.sellable_sku(1_000, 5).await.unwrap();
    let customer = shop.customer().await.unwrap();
    let mut seen = Seen::default();

    let request = signed_request(&shop, &customer, &sku, &Uuid::now_v7().to_string()).unwrap();
    let first = place_order(&shop, &customer, request.clone())
        .await
        .unwrap();
    let second = place_order(&shop, &customer, request.clone())
        .await
        .unwrap();
    assert_eq!(first.id, second.id);
    seen.wait_for(&stack, "orders.order_placed.v1", &first.id, SAGA)
        .await;
    shop.wait_for_status(&first.id, &[OrderStatus::Confirmed], SAGA)
        .await
        .unwrap();
    // Once more after the saga moved on: still the same order, as it is now.
    let third = place_order(&shop, &customer, request).await.unwrap();
    assert_eq!(third.id, first.id);
    assert_eq!(third.status(), OrderStatus::Confirmed);
    seen.settle(&stack, QUIET).await;
    assert_eq!(
        seen.count("orders.order_placed.v1", &first.id),
        1,
        "{:?}",
        seen.types(&first.id)
    );
    assert_eq!(seen.count("inventory.stock.reserved.v1", &first.id), 1);
    assert_eq!(order_rows(&stack).await.unwrap().0, 1);
    assert_eq!(stock(&shop, &sku).await.unwrap(), (4, 0, 4));
    stack.finish().await.unwrap();
}

/// Checkout idempotency keys are the customer's: Bob's checkout with the
/// key Alice used is his own checkout, with his own order, and it leaves
/// Alice's order alone. Sent straight to orders-svc, a genuine snapshot of
/// Bob's under the key orders holds Alice's order by is ALREADY_EXISTS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_checkout_key_from_two_customers_is_two_checkouts() {
    let stack = Stack::start(StackOptions::default()).await.unwrap();
    let shop = Shop::open(&stack).await.unwrap();
    let sku = shop.sellable_sku(1_000, 5).await.unwrap();
    let alice = shop.customer().await.unwrap();
    let bob = shop.customer().await.unwrap();
    let mut seen = Seen::default();

    let key = Uuid::now_v7().to_string();
    let args = CheckoutArgs {
        idempotency_key: key.clone(),
        ..CheckoutArgs::default()
    };
    shop.add_item(&alice, &sku, 1).await.unwrap();
    let alices = shop.checkout(&alice, &args).await.unwrap();
    shop.wait_for_status(&alices, &[OrderStatus::Confirmed], SAGA)
        .await
        .unwrap();

    // Bob, same key: his own order, of his own cart.
    shop.add_item(&bob, &sku, 2).await.unwrap();
    let bobs = shop.checkout(&bob, &args).await.unwrap();
    assert_ne!(bobs, alices);
    let bobs_order = shop
        .wait_for_status(&bobs, &[OrderStatus::Confirmed], SAGA)
        .await
        .unwrap();
    assert_eq!(bobs_order.user_id, bob.user_id);
    assert_eq!(bobs_order.lines[0].quantity, 2);
    // Each retry finds its own order.
    assert_eq!(shop.checkout(&alice, &args).await.unwrap(), alices);
    assert_eq!(shop.checkout(&bob, &args).await.unwrap(), bobs);

    // Straight to orders-svc: Alice's order holds the key cart derived for
    // her (`<user id>:<key>`); Bob's snapshot under it is refused.
    let before = order_rows(&stack).await.unwrap();
    let alices_key = format!("{}:{key}", alice.user_id);
    let request = signed_request(&shop, &bob, &sku, &alices_key).unwrap();
    let refused = place_order(&shop, &bob, request).await.unwrap_err();
    assert_eq!(refused.code(), Code::AlreadyExists, "{refused:?}");
    assert!(
        refused.message().starts_with("idempotency_key: "),
        "{refused:?}"
    );
    assert_eq!(order_rows(&stack).await.unwrap(), before);

    seen.settle(&stack, QUIET).await;
    let mut placed: Vec<&str> = seen
        .events
        .iter()
        .filter_map(|event| match &event.event {
            DecodedEvent::OrdersOrderPlacedV1(placed) => Some(placed.user_id.as_str()),
            _ => None,
        })
        .collect();
    placed.sort_unstable();
    let mut expected = [alice.user_id.as_str(), bob.user_id.as_str()];
    expected.sort_unstable();
    assert_eq!(placed, expected);
    stack.finish().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_customers_order_is_not_found_and_cannot_be_canceled() {
    let stack = Stack::start(StackOptions::default()).await.unwrap();
    let shop = Shop::open(&stack).await.unwrap();
    let sku = shop.sellable_sku(1_000, 5).await.unwrap();
    let alice = shop.customer().await.unwrap();
    let bob = shop.customer().await.unwrap();

    let order_id = shop.buy(&alice, &sku, 1).await.unwrap();
    let before = shop
        .wait_for_status(&order_id, &[OrderStatus::Confirmed], SAGA)
        .await
        .unwrap();
    stack.tap().drain(Duration::from_secs(1)).await;

    let refused = shop.order(&bob, &order_id).await.unwrap_err();
    assert_eq!(refused.code(), Code::NotFound, "{refused:?}");
    let refused = shop.cancel(&bob, &order_id, "not mine").await.unwrap_err();
    assert_eq!(refused.code(), Code::NotFound, "{refused:?}");
    // Exactly what an order that does not exist gets.
    let unknown = Uuid::now_v7().to_string();
    assert_eq!(
        shop.order(&bob, &unknown).await.unwrap_err().code(),
        Code::NotFound
    );
    assert_eq!(
        shop.cancel(&bob, &unknown, "x").await.unwrap_err().code(),
        Code::NotFound
    );

    stack
        .tap()
        .expect_no_event("orders.order_canceled.v1", QUIET)
        .await;
    let after = shop.order(&alice, &order_id).await.unwrap();
    assert_eq!(after.status(), OrderStatus::Confirmed);
    assert_eq!(after.status_history, before.status_history);
    assert_eq!(after.updated_at, before.updated_at);
    assert_eq!(stock(&shop, &sku).await.unwrap(), (4, 0, 4));
    stack.finish().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authorization_after_the_ttl_expires_the_reservation_instead_of_committing() {
    // The expiry worker never sweeps during the test: the reservation's TTL
    // runs out while it is still held, and the (late) authorization is what
    // finds it expired.
    let mut stack = Stack::start(
        StackOptions::default()
            .with_service_env(Svc::Inventory, "ORDER_RESERVATION_TTL_SECONDS", "2")
            .with_service_env(Svc::Inventory, "INVENTORY_EXPIRY_INTERVAL_MS", "3600000"),
    )
    .await
    .unwrap();
    let shop = Shop::open(&stack).await.unwrap();
    let sku = shop.sellable_sku(800, 6).await.unwrap();
    let customer = shop.customer().await.unwrap();
    let mut seen = Seen::default();

    stack.kill(Svc::Payments).await.unwrap();
    let order_id = shop.buy(&customer, &sku, 2).await.unwrap();
    let reserved = seen
        .wait_for(&stack, "inventory.stock.reserved.v1", &order_id, SAGA)
        .await;
    let DecodedEvent::InventoryStockReservedV1(reserved) = reserved.event else {
        unreachable!("matched on the event type")
    };
    let expires_at = SystemTime::try_from(reserved.expires_at.unwrap()).unwrap();
    shop.wait_for_status(&order_id, &[OrderStatus::Reserved], SAGA)
        .await
        .unwrap();
    // Past the TTL (with a margin for clock rounding); still held.
    while SystemTime::now() < expires_at + Duration::from_secs(1) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(stock(&shop, &sku).await.unwrap(), (6, 2, 4));

    // payments-svc authorizes (nothing canceled the order yet), inventory
    // must expire the reservation rather than commit it.
    stack.restart(Svc::Payments).await.unwrap();
    let authorized = seen
        .wait_for(&stack, "payments.payment_authorized.v1", &order_id, SAGA)
        .await;
    let expired = seen
        .wait_for(
            &stack,
            "inventory.stock.reservation_expired.v1",
            &order_id,
            SAGA,
        )
        .await;
    assert_eq!(
        expired.metadata.causation_id,
        Some(authorized.metadata.id.to_string()),
        "the authorization is what found the reservation expired"
    );
    let order = shop
        .wait_for_status(&order_id, &[OrderStatus::Canceled], SAGA)
        .await
        .unwrap();
    assert!(!order.cancellation_reason.is_empty(), "{order:?}");
    shop.wait_for_payment(&order_id, PaymentStatus::Voided, SAGA)
        .await
        .unwrap();
    seen.settle(&stack, QUIET).await;
    let types = seen.types(&order_id);
    for never in [
        "inventory.stock.committed.v1",
        "orders.order_confirmed.v1",
        "payments.payment_captured.v1",
    ] {
        assert_eq!(seen.count(never, &order_id), 0, "{never} in {types:?}");
    }
    assert_eq!(
        seen.count("inventory.stock.reservation_expired.v1", &order_id),
        1,
        "{types:?}"
    );
    assert_eq!(
        seen.count("payments.payment_voided.v1", &order_id),
        1,
        "{types:?}"
    );
    assert_eq!(stock(&shop, &sku).await.unwrap(), (6, 0, 6));
    let payments = shop.payments(&order_id).await.unwrap();
    assert_eq!(
        payments
            .iter()
            .map(|payment| payment.status())
            .collect::<Vec<_>>(),
        [PaymentStatus::Voided]
    );
    let order = shop.order(&customer, &order_id).await.unwrap();
    assert_eq!(order.status(), OrderStatus::Canceled);
    assert!(
        !order
            .status_history
            .iter()
            .any(|change| change.status() == OrderStatus::Confirmed),
        "{order:?}"
    );
    assert!(shop.shipments(&order_id).await.unwrap().is_empty());
    stack.finish().await.unwrap();
}
