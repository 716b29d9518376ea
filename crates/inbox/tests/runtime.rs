//! The inbox runtime against a real Postgres, without a broker: each test
//! builds deliveries by hand and gives them to the [`InboxConsumer`] exactly
//! as the broker's consumer runtime would, then checks the outcome and the
//! tables. Every test works in a fresh schema, dropped at its end.
//!
//! The whole path through Postgres and RabbitMQ is the worked example in
//! `crates/messaging-example/tests/worked_example.rs`.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use ecommerce_broker::{Delivery, HandlerOutcome, MessageHandler};
use ecommerce_events::{DecodedEvent, EventMetadata, TraceContext, encode};
use ecommerce_inbox::{
    EventHandler, HandlerContext, HandlerError, InboxConsumer, InboxMigration, InboxTable,
    create_inbox_table, prune_inbox,
};
use ecommerce_outbox::{Outbox, OutboxTable, create_outbox_table};
use ecommerce_proto::ecommerce::inventory::v1::StockReserved;
use ecommerce_proto::ecommerce::orders::v1::OrderPlaced;
use ecommerce_test_support::TestSchema;
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};
use sea_orm_migration::{MigrationTrait, SchemaManager};
use uuid::Uuid;

const CONSUMER: &str = "inventory.order-events";
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// A fresh schema with an inbox table and an `effects` table the test
/// handler writes to (no key: a second effect would show as a second row).
struct Fixture {
    schema: TestSchema,
    table: InboxTable,
}

impl Fixture {
    async fn new(prefix: &str) -> Self {
        ecommerce_test_support::init_test_tracing();
        let schema = TestSchema::create(prefix).await.unwrap();
        let table = InboxTable::INVENTORY.in_schema(schema.name()).unwrap();
        create_inbox_table(schema.db(), &table).await.unwrap();
        schema
            .db()
            .execute_unprepared(
                "CREATE TABLE effects (message_id uuid NOT NULL); \
                 CREATE TABLE deferred_unique (id integer, \
                 CONSTRAINT deferred_unique_id UNIQUE (id) DEFERRABLE INITIALLY DEFERRED)",
            )
            .await
            .unwrap();
        Self { schema, table }
    }

    fn consumer(&self, handler: impl EventHandler) -> InboxConsumer {
        InboxConsumer::new(
            CONSUMER,
            self.schema.db().clone(),
            self.table.clone(),
            handler,
        )
    }

    async fn count(&self, sql: &str) -> i64 {
        let sql = sql.replace(
            "{inbox}",
            &qualified(self.table.schema(), self.table.table()),
        );
        self.schema
            .db()
            .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<i64>(0)
            .unwrap()
    }

    async fn effects(&self) -> i64 {
        self.count("SELECT count(*) FROM effects").await
    }

    async fn processed(&self) -> i64 {
        self.count("SELECT count(*) FROM {inbox}").await
    }

    async fn cleanup(self) {
        self.schema.drop_schema().await.unwrap();
    }
}

fn qualified(schema: &str, table: &str) -> String {
    format!("\"{schema}\".\"{table}\"")
}

fn order_placed() -> (OrderPlaced, EventMetadata) {
    let order_id = Uuid::now_v7().to_string();
    let payload = OrderPlaced {
        order_id: order_id.clone(),
        user_id: "user-1".to_owned(),
        currency: "EUR".to_owned(),
        ..Default::default()
    };
    let metadata = EventMetadata::new("order", order_id)
        .with_correlation_id("checkout-1")
        .with_trace_context(TraceContext {
            traceparent: TRACEPARENT.to_owned(),
            tracestate: String::new(),
        });
    (payload, metadata)
}

/// The delivery the broker's consumer would hand over for this event.
fn delivery(payload: &OrderPlaced, metadata: &EventMetadata) -> Delivery {
    let encoded = encode(payload, metadata);
    Delivery {
        body: encoded.body.into(),
        routing_key: encoded.properties.event_type.clone(),
        properties: encoded.properties,
        queue: CONSUMER.to_owned(),
        exchange: "orders.events".to_owned(),
        redelivered: false,
        delivery_count: 0,
        user_id: None,
        delayed_retries: 0,
    }
}

