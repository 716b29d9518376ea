//! Writing events: [`Outbox::enqueue`] inside the caller's transaction, and
//! [`OutboxTransaction`], whose `commit` wakes the in-process relay.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use ecommerce_events::{DecodedEvent, Event, EventMetadata, TraceContext, headers};
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, ExecResult, QueryResult, Statement,
    TransactionTrait, Value,
};
use tokio::sync::Notify;
use tracing::instrument;
use uuid::Uuid;

use crate::error::{OutboxError, translate};
use crate::schema_ids::SchemaIds;
use crate::table::OutboxTable;

/// One service's outbox: where its events are written, which exchange each
/// goes to, and the wake-up shared with the relays of this process.
///
/// Cheap to clone; clones share the wake-up, so build one per table at
/// start-up and hand clones to the request handlers and the relay.
#[derive(Clone, Debug)]
pub struct Outbox {
    table: Arc<OutboxTable>,
    routing: Arc<Routing>,
    statements: Arc<Statements>,
    wake: Arc<Notify>,
    /// Events written through this outbox (any transaction) since start: a
    /// transaction from [`Outbox::begin`] wakes the relay at commit only if
    /// it moved, so a commit that enqueued nothing costs the relay nothing.
    enqueued: Arc<AtomicU64>,
    /// Wake-ups sent to the relay since start (for metrics and tests).
    wakes: Arc<AtomicU64>,
    schema_ids: SchemaIds,
}

/// Exchange per event type: the longest matching prefix rule, else the default.
#[derive(Clone, Debug)]
struct Routing {
    default_exchange: String,
    /// (event type prefix, exchange), longest prefix first.
    rules: Vec<(String, String)>,
}

impl Routing {
    fn exchange_for(&self, event_type: &str) -> &str {
        self.rules
            .iter()
            .find(|(prefix, _)| event_type.starts_with(prefix.as_str()))
            .map_or(self.default_exchange.as_str(), |(_, exchange)| exchange)
    }
}

/// The table's SQL, built once: the names are fixed for the outbox's life.
#[derive(Debug)]
pub(crate) struct Statements {
    pub(crate) insert: String,
    pub(crate) claim: String,
    pub(crate) mark_published: String,
    pub(crate) mark_failed: String,
    pub(crate) prune: String,
    pub(crate) backlog: String,
    pub(crate) requeue_failed: String,
}

/// Columns the relay reads, in the order `relay::claimed_row` expects.
pub(crate) const CLAIM_COLUMNS: &str = "id, event_type, exchange, aggregate_type, aggregate_id, \
     payload, schema_ref, occurred_at, correlation_id, causation_id, traceparent, tracestate, \
     attempts";

impl Statements {
    fn new(table: &OutboxTable) -> Self {
        let qualified = table.qualified();
        Self {
            insert: format!(
                "INSERT INTO {qualified} (id, event_type, exchange, aggregate_type, \
                 aggregate_id, payload, schema_ref, occurred_at, correlation_id, causation_id, \
                 traceparent, tracestate) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
            ),
            // `statement_timestamp()` is stable, so the partial index serves the
            // range; a row committed before this statement began is always due.
            // Ordered by due time then id (UUID v7): enqueue order for fresh rows.
            claim: format!(
                "SELECT {CLAIM_COLUMNS} FROM {qualified} \
                 WHERE status = 'pending' AND next_attempt_at <= statement_timestamp() \
                 ORDER BY next_attempt_at, id LIMIT $1 FOR UPDATE SKIP LOCKED"
            ),
            mark_published: format!(
                "UPDATE {qualified} SET status = 'published', published_at = clock_timestamp(), \
                 attempts = attempts + 1 WHERE id = ANY($1)"
            ),
            // One statement for the whole batch, each row with its own error
            // and jittered delay.
            mark_failed: format!(
                "UPDATE {qualified} AS outbox SET attempts = outbox.attempts + 1, \
                 last_error = failure.error, \
                 status = CASE WHEN outbox.attempts + 1 >= $4 THEN 'failed' ELSE 'pending' END, \
                 next_attempt_at = clock_timestamp() + failure.delay_ms * interval '1 millisecond' \
                 FROM unnest($1::uuid[], $2::text[], $3::int8[]) AS failure(id, error, delay_ms) \
                 WHERE outbox.id = failure.id"
            ),
            // Chunked and SKIP LOCKED, so concurrent relays prune side by side
            // without long locks.
            prune: format!(
                "DELETE FROM {qualified} WHERE id IN (SELECT id FROM {qualified} \
                 WHERE status = 'published' \
                 AND published_at < clock_timestamp() - $1::float8 * interval '1 second' \
                 LIMIT $2 FOR UPDATE SKIP LOCKED)"
            ),
            backlog: format!(
                "SELECT \
                 (SELECT count(*) FROM {qualified} WHERE status = 'pending') AS pending, \
                 (SELECT count(*) FROM {qualified} WHERE status = 'failed') AS failed, \
                 (SELECT EXTRACT(EPOCH FROM clock_timestamp() - min(created_at))::float8 \
                  FROM {qualified} WHERE status = 'pending') AS oldest_pending_age_secs"
            ),
            requeue_failed: format!(
                "UPDATE {qualified} SET status = 'pending', attempts = 0, \
                 next_attempt_at = clock_timestamp() WHERE status = 'failed' AND id = ANY($1)"
            ),
        }
    }
}

