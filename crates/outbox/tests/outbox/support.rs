//! Shared fixtures: a fresh schema with an outbox table, sample events, a
//! view of the rows, and an in-memory publisher that can confirm, fail, lag
//! or crash on demand.

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use ecommerce_events::EventMetadata;
use ecommerce_outbox::{
    Outbox, OutboxPublisher, OutboxTable, PublishFailure, RelayMessage, RelaySettings,
    create_outbox_table,
};
use ecommerce_proto::ecommerce::orders::v1::OrderPlaced;
use ecommerce_test_support::TestSchema;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use tokio::sync::{Notify, watch};
use uuid::Uuid;

/// How long a test waits for something that should happen at once before
/// it fails (instead of hanging).
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A fresh schema holding one outbox table.
pub struct Fixture {
    pub schema: TestSchema,
    pub table: OutboxTable,
    pub outbox: Outbox,
}

impl Fixture {
    /// The orders outbox, in a fresh schema.
    pub async fn new(prefix: &str) -> Self {
        Self::with_table(prefix, &OutboxTable::ORDERS).await
    }

    /// `preset`'s table name, in a fresh schema.
    pub async fn with_table(prefix: &str, preset: &OutboxTable) -> Self {
        ecommerce_test_support::init_test_tracing();
        let schema = TestSchema::create(prefix).await.unwrap();
        let table = preset.in_schema(schema.name()).unwrap();
        create_outbox_table(schema.db(), &table).await.unwrap();
        let outbox = Outbox::new(table.clone(), "orders.events");
        Self {
            schema,
            table,
            outbox,
        }
    }

    pub fn db(&self) -> &sea_orm::DatabaseConnection {
        self.schema.db()
    }

    /// Enqueues one event per metadata in its own committed transaction,
    /// without waking any relay (as another process would).
    pub async fn enqueue_committed(&self, count: usize) -> Vec<Uuid> {
        let mut ids = Vec::with_capacity(count);
        for index in 0..count {
            let transaction = sea_orm::TransactionTrait::begin(self.db()).await.unwrap();
            let (payload, metadata) = sample_event(index);
            ids.push(
                self.outbox
                    .enqueue(&transaction, &payload, metadata)
                    .await
                    .unwrap(),
            );
            transaction.commit().await.unwrap();
        }
        ids
    }

    /// Runs `sql` with `{table}` replaced by the qualified table name.
    pub async fn execute(&self, sql: &str) -> u64 {
        let sql = sql.replace("{table}", &qualified(&self.table));
        self.db()
            .execute_unprepared(&sql)
            .await
            .unwrap()
            .rows_affected()
    }

    /// Every row, oldest id first.
    pub async fn rows(&self) -> Vec<RowView> {
        let sql = format!(
            "SELECT id, status, attempts, last_error, published_at IS NOT NULL AS has_published_at, \
             EXTRACT(EPOCH FROM next_attempt_at - clock_timestamp())::float8 AS due_in_secs \
             FROM {} ORDER BY id",
            qualified(&self.table)
        );
        self.db()
            .query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
            .await
            .unwrap()
            .iter()
            .map(|row| RowView {
                id: row.try_get("", "id").unwrap(),
                status: row.try_get("", "status").unwrap(),
                attempts: row.try_get("", "attempts").unwrap(),
                last_error: row.try_get("", "last_error").unwrap(),
                has_published_at: row.try_get("", "has_published_at").unwrap(),
                due_in_secs: row.try_get("", "due_in_secs").unwrap(),
            })
            .collect()
    }

    pub async fn row(&self, id: Uuid) -> RowView {
        self.rows()
            .await
            .into_iter()
            .find(|row| row.id == id)
            .expect("the row exists")
    }

    pub async fn count(&self, status: &str) -> usize {
        self.rows()
            .await
            .iter()
            .filter(|row| row.status == status)
            .count()
    }

    pub async fn cleanup(self) {
        self.schema.drop_schema().await.unwrap();
    }
}

pub fn qualified(table: &OutboxTable) -> String {
    format!("\"{}\".\"{}\"", table.schema(), table.table())
}

#[derive(Clone, Debug, PartialEq)]
pub struct RowView {
    pub id: Uuid,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub has_published_at: bool,
    /// Seconds until the row is due (negative: overdue).
    pub due_in_secs: f64,
}

/// An `orders.order_placed.v1` event numbered `index`.
pub fn sample_event(index: usize) -> (OrderPlaced, EventMetadata) {
    let order_id = Uuid::now_v7().to_string();
    let payload = OrderPlaced {
        order_id: order_id.clone(),
        user_id: format!("user-{index}"),
        currency: "EUR".to_owned(),
        ..Default::default()
    };
    let metadata =
        EventMetadata::new("order", order_id).with_correlation_id(format!("checkout-{index}"));
    (payload, metadata)
}

