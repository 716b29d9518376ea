//! The inventory-svc under test, shared by the test files: the service as
//! the binary runs it (runtime, migrator, relay, both consumers, the expiry
//! worker, auth layer), with real Postgres and RabbitMQ; order, payment and
//! catalog events are published into the topology through upstream outboxes
//! in the test's schema (as orders, payments and catalog would), and
//! inventory's events are read off RabbitMQ.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use ecommerce_broker::EventsExchange;
use ecommerce_events::{DecodedEvent, EventMetadata, ReceivedEvent};
use ecommerce_kernel::SystemClock;
use ecommerce_outbox::{Outbox, OutboxTable};
use ecommerce_proto::ecommerce::catalog::v1::VariantCreated;
use ecommerce_proto::ecommerce::inventory::v1 as pb;
use ecommerce_proto::ecommerce::inventory::v1::inventory_service_client::InventoryServiceClient;
use ecommerce_proto::ecommerce::orders::v1::{OrderCanceled, OrderLine, OrderPlaced};
use ecommerce_proto::ecommerce::payments::v1::PaymentAuthorized;
use ecommerce_test_support::{EVENT_WAIT, TestAuth, TestService, with_bearer};
use inventory_svc::app::InventoryApp;
use inventory_svc::app::settings::InventorySettings;
use inventory_svc::domain::ReservationTtl;
use tonic::transport::Channel;
use tonic_types::StatusExt as _;
use uuid::Uuid;

pub struct World {
    pub service: TestService,
    pub app: InventoryApp,
    pub client: InventoryServiceClient<Channel>,
    pub auth: TestAuth,
    pub admin: String,
    pub orders: Outbox,
    pub catalog: Outbox,
}

impl World {
    pub async fn start(ttl_seconds: i64) -> Self {
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
    pub async fn publish(
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

    pub async fn variant_created(&self, sku: &str) {
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
    pub async fn stock(&self, sku: &str, on_hand: i32) {
        self.variant_created(sku).await;
        self.wait_for_stock(sku).await;
        self.adjust(sku, on_hand).await.unwrap();
    }

    pub async fn wait_for_stock(&self, sku: &str) -> pb::StockLevel {
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

    pub async fn adjust(
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

    /// AdjustStock with the whole request (reason and correlation as
    /// [`Self::adjust`]'s).
    pub async fn adjust_with(
        &self,
        message: pb::AdjustStockRequest,
    ) -> Result<pb::AdjustStockResponse, tonic::Status> {
        let request = with_bearer(
            pb::AdjustStockRequest {
                reason: "cycle count".to_owned(),
                ..message
            },
            &self.admin,
        );
        self.client
            .clone()
            .adjust_stock(request)
            .await
            .map(tonic::Response::into_inner)
    }

    /// Publishes orders' `order_canceled` for `order_id`; returns its id.
    pub async fn cancel_order(&self, order_id: &str, correlation: &str) -> Uuid {
        let canceled = OrderCanceled {
            order_id: order_id.to_owned(),
            user_id: Uuid::now_v7().to_string(),
            reason: "changed my mind".to_owned(),
            ..Default::default()
        };
        self.publish(&self.orders, &canceled, ("order", order_id), correlation)
            .await
    }

    pub async fn get_stock(&self, sku: &str) -> pb::StockLevel {
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

    pub async fn place_order(
        &self,
        order_id: &str,
        lines: &[(&str, i32)],
        correlation: &str,
    ) -> Uuid {
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

    pub async fn authorize(&self, order_id: &str, correlation: &str) -> Uuid {
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
    pub async fn expect(&self, event_type: &str, correlation: &str, cause: Uuid) -> ReceivedEvent {
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
    pub async fn assert_invariants(&self) {
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

    pub async fn finish(self) {
        self.service.finish().await.unwrap();
    }
}

pub fn order_id() -> String {
    Uuid::now_v7().to_string()
}

/// The field a refused request's `google.rpc.BadRequest` names.
pub fn violated_field(status: &tonic::Status) -> String {
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    let details = status.get_error_details();
    let violations = &details.bad_request().unwrap().field_violations;
    assert_eq!(violations.len(), 1, "{violations:?}");
    violations[0].field.clone()
}
