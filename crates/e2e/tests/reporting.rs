//! reporting-svc in the whole stack. After 50 checkouts of every fate
//! (confirmed and kept, shipped and delivered, canceled by the customer,
//! declined by the card, rejected for stock, and a last one left RESERVED
//! with payments-svc down), a product renamed, a variant discontinued and a
//! restock, each report agrees, figure for figure, with what the services
//! that own the facts say; and every report is for admins only and checks
//! its request.
//!
//! Where each expected figure comes from:
//! - orders-svc's GetOrder (as the admin), for every order: the status
//!   history (placed, confirmed), the status, the rejection reason, the
//!   cancellation cause, the total and the lines;
//! - payments-svc's ListPayments, per order: authorized (`authorized_at`),
//!   captured (status and amount), the failure reasons;
//! - inventory-svc's GetStock, per SKU (on hand, reserved, available); and
//!   its schema for the two figures no RPC shows: which orders got a
//!   reservation (`reservations`) and why the others did not
//!   (`reservation_failures`);
//! - catalog-svc's answers to the test's own calls (product ids, the
//!   titles after a rename, the discontinued SKU).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use ecommerce_e2e::shop::{self, CARD_DECLINED, CARD_OK, OrderStatus};
use ecommerce_e2e::{CheckoutArgs, SellableSku, Session, Shop, Stack, StackOptions, Svc};
use ecommerce_proto::ecommerce::common::v1::Money;
use ecommerce_proto::ecommerce::inventory::v1::StockStatus;
use ecommerce_proto::ecommerce::orders::v1::Order;
use ecommerce_proto::ecommerce::payments::v1::{Payment, PaymentStatus};
use ecommerce_proto::ecommerce::reporting::v1 as pb;
use ecommerce_proto::ecommerce::reporting::v1::reporting_service_client::ReportingServiceClient;
use ecommerce_test_support::with_bearer;
use futures::StreamExt as _;
use prost_types::Timestamp;
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
use tonic::transport::Channel;
use tonic::{Code, Status};

const SAGA: Duration = Duration::from_secs(60);
/// How long the reports get to catch up with the services once these
/// have settled.
const CATCH_UP: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(250);

const CHECKOUTS: usize = 50;
/// Each customer checks out `CHECKOUTS / CUSTOMERS` times, one after the
/// other; the customers at once.
const CUSTOMERS: usize = 10;
/// Unit prices (EUR cents) of the test's SKUs.
const PRICES: [i64; 4] = [1_250, 899, 4_999, 350];
/// Units stocked beyond what the checkouts that are not meant to fail for
/// stock ask for (so none of those does, in any order of arrival).
const MARGINS: [i32; 4] = [1, 3, 0, 6];
/// The SKU whose product is renamed after the checkouts: its reports show
/// the new title, its order lines the old one.
const RENAMED: usize = 1;
/// The SKU discontinued after the checkouts: out of the stock report,
/// still among the best sellers.
const DISCONTINUED: usize = 3;
/// The SKU restocked after the checkouts (an absolute on-hand in the event).
const RESTOCKED: usize = 2;
const RESTOCK: i32 = 3;

/// How a checkout is meant to end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    /// CONFIRMED, and left there.
    Keep,
    /// CONFIRMED, then shipped and delivered: the payment is captured.
    Ship,
    /// CONFIRMED, then canceled by the customer: restocked, voided.
    Cancel,
    /// `pm_card_declined`: CANCELED for PAYMENT_FAILED.
    Declined,
    /// A line of more units than the SKU ever had: REJECTED.
    OutOfStock,
    /// Placed while payments-svc is down, after the others settled: stays
    /// RESERVED, its units held (the only reservation the reports see held).
    Held,
}

use Fate::{Cancel, Declined, Held, Keep, OutOfStock, Ship};