/// What the scripted handler does on one call, after writing its effect.
#[derive(Clone, Copy, Debug)]
enum Step {
    Succeed,
    SucceedSlowly(Duration),
    Transient,
    Permanent,
    Panic,
    /// Succeeds, but leaves a row that breaks a deferred constraint, so the
    /// commit fails.
    BreakTheCommit,
    EmitStockReserved,
}

/// Writes one `effects` row per call, then plays the next step of its
/// script (then `Succeed` once the script is spent).
#[derive(Clone, Default)]
struct Scripted {
    script: Arc<Mutex<VecDeque<Step>>>,
    calls: Arc<AtomicUsize>,
}

impl Scripted {
    fn new(steps: impl IntoIterator<Item = Step>) -> Self {
        Self {
            script: Arc::new(Mutex::new(steps.into_iter().collect())),
            calls: Arc::default(),
        }
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl EventHandler for Scripted {
    async fn handle(
        &self,
        context: &HandlerContext<'_>,
        event: DecodedEvent,
    ) -> Result<(), HandlerError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let step = self
            .script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Step::Succeed);
        context
            .transaction()
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO effects (message_id) VALUES ($1)",
                [Value::from(context.message_id())],
            ))
            .await?;
        match step {
            Step::Succeed => Ok(()),
            Step::SucceedSlowly(delay) => {
                tokio::time::sleep(delay).await;
                Ok(())
            }
            Step::Transient => Err(HandlerError::transient("stock service unavailable")),
            Step::Permanent => Err(HandlerError::permanent("the order has no lines")),
            Step::Panic => panic!("a bug in the handler"),
            Step::BreakTheCommit => {
                context
                    .transaction()
                    .execute_unprepared("INSERT INTO deferred_unique (id) VALUES (1), (1)")
                    .await?;
                Ok(())
            }
            Step::EmitStockReserved => {
                let DecodedEvent::OrdersOrderPlacedV1(order) = event else {
                    return Err(HandlerError::permanent("expected an order"));
                };
                let reserved = StockReserved {
                    reservation_id: Uuid::now_v7().to_string(),
                    order_id: order.order_id.clone(),
                    ..Default::default()
                };
                context.emit(&reserved, "order", &order.order_id).await?;
                Ok(())
            }
        }
    }
}

#[tokio::test]
async fn the_table_is_created_idempotently_and_by_its_migration() {
    let fixture = Fixture::new("inbox_table").await;
    let db = fixture.schema.db();
    let other_pool = fixture.schema.connect(2).await.unwrap();
    // Replicas starting together: the advisory lock serializes the DDL.
    let (first, second) = tokio::join!(
        create_inbox_table(db, &fixture.table),
        create_inbox_table(&other_pool, &fixture.table)
    );
    first.unwrap();
    second.unwrap();

    let columns: Vec<String> = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT column_name || ' ' || data_type || ' ' || is_nullable \
             FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 \
             ORDER BY ordinal_position",
            [fixture.table.schema().into(), fixture.table.table().into()],
        ))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get_by_index(0).unwrap())
        .collect();
    assert_eq!(
        columns,
        [
            "consumer text NO",
            "message_id uuid NO",
            "event_type text NO",
            "correlation_id text YES",
            "processed_at timestamp with time zone NO",
        ]
    );
    let indexes: Vec<String> = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = $2 \
             ORDER BY indexname",
            [fixture.table.schema().into(), fixture.table.table().into()],
        ))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get_by_index(0).unwrap())
        .collect();
    assert_eq!(indexes.len(), 2, "{indexes:?}");
    assert!(
        indexes[0].contains("UNIQUE INDEX processed_messages_pkey")
            && indexes[0].ends_with("(consumer, message_id)"),
        "{indexes:?}"
    );
    assert!(
        indexes[1].contains("processed_messages_processed_at_idx")
            && indexes[1].ends_with("(processed_at)"),
        "{indexes:?}"
    );

    let migration = InboxMigration::new("m_inbox", fixture.table.clone());
    let manager = SchemaManager::new(db);
    migration.down(&manager).await.unwrap();
    assert!(!manager.has_table(fixture.table.table()).await.unwrap());
    migration.up(&manager).await.unwrap();
    migration.up(&manager).await.unwrap();
    assert!(manager.has_table(fixture.table.table()).await.unwrap());
    other_pool.close().await.unwrap();
    fixture.cleanup().await;
}

