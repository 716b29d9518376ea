//! The relay: claims due rows, publishes them, records the outcome.
//!
//! One batch is one transaction: `SELECT ... FOR UPDATE SKIP LOCKED` claims
//! up to `batch_size` due pending rows (concurrent relays, in this process or
//! others, skip them and take the next ones), the publisher sends them
//! pipelined and waits for the confirms, and one `UPDATE ... WHERE id =
//! ANY($1)` marks the confirmed rows published, one `UPDATE ... FROM
//! unnest(...)` schedules the retries, then the transaction commits. If the
//! relay dies between the publish and the commit, the row locks go with its
//! session and the rows are published again: delivery is at least once, and
//! consumers deduplicate on the event id.
//!
//! Rows are always found by status, never by an id cursor, so a row whose
//! transaction commits late (after rows with larger ids were published) is
//! still picked up.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use ecommerce_events::{
    CONTENT_TYPE_PROTOBUF, DELIVERY_MODE_PERSISTENT, MessageProperties, headers,
};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, QueryResult, Statement,
    TransactionTrait, Value,
};
use tracing::{Span, field, instrument};
use uuid::Uuid;

use crate::error::{OutboxError, translate};
use crate::outbox::{Outbox, OutboxBacklog};
use crate::publisher::{OutboxPublisher, PublishFailure, RelayMessage};
use crate::settings::{MAX_BATCH_SIZE, RelaySettings};
use ecommerce_platform::Backoff;
use ecommerce_platform::metrics::prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts};

/// The relays' metrics, by outbox table (`orders.outbox`).
struct RelayMetrics {
    published: IntCounterVec,
    publish_failures: IntCounterVec,
    batch_size: HistogramVec,
}

static RELAY_METRICS: std::sync::LazyLock<RelayMetrics> = std::sync::LazyLock::new(|| {
    use ecommerce_platform::metrics::register;
    RelayMetrics {
        published: register(IntCounterVec::new(
            Opts::new(
                "outbox_published_events_total",
                "Events a relay published and marked published, by outbox.",
            ),
            &["outbox"],
        )),
        publish_failures: register(IntCounterVec::new(
            Opts::new(
                "outbox_publish_failures_total",
                "Failed publish attempts of a relay (the rows are retried), by outbox.",
            ),
            &["outbox"],
        )),
        batch_size: register(HistogramVec::new(
            HistogramOpts::new(
                "outbox_relay_batch_size",
                "Rows a relay claimed per batch, by outbox.",
            )
            .buckets(vec![
                1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0,
            ]),
            &["outbox"],
        )),
    }
});

/// Rows deleted per prune statement, so no delete holds locks for long.
const PRUNE_CHUNK: i64 = 5_000;
/// `last_error` is for people; a broker's full error chain can be long.
const MAX_ERROR_LEN: usize = 2_000;
/// Backoff cap after database errors in the run loop.
const DATABASE_RETRY_CAP: Duration = Duration::from_secs(5);
/// Backoff cap while the broker is unreachable: short, so publishing
/// resumes within seconds of the broker's return.
const BROKER_RETRY_CAP: Duration = Duration::from_secs(2);

/// What one batch did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Rows claimed (and offered to the publisher).
    pub claimed: usize,
    /// Rows confirmed and marked published.
    pub published: usize,
    /// Rows that failed and were scheduled for another attempt.
    pub retried: usize,
    /// Rows that failed their last attempt and are now `failed`.
    pub failed: usize,
    /// Rows left untouched because the broker was unreachable; they are
    /// due again at once and keep their attempts.
    pub broker_unavailable: usize,
}

