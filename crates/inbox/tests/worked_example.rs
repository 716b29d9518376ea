//! The worked example of the messaging backbone, end to end on a real
//! Postgres and RabbitMQ. Test code, written to be read as documentation.
//!
//! ```text
//!  orders side (schema A)                 RabbitMQ                        inventory side (schema B)
//!  ─────────────────────                  ────────                        ─────────────────────────
//!  place_order, one transaction:
//!    INSERT example_orders
//!    outbox.enqueue(OrderPlaced)
//!  commit ── wakes ──▶ orders Relay ──▶ orders.events ── orders.# ──▶ inventory.order-events
//!                                                                          │
//!                                                   InboxConsumer "inventory.order-events",
//!                                                   one transaction per message:
//!                                                     INSERT processed_messages (dedup key)
//!                                                     ReserveStock: INSERT example_reservations
//!                                                                   emit(StockReserved)
//!                                                   commit, then ack
//!                                                                          │
//!  orders.inventory-events ◀── inventory.stock.# ── inventory.events ◀── inventory Relay
//! ```
//!
//! What each test shows:
//! - a committed order is reserved exactly once, and the follow-up event
//!   names the order event as its cause and keeps its correlation id;
//! - a rolled-back order publishes nothing and reserves nothing;
//! - the same message delivered again is acknowledged with no second effect;
//! - a message that does not decode lands in the dead-letter queue with the
//!   reason, and the queue goes on;
//! - a handler that keeps failing transiently is retried, then dead-lettered;
//!   a permanent failure is dead-lettered at once.
//!
//! Every test has its own Postgres schemas and its own prefixed copy of the
//! RabbitMQ topology, deleted at its end, so the tests run in parallel.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ecommerce_broker::consumer::DEATH_REASON_HEADER;
use ecommerce_broker::{ConsumerQueue, EventsExchange, OutgoingMessage};
use ecommerce_events::{DecodedEvent, EventMetadata, encode, headers};
use ecommerce_inbox::{
    EventHandler, HandlerContext, HandlerError, InboxConsumer, InboxTable, create_inbox_table,
};
use ecommerce_outbox::{Outbox, OutboxTable, Relay, RelaySettings, create_outbox_table};
use ecommerce_proto::ecommerce::inventory::v1::{StockLine, StockReserved};
use ecommerce_proto::ecommerce::orders::v1::{OrderLine, OrderPlaced};
use ecommerce_test_support::TestSchema;
use ecommerce_test_support::rabbitmq::{TestBroker, header_text, test_message};
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

/// How long a test waits for something that should happen within
/// milliseconds before it fails instead of hanging.
const PATIENCE: Duration = Duration::from_secs(10);

// ───────────────────────── the consumer's handler ─────────────────────────

/// Inventory's reaction to a placed order: reserve its lines and announce
/// it. All of it goes through `context.transaction()`, so it commits
/// together with the inbox record, or not at all.
struct ReserveStock;

#[async_trait]
impl EventHandler for ReserveStock {
    async fn handle(
        &self,
        context: &HandlerContext<'_>,
        event: DecodedEvent,
    ) -> Result<(), HandlerError> {
        let DecodedEvent::OrdersOrderPlacedV1(order) = event else {
            // Payment events share this queue; inventory ignores them here.
            // They are still recorded as processed.
            return Ok(());
        };
        if order.lines.is_empty() {
            // Retrying cannot help: straight to the dead-letter queue.
            return Err(HandlerError::permanent(format!(
                "order {} has no lines to reserve",
                order.order_id
            )));
        }
        let order_id = Uuid::parse_str(&order.order_id)
            .map_err(|error| HandlerError::permanent(format!("bad order id: {error}")))?;

        let reservation_id = Uuid::now_v7();
        context
            .transaction()
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO example_reservations (id, order_id, line_count) VALUES ($1, $2, $3)",
                [
                    Value::from(reservation_id),
                    Value::from(order_id),
                    Value::from(order.lines.len() as i32),
                ],
            ))
            .await?; // a database error is transient: retried

        // Causation = the order event's id, correlation passed through.
        let reserved = StockReserved {
            reservation_id: reservation_id.to_string(),
            order_id: order.order_id.clone(),
            lines: order
                .lines
                .iter()
                .map(|line| StockLine {
                    sku: line.sku.clone(),
                    quantity: line.quantity,
                })
                .collect(),
            expires_at: None,
        };
        context
            .emit(&reserved, "reservation", reservation_id.to_string())
            .await?;
        Ok(())
    }
}

