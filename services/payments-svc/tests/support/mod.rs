//! One isolated payments-svc per test: a fresh schema migrated with the
//! payments migrator, upstream orders, inventory and fulfillment outboxes
//! in it (so a test can publish the saga events payments consumes, through
//! their own relays), a private topology with a tap on `orders.events`, and
//! the simulated provider with a limit of [`LIMIT_MINOR`].
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use ecommerce_broker::EventsExchange;
use ecommerce_events::{DecodedEvent, EventMetadata, ReceivedEvent};
use ecommerce_outbox::{Outbox, OutboxTable};
use ecommerce_platform::Backoff;
use ecommerce_proto::ecommerce::common::v1::Money;
use ecommerce_proto::ecommerce::orders::v1 as orders_pb;
use ecommerce_proto::ecommerce::payments::v1 as pb;
use ecommerce_proto::ecommerce::payments::v1::payment_service_client::PaymentServiceClient;
use ecommerce_test_support::{EVENT_WAIT, TestAuth, TestService, with_bearer};
use payments_svc::domain::SimulatedProvider;
use tonic::transport::Channel;
use uuid::Uuid;

/// The simulated provider's limit in the tests: 500.00.
pub const LIMIT_MINOR: i64 = 50_000;

/// An order as the tests place it: its id, customer and correlation id.
#[derive(Clone, Debug)]
pub struct TestOrder {
    pub id: String,
    pub user_id: Uuid,
    pub correlation_id: String,
}

pub struct World {
    pub service: TestService,
    pub client: PaymentServiceClient<Channel>,
    pub auth: TestAuth,
    /// Publishes to `orders.events`, as orders-svc would.
    pub orders: Outbox,
    /// Publishes to `inventory.events`, as inventory-svc would.
    pub inventory: Outbox,
    /// Publishes to `fulfillment.events`, as fulfillment-svc would.
    pub fulfillment: Outbox,
}

impl World {
    pub async fn start() -> Self {
        let mut service = TestService::start_configured::<payments_migration::Migrator>(
            &payments_svc::SERVICE,
            &[EventsExchange::Orders],
            |settings| {
                // Order and reservation arrive on two queues: a reservation
                // consumed first is retried while the order's consumer runs,
                // which on a loaded 2-core box can take a few hundred ms.
                settings.broker.consumer.retry_budget = 4;
                settings.broker.consumer.retry_backoff =
                    Backoff::new(Duration::from_millis(50), Duration::from_millis(400));
            },
        )
        .await
        .unwrap();
        let auth = TestAuth::new();
        let layer = auth.layer();
        let provider = Arc::new(SimulatedProvider::with_limit(LIMIT_MINOR));
        let app = payments_svc::start(&service.runtime, provider).unwrap();
        service
            .serve(&payments_svc::SERVICE, move |server| {
                payments_svc::register(server, &layer, app)
            })
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
        let fulfillment = service
            .upstream(&OutboxTable::FULFILLMENT, EventsExchange::Fulfillment)
            .await
            .unwrap();
        let client = PaymentServiceClient::new(service.channel());
        Self {
            service,
            client,
            auth,
            orders,
            inventory,
            fulfillment,
        }
    }

    pub fn token(&self, user_id: Uuid) -> String {
        self.auth.token(user_id, &[])
    }

    pub fn admin_token(&self) -> String {
        self.auth.admin_token()
    }

    /// Enqueues `payload` about `order` through `outbox` with the order's
    /// correlation id, as the emitting service would; returns its event id.
    pub async fn publish(
        &self,
        outbox: &Outbox,
        order: &TestOrder,
        payload: impl Into<DecodedEvent>,
    ) -> Uuid {
        let metadata = EventMetadata::new("order", order.id.clone())
            .with_correlation_id(order.correlation_id.clone());
        self.service
            .publish(outbox, payload, metadata)
            .await
            .unwrap()
    }

    /// Publishes `orders.order_placed.v1` of a new order of `amount_minor`
    /// EUR paid with `token`, and waits until payments recorded its intent.
    pub async fn place(&self, token: &str, amount_minor: i64, correlation: &str) -> TestOrder {
        let order = TestOrder {
            id: Uuid::now_v7().to_string(),
            user_id: Uuid::now_v7(),
            correlation_id: correlation.to_owned(),
        };
        let placed = orders_pb::OrderPlaced {
            order_id: order.id.clone(),
            user_id: order.user_id.to_string(),
            total: eur(amount_minor),
            currency: "EUR".to_owned(),
            payment_method_token: token.to_owned(),
            shipping_option_id: Uuid::now_v7().to_string(),
            ..Default::default()
        };
        self.publish(&self.orders, &order, &placed).await;
        let payment = self.wait_for_payment(&order.id).await;
        assert_eq!(payment.status(), pb::PaymentStatus::Pending);
        order
    }

    /// The payments of `order_id`, as an admin lists them.
    pub async fn list(&self, order_id: &str) -> Vec<pb::Payment> {
        let mut client = self.client.clone();
        let request = pb::ListPaymentsRequest {
            order_id: order_id.to_owned(),
            ..Default::default()
        };
        client
            .list_payments(with_bearer(request, &self.admin_token()))
            .await
            .unwrap()
            .into_inner()
            .payments
    }

    /// Waits until the order has a payment, and returns it.
    pub async fn wait_for_payment(&self, order_id: &str) -> pb::Payment {
        let deadline = tokio::time::Instant::now() + EVENT_WAIT;
        loop {
            if let Some(payment) = self.list(order_id).await.pop() {
                return payment;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no payment recorded for order {order_id}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn get(&self, token: &str, payment_id: &str) -> Result<pb::Payment, tonic::Status> {
        let mut client = self.client.clone();
        let request = pb::GetPaymentRequest {
            payment_id: payment_id.to_owned(),
        };
        let response = client.get_payment(with_bearer(request, token)).await?;
        Ok(response.into_inner().payment.unwrap())
    }

    pub async fn capture(
        &self,
        token: &str,
        payment_id: &str,
    ) -> Result<pb::Payment, tonic::Status> {
        let mut client = self.client.clone();
        let request = pb::CapturePaymentRequest {
            payment_id: payment_id.to_owned(),
            idempotency_key: Uuid::now_v7().to_string(),
        };
        let response = client.capture_payment(with_bearer(request, token)).await?;
        Ok(response.into_inner().payment.unwrap())
    }

    /// The next event of `event_type` off the tap (others are skipped).
    pub async fn event(&self, event_type: &str) -> ReceivedEvent {
        self.service.expect_event(event_type, EVENT_WAIT).await
    }

    pub async fn finish(self) {
        self.service.finish().await.unwrap();
    }
}

pub fn eur(amount_minor: i64) -> Option<Money> {
    Some(Money {
        amount_minor,
        currency: "EUR".to_owned(),
    })
}
