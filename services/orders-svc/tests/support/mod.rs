//! One isolated orders-svc per test: a fresh schema migrated with the
//! orders migrator plus an inventory, a payments and a fulfillment outbox (so a test can
//! publish the saga events orders consumes, through their own relays), a
//! private topology with a tap on `orders.events`, a test snapshot key.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ecommerce_broker::EventsExchange;
use ecommerce_checkout::{SnapshotKey, SnapshotKeys, proto_timestamp, sign};
use ecommerce_events::{Event, EventMetadata, ReceivedEvent};
use ecommerce_outbox::{Outbox, OutboxMigration, OutboxTable};
use ecommerce_proto::ecommerce::common::v1::Money;
use ecommerce_proto::ecommerce::orders::v1 as pb;
use ecommerce_proto::ecommerce::orders::v1::order_service_client::OrderServiceClient;
use ecommerce_test_support::{TestAuth, TestService, with_bearer};
use orders_svc::storage::entities::{order, order_line, order_status_history};
use sea_orm::{EntityTrait, PaginatorTrait};
use sea_orm_migration::{MigrationTrait, MigratorTrait};
use tonic::transport::Channel;
use uuid::Uuid;

/// How long a test waits for an event the service should publish.
pub const EVENT_WAIT: Duration = Duration::from_secs(10);
/// How long a test listens to be sure an event does not come.
pub const QUIET: Duration = Duration::from_millis(1500);
/// The key the tests sign snapshots with (as cart-svc would).
pub const TEST_KEY: [u8; 32] = [7; 32];

/// The orders migrations, plus the outboxes inventory and payments would
/// own, so the test can publish their events from the same schema.
pub struct TestMigrator;

#[async_trait]
impl MigratorTrait for TestMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut migrations = orders_migration::Migrator::migrations();
        migrations.push(Box::new(OutboxMigration::in_current_schema(
            "m_test_inventory_outbox",
            OutboxTable::INVENTORY,
        )));
        migrations.push(Box::new(OutboxMigration::in_current_schema(
            "m_test_payments_outbox",
            OutboxTable::PAYMENTS,
        )));
        migrations.push(Box::new(OutboxMigration::in_current_schema(
            "m_test_fulfillment_outbox",
            OutboxTable::FULFILLMENT,
        )));
        migrations
    }
}

pub struct World {
    pub service: TestService,
    pub client: OrderServiceClient<Channel>,
    pub auth: TestAuth,
    pub keys: SnapshotKeys,
    /// Publishes to `inventory.events`, as inventory-svc would.
    pub inventory: Outbox,
    /// Publishes to `orders.events`, as payments-svc would.
    pub payments: Outbox,
    /// Publishes to `fulfillment.events`, as fulfillment-svc would.
    pub fulfillment: Outbox,
}

impl World {
    pub async fn start() -> Self {
        let mut service =
            TestService::start::<TestMigrator>(&orders_svc::SERVICE, &[EventsExchange::Orders])
                .await
                .unwrap();
        let auth = TestAuth::new();
        let layer = auth.layer();
        let keys = SnapshotKeys::from(SnapshotKey::from_bytes(&TEST_KEY).unwrap());
        let app_keys = SnapshotKeys::from(SnapshotKey::from_bytes(&TEST_KEY).unwrap());
        let app = orders_svc::start(&service.runtime, app_keys).unwrap();
        service
            .serve(&orders_svc::SERVICE, move |server| {
                orders_svc::register(server, &layer, app)
            })
            .await
            .unwrap();
        let runtime = &service.runtime;
        let inventory = runtime
            .outbox(&OutboxTable::INVENTORY, EventsExchange::Inventory)
            .unwrap();
        let payments = runtime
            .outbox(&OutboxTable::PAYMENTS, EventsExchange::Orders)
            .unwrap();
        let fulfillment = runtime
            .outbox(&OutboxTable::FULFILLMENT, EventsExchange::Fulfillment)
            .unwrap();
        runtime.spawn_relay(&inventory);
        runtime.spawn_relay(&payments);
        runtime.spawn_relay(&fulfillment);
        let client = OrderServiceClient::new(service.channel());
        Self {
            service,
            client,
            auth,
            keys,
            inventory,
            payments,
            fulfillment,
        }
    }

    pub fn token(&self, user_id: Uuid) -> String {
        self.auth.token(user_id, &[])
    }

    pub fn admin_token(&self) -> String {
        self.auth.admin_token()
    }

    /// A signed PlaceOrder request for `snapshot`.
    pub fn signed(&self, snapshot: &pb::CheckoutSnapshot) -> pb::PlaceOrderRequest {
        sign(snapshot, self.keys.signing_key()).into_place_order_request()
    }

    pub async fn place(
        &self,
        token: &str,
        request: pb::PlaceOrderRequest,
        correlation: &str,
    ) -> Result<pb::Order, tonic::Status> {
        let mut client = self.client.clone();
        let response = client
            .place_order(call(request, token, correlation))
            .await?;
        Ok(response.into_inner().order.unwrap())
    }