// ───────────────────────── the running example ─────────────────────────

/// Both services' tables, their outboxes and relays, the inbox consumer
/// and a private RabbitMQ topology.
struct Shop {
    broker: TestBroker,
    /// orders-svc's schema: `example_orders` and its outbox.
    orders_db: TestSchema,
    orders_outbox: Outbox,
    /// inventory-svc's schema: `example_reservations`, its outbox, its inbox.
    inventory_db: TestSchema,
    inventory_outbox: Outbox,
    inbox_table: InboxTable,
    /// Incoming event ids whose transaction committed (the inbox's hook).
    committed: Arc<Mutex<Vec<Uuid>>>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// The inbox's consumer name: one per logical consumer, shared by replicas.
const CONSUMER_NAME: &str = "inventory.order-events";

impl Shop {
    async fn start() -> Self {
        Self::start_with(ReserveStock).await
    }

    async fn start_with(handler: impl EventHandler) -> Self {
        let broker = TestBroker::start().await;
        let names = broker.names().clone();

        // orders-svc: its table and outbox (what its migrations create).
        let orders_db = TestSchema::create("inbox_example_orders").await.unwrap();
        let orders_outbox_table = OutboxTable::ORDERS.in_schema(orders_db.name()).unwrap();
        create_outbox_table(orders_db.db(), &orders_outbox_table)
            .await
            .unwrap();
        orders_db
            .db()
            .execute_unprepared(
                "CREATE TABLE example_orders (id uuid PRIMARY KEY, line_count integer NOT NULL)",
            )
            .await
            .unwrap();
        let orders_outbox =
            Outbox::new(orders_outbox_table, names.exchange(EventsExchange::Orders));

        // inventory-svc: its table, outbox and inbox. Reservations have their
        // own id, so a second effect would show as a second row.
        let inventory_db = TestSchema::create("inbox_example_inventory").await.unwrap();
        let inventory_outbox_table = OutboxTable::INVENTORY
            .in_schema(inventory_db.name())
            .unwrap();
        create_outbox_table(inventory_db.db(), &inventory_outbox_table)
            .await
            .unwrap();
        let inbox_table = InboxTable::INVENTORY
            .in_schema(inventory_db.name())
            .unwrap();
        create_inbox_table(inventory_db.db(), &inbox_table)
            .await
            .unwrap();
        inventory_db
            .db()
            .execute_unprepared(
                "CREATE TABLE example_reservations (id uuid PRIMARY KEY, \
                 order_id uuid NOT NULL, line_count integer NOT NULL)",
            )
            .await
            .unwrap();
        let inventory_outbox = Outbox::new(
            inventory_outbox_table,
            names.exchange(EventsExchange::Inventory),
        );

        let (stop, stopped) = watch::channel(false);
        let shutdown = move || {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            }
        };
        let mut tasks = Vec::new();

        // One relay per outbox, each with its own pool, publishing through
        // the broker's confirming publisher.
        for (db, outbox) in [
            (&orders_db, &orders_outbox),
            (&inventory_db, &inventory_outbox),
        ] {
            let relay = Relay::new(
                db.connect(2).await.unwrap(),
                outbox.clone(),
                Arc::new(broker.broker.publisher()),
                relay_settings(),
            );
            let shutdown = shutdown();
            tasks.push(tokio::spawn(async move { relay.run(shutdown).await }));
        }

