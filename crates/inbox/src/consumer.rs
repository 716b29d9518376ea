//! [`InboxConsumer`]: the broker message handler that makes an
//! [`EventHandler`] idempotent.

use std::collections::HashSet;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use ecommerce_broker::{Consumer, ConsumerError, Delivery, HandlerOutcome, MessageHandler};
use ecommerce_events::{EventMetadata, ReceivedEvent, decode};
use ecommerce_outbox::{Outbox, OutboxTransaction};
use futures::FutureExt as _;
use sea_orm::sea_query::ArrayType;
use sea_orm::{
    ConnectionTrait as _, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, Statement,
    TransactionTrait, Value,
};
use tracing::{Instrument as _, debug, error, info, info_span, warn};
use uuid::Uuid;

use crate::error::error_chain;
use crate::handler::{EventHandler, HandlerContext};
use crate::table::InboxTable;
use crate::trace;

type CommittedHook = dyn Fn(&EventMetadata) + Send + Sync;

/// How long a batch's transaction waits for a lock before it gives up and
/// its messages are handled one at a time.
const BATCH_LOCK_TIMEOUT_SQL: &str = "SET LOCAL lock_timeout = '200ms'";

/// An idempotent consumer: decodes each delivery, records its id in the
/// inbox table and runs the [`EventHandler`] in one transaction, commits,
/// and only then lets the broker acknowledge.
///
/// It is the [`MessageHandler`] given to [`Consumer::run`] (or use
/// [`InboxConsumer::run`]). Per delivery:
///
/// | what happens | outcome |
/// |---|---|
/// | the message does not decode | dead-lettered: `undecodable: <error>` |
/// | already recorded for this consumer | rolled back, acknowledged, handler not called |
/// | handler `Ok`, commit `Ok` | acknowledged |
/// | [`HandlerError::Transient`](crate::HandlerError), a panic, a database error, a failed commit | rolled back, retried (then dead-lettered past the retry budget) |
/// | [`HandlerError::Permanent`](crate::HandlerError) | rolled back, dead-lettered with the reason |
///
/// The record is inserted *before* the handler runs: a concurrent delivery
/// of the same message (another replica, a redelivery after a lost ack)
/// waits on the key until the first transaction ends, then either sees the
/// record and skips, or, after a rollback, takes over.
///
/// Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct InboxConsumer {
    name: Arc<str>,
    db: DatabaseConnection,
    table: InboxTable,
    record_sql: Arc<str>,
    handler: Arc<dyn EventHandler>,
    outbox: Option<Outbox>,
    on_committed: Option<Arc<CommittedHook>>,
}

impl std::fmt::Debug for InboxConsumer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("InboxConsumer")
            .field("name", &self.name)
            .field("table", &self.table.to_string())
            .field(
                "outbox",
                &self
                    .outbox
                    .as_ref()
                    .map(|outbox| outbox.table().to_string()),
            )
            .finish_non_exhaustive()
    }
}

impl InboxConsumer {
    /// A consumer recording its messages as `name` (e.g.
    /// `inventory.order-events`; one name per logical consumer, shared by
    /// its replicas) in `table`, working through `db`.
    pub fn new(
        name: impl Into<String>,
        db: DatabaseConnection,
        table: InboxTable,
        handler: impl EventHandler,
    ) -> Self {
        let record_sql = table.record_sql();
        Self {
            name: Arc::from(name.into()),
            db,
            table,
            record_sql: Arc::from(record_sql),
            handler: Arc::new(handler),
            outbox: None,
            on_committed: None,
        }
    }

    /// Lets the handler [`emit`](HandlerContext::emit) follow-up events
    /// through `outbox`; transactions then begin through
    /// [`Outbox::begin`], so their commit wakes this process's relay.
    pub fn with_outbox(mut self, outbox: Outbox) -> Self {
        self.outbox = Some(outbox);
        self
    }

