//! cart-svc in-process on a fresh schema, with a fake catalog (prices), a
//! fake fulfillment (shipping price) and a fake orders that verifies what
//! it receives with `ecommerce_checkout::verify` (or the real orders-svc
//! in-process); catalog events are published through an upstream catalog
//! outbox in the test's schema (as catalog-svc would).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use cart_svc::app::ports::{OrderPlacer, PriceQuoter, ShippingPricer};
use cart_svc::app::settings::CartSettings;
use cart_svc::app::{AppError, CartApp, Dependencies, PlacedCheckout};
use cart_svc::domain::{CheckoutSnapshot, PriceQuote, QuoteStatus, Sku};
use cart_svc::upstream::sign_snapshot;
use ecommerce_broker::EventsExchange;
use ecommerce_checkout::{SignedSnapshot, SnapshotKey, SnapshotKeys, VerifiedCheckout, verify};
use ecommerce_events::{DecodedEvent, EventMetadata};
use ecommerce_kernel::{Clock, SystemClock};
use ecommerce_outbox::{Outbox, OutboxTable};
use ecommerce_platform::grpc::ErrorCode;
use ecommerce_proto::ecommerce::cart::v1 as pb;
use ecommerce_proto::ecommerce::cart::v1::cart_service_client::CartServiceClient;
use ecommerce_proto::ecommerce::orders::v1 as orders_pb;
use ecommerce_test_support::{EVENT_WAIT, TestAuth, TestService, with_bearer};
use tokio::sync::oneshot;
use tonic::transport::Channel;
use uuid::Uuid;

pub const TEST_KEY: [u8; 32] = [9; 32];

pub fn test_keys() -> SnapshotKeys {
    SnapshotKeys::from(SnapshotKey::from_bytes(&TEST_KEY).unwrap())
}

#[derive(Debug, Default)]
pub struct FakeCatalog {
    quotes: Mutex<HashMap<String, PriceQuote>>,
    /// The SKUs of each QuotePrices call, in order.
    asked: Mutex<Vec<Vec<String>>>,
}

impl FakeCatalog {
    pub fn set(&self, sku: &str, status: QuoteStatus, price: Option<i64>, product_id: Uuid) {
        self.quotes.lock().unwrap().insert(
            sku.to_owned(),
            PriceQuote {
                sku: sku.to_owned(),
                status,
                variant_id: Some(Uuid::now_v7()),
                product_id: Some(product_id),
                title: format!("Product {sku}"),
                unit_price_minor: price,
            },
        );
    }

    /// The SKUs of each QuotePrices call since the last `take_asked`.
    pub fn take_asked(&self) -> Vec<Vec<String>> {
        std::mem::take(&mut *self.asked.lock().unwrap())
    }
}

#[async_trait]
impl PriceQuoter for FakeCatalog {
    async fn quote(&self, skus: &[Sku], _currency: &str) -> Result<Vec<PriceQuote>, AppError> {
        self.asked
            .lock()
            .unwrap()
            .push(skus.iter().map(|sku| sku.as_str().to_owned()).collect());
        let quotes = self.quotes.lock().unwrap();
        Ok(skus
            .iter()
            .filter_map(|sku| quotes.get(sku.as_str()).cloned())
            .collect())
    }
}

#[derive(Debug)]
pub struct FakeShipping;

#[async_trait]
impl ShippingPricer for FakeShipping {
    async fn shipping_price(&self, _option_id: Uuid, _currency: &str) -> Result<i64, AppError> {
        Ok(500)
    }
}

/// Signs as the orders adapter does, verifies what it receives as orders
/// does and, like orders, is idempotent on the checkout key: the same
/// bytes get the same order, other bytes under a stored key ALREADY_EXISTS.
#[derive(Debug)]
pub struct FakeOrders {
    keys: SnapshotKeys,
    pub placed: Mutex<Vec<(VerifiedCheckout, String)>>,
    by_key: Mutex<HashMap<String, (Uuid, Vec<u8>)>>,
}

