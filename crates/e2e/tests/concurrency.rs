//! Concurrency across the real service processes: many checkouts racing for
//! the last units of one SKU, multi-SKU orders locking in opposite orders,
//! and every event of a finished saga delivered a second time.
//!
//! Inventory's model, in its own terms (`migrations/inventory/sql`,
//! `inventory-svc` `domain::reservation`): a reservation raises `reserved`,
//! a commit lowers both `on_hand` and `reserved`, a release lowers
//! `reserved`; `available = on_hand - reserved`. So per SKU, at any quiet
//! moment: the sum of the adjustments' deltas = `on_hand` + the committed
//! reservation lines' units, and `reserved` = the held reservation lines'
//! units.

// Test code, helpers included: a failure panics with a message saying what
// was expected (clippy exempts only the `#[test]` functions themselves).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ecommerce_broker::ConsumerQueue;
use ecommerce_broker::lapin::message::BasicGetMessage;
use ecommerce_broker::lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use ecommerce_broker::properties::from_basic_properties;
use ecommerce_e2e::shop::{DELIVERED_SAGA_EVENTS, OrderStatus};
use ecommerce_e2e::{CheckoutArgs, Session, Shop, Stack, StackOptions, Svc};
use ecommerce_proto::ecommerce::cart::v1 as cart_pb;
use ecommerce_proto::ecommerce::payments::v1::PaymentStatus;
use futures::StreamExt as _;
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement};
use tonic::Code;
use uuid::Uuid;

const SAGA: Duration = Duration::from_secs(60);
const TERMINAL: [OrderStatus; 3] = [
    OrderStatus::Confirmed,
    OrderStatus::Rejected,
    OrderStatus::Canceled,
];

/// Inventory handles 4 deliveries at once: with the second inventory
/// process the tests start, reservations of concurrent checkouts really
/// compete in the database (one consumer handling one message at a time
/// would serialize them and prove nothing about locking).
fn options() -> StackOptions {
    StackOptions::default().with_service_env(Svc::Inventory, "AMQP_CONSUMER_CONCURRENCY", "4")
}