        // The idempotent consumer on inventory's queue for order events.
        let committed = Arc::new(Mutex::new(Vec::new()));
        let inbox = InboxConsumer::new(
            CONSUMER_NAME,
            inventory_db.db().clone(),
            inbox_table.clone(),
            handler,
        )
        .with_outbox(inventory_outbox.clone())
        .on_committed({
            let committed = Arc::clone(&committed);
            move |incoming: &EventMetadata| committed.lock().unwrap().push(incoming.id)
        });
        let consumer = broker.broker.consumer();
        let queue = names.queue(ConsumerQueue::InventoryOrderEvents).to_owned();
        let shutdown = shutdown();
        tasks.push(tokio::spawn(async move {
            inbox
                .run(&consumer, &queue, shutdown)
                .await
                .expect("the consumer runs until shutdown");
        }));

        Self {
            broker,
            orders_db,
            orders_outbox,
            inventory_db,
            inventory_outbox,
            inbox_table,
            committed,
            stop,
            tasks,
        }
    }

    /// orders-svc placing an order: the row and its event in one
    /// transaction. Returns the event as enqueued.
    async fn place_order(&self, line_count: usize) -> (OrderPlaced, EventMetadata) {
        let (payload, metadata) = new_order(line_count);
        let transaction = self.orders_outbox.begin(self.orders_db.db()).await.unwrap();
        transaction
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO example_orders (id, line_count) VALUES ($1, $2)",
                [
                    Value::from(Uuid::parse_str(&payload.order_id).unwrap()),
                    Value::from(line_count as i32),
                ],
            ))
            .await
            .unwrap();
        transaction
            .enqueue(&payload, metadata.clone())
            .await
            .unwrap();
        transaction.commit().await.unwrap(); // commits, then wakes the relay
        (payload, metadata)
    }

    /// The same, but the transaction rolls back (say, a later step failed).
    async fn place_order_then_roll_back(&self) -> (OrderPlaced, EventMetadata) {
        let (payload, metadata) = new_order(1);
        let transaction = self.orders_outbox.begin(self.orders_db.db()).await.unwrap();
        transaction
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO example_orders (id, line_count) VALUES ($1, 1)",
                [Value::from(Uuid::parse_str(&payload.order_id).unwrap())],
            ))
            .await
            .unwrap();
        transaction
            .enqueue(&payload, metadata.clone())
            .await
            .unwrap();
        transaction.rollback().await.unwrap();
        (payload, metadata)
    }

    async fn reservations_for(&self, order: &OrderPlaced) -> i64 {
        count(
            self.inventory_db.db(),
            "SELECT count(*) FROM example_reservations WHERE order_id = $1",
            [Value::from(Uuid::parse_str(&order.order_id).unwrap())],
        )
        .await
    }

    async fn all_reservations(&self) -> i64 {
        count(
            self.inventory_db.db(),
            "SELECT count(*) FROM example_reservations",
            [],
        )
        .await
    }

    async fn times_processed(&self, event: &EventMetadata) -> i64 {
        let sql = format!(
            "SELECT count(*) FROM {} WHERE consumer = $1 AND message_id = $2",
            qualified(self.inbox_table.schema(), self.inbox_table.table())
        );
        count(
            self.inventory_db.db(),
            &sql,
            [Value::from(CONSUMER_NAME), Value::from(event.id)],
        )
        .await
    }

    async fn all_processed(&self) -> i64 {
        let sql = format!(
            "SELECT count(*) FROM {}",
            qualified(self.inbox_table.schema(), self.inbox_table.table())
        );
        count(self.inventory_db.db(), &sql, []).await
    }

    /// orders-svc's outbox rows (pending or published).
    async fn orders_outbox_rows(&self) -> i64 {
        let table = self.orders_outbox.table();
        let sql = format!(
            "SELECT count(*) FROM {}",
            qualified(table.schema(), table.table())
        );
        count(self.orders_db.db(), &sql, []).await
    }

    /// `(event_type, causation_id, correlation_id)` of inventory's outbox rows.
    async fn inventory_outbox_events(&self) -> Vec<(String, Option<String>, Option<String>)> {
        let table = self.inventory_outbox.table();
        let sql = format!(
            "SELECT event_type, causation_id, correlation_id FROM {} ORDER BY id",
            qualified(table.schema(), table.table())
        );
        self.inventory_db
            .db()
            .query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
            .await
            .unwrap()
            .iter()
            .map(|row| {
                (
                    row.try_get("", "event_type").unwrap(),
                    row.try_get("", "causation_id").unwrap(),
                    row.try_get("", "correlation_id").unwrap(),
                )
            })
            .collect()
    }

    fn committed(&self) -> Vec<Uuid> {
        self.committed.lock().unwrap().clone()
    }

    fn queue(&self, queue: ConsumerQueue) -> String {
        self.broker.names().queue(queue).to_owned()
    }

    fn dead_letter_queue(&self, queue: ConsumerQueue) -> String {
        self.broker.names().dead_letter_queue(queue)
    }

    /// Stops the relays and the consumer, then deletes the topology and the schemas.
    async fn stop(self) {
        self.stop.send_replace(true);
        for task in self.tasks {
            tokio::time::timeout(PATIENCE, task)
                .await
                .expect("stops in time")
                .expect("did not panic");
        }
        self.broker.finish().await;
        self.orders_db.drop_schema().await.unwrap();
        self.inventory_db.drop_schema().await.unwrap();
    }
}