impl Default for FakeOrders {
    fn default() -> Self {
        Self {
            keys: test_keys(),
            placed: Mutex::default(),
            by_key: Mutex::default(),
        }
    }
}

#[async_trait]
impl OrderPlacer for FakeOrders {
    fn sign(&self, snapshot: &CheckoutSnapshot) -> Result<SignedSnapshot, AppError> {
        sign_snapshot(snapshot, &self.keys)
    }

    async fn place_order(
        &self,
        signed: &SignedSnapshot,
        bearer: &str,
        _correlation_id: &str,
    ) -> Result<PlacedCheckout, AppError> {
        let verified = verify(
            &signed.bytes,
            &signed.signature,
            &signed.checkout_key,
            &self.keys,
            chrono::Utc::now(),
        );
        // Only an expired snapshot may be refused (tests that let one expire).
        let checkout = match verified {
            Ok(checkout) => checkout,
            Err(expired @ ecommerce_checkout::SnapshotError::Expired { .. }) => {
                return Err(AppError::Upstream {
                    service: "orders",
                    code: expired.code(),
                    message: expired.to_string(),
                });
            }
            Err(refused) => panic!("orders refuses the snapshot: {refused}"),
        };
        let (order_id, first_bytes) = self
            .by_key
            .lock()
            .unwrap()
            .entry(signed.checkout_key.clone())
            .or_insert_with(|| (Uuid::now_v7(), signed.bytes.clone()))
            .clone();
        if first_bytes != signed.bytes {
            return Err(AppError::Upstream {
                service: "orders",
                code: ErrorCode::AlreadyExists,
                message: "idempotency_key: the checkout key was already used".to_owned(),
            });
        }
        self.placed
            .lock()
            .unwrap()
            .push((checkout, bearer.to_owned()));
        Ok(PlacedCheckout {
            order_id,
            order_status: orders_pb::OrderStatus::Pending.into(),
        })
    }
}

/// Holds one call until released: `entered` fires when the call arrives.
pub struct Hold {
    pub entered: oneshot::Receiver<()>,
    pub release: oneshot::Sender<()>,
}

#[derive(Debug)]
struct HeldCall {
    entered: oneshot::Sender<()>,
    release: oneshot::Receiver<()>,
}

/// The orders port with faults injected in front of a real one: a call
/// refused before it reaches orders, a call whose answer is lost after
/// orders committed (the shopper's deadline ended first), a call held
/// until the test releases it. Records the snapshot bytes of every call
/// that reached orders.
#[derive(Debug)]
pub struct FaultyOrders {
    inner: Arc<dyn OrderPlacer>,
    refuse: AtomicUsize,
    lose_answers: AtomicUsize,
    hold: Mutex<Option<HeldCall>>,
    pub sent: Mutex<Vec<Vec<u8>>>,
}

impl FaultyOrders {
    pub fn new(inner: Arc<dyn OrderPlacer>) -> Self {
        Self {
            inner,
            refuse: AtomicUsize::new(0),
            lose_answers: AtomicUsize::new(0),
            hold: Mutex::new(None),
            sent: Mutex::default(),
        }
    }

    /// The next call never reaches orders: UNAVAILABLE.
    pub fn refuse_next(&self) {
        self.refuse.fetch_add(1, Ordering::SeqCst);
    }

    /// The next call reaches orders, which commits, but its answer is
    /// lost: DEADLINE_EXCEEDED, as cart's client reports it.
    pub fn lose_next_answer(&self) {
        self.lose_answers.fetch_add(1, Ordering::SeqCst);
    }

    /// The next call waits, before reaching orders, until released.
    pub fn hold_next(&self) -> Hold {
        let (entered_tx, entered_rx) = oneshot::channel();
        let (release_tx, release_rx) = oneshot::channel();
        *self.hold.lock().unwrap() = Some(HeldCall {
            entered: entered_tx,
            release: release_rx,
        });
        Hold {
            entered: entered_rx,
            release: release_tx,
        }
    }