/// A snapshot of a relay and its outbox.
#[derive(Clone, Debug, PartialEq)]
pub struct RelayStats {
    /// Rows waiting to be published in the whole outbox (all relays).
    pub pending: u64,
    /// Rows that ran out of attempts.
    pub failed: u64,
    /// Age of the oldest pending row: the outbox lag.
    pub oldest_pending_age: Option<Duration>,
    /// Rows this relay published since it was built.
    pub published_total: u64,
    /// Failed publish attempts of this relay since it was built.
    pub publish_failures_total: u64,
    /// This relay's publish rate since the previous snapshot (or since it
    /// was built, for the first one).
    pub published_per_second: f64,
}

/// Publishes one outbox's pending rows. Cheap to clone; clones share their
/// counters. Run it with [`Relay::run`].
#[derive(Clone)]
pub struct Relay {
    inner: Arc<RelayInner>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Relay")
            .field("outbox", &self.inner.outbox.table().to_string())
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

struct RelayInner {
    db: DatabaseConnection,
    outbox: Outbox,
    publisher: Arc<dyn OutboxPublisher>,
    settings: RelaySettings,
    published_total: AtomicU64,
    publish_failures_total: AtomicU64,
    rate_window: Mutex<RateWindow>,
}

struct RateWindow {
    since: Instant,
    published_total: u64,
}

/// What the run loop does after a batch.
enum Pause {
    /// The batch was full: more rows are probably due.
    None,
    /// Wait for a wake-up from a commit, or the poll interval.
    Idle,
    /// The database failed: wait this long.
    Backoff(Duration),
}

impl Relay {
    /// A relay for `outbox`, claiming through `db` (its own pool: a batch
    /// holds a connection while the broker confirms) and publishing through
    /// `publisher`. A batch size outside `1..=10_000` is clamped.
    pub fn new(
        db: DatabaseConnection,
        outbox: Outbox,
        publisher: Arc<dyn OutboxPublisher>,
        mut settings: RelaySettings,
    ) -> Self {
        settings.batch_size = settings.batch_size.clamp(1, MAX_BATCH_SIZE);
        Self {
            inner: Arc::new(RelayInner {
                db,
                outbox,
                publisher,
                settings,
                published_total: AtomicU64::new(0),
                publish_failures_total: AtomicU64::new(0),
                rate_window: Mutex::new(RateWindow {
                    since: Instant::now(),
                    published_total: 0,
                }),
            }),
        }
    }

    pub fn outbox(&self) -> &Outbox {
        &self.inner.outbox
    }

    pub fn settings(&self) -> &RelaySettings {
        &self.inner.settings
    }

