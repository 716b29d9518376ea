//! The stream inbox on a real RabbitMQ stream and Postgres: every message
//! is applied exactly once across a relay's duplicates (one id at two
//! offsets), malformed payloads, a message the handler refuses for good,
//! readers stopped mid-way and started again, two readers at once, and a
//! reset that reads the whole stream again.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use async_trait::async_trait;
use ecommerce_broker::{EventOrigin, EventsExchange, OutgoingMessage};
use ecommerce_events::{DecodedEvent, EventMetadata, encode};
use ecommerce_inbox::{
    EventHandler, HandlerContext, HandlerError, InboxTable, StreamInbox, create_inbox_table,
};
use ecommerce_proto::ecommerce::orders::v1::{OrderConfirmed, OrderPlaced};
use ecommerce_test_support::TestSchema;
use ecommerce_test_support::rabbitmq::{TestBroker, test_message};
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait as _, Value};
use uuid::Uuid;

const IDLE: Duration = Duration::from_millis(700);

/// Counts each order's confirmations in `applied`; refuses order "poison".
struct CountConfirmations;

#[async_trait]
impl EventHandler for CountConfirmations {
    async fn handle(
        &self,
        context: &HandlerContext<'_>,
        event: DecodedEvent,
    ) -> Result<(), HandlerError> {
        let DecodedEvent::OrdersOrderConfirmedV1(confirmed) = event else {
            return Ok(());
        };
        if confirmed.order_id == "poison" {
            return Err(HandlerError::permanent("poison order"));
        }
        context
            .transaction()
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO applied (order_id, n) VALUES ($1, 1) \
                 ON CONFLICT (order_id) DO UPDATE SET n = applied.n + 1",
                [Value::from(confirmed.order_id)],
            ))
            .await
            .map_err(|error| HandlerError::transient(error.to_string()))?;
        Ok(())
    }
}

struct Fixture {
    broker: TestBroker,
    schema: TestSchema,
    table: InboxTable,
}

impl Fixture {
    async fn start() -> Self {
        let broker = TestBroker::start().await;
        let schema = TestSchema::create("stream_inbox").await.unwrap();
        let table = InboxTable::new(schema.name()).unwrap();
        create_inbox_table(schema.db(), &table).await.unwrap();
        schema
            .db()
            .execute_unprepared(&format!(
                "CREATE TABLE {schema}.stream_cursors (stream text PRIMARY KEY, \
                 next_offset bigint CHECK (next_offset >= 0), \
                 generation bigint NOT NULL DEFAULT 0, \
                 updated_at timestamptz NOT NULL DEFAULT clock_timestamp()); \
                 CREATE TABLE {schema}.applied (order_id text PRIMARY KEY, n integer NOT NULL);",
                schema = schema.name()
            ))
            .await
            .unwrap();
        Self {
            broker,
            schema,
            table,
        }
    }

    fn inbox(&self) -> StreamInbox<CountConfirmations> {
        StreamInbox::new(
            self.broker.names().reporting_stream(),
            self.schema.db().clone(),
            self.table.clone(),
            EventOrigin::from_settings(&self.broker.settings),
            CountConfirmations,
        )
    }

    fn orders_exchange(&self) -> String {
        self.broker
            .names()
            .exchange(EventsExchange::Orders)
            .to_owned()
    }

    /// An `order_confirmed` for `order_id` as orders' relay publishes it.
    fn confirmed(&self, order_id: &str) -> OutgoingMessage {
        let event = OrderConfirmed {
            order_id: order_id.to_owned(),
            user_id: Uuid::now_v7().to_string(),
        };
        let encoded = encode(&event, &EventMetadata::new("order", order_id));
        OutgoingMessage::new(
            self.orders_exchange(),
            "orders.order_confirmed.v1",
            encoded.body,
            encoded.properties,
        )
    }

    async fn publish(&self, messages: &[OutgoingMessage]) {
        let results = self.broker.broker.publisher().publish_batch(messages).await;
        assert!(results.iter().all(Result::is_ok), "{results:?}");
    }