    pub fn sent(&self) -> Vec<Vec<u8>> {
        self.sent.lock().unwrap().clone()
    }
}

fn take_one(counter: &AtomicUsize) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
            left.checked_sub(1)
        })
        .is_ok()
}

#[async_trait]
impl OrderPlacer for FaultyOrders {
    fn sign(&self, snapshot: &CheckoutSnapshot) -> Result<SignedSnapshot, AppError> {
        self.inner.sign(snapshot)
    }

    async fn place_order(
        &self,
        signed: &SignedSnapshot,
        bearer: &str,
        correlation_id: &str,
    ) -> Result<PlacedCheckout, AppError> {
        if take_one(&self.refuse) {
            return Err(AppError::Upstream {
                service: "orders",
                code: ErrorCode::Unavailable,
                message: "connection refused".to_owned(),
            });
        }
        let held = self.hold.lock().unwrap().take();
        if let Some(held) = held {
            held.entered.send(()).unwrap();
            held.release.await.unwrap();
        }
        self.sent.lock().unwrap().push(signed.bytes.clone());
        let answer = self.inner.place_order(signed, bearer, correlation_id).await;
        if take_one(&self.lose_answers) {
            answer.expect("orders placed the order whose answer is lost");
            return Err(AppError::Upstream {
                service: "orders",
                code: ErrorCode::Unavailable,
                message: "Timeout expired".to_owned(),
            });
        }
        answer
    }
}

pub struct World {
    pub service: TestService,
    /// The application behind the server, for what has no RPC (the
    /// cleanup timer's steps).
    pub app: CartApp,
    pub client: CartServiceClient<Channel>,
    pub auth: TestAuth,
    pub catalog: Arc<FakeCatalog>,
    pub orders: Arc<FakeOrders>,
    pub catalog_outbox: Outbox,
    /// The shipping option [`World::checkout`] chooses.
    pub shipping_option_id: Uuid,
}

impl World {
    pub async fn start() -> Self {
        Self::start_with(TestAuth::new(), None).await
    }

    /// With `placer`, checkouts go there instead of to [`FakeOrders`].
    pub async fn start_with(auth: TestAuth, placer: Option<Arc<dyn OrderPlacer>>) -> Self {
        Self::start_with_clock(auth, placer, Arc::new(SystemClock)).await
    }

    /// [`World::start_with`] on `clock`.
    pub async fn start_with_clock(
        auth: TestAuth,
        placer: Option<Arc<dyn OrderPlacer>>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self::start_with_settings(auth, placer, clock, CartSettings::default()).await
    }

    /// [`World::start_with_clock`] with `settings`.
    pub async fn start_with_settings(
        auth: TestAuth,
        placer: Option<Arc<dyn OrderPlacer>>,
        clock: Arc<dyn Clock>,
        settings: CartSettings,
    ) -> Self {
        let mut service = TestService::start::<cart_migration::Migrator>(&cart_svc::SERVICE, &[])
            .await
            .unwrap();
        let layer = auth.layer();
        let catalog = Arc::new(FakeCatalog::default());
        let orders = Arc::new(FakeOrders::default());
        let app = cart_svc::start_with(
            &service.runtime,
            settings,
            Dependencies {
                quoter: catalog.clone(),
                shipping: Arc::new(FakeShipping),
                placer: placer.unwrap_or_else(|| orders.clone()),
                clock,
            },
        )
        .unwrap();
        let served = app.clone();
        service
            .serve(&cart_svc::SERVICE, move |server| {
                cart_svc::register(server, &layer, served)
            })
            .await
            .unwrap();
        let catalog_outbox = service
            .upstream(&OutboxTable::CATALOG, EventsExchange::Catalog)
            .await
            .unwrap();
        let client = CartServiceClient::new(service.channel());
        Self {
            service,
            app,
            client,
            auth,
            catalog,
            orders,
            catalog_outbox,
            shipping_option_id: Uuid::now_v7(),
        }
    }