/// Fates of checkouts 0..25, repeated: 22 kept, 6 shipped, 6 canceled,
/// 10 declined, 6 out of stock; except the last checkout, [`Held`] instead
/// of kept.
const FATES: [Fate; 25] = [
    Keep, Ship, Cancel, Declined, OutOfStock, Keep, Keep, Declined, Keep, Cancel, Ship, OutOfStock,
    Keep, Declined, Keep, Keep, Ship, Cancel, Declined, OutOfStock, Keep, Keep, Declined, Keep,
    Keep,
];

/// Checkout `index`'s fate and lines (SKU index, quantity).
struct Plan {
    fate: Fate,
    lines: Vec<(usize, i32)>,
}

/// The 50 checkouts and the stock of each SKU: every line that is not
/// meant to fail fits, every out-of-stock order asks one unit more than
/// its SKU ever had.
fn plans() -> (Vec<Plan>, [i32; 4]) {
    let mut demand = [0; 4];
    let mut plans: Vec<Plan> = (0..CHECKOUTS)
        .map(|index| {
            let fate = if index == CHECKOUTS - 1 {
                Held
            } else {
                FATES[index % FATES.len()]
            };
            let mut lines = vec![(index % 4, 1 + (index % 3) as i32)];
            if fate != OutOfStock && index % 4 == 1 {
                lines.push(((index + 2) % 4, 2));
            }
            if fate != OutOfStock {
                for &(sku, quantity) in &lines {
                    demand[sku] += quantity;
                }
            } else {
                lines.truncate(1);
                lines[0].1 = 1;
            }
            Plan { fate, lines }
        })
        .collect();
    let on_hand: [i32; 4] = std::array::from_fn(|sku| demand[sku] + MARGINS[sku]);
    for (index, plan) in plans.iter_mut().enumerate() {
        if plan.fate == OutOfStock {
            let short = (index + 1) % 4;
            plan.lines.push((short, on_hand[short] + 1));
        }
    }
    assert!(
        plans
            .iter()
            .all(|plan| plan.lines.iter().all(|line| line.1 <= 99)),
        "a cart line holds at most 99 units"
    );
    (plans, on_hand)
}

struct Placed {
    fate: Fate,
    customer: Session,
    order_id: String,
}

