//! inventory-svc as the binary runs it (runtime, migrator, relay, both
//! consumers, the expiry worker, auth layer), with real Postgres and
//! RabbitMQ: order, payment and catalog events are published into the
//! topology through upstream outboxes in the test's schema (as orders,
//! payments and catalog would), and inventory's events are read off RabbitMQ.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use ecommerce_broker::{ConsumerQueue, EventsExchange};
use ecommerce_events::{DecodedEvent, EventMetadata, ReceivedEvent};
use ecommerce_kernel::SystemClock;
use ecommerce_outbox::{Outbox, OutboxTable};
use ecommerce_proto::ecommerce::catalog::v1::{VariantCreated, VariantDiscontinued};
use ecommerce_proto::ecommerce::inventory::v1 as pb;
use ecommerce_proto::ecommerce::inventory::v1::inventory_service_client::InventoryServiceClient;
use ecommerce_proto::ecommerce::orders::v1::{OrderCanceled, OrderLine, OrderPlaced};
use ecommerce_proto::ecommerce::payments::v1::{PaymentAuthorized, PaymentFailed};
use ecommerce_test_support::{
    EVENT_WAIT, TestAuth, TestService, assert_standard_grpc_surface, with_bearer,
};
use inventory_svc::app::InventoryApp;
use inventory_svc::app::settings::InventorySettings;
use inventory_svc::convert::{MAX_BATCH_SKUS, MAX_RESERVE_LINES};
use inventory_svc::domain::ReservationTtl;
use inventory_svc::events::consumers::OrderEventsHandler;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use tonic::transport::Channel;
use tonic_types::StatusExt as _;
use uuid::Uuid;

struct World {
    service: TestService,
    app: InventoryApp,
    client: InventoryServiceClient<Channel>,
    auth: TestAuth,
    admin: String,
    orders: Outbox,
    catalog: Outbox,
}

impl World {
    async fn start(ttl_seconds: i64) -> Self {
        let mut service = TestService::start::<inventory_migration::Migrator>(
            &inventory_svc::SERVICE,
            &[EventsExchange::Inventory],
        )
        .await
        .unwrap();
        let settings = InventorySettings {
            reservation_ttl: ReservationTtl::from_seconds(ttl_seconds).unwrap(),
            expiry_interval: Duration::from_millis(100),
            expiry_batch: 100,
        };
        let runtime = service.runtime.clone();
        let app = inventory_svc::start_with(&runtime, settings, Arc::new(SystemClock)).unwrap();
        // Payments' events share the orders exchange; the test publishes
        // them through the orders outbox.
        let orders = service
            .upstream(&OutboxTable::ORDERS, EventsExchange::Orders)
            .await
            .unwrap();
        let catalog = service
            .upstream(&OutboxTable::CATALOG, EventsExchange::Catalog)
            .await
            .unwrap();
        let auth = TestAuth::new();
        let admin = auth.admin_token();
        let layer = auth.layer();
        let served = app.clone();
        service
            .serve(&inventory_svc::SERVICE, move |server| {
                inventory_svc::register(server, &layer, served)
            })
            .await
            .unwrap();
        let client = InventoryServiceClient::new(service.channel());
        Self {
            service,
            app,
            client,
            auth,
            admin,
            orders,
            catalog,
        }
    }

    /// Publishes `payload` through `outbox` as `correlation`; returns its id.
    async fn publish(
        &self,
        outbox: &Outbox,
        payload: impl Into<DecodedEvent>,
        aggregate: (&str, &str),
        correlation: &str,
    ) -> Uuid {
        let metadata =
            EventMetadata::new(aggregate.0, aggregate.1).with_correlation_id(correlation);
        self.service
            .publish(outbox, payload, metadata)
            .await
            .unwrap()
    }

    async fn variant_created(&self, sku: &str) {
        let created = VariantCreated {
            variant_id: Uuid::now_v7().to_string(),
            product_id: Uuid::now_v7().to_string(),
            sku: sku.to_owned(),
            version: 1,
            ..Default::default()
        };
        self.publish(&self.catalog, &created, ("variant", sku), "corr-catalog")
            .await;
    }

