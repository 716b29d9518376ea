//! [`StreamInbox`]: the inbox over a RabbitMQ stream instead of a queue.
//!
//! A stream keeps its messages after they are read, so a consumer can read
//! it again from the first offset (reporting-svc rebuilds its read model
//! that way). Reading it is the consumer's own business: the offset to
//! read next is kept in `<schema>.stream_cursors`, **in the transaction
//! that applies the messages before it**, together with their inbox
//! records. So a crash, a lost connection or a second reader never applies
//! a message twice: a message below the cursor is skipped, and a message a
//! relay published twice (two offsets, one id) finds its inbox record.
//!
//! The cursor also has a `generation`, raised by [`reset_stream_in`] (a
//! rebuild): a reader that attached in an older generation stops at its
//! next batch and attaches again from the reset cursor, so a rebuild can
//! run beside a serving process.
//!
//! A stream cannot dead-letter: a message that does not decode, did not come
//! from its event type's exchange and producer, or that the handler refuses
//! for good ([`HandlerError::Permanent`]) is logged at `error` and skipped
//! (recorded, so it is counted as processed). A transient failure rolls the
//! batch back; the reader backs off and attaches again from the cursor.
//!
//! The service's migration creates the inbox table and the cursor table:
//!
//! ```sql
//! CREATE TABLE stream_cursors (
//!     stream      text        PRIMARY KEY,
//!     next_offset bigint      CHECK (next_offset >= 0), -- NULL: from the first
//!     generation  bigint      NOT NULL DEFAULT 0,
//!     updated_at  timestamptz NOT NULL DEFAULT clock_timestamp()
//! );
//! ```

use std::collections::HashSet;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use ecommerce_broker::{
    Broker, EventOrigin, StreamError, StreamMessage, StreamOffset, StreamReader,
};
use ecommerce_events::{EventMetadata, ReceivedEvent, decode};
use futures::FutureExt as _;
use sea_orm::{
    ConnectionTrait as _, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, Statement,
    TransactionTrait as _, Value,
};
use tracing::{Instrument as _, debug, error, info, info_span, warn};

use crate::consumer::{panic_message, record_messages};
use crate::error::{HandlerError, error_chain};
use crate::handler::{EventHandler, HandlerContext};
use crate::table::InboxTable;
use crate::trace;

/// The table holding each stream's cursor, in the service's schema.
pub const STREAM_CURSORS_TABLE: &str = "stream_cursors";

/// Messages applied per transaction at most.
const DEFAULT_BATCH_SIZE: usize = 256;
/// How long a serving reader waits for a message before it looks again.
const POLL: Duration = Duration::from_secs(1);
/// How long attaching waits for a broker connection.
const CONNECT_WITHIN: Duration = Duration::from_secs(10);

/// Why a [`StreamInbox`] stopped reading.
#[derive(Debug, thiserror::Error)]
pub enum StreamInboxError {
    #[error(transparent)]
    Stream(#[from] StreamError),
    #[error("database: {0}")]
    Database(String),
    #[error("message at offset {offset} failed: {reason}")]
    Handler { offset: u64, reason: String },
}

impl From<DbErr> for StreamInboxError {
    fn from(error: DbErr) -> Self {
        Self::Database(error_chain(&error))
    }
}

/// What one pass of reading did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadProgress {
    /// Messages applied by the handler.
    pub applied: u64,
    /// Messages skipped: already applied (a relay's duplicate), undecodable,
    /// of a forged origin, or refused for good by the handler.
    pub skipped: u64,
}

/// An idempotent reader of one stream, applying each message through an
/// [`EventHandler`] exactly once (see the module docs).
pub struct StreamInbox<H> {
    stream: String,
    db: DatabaseConnection,
    table: InboxTable,
    cursors: String,
    origin: EventOrigin,
    handler: H,
    batch_size: usize,
}

/// How a batch ended.
enum Applied {
    Done {
        applied: u64,
        skipped: u64,
    },
    /// A reset raised the generation: attach again.
    Moved,
}