    pub async fn get(&self, token: &str, order_id: &str) -> Result<pb::Order, tonic::Status> {
        let mut client = self.client.clone();
        let request = pb::GetOrderRequest {
            order_id: order_id.to_owned(),
        };
        let response = client.get_order(with_bearer(request, token)).await?;
        Ok(response.into_inner().order.unwrap())
    }

    pub async fn cancel(&self, token: &str, order_id: &str) -> Result<pb::Order, tonic::Status> {
        let mut client = self.client.clone();
        let request = pb::CancelOrderRequest {
            order_id: order_id.to_owned(),
            reason: String::new(),
        };
        let response = client.cancel_order(with_bearer(request, token)).await?;
        Ok(response.into_inner().order.unwrap())
    }

    /// Enqueues `payload` about `order` through `outbox` with the order's
    /// correlation id, as the emitting service would; returns its event id.
    pub async fn publish<E: Event>(&self, outbox: &Outbox, order: &pb::Order, payload: &E) -> Uuid {
        let transaction = outbox.begin(self.service.runtime.db()).await.unwrap();
        let metadata = EventMetadata::new("order", order.id.clone())
            .with_correlation_id(order.correlation_id.clone());
        let id = transaction.enqueue(payload, metadata).await.unwrap();
        transaction.commit().await.unwrap();
        id
    }

    /// The next event of `event_type` off the tap (others are skipped).
    pub async fn event(&self, event_type: &str) -> ReceivedEvent {
        self.service.expect_event(event_type, EVENT_WAIT).await
    }

    /// Rows in the three orders tables, and orders events in the outbox.
    pub async fn row_counts(&self) -> [u64; 4] {
        let db = self.service.runtime.db();
        let outbox_rows: u64 = {
            use sea_orm::{ConnectionTrait, Statement};
            let row = db
                .query_one_raw(Statement::from_string(
                    db.get_database_backend(),
                    "SELECT count(*)::bigint AS n FROM orders_outbox_events",
                ))
                .await
                .unwrap()
                .unwrap();
            u64::try_from(row.try_get::<i64>("", "n").unwrap()).unwrap()
        };
        [
            order::Entity::find().count(db).await.unwrap(),
            order_line::Entity::find().count(db).await.unwrap(),
            order_status_history::Entity::find()
                .count(db)
                .await
                .unwrap(),
            outbox_rows,
        ]
    }

    /// Waits until GetOrder (as admin) shows `status`.
    pub async fn wait_for_status(&self, order_id: &str, status: pb::OrderStatus) -> pb::Order {
        let admin = self.admin_token();
        let deadline = tokio::time::Instant::now() + EVENT_WAIT;
        loop {
            let order = self.get(&admin, order_id).await.unwrap();
            if order.status == status as i32 {
                return order;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "order {order_id} never reached {status:?}; it is {:?}",
                order.status()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn finish(self) {
        self.service.finish().await.unwrap();
    }
}

/// `message` with a bearer token and a correlation id.
pub fn call<T>(message: T, token: &str, correlation: &str) -> tonic::Request<T> {
    let mut request = with_bearer(message, token);
    request
        .metadata_mut()
        .insert("x-correlation-id", correlation.parse().unwrap());
    request
}

fn eur(amount_minor: i64) -> Option<Money> {
    Some(Money {
        amount_minor,
        currency: "EUR".to_owned(),
    })
}

/// A valid snapshot of `user_id`'s cart, issued at `issued_at` and good
/// for five minutes: 2 × SHOE-42 at 49.50 plus 5.00 shipping.
pub fn snapshot_at(user_id: Uuid, issued_at: DateTime<Utc>) -> pb::CheckoutSnapshot {
    pb::CheckoutSnapshot {
        cart_id: Uuid::now_v7().to_string(),
        cart_version: 3,
        user_id: user_id.to_string(),
        lines: vec![pb::CheckoutLine {
            sku: "SHOE-42".to_owned(),
            variant_id: Uuid::now_v7().to_string(),
            product_id: Uuid::now_v7().to_string(),
            title: "Trail shoe".to_owned(),
            quantity: 2,
            unit_price: eur(4_950),
            line_total: eur(9_900),
        }],
        subtotal: eur(9_900),
        shipping_option_id: Uuid::now_v7().to_string(),
        shipping_price: eur(500),
        total: eur(10_400),
        currency: "EUR".to_owned(),
        issued_at: Some(proto_timestamp(issued_at)),
        expires_at: Some(proto_timestamp(
            issued_at + ecommerce_checkout::DEFAULT_SNAPSHOT_TTL,
        )),
        payment_method_token: "pm_card_visa".to_owned(),
        checkout_key: format!("checkout-{}", Uuid::now_v7()),
    }
}

pub fn snapshot(user_id: Uuid) -> pb::CheckoutSnapshot {
    snapshot_at(user_id, Utc::now())
}