    /// An observability and test hook, called with the incoming event's
    /// metadata right after a handler's transaction committed and before the
    /// broker is told to acknowledge. Fault tests use it to stop a process
    /// exactly between the commit and the ack; keep it quick and never
    /// make correctness depend on it (a crash can always happen there).
    pub fn on_committed(mut self, hook: impl Fn(&EventMetadata) + Send + Sync + 'static) -> Self {
        self.on_committed = Some(Arc::new(hook));
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn table(&self) -> &InboxTable {
        &self.table
    }

    /// Consumes `queue` with this inbox until `shutdown` completes (see
    /// [`Consumer::run`]; take the consumer from `broker.consumer()`).
    pub async fn run(
        &self,
        consumer: &Consumer,
        queue: &str,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ConsumerError> {
        consumer.run(queue, self.clone(), shutdown).await
    }

    /// Handles one delivery; what [`MessageHandler::handle`] runs.
    async fn process(&self, delivery: Delivery) -> HandlerOutcome {
        let received = match decode(&delivery.properties, &delivery.body) {
            Ok(received) => received,
            Err(error) => {
                // The broker logs the dead-lettering with this reason.
                return HandlerOutcome::dead_letter(format!("undecodable: {error}"));
            }
        };
        let span = self.message_span(&delivery, &received);
        self.process_received(&delivery, received)
            .instrument(span)
            .await
    }

    /// The span of one message's handling, continuing the producer's trace.
    fn message_span(&self, delivery: &Delivery, received: &ReceivedEvent) -> tracing::Span {
        let metadata = &received.metadata;
        let span = info_span!(
            "inbox_handle",
            consumer = %self.name,
            event_type = received.event.event_type(),
            message_id = %metadata.id,
            correlation_id = metadata.correlation_id.as_deref(),
            causation_id = metadata.causation_id.as_deref(),
            delivery_count = delivery.delivery_count,
        );
        trace::continue_trace(&span, metadata.trace_context.as_ref());
        span
    }

    /// Handles deliveries that arrived together; what
    /// [`MessageHandler::handle_batch`] runs.
    ///
    /// The decodable ones are applied in **one** transaction: one multi-row
    /// inbox insert, each handler in queue order (a later message sees what
    /// an earlier one wrote), one commit (one WAL flush, one relay wake).
    /// If any handler fails or panics, or the commit fails, the whole batch
    /// is rolled back and every message is handled again on its own, so a
    /// poison message is dead-lettered or retried alone and its neighbours
    /// are applied exactly once. A deadlock is such a failure too.
    async fn process_batch(&self, mut deliveries: Vec<Delivery>) -> Vec<HandlerOutcome> {
        if deliveries.len() <= 1 {
            let mut outcomes = Vec::with_capacity(1);
            if let Some(delivery) = deliveries.pop() {
                outcomes.push(self.process(delivery).await);
            }
            return outcomes;
        }
        let mut outcomes: Vec<Option<HandlerOutcome>> = vec![None; deliveries.len()];
        let mut decoded = Vec::with_capacity(deliveries.len());
        for (position, delivery) in deliveries.iter().enumerate() {
            match decode(&delivery.properties, &delivery.body) {
                Ok(received) => decoded.push((position, received)),
                Err(error) => {
                    outcomes[position] =
                        Some(HandlerOutcome::dead_letter(format!("undecodable: {error}")));
                }
            }
        }
        let positions: Vec<usize> = decoded.iter().map(|(position, _)| *position).collect();
        // A panic outside the handlers (a driver bug) ends the batch like a
        // failure: its messages are handled one at a time.
        let applied = AssertUnwindSafe(self.apply_batch(&deliveries, decoded))
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| Err(format!("panicked: {}", panic_message(&*panic))));
        match applied {
            Ok(()) => {
                for position in positions {
                    outcomes[position] = Some(HandlerOutcome::Ack);
                }
            }
            Err(reason) => {
                info!(
                    consumer = %self.name,
                    size = positions.len(),
                    %reason,
                    "batch rolled back; handling its messages one at a time"
                );
                for position in positions {
                    outcomes[position] = Some(self.process(deliveries[position].clone()).await);
                }
            }
        }
        outcomes
            .into_iter()
            .map(|outcome| outcome.unwrap_or_else(|| HandlerOutcome::retry("not handled")))
            .collect()
    }

    /// Applies decoded messages (with their positions in `deliveries`) in
    /// one transaction; `Err` means it was rolled back, with why.
    async fn apply_batch(
        &self,
        deliveries: &[Delivery],
        mut decoded: Vec<(usize, ReceivedEvent)>,
    ) -> Result<(), String> {
        // Locks in a fixed order: handlers lock per aggregate (an order's
        // row), so two batches applied in aggregate order cannot deadlock
        // each other (two consumers of one service, e.g. orders' inventory
        // and payment events, did: each deadlock cost Postgres' one-second
        // deadlock_timeout). Stable, so one aggregate's events keep their
        // queue order.
        decoded.sort_by(|(_, left), (_, right)| {
            let key = |received: &ReceivedEvent| {
                (
                    received.metadata.aggregate.aggregate_type.clone(),
                    received.metadata.aggregate.id.clone(),
                )
            };
            key(left).cmp(&key(right))
        });
        let transaction = self
            .begin()
            .await
            .map_err(|reason| format!("cannot begin: {reason}"))?;
        // And for locks whose order the aggregate does not give: a batch
        // waits at most this long for one, then is handled one message at
        // a time (a single message never waits holding another's lock).
        if let Err(error) = transaction
            .get()
            .execute_unprepared(BATCH_LOCK_TIMEOUT_SQL)
            .await
        {
            transaction.rollback().await;
            return Err(format!(
                "cannot set the lock timeout: {}",
                error_chain(&error)
            ));
        }
        let recorded = match self.record_batch(transaction.get(), &decoded).await {
            Ok(recorded) => recorded,
            Err(reason) => {
                transaction.rollback().await;
                return Err(format!("cannot record the messages: {reason}"));
            }
        };
        let mut applied = Vec::with_capacity(decoded.len());
        for (position, received) in decoded {
            let delivery = &deliveries[position];
            let span = self.message_span(delivery, &received);
            let ReceivedEvent { event, metadata } = received;
            // Recorded now, and the first of its copies in this batch.
            if !recorded.contains(&metadata.id)
                || applied
                    .iter()
                    .any(|done: &EventMetadata| done.id == metadata.id)
            {
                span.in_scope(|| info!("already processed; acknowledging without handling again"));
                continue;
            }
            let context = HandlerContext {
                transaction: transaction.get(),
                metadata: &metadata,
                event_type: event.event_type(),
                consumer_name: &self.name,
                outbox: self.outbox.as_ref(),
                delivery_count: delivery.delivery_count,
                redelivered: delivery.redelivered,
            };
            let handled = AssertUnwindSafe(self.handler.handle(&context, event))
                .catch_unwind()
                .instrument(span)
                .await;
            let failure = match handled {
                Ok(Ok(())) => None,
                Ok(Err(handler_error)) => Some(handler_error.to_string()),
                Err(panic) => Some(format!("handler panicked: {}", panic_message(&*panic))),
            };
            if let Some(failure) = failure {
                transaction.rollback().await;
                return Err(format!("message {}: {failure}", metadata.id));
            }
            applied.push(metadata);
        }
        transaction
            .commit()
            .await
            .map_err(|reason| format!("commit failed: {reason}"))?;
        debug!(consumer = %self.name, applied = applied.len(), "batch handled and committed");
        if let Some(hook) = &self.on_committed {
            for metadata in &applied {
                hook(metadata);
            }
        }
        Ok(())
    }

    /// Inserts the records of a batch in one statement; returns the ids
    /// recorded now (the others were already there).
    async fn record_batch(
        &self,
        transaction: &DatabaseTransaction,
        decoded: &[(usize, ReceivedEvent)],
    ) -> Result<HashSet<Uuid>, String> {
        let entries: Vec<(&EventMetadata, &str)> = decoded
            .iter()
            .map(|(_, received)| (&received.metadata, received.event.event_type()))
            .collect();
        record_messages(transaction, &self.table, &self.name, &entries)
            .await
            .map_err(|error| error_chain(&error))
    }

    async fn process_received(
        &self,
        delivery: &Delivery,
        received: ReceivedEvent,
    ) -> HandlerOutcome {
        let ReceivedEvent { event, metadata } = received;
        let event_type = event.event_type();

        let transaction = match self.begin().await {
            Ok(transaction) => transaction,
            Err(reason) => return HandlerOutcome::retry(format!("cannot begin: {reason}")),
        };
        match self.record(transaction.get(), &metadata, event_type).await {
            Ok(true) => {}
            Ok(false) => {
                transaction.rollback().await;
                info!("already processed; acknowledging without handling again");
                return HandlerOutcome::Ack;
            }
            Err(reason) => {
                transaction.rollback().await;
                return HandlerOutcome::retry(format!("cannot record the message: {reason}"));
            }
        }

        let context = HandlerContext {
            transaction: transaction.get(),
            metadata: &metadata,
            event_type,
            consumer_name: &self.name,
            outbox: self.outbox.as_ref(),
            delivery_count: delivery.delivery_count,
            redelivered: delivery.redelivered,
        };
        // Caught here rather than by the broker so the transaction is rolled
        // back explicitly, not dropped half-way through an unwind.
        let handled = AssertUnwindSafe(self.handler.handle(&context, event))
            .catch_unwind()
            .await;
        match handled {
            Ok(Ok(())) => {}
            Ok(Err(handler_error)) => {
                transaction.rollback().await;
                debug!(error = %handler_error, "handler failed; rolled back");
                return handler_error.into();
            }
            Err(panic) => {
                transaction.rollback().await;
                let reason = format!("handler panicked: {}", panic_message(&*panic));
                error!(%reason, "handler panicked; rolled back");
                return HandlerOutcome::retry(reason);
            }
        }

        if let Err(reason) = transaction.commit().await {
            // It may have committed anyway (the answer was lost): the
            // redelivery is then recognised and acknowledged.
            warn!(%reason, "commit failed; the message will be redelivered");
            return HandlerOutcome::retry(format!("commit failed: {reason}"));
        }
        debug!("handled and committed");
        if let Some(hook) = &self.on_committed {
            hook(&metadata);
        }
        HandlerOutcome::Ack
    }

    async fn begin(&self) -> Result<InboxTransaction, String> {
        match &self.outbox {
            Some(outbox) => outbox
                .begin(&self.db)
                .await
                .map(InboxTransaction::Outbox)
                .map_err(|error| error_chain(&error)),
            None => self
                .db
                .begin()
                .await
                .map(InboxTransaction::Plain)
                .map_err(|error| error_chain(&error)),
        }
    }

    /// Inserts the record; `Ok(false)` when this consumer already has it.
    async fn record(
        &self,
        transaction: &DatabaseTransaction,
        metadata: &EventMetadata,
        event_type: &str,
    ) -> Result<bool, String> {
        let statement = Statement::from_sql_and_values(
            DbBackend::Postgres,
            &*self.record_sql,
            [
                Value::from(&*self.name),
                Value::from(metadata.id),
                Value::from(event_type),
                Value::from(metadata.correlation_id.clone()),
            ],
        );
        transaction
            .execute_raw(statement)
            .await
            .map(|result| result.rows_affected() == 1)
            .map_err(|error| error_chain(&error))
    }
}

impl MessageHandler for InboxConsumer {
    fn handle(&self, delivery: Delivery) -> impl Future<Output = HandlerOutcome> + Send {
        self.process(delivery)
    }