/// How much work is waiting in an outbox.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxBacklog {
    /// Rows not yet published (including those waiting for a retry).
    pub pending: u64,
    /// Rows that ran out of attempts and wait for an operator.
    pub failed: u64,
    /// How long the oldest pending row has waited since it was written.
    pub oldest_pending_age: Option<Duration>,
}

impl Outbox {
    /// An outbox writing to `table`, sending every event to `default_exchange`
    /// unless a [`with_route`](Self::with_route) rule says otherwise.
    pub fn new(table: OutboxTable, default_exchange: impl Into<String>) -> Self {
        let statements = Statements::new(&table);
        Self {
            table: Arc::new(table),
            routing: Arc::new(Routing {
                default_exchange: default_exchange.into(),
                rules: Vec::new(),
            }),
            statements: Arc::new(statements),
            wake: Arc::new(Notify::new()),
            enqueued: Arc::new(AtomicU64::new(0)),
            wakes: Arc::new(AtomicU64::new(0)),
            schema_ids: SchemaIds::new(),
        }
    }

    /// Stamps every event with its registry id from `schema_ids` (once its
    /// type is registered there), unless the metadata already names one.
    pub fn with_schema_ids(mut self, schema_ids: SchemaIds) -> Self {
        self.schema_ids = schema_ids;
        self
    }

    /// Sends event types starting with `event_type_prefix` to `exchange`, e.g.
    /// `iam.security.` to `iam.security-events`. The longest prefix wins.
    pub fn with_route(
        mut self,
        event_type_prefix: impl Into<String>,
        exchange: impl Into<String>,
    ) -> Self {
        let routing = Arc::make_mut(&mut self.routing);
        routing
            .rules
            .push((event_type_prefix.into(), exchange.into()));
        routing
            .rules
            .sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        self
    }

    pub fn table(&self) -> &OutboxTable {
        &self.table
    }

    /// The exchange an event of `event_type` is published to.
    pub fn exchange_for(&self, event_type: &str) -> &str {
        self.routing.exchange_for(event_type)
    }

    pub(crate) fn statements(&self) -> &Statements {
        &self.statements
    }

    pub(crate) fn wake(&self) -> &Notify {
        &self.wake
    }

    /// Begins a transaction whose [`commit`](OutboxTransaction::commit) wakes
    /// the relay when events were enqueued meanwhile. Use it for every
    /// transaction that enqueues events.
    pub async fn begin<C>(&self, db: &C) -> Result<OutboxTransaction, OutboxError>
    where
        C: TransactionTrait<Transaction = DatabaseTransaction>,
    {
        let transaction = db
            .begin()
            .await
            .map_err(|error| translate(error, &self.table, None))?;
        Ok(OutboxTransaction {
            transaction,
            outbox: self.clone(),
            enqueued_at_begin: self.enqueued.load(Ordering::Acquire),
        })
    }

