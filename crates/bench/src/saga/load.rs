//! Driving sagas: the outcome listener (orders' confirmed / rejected /
//! canceled events off a queue of our own), the closed loop (capacity) and
//! the open loop (latency at a given load). A saga starts with cart-svc's
//! Checkout (scope `full`) or with a signed snapshot sent straight to
//! orders-svc's PlaceOrder (scope `place`, see [`Placer`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use ecommerce_broker::EventsExchange;
use ecommerce_broker::lapin::options::{
    BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use ecommerce_broker::lapin::types::FieldTable;
use ecommerce_broker::lapin::{Connection, ConnectionProperties};
use ecommerce_checkout::{DEFAULT_SNAPSHOT_TTL, SnapshotKeys, sign};
use ecommerce_e2e::shop::{CARD_OK, CURRENCY};
use ecommerce_e2e::{CheckoutArgs, Session, Shop, Stack, Svc};
use ecommerce_proto::ecommerce::common::v1::Money;
use ecommerce_proto::ecommerce::fulfillment::v1::GetShippingOptionsRequest;
use ecommerce_proto::ecommerce::fulfillment::v1::fulfillment_service_client::FulfillmentServiceClient;
use ecommerce_proto::ecommerce::orders::v1 as orders_pb;
use ecommerce_test_support::with_bearer;
use futures::StreamExt as _;
use secrecy::ExposeSecret as _;
use tokio::sync::oneshot;
use tokio::task::JoinSet;
use uuid::Uuid;

use super::args::Scope;
use crate::measure::Summary;

/// How a saga ended, as orders-svc announced it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Confirmed,
    Rejected,
    Canceled,
}

const CONFIRMED: &str = "orders.order_confirmed.v1";
const REJECTED: &str = "orders.order_rejected.v1";
const CANCELED: &str = "orders.order_canceled.v1";

type Waiters = Arc<Mutex<HashMap<String, oneshot::Sender<(Outcome, Instant)>>>>;

/// An exclusive, auto-deleted queue in the stack's private topology bound
/// to orders' exchange for the saga's end events, consumed without acks;
/// each event wakes the checkout with its correlation id. The queue goes
/// with the connection, also when the run dies.
pub struct Outcomes {
    connection: Connection,
    queue: String,
    waiters: Waiters,
    /// Every delivery the queue made to us: RabbitMQ's delivery counters
    /// count them too, and they are not the system's.
    received: Arc<AtomicU64>,
    listener: tokio::task::JoinHandle<()>,
}