/// A call retried while the service answers UNAVAILABLE or ABORTED (a
/// dependency timed out under load, a conflict outlasted its retries).
async fn retried<T, F, Fut>(what: &str, mut call: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Status>>,
{
    let deadline = Instant::now() + SAGA;
    loop {
        match call().await {
            Ok(value) => return value,
            Err(status)
                if matches!(status.code(), Code::Unavailable | Code::Aborted)
                    && Instant::now() < deadline =>
            {
                eprintln!("{what} retried after: {status}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(status) => panic!("{what}: {status}"),
        }
    }
}

/// Fills the customer's cart with the plan's lines and checks out.
async fn place(shop: &Shop, skus: &[SellableSku], customer: &Session, plan: &Plan) -> String {
    for &(sku, quantity) in &plan.lines {
        let sku = &skus[sku].sku;
        retried("AddItem", || shop.add_item(customer, sku, quantity)).await;
    }
    let args = CheckoutArgs {
        payment_method_token: if plan.fate == Declined {
            CARD_DECLINED
        } else {
            CARD_OK
        }
        .to_owned(),
        ..Default::default()
    };
    retried("Checkout", || shop.checkout(customer, &args)).await
}

/// Takes the order to its planned end and waits for its payment to settle.
async fn drive(shop: &Shop, placed: &Placed) {
    let id = &placed.order_id;
    let (status, payment) = match placed.fate {
        Keep => (OrderStatus::Confirmed, PaymentStatus::Authorized),
        Ship => (OrderStatus::Delivered, PaymentStatus::Captured),
        Cancel => (OrderStatus::Canceled, PaymentStatus::Voided),
        Declined => (OrderStatus::Canceled, PaymentStatus::Failed),
        OutOfStock => (OrderStatus::Rejected, PaymentStatus::Voided),
        Held => unreachable!("a held order is placed and left"),
    };
    if matches!(placed.fate, Ship | Cancel) {
        shop.wait_for_status(id, &[OrderStatus::Confirmed], SAGA)
            .await
            .unwrap();
    }
    match placed.fate {
        Ship => {
            let shipment = shop.wait_for_shipment(id, SAGA).await.unwrap();
            shop.mark_shipped(&shipment.id).await.unwrap();
            shop.mark_delivered(&shipment.id).await.unwrap();
        }
        Cancel => {
            let canceled = shop
                .cancel(&placed.customer, id, "changed my mind")
                .await
                .unwrap();
            assert_eq!(canceled.status(), OrderStatus::Canceled, "{canceled:?}");
        }
        Keep | Declined | OutOfStock | Held => {}
    }
    shop.wait_for_status(id, &[status], SAGA).await.unwrap();
    shop.wait_for_payment(id, payment, SAGA).await.unwrap();
}

fn sql(text: String) -> Statement {
    Statement::from_string(DatabaseBackend::Postgres, text)
}

/// `(value, count)` rows of `SELECT <column>, count(*) ... GROUP BY 1` on
/// one of inventory's tables.
async fn inventory_counts(stack: &Stack, table: &str, column: &str) -> BTreeMap<String, i64> {
    let schema = stack.schema(Svc::Inventory);
    stack
        .db(Svc::Inventory)
        .query_all_raw(sql(format!(
            "SELECT {column}::text AS value, count(*) AS count FROM {schema}.{table} GROUP BY 1"
        )))
        .await
        .unwrap()
        .iter()
        .map(|row| {
            (
                row.try_get::<String>("", "value").unwrap(),
                row.try_get::<i64>("", "count").unwrap(),
            )
        })
        .collect()
}

/// Polls inventory's reservations until each has its planned end: the
/// restocks of canceled orders and the releases of declined ones follow
/// the order's status asynchronously.
async fn wait_for_reservations(stack: &Stack, placed: &[Placed]) {
    let count = |fates: &[Fate]| {
        placed
            .iter()
            .filter(|placed| fates.contains(&placed.fate))
            .count() as i64
    };
    let expected: BTreeMap<String, i64> = [
        ("committed", count(&[Keep, Ship])),
        ("restocked", count(&[Cancel])),
        ("released", count(&[Declined])),
        ("held", count(&[Held])),
    ]
    .into_iter()
    .filter(|(_, count)| *count > 0)
    .map(|(status, count)| (status.to_owned(), count))
    .collect();
    let deadline = Instant::now() + SAGA;
    loop {
        let statuses = inventory_counts(stack, "reservations", "status").await;
        if statuses == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "reservations {statuses:?}, expected {expected:?}"
        );
        tokio::time::sleep(POLL).await;
    }
}

fn timestamp(at: SystemTime) -> Option<Timestamp> {
    Some(at.into())
}

fn eur(amount_minor: i64) -> Money {
    Money {
        amount_minor,
        currency: shop::CURRENCY.to_owned(),
    }
}

/// A sales figure, comparable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Figure {
    count: i64,
    amount_minor: i64,
}

impl Figure {
    fn add(&mut self, amount_minor: i64) {
        self.count += 1;
        self.amount_minor += amount_minor;
    }
}

/// One currency's figures, summed over the periods.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Sales {
    placed: Figure,
    confirmed: Figure,
    rejected: Figure,
    canceled: Figure,
    captured: Figure,
}

/// A row of the stock report without its time.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Level {
    sku: String,
    product_id: String,
    title: String,
    on_hand: i32,
    reserved: i32,
    available: i32,
}