    /// `order_id -> n` of every order applied.
    async fn applied(&self) -> Vec<(String, i32)> {
        let rows = self
            .schema
            .db()
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                format!(
                    "SELECT order_id, n FROM {}.applied ORDER BY order_id",
                    self.schema.name()
                ),
            ))
            .await
            .unwrap();
        rows.iter()
            .map(|row| {
                (
                    row.try_get("", "order_id").unwrap(),
                    row.try_get("", "n").unwrap(),
                )
            })
            .collect()
    }

    async fn finish(self) {
        self.broker.finish().await;
        self.schema.drop_schema().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_malformed_and_refused_messages_leave_each_event_applied_once_across_restarts() {
    let fixture = Fixture::start().await;
    let first = fixture.confirmed("order-a");
    let placed = OrderPlaced {
        order_id: "order-b".to_owned(),
        ..Default::default()
    };
    let placed = encode(&placed, &EventMetadata::new("order", "order-b"));
    fixture
        .publish(&[
            first.clone(),
            // A relay that published twice: the same id at a second offset.
            first,
            // Not protobuf.
            test_message(
                &fixture.orders_exchange(),
                "orders.order_confirmed.v1",
                b"\xff\xfe",
            ),
            fixture.confirmed("poison"),
            // Another type on the stream: applied as a no-op.
            OutgoingMessage::new(
                fixture.orders_exchange(),
                "orders.order_placed.v1",
                placed.body,
                placed.properties,
            ),
            fixture.confirmed("order-c"),
        ])
        .await;
    let progress = fixture
        .inbox()
        .catch_up(&fixture.broker.broker, IDLE, |_| {})
        .await
        .unwrap();
    assert_eq!((progress.applied, progress.skipped), (3, 3), "{progress:?}");
    assert_eq!(
        fixture.applied().await,
        [("order-a".to_owned(), 1), ("order-c".to_owned(), 1)]
    );

    // A reader started again reads from the cursor: nothing twice, and the
    // next message once.
    fixture.publish(&[fixture.confirmed("order-d")]).await;
    let progress = fixture
        .inbox()
        .catch_up(&fixture.broker.broker, IDLE, |_| {})
        .await
        .unwrap();
    assert_eq!((progress.applied, progress.skipped), (1, 0), "{progress:?}");

    // A reader killed in the middle of its reading (the task aborted while
    // batches are applied) leaves the cursor at its last commit; the next
    // one finishes, and every order counts once.
    let batch: Vec<OutgoingMessage> = (0..300)
        .map(|n| fixture.confirmed(&format!("order-e{n:03}")))
        .collect();
    fixture.publish(&batch).await;
    let inbox = fixture.inbox();
    let broker = fixture.broker.broker.clone();
    let reader = tokio::spawn(async move { inbox.run(&broker, std::future::pending()).await });
    tokio::time::sleep(Duration::from_millis(150)).await;
    reader.abort();
    let _ = reader.await;
    // Two readers at once finish the rest.
    let (one, two) = (fixture.inbox(), fixture.inbox());
    let (one, two) = tokio::join!(
        one.catch_up(&fixture.broker.broker, IDLE, |_| {}),
        two.catch_up(&fixture.broker.broker, IDLE, |_| {})
    );
    let (one, two) = (one.unwrap(), two.unwrap());
    let applied = fixture.applied().await;
    assert_eq!(applied.len(), 2 + 1 + 300);
    assert!(applied.iter().all(|(_, n)| *n == 1), "{applied:?}");
    assert!(one.applied + two.applied <= 300, "{one:?} {two:?}");

    // A reset forgets the cursor and the records: the stream is read again
    // from its first offset (the caller cleared what it built).
    let transaction = fixture.schema.db().begin().await.unwrap();
    transaction
        .execute_unprepared(&format!("TRUNCATE {}.applied", fixture.schema.name()))
        .await
        .unwrap();
    fixture.inbox().reset_in(&transaction).await.unwrap();
    transaction.commit().await.unwrap();
    let progress = fixture
        .inbox()
        .catch_up(&fixture.broker.broker, IDLE, |_| {})
        .await
        .unwrap();
    assert_eq!(progress.applied, 1 + 2 + 1 + 300, "{progress:?}");
    let applied = fixture.applied().await;
    assert_eq!(applied.len(), 303);
    assert!(applied.iter().all(|(_, n)| *n == 1));
    fixture.finish().await;
}