    /// Writes `payload` as a pending event inside the caller's transaction
    /// (`db` should be one: outside a transaction the event is not atomic
    /// with the state change). Returns the event id.
    ///
    /// When `metadata` has no trace context, the current span's (from the
    /// OpenTelemetry layer, when one is installed) is recorded, so the
    /// consumer continues this trace.
    ///
    /// Commit with [`OutboxTransaction::commit`] or [`Outbox::commit`] so the
    /// relay publishes at once; any other commit waits for the relay's poll.
    pub async fn enqueue<C, E>(
        &self,
        db: &C,
        payload: &E,
        metadata: EventMetadata,
    ) -> Result<Uuid, OutboxError>
    where
        C: ConnectionTrait,
        E: Event,
    {
        let event = EventParts {
            event_type: E::EVENT_TYPE,
            message_name: E::MESSAGE_NAME,
            version: E::SCHEMA_VERSION,
            payload: payload.encode_to_vec(),
        };
        self.insert(db, event, metadata).await
    }

    /// [`enqueue`](Self::enqueue) for any generated event, as the one enum
    /// every domain event converts into.
    pub async fn enqueue_event<C>(
        &self,
        db: &C,
        event: &DecodedEvent,
        metadata: EventMetadata,
    ) -> Result<Uuid, OutboxError>
    where
        C: ConnectionTrait,
    {
        let event = EventParts {
            event_type: event.event_type(),
            message_name: event.message_name(),
            version: event.schema_version(),
            payload: event.encode_payload(),
        };
        self.insert(db, event, metadata).await
    }

    /// Enqueues `event` inside the caller's transaction `db`: the one door a
    /// service's events leave by. `event` is a generated event (by value or
    /// by reference) or a domain event that converts into one. Fails with
    /// the [`StoreError`](ecommerce_db::StoreError) a service's error wraps,
    /// so `?` needs no conversion of its own. In a transaction from
    /// [`Outbox::begin`], call [`OutboxTransaction::emit`].
    pub async fn emit<C>(
        &self,
        db: &C,
        event: impl Into<DecodedEvent>,
        metadata: EventMetadata,
    ) -> Result<Uuid, ecommerce_db::StoreError>
    where
        C: ConnectionTrait,
    {
        let event = event.into();
        Ok(self.enqueue_event(db, &event, metadata).await?)
    }