/// Every report the test reads.
#[derive(Clone, Debug, PartialEq)]
struct Reports {
    /// GetSalesSummary by DAY, in pages of one period, summed per currency
    /// (the range may hold two days: it spans midnight for two hours a day).
    sales_by_day: BTreeMap<String, Sales>,
    sales_by_week: BTreeMap<String, Sales>,
    sales_by_month: BTreeMap<String, Sales>,
    /// Only USD: none.
    sales_in_usd: BTreeMap<String, Sales>,
    /// TopProducts with limit 0 (10: every SKU of the test).
    top: Vec<pb::ProductSales>,
    top_two: Vec<pb::ProductSales>,
    funnel: pb::GetFunnelResponse,
    /// ListLowStock with a threshold above every SKU, in pages of two.
    low_stock: Vec<Level>,
    /// ListLowStock at the second-lowest available of the expected list.
    low_stock_at_most: Vec<Level>,
}

struct Reader {
    client: ReportingServiceClient<Channel>,
    token: String,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
    started: SystemTime,
}

impl Reader {
    /// Every period of the summary, checking what each must hold.
    async fn sales(&self, granularity: pb::Granularity, currency: &str) -> BTreeMap<String, Sales> {
        let mut periods = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = self
                .client
                .clone()
                .get_sales_summary(with_bearer(
                    pb::GetSalesSummaryRequest {
                        from: self.from,
                        to: self.to,
                        granularity: granularity.into(),
                        currency: currency.to_owned(),
                        page_size: 1,
                        page_token: page_token.clone(),
                    },
                    &self.token,
                ))
                .await
                .unwrap()
                .into_inner();
            assert!(page.periods.len() <= 1, "page_size 1: {page:?}");
            periods.extend(page.periods);
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        let mut sums: BTreeMap<String, Sales> = BTreeMap::new();
        let mut previous: Option<(i64, String)> = None;
        for period in &periods {
            let start = period.period_start.expect("period_start");
            assert!(
                start.nanos == 0 && start.seconds % 86_400 == 0,
                "{granularity:?}: a period starts at UTC midnight: {period:?}"
            );
            if granularity == pb::Granularity::Week {
                // 1970-01-01 was a Thursday.
                assert_eq!((start.seconds / 86_400 + 3) % 7, 0, "a Monday: {period:?}");
            }
            let key = (start.seconds, period.currency.clone());
            assert!(
                previous.as_ref().is_none_or(|previous| *previous < key),
                "{granularity:?}: periods by start, then currency, once each: {periods:?}"
            );
            previous = Some(key);
            let sales = sums.entry(period.currency.clone()).or_default();
            for (figure, sum) in [
                (&period.placed, &mut sales.placed),
                (&period.confirmed, &mut sales.confirmed),
                (&period.rejected, &mut sales.rejected),
                (&period.canceled, &mut sales.canceled),
                (&period.captured, &mut sales.captured),
            ] {
                let figure = figure
                    .as_ref()
                    .unwrap_or_else(|| panic!("every figure is present: {period:?}"));
                let amount = figure
                    .amount
                    .as_ref()
                    .unwrap_or_else(|| panic!("every figure has an amount: {period:?}"));
                assert_eq!(amount.currency, period.currency, "{period:?}");
                sum.count += figure.count;
                sum.amount_minor += amount.amount_minor;
            }
        }
        sums
    }

    async fn top(&self, limit: i32) -> Vec<pb::ProductSales> {
        self.client
            .clone()
            .top_products(with_bearer(
                pb::TopProductsRequest {
                    from: self.from,
                    to: self.to,
                    limit,
                },
                &self.token,
            ))
            .await
            .unwrap()
            .into_inner()
            .products
    }

    async fn funnel(&self) -> pb::GetFunnelResponse {
        self.client
            .clone()
            .get_funnel(with_bearer(
                pb::GetFunnelRequest {
                    from: self.from,
                    to: self.to,
                },
                &self.token,
            ))
            .await
            .unwrap()
            .into_inner()
    }