#[tokio::test]
async fn a_message_is_applied_once_and_a_redelivery_is_acknowledged_without_the_handler() {
    let fixture = Fixture::new("inbox_once").await;
    let handler = Scripted::default();
    let inbox = fixture.consumer(handler.clone());
    let (payload, metadata) = order_placed();

    assert_eq!(
        inbox.handle(delivery(&payload, &metadata)).await,
        HandlerOutcome::Ack
    );
    let mut redelivery = delivery(&payload, &metadata);
    redelivery.redelivered = true;
    assert_eq!(inbox.handle(redelivery).await, HandlerOutcome::Ack);

    assert_eq!(handler.calls(), 1);
    assert_eq!(fixture.effects().await, 1);
    let record = fixture
        .schema
        .db()
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT consumer, message_id, event_type, correlation_id, \
                 processed_at <= clock_timestamp() AS in_the_past FROM {}",
                qualified(fixture.table.schema(), fixture.table.table())
            ),
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.try_get::<String>("", "consumer").unwrap(), CONSUMER);
    assert_eq!(
        record.try_get::<Uuid>("", "message_id").unwrap(),
        metadata.id
    );
    assert_eq!(
        record.try_get::<String>("", "event_type").unwrap(),
        "orders.order_placed.v1"
    );
    assert_eq!(
        record
            .try_get::<Option<String>>("", "correlation_id")
            .unwrap()
            .as_deref(),
        Some("checkout-1")
    );
    assert!(record.try_get::<bool>("", "in_the_past").unwrap());

    // Another consumer sharing the table keeps its own record.
    let other_handler = Scripted::default();
    let other = InboxConsumer::new(
        "inventory.other-consumer",
        fixture.schema.db().clone(),
        fixture.table.clone(),
        other_handler.clone(),
    );
    assert_eq!(
        other.handle(delivery(&payload, &metadata)).await,
        HandlerOutcome::Ack
    );
    assert_eq!(other_handler.calls(), 1);
    assert_eq!(fixture.processed().await, 2);
    fixture.cleanup().await;
}

#[tokio::test]
async fn concurrent_deliveries_of_one_message_apply_it_once() {
    let fixture = Fixture::new("inbox_concurrent").await;
    let handler = Scripted::new([Step::SucceedSlowly(Duration::from_millis(300))]);
    let inbox = fixture.consumer(handler.clone());
    let (payload, metadata) = order_placed();

    // The second waits on the first one's key, then sees its record.
    let (first, second) = tokio::join!(
        inbox.handle(delivery(&payload, &metadata)),
        inbox.handle(delivery(&payload, &metadata))
    );

    assert_eq!((first, second), (HandlerOutcome::Ack, HandlerOutcome::Ack));
    assert_eq!(handler.calls(), 1);
    assert_eq!(fixture.effects().await, 1);
    assert_eq!(fixture.processed().await, 1);
    fixture.cleanup().await;
}

#[tokio::test]
async fn a_failed_attempt_leaves_nothing_behind_and_a_later_one_applies_the_message() {
    let fixture = Fixture::new("inbox_failures").await;
    let handler = Scripted::new([
        Step::Transient,
        Step::Panic,
        Step::BreakTheCommit,
        Step::Permanent,
        Step::Succeed,
    ]);
    let inbox = fixture.consumer(handler.clone());
    let (payload, metadata) = order_placed();
    let attempt = || inbox.handle(delivery(&payload, &metadata));

    assert_eq!(
        attempt().await,
        HandlerOutcome::retry("stock service unavailable")
    );
    assert_eq!(
        attempt().await,
        HandlerOutcome::retry("handler panicked: a bug in the handler")
    );
    let HandlerOutcome::Retry { reason } = attempt().await else {
        panic!("a failed commit is retried");
    };
    assert!(reason.starts_with("commit failed: "), "{reason}");
    assert!(reason.contains("deferred_unique_id"), "{reason}");
    assert_eq!(
        attempt().await,
        HandlerOutcome::dead_letter("the order has no lines")
    );
    // Nothing of the four failed attempts stayed, the record included, so
    // the fifth is not mistaken for a duplicate.
    assert_eq!(fixture.effects().await, 0);
    assert_eq!(fixture.processed().await, 0);

    assert_eq!(attempt().await, HandlerOutcome::Ack);
    assert_eq!(handler.calls(), 5);
    assert_eq!(fixture.effects().await, 1);
    assert_eq!(fixture.processed().await, 1);
    fixture.cleanup().await;
}