/// Settings for tests: small batches, a short poll, no waiting on retries.
pub fn test_settings() -> RelaySettings {
    RelaySettings {
        batch_size: 50,
        poll_interval: Duration::from_millis(20),
        max_attempts: 3,
        backoff_base: Duration::ZERO,
        backoff_cap: Duration::from_secs(1),
        publish_timeout: Duration::from_secs(10),
        ..RelaySettings::default()
    }
}

/// A shutdown signal for relays run in tasks.
pub fn shutdown_signal() -> (watch::Sender<bool>, impl Fn() -> ShutdownFuture) {
    let (sender, receiver) = watch::channel(false);
    let make = move || {
        let mut receiver = receiver.clone();
        Box::pin(async move {
            // An error means the sender is gone: shut down too.
            let _ = receiver.wait_for(|stop| *stop).await;
        }) as ShutdownFuture
    };
    (sender, make)
}

pub type ShutdownFuture = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// What the fake broker does with the next batches.
#[derive(Clone, Debug)]
pub enum Mode {
    /// Confirms every message (except the ids in `fail_ids`).
    Confirm,
    /// Nacks every message with this reason.
    Fail(String),
    /// Reports the broker unreachable for every message.
    Unavailable(String),
    /// Confirms after this delay.
    Lag(Duration),
    /// Takes the messages (the broker has them) and never answers, like a
    /// relay process that dies after publishing and before marking.
    CrashAfterPublish,
}

/// An in-memory broker: records what it accepted.
pub struct FakePublisher {
    state: Mutex<FakeState>,
    accepted: Notify,
}

struct FakeState {
    mode: Mode,
    fail_ids: HashSet<Uuid>,
    accepted: Vec<RelayMessage>,
    calls: usize,
}

impl FakePublisher {
    pub fn new(mode: Mode) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(FakeState {
                mode,
                fail_ids: HashSet::new(),
                accepted: Vec::new(),
                calls: 0,
            }),
            accepted: Notify::new(),
        })
    }

    pub fn set_mode(&self, mode: Mode) {
        self.state.lock().unwrap().mode = mode;
    }

    /// These ids are nacked ("unroutable") while the mode is `Confirm`.
    pub fn fail_ids(&self, ids: impl IntoIterator<Item = Uuid>) {
        self.state.lock().unwrap().fail_ids.extend(ids);
    }

    pub fn accepted(&self) -> Vec<RelayMessage> {
        self.state.lock().unwrap().accepted.clone()
    }

    pub fn accepted_ids(&self) -> Vec<Uuid> {
        self.accepted().iter().map(|message| message.id).collect()
    }

    pub fn calls(&self) -> usize {
        self.state.lock().unwrap().calls
    }

    /// Waits until at least `count` messages were accepted; panics after
    /// [`PATIENCE`].
    pub async fn wait_for_accepted(&self, count: usize) {
        tokio::time::timeout(PATIENCE, async {
            loop {
                let notified = self.accepted.notified();
                if self.state.lock().unwrap().accepted.len() >= count {
                    return;
                }
                notified.await;
            }
        })
        .await
        .unwrap_or_else(|_| {
            panic!(
                "only {} of {count} messages were published within {PATIENCE:?}",
                self.accepted().len()
            )
        });
    }

    fn accept(&self, messages: &[RelayMessage]) {
        self.state
            .lock()
            .unwrap()
            .accepted
            .extend_from_slice(messages);
        self.accepted.notify_waiters();
    }
}

#[async_trait]
impl OutboxPublisher for FakePublisher {
    async fn publish_batch(&self, batch: &[RelayMessage]) -> Vec<Result<(), PublishFailure>> {
        let (mode, fail_ids) = {
            let mut state = self.state.lock().unwrap();
            state.calls += 1;
            (state.mode.clone(), state.fail_ids.clone())
        };
        match mode {
            Mode::Confirm => {
                let mut confirmed = Vec::new();
                let results = batch
                    .iter()
                    .map(|message| {
                        if fail_ids.contains(&message.id) {
                            return Err(PublishFailure::new("returned: NO_ROUTE"));
                        }
                        confirmed.push(message.clone());
                        Ok(())
                    })
                    .collect();
                self.accept(&confirmed);
                results
            }
            Mode::Fail(reason) => batch
                .iter()
                .map(|_| Err(PublishFailure::new(reason.clone())))
                .collect(),
            Mode::Unavailable(reason) => batch
                .iter()
                .map(|_| Err(PublishFailure::broker_unavailable(reason.clone())))
                .collect(),
            Mode::Lag(delay) => {
                tokio::time::sleep(delay).await;
                self.accept(batch);
                batch.iter().map(|_| Ok(())).collect()
            }
            Mode::CrashAfterPublish => {
                self.accept(batch);
                std::future::pending().await
            }
        }
    }
}
