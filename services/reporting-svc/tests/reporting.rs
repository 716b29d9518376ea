//! reporting-svc as the binary runs it (runtime, migrator, the stream
//! reader, the auth layer), with real Postgres and RabbitMQ: catalog's,
//! orders', payments' and inventory's events are published into the
//! topology through upstream outboxes in the test's schema (as those
//! services would) and reach the service through its stream.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use ecommerce_broker::EventsExchange;
use ecommerce_events::{DecodedEvent, EventMetadata};
use ecommerce_outbox::{Outbox, OutboxTable};
use ecommerce_proto::ecommerce::catalog::v1 as catalog_pb;
use ecommerce_proto::ecommerce::common::v1::Money;
use ecommerce_proto::ecommerce::inventory::v1 as inventory_pb;
use ecommerce_proto::ecommerce::orders::v1 as orders_pb;
use ecommerce_proto::ecommerce::payments::v1 as payments_pb;
use ecommerce_proto::ecommerce::reporting::v1 as pb;
use ecommerce_proto::ecommerce::reporting::v1::reporting_service_client::ReportingServiceClient;
use ecommerce_test_support::{TestAuth, TestService, assert_standard_grpc_surface, with_bearer};
use tonic::transport::Channel;
use uuid::Uuid;

struct World {
    service: TestService,
    client: ReportingServiceClient<Channel>,
    auth: TestAuth,
    catalog: Outbox,
    orders: Outbox,
    inventory: Outbox,
}

fn eur(amount_minor: i64) -> Option<Money> {
    Some(Money {
        amount_minor,
        currency: "EUR".to_owned(),
    })
}

fn stamp(at: chrono::DateTime<chrono::Utc>) -> Option<prost_types::Timestamp> {
    Some(ecommerce_proto::timestamp(at))
}

/// The last hour and the next: every event of a test.
fn around_now() -> (
    Option<prost_types::Timestamp>,
    Option<prost_types::Timestamp>,
) {
    let now = chrono::Utc::now();
    (
        stamp(now - chrono::Duration::hours(1)),
        stamp(now + chrono::Duration::hours(1)),
    )
}

/// Every report, as one comparable value.
#[derive(Debug, PartialEq)]
struct Reports {
    sales: Vec<pb::SalesPeriod>,
    top: Vec<pb::ProductSales>,
    funnel: pb::GetFunnelResponse,
    low_stock: Vec<pb::StockLevel>,
}

impl World {
    async fn start() -> Self {
        let mut service =
            TestService::start::<reporting_migration::Migrator>(&reporting_svc::SERVICE, &[])
                .await
                .unwrap();
        let runtime = service.runtime.clone();
        let app = reporting_svc::start(&runtime).unwrap();
        let catalog = service
            .upstream(&OutboxTable::CATALOG, EventsExchange::Catalog)
            .await
            .unwrap();
        let orders = service
            .upstream(&OutboxTable::ORDERS, EventsExchange::Orders)
            .await
            .unwrap();
        let inventory = service
            .upstream(&OutboxTable::INVENTORY, EventsExchange::Inventory)
            .await
            .unwrap();
        let auth = TestAuth::new();
        let layer = auth.layer();
        service
            .serve(&reporting_svc::SERVICE, move |server| {
                reporting_svc::register(server, &layer, app)
            })
            .await
            .unwrap();
        let client = ReportingServiceClient::new(service.channel());
        Self {
            service,
            client,
            auth,
            catalog,
            orders,
            inventory,
        }
    }

    async fn publish(&self, outbox: &Outbox, event: impl Into<DecodedEvent>, aggregate: &str) {
        let metadata = EventMetadata::new(aggregate, Uuid::now_v7().to_string())
            .with_correlation_id(format!("test-{}", Uuid::now_v7().simple()));
        self.service.publish(outbox, event, metadata).await.unwrap();
    }