#[tokio::test]
async fn an_undecodable_delivery_is_dead_lettered_with_the_reason() {
    let fixture = Fixture::new("inbox_undecodable").await;
    let handler = Scripted::default();
    let inbox = fixture.consumer(handler.clone());
    let (payload, metadata) = order_placed();

    let mut garbage = delivery(&payload, &metadata);
    garbage.body = Arc::from(&b"garbage"[..]);
    let HandlerOutcome::DeadLetter { reason } = inbox.handle(garbage).await else {
        panic!("garbage is dead-lettered");
    };
    assert!(
        reason.starts_with("undecodable: the body is not an event envelope"),
        "{reason}"
    );

    let mut mislabelled = delivery(&payload, &metadata);
    mislabelled.properties.event_type = "orders.order_canceled.v1".to_owned();
    assert_eq!(
        inbox.handle(mislabelled).await,
        HandlerOutcome::dead_letter(
            "undecodable: message property `type` is `orders.order_canceled.v1` but the \
             envelope says `orders.order_placed.v1`"
        )
    );

    assert_eq!(handler.calls(), 0);
    assert_eq!(fixture.processed().await, 0);
    fixture.cleanup().await;
}

/// The columns of an outbox row that link it to its cause.
#[derive(Debug, PartialEq)]
struct EmittedRow {
    event_type: String,
    aggregate_id: String,
    causation_id: Option<String>,
    correlation_id: Option<String>,
    traceparent: Option<String>,
}

#[tokio::test]
async fn an_emitted_event_is_caused_by_the_incoming_one_and_committed_with_it() {
    let fixture = Fixture::new("inbox_emit").await;
    let outbox_table = OutboxTable::INVENTORY
        .in_schema(fixture.schema.name())
        .unwrap();
    create_outbox_table(fixture.schema.db(), &outbox_table)
        .await
        .unwrap();
    let outbox = Outbox::new(outbox_table.clone(), "inventory.events");
    let committed = Arc::new(Mutex::new(Vec::new()));
    let handler = Scripted::new([Step::EmitStockReserved, Step::EmitStockReserved]);
    let inbox = fixture
        .consumer(handler.clone())
        .with_outbox(outbox)
        .on_committed({
            let committed = Arc::clone(&committed);
            move |metadata: &EventMetadata| committed.lock().unwrap().push(metadata.id)
        });

    let (payload, metadata) = order_placed();
    assert_eq!(
        inbox.handle(delivery(&payload, &metadata)).await,
        HandlerOutcome::Ack
    );
    assert_eq!(
        inbox.handle(delivery(&payload, &metadata)).await,
        HandlerOutcome::Ack
    );
    // An incoming event without a correlation id starts one from its own id.
    let (second_payload, mut second_metadata) = order_placed();
    second_metadata.correlation_id = None;
    second_metadata.trace_context = None;
    assert_eq!(
        inbox
            .handle(delivery(&second_payload, &second_metadata))
            .await,
        HandlerOutcome::Ack
    );

    let rows = fixture
        .schema
        .db()
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT event_type, aggregate_id, causation_id, correlation_id, traceparent \
                 FROM {} ORDER BY id",
                qualified(outbox_table.schema(), outbox_table.table())
            ),
        ))
        .await
        .unwrap();
    let rows: Vec<EmittedRow> = rows
        .iter()
        .map(|row| EmittedRow {
            event_type: row.try_get("", "event_type").unwrap(),
            aggregate_id: row.try_get("", "aggregate_id").unwrap(),
            causation_id: row.try_get("", "causation_id").unwrap(),
            correlation_id: row.try_get("", "correlation_id").unwrap(),
            traceparent: row.try_get("", "traceparent").unwrap(),
        })
        .collect();
    assert_eq!(
        rows,
        [
            EmittedRow {
                event_type: "inventory.stock.reserved.v1".to_owned(),
                aggregate_id: payload.order_id.clone(),
                causation_id: Some(metadata.id.to_string()),
                correlation_id: Some("checkout-1".to_owned()),
                // No OpenTelemetry layer here: the incoming context goes on as is.
                traceparent: Some(TRACEPARENT.to_owned()),
            },
            EmittedRow {
                event_type: "inventory.stock.reserved.v1".to_owned(),
                aggregate_id: second_payload.order_id.clone(),
                causation_id: Some(second_metadata.id.to_string()),
                correlation_id: Some(second_metadata.id.to_string()),
                traceparent: None,
            },
        ]
    );
    // The duplicate neither ran the handler nor committed anything.
    assert_eq!(handler.calls(), 2);
    assert_eq!(
        *committed.lock().unwrap(),
        [metadata.id, second_metadata.id]
    );
    fixture.cleanup().await;
}