    /// Opens `sku` through catalog's event and adjusts it to `on_hand`.
    async fn stock(&self, sku: &str, on_hand: i32) {
        self.variant_created(sku).await;
        self.wait_for_stock(sku).await;
        self.adjust(sku, on_hand).await.unwrap();
    }

    async fn wait_for_stock(&self, sku: &str) -> pb::StockLevel {
        let deadline = tokio::time::Instant::now() + EVENT_WAIT;
        loop {
            let found = self
                .client
                .clone()
                .get_stock(pb::GetStockRequest {
                    sku: sku.to_owned(),
                })
                .await;
            match found {
                Ok(response) => return response.into_inner().stock_level.unwrap(),
                Err(status) if status.code() == tonic::Code::NotFound => {}
                Err(status) => panic!("GetStock failed: {status}"),
            }
            assert!(tokio::time::Instant::now() < deadline, "no stock for {sku}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn adjust(
        &self,
        sku: &str,
        delta: i32,
    ) -> Result<pb::AdjustStockResponse, tonic::Status> {
        let mut request = with_bearer(
            pb::AdjustStockRequest {
                sku: sku.to_owned(),
                delta,
                reason: "receipt".to_owned(),
                ..Default::default()
            },
            &self.admin,
        );
        request
            .metadata_mut()
            .insert("x-correlation-id", "corr-adjust".parse().unwrap());
        self.client
            .clone()
            .adjust_stock(request)
            .await
            .map(tonic::Response::into_inner)
    }

    async fn get_stock(&self, sku: &str) -> pb::StockLevel {
        self.client
            .clone()
            .get_stock(pb::GetStockRequest {
                sku: sku.to_owned(),
            })
            .await
            .unwrap()
            .into_inner()
            .stock_level
            .unwrap()
    }

    async fn place_order(&self, order_id: &str, lines: &[(&str, i32)], correlation: &str) -> Uuid {
        let placed = OrderPlaced {
            order_id: order_id.to_owned(),
            user_id: Uuid::now_v7().to_string(),
            lines: lines
                .iter()
                .map(|(sku, quantity)| OrderLine {
                    sku: (*sku).to_owned(),
                    quantity: *quantity,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        self.publish(&self.orders, &placed, ("order", order_id), correlation)
            .await
    }

    async fn authorize(&self, order_id: &str, correlation: &str) -> Uuid {
        let authorized = PaymentAuthorized {
            payment_id: Uuid::now_v7().to_string(),
            order_id: order_id.to_owned(),
            ..Default::default()
        };
        self.publish(
            &self.orders,
            &authorized,
            ("payment", order_id),
            correlation,
        )
        .await
    }

    /// The next inventory event of `event_type` (others are skipped), with
    /// `correlation` and caused by `cause`.
    async fn expect(&self, event_type: &str, correlation: &str, cause: Uuid) -> ReceivedEvent {
        let event = self.service.expect_event(event_type, EVENT_WAIT).await;
        assert_eq!(event.metadata.correlation_id.as_deref(), Some(correlation));
        assert_eq!(
            event.metadata.causation_id.as_deref(),
            Some(cause.to_string().as_str())
        );
        event
    }

    /// Stock rows breaking an invariant, and SKUs whose `reserved` differs
    /// from the units of its held reservations: both must be empty.
    async fn assert_invariants(&self) {
        let broken = self
            .service
            .count(
                "SELECT count(*) AS n FROM stock_levels \
                 WHERE on_hand < 0 OR reserved < 0 OR reserved > on_hand",
            )
            .await;
        assert_eq!(broken, 0);
        let mismatched = self
            .service
            .count(
                "SELECT count(*) AS n FROM stock_levels s \
                 WHERE s.reserved <> COALESCE((SELECT sum(l.quantity) FROM reservation_lines l \
                   JOIN reservations r ON r.id = l.reservation_id \
                   WHERE r.status = 'held' AND l.sku = s.sku), 0)",
            )
            .await;
        assert_eq!(mismatched, 0);
    }

    async fn finish(self) {
        self.service.finish().await.unwrap();
    }
}

fn order_id() -> String {
    Uuid::now_v7().to_string()
}

#[tokio::test]
async fn catalog_events_open_and_block_stock_and_admins_adjust_it() {
    let world = World::start(900).await;
    assert_standard_grpc_surface(
        world.service.server.as_ref().unwrap(),
        "ecommerce.inventory.v1.InventoryService",
    )
    .await;

    world.variant_created("SKU-OPEN").await;
    let opened = world.wait_for_stock("SKU-OPEN").await;
    assert_eq!(
        (opened.on_hand, opened.reserved, opened.available),
        (0, 0, 0)
    );
    assert_eq!(opened.status, pb::StockStatus::Active as i32);
    assert_eq!(opened.version, 1);

    // A customer may read but not adjust.
    let denied = world
        .client
        .clone()
        .adjust_stock(with_bearer(
            pb::AdjustStockRequest {
                sku: "SKU-OPEN".to_owned(),
                delta: 3,
                reason: "receipt".to_owned(),
                ..Default::default()
            },
            &world.auth.customer_token(),
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
    let invalid = world.adjust("SKU-OPEN", 0).await.unwrap_err();
    assert_eq!(invalid.code(), tonic::Code::InvalidArgument);

    let adjusted = world.adjust("SKU-OPEN", 7).await.unwrap();
    let level = adjusted.stock_level.unwrap();
    assert_eq!((level.on_hand, level.available, level.version), (7, 7, 2));
    let event = world
        .service
        .expect_event("inventory.stock.adjustment_applied.v1", EVENT_WAIT)
        .await;
    assert_eq!(
        event.metadata.correlation_id.as_deref(),
        Some("corr-adjust")
    );
    let DecodedEvent::InventoryStockAdjustmentAppliedV1(applied) = event.event else {
        panic!("not an adjustment");
    };
    assert_eq!(applied.adjustment_id, adjusted.adjustment_id);
    assert_eq!(
        (applied.sku.as_str(), applied.delta, applied.on_hand),
        ("SKU-OPEN", 7, 7)
    );

    let below = world.adjust("SKU-OPEN", -8).await.unwrap_err();
    assert_eq!(below.code(), tonic::Code::FailedPrecondition);
    let unknown = world.adjust("SKU-NONE", 1).await.unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);

    // Discontinued: blocked, and an order for it is refused.
    let discontinued = VariantDiscontinued {
        variant_id: Uuid::now_v7().to_string(),
        product_id: Uuid::now_v7().to_string(),
        sku: "SKU-OPEN".to_owned(),
        version: 2,
    };
    world
        .publish(
            &world.catalog,
            &discontinued,
            ("variant", "SKU-OPEN"),
            "corr-catalog",
        )
        .await;
    let deadline = tokio::time::Instant::now() + EVENT_WAIT;
    while world.get_stock("SKU-OPEN").await.status != pb::StockStatus::Blocked as i32 {
        assert!(tokio::time::Instant::now() < deadline, "never blocked");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let order = order_id();
    let placed = world
        .place_order(&order, &[("SKU-OPEN", 1)], "corr-blocked")
        .await;
    let failed = world
        .expect(
            "inventory.stock.reservation_failed.v1",
            "corr-blocked",
            placed,
        )
        .await;
    let DecodedEvent::InventoryStockReservationFailedV1(failed) = failed.event else {
        panic!("not a failure");
    };
    assert_eq!(
        failed.reason,
        pb::ReservationFailureReason::SkuBlocked as i32
    );
    world.finish().await;
}

#[tokio::test]
async fn an_order_is_reserved_then_committed_on_authorization() {
    let world = World::start(900).await;
    world.stock("SKU-A", 5).await;
    world.stock("SKU-B", 2).await;

    let order = order_id();
    let placed = world
        .place_order(
            &order,
            &[("SKU-B", 1), ("SKU-A", 2), ("SKU-A", 1)],
            "corr-happy",
        )
        .await;
    let reserved = world
        .expect("inventory.stock.reserved.v1", "corr-happy", placed)
        .await;
    let DecodedEvent::InventoryStockReservedV1(reserved) = reserved.event else {
        panic!("not a reservation");
    };
    assert_eq!(reserved.order_id, order);
    let lines: Vec<(String, i32)> = reserved
        .lines
        .iter()
        .map(|line| (line.sku.clone(), line.quantity))
        .collect();
    assert_eq!(lines, [("SKU-A".to_owned(), 3), ("SKU-B".to_owned(), 1)]);
    assert!(reserved.expires_at.is_some());
    let a = world.get_stock("SKU-A").await;
    assert_eq!((a.on_hand, a.reserved, a.available), (5, 3, 2));

    // The same order re-published (new message id) reserves nothing more.
    world
        .place_order(&order, &[("SKU-A", 3)], "corr-happy")
        .await;

    let authorized = world.authorize(&order, "corr-happy").await;
    let committed = world
        .expect("inventory.stock.committed.v1", "corr-happy", authorized)
        .await;
    let DecodedEvent::InventoryStockCommittedV1(committed) = committed.event else {
        panic!("not a commit");
    };
    assert_eq!(committed.reservation_id, reserved.reservation_id);
    let a = world.get_stock("SKU-A").await;
    assert_eq!((a.on_hand, a.reserved, a.available), (2, 0, 2));
    let b = world.get_stock("SKU-B").await;
    assert_eq!((b.on_hand, b.reserved), (1, 0));

    let reservation = world
        .client
        .clone()
        .get_reservation(with_bearer(
            pb::GetReservationRequest {
                reservation_id: reserved.reservation_id.clone(),
            },
            &world.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .reservation
        .unwrap();
    assert_eq!(reservation.status, pb::ReservationStatus::Committed as i32);
    world.assert_invariants().await;
    world.finish().await;
}

#[tokio::test]
async fn insufficient_stock_fails_with_the_short_lines_and_reserves_nothing() {
    let world = World::start(900).await;
    world.stock("SKU-A", 5).await;
    world.stock("SKU-B", 1).await;

    let order = order_id();
    let placed = world
        .place_order(
            &order,
            &[("SKU-A", 2), ("SKU-B", 3), ("SKU-UNKNOWN", 1)],
            "corr-short",
        )
        .await;
    let failed = world
        .expect(
            "inventory.stock.reservation_failed.v1",
            "corr-short",
            placed,
        )
        .await;
    let DecodedEvent::InventoryStockReservationFailedV1(failed) = failed.event else {
        panic!("not a failure");
    };
    assert_eq!(failed.order_id, order);
    assert_eq!(
        failed.reason,
        pb::ReservationFailureReason::InsufficientStock as i32
    );
    let short: Vec<(String, i32, i32)> = failed
        .short_lines
        .iter()
        .map(|line| (line.sku.clone(), line.requested, line.available))
        .collect();
    assert_eq!(
        short,
        [("SKU-B".to_owned(), 3, 1), ("SKU-UNKNOWN".to_owned(), 1, 0)]
    );
    let a = world.get_stock("SKU-A").await;
    assert_eq!((a.on_hand, a.reserved), (5, 0));
    let b = world.get_stock("SKU-B").await;
    assert_eq!((b.on_hand, b.reserved), (1, 0));
    world.assert_invariants().await;
    world.finish().await;
}

#[tokio::test]
async fn a_failed_payment_or_a_cancel_releases_the_reservation() {
    let world = World::start(900).await;
    world.stock("SKU-A", 4).await;

    let declined = order_id();
    let placed = world
        .place_order(&declined, &[("SKU-A", 3)], "corr-declined")
        .await;
    world
        .expect("inventory.stock.reserved.v1", "corr-declined", placed)
        .await;
    let failed = PaymentFailed {
        payment_id: Uuid::now_v7().to_string(),
        order_id: declined.clone(),
        reason: "card_declined".to_owned(),
        ..Default::default()
    };
    let failed_id = world
        .publish(
            &world.orders,
            &failed,
            ("payment", &declined),
            "corr-declined",
        )
        .await;
    let released = world
        .expect(
            "inventory.stock.reservation_released.v1",
            "corr-declined",
            failed_id,
        )
        .await;
    let DecodedEvent::InventoryStockReservationReleasedV1(released) = released.event else {
        panic!("not a release");
    };
    assert_eq!(released.reason, "payment_failed");
    let a = world.get_stock("SKU-A").await;
    assert_eq!((a.on_hand, a.reserved), (4, 0));

    let canceled = order_id();
    let placed = world
        .place_order(&canceled, &[("SKU-A", 4)], "corr-cancel")
        .await;
    world
        .expect("inventory.stock.reserved.v1", "corr-cancel", placed)
        .await;
    let cancel = OrderCanceled {
        order_id: canceled.clone(),
        reason: "changed my mind".to_owned(),
        ..Default::default()
    };
    let cancel_id = world
        .publish(&world.orders, &cancel, ("order", &canceled), "corr-cancel")
        .await;
    let released = world
        .expect(
            "inventory.stock.reservation_released.v1",
            "corr-cancel",
            cancel_id,
        )
        .await;
    let DecodedEvent::InventoryStockReservationReleasedV1(released) = released.event else {
        panic!("not a release");
    };
    assert_eq!(released.reason, "order_canceled");
    let a = world.get_stock("SKU-A").await;
    assert_eq!((a.on_hand, a.reserved, a.available), (4, 0, 4));
    world.assert_invariants().await;
    world.finish().await;
}

#[tokio::test]
async fn a_reservation_expires_after_its_ttl_and_a_late_authorization_does_not_commit() {
    let world = World::start(1).await;
    world.stock("SKU-A", 3).await;

    let order = order_id();
    let placed = world
        .place_order(&order, &[("SKU-A", 2)], "corr-expiry")
        .await;
    world
        .expect("inventory.stock.reserved.v1", "corr-expiry", placed)
        .await;
    let expired = world
        .service
        .expect_event("inventory.stock.reservation_expired.v1", EVENT_WAIT)
        .await;
    // The worker's event stays in the checkout's correlation.
    assert_eq!(
        expired.metadata.correlation_id.as_deref(),
        Some("corr-expiry")
    );
    let DecodedEvent::InventoryStockReservationExpiredV1(expired) = expired.event else {
        panic!("not an expiry");
    };
    assert_eq!(expired.order_id, order);
    let a = world.get_stock("SKU-A").await;
    assert_eq!((a.on_hand, a.reserved, a.available), (3, 0, 3));

    world.authorize(&order, "corr-expiry").await;
    world
        .service
        .expect_no_event("inventory.stock.committed.v1", Duration::from_secs(2))
        .await;
    let a = world.get_stock("SKU-A").await;
    assert_eq!((a.on_hand, a.reserved), (3, 0));
    let reservation = world
        .client
        .clone()
        .get_reservation(with_bearer(
            pb::GetReservationRequest {
                reservation_id: expired.reservation_id,
            },
            &world.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .reservation
        .unwrap();
    assert_eq!(reservation.status, pb::ReservationStatus::Expired as i32);
    world.assert_invariants().await;
    world.finish().await;
}

#[tokio::test]
async fn concurrent_orders_for_the_last_units_never_oversell() {
    const AVAILABLE: i32 = 5;
    const ORDERS: usize = 30;
    let world = World::start(900).await;
    world.stock("SKU-LAST", AVAILABLE).await;
    world.stock("SKU-OTHER", 100).await;

    // Three more consumers on the queue, as more instances would be, so
    // orders are handled concurrently and race for the rows.
    for _ in 0..3 {
        world
            .service
            .runtime
            .spawn_consumer(
                ConsumerQueue::InventoryOrderEvents,
                OrderEventsHandler::new(world.app.clone()),
                Some(world.app.outbox()),
            )
            .unwrap();
    }
    // Through the queue: every order in its own transaction, published at
    // once; half list the SKUs in the opposite order.
    let orders: Vec<String> = (0..ORDERS).map(|_| order_id()).collect();
    futures::future::join_all(orders.iter().enumerate().map(|(index, order)| {
        let world = &world;
        async move {
            let lines: &[(&str, i32)] = if index % 2 == 0 {
                &[("SKU-LAST", 1), ("SKU-OTHER", 1)]
            } else {
                &[("SKU-OTHER", 1), ("SKU-LAST", 1)]
            };
            world.place_order(order, lines, "corr-rush").await
        }
    }))
    .await;

    let mut reserved = BTreeSet::new();
    let mut failed = BTreeSet::new();
    while reserved.len() + failed.len() < ORDERS {
        let event = world
            .service
            .next_event(EVENT_WAIT)
            .await
            .unwrap_or_else(|| panic!("{} reserved, {} failed", reserved.len(), failed.len()));
        match event.event {
            DecodedEvent::InventoryStockReservedV1(event) => {
                assert!(reserved.insert(event.order_id));
            }
            DecodedEvent::InventoryStockReservationFailedV1(event) => {
                assert!(failed.insert(event.order_id));
            }
            _ => {}
        }
    }
    assert_eq!(reserved.len(), AVAILABLE as usize);
    assert_eq!(failed.len(), ORDERS - AVAILABLE as usize);
    let last = world.get_stock("SKU-LAST").await;
    assert_eq!(
        (last.on_hand, last.reserved, last.available),
        (AVAILABLE, AVAILABLE, 0)
    );
    let other = world.get_stock("SKU-OTHER").await;
    assert_eq!(other.reserved, AVAILABLE);
    world.assert_invariants().await;

    // Through the RPC, concurrently: nothing is left, so every one is refused.
    let mut client = world.client.clone();
    let results = futures::future::join_all((0..10).map(|_| {
        let mut client = client.clone();
        let admin = world.admin.clone();
        async move {
            client
                .reserve_stock(with_bearer(
                    pb::ReserveStockRequest {
                        order_id: order_id(),
                        lines: vec![pb::StockLine {
                            sku: "SKU-LAST".to_owned(),
                            quantity: 1,
                        }],
                        ..Default::default()
                    },
                    &admin,
                ))
                .await
        }
    }))
    .await;
    for result in results {
        assert_eq!(result.unwrap_err().code(), tonic::Code::FailedPrecondition);
    }
    // Restock three units and race twenty RPC reservations for them.
    world.adjust("SKU-LAST", 3).await.unwrap();
    let results = futures::future::join_all((0..20).map(|_| {
        let mut client = client.clone();
        let admin = world.admin.clone();
        async move {
            client
                .reserve_stock(with_bearer(
                    pb::ReserveStockRequest {
                        order_id: order_id(),
                        lines: vec![pb::StockLine {
                            sku: "SKU-LAST".to_owned(),
                            quantity: 1,
                        }],
                        ..Default::default()
                    },
                    &admin,
                ))
                .await
        }
    }))
    .await;
    let granted = results.iter().filter(|result| result.is_ok()).count();
    assert_eq!(granted, 3);
    let last = client
        .get_stock(pb::GetStockRequest {
            sku: "SKU-LAST".to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .stock_level
        .unwrap();
    assert_eq!(
        (last.on_hand, last.reserved, last.available),
        (AVAILABLE + 3, AVAILABLE + 3, 0)
    );
    world.assert_invariants().await;
    world.finish().await;
}

#[tokio::test]
async fn the_database_refuses_what_the_domain_refuses() {
    let world = World::start(900).await;
    world.stock("SKU-A", 2).await;
    let db = world.app.db();
    for statement in [
        "UPDATE stock_levels SET reserved = on_hand + 1 WHERE sku = 'SKU-A'",
        "UPDATE stock_levels SET on_hand = -1, reserved = 0 WHERE sku = 'SKU-A'",
        "UPDATE stock_levels SET reserved = -1 WHERE sku = 'SKU-A'",
        "UPDATE stock_levels SET status = 'gone' WHERE sku = 'SKU-A'",
    ] {
        let refused = db
            .execute_raw(Statement::from_string(DbBackend::Postgres, statement))
            .await;
        assert!(refused.is_err(), "{statement} was accepted");
    }
    // One reservation per order.
    let order = order_id();
    let placed = world.place_order(&order, &[("SKU-A", 1)], "corr-db").await;
    world
        .expect("inventory.stock.reserved.v1", "corr-db", placed)
        .await;
    let duplicate = db
        .execute_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "INSERT INTO reservations (id, order_id, status, expires_at, created_at, updated_at) \
                 VALUES ('{}', '{order}', 'held', now() + interval '1 minute', now(), now())",
                Uuid::now_v7()
            ),
        ))
        .await;
    assert!(
        duplicate.is_err(),
        "a second reservation of one order was accepted"
    );
    world.finish().await;
}

#[tokio::test]
async fn get_reservation_is_for_admins_only() {
    let world = World::start(900).await;
    world.stock("SKU-A", 2).await;
    let mut client = world.client.clone();
    let reservation = client
        .reserve_stock(with_bearer(
            pb::ReserveStockRequest {
                order_id: order_id(),
                lines: vec![pb::StockLine {
                    sku: "SKU-A".to_owned(),
                    quantity: 1,
                }],
                ..Default::default()
            },
            &world.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .reservation
        .unwrap();
    let request = || pb::GetReservationRequest {
        reservation_id: reservation.id.clone(),
    };

    let anonymous = client.get_reservation(request()).await.unwrap_err();
    assert_eq!(anonymous.code(), tonic::Code::Unauthenticated);
    let customer = client
        .get_reservation(with_bearer(request(), &world.auth.customer_token()))
        .await
        .unwrap_err();
    assert_eq!(customer.code(), tonic::Code::PermissionDenied);

    let read = client
        .get_reservation(with_bearer(request(), &world.admin))
        .await
        .unwrap()
        .into_inner()
        .reservation
        .unwrap();
    assert_eq!(read, reservation);
    assert_eq!(read.status, pb::ReservationStatus::Pending as i32);
    world.finish().await;
}

/// The field a refused request's `google.rpc.BadRequest` names.
fn violated_field(status: &tonic::Status) -> String {
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    let details = status.get_error_details();
    let violations = &details.bad_request().unwrap().field_violations;
    assert_eq!(violations.len(), 1, "{violations:?}");
    violations[0].field.clone()
}

#[tokio::test]
async fn oversized_repeated_fields_are_invalid_arguments() {
    let world = World::start(900).await;
    world.stock("SKU-A", 2).await;
    let mut client = world.client.clone();

    let at_most: Vec<String> = std::iter::once("SKU-A".to_owned())
        .chain((1..MAX_BATCH_SKUS).map(|index| format!("SKU-UNKNOWN-{index}")))
        .collect();
    let levels = client
        .batch_get_stock(pb::BatchGetStockRequest { skus: at_most })
        .await
        .unwrap()
        .into_inner()
        .stock_levels;
    assert_eq!(levels.len(), 1);
    let oversized = client
        .batch_get_stock(pb::BatchGetStockRequest {
            skus: vec!["SKU-A".to_owned(); MAX_BATCH_SKUS + 1],
        })
        .await
        .unwrap_err();
    assert_eq!(violated_field(&oversized), "skus");

    let too_many_lines = client
        .reserve_stock(with_bearer(
            pb::ReserveStockRequest {
                order_id: order_id(),
                lines: vec![
                    pb::StockLine {
                        sku: "SKU-A".to_owned(),
                        quantity: 1,
                    };
                    MAX_RESERVE_LINES + 1
                ],
                ..Default::default()
            },
            &world.admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_field(&too_many_lines), "lines");
    let a = world.get_stock("SKU-A").await;
    assert_eq!((a.on_hand, a.reserved), (2, 0));
    world.assert_invariants().await;
    world.finish().await;
}