    /// Every page of ListLowStock at `threshold`, two SKUs a page.
    async fn low_stock(&self, threshold: i32) -> Vec<Level> {
        let mut levels = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = self
                .client
                .clone()
                .list_low_stock(with_bearer(
                    pb::ListLowStockRequest {
                        threshold,
                        page_size: 2,
                        page_token: page_token.clone(),
                    },
                    &self.token,
                ))
                .await
                .unwrap()
                .into_inner();
            assert!(page.stock_levels.len() <= 2, "page_size 2: {page:?}");
            for level in page.stock_levels {
                let updated_at: SystemTime = level
                    .updated_at
                    .expect("updated_at")
                    .try_into()
                    .expect("a time");
                assert!(
                    self.started - Duration::from_secs(60) <= updated_at
                        && updated_at <= SystemTime::now() + Duration::from_secs(60),
                    "updated_at during the test: {level:?}"
                );
                levels.push(Level {
                    sku: level.sku,
                    product_id: level.product_id,
                    title: level.title,
                    on_hand: level.on_hand,
                    reserved: level.reserved,
                    available: level.available,
                });
            }
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        levels
    }

    /// Every report; `at_most` is the threshold of `low_stock_at_most`.
    async fn read(&self, at_most: i32) -> Reports {
        Reports {
            sales_by_day: self.sales(pb::Granularity::Day, "").await,
            sales_by_week: self.sales(pb::Granularity::Week, "").await,
            sales_by_month: self.sales(pb::Granularity::Month, "").await,
            sales_in_usd: self.sales(pb::Granularity::Day, "USD").await,
            top: self.top(0).await,
            top_two: self.top(2).await,
            funnel: self.funnel().await,
            low_stock: self.low_stock(1_000).await,
            low_stock_at_most: self.low_stock(at_most).await,
        }
    }
}

/// `(cause, orders)`, most first, ties by cause.
fn causes<'a>(causes: impl IntoIterator<Item = &'a str>) -> Vec<pb::CauseCount> {
    let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
    for cause in causes {
        *counts.entry(cause).or_default() += 1;
    }
    let mut counted: Vec<pb::CauseCount> = counts
        .into_iter()
        .map(|(cause, orders)| pb::CauseCount {
            cause: cause.to_owned(),
            orders,
        })
        .collect();
    counted.sort_by(|a, b| b.orders.cmp(&a.orders).then_with(|| a.cause.cmp(&b.cause)));
    counted
}

fn was(order: &Order, status: OrderStatus) -> bool {
    order
        .status_history
        .iter()
        .any(|change| change.status() == status)
}