#[tokio::test]
async fn emitting_without_an_outbox_is_a_permanent_error_and_rolls_back() {
    let fixture = Fixture::new("inbox_no_outbox").await;
    let handler = Scripted::new([Step::EmitStockReserved]);
    let inbox = fixture.consumer(handler.clone());
    let (payload, metadata) = order_placed();

    assert_eq!(
        inbox.handle(delivery(&payload, &metadata)).await,
        HandlerOutcome::dead_letter(
            "consumer inventory.order-events emits inventory.stock.reserved.v1 but has no \
             outbox configured"
        )
    );
    assert_eq!(fixture.effects().await, 0);
    assert_eq!(fixture.processed().await, 0);
    fixture.cleanup().await;
}

#[tokio::test]
async fn prune_deletes_only_records_older_than_the_retention() {
    let fixture = Fixture::new("inbox_prune").await;
    let inbox_table = qualified(fixture.table.schema(), fixture.table.table());
    fixture
        .schema
        .db()
        .execute_unprepared(&format!(
            "INSERT INTO {inbox_table} (consumer, message_id, event_type, processed_at) \
             SELECT 'c', gen_random_uuid(), 't', now() - interval '40 days' \
             FROM generate_series(1, 7); \
             INSERT INTO {inbox_table} (consumer, message_id, event_type, processed_at) \
             SELECT 'c', gen_random_uuid(), 't', now() - interval '1 day' \
             FROM generate_series(1, 3)"
        ))
        .await
        .unwrap();

    let thirty_days = Duration::from_secs(30 * 24 * 3600);
    let deleted = prune_inbox(fixture.schema.db(), &fixture.table, thirty_days)
        .await
        .unwrap();

    assert_eq!(deleted, 7);
    assert_eq!(fixture.processed().await, 3);
    assert_eq!(
        prune_inbox(fixture.schema.db(), &fixture.table, thirty_days)
            .await
            .unwrap(),
        0
    );
    fixture.cleanup().await;
}

/// Writes one `effects` row per call with its transaction id, and refuses
/// (permanently) the orders of user `poison`.
struct RefusePoison;

#[async_trait]
impl EventHandler for RefusePoison {
    async fn handle(
        &self,
        context: &HandlerContext<'_>,
        event: DecodedEvent,
    ) -> Result<(), HandlerError> {
        context
            .transaction()
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO batch_effects (message_id, txid) VALUES ($1, txid_current())",
                [Value::from(context.message_id())],
            ))
            .await?;
        match event {
            DecodedEvent::OrdersOrderPlacedV1(order) if order.user_id == "poison" => {
                Err(HandlerError::permanent("the order is poison"))
            }
            _ => Ok(()),
        }
    }
}