impl<H: EventHandler> StreamInbox<H> {
    /// Reads `stream` into `db` through `handler`: its inbox records go to
    /// `table` under the stream's name, its cursor to
    /// `<table's schema>.stream_cursors`; a message must come from where
    /// `origin` says its event type comes from.
    pub fn new(
        stream: impl Into<String>,
        db: DatabaseConnection,
        table: InboxTable,
        origin: EventOrigin,
        handler: H,
    ) -> Self {
        let cursors = format!("{}.{STREAM_CURSORS_TABLE}", table.schema());
        Self {
            stream: stream.into(),
            db,
            table,
            cursors,
            origin,
            handler,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }

    /// The stream's name (also the consumer name of its inbox records).
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// [`reset_stream_in`] for this reader's stream and inbox table.
    pub async fn reset_in(&self, transaction: &DatabaseTransaction) -> Result<(), DbErr> {
        reset_stream_in(transaction, &self.table, &self.stream).await
    }

    /// Reads until `shutdown`, attaching again (after a backoff on a
    /// failure) whenever the stream, the broker or the database fails, and
    /// at once after a reset.
    pub async fn run(&self, broker: &Broker, shutdown: impl Future<Output = ()> + Send) {
        let backoff = broker.settings().reconnect_backoff;
        let mut failures: u32 = 0;
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let pass = tokio::select! {
                () = &mut shutdown => return,
                pass = self.read(broker, None) => pass,
            };
            match pass {
                Ok(_) => failures = 0,
                Err(error) => {
                    let delay = backoff.delay(failures);
                    failures = failures.saturating_add(1);
                    warn!(stream = %self.stream, %error, attempt = failures, "reading the stream failed; attaching again");
                    tokio::select! {
                        () = &mut shutdown => return,
                        () = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    }

    /// Reads from the cursor until no message comes for `idle`: what a
    /// rebuild runs after [`reset_stream_in`]. `progress` is called after
    /// every batch with the totals so far.
    pub async fn catch_up(
        &self,
        broker: &Broker,
        idle: Duration,
        mut progress: impl FnMut(ReadProgress) + Send,
    ) -> Result<ReadProgress, StreamInboxError> {
        let mut total = ReadProgress::default();
        loop {
            let pass = self
                .read(
                    broker,
                    Some((idle, &mut |batch: ReadProgress| {
                        total.applied += batch.applied;
                        total.skipped += batch.skipped;
                        progress(total);
                    })),
                )
                .await?;
            if pass {
                return Ok(total);
            }
        }
    }

    /// One attachment: reads from the cursor until the generation moves
    /// (`Ok(false)`), or, with `until_idle`, until nothing comes for its
    /// duration (`Ok(true)`).
    async fn read(
        &self,
        broker: &Broker,
        mut until_idle: Option<(Duration, &mut (dyn FnMut(ReadProgress) + Send))>,
    ) -> Result<bool, StreamInboxError> {
        let (next_offset, generation) = self.cursor().await?;
        let from = next_offset.map_or(StreamOffset::First, StreamOffset::At);
        let mut reader = broker
            .read_stream(&self.stream, from, CONNECT_WITHIN)
            .await?;
        let result = self
            .read_batches(&mut reader, generation, &mut until_idle)
            .await;
        reader.close().await;
        result
    }

    async fn read_batches(
        &self,
        reader: &mut StreamReader,
        generation: i64,
        until_idle: &mut Option<(Duration, &mut (dyn FnMut(ReadProgress) + Send))>,
    ) -> Result<bool, StreamInboxError> {
        let idle = until_idle.as_ref().map_or(POLL, |(idle, _)| *idle);
        loop {
            let batch = reader.next_batch(self.batch_size, idle).await?;
            if batch.is_empty() {
                if until_idle.is_some() {
                    return Ok(true);
                }
                continue;
            }
            match self.apply(&batch, generation).await? {
                Applied::Moved => {
                    info!(stream = %self.stream, "the cursor was reset; attaching again");
                    return Ok(false);
                }
                Applied::Done { applied, skipped } => {
                    if let Some((_, progress)) = until_idle {
                        progress(ReadProgress { applied, skipped });
                    }
                }
            }
        }
    }

    /// The cursor's next offset and generation, creating the row.
    async fn cursor(&self) -> Result<(Option<u64>, i64), StreamInboxError> {
        self.db
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                format!(
                    "INSERT INTO {} (stream) VALUES ($1) ON CONFLICT (stream) DO NOTHING",
                    self.cursors
                ),
                [Value::from(self.stream.as_str())],
            ))
            .await?;
        let row = self
            .db
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                format!(
                    "SELECT next_offset, generation FROM {} WHERE stream = $1",
                    self.cursors
                ),
                [Value::from(self.stream.as_str())],
            ))
            .await?
            .ok_or_else(|| StreamInboxError::Database("the cursor row vanished".to_owned()))?;
        cursor_of(&row)
    }