    /// A product "Mug" with SKU `sku` and `on_hand` units in stock.
    async fn mug(&self, sku: &str, on_hand: i32) -> Uuid {
        let product_id = Uuid::now_v7();
        let created = catalog_pb::ProductCreated {
            product_id: product_id.to_string(),
            title: "Mug".to_owned(),
            version: 1,
            ..Default::default()
        };
        self.publish(&self.catalog, created, "product").await;
        let variant = catalog_pb::VariantCreated {
            variant_id: Uuid::now_v7().to_string(),
            product_id: product_id.to_string(),
            sku: sku.to_owned(),
            version: 1,
            ..Default::default()
        };
        self.publish(&self.catalog, variant, "variant").await;
        let adjusted = inventory_pb::StockAdjustmentApplied {
            adjustment_id: Uuid::now_v7().to_string(),
            sku: sku.to_owned(),
            delta: on_hand,
            reason: "delivery".to_owned(),
            on_hand,
            available: on_hand,
            version: 1,
        };
        self.publish(&self.inventory, adjusted, "stock").await;
        product_id
    }

    /// An order of `quantity` × `sku` at 15.00 each: its id.
    async fn place(&self, sku: &str, quantity: i32) -> String {
        let order_id = Uuid::now_v7().to_string();
        let total = 1500 * i64::from(quantity);
        let placed = orders_pb::OrderPlaced {
            order_id: order_id.clone(),
            user_id: Uuid::now_v7().to_string(),
            lines: vec![orders_pb::OrderLine {
                sku: sku.to_owned(),
                title: "Mug (line)".to_owned(),
                quantity,
                unit_price: eur(1500),
                line_total: eur(total),
                ..Default::default()
            }],
            total: eur(total),
            currency: "EUR".to_owned(),
            ..Default::default()
        };
        self.publish(&self.orders, placed, "order").await;
        order_id
    }

    fn lines(sku: &str, quantity: i32) -> Vec<inventory_pb::StockLine> {
        vec![inventory_pb::StockLine {
            sku: sku.to_owned(),
            quantity,
        }]
    }

    /// The saga of a confirmed order, then its payment captured.
    async fn confirm_and_capture(&self, order_id: &str, sku: &str, quantity: i32) {
        let reserved = inventory_pb::StockReserved {
            reservation_id: Uuid::now_v7().to_string(),
            order_id: order_id.to_owned(),
            lines: Self::lines(sku, quantity),
            ..Default::default()
        };
        self.publish(&self.inventory, reserved, "reservation").await;
        let payment_id = Uuid::now_v7().to_string();
        let amount = eur(1500 * i64::from(quantity));
        let authorized = payments_pb::PaymentAuthorized {
            payment_id: payment_id.clone(),
            order_id: order_id.to_owned(),
            amount: amount.clone(),
            provider_reference: "ref".to_owned(),
        };
        self.publish(&self.orders, authorized, "payment").await;
        let confirmed = orders_pb::OrderConfirmed {
            order_id: order_id.to_owned(),
            ..Default::default()
        };
        self.publish(&self.orders, confirmed, "order").await;
        let committed = inventory_pb::StockCommitted {
            reservation_id: Uuid::now_v7().to_string(),
            order_id: order_id.to_owned(),
            lines: Self::lines(sku, quantity),
        };
        self.publish(&self.inventory, committed, "reservation")
            .await;
        let captured = payments_pb::PaymentCaptured {
            payment_id,
            order_id: order_id.to_owned(),
            amount,
            provider_reference: "ref".to_owned(),
        };
        self.publish(&self.orders, captured, "payment").await;
    }

    async fn reject_for_stock(&self, order_id: &str) {
        let failed = inventory_pb::StockReservationFailed {
            order_id: order_id.to_owned(),
            reason: inventory_pb::ReservationFailureReason::InsufficientStock as i32,
            ..Default::default()
        };
        self.publish(&self.inventory, failed, "reservation").await;
        let rejected = orders_pb::OrderRejected {
            order_id: order_id.to_owned(),
            reason: orders_pb::OrderRejectionReason::OutOfStock as i32,
            ..Default::default()
        };
        self.publish(&self.orders, rejected, "order").await;
    }

