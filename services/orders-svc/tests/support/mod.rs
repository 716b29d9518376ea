//! One isolated orders-svc per test: a fresh schema migrated with the
//! orders migrator, upstream inventory, payments and fulfillment outboxes
//! in it (so a test can publish the saga events orders consumes, through
//! their own relays), a private topology with a tap on `orders.events`, a
//! test snapshot key.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use chrono::{DateTime, Utc};
use ecommerce_broker::EventsExchange;
use ecommerce_checkout::{SnapshotKey, SnapshotKeys, sign};
use ecommerce_events::{DecodedEvent, EventMetadata, ReceivedEvent};
use ecommerce_outbox::{Outbox, OutboxTable};
use ecommerce_proto::ecommerce::common::v1::Money;
use ecommerce_proto::ecommerce::orders::v1 as pb;
use ecommerce_proto::ecommerce::orders::v1::order_service_client::OrderServiceClient;
use ecommerce_test_support::{EVENT_WAIT, TestAuth, TestService, with_bearer};
use tonic::transport::Channel;
use uuid::Uuid;

/// The key the tests sign snapshots with (as cart-svc would).
pub const TEST_KEY: [u8; 32] = [7; 32];

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
        let mut service = TestService::start::<orders_migration::Migrator>(
            &orders_svc::SERVICE,
            &[EventsExchange::Orders],
        )
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
        let inventory = service
            .upstream(&OutboxTable::INVENTORY, EventsExchange::Inventory)
            .await
            .unwrap();
        let payments = service
            .upstream(&OutboxTable::PAYMENTS, EventsExchange::Orders)
            .await
            .unwrap();
        let fulfillment = service
            .upstream(&OutboxTable::FULFILLMENT, EventsExchange::Fulfillment)
            .await
            .unwrap();
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
    pub async fn publish(
        &self,
        outbox: &Outbox,
        order: &pb::Order,
        payload: impl Into<DecodedEvent>,
    ) -> Uuid {
        let metadata = EventMetadata::new("order", order.id.clone())
            .with_correlation_id(order.correlation_id.clone());
        self.service
            .publish(outbox, payload, metadata)
            .await
            .unwrap()
    }

    /// The next event of `event_type` off the tap (others are skipped).
    pub async fn event(&self, event_type: &str) -> ReceivedEvent {
        self.service.expect_event(event_type, EVENT_WAIT).await
    }

    /// Rows in the three orders tables, and orders events in the outbox.
    pub async fn row_counts(&self) -> [i64; 4] {
        [
            self.service.count("SELECT count(*) AS n FROM orders").await,
            self.service
                .count("SELECT count(*) AS n FROM order_lines")
                .await,
            self.service
                .count("SELECT count(*) AS n FROM order_status_history")
                .await,
            self.service
                .count("SELECT count(*) AS n FROM orders_outbox_events")
                .await,
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
        issued_at: Some(ecommerce_proto::timestamp(issued_at)),
        expires_at: Some(ecommerce_proto::timestamp(
            issued_at + ecommerce_checkout::DEFAULT_SNAPSHOT_TTL,
        )),
        payment_method_token: "pm_card_visa".to_owned(),
        checkout_key: format!("checkout-{}", Uuid::now_v7()),
    }
}

pub fn snapshot(user_id: Uuid) -> pb::CheckoutSnapshot {
    snapshot_at(user_id, Utc::now())
}