    /// Applies a batch in one transaction; a message the handler refuses
    /// for good is skipped and the batch applied again without it.
    async fn apply(
        &self,
        batch: &[StreamMessage],
        generation: i64,
    ) -> Result<Applied, StreamInboxError> {
        let mut refused: HashSet<u64> = HashSet::new();
        loop {
            match self.apply_once(batch, generation, &refused).await? {
                Attempt::Refused { offset, reason } => {
                    error!(stream = %self.stream, offset, %reason, "the handler refused a message for good; skipping it");
                    refused.insert(offset);
                }
                Attempt::Finished(applied) => return Ok(applied),
            }
        }
    }

    async fn apply_once(
        &self,
        batch: &[StreamMessage],
        generation: i64,
        refused: &HashSet<u64>,
    ) -> Result<Attempt, StreamInboxError> {
        let transaction = self.db.begin().await?;
        let row = transaction
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                format!(
                    "SELECT next_offset, generation FROM {} WHERE stream = $1 FOR UPDATE",
                    self.cursors
                ),
                [Value::from(self.stream.as_str())],
            ))
            .await?;
        let Some(row) = row else {
            rollback(transaction).await;
            return Ok(Attempt::Finished(Applied::Moved));
        };
        let (next_offset, current) = cursor_of(&row)?;
        if current != generation {
            rollback(transaction).await;
            return Ok(Attempt::Finished(Applied::Moved));
        }
        let Some(last) = batch.last().map(|message| message.offset) else {
            rollback(transaction).await;
            return Ok(Attempt::Finished(Applied::Done {
                applied: 0,
                skipped: 0,
            }));
        };
        // Below the cursor: applied by an earlier attachment or another reader.
        let fresh: Vec<&StreamMessage> = batch
            .iter()
            .filter(|message| next_offset.is_none_or(|next| message.offset >= next))
            .collect();
        let mut skipped = batch.len() - fresh.len();
        let mut decoded: Vec<(&StreamMessage, ReceivedEvent)> = Vec::with_capacity(fresh.len());
        for message in fresh {
            if refused.contains(&message.offset) {
                skipped += 1;
                continue;
            }
            let delivery = &message.delivery;
            if let Err(reason) = self.origin.check(delivery) {
                error!(stream = %self.stream, offset = message.offset, %reason, "skipping a message of a forged origin");
                skipped += 1;
                continue;
            }
            match decode(&delivery.properties, &delivery.body) {
                Ok(received) => decoded.push((message, received)),
                Err(error) => {
                    error!(stream = %self.stream, offset = message.offset, %error, "skipping an undecodable message");
                    skipped += 1;
                }
            }
        }
        let entries: Vec<(&EventMetadata, &str)> = decoded
            .iter()
            .map(|(_, received)| (&received.metadata, received.event.event_type()))
            .collect();
        let recorded = record_messages(&transaction, &self.table, &self.stream, &entries).await?;
        let mut applied: Vec<uuid::Uuid> = Vec::with_capacity(decoded.len());
        for (message, received) in decoded {
            let ReceivedEvent { event, metadata } = received;
            if !recorded.contains(&metadata.id) || applied.contains(&metadata.id) {
                debug!(stream = %self.stream, offset = message.offset, "already applied; skipping");
                skipped += 1;
                continue;
            }
            let span = info_span!(
                "stream_handle",
                stream = %self.stream,
                offset = message.offset,
                event_type = event.event_type(),
                message_id = %metadata.id,
                correlation_id = metadata.correlation_id.as_deref(),
            );
            trace::continue_trace(&span, metadata.trace_context.as_ref());
            let context = HandlerContext {
                transaction: &transaction,
                metadata: &metadata,
                event_type: event.event_type(),
                consumer_name: &self.stream,
                outbox: None,
                delivery_count: 0,
                redelivered: false,
            };
            let handled = AssertUnwindSafe(self.handler.handle(&context, event))
                .catch_unwind()
                .instrument(span)
                .await;
            let failure = match handled {
                Ok(Ok(())) => None,
                Ok(Err(HandlerError::Permanent(reason))) => {
                    rollback(transaction).await;
                    return Ok(Attempt::Refused {
                        offset: message.offset,
                        reason,
                    });
                }
                Ok(Err(HandlerError::Transient(reason))) => Some(reason),
                Err(panic) => Some(format!("handler panicked: {}", panic_message(&*panic))),
            };
            if let Some(reason) = failure {
                rollback(transaction).await;
                return Err(StreamInboxError::Handler {
                    offset: message.offset,
                    reason,
                });
            }
            applied.push(metadata.id);
        }
        let next = i64::try_from(last.saturating_add(1)).unwrap_or(i64::MAX);
        transaction
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                format!(
                    "UPDATE {} SET next_offset = $2, updated_at = clock_timestamp() \
                     WHERE stream = $1",
                    self.cursors
                ),
                [Value::from(self.stream.as_str()), Value::from(next)],
            ))
            .await?;
        transaction.commit().await?;
        let applied = applied.len() as u64;
        debug!(stream = %self.stream, applied, skipped, next, "batch applied");
        Ok(Attempt::Finished(Applied::Done {
            applied,
            skipped: skipped as u64,
        }))
    }
}