/// What the reports must say, from the services that own the facts. `titles`
/// and `product_ids` are the catalog's, by SKU; `levels` inventory's GetStock
/// of every SKU still sold.
fn expected(
    orders: &[(Order, Vec<Payment>)],
    reservations: i64,
    reservation_failures: &BTreeMap<String, i64>,
    catalog: &BTreeMap<String, (String, String)>,
    levels: &[Level],
) -> Reports {
    let mut sales = Sales::default();
    let mut top: BTreeMap<String, pb::ProductSales> = BTreeMap::new();
    for (order, payments) in orders {
        let total = order.total.as_ref().expect("total");
        assert_eq!(total.currency, shop::CURRENCY, "{order:?}");
        sales.placed.add(total.amount_minor);
        if was(order, OrderStatus::Confirmed) {
            sales.confirmed.add(total.amount_minor);
        }
        match order.status() {
            OrderStatus::Rejected => sales.rejected.add(total.amount_minor),
            OrderStatus::Canceled => sales.canceled.add(total.amount_minor),
            _ => {}
        }
        for payment in payments {
            if payment.status() == PaymentStatus::Captured {
                sales
                    .captured
                    .add(payment.amount.as_ref().expect("amount").amount_minor);
            }
        }
        if was(order, OrderStatus::Confirmed) && order.status() != OrderStatus::Canceled {
            for line in &order.lines {
                let (product_id, title) = &catalog[&line.sku];
                let product = top
                    .entry(line.sku.clone())
                    .or_insert_with(|| pb::ProductSales {
                        sku: line.sku.clone(),
                        product_id: product_id.clone(),
                        title: title.clone(),
                        revenue: vec![eur(0)],
                        ..Default::default()
                    });
                product.units += i64::from(line.quantity);
                product.revenue[0].amount_minor +=
                    line.line_total.as_ref().expect("line_total").amount_minor;
                product.orders += 1;
            }
        }
    }
    let mut top: Vec<pb::ProductSales> = top.into_values().collect();
    top.sort_by(|a, b| b.units.cmp(&a.units).then_with(|| a.sku.cmp(&b.sku)));

    let strip = |name: &'static str, prefix: &str| name.strip_prefix(prefix).unwrap_or(name);
    let funnel = pb::GetFunnelResponse {
        placed: orders.len() as i64,
        reserved: reservations,
        paid: orders
            .iter()
            .filter(|(_, payments)| {
                payments
                    .iter()
                    .any(|payment| payment.authorized_at.is_some())
            })
            .count() as i64,
        confirmed: sales.confirmed.count,
        rejections: causes(
            orders
                .iter()
                .filter(|(order, _)| order.status() == OrderStatus::Rejected)
                .map(|(order, _)| {
                    strip(
                        order.rejection_reason().as_str_name(),
                        "ORDER_REJECTION_REASON_",
                    )
                }),
        ),
        cancellations: causes(
            orders
                .iter()
                .filter(|(order, _)| order.status() == OrderStatus::Canceled)
                .map(|(order, _)| {
                    strip(
                        order.cancellation_cause().as_str_name(),
                        "ORDER_CANCELLATION_CAUSE_",
                    )
                }),
        ),
        reservation_failures: {
            let mut failures: Vec<pb::CauseCount> = reservation_failures
                .iter()
                .map(|(reason, orders)| pb::CauseCount {
                    cause: reason.to_uppercase(),
                    orders: *orders,
                })
                .collect();
            failures.sort_by(|a, b| b.orders.cmp(&a.orders).then_with(|| a.cause.cmp(&b.cause)));
            failures
        },
        payment_failures: causes(
            orders
                .iter()
                .flat_map(|(_, payments)| payments)
                .filter(|payment| payment.status() == PaymentStatus::Failed)
                .map(|payment| payment.failure_reason.as_str()),
        ),
    };

    let mut low_stock = levels.to_vec();
    low_stock.sort_by(|a, b| {
        a.available
            .cmp(&b.available)
            .then_with(|| a.sku.cmp(&b.sku))
    });
    let at_most = at_most(&low_stock);
    let sales_by_day: BTreeMap<String, Sales> = [(shop::CURRENCY.to_owned(), sales)].into();
    Reports {
        sales_by_week: sales_by_day.clone(),
        sales_by_month: sales_by_day.clone(),
        sales_by_day,
        sales_in_usd: BTreeMap::new(),
        top_two: top.iter().take(2).cloned().collect(),
        top,
        funnel,
        low_stock_at_most: low_stock
            .iter()
            .filter(|level| level.available <= at_most)
            .cloned()
            .collect(),
        low_stock,
    }
}