    #[instrument(
        level = "debug",
        skip_all,
        fields(outbox = %self.table, event_type = event.event_type, event_id = %metadata.id),
        err
    )]
    async fn insert<C: ConnectionTrait>(
        &self,
        db: &C,
        event: EventParts,
        mut metadata: EventMetadata,
    ) -> Result<Uuid, OutboxError> {
        if metadata.trace_context.is_none() {
            metadata.trace_context = current_trace_context();
        }
        if metadata.schema_registry_id.is_none() {
            metadata.schema_registry_id = self.schema_ids.get(event.event_type);
        }
        let EventParts {
            event_type,
            message_name,
            version,
            payload,
        } = event;
        let encoded =
            ecommerce_events::encode_payload(event_type, message_name, version, payload, &metadata);
        // The relay rebuilds the other headers from columns; this one needs
        // the message name, version and registry id, which have none (the
        // relay reads `x-schema-id` back from its `#<id>` suffix).
        let schema_ref = encoded
            .properties
            .headers
            .get(headers::SCHEMA)
            .cloned()
            .unwrap_or_else(|| format!("{message_name}@v{version}"));
        let (traceparent, tracestate) = match metadata.trace_context {
            Some(trace) => (non_empty(trace.traceparent), non_empty(trace.tracestate)),
            None => (None, None),
        };
        let statement = Statement::from_sql_and_values(
            DbBackend::Postgres,
            self.statements.insert.as_str(),
            [
                Value::from(metadata.id),
                Value::from(event_type),
                Value::from(self.exchange_for(event_type)),
                Value::from(metadata.aggregate.aggregate_type),
                Value::from(metadata.aggregate.id),
                Value::from(encoded.body),
                Value::from(schema_ref),
                Value::from(metadata.occurred_at),
                Value::from(metadata.correlation_id),
                Value::from(metadata.causation_id),
                Value::from(traceparent),
                Value::from(tracestate),
            ],
        );
        db.execute_raw(statement)
            .await
            .map_err(|error| translate(error, &self.table, Some(metadata.id)))?;
        self.enqueued.fetch_add(1, Ordering::AcqRel);
        Ok(metadata.id)
    }

    /// Commits a plain SeaORM transaction, then wakes the relay. Prefer
    /// [`Outbox::begin`], whose transaction does this itself.
    pub async fn commit(&self, transaction: DatabaseTransaction) -> Result<(), OutboxError> {
        transaction
            .commit()
            .await
            .map_err(|error| translate(error, &self.table, None))?;
        self.notify_committed();
        Ok(())
    }

    /// Wakes one waiting relay of this process now (or the next one to wait):
    /// call it after committing a transaction that enqueued events.
    pub fn notify_committed(&self) {
        // notify_one keeps a permit when no relay waits yet, so a commit
        // that lands while the relay is busy is not lost.
        self.wake.notify_one();
        self.wakes.fetch_add(1, Ordering::Relaxed);
    }

    /// How many times a commit (or [`notify_committed`](Self::notify_committed))
    /// woke the relay since this outbox was built; shared by its clones.
    pub fn wake_count(&self) -> u64 {
        self.wakes.load(Ordering::Relaxed)
    }

    /// Pending and failed counts and the age of the oldest pending row.
    #[instrument(level = "debug", skip_all, fields(outbox = %self.table), err)]
    pub async fn backlog<C>(&self, db: &C) -> Result<OutboxBacklog, OutboxError>
    where
        C: ConnectionTrait,
    {
        let statement =
            Statement::from_string(DbBackend::Postgres, self.statements.backlog.as_str());
        let row = db
            .query_one_raw(statement)
            .await
            .map_err(|error| translate(error, &self.table, None))?;
        let Some(row) = row else {
            return Ok(OutboxBacklog {
                pending: 0,
                failed: 0,
                oldest_pending_age: None,
            });
        };
        let read = |row: &QueryResult| -> Result<OutboxBacklog, DbErr> {
            let pending: i64 = row.try_get("", "pending")?;
            let failed: i64 = row.try_get("", "failed")?;
            let oldest: Option<f64> = row.try_get("", "oldest_pending_age_secs")?;
            Ok(OutboxBacklog {
                pending: u64::try_from(pending).unwrap_or(0),
                failed: u64::try_from(failed).unwrap_or(0),
                // Negative only if the server clock stepped back; count it as new.
                oldest_pending_age: oldest.map(|seconds| Duration::from_secs_f64(seconds.max(0.0))),
            })
        };
        read(&row).map_err(|error| translate(error, &self.table, None))
    }

    /// Puts `failed` rows back to pending with a fresh attempt budget (an
    /// operator's action once the cause is fixed) and wakes the relay.
    /// Returns how many rows were requeued.
    #[instrument(skip_all, fields(outbox = %self.table, requested = ids.len()), err)]
    pub async fn requeue_failed<C>(&self, db: &C, ids: &[Uuid]) -> Result<u64, OutboxError>
    where
        C: ConnectionTrait,
    {
        let statement = Statement::from_sql_and_values(
            DbBackend::Postgres,
            self.statements.requeue_failed.as_str(),
            [Value::from(ids.to_vec())],
        );
        let result = db
            .execute_raw(statement)
            .await
            .map_err(|error| translate(error, &self.table, None))?;
        self.notify_committed();
        Ok(result.rows_affected())
    }
}

fn non_empty(value: String) -> Option<String> {
    (!value.is_empty()).then_some(value)
}

/// The W3C trace context of the current span, when an OpenTelemetry layer
/// records it: what [`Outbox::enqueue`] records when the metadata has none.
pub fn current_trace_context() -> Option<TraceContext> {
    ecommerce_platform::trace_context::current().map(|(traceparent, tracestate)| TraceContext {
        traceparent,
        tracestate,
    })
}