impl Outcomes {
    pub async fn listen(stack: &Stack) -> anyhow::Result<Self> {
        let broker = stack.broker();
        let connection = Connection::connect(
            broker.settings.amqp_url.expose_secret(),
            ConnectionProperties::default()
                .with_connection_name(format!("{}saga-bench", broker.prefix).into()),
        )
        .await
        .context("saga-bench's connection to RabbitMQ")?;
        let channel = connection.create_channel().await?;
        let queue = format!("{}saga-bench-outcomes", broker.prefix);
        channel
            .queue_declare(
                queue.as_str().into(),
                QueueDeclareOptions {
                    exclusive: true,
                    auto_delete: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .with_context(|| format!("declare {queue}"))?;
        let exchange = broker.names().exchange(EventsExchange::Orders).to_owned();
        for routing_key in [CONFIRMED, REJECTED, CANCELED] {
            channel
                .queue_bind(
                    queue.as_str().into(),
                    exchange.as_str().into(),
                    routing_key.into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .with_context(|| format!("bind {queue} to {exchange} with {routing_key}"))?;
        }
        let mut deliveries = channel
            .basic_consume(
                queue.as_str().into(),
                "".into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..BasicConsumeOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .with_context(|| format!("consume {queue}"))?;
        let waiters: Waiters = Arc::default();
        let received = Arc::new(AtomicU64::new(0));
        let listener = tokio::spawn({
            let waiters = Arc::clone(&waiters);
            let received = Arc::clone(&received);
            async move {
                while let Some(Ok(delivery)) = deliveries.next().await {
                    let at = Instant::now();
                    received.fetch_add(1, Ordering::Relaxed);
                    let outcome = match delivery.routing_key.as_str() {
                        CONFIRMED => Outcome::Confirmed,
                        REJECTED => Outcome::Rejected,
                        _ => Outcome::Canceled,
                    };
                    let Some(correlation_id) = delivery.properties.correlation_id() else {
                        continue;
                    };
                    let waiter = waiters
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .remove(correlation_id.as_str());
                    if let Some(waiter) = waiter {
                        let _ = waiter.send((outcome, at));
                    }
                }
            }
        });
        Ok(Self {
            connection,
            queue,
            waiters,
            received,
            listener,
        })
    }

    /// Deliveries our outcome queue made to us so far.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    fn register(&self, correlation_id: &str) -> oneshot::Receiver<(Outcome, Instant)> {
        let (sender, receiver) = oneshot::channel();
        self.waiters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(correlation_id.to_owned(), sender);
        receiver
    }

    fn forget(&self, correlation_id: &str) {
        self.waiters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(correlation_id);
    }

    /// Deletes the queue and closes the connection.
    pub async fn close(self) {
        self.listener.abort();
        if let Ok(channel) = self.connection.create_channel().await {
            let _ = channel
                .queue_delete(self.queue.as_str().into(), QueueDeleteOptions::default())
                .await;
        }
        let _ = self.connection.close(200, "saga-bench done".into()).await;
    }
}

/// One checkout: the call and the saga's end.
#[derive(Debug)]
pub struct Saga {
    pub started: Instant,
    pub checkout_rpc: Duration,
    pub ended: Result<(Outcome, Instant), SagaError>,
}

#[derive(Debug)]
pub enum SagaError {
    Checkout(String),
    TimedOut,
}

impl Saga {
    pub fn confirmed_at(&self) -> Option<Instant> {
        match self.ended {
            Ok((Outcome::Confirmed, at)) => Some(at),
            _ => None,
        }
    }
}

/// Checkout of `customer`'s cart, then the wait for its end event.
pub async fn checkout_saga(
    shop: &Shop,
    customer: &Session,
    outcomes: &Outcomes,
    timeout: Duration,
) -> Saga {
    let args = CheckoutArgs::default();
    awaited_saga(outcomes, &args.correlation_id, timeout, async {
        shop.checkout(customer, &args).await.map(drop)
    })
    .await
}

/// Registers `correlation_id`, makes the call that starts the saga, then
/// waits for the saga's end event.
async fn awaited_saga(
    outcomes: &Outcomes,
    correlation_id: &str,
    timeout: Duration,
    call: impl std::future::Future<Output = Result<(), tonic::Status>>,
) -> Saga {
    let ended = outcomes.register(correlation_id);
    let started = Instant::now();
    let called = call.await;
    let checkout_rpc = started.elapsed();
    if let Err(status) = called {
        outcomes.forget(correlation_id);
        return Saga {
            started,
            checkout_rpc,
            ended: Err(SagaError::Checkout(format!(
                "{:?}: {}",
                status.code(),
                status.message()
            ))),
        };
    }
    let ended = match tokio::time::timeout(timeout, ended).await {
        Ok(Ok(ended)) => Ok(ended),
        _ => {
            outcomes.forget(correlation_id);
            Err(SagaError::TimedOut)
        }
    };
    Saga {
        started,
        checkout_rpc,
        ended,
    }
}

/// Scope `place`: builds and signs checkout snapshots as cart-svc would
/// (one unit of the customer's SKU at its catalog price, the shipping
/// option checkouts choose at its price, a good card), with the key the
/// services read from `CHECKOUT_SIGNING_KEY` (the development key when
/// unset; the services inherit this process' environment), and sends them
/// to orders-svc's PlaceOrder as the customer, with the saga's
/// `x-correlation-id`. Neither cart-svc nor catalog-svc is on the path.
pub struct Placer {
    keys: SnapshotKeys,
    orders: orders_pb::order_service_client::OrderServiceClient<tonic::transport::Channel>,
    shipping_option_id: String,
    shipping_price_minor: i64,
    price_minor: i64,
    /// Per SKU: (variant id, product id) as the snapshot names them;
    /// orders-svc stores them, the saga goes by the SKU.
    ids: HashMap<String, (String, String)>,
}

impl Placer {
    pub async fn new(
        stack: &Stack,
        shop: &Shop,
        skus: &[String],
        price_minor: i64,
    ) -> anyhow::Result<Self> {
        let keys = SnapshotKeys::from_env().context("the checkout signing key")?;
        let options = FulfillmentServiceClient::new(stack.channel(Svc::Fulfillment))
            .get_shipping_options(GetShippingOptionsRequest::default())
            .await
            .context("GetShippingOptions")?
            .into_inner()
            .shipping_options;
        let option = options
            .iter()
            .find(|option| option.id == shop.shipping_option_id())
            .context("the shop's shipping option is gone")?;
        let shipping_price_minor = option.price.as_ref().map_or(0, |price| price.amount_minor);
        let ids = skus
            .iter()
            .map(|sku| {
                (
                    sku.clone(),
                    (Uuid::now_v7().to_string(), Uuid::now_v7().to_string()),
                )
            })
            .collect();
        Ok(Self {
            keys,
            orders: shop.orders_client(),
            shipping_option_id: shop.shipping_option_id().to_owned(),
            shipping_price_minor,
            price_minor,
            ids,
        })
    }

    /// The signed PlaceOrder request of one unit of `sku` for `customer`,
    /// under a new checkout key (`<user id>:<key>`, as cart-svc derives it).
    fn request(&self, customer: &Session, sku: &str) -> orders_pb::PlaceOrderRequest {
        let eur = |amount_minor| {
            Some(Money {
                amount_minor,
                currency: CURRENCY.to_owned(),
            })
        };
        let (variant_id, product_id) = self.ids.get(sku).cloned().unwrap_or_default();
        let now = chrono::Utc::now();
        let snapshot = orders_pb::CheckoutSnapshot {
            cart_id: Uuid::now_v7().to_string(),
            cart_version: 1,
            user_id: customer.user_id.clone(),
            lines: vec![orders_pb::CheckoutLine {
                sku: sku.to_owned(),
                variant_id,
                product_id,
                title: format!("Product {sku}"),
                quantity: 1,
                unit_price: eur(self.price_minor),
                line_total: eur(self.price_minor),
            }],
            subtotal: eur(self.price_minor),
            shipping_option_id: self.shipping_option_id.clone(),
            shipping_price: eur(self.shipping_price_minor),
            total: eur(self.price_minor + self.shipping_price_minor),
            currency: CURRENCY.to_owned(),
            issued_at: Some(ecommerce_proto::timestamp(now)),
            expires_at: Some(ecommerce_proto::timestamp(now + DEFAULT_SNAPSHOT_TTL)),
            payment_method_token: CARD_OK.to_owned(),
            checkout_key: format!("{}:{}", customer.user_id, Uuid::now_v7()),
        };
        sign(&snapshot, self.keys.signing_key()).into_place_order_request()
    }

    /// PlaceOrder of one unit of `sku`, then the wait for its end event.
    pub async fn place_order_saga(
        &self,
        customer: &Session,
        sku: &str,
        outcomes: &Outcomes,
        timeout: Duration,
    ) -> Saga {
        let correlation_id = format!("bench-{}", Uuid::now_v7().simple());
        let request = self.request(customer, sku);
        let mut orders = self.orders.clone();
        awaited_saga(outcomes, &correlation_id, timeout, async {
            let mut request = with_bearer(request, &customer.access_token);
            let correlation = correlation_id
                .parse()
                .map_err(|_| tonic::Status::invalid_argument("correlation id"))?;
            request
                .metadata_mut()
                .insert("x-correlation-id", correlation);
            orders.place_order(request).await.map(drop)
        })
        .await
    }
}

/// Tallies of a phase's measured window.
#[derive(Debug, Default)]
pub struct Tally {
    pub confirmed: u64,
    pub rejected: u64,
    pub canceled: u64,
    pub timed_out: u64,
    pub checkout_errors: u64,
    pub add_item_errors: u64,
    pub last_error: Option<String>,
    /// Checkout call start (open loop: the due time) -> CONFIRMED, µs.
    pub saga_us: Vec<i64>,
    /// Open loop: checkout call start -> CONFIRMED, µs (without the wait
    /// for an idle customer).
    pub saga_from_call_us: Vec<i64>,
    pub checkout_rpc_us: Vec<i64>,
    pub add_item_us: Vec<i64>,
    /// Open loop: checkouts that started later than due by more than 1 ms
    /// (no idle customer), and the worst such lag.
    pub late_starts: u64,
    pub max_start_lag_us: i64,
}

fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

impl Tally {
    fn merge(&mut self, other: Self) {
        self.confirmed += other.confirmed;
        self.rejected += other.rejected;
        self.canceled += other.canceled;
        self.timed_out += other.timed_out;
        self.checkout_errors += other.checkout_errors;
        self.add_item_errors += other.add_item_errors;
        self.last_error = other.last_error.or(self.last_error.take());
        self.saga_us.extend(other.saga_us);
        self.saga_from_call_us.extend(other.saga_from_call_us);
        self.checkout_rpc_us.extend(other.checkout_rpc_us);
        self.add_item_us.extend(other.add_item_us);
        self.late_starts += other.late_starts;
        self.max_start_lag_us = self.max_start_lag_us.max(other.max_start_lag_us);
    }

    /// Counts `saga` (measured from `origin`: the call, or the due time).
    fn record(&mut self, saga: &Saga, origin: Instant) {
        self.checkout_rpc_us.push(micros(saga.checkout_rpc));
        match &saga.ended {
            Ok((Outcome::Confirmed, at)) => {
                self.confirmed += 1;
                self.saga_us
                    .push(micros(at.saturating_duration_since(origin)));
                self.saga_from_call_us
                    .push(micros(at.saturating_duration_since(saga.started)));
            }
            Ok((Outcome::Rejected, _)) => self.rejected += 1,
            Ok((Outcome::Canceled, _)) => self.canceled += 1,
            Err(SagaError::TimedOut) => self.timed_out += 1,
            Err(SagaError::Checkout(error)) => {
                self.checkout_errors += 1;
                self.last_error = Some(format!("Checkout/PlaceOrder {error}"));
            }
        }
    }

    fn add_item_failed(&mut self, error: String) {
        self.add_item_errors += 1;
        self.last_error = Some(format!("AddItem {error}"));
    }

    pub fn failures(&self) -> u64 {
        self.rejected + self.canceled + self.timed_out + self.checkout_errors + self.add_item_errors
    }

    pub fn saga(&self) -> Summary {
        Summary::of(self.saga_us.clone())
    }
}

/// The customers and what each buys.
#[derive(Clone)]
pub struct Shoppers {
    pub shop: Shop,
    pub customers: Vec<Session>,
    pub skus: Vec<String>,
    /// Scope `place`: the snapshot signer; `None` for scope `full`.
    pub placer: Option<Arc<Placer>>,
}

impl Shoppers {
    fn sku(&self, client: usize) -> &str {
        &self.skus[client % self.skus.len()]
    }

    fn scope(&self) -> Scope {
        if self.placer.is_some() {
            Scope::Place
        } else {
            Scope::Full
        }
    }

    /// One saga of `client`: Checkout of its (filled) cart, or PlaceOrder.
    async fn saga(&self, client: usize, outcomes: &Outcomes, timeout: Duration) -> Saga {
        let customer = &self.customers[client];
        match &self.placer {
            Some(placer) => {
                placer
                    .place_order_saga(customer, self.sku(client), outcomes, timeout)
                    .await
            }
            None => checkout_saga(&self.shop, customer, outcomes, timeout).await,
        }
    }

    async fn add_item(&self, client: usize) -> Result<Duration, String> {
        let started = Instant::now();
        self.shop
            .add_item(&self.customers[client], self.sku(client), 1)
            .await
            .map_err(|status| format!("{:?}: {}", status.code(), status.message()))?;
        Ok(started.elapsed())
    }
}

/// The measured window of a phase.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub start: Instant,
    pub end: Instant,
}

impl Window {
    pub fn after(warmup: Duration, length: Duration) -> Self {
        let start = Instant::now() + warmup;
        Self {
            start,
            end: start + length,
        }
    }

    fn contains(&self, at: Instant) -> bool {
        at >= self.start && at < self.end
    }
}

/// Every customer in a loop AddItem -> Checkout -> end event until the
/// window ends; counts the sagas confirmed inside the window.
pub async fn closed_loop(
    shoppers: &Shoppers,
    outcomes: &Arc<Outcomes>,
    window: Window,
    timeout: Duration,
) -> anyhow::Result<Tally> {
    let mut tasks = JoinSet::new();
    for client in 0..shoppers.customers.len() {
        let shoppers = shoppers.clone();
        let outcomes = Arc::clone(outcomes);
        tasks.spawn(async move {
            let mut tally = Tally::default();
            while Instant::now() < window.end {
                if shoppers.scope() == Scope::Full {
                    match shoppers.add_item(client).await {
                        Ok(took) => {
                            if window.contains(Instant::now()) {
                                tally.add_item_us.push(micros(took));
                            }
                        }
                        Err(error) => {
                            tally.add_item_failed(error);
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    }
                }
                let saga = shoppers.saga(client, &outcomes, timeout).await;
                // Counted when it ends inside the window (a throughput);
                // failures when they started inside it.
                let counted = match saga.confirmed_at() {
                    Some(at) => window.contains(at),
                    None => window.contains(saga.started),
                };
                if counted {
                    tally.record(&saga, saga.started);
                }
                if saga.ended.is_err() {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            tally
        });
    }
    let mut tally = Tally::default();
    while let Some(joined) = tasks.join_next().await {
        tally.merge(joined?);
    }
    Ok(tally)
}

/// Fills every customer's cart (one item), before an open loop (scope
/// `full`; nothing to do for scope `place`).
pub async fn fill_carts(shoppers: &Shoppers) -> anyhow::Result<()> {
    if shoppers.scope() == Scope::Place {
        return Ok(());
    }
    let mut fills = JoinSet::new();
    for client in 0..shoppers.customers.len() {
        let shoppers = shoppers.clone();
        fills.spawn(async move { shoppers.add_item(client).await });
    }
    while let Some(joined) = fills.join_next().await {
        joined?.map_err(|error| anyhow::anyhow!("filling the carts: AddItem {error}"))?;
    }
    Ok(())
}

/// Starts a checkout every 1/`rate` s whatever earlier ones did, each by an
/// idle customer whose cart was filled (see [`fill_carts`]) after its
/// previous saga; counts the sagas due inside the window, their latency
/// from the due time (a start delayed for want of an idle customer counts).
pub async fn open_loop(
    shoppers: &Shoppers,
    outcomes: &Arc<Outcomes>,
    rate: f64,
    window: Window,
    timeout: Duration,
) -> anyhow::Result<Tally> {
    let (idle_sender, mut idle) = tokio::sync::mpsc::unbounded_channel();
    for client in 0..shoppers.customers.len() {
        idle_sender.send(client)?;
    }
    let mut tally = Tally::default();
    let interval = Duration::from_secs_f64(1.0 / rate);
    let origin = Instant::now();
    let mut tasks = JoinSet::new();
    let mut due = origin;
    let mut sequence = 0_u64;
    while due < window.end {
        tokio::time::sleep_until(due.into()).await;
        let client = tokio::time::timeout(timeout, idle.recv())
            .await
            .ok()
            .flatten()
            .context("no customer became idle (their sagas or AddItem calls fail)")?;
        let lag = Instant::now().saturating_duration_since(due);
        let shoppers = shoppers.clone();
        let outcomes = Arc::clone(outcomes);
        let idle_sender = idle_sender.clone();
        tasks.spawn(async move {
            let mut tally = Tally::default();
            let saga = shoppers.saga(client, &outcomes, timeout).await;
            let measured = window.contains(due);
            if measured {
                tally.record(&saga, due);
                if lag > Duration::from_millis(1) {
                    tally.late_starts += 1;
                }
                tally.max_start_lag_us = micros(lag);
            }
            if shoppers.scope() == Scope::Place {
                let _ = idle_sender.send(client);
                return tally;
            }
            // The next saga of this customer needs a filled cart.
            match shoppers.add_item(client).await {
                Ok(took) => {
                    if measured {
                        tally.add_item_us.push(micros(took));
                    }
                    let _ = idle_sender.send(client);
                }
                Err(error) => tally.add_item_failed(error),
            }
            tally
        });
        sequence += 1;
        due = origin + interval.mul_f64(sequence as f64);
    }
    drop(idle_sender);
    while let Some(joined) = tasks.join_next().await {
        tally.merge(joined?);
    }
    Ok(tally)
}