fn new_order(line_count: usize) -> (OrderPlaced, EventMetadata) {
    let order_id = Uuid::now_v7().to_string();
    let payload = OrderPlaced {
        order_id: order_id.clone(),
        user_id: "user-1".to_owned(),
        currency: "EUR".to_owned(),
        lines: (0..line_count)
            .map(|index| OrderLine {
                sku: format!("SKU-{index}"),
                quantity: 1,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    // One checkout, one correlation id, carried by every event that follows.
    let metadata = EventMetadata::new("order", order_id.clone())
        .with_correlation_id(format!("checkout-{order_id}"));
    (payload, metadata)
}

/// Fast polling and retries, so the suite takes seconds.
fn relay_settings() -> RelaySettings {
    RelaySettings {
        poll_interval: Duration::from_millis(20),
        backoff_base: Duration::from_millis(10),
        backoff_cap: Duration::from_millis(200),
        ..RelaySettings::default()
    }
}

async fn count<const N: usize>(db: &impl ConnectionTrait, sql: &str, values: [Value; N]) -> i64 {
    db.query_one_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
    .await
    .unwrap()
    .unwrap()
    .try_get_by_index(0)
    .unwrap()
}

fn qualified(schema: &str, table: &str) -> String {
    format!("\"{schema}\".\"{table}\"")
}

/// Polls `condition` until it holds; fails the test after [`PATIENCE`].
async fn wait_until<Condition, Check>(what: &str, mut condition: Condition)
where
    Condition: FnMut() -> Check,
    Check: Future<Output = bool>,
{
    let deadline = Instant::now() + PATIENCE;
    while !condition().await {
        assert!(
            Instant::now() < deadline,
            "timed out after {PATIENCE:?} waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ───────────────────────── the tests ─────────────────────────

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committed_order_is_reserved_once_and_its_follow_up_event_is_caused_by_it() {
    let shop = Shop::start().await;

    let (order, order_event) = shop.place_order(2).await;

    wait_until("the order is reserved", || async {
        shop.reservations_for(&order).await == 1
    })
    .await;
    assert_eq!(shop.times_processed(&order_event).await, 1);
    assert_eq!(shop.committed(), [order_event.id]);
    // The follow-up event was written in the same transaction, linked to its cause.
    assert_eq!(
        shop.inventory_outbox_events().await,
        [(
            "inventory.stock.reserved.v1".to_owned(),
            Some(order_event.id.to_string()),
            order_event.correlation_id.clone(),
        )]
    );

    // Inventory's relay publishes it; orders-svc's queue for inventory events gets it.
    let orders_queue = shop.queue(ConsumerQueue::OrdersInventoryEvents);
    let admin = &shop.broker.admin;
    assert_eq!(
        admin
            .wait_for_message_count(&orders_queue, 1, PATIENCE)
            .await,
        1
    );
    let message = admin
        .get(&orders_queue)
        .await
        .expect("the StockReserved message");
    assert_eq!(
        header_text(&message, headers::CAUSATION_ID),
        Some(order_event.id.to_string())
    );
    assert_eq!(
        message
            .delivery
            .properties
            .correlation_id()
            .as_ref()
            .map(|id| id.as_str().to_owned()),
        order_event.correlation_id
    );
    let reserved = ecommerce_events::decode_envelope(&message.delivery.data).unwrap();
    let DecodedEvent::InventoryStockReservedV1(reserved_payload) = reserved.event else {
        panic!("expected StockReserved, got {:?}", reserved.event);
    };
    assert_eq!(reserved_payload.order_id, order.order_id);
    assert_eq!(reserved_payload.lines.len(), 2);

    // Still exactly once after everything settled.
    assert_eq!(shop.reservations_for(&order).await, 1);
    shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_back_order_publishes_nothing_and_reserves_nothing() {
    let shop = Shop::start().await;

    let (rolled_back, rolled_back_event) = shop.place_order_then_roll_back().await;
    // A later committed order: once it is reserved the pipeline has run, and
    // anything the rollback had let through would have arrived first.
    let (marker, _) = shop.place_order(1).await;
    wait_until("the later order is reserved", || async {
        shop.reservations_for(&marker).await == 1
    })
    .await;
    // A bounded extra wait, for a message that would be overtaking late.
    tokio::time::sleep(Duration::from_millis(200)).await;

    assert_eq!(shop.reservations_for(&rolled_back).await, 0);
    assert_eq!(shop.times_processed(&rolled_back_event).await, 0);
    assert_eq!(shop.orders_outbox_rows().await, 1);
    assert_eq!(shop.all_reservations().await, 1);
    assert_eq!(shop.all_processed().await, 1);
    shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_message_delivered_again_is_acknowledged_without_a_second_effect() {
    let shop = Shop::start().await;
    let (order, order_event) = shop.place_order(1).await;
    wait_until("the order is reserved", || async {
        shop.reservations_for(&order).await == 1
    })
    .await;

    // A second copy, byte for byte, as a relay that crashed before marking
    // the row published would send it.
    let duplicate =
        OutgoingMessage::for_event(encode(&order, &order_event), shop.broker.names()).unwrap();
    shop.broker
        .broker
        .publisher()
        .publish(&duplicate)
        .await
        .unwrap();
    // One handler at a time on a FIFO queue: once a later order is
    // reserved, the duplicate before it has been dealt with.
    let (marker, _) = shop.place_order(1).await;
    wait_until("the later order is reserved", || async {
        shop.reservations_for(&marker).await == 1
    })
    .await;

    assert_eq!(shop.reservations_for(&order).await, 1);
    assert_eq!(shop.times_processed(&order_event).await, 1);
    assert_eq!(shop.inventory_outbox_events().await.len(), 2); // one per order
    let queue = shop.queue(ConsumerQueue::InventoryOrderEvents);
    assert_eq!(shop.broker.admin.message_count(&queue).await, 0); // acknowledged
    let dead_letter_queue = shop.dead_letter_queue(ConsumerQueue::InventoryOrderEvents);
    assert_eq!(shop.broker.admin.message_count(&dead_letter_queue).await, 0);
    shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_does_not_decode_is_dead_lettered_and_the_next_one_is_handled() {
    let shop = Shop::start().await;
    let orders_exchange = shop
        .broker
        .names()
        .exchange(EventsExchange::Orders)
        .to_owned();

    // Properties that look right, a body that is not an envelope.
    let garbage = test_message(&orders_exchange, "orders.order_placed.v1", b"garbage");
    shop.broker
        .broker
        .publisher()
        .publish(&garbage)
        .await
        .unwrap();
    let (order, _) = shop.place_order(1).await;

    let dead_letter_queue = shop.dead_letter_queue(ConsumerQueue::InventoryOrderEvents);
    let admin = &shop.broker.admin;
    assert_eq!(
        admin
            .wait_for_message_count(&dead_letter_queue, 1, PATIENCE)
            .await,
        1
    );
    let dead = admin.get(&dead_letter_queue).await.expect("the DLQ copy");
    assert_eq!(dead.delivery.data, b"garbage");
    let reason = header_text(&dead, DEATH_REASON_HEADER).unwrap();
    assert!(
        reason.starts_with("undecodable: the body is not an event envelope"),
        "{reason}"
    );

    wait_until("the good order is reserved", || async {
        shop.reservations_for(&order).await == 1
    })
    .await;
    assert_eq!(shop.all_processed().await, 1);
    shop.stop().await;
}

/// A handler whose database is down: it writes, then fails, every time.
#[derive(Clone, Default)]
struct DatabaseDown {
    attempts: Arc<AtomicUsize>,
}

#[async_trait]
impl EventHandler for DatabaseDown {
    async fn handle(
        &self,
        context: &HandlerContext<'_>,
        _event: DecodedEvent,
    ) -> Result<(), HandlerError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        context
            .transaction()
            .execute_unprepared(
                "INSERT INTO example_reservations (id, order_id, line_count) \
                 VALUES (gen_random_uuid(), gen_random_uuid(), 1)",
            )
            .await?;
        Err(HandlerError::transient("inventory database unavailable"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_that_keeps_failing_is_retried_then_dead_lettered_with_the_reason() {
    let handler = DatabaseDown::default();
    let shop = Shop::start_with(handler.clone()).await;
    let retry_budget = shop.broker.settings.consumer.retry_budget;

    shop.place_order(1).await;

    let dead_letter_queue = shop.dead_letter_queue(ConsumerQueue::InventoryOrderEvents);
    let admin = &shop.broker.admin;
    assert_eq!(
        admin
            .wait_for_message_count(&dead_letter_queue, 1, PATIENCE)
            .await,
        1
    );
    let dead = admin.get(&dead_letter_queue).await.expect("the DLQ copy");
    assert_eq!(
        header_text(&dead, DEATH_REASON_HEADER),
        Some(format!(
            "retry budget of {retry_budget} exhausted: inventory database unavailable"
        ))
    );
    // The first delivery and one per requeue, each rolled back.
    assert_eq!(
        handler.attempts.load(Ordering::SeqCst),
        retry_budget as usize + 1
    );
    assert_eq!(shop.all_reservations().await, 0);
    assert_eq!(shop.all_processed().await, 0);
    assert!(shop.committed().is_empty());
    shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_failure_is_dead_lettered_at_once_with_the_reason() {
    let shop = Shop::start().await;

    let (empty_order, _) = shop.place_order(0).await;

    let dead_letter_queue = shop.dead_letter_queue(ConsumerQueue::InventoryOrderEvents);
    let admin = &shop.broker.admin;
    assert_eq!(
        admin
            .wait_for_message_count(&dead_letter_queue, 1, PATIENCE)
            .await,
        1
    );
    let dead = admin.get(&dead_letter_queue).await.expect("the DLQ copy");
    // Not "retry budget ... exhausted": it was never retried.
    assert_eq!(
        header_text(&dead, DEATH_REASON_HEADER),
        Some(format!(
            "order {} has no lines to reserve",
            empty_order.order_id
        ))
    );
    assert_eq!(shop.all_reservations().await, 0);
    assert_eq!(shop.all_processed().await, 0);
    assert!(shop.inventory_outbox_events().await.is_empty());
    shop.stop().await;
}