/// What the outbox row needs of an event, whatever its Rust type.
struct EventParts {
    event_type: &'static str,
    message_name: &'static str,
    version: u32,
    payload: Vec<u8>,
}

/// A transaction that wakes the relay when it commits, so the events it
/// enqueued are published at once. Dropping it rolls back.
///
/// It runs any SeaORM operation itself (it implements [`ConnectionTrait`]),
/// and derefs to the [`DatabaseTransaction`] for the rest.
#[derive(Debug)]
pub struct OutboxTransaction {
    transaction: DatabaseTransaction,
    outbox: Outbox,
    /// The outbox's enqueue count when this began. The event may have been
    /// written through `&*transaction`, which this type cannot see, so the
    /// commit compares counts: another transaction's enqueue can cause a
    /// wake that finds nothing yet, never a missed one.
    enqueued_at_begin: u64,
}

impl OutboxTransaction {
    /// [`Outbox::enqueue`] in this transaction.
    pub async fn enqueue<E>(
        &self,
        payload: &E,
        metadata: EventMetadata,
    ) -> Result<Uuid, OutboxError>
    where
        E: Event,
    {
        self.outbox
            .enqueue(&self.transaction, payload, metadata)
            .await
    }

    /// Enqueues `event` in this transaction: the one door a service's
    /// events leave by (see [`Outbox::emit`]).
    pub async fn emit(
        &self,
        event: impl Into<DecodedEvent>,
        metadata: EventMetadata,
    ) -> Result<Uuid, ecommerce_db::StoreError> {
        self.outbox.emit(&self.transaction, event, metadata).await
    }

    /// Commits, then wakes the relay if any event was enqueued since this
    /// transaction began.
    pub async fn commit(self) -> Result<(), OutboxError> {
        self.transaction
            .commit()
            .await
            .map_err(|error| translate(error, &self.outbox.table, None))?;
        if self.outbox.enqueued.load(Ordering::Acquire) != self.enqueued_at_begin {
            self.outbox.notify_committed();
        }
        Ok(())
    }

    /// Rolls back: nothing enqueued in it is ever published.
    pub async fn rollback(self) -> Result<(), OutboxError> {
        self.transaction
            .rollback()
            .await
            .map_err(|error| translate(error, &self.outbox.table, None))
    }
}

impl ecommerce_db::Commit for OutboxTransaction {
    #[allow(clippy::manual_async_fn)] // the trait's `+ Send` is spelled out
    fn commit_transaction(
        self,
    ) -> impl std::future::Future<Output = Result<(), ecommerce_db::StoreError>> + Send {
        async move { self.commit().await.map_err(ecommerce_db::StoreError::from) }
    }
}

impl std::ops::Deref for OutboxTransaction {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        &self.transaction
    }
}

#[async_trait]
impl ConnectionTrait for OutboxTransaction {
    fn get_database_backend(&self) -> DbBackend {
        self.transaction.get_database_backend()
    }

    async fn execute_raw(&self, statement: Statement) -> Result<ExecResult, DbErr> {
        self.transaction.execute_raw(statement).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.transaction.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, statement: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.transaction.query_one_raw(statement).await
    }

    async fn query_all_raw(&self, statement: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.transaction.query_all_raw(statement).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_matching_prefix_picks_the_exchange() {
        let outbox = Outbox::new(OutboxTable::IAM, "iam.events")
            .with_route("iam.security.", "iam.security-events")
            .with_route("iam.security.account_locked.v1", "iam.lockouts");
        assert_eq!(outbox.exchange_for("iam.user.registered.v1"), "iam.events");
        assert_eq!(
            outbox.exchange_for("iam.security.sign_in_failed.v1"),
            "iam.security-events"
        );
        assert_eq!(
            outbox.exchange_for("iam.security.account_locked.v1"),
            "iam.lockouts"
        );
    }

    #[test]
    fn without_a_span_there_is_no_trace_context() {
        assert_eq!(current_trace_context(), None);
    }
}