    pub fn request<T>(message: T, token: Option<&str>) -> tonic::Request<T> {
        match token {
            Some(token) => with_bearer(message, token),
            None => tonic::Request::new(message),
        }
    }

    pub async fn add(
        &self,
        token: Option<&str>,
        cart_id: &str,
        sku: &str,
        quantity: i32,
        key: &str,
        expected_version: Option<i64>,
    ) -> Result<pb::Cart, tonic::Status> {
        let request = pb::AddItemRequest {
            cart_id: cart_id.to_owned(),
            sku: sku.to_owned(),
            quantity,
            idempotency_key: key.to_owned(),
            expected_version,
        };
        let response = self
            .client
            .clone()
            .add_item(Self::request(request, token))
            .await?;
        Ok(response.into_inner().cart.unwrap())
    }

    pub async fn get(&self, token: Option<&str>, cart_id: &str) -> Result<pb::Cart, tonic::Status> {
        let request = pb::GetCartRequest {
            cart_id: cart_id.to_owned(),
        };
        let response = self
            .client
            .clone()
            .get_cart(Self::request(request, token))
            .await?;
        Ok(response.into_inner().cart.unwrap())
    }

    /// Checkout of the caller's cart with the world's shipping option.
    pub async fn checkout(
        &self,
        token: &str,
        key: &str,
        expected_version: Option<i64>,
    ) -> Result<pb::CheckoutResponse, tonic::Status> {
        self.checkout_with(token, key, expected_version, self.shipping_option_id)
            .await
    }

    pub async fn checkout_with(
        &self,
        token: &str,
        key: &str,
        expected_version: Option<i64>,
        shipping_option_id: Uuid,
    ) -> Result<pb::CheckoutResponse, tonic::Status> {
        let request = pb::CheckoutRequest {
            cart_id: String::new(),
            shipping_option_id: shipping_option_id.to_string(),
            payment_method_token: "pm_card_visa".to_owned(),
            idempotency_key: key.to_owned(),
            expected_version,
        };
        let response = self
            .client
            .clone()
            .checkout(with_bearer(request, token))
            .await?;
        Ok(response.into_inner())
    }

    pub async fn publish(&self, payload: impl Into<DecodedEvent>) {
        self.service
            .publish(
                &self.catalog_outbox,
                payload,
                EventMetadata::new("variant", "test"),
            )
            .await
            .unwrap();
    }

    /// Polls GetCart until the line of `sku` shows `reason`.
    pub async fn wait_for_reason(&self, token: &str, sku: &str, reason: pb::UnavailableReason) {
        let deadline = tokio::time::Instant::now() + EVENT_WAIT;
        loop {
            let cart = self.get(Some(token), "").await.unwrap();
            let line = cart.lines.iter().find(|line| line.sku == sku).unwrap();
            if line.unavailable_reason == reason as i32 {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{sku} never flagged"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The real orders-svc in-process (its own schema and topology), trusting
/// `auth`'s tokens and the test snapshot key.
pub async fn start_orders(auth: &TestAuth) -> TestService {
    let mut orders = TestService::start::<orders_migration::Migrator>(
        &orders_svc::SERVICE,
        &[EventsExchange::Orders],
    )
    .await
    .unwrap();
    let orders_app = orders_svc::start(&orders.runtime, test_keys()).unwrap();
    let orders_layer = auth.layer();
    orders
        .serve(&orders_svc::SERVICE, move |server| {
            orders_svc::register(server, &orders_layer, orders_app)
        })
        .await
        .unwrap();
    orders
}

/// `(sku, quantity)` of each line.
pub fn lines(cart: &pb::Cart) -> Vec<(String, i32)> {
    cart.lines
        .iter()
        .map(|line| (line.sku.clone(), line.quantity))
        .collect()
}