    /// Relays until `shutdown` completes, then returns after the batch in
    /// flight (bounded by the publish timeout) is recorded.
    ///
    /// Batches follow each other while they come back full; then the relay
    /// waits for a commit through its [`Outbox`] (in this process) or the
    /// poll interval (rows written by other processes). Database errors are
    /// logged and retried with backoff; the loop never gives up. Published
    /// rows past the retention are pruned every prune interval, and the
    /// statistics logged every stats interval.
    pub async fn run<F>(&self, shutdown: F)
    where
        F: Future<Output = ()> + Send,
    {
        let settings = &self.inner.settings;
        let table = self.inner.outbox.table();
        tokio::pin!(shutdown);
        let started = Instant::now();
        // Replicas started together would otherwise prune together.
        let mut next_prune = started
            + settings
                .prune_interval
                .mul_f64(0.5 + rand::random::<f64>() / 2.0);
        let mut next_stats = started + settings.stats_interval;
        let mut consecutive_errors = 0_u32;
        let mut consecutive_outages = 0_u32;
        tracing::info!(
            outbox = %table,
            batch_size = settings.batch_size,
            poll_interval_ms = settings.poll_interval.as_millis() as u64,
            "outbox relay started"
        );
        loop {
            // Listens for commits from before the claim on: a permit a commit
            // left earlier is for rows this claim takes anyway, so it is
            // spent here rather than waking an empty claim afterwards.
            let wake = self.inner.outbox.wake();
            let mut commits_since_claim = Box::pin(wake.notified());
            while commits_since_claim.as_mut().enable() {
                commits_since_claim = Box::pin(wake.notified());
            }
            let pause = match self.relay_once().await {
                Ok(outcome) if outcome.broker_unavailable > 0 && outcome.published == 0 => {
                    consecutive_errors = 0;
                    consecutive_outages = consecutive_outages.saturating_add(1);
                    Pause::Backoff(
                        Backoff::new(settings.poll_interval, BROKER_RETRY_CAP)
                            .equal_jitter_delay(consecutive_outages - 1),
                    )
                }
                Ok(outcome) => {
                    consecutive_errors = 0;
                    consecutive_outages = 0;
                    if outcome.claimed >= settings.batch_size {
                        Pause::None
                    } else {
                        Pause::Idle
                    }
                }
                Err(error) => {
                    consecutive_errors = consecutive_errors.saturating_add(1);
                    tracing::warn!(
                        outbox = %table,
                        error = %error_chain(&error),
                        consecutive_errors,
                        "outbox relay batch failed"
                    );
                    Pause::Backoff(
                        Backoff::new(
                            settings.poll_interval,
                            settings.poll_interval.max(DATABASE_RETRY_CAP),
                        )
                        .equal_jitter_delay(consecutive_errors.saturating_sub(1)),
                    )
                }
            };

            let now = Instant::now();
            if now >= next_prune {
                next_prune = now + settings.prune_interval;
                if let Err(error) = self.prune().await {
                    tracing::warn!(outbox = %table, error = %error_chain(&error), "outbox prune failed");
                }
            }
            if now >= next_stats {
                next_stats = now + settings.stats_interval;
                self.log_stats().await;
            }

            let housekeeping = next_prune.min(next_stats);
            let wait_until = match pause {
                Pause::None => None,
                Pause::Idle => Some((now + settings.poll_interval).min(housekeeping)),
                Pause::Backoff(delay) => Some((now + delay).min(housekeeping)),
            };
            let Some(wait_until) = wait_until else {
                tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    () = std::future::ready(()) => continue,
                }
            };
            let listens_for_commits = matches!(pause, Pause::Idle);
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                () = &mut commits_since_claim, if listens_for_commits => {}
                () = tokio::time::sleep_until(wait_until.into()) => {}
            }
        }
        tracing::info!(outbox = %table, "outbox relay stopped");
    }

    /// Claims, publishes and records one batch. [`run`](Self::run) calls it
    /// in a loop; tests and tools may call it directly.
    #[instrument(
        level = "debug",
        skip_all,
        fields(
            outbox = %self.inner.outbox.table(),
            claimed = field::Empty,
            published = field::Empty,
            retried = field::Empty,
            failed = field::Empty,
        )
    )]
    pub async fn relay_once(&self) -> Result<BatchOutcome, OutboxError> {
        let inner = &*self.inner;
        let table = inner.outbox.table();
        let statements = inner.outbox.statements();
        let database_error = |error: DbErr| translate(error, table, None);

        let transaction = inner.db.begin().await.map_err(database_error)?;
        let rows = transaction
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                statements.claim.as_str(),
                [Value::from(
                    i64::try_from(inner.settings.batch_size).unwrap_or(1),
                )],
            ))
            .await
            .map_err(database_error)?;
        if rows.is_empty() {
            transaction.commit().await.map_err(database_error)?;
            return Ok(BatchOutcome::default());
        }

        let mut claimed = Vec::with_capacity(rows.len());
        let mut messages = Vec::with_capacity(rows.len());
        let mut unreadable = Vec::new();
        for row in &rows {
            let id: Uuid = row.try_get("", "id").map_err(database_error)?;
            let attempts: i32 = row.try_get("", "attempts").map_err(database_error)?;
            match StoredEvent::read(row) {
                Ok(stored) => {
                    claimed.push((id, attempts));
                    messages.push(stored.into_message());
                }
                // Retried like a publish failure, so it ends as `failed`
                // with the reason instead of blocking the relay.
                Err(error) => unreadable.push((id, attempts, format!("unreadable row: {error}"))),
            }
        }

        let results = self.publish(&messages).await;
        let mut published_ids = Vec::with_capacity(claimed.len());
        let mut failures = unreadable;
        let mut unavailable: Vec<(Uuid, String)> = Vec::new();
        for ((id, attempts), result) in claimed.into_iter().zip(results) {
            match result {
                Ok(()) => published_ids.push(id),
                // Not written back: the row stays due with its attempts.
                Err(failure) if failure.broker_unavailable => {
                    unavailable.push((id, failure.reason))
                }
                Err(failure) => failures.push((id, attempts, failure.reason)),
            }
        }

        let mut outcome = BatchOutcome {
            claimed: rows.len(),
            published: published_ids.len(),
            retried: 0,
            failed: 0,
            broker_unavailable: unavailable.len(),
        };
        if !published_ids.is_empty() {
            transaction
                .execute_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    statements.mark_published.as_str(),
                    [Value::from(published_ids)],
                ))
                .await
                .map_err(database_error)?;
        }
        let mut exhausted = Vec::new();
        if !failures.is_empty() {
            let settings = &inner.settings;
            let mut ids = Vec::with_capacity(failures.len());
            let mut errors = Vec::with_capacity(failures.len());
            let mut delays_ms = Vec::with_capacity(failures.len());
            for (id, attempts, reason) in &failures {
                let attempt = u32::try_from(*attempts).unwrap_or(0).saturating_add(1);
                // `attempt` counts from 1; the first retry waits about `backoff_base`.
                let delay = Backoff::new(settings.backoff_base, settings.backoff_cap)
                    .equal_jitter_delay(attempt - 1);
                ids.push(*id);
                errors.push(truncate(reason, MAX_ERROR_LEN));
                delays_ms.push(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
                // The same rule as the UPDATE's CASE.
                if attempt >= settings.max_attempts {
                    exhausted.push((*id, attempt, reason.as_str()));
                }
            }
            transaction
                .execute_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    statements.mark_failed.as_str(),
                    [
                        Value::from(ids),
                        Value::from(errors),
                        Value::from(delays_ms),
                        Value::from(i32::try_from(settings.max_attempts).unwrap_or(i32::MAX)),
                    ],
                ))
                .await
                .map_err(database_error)?;
            outcome.failed = exhausted.len();
            outcome.retried = failures.len() - exhausted.len();
        }
        // A failed commit leaves the rows pending: published again later.
        transaction.commit().await.map_err(database_error)?;

        inner
            .published_total
            .fetch_add(outcome.published as u64, Ordering::Relaxed);
        inner.publish_failures_total.fetch_add(
            (failures.len() + unavailable.len()) as u64,
            Ordering::Relaxed,
        );
        let label = table.to_string();
        let metrics = &*RELAY_METRICS;
        metrics
            .published
            .with_label_values(&[label.as_str()])
            .inc_by(outcome.published as u64);
        metrics
            .publish_failures
            .with_label_values(&[label.as_str()])
            .inc_by((failures.len() + unavailable.len()) as u64);
        if outcome.claimed > 0 {
            metrics
                .batch_size
                .with_label_values(&[label.as_str()])
                .observe(outcome.claimed as f64);
        }
        let span = Span::current();
        span.record("claimed", outcome.claimed);
        span.record("published", outcome.published);
        span.record("retried", outcome.retried);
        span.record("failed", outcome.failed);
        if let Some((first_id, _, first_error)) = failures.first() {
            // One line per batch: an outage fails thousands of rows at once.
            tracing::warn!(
                outbox = %table,
                retried = outcome.retried,
                failed = outcome.failed,
                first_event_id = %first_id,
                first_error = %first_error,
                "outbox publish failed"
            );
        }
        if let Some((first_id, first_error)) = unavailable.first() {
            tracing::warn!(
                outbox = %table,
                rows = unavailable.len(),
                first_event_id = %first_id,
                first_error = %first_error,
                "broker unavailable; the rows stay pending and the relay backs off"
            );
        }
        for (id, attempts, reason) in exhausted {
            tracing::error!(
                outbox = %table,
                event_id = %id,
                attempts,
                last_error = %reason,
                "outbox event failed permanently"
            );
        }
        Ok(outcome)
    }

    /// One result per message whatever the publisher does: a timeout or a
    /// short answer counts as failure for the messages without a result.
    async fn publish(&self, messages: &[RelayMessage]) -> Vec<Result<(), PublishFailure>> {
        if messages.is_empty() {
            return Vec::new();
        }
        let timeout = self.inner.settings.publish_timeout;
        let publishing = self.inner.publisher.publish_batch(messages);
        let mut results = match tokio::time::timeout(timeout, publishing).await {
            Ok(results) => results,
            Err(_) => {
                let failure = PublishFailure::broker_unavailable(format!(
                    "no broker confirm within {} ms",
                    timeout.as_millis()
                ));
                return vec![Err(failure); messages.len()];
            }
        };
        if results.len() != messages.len() {
            tracing::error!(
                outbox = %self.inner.outbox.table(),
                expected = messages.len(),
                received = results.len(),
                "publisher broke its contract: result count differs from the batch"
            );
            results.resize_with(messages.len(), || {
                Err(PublishFailure::new("the publisher returned no result"))
            });
        }
        results
    }

    /// Deletes published rows older than the retention; returns how many.
    #[instrument(skip_all, fields(outbox = %self.inner.outbox.table(), deleted = field::Empty), err)]
    pub async fn prune(&self) -> Result<u64, OutboxError> {
        let inner = &*self.inner;
        let mut deleted = 0_u64;
        loop {
            let result = inner
                .db
                .execute_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    inner.outbox.statements().prune.as_str(),
                    [
                        Value::from(inner.settings.retention.as_secs_f64()),
                        Value::from(PRUNE_CHUNK),
                    ],
                ))
                .await
                .map_err(|error| translate(error, inner.outbox.table(), None))?;
            deleted += result.rows_affected();
            if result.rows_affected() < PRUNE_CHUNK as u64 {
                break;
            }
        }
        Span::current().record("deleted", deleted);
        if deleted > 0 {
            tracing::info!(outbox = %inner.outbox.table(), deleted, "pruned published outbox rows");
        }
        Ok(deleted)
    }

    /// The outbox backlog plus this relay's counters. Each call starts a new
    /// window for `published_per_second`.
    pub async fn stats(&self) -> Result<RelayStats, OutboxError> {
        let inner = &*self.inner;
        let OutboxBacklog {
            pending,
            failed,
            oldest_pending_age,
        } = inner.outbox.backlog(&inner.db).await?;
        let published_total = inner.published_total.load(Ordering::Relaxed);
        let published_per_second = {
            let mut window = inner
                .rate_window
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let elapsed = window.since.elapsed().as_secs_f64();
            let published = published_total.saturating_sub(window.published_total);
            *window = RateWindow {
                since: Instant::now(),
                published_total,
            };
            if elapsed > 0.0 {
                published as f64 / elapsed
            } else {
                0.0
            }
        };
        Ok(RelayStats {
            pending,
            failed,
            oldest_pending_age,
            published_total,
            publish_failures_total: inner.publish_failures_total.load(Ordering::Relaxed),
            published_per_second,
        })
    }

    async fn log_stats(&self) {
        let table = self.inner.outbox.table();
        match self.stats().await {
            Ok(stats) => tracing::info!(
                outbox = %table,
                pending = stats.pending,
                failed = stats.failed,
                oldest_pending_age_ms = stats
                    .oldest_pending_age
                    .map(|age| age.as_millis() as u64),
                published_total = stats.published_total,
                publish_failures_total = stats.publish_failures_total,
                published_per_second = stats.published_per_second,
                "outbox relay stats"
            ),
            Err(error) => {
                tracing::warn!(outbox = %table, error = %error_chain(&error), "outbox stats failed");
            }
        }
    }
}