enum Attempt {
    Finished(Applied),
    Refused { offset: u64, reason: String },
}

/// In `transaction`: forgets what the inbox applied from `stream` and puts
/// its cursor back to the first offset, in a new generation. The caller
/// clears what the messages built in the same transaction, then reads the
/// stream again ([`StreamInbox::catch_up`]).
pub async fn reset_stream_in(
    transaction: &DatabaseTransaction,
    table: &InboxTable,
    stream: &str,
) -> Result<(), DbErr> {
    let cursors = format!("{}.{STREAM_CURSORS_TABLE}", table.schema());
    transaction
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!("DELETE FROM {} WHERE consumer = $1", table.qualified()),
            [Value::from(stream)],
        ))
        .await?;
    transaction
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!(
                "INSERT INTO {cursors} (stream, next_offset, generation) VALUES ($1, NULL, 1) \
                 ON CONFLICT (stream) DO UPDATE SET next_offset = NULL, \
                 generation = {cursors}.generation + 1, updated_at = clock_timestamp()"
            ),
            [Value::from(stream)],
        ))
        .await?;
    Ok(())
}

fn cursor_of(row: &sea_orm::QueryResult) -> Result<(Option<u64>, i64), StreamInboxError> {
    let next: Option<i64> = row.try_get("", "next_offset")?;
    let generation: i64 = row.try_get("", "generation")?;
    let next = next.map(|next| u64::try_from(next).unwrap_or_default());
    Ok((next, generation))
}

async fn rollback(transaction: DatabaseTransaction) {
    if let Err(error) = transaction.rollback().await {
        debug!(error = %error_chain(&error), "rollback failed; the connection's end rolls back instead");
    }
}