async fn batch_fixture(prefix: &str) -> Fixture {
    let fixture = Fixture::new(prefix).await;
    fixture
        .schema
        .db()
        .execute_unprepared(
            "CREATE TABLE batch_effects (message_id uuid NOT NULL, txid bigint NOT NULL)",
        )
        .await
        .unwrap();
    fixture
}

fn order_of(user_id: &str) -> Delivery {
    let (mut payload, metadata) = order_placed();
    payload.user_id = user_id.to_owned();
    delivery(&payload, &metadata)
}

#[tokio::test]
async fn a_batch_is_applied_in_one_transaction_and_acknowledged_whole() {
    let fixture = batch_fixture("inbox_batch_one_txn").await;
    let consumer = fixture.consumer(RefusePoison);
    let deliveries: Vec<Delivery> = (0..20).map(|_| order_of("user-1")).collect();

    let outcomes = consumer.handle_batch(deliveries.clone()).await;

    assert_eq!(outcomes, vec![HandlerOutcome::Ack; 20]);
    assert_eq!(
        fixture.count("SELECT count(*) FROM batch_effects").await,
        20
    );
    assert_eq!(
        fixture
            .count("SELECT count(DISTINCT txid) FROM batch_effects")
            .await,
        1,
        "one transaction for the whole batch"
    );
    assert_eq!(fixture.processed().await, 20);

    // The same batch again (a redelivery after a lost ack): nothing applied twice.
    let outcomes = consumer.handle_batch(deliveries).await;
    assert_eq!(outcomes, vec![HandlerOutcome::Ack; 20]);
    assert_eq!(
        fixture.count("SELECT count(*) FROM batch_effects").await,
        20
    );
    fixture.cleanup().await;
}

#[tokio::test]
async fn one_poison_message_in_a_batch_of_20_is_dead_lettered_alone_and_the_19_others_apply_once() {
    let fixture = batch_fixture("inbox_batch_poison").await;
    let consumer = fixture.consumer(RefusePoison);
    let mut deliveries: Vec<Delivery> = (0..20).map(|_| order_of("user-1")).collect();
    deliveries[7] = order_of("poison");
    let poison_id = deliveries[7].properties.message_id.clone();

    let outcomes = consumer.handle_batch(deliveries).await;

    for (position, outcome) in outcomes.iter().enumerate() {
        if position == 7 {
            assert_eq!(
                outcome,
                &HandlerOutcome::dead_letter("the order is poison"),
                "position {position}"
            );
        } else {
            assert_eq!(outcome, &HandlerOutcome::Ack, "position {position}");
        }
    }
    // What is left: the 19 others, each once, and no trace of the poison one.
    assert_eq!(fixture.processed().await, 19);
    assert_eq!(
        fixture
            .count("SELECT count(DISTINCT message_id) FROM batch_effects")
            .await,
        19
    );
    assert_eq!(
        fixture.count("SELECT count(*) FROM batch_effects").await,
        19
    );
    assert_eq!(
        fixture
            .count(&format!(
                "SELECT count(*) FROM {{inbox}} WHERE message_id = '{poison_id}'"
            ))
            .await,
        0
    );
    fixture.cleanup().await;
}

#[tokio::test]
async fn a_message_twice_in_one_batch_and_an_undecodable_one_are_settled_on_their_own() {
    let fixture = batch_fixture("inbox_batch_mixed").await;
    let consumer = fixture.consumer(RefusePoison);
    let first = order_of("user-1");
    let mut garbled = order_of("user-1");
    garbled.body = Arc::from(&b"\xff\xffnot protobuf"[..]);
    let deliveries = vec![first.clone(), garbled, first, order_of("user-2")];

    let outcomes = consumer.handle_batch(deliveries).await;

    assert_eq!(outcomes[0], HandlerOutcome::Ack);
    assert!(
        matches!(&outcomes[1], HandlerOutcome::DeadLetter { reason } if reason.starts_with("undecodable")),
        "{:?}",
        outcomes[1]
    );
    assert_eq!(outcomes[2], HandlerOutcome::Ack);
    assert_eq!(outcomes[3], HandlerOutcome::Ack);
    assert_eq!(fixture.count("SELECT count(*) FROM batch_effects").await, 2);
    assert_eq!(fixture.processed().await, 2);
    fixture.cleanup().await;
}