/// The columns of one claimed row.
struct StoredEvent {
    id: Uuid,
    event_type: String,
    exchange: String,
    aggregate_type: String,
    aggregate_id: String,
    payload: Vec<u8>,
    schema_ref: String,
    occurred_at: DateTime<Utc>,
    correlation_id: Option<String>,
    causation_id: Option<String>,
    traceparent: Option<String>,
    tracestate: Option<String>,
}

impl StoredEvent {
    fn read(row: &QueryResult) -> Result<Self, DbErr> {
        Ok(Self {
            id: row.try_get("", "id")?,
            event_type: row.try_get("", "event_type")?,
            exchange: row.try_get("", "exchange")?,
            aggregate_type: row.try_get("", "aggregate_type")?,
            aggregate_id: row.try_get("", "aggregate_id")?,
            payload: row.try_get("", "payload")?,
            schema_ref: row.try_get("", "schema_ref")?,
            occurred_at: row.try_get("", "occurred_at")?,
            correlation_id: row.try_get("", "correlation_id")?,
            causation_id: row.try_get("", "causation_id")?,
            traceparent: row.try_get("", "traceparent")?,
            tracestate: row.try_get("", "tracestate")?,
        })
    }

    /// The message `ecommerce_events::encode` described when the row was
    /// written: the properties are rebuilt from the columns (the integration
    /// tests compare them with `encode`'s), the body is the stored envelope.
    fn into_message(self) -> RelayMessage {
        let mut message_headers = std::collections::BTreeMap::new();
        message_headers.insert(headers::AGGREGATE_TYPE.to_owned(), self.aggregate_type);
        message_headers.insert(headers::AGGREGATE_ID.to_owned(), self.aggregate_id);
        if let Some(schema_id) = headers::registry_id_of_schema(&self.schema_ref) {
            message_headers.insert(headers::SCHEMA_ID.to_owned(), schema_id.to_string());
        }
        message_headers.insert(headers::SCHEMA.to_owned(), self.schema_ref);
        if let Some(causation_id) = self.causation_id {
            message_headers.insert(headers::CAUSATION_ID.to_owned(), causation_id);
        }
        if let Some(traceparent) = self.traceparent {
            message_headers.insert(headers::TRACEPARENT.to_owned(), traceparent);
        }
        if let Some(tracestate) = self.tracestate {
            message_headers.insert(headers::TRACESTATE.to_owned(), tracestate);
        }
        RelayMessage {
            id: self.id,
            exchange: self.exchange,
            routing_key: self.event_type.clone(),
            body: self.payload,
            properties: MessageProperties {
                message_id: self.id.to_string(),
                event_type: self.event_type,
                // As in `encode`: pre-1970 cannot be expressed, 0 is "unknown".
                timestamp: u64::try_from(self.occurred_at.timestamp()).unwrap_or(0),
                correlation_id: self.correlation_id,
                content_type: CONTENT_TYPE_PROTOBUF.to_owned(),
                delivery_mode: DELIVERY_MODE_PERSISTENT,
                headers: message_headers,
            },
        }
    }
}

use ecommerce_platform::error_chain;

/// At most `max_len` bytes, cut on a character boundary.
fn truncate(text: &str, max_len: usize) -> String {
    if text.len() <= max_len {
        return text.to_owned();
    }
    let mut end = max_len;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_errors_are_cut_on_a_character_boundary() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("ééé", 3), "é");
        assert_eq!(truncate("abcdef", 4), "abcd");
    }
}