/// The threshold of the second stock report: the second-lowest available.
fn at_most(low_stock: &[Level]) -> i32 {
    low_stock.get(1).map_or(0, |level| level.available)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_agree_with_orders_payments_and_inventory_after_50_mixed_checkouts() {
    let started = SystemTime::now();
    let clock = Instant::now();
    let mut stack = Stack::start(StackOptions::default()).await.unwrap();
    let shop = Shop::open(&stack).await.unwrap();
    let (plans, on_hand) = plans();
    let mut skus = Vec::new();
    for (price, on_hand) in PRICES.into_iter().zip(on_hand) {
        skus.push(shop.sellable(price, on_hand).await.unwrap());
    }
    // Four sign-ins at a time: IAM counts each before checking its password,
    // and throttles a client past five at once.
    let customers = shop.customers(CUSTOMERS, 4).await.unwrap();
    eprintln!(
        "stack, {} SKUs {on_hand:?}, customers: {:?}",
        skus.len(),
        clock.elapsed()
    );

    // Each customer checks out their orders one after the other.
    let (shop_ref, skus_ref, plans_ref) = (&shop, &skus, &plans);
    let placed: Vec<Vec<Placed>> = futures::stream::iter(customers.iter().enumerate())
        .map(|(first, customer)| async move {
            let mut mine = Vec::new();
            for index in (first..CHECKOUTS).step_by(CUSTOMERS) {
                let plan = &plans_ref[index];
                if plan.fate == Held {
                    continue;
                }
                mine.push(Placed {
                    fate: plan.fate,
                    customer: customer.clone(),
                    order_id: place(shop_ref, skus_ref, customer, plan).await,
                });
            }
            mine
        })
        .buffer_unordered(CUSTOMERS)
        .collect()
        .await;
    let mut placed: Vec<Placed> = placed.into_iter().flatten().collect();
    assert_eq!(placed.len(), CHECKOUTS - 1);
    eprintln!("{} checkouts placed: {:?}", placed.len(), clock.elapsed());

    futures::stream::iter(&placed)
        .for_each_concurrent(6, |placed| drive(shop_ref, placed))
        .await;
    wait_for_reservations(&stack, &placed).await;
    eprintln!("every order at its end: {:?}", clock.elapsed());

    // Every payment is settled: read them while payments-svc runs.
    let mut payments = BTreeMap::new();
    for placed in &placed {
        let listed = shop.payments(&placed.order_id).await.unwrap();
        assert_eq!(listed.len(), 1, "one payment per order: {listed:?}");
        payments.insert(placed.order_id.clone(), listed);
    }

    // The last checkout with payments-svc down: reserved, never paid.
    stack.kill(Svc::Payments).await.unwrap();
    let customer = &customers[(CHECKOUTS - 1) % CUSTOMERS];
    let order_id = place(&shop, &skus, customer, &plans[CHECKOUTS - 1]).await;
    shop.wait_for_status(&order_id, &[OrderStatus::Reserved], SAGA)
        .await
        .unwrap();
    placed.push(Placed {
        fate: Held,
        customer: customer.clone(),
        order_id,
    });
    wait_for_reservations(&stack, &placed).await;

    // After the saga: a product renamed, a variant discontinued, a restock.
    let renamed = shop
        .rename_product(
            &skus[RENAMED].product_id,
            &format!("Renamed {}", skus[RENAMED].sku),
        )
        .await
        .unwrap();
    shop.discontinue_variant(&skus[DISCONTINUED].variant_id)
        .await
        .unwrap();
    shop.adjust_stock(&skus[RESTOCKED].sku, RESTOCK)
        .await
        .unwrap();
    let deadline = Instant::now() + SAGA;
    while shop.stock(&skus[DISCONTINUED].sku).await.unwrap().status() != StockStatus::Blocked {
        assert!(Instant::now() < deadline, "inventory never blocked the SKU");
        tokio::time::sleep(POLL).await;
    }

    // What the owners say.
    let mut orders = Vec::new();
    for placed in &placed {
        let order = shop.order(&shop.admin, &placed.order_id).await.unwrap();
        // The held order has none: payments-svc was down when it was
        // placed, so its intent is still a message in payments' queue.
        let payments = payments.remove(&placed.order_id).unwrap_or_default();
        orders.push((order, payments));
    }
    let reservations: i64 = inventory_counts(&stack, "reservations", "status")
        .await
        .values()
        .sum();
    let reservation_failures = inventory_counts(&stack, "reservation_failures", "reason").await;
    let mut catalog = BTreeMap::new();
    let mut levels = Vec::new();
    for (index, sku) in skus.iter().enumerate() {
        let title = if index == RENAMED {
            renamed.title.clone()
        } else {
            sku.title.clone()
        };
        catalog.insert(sku.sku.clone(), (sku.product_id.clone(), title.clone()));
        let stock = shop.stock(&sku.sku).await.unwrap();
        if index != DISCONTINUED {
            levels.push(Level {
                sku: sku.sku.clone(),
                product_id: sku.product_id.clone(),
                title,
                on_hand: stock.on_hand,
                reserved: stock.reserved,
                available: stock.available,
            });
        }
    }
    let expected = expected(
        &orders,
        reservations,
        &reservation_failures,
        &catalog,
        &levels,
    );
    // The scenario did what it says, so the comparison below covers every
    // kind of figure (these check the test, not reporting-svc).
    let fates = |fate: Fate| placed.iter().filter(|placed| placed.fate == fate).count() as i64;
    let sales = expected.sales_by_day[shop::CURRENCY];
    let funnel = &expected.funnel;
    let scenario = [
        (
            "confirmed",
            sales.confirmed.count,
            fates(Keep) + fates(Ship) + fates(Cancel),
        ),
        ("rejected", sales.rejected.count, fates(OutOfStock)),
        (
            "canceled",
            sales.canceled.count,
            fates(Cancel) + fates(Declined),
        ),
        ("captured", sales.captured.count, fates(Ship)),
        (
            "reserved",
            funnel.reserved,
            funnel.paid + fates(Declined) + fates(Held),
        ),
        (
            "failure reasons",
            (funnel.payment_failures.len() + funnel.reservation_failures.len()) as i64,
            2,
        ),
        (
            "SKUs with units held",
            expected
                .low_stock
                .iter()
                .filter(|level| level.reserved > 0)
                .count() as i64,
            1,
        ),
    ];
    for (what, got, planned) in scenario {
        assert_eq!(got, planned, "the sources' {what}, against the plan");
    }
    eprintln!("expected reports: {expected:#?}");

    // The reports: first every order, then every figure.
    let reader = Reader {
        client: ReportingServiceClient::new(stack.channel(Svc::Reporting)),
        token: shop.admin.access_token.clone(),
        from: timestamp(started - Duration::from_secs(3_600)),
        to: timestamp(started + Duration::from_secs(3_600)),
        started,
    };
    let deadline = Instant::now() + CATCH_UP;
    loop {
        let placed = reader.funnel().await.placed;
        if placed == CHECKOUTS as i64 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "GetFunnel.placed is {placed}, not {CHECKOUTS}, after {CATCH_UP:?}"
        );
        tokio::time::sleep(POLL).await;
    }
    let at_most = at_most(&expected.low_stock);
    let deadline = Instant::now() + CATCH_UP;
    let mut reports = reader.read(at_most).await;
    while reports != expected && Instant::now() < deadline {
        tokio::time::sleep(POLL).await;
        reports = reader.read(at_most).await;
    }
    eprintln!("reports compared: {:?}", clock.elapsed());
    assert_eq!(reports.sales_by_day, expected.sales_by_day, "sales by day");
    assert_eq!(
        reports.sales_by_week, expected.sales_by_week,
        "sales by week"
    );
    assert_eq!(
        reports.sales_by_month, expected.sales_by_month,
        "sales by month"
    );
    assert_eq!(reports.sales_in_usd, expected.sales_in_usd, "sales in USD");
    assert_eq!(reports.funnel, expected.funnel, "funnel");
    assert_eq!(reports.top, expected.top, "top products");
    assert_eq!(reports.top_two, expected.top_two, "top products, limit 2");
    assert_eq!(
        reports.low_stock, expected.low_stock,
        "low stock, every SKU"
    );
    assert_eq!(
        reports.low_stock_at_most, expected.low_stock_at_most,
        "low stock at most {at_most}"
    );
    stack.finish().await.unwrap();
    eprintln!("done: {:?}", clock.elapsed());
}