/// `count` customers, `concurrency` sign-ups at a time, each retried a few
/// times: a sign-up that timed out under load is simply tried again (with a
/// fresh email, so nothing is signed up twice).
async fn customers(shop: &Shop, count: usize, concurrency: usize) -> Vec<Session> {
    futures::stream::iter(0..count)
        .map(|_| async move {
            let mut attempt = 0;
            loop {
                match shop.customer().await {
                    Ok(customer) => return customer,
                    Err(error) if attempt < 3 => {
                        attempt += 1;
                        eprintln!("sign-up retried after: {error:#}");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                    Err(error) => panic!("sign-up: {error:#}"),
                }
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await
}

/// AddItem, retried while the cart answers UNAVAILABLE ("retry later": the
/// catalog price quote it depends on timed out under load) or ABORTED (a
/// conflict that outlasted the cart's own retries).
async fn add_item(shop: &Shop, customer: &Session, sku: &str, quantity: i32) -> cart_pb::Cart {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match shop.add_item(customer, sku, quantity).await {
            Ok(cart) => return cart,
            Err(status)
                if matches!(status.code(), Code::Unavailable | Code::Aborted)
                    && Instant::now() < deadline =>
            {
                eprintln!("AddItem retried after: {status}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(status) => panic!("AddItem {sku}: {status}"),
        }
    }
}

fn sql(text: impl Into<String>) -> Statement {
    Statement::from_string(DatabaseBackend::Postgres, text.into())
}

/// The CHECK constraints of `table` in `schema`, as `pg_get_constraintdef`
/// prints them, without parentheses or spaces (`CHECKon_hand>=0AND...`).
async fn check_constraints(db: &DatabaseConnection, schema: &str, table: &str) -> Vec<String> {
    db.query_all_raw(sql(format!(
        "SELECT pg_get_constraintdef(c.oid) AS def \
         FROM pg_constraint c \
         JOIN pg_class t ON t.oid = c.conrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE n.nspname = '{schema}' AND t.relname = '{table}' AND c.contype = 'c'"
    )))
    .await
    .unwrap()
    .iter()
    .map(|row| {
        row.try_get::<String>("", "def")
            .unwrap()
            .chars()
            .filter(|c| !matches!(c, '(' | ')' | ' '))
            .collect()
    })
    .collect()
}

/// `(on_hand, reserved)` of `sku` straight from inventory's table.
async fn stock_row(db: &DatabaseConnection, schema: &str, sku: &str) -> (i32, i32) {
    let row = db
        .query_one_raw(sql(format!(
            "SELECT on_hand, reserved FROM {schema}.stock_levels WHERE sku = '{sku}'"
        )))
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no stock row for {sku}"));
    (
        row.try_get::<i32>("", "on_hand").unwrap(),
        row.try_get::<i32>("", "reserved").unwrap(),
    )
}

/// One SKU's stock and the ledgers that must explain it.
#[derive(Debug, PartialEq, Eq)]
struct Ledger {
    on_hand: i64,
    reserved: i64,
    /// Sum of the adjustments' deltas.
    adjusted: i64,
    /// Units of the lines of committed reservations.
    committed: i64,
    /// Units of the lines of held reservations.
    held: i64,
}

async fn ledger(stack: &Stack, sku: &str) -> Ledger {
    let schema = stack.schema(Svc::Inventory);
    let lines = |status: &str| {
        format!(
            "(SELECT COALESCE(SUM(l.quantity), 0)::bigint FROM {schema}.reservation_lines l \
             JOIN {schema}.reservations r ON r.id = l.reservation_id \
             WHERE l.sku = s.sku AND r.status = '{status}')"
        )
    };
    let row = stack
        .db(Svc::Inventory)
        .query_one_raw(sql(format!(
            "SELECT s.on_hand::bigint AS on_hand, s.reserved::bigint AS reserved, \
             (SELECT COALESCE(SUM(a.delta), 0)::bigint FROM {schema}.stock_adjustments a \
              WHERE a.sku = s.sku) AS adjusted, \
             {} AS committed, {} AS held \
             FROM {schema}.stock_levels s WHERE s.sku = '{sku}'",
            lines("committed"),
            lines("held"),
        )))
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no stock row for {sku}"));
    let get = |column: &str| row.try_get::<i64>("", column).unwrap();
    Ledger {
        on_hand: get("on_hand"),
        reserved: get("reserved"),
        adjusted: get("adjusted"),
        committed: get("committed"),
        held: get("held"),
    }
}

/// Asserts inventory's invariant for `sku`: every unit ever added is on
/// hand or left in a committed reservation; `reserved` is what held
/// reservations hold.
fn assert_ledger_balances(sku: &str, ledger: &Ledger) {
    assert_eq!(
        ledger.adjusted,
        ledger.on_hand + ledger.committed,
        "{sku}: adjustments = on hand + committed, in {ledger:?}"
    );
    assert_eq!(
        ledger.reserved, ledger.held,
        "{sku}: reserved = held lines, in {ledger:?}"
    );
    assert!(
        0 <= ledger.reserved && ledger.reserved <= ledger.on_hand,
        "{sku}: 0 <= reserved <= on hand, in {ledger:?}"
    );
}

async fn count(db: &DatabaseConnection, query: String) -> i64 {
    db.query_one_raw(sql(query))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap()
}

/// What the sampler saw while checkouts ran.
#[derive(Debug, Default)]
struct Samples {
    grpc_samples: usize,
    db_samples: usize,
    min_available_grpc: Option<i32>,
    min_available_db: Option<i32>,
    /// Every sample that broke `0 <= reserved <= on_hand` or
    /// `available = on_hand - reserved >= 0`.
    violations: Vec<String>,
}

/// Polls GetStock and the stock table every ~20 ms until `stop` is set.
fn spawn_sampler(
    stack: &Stack,
    shop: &Shop,
    sku: &str,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Samples> {
    let db = stack.db(Svc::Inventory).clone();
    let schema = stack.schema(Svc::Inventory).to_owned();
    let (shop, sku) = (shop.clone(), sku.to_owned());
    tokio::spawn(async move {
        let mut samples = Samples::default();
        while !stop.load(Ordering::SeqCst) {
            // A failed GetStock under load is not a stock violation; the
            // counts only matter when it answers.
            if let Ok(level) = shop.stock(&sku).await {
                samples.grpc_samples += 1;
                samples.min_available_grpc = Some(
                    samples
                        .min_available_grpc
                        .map_or(level.available, |min| min.min(level.available)),
                );
                if level.on_hand < 0
                    || level.reserved < 0
                    || level.reserved > level.on_hand
                    || level.available < 0
                    || level.available != level.on_hand - level.reserved
                {
                    samples.violations.push(format!("GetStock {level:?}"));
                }
            }
            let (on_hand, reserved) = stock_row(&db, &schema, &sku).await;
            samples.db_samples += 1;
            let available = on_hand - reserved;
            samples.min_available_db = Some(
                samples
                    .min_available_db
                    .map_or(available, |min| min.min(available)),
            );
            if on_hand < 0 || reserved < 0 || reserved > on_hand {
                samples.violations.push(format!(
                    "stock_levels on_hand {on_hand} reserved {reserved}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        samples
    })
}

/// Fires one checkout per customer, all released at once by a barrier;
/// returns each customer's result in customer order.
async fn checkout_all_at_once(
    shop: &Shop,
    customers: &[Session],
) -> Vec<Result<String, tonic::Status>> {
    let barrier = Arc::new(tokio::sync::Barrier::new(customers.len()));
    let mut tasks = Vec::new();
    for customer in customers {
        let (shop, customer, barrier) = (shop.clone(), customer.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            shop.checkout(&customer, &CheckoutArgs::default()).await
        }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

/// Waits until every order is terminal; returns the statuses by order id.
async fn wait_all_terminal(
    shop: &Shop,
    order_ids: &[String],
    timeout: Duration,
) -> BTreeMap<String, OrderStatus> {
    futures::stream::iter(order_ids.iter().cloned())
        .map(|order_id| async move {
            let order = shop
                .wait_for_status(&order_id, &TERMINAL, timeout)
                .await
                .unwrap();
            (order_id, order.status())
        })
        .buffer_unordered(10)
        .collect()
        .await
}

fn tally(statuses: &BTreeMap<String, OrderStatus>) -> BTreeMap<String, usize> {
    let mut tally = BTreeMap::new();
    for status in statuses.values() {
        *tally.entry(format!("{status:?}")).or_insert(0) += 1;
    }
    tally
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_checkouts_for_ten_units_confirm_exactly_ten_and_never_oversell() {
    const STOCK: i32 = 10;
    const BUYERS: usize = 100;
    let started = Instant::now();
    let mut stack = Stack::start(options()).await.unwrap();
    // A second inventory process competes for the same queue and rows.
    stack.spawn_extra(Svc::Inventory, &[]).await.unwrap();
    let shop = Shop::open(&stack).await.unwrap();
    let sku = shop.sellable_sku(1000, STOCK).await.unwrap();
    let schema = stack.schema(Svc::Inventory).to_owned();
    let db = stack.db(Svc::Inventory);

    // (a) The database itself forbids negative stock and over-reservation.
    let checks = check_constraints(db, &schema, "stock_levels").await;
    assert!(
        checks.iter().any(|check| check.contains("on_hand>=0")
            && check.contains("reserved>=0")
            && check.contains("reserved<=on_hand")),
        "stock_levels has CHECK (on_hand >= 0 AND reserved >= 0 AND reserved <= on_hand): {checks:?}"
    );
    let line_checks = check_constraints(db, &schema, "reservation_lines").await;
    assert!(
        line_checks.iter().any(|check| check.contains("quantity>0")),
        "reservation_lines has CHECK (quantity > 0): {line_checks:?}"
    );
    // And enforces them: writes that would break them are refused.
    for assignment in ["reserved = on_hand + 1", "on_hand = -1", "reserved = -1"] {
        let refused = db
            .execute_raw(sql(format!(
                "UPDATE {schema}.stock_levels SET {assignment} WHERE sku = '{sku}'"
            )))
            .await;
        assert!(
            refused.is_err(),
            "`SET {assignment}` must violate a CHECK constraint"
        );
    }
    assert_eq!(stock_row(db, &schema, &sku).await, (STOCK, 0));

    let customers = customers(&shop, BUYERS, 8).await;
    for cart in futures::stream::iter(&customers)
        .map(|customer| add_item(&shop, customer, &sku, 1))
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await
    {
        assert_eq!(cart.lines.len(), 1, "{cart:?}");
        assert_eq!(cart.lines[0].quantity, 1, "{cart:?}");
    }
    let prepared = started.elapsed();

    // (b) A sampler watches the stock while every checkout races.
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = spawn_sampler(&stack, &shop, &sku, stop.clone());
    let results = checkout_all_at_once(&shop, &customers).await;
    let failed: Vec<String> = results
        .iter()
        .filter_map(|result| result.as_ref().err().map(ToString::to_string))
        .collect();
    assert!(failed.is_empty(), "every checkout is accepted: {failed:?}");
    let order_ids: Vec<String> = results.into_iter().map(Result::unwrap).collect();
    assert_eq!(order_ids.iter().collect::<BTreeSet<_>>().len(), BUYERS);

    let statuses = wait_all_terminal(&shop, &order_ids, Duration::from_secs(120)).await;
    stop.store(true, Ordering::SeqCst);
    let samples = sampler.await.unwrap();
    let tally = tally(&statuses);
    assert_eq!(
        tally,
        BTreeMap::from([
            ("Confirmed".to_owned(), STOCK as usize),
            ("Rejected".to_owned(), BUYERS - STOCK as usize)
        ]),
        "exactly the stock is sold, the rest rejected"
    );
    assert!(
        samples.violations.is_empty(),
        "stock broke its invariant while checkouts ran: {:?}",
        samples.violations
    );
    assert!(samples.grpc_samples > 0 && samples.db_samples > 0);
    assert!(samples.min_available_grpc.unwrap() >= 0, "{samples:?}");
    assert!(samples.min_available_db.unwrap() >= 0, "{samples:?}");

    // (c) Everything sold, nothing left reserved, and the ledgers agree.
    let level = shop.stock(&sku).await.unwrap();
    assert_eq!((level.on_hand, level.reserved, level.available), (0, 0, 0));
    let ledger = ledger(&stack, &sku).await;
    assert_ledger_balances(&sku, &ledger);
    assert_eq!(
        ledger,
        Ledger {
            on_hand: 0,
            reserved: 0,
            adjusted: i64::from(STOCK),
            committed: i64::from(STOCK),
            held: 0
        }
    );
    let committed = count(
        db,
        format!("SELECT count(*) AS n FROM {schema}.reservations WHERE status = 'committed'"),
    )
    .await;
    let others = count(
        db,
        format!("SELECT count(*) AS n FROM {schema}.reservations WHERE status <> 'committed'"),
    )
    .await;
    let failures = count(
        db,
        format!("SELECT count(*) AS n FROM {schema}.reservation_failures"),
    )
    .await;
    assert_eq!(
        (committed, others, failures),
        (i64::from(STOCK), 0, (BUYERS as i64) - i64::from(STOCK)),
        "one committed reservation per confirmed order, one failure per rejected order"
    );
    eprintln!(
        "oversell: {BUYERS} customers ready after {prepared:?}, done after {:?}; {samples:?}",
        started.elapsed()
    );
    stack.finish().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sku_orders_locking_in_opposite_orders_all_confirm() {
    const STOCK: i32 = 100;
    const PER_DIRECTION: usize = 15;
    let started = Instant::now();
    let mut stack = Stack::start(options()).await.unwrap();
    // A second inventory process competes for the same queue and rows.
    stack.spawn_extra(Svc::Inventory, &[]).await.unwrap();
    let shop = Shop::open(&stack).await.unwrap();
    let sku_a = shop.sellable_sku(1200, STOCK).await.unwrap();
    let sku_b = shop.sellable_sku(3400, STOCK).await.unwrap();
    let customers = customers(&shop, 2 * PER_DIRECTION, 8).await;
    // Half fill A then B, half B then A: the cart (and so the order) lists
    // the lines in opposite orders.
    futures::stream::iter(customers.iter().enumerate())
        .map(|(index, customer)| {
            let (first, second) = if index < PER_DIRECTION {
                (&sku_a, &sku_b)
            } else {
                (&sku_b, &sku_a)
            };
            let shop = &shop;
            async move {
                add_item(shop, customer, first, 1).await;
                let cart = add_item(shop, customer, second, 1).await;
                (cart, [first.clone(), second.clone()])
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .for_each(|added| {
            let (cart, added) = added;
            let skus: Vec<String> = cart.lines.iter().map(|line| line.sku.clone()).collect();
            assert_eq!(skus, added, "the cart keeps the order items were added in");
            assert!(cart.lines.iter().all(|line| line.quantity == 1), "{cart:?}");
        });

    let results = checkout_all_at_once(&shop, &customers).await;
    let failed: Vec<String> = results
        .iter()
        .filter_map(|result| result.as_ref().err().map(ToString::to_string))
        .collect();
    assert!(failed.is_empty(), "every checkout returns OK: {failed:?}");
    let order_ids: Vec<String> = results.into_iter().map(Result::unwrap).collect();
    let statuses = wait_all_terminal(&shop, &order_ids, Duration::from_secs(120)).await;
    assert_eq!(
        tally(&statuses),
        BTreeMap::from([("Confirmed".to_owned(), 2 * PER_DIRECTION)]),
        "every order confirms"
    );
    for order_id in &order_ids {
        let order = shop.order(&shop.admin, order_id).await.unwrap();
        assert_eq!(order.lines.len(), 2, "{order:?}");
    }

    let sold = i32::try_from(2 * PER_DIRECTION).unwrap();
    for sku in [&sku_a, &sku_b] {
        let level = shop.stock(sku).await.unwrap();
        assert_eq!(
            (level.on_hand, level.reserved, level.available),
            (STOCK - sold, 0, STOCK - sold),
            "{sku}"
        );
        let ledger = ledger(&stack, sku).await;
        assert_ledger_balances(sku, &ledger);
        assert_eq!(ledger.committed, i64::from(sold), "{sku}: {ledger:?}");
    }
    eprintln!("opposite lock orders: done after {:?}", started.elapsed());
    stack.finish().await.unwrap();
}

/// Every message on the tap until it stays empty for `quiet`, raw.
async fn drain_raw(stack: &Stack, quiet: Duration) -> Vec<BasicGetMessage> {
    let queue = format!("{}tap", stack.broker().prefix);
    let mut messages = Vec::new();
    let mut last = Instant::now();
    loop {
        if let Some(message) = stack.admin().get(&queue).await {
            messages.push(message);
            last = Instant::now();
        } else if last.elapsed() >= quiet {
            return messages;
        } else {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A raw message's envelope id and correlation id (the message must decode).
fn envelope(message: &BasicGetMessage) -> (Uuid, Option<String>) {
    let properties = from_basic_properties(&message.delivery.properties);
    let received = ecommerce_events::decode(&properties, &message.delivery.data)
        .unwrap_or_else(|error| panic!("a tapped message does not decode: {error}"));
    (received.metadata.id, received.metadata.correlation_id)
}

/// Rows of every outbox table of every service, by `service.table`.
async fn outbox_rows(stack: &Stack) -> BTreeMap<String, i64> {
    let mut rows = BTreeMap::new();
    for service in Svc::ALL {
        let schema = stack.schema(service);
        let db = stack.db(service);
        let tables = db
            .query_all_raw(sql(format!(
                "SELECT table_name::text AS name FROM information_schema.tables \
                 WHERE table_schema = '{schema}' AND table_name LIKE '%outbox%' \
                 AND table_type = 'BASE TABLE'"
            )))
            .await
            .unwrap();
        for table in tables {
            let table: String = table.try_get("", "name").unwrap();
            let n = count(
                db,
                format!("SELECT count(*) AS n FROM {schema}.\"{table}\""),
            )
            .await;
            rows.insert(format!("{}.{table}", service.binary()), n);
        }
    }
    rows
}

/// Waits until no consumer queue has a ready delivery.
async fn wait_consumers_idle(stack: &Stack, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    for queue in ConsumerQueue::ALL {
        let name = stack.broker().names().queue(queue).to_owned();
        let left = stack
            .admin()
            .wait_for_message_count(&name, 0, deadline.saturating_duration_since(Instant::now()))
            .await;
        assert_eq!(left, 0, "{name} still has ready deliveries");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_saga_event_delivered_twice_changes_nothing() {
    let started = Instant::now();
    let stack = Stack::start(options()).await.unwrap();
    let shop = Shop::open(&stack).await.unwrap();
    let sku = shop.sellable_sku(2500, 5).await.unwrap();
    let customer = shop.customer().await.unwrap();
    shop.add_item(&customer, &sku, 2).await.unwrap();
    let args = CheckoutArgs::default();
    let order_id = shop.checkout(&customer, &args).await.unwrap();
    shop.wait_for_status(&order_id, &[OrderStatus::Confirmed], SAGA)
        .await
        .unwrap();
    let shipment = shop.wait_for_shipment(&order_id, SAGA).await.unwrap();
    shop.mark_shipped(&shipment.id).await.unwrap();
    shop.wait_for_status(&order_id, &[OrderStatus::Shipped], SAGA)
        .await
        .unwrap();
    shop.wait_for_payment(&order_id, PaymentStatus::Captured, SAGA)
        .await
        .unwrap();
    shop.mark_delivered(&shipment.id).await.unwrap();
    shop.wait_for_status(&order_id, &[OrderStatus::Delivered], SAGA)
        .await
        .unwrap();

    // Every event so far, raw; the saga's are those of the checkout's
    // correlation id.
    let original = drain_raw(&stack, Duration::from_secs(3)).await;
    let mut saga = Vec::new();
    let mut seen_ids = BTreeSet::new();
    for message in original {
        let (id, correlation_id) = envelope(&message);
        seen_ids.insert(id);
        if correlation_id.as_deref() == Some(args.correlation_id.as_str()) {
            saga.push((id, message));
        }
    }
    let saga_types: Vec<String> = saga
        .iter()
        .map(|(_, message)| from_basic_properties(&message.delivery.properties).event_type)
        .collect();
    for expected in DELIVERED_SAGA_EVENTS {
        assert!(
            saga_types.iter().any(|seen| seen == expected),
            "{expected} in {saga_types:?}"
        );
    }

    let order_before = shop.order(&shop.admin, &order_id).await.unwrap();
    let stock_before = shop.stock(&sku).await.unwrap();
    let ledger_before = ledger(&stack, &sku).await;
    let payments_before = shop.payments(&order_id).await.unwrap();
    let shipments_before = shop.shipments(&order_id).await.unwrap();
    let outbox_before = outbox_rows(&stack).await;
    assert_eq!(payments_before.len(), 1, "{payments_before:?}");
    assert_eq!(shipments_before.len(), 1, "{shipments_before:?}");

    // Each saga message again, unchanged, to the exchange it came through.
    let channel = stack.admin().channel().await;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    for (_, message) in &saga {
        let delivery = &message.delivery;
        let confirmation = channel
            .basic_publish(
                delivery.exchange.clone(),
                delivery.routing_key.clone(),
                BasicPublishOptions::default(),
                &delivery.data,
                delivery.properties.clone(),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        assert!(confirmation.is_ack(), "{confirmation:?}");
    }
    let _ = channel.close(200, "republished".into()).await;

    // Every consumer has taken its copies; give them time to act on them.
    wait_consumers_idle(&stack, SAGA).await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    // Only the copies came back through the tap: nothing new was published.
    let after = drain_raw(&stack, Duration::from_secs(3)).await;
    let saga_ids: BTreeSet<Uuid> = saga.iter().map(|(id, _)| *id).collect();
    let mut copies = Vec::new();
    for message in &after {
        let (id, _) = envelope(message);
        assert!(
            saga_ids.contains(&id),
            "a new event appeared after the duplicates: {} {id} (known before: {})",
            from_basic_properties(&message.delivery.properties).event_type,
            seen_ids.contains(&id)
        );
        copies.push(id);
    }
    let mut expected_copies: Vec<Uuid> = saga_ids.iter().copied().collect();
    copies.sort();
    expected_copies.sort();
    assert_eq!(
        copies, expected_copies,
        "each republished copy once, nothing else"
    );

    assert_eq!(
        shop.order(&shop.admin, &order_id).await.unwrap(),
        order_before,
        "order (status, history, version) unchanged"
    );
    assert_eq!(shop.stock(&sku).await.unwrap(), stock_before);
    assert_eq!(ledger(&stack, &sku).await, ledger_before);
    assert_eq!(shop.payments(&order_id).await.unwrap(), payments_before);
    assert_eq!(shop.shipments(&order_id).await.unwrap(), shipments_before);
    assert_eq!(outbox_rows(&stack).await, outbox_before);
    for queue in ConsumerQueue::ALL {
        let dlq = stack.broker().names().dead_letter_queue(queue);
        assert_eq!(
            stack.admin().message_count(&dlq).await,
            0,
            "no duplicate was dead-lettered to {dlq}"
        );
    }
    eprintln!(
        "duplicates: {} saga events republished, done after {:?}",
        saga.len(),
        started.elapsed()
    );
    stack.finish().await.unwrap();
}