    async fn reports(&self) -> Reports {
        let token = self.auth.admin_token();
        let mut client = self.client.clone();
        let (from, to) = around_now();
        let sales = client
            .get_sales_summary(with_bearer(
                pb::GetSalesSummaryRequest {
                    from,
                    to,
                    ..Default::default()
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner()
            .periods;
        let top = client
            .top_products(with_bearer(
                pb::TopProductsRequest { from, to, limit: 0 },
                &token,
            ))
            .await
            .unwrap()
            .into_inner()
            .products;
        let funnel = client
            .get_funnel(with_bearer(pb::GetFunnelRequest { from, to }, &token))
            .await
            .unwrap()
            .into_inner();
        let low_stock = client
            .list_low_stock(with_bearer(
                pb::ListLowStockRequest {
                    threshold: 1000,
                    ..Default::default()
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner()
            .stock_levels;
        Reports {
            sales,
            top,
            funnel,
            low_stock,
        }
    }

    /// The reports once `done` holds for them (events take a moment).
    async fn reports_when(&self, done: impl Fn(&Reports) -> bool) -> Reports {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let reports = self.reports().await;
            if done(&reports) || tokio::time::Instant::now() > deadline {
                return reports;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn figure(count: i64, amount_minor: i64) -> Option<pb::SalesFigure> {
    Some(pb::SalesFigure {
        count,
        amount: eur(amount_minor),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reports_follow_the_events_and_a_rebuild_beside_the_reader_gives_the_same_figures() {
    let world = World::start().await;
    let product_id = world.mug("MUG-1", 10).await;
    let confirmed = world.place("MUG-1", 2).await;
    world.confirm_and_capture(&confirmed, "MUG-1", 2).await;
    let rejected = world.place("MUG-1", 50).await;
    world.reject_for_stock(&rejected).await;

    let reports = world
        .reports_when(|reports| {
            reports.funnel.placed == 2
                && reports.sales.first().is_some_and(|period| {
                    period
                        .captured
                        .as_ref()
                        .is_some_and(|captured| captured.count == 1)
                        && period
                            .rejected
                            .as_ref()
                            .is_some_and(|rejected| rejected.count == 1)
                })
                && reports
                    .low_stock
                    .first()
                    .is_some_and(|level| level.on_hand == 8)
        })
        .await;
    assert_eq!(reports.sales.len(), 1, "{:?}", reports.sales);
    let period = &reports.sales[0];
    assert_eq!(period.currency, "EUR");
    assert_eq!(period.placed, figure(2, 3000 + 75_000));
    assert_eq!(period.confirmed, figure(1, 3000));
    assert_eq!(period.rejected, figure(1, 75_000));
    assert_eq!(period.canceled, figure(0, 0));
    assert_eq!(period.captured, figure(1, 3000));
    assert_eq!(
        reports.top,
        [pb::ProductSales {
            sku: "MUG-1".to_owned(),
            product_id: product_id.to_string(),
            title: "Mug".to_owned(),
            units: 2,
            revenue: vec![eur(3000).unwrap()],
            orders: 1,
        }]
    );
    let funnel = &reports.funnel;
    assert_eq!(
        (
            funnel.placed,
            funnel.reserved,
            funnel.paid,
            funnel.confirmed
        ),
        (2, 1, 1, 1)
    );
    let causes = |causes: &[pb::CauseCount]| -> Vec<(String, i64)> {
        causes
            .iter()
            .map(|cause| (cause.cause.clone(), cause.orders))
            .collect()
    };
    assert_eq!(causes(&funnel.rejections), [("OUT_OF_STOCK".to_owned(), 1)]);
    assert_eq!(
        causes(&funnel.reservation_failures),
        [("INSUFFICIENT_STOCK".to_owned(), 1)]
    );
    assert!(funnel.cancellations.is_empty() && funnel.payment_failures.is_empty());
    let level = &reports.low_stock[0];
    assert_eq!(
        (
            level.sku.as_str(),
            level.on_hand,
            level.reserved,
            level.available,
            level.title.as_str()
        ),
        ("MUG-1", 8, 0, 8, "Mug")
    );

    // The service's own reader keeps running while the rebuild reads the
    // stream again from its first offset: each event still counts once.
    let done = reporting_svc::rebuild(&world.service.runtime)
        .await
        .unwrap();
    assert!(done.applied >= 12, "{done:?}");
    assert_eq!(world.reports().await, reports);
    // And the service's reader, attached again after the reset, applies
    // what comes next.
    let later = world.place("MUG-1", 1).await;
    let after = world
        .reports_when(|reports| {
            reports.funnel.placed == 3
                && reports.sales[0]
                    .placed
                    .as_ref()
                    .is_some_and(|placed| placed.count == 3)
        })
        .await;
    assert_eq!(after.funnel.placed, 3, "order {later} counted");
    assert_eq!(after.sales[0].placed, figure(3, 3000 + 75_000 + 1500));
    world.service.finish().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reports_are_for_admins_only_and_refuse_bad_requests_naming_the_field() {
    let world = World::start().await;
    assert_standard_grpc_surface(
        world.service.server.as_ref().unwrap(),
        "ecommerce.reporting.v1.ReportingService",
    )
    .await;
    let mut client = world.client.clone();
    let (from, to) = around_now();
    let request = pb::GetFunnelRequest { from, to };
    let anonymous = client
        .get_funnel(tonic::Request::new(request))
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), tonic::Code::Unauthenticated);
    let customer = client
        .get_funnel(with_bearer(request, &world.auth.customer_token()))
        .await
        .unwrap_err();
    assert_eq!(customer.code(), tonic::Code::PermissionDenied);

    let admin = world.auth.admin_token();
    let backwards = client
        .get_sales_summary(with_bearer(
            pb::GetSalesSummaryRequest {
                from: to,
                to: from,
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(backwards.code(), tonic::Code::InvalidArgument);
    assert!(
        backwards.message().contains("to"),
        "{}",
        backwards.message()
    );
    let negative = client
        .list_low_stock(with_bearer(
            pb::ListLowStockRequest {
                threshold: -1,
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(negative.code(), tonic::Code::InvalidArgument);
    assert!(negative.message().contains("threshold"));
    let token = client
        .list_low_stock(with_bearer(
            pb::ListLowStockRequest {
                page_token: "garbage".to_owned(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert!(token.message().contains("page_token"));
    world.service.finish().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn low_stock_pages_fewest_available_first() {
    let world = World::start().await;
    for (sku, on_hand) in [("B", 3), ("A", 3), ("C", 1), ("D", 9)] {
        world.mug(sku, on_hand).await;
    }
    let admin = world.auth.admin_token();
    let mut client = world.client.clone();
    let mut pages = Vec::new();
    let mut page_token = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    // Wait for all four SKUs, then page through those with at most 5 available.
    loop {
        let all = world.reports().await.low_stock;
        if all.len() == 4 || tokio::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    loop {
        let page = client
            .list_low_stock(with_bearer(
                pb::ListLowStockRequest {
                    threshold: 5,
                    page_size: 2,
                    page_token: page_token.clone(),
                },
                &admin,
            ))
            .await
            .unwrap()
            .into_inner();
        pages.push(
            page.stock_levels
                .iter()
                .map(|level| format!("{}:{}", level.sku, level.available))
                .collect::<Vec<_>>(),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(pages, [vec!["C:1", "A:3"], vec!["B:3"]]);
    world.service.finish().await.unwrap();
}