#[tokio::test]
async fn a_batch_of_events_without_correlation_ids_is_recorded_with_null_ones() {
    let fixture = batch_fixture("inbox_batch_no_correlation").await;
    let consumer = fixture.consumer(RefusePoison);
    let deliveries: Vec<Delivery> = (0..3)
        .map(|_| {
            let order_id = Uuid::now_v7().to_string();
            let payload = OrderPlaced {
                order_id: order_id.clone(),
                user_id: "user-1".to_owned(),
                ..Default::default()
            };
            delivery(&payload, &EventMetadata::new("order", order_id))
        })
        .collect();

    let outcomes = consumer.handle_batch(deliveries).await;

    assert_eq!(outcomes, vec![HandlerOutcome::Ack; 3]);
    assert_eq!(
        fixture
            .count("SELECT count(*) FROM {inbox} WHERE correlation_id IS NULL")
            .await,
        3
    );
    assert_eq!(
        fixture
            .count("SELECT count(DISTINCT txid) FROM batch_effects")
            .await,
        1
    );
    fixture.cleanup().await;
}

/// Locks its order's row (an upsert), waits, and records its transaction:
/// two batches locking the same two orders in opposite order would deadlock.
struct LockTheOrder;

#[async_trait]
impl EventHandler for LockTheOrder {
    async fn handle(
        &self,
        context: &HandlerContext<'_>,
        _event: DecodedEvent,
    ) -> Result<(), HandlerError> {
        context
            .transaction()
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO order_rows (order_id, touched) VALUES ($1, 1) \
                 ON CONFLICT (order_id) DO UPDATE SET touched = order_rows.touched + 1",
                [Value::from(context.metadata().aggregate.id.clone())],
            ))
            .await?;
        tokio::time::sleep(Duration::from_millis(40)).await;
        context
            .transaction()
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO batch_effects (message_id, txid) VALUES ($1, txid_current())",
                [Value::from(context.message_id())],
            ))
            .await?;
        Ok(())
    }
}

fn order_event(order_id: &str) -> Delivery {
    let payload = OrderPlaced {
        order_id: order_id.to_owned(),
        ..Default::default()
    };
    delivery(&payload, &EventMetadata::new("order", order_id))
}

#[tokio::test]
async fn two_batches_touching_the_same_orders_in_opposite_order_do_not_deadlock() {
    let fixture = batch_fixture("inbox_batch_lock_order").await;
    fixture
        .schema
        .db()
        .execute_unprepared("CREATE TABLE order_rows (order_id text PRIMARY KEY, touched int)")
        .await
        .unwrap();
    // Two consumers of one service (one inbox table), as orders' inventory
    // and payment consumers.
    let inventory_side = InboxConsumer::new(
        "orders.inventory-events",
        fixture.schema.db().clone(),
        fixture.table.clone(),
        LockTheOrder,
    );
    let payment_side = InboxConsumer::new(
        "orders.payment-events",
        fixture.schema.db().clone(),
        fixture.table.clone(),
        LockTheOrder,
    );
    let (first, second) = (Uuid::now_v7().to_string(), Uuid::now_v7().to_string());

    let (one, other) = tokio::join!(
        inventory_side.handle_batch(vec![order_event(&first), order_event(&second)]),
        payment_side.handle_batch(vec![order_event(&second), order_event(&first)]),
    );

    assert_eq!(one, vec![HandlerOutcome::Ack; 2]);
    assert_eq!(other, vec![HandlerOutcome::Ack; 2]);
    assert_eq!(
        fixture.count("SELECT sum(touched) FROM order_rows").await,
        4
    );
    // Each batch in one transaction: neither deadlocked into the
    // one-at-a-time fallback.
    assert_eq!(
        fixture
            .count("SELECT count(DISTINCT txid) FROM batch_effects")
            .await,
        2
    );
    fixture.cleanup().await;
}