    fn handles_batches(&self) -> bool {
        true
    }

    fn handle_batch(
        &self,
        deliveries: Vec<Delivery>,
    ) -> impl Future<Output = Vec<HandlerOutcome>> + Send {
        self.process_batch(deliveries)
    }
}

/// The handler's transaction: through the outbox when there is one, so the
/// commit wakes the relay.
enum InboxTransaction {
    Outbox(OutboxTransaction),
    Plain(DatabaseTransaction),
}

impl InboxTransaction {
    fn get(&self) -> &DatabaseTransaction {
        match self {
            Self::Outbox(transaction) => transaction,
            Self::Plain(transaction) => transaction,
        }
    }

    async fn commit(self) -> Result<(), String> {
        match self {
            Self::Outbox(transaction) => transaction
                .commit()
                .await
                .map_err(|error| error_chain(&error)),
            Self::Plain(transaction) => transaction
                .commit()
                .await
                .map_err(|error| error_chain(&error)),
        }
    }

    /// Rolls back; a failure only means the connection is gone, which rolls
    /// back too.
    async fn rollback(self) {
        let rolled_back = match self {
            Self::Outbox(transaction) => transaction
                .rollback()
                .await
                .map_err(|error| error_chain(&error)),
            Self::Plain(transaction) => transaction
                .rollback()
                .await
                .map_err(|error| error_chain(&error)),
        };
        if let Err(reason) = rolled_back {
            debug!(%reason, "rollback failed; the connection's end rolls back instead");
        }
    }
}

/// Records `(metadata, event type)` of a batch for `consumer` in `table`
/// with one statement (whatever the batch size, so it is prepared once);
/// returns the ids recorded now: an id missing from the answer was already
/// there.
pub(crate) async fn record_messages(
    transaction: &DatabaseTransaction,
    table: &InboxTable,
    consumer: &str,
    entries: &[(&EventMetadata, &str)],
) -> Result<HashSet<Uuid>, DbErr> {
    let array = |array_type, values: Vec<Value>| Value::Array(array_type, Some(Box::new(values)));
    let ids = entries
        .iter()
        .map(|(metadata, _)| Value::from(metadata.id))
        .collect();
    let types = entries
        .iter()
        .map(|(_, event_type)| Value::from(*event_type))
        .collect();
    // An array element cannot be NULL here (sqlx binds `text[]` from
    // strings only): a missing id travels as '' and the insert turns it
    // back into NULL.
    let correlation_ids = entries
        .iter()
        .map(|(metadata, _)| Value::from(metadata.correlation_id.clone().unwrap_or_default()))
        .collect();
    let statement = Statement::from_sql_and_values(
        DbBackend::Postgres,
        table.record_batch_sql(),
        [
            Value::from(consumer),
            array(ArrayType::Uuid, ids),
            array(ArrayType::String, types),
            array(ArrayType::String, correlation_ids),
        ],
    );
    let rows = transaction.query_all_raw(statement).await?;
    rows.iter()
        .map(|row| row.try_get::<Uuid>("", "message_id"))
        .collect()
}

pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|message| (*message).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic payload".to_owned())
}
