//! The relay's throughput: pre-fill the outbox with M pending rows, start
//! the relays, time until every row is published.
//!
//! The end is taken from the rows themselves: `max(published_at)` (set by
//! the relay's mark-published UPDATE with `clock_timestamp()`) against a
//! `clock_timestamp()` read just before the relays start, both on the
//! database's clock, so the polling interval does not blur the figure.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_trait::async_trait;
use ecommerce_broker::Publisher;
use ecommerce_outbox::{
    OutboxPublisher, PublishFailure, Relay, RelayMessage, RelaySettings, RelayStats,
};
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::env::{BenchEnv, PATIENCE};
use crate::measure::{CpuSnapshot, DB_NOW_US_SQL, ms, rate, round1, round3};
use crate::progress;
use crate::workload::{insert_order, order_placed};

/// One `publish_batch` call as the relay made it.
#[derive(Clone, Copy, Debug)]
struct BatchTiming {
    started: Instant,
    finished: Instant,
    messages: usize,
}

/// The broker's publisher, timing every batch the relay hands it: the
/// publish stage directly, and (from the gaps between batches) the
/// relay's database stage (mark + commit of one batch, begin + claim +
/// row decoding of the next).
pub struct TimedPublisher {
    inner: Publisher,
    confirmed: Arc<AtomicU64>,
    batches: Mutex<Vec<BatchTiming>>,
}

#[async_trait]
impl OutboxPublisher for TimedPublisher {
    async fn publish_batch(&self, batch: &[RelayMessage]) -> Vec<Result<(), PublishFailure>> {
        let started = Instant::now();
        let results = OutboxPublisher::publish_batch(&self.inner, batch).await;
        let finished = Instant::now();
        let confirmed = results.iter().filter(|result| result.is_ok()).count();
        self.confirmed
            .fetch_add(confirmed as u64, Ordering::Relaxed);
        self.batches
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(BatchTiming {
                started,
                finished,
                messages: batch.len(),
            });
        results
    }
}

/// Relays running in tasks of this process, each with its own publisher
/// (confirm channel); their pool is shared.
pub struct RunningRelays {
    pub relays: Vec<Relay>,
    publishers: Vec<Arc<TimedPublisher>>,
    confirmed: Arc<AtomicU64>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl RunningRelays {
    pub fn start(env: &BenchEnv, count: usize, settings: &RelaySettings) -> Self {
        let confirmed = Arc::new(AtomicU64::new(0));
        let (stop, stopped) = watch::channel(false);
        let mut relays = Vec::with_capacity(count);
        let mut publishers = Vec::with_capacity(count);
        let mut tasks = JoinSet::new();
        for _ in 0..count {
            let publisher = Arc::new(TimedPublisher {
                inner: env.broker.publisher(),
                confirmed: Arc::clone(&confirmed),
                batches: Mutex::new(Vec::new()),
            });
            let relay = Relay::new(
                env.relay_db.clone(),
                env.outbox.clone(),
                publisher.clone() as Arc<dyn OutboxPublisher>,
                settings.clone(),
            );
            let mut stopped = stopped.clone();
            let running = relay.clone();
            tasks.spawn(async move {
                running
                    .run(async move {
                        let _ = stopped.wait_for(|stop| *stop).await;
                    })
                    .await;
            });
            relays.push(relay);
            publishers.push(publisher);
        }
        Self {
            relays,
            publishers,
            confirmed,
            stop,
            tasks,
        }
    }

    /// Messages the broker confirmed so far (rows are marked just after).
    pub fn confirmed(&self) -> u64 {
        self.confirmed.load(Ordering::Relaxed)
    }

    pub async fn stats(&self) -> anyhow::Result<RelayStats> {
        let relay = self.relays.first().context("no relay")?;
        Ok(relay.stats().await?)
    }

    /// Waits until the broker confirmed `expected` messages and the outbox
    /// has nothing pending, or fails after `patience`.
    pub async fn wait_until_drained(
        &self,
        expected: u64,
        patience: Duration,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + patience;
        while self.confirmed() < expected {
            if Instant::now() >= deadline {
                anyhow::bail!(
                    "only {} of {expected} messages confirmed after {patience:?}",
                    self.confirmed()
                );
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        loop {
            let stats = self.stats().await?;
            if stats.failed > 0 {
                anyhow::bail!("{} outbox rows failed", stats.failed);
            }
            if stats.pending == 0 {
                return Ok(());
            }
            if Instant::now() >= deadline {
                anyhow::bail!("{} rows still pending after {patience:?}", stats.pending);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Stops every relay after its batch in flight and returns the batch
    /// statistics.
    pub async fn stop(mut self) -> BatchStats {
        self.stop.send_replace(true);
        while self.tasks.join_next().await.is_some() {}
        let mut stats = BatchStats::default();
        for publisher in &self.publishers {
            let batches = publisher
                .batches
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            stats.add_relay(&batches);
        }
        stats
    }
}

/// Where a relay's time went, from the publisher's view of its batches.
#[derive(Clone, Debug, Default)]
pub struct BatchStats {
    pub batches: u64,
    pub messages: u64,
    /// Time inside `publish_batch` (write + broker confirms).
    pub publish: Duration,
    /// Time between one batch's publish and the next one's, while batches
    /// follow each other (mark published + commit, then begin + claim +
    /// decode of the next batch).
    pub between: Duration,
    pub between_gaps: u64,
    /// The database gap in the first and the last tenth of each relay's
    /// batches: it grows when the claim walks more dead index entries.
    pub between_first_tenth: Duration,
    pub between_first_tenth_gaps: u64,
    pub between_last_tenth: Duration,
    pub between_last_tenth_gaps: u64,
}

impl BatchStats {
    fn add_relay(&mut self, batches: &[BatchTiming]) {
        for (index, batch) in batches.iter().enumerate() {
            self.batches += 1;
            self.messages += batch.messages as u64;
            self.publish += batch.finished.duration_since(batch.started);
            if index > 0 {
                let gap = batch
                    .started
                    .saturating_duration_since(batches[index - 1].finished);
                self.between += gap;
                self.between_gaps += 1;
                let tenth = (batches.len() / 10).max(1);
                if index <= tenth {
                    self.between_first_tenth += gap;
                    self.between_first_tenth_gaps += 1;
                }
                if index >= batches.len() - tenth {
                    self.between_last_tenth += gap;
                    self.between_last_tenth_gaps += 1;
                }
            }
        }
    }

    pub fn to_json(&self) -> Value {
        let per_batch = |total: Duration, count: u64| {
            if count == 0 {
                0.0
            } else {
                round3(total.as_secs_f64() * 1000.0 / count as f64)
            }
        };
        json!({
            "batches": self.batches,
            "mean_batch_size": if self.batches == 0 { 0.0 } else { round1(self.messages as f64 / self.batches as f64) },
            "publish_ms_per_batch": per_batch(self.publish, self.batches),
            "db_ms_between_batches": per_batch(self.between, self.between_gaps),
            "db_ms_between_batches_first_tenth": per_batch(self.between_first_tenth, self.between_first_tenth_gaps),
            "db_ms_between_batches_last_tenth": per_batch(self.between_last_tenth, self.between_last_tenth_gaps),
        })
    }
}

#[derive(Debug)]
pub struct DrainResult {
    pub per_second: f64,
    pub events: u64,
    pub seconds: f64,
    pub relays: usize,
    pub batches: BatchStats,
    pub prefill_per_second: f64,
    pub cpu: Value,
}

impl DrainResult {
    pub fn to_json(&self) -> Value {
        json!({
            "per_s": round1(self.per_second),
            "events": self.events,
            "seconds": round3(self.seconds),
            "relays": self.relays,
            "stages": self.batches.to_json(),
            "prefill_rows_per_s": round1(self.prefill_per_second),
            "cpu": self.cpu,
        })
    }
}

/// Writes `events` pending rows (with their business rows) from `clients`
/// connections, 500 rows per transaction, without waking any relay.
pub async fn prefill(env: &BenchEnv, events: usize, clients: usize) -> anyhow::Result<f64> {
    const ROWS_PER_TRANSACTION: usize = 500;
    let started = Instant::now();
    let transactions = events.div_ceil(ROWS_PER_TRANSACTION);
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = JoinSet::new();
    for _ in 0..clients.min(transactions).max(1) {
        let db = env.clients_db.clone();
        let outbox = env.outbox.clone();
        let table = env.business_table.clone();
        let next = Arc::clone(&next);
        tasks.spawn(async move {
            loop {
                let chunk = next.fetch_add(1, Ordering::Relaxed) as usize;
                if chunk >= transactions {
                    return anyhow::Ok(());
                }
                let first = chunk * ROWS_PER_TRANSACTION;
                let last = (first + ROWS_PER_TRANSACTION).min(events);
                let transaction = db.begin().await?;
                for sequence in first..last {
                    let order_id = Uuid::now_v7();
                    transaction
                        .execute_raw(insert_order(&table, order_id, sequence as u64))
                        .await?;
                    let (payload, metadata) = order_placed(order_id, sequence as u64);
                    outbox.enqueue(&transaction, &payload, metadata).await?;
                }
                transaction.commit().await?;
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined??;
    }
    Ok(rate(events as u64, started.elapsed()))
}

/// Pre-fills `events` rows, then times `relays` relays publishing them all.
pub async fn drain(
    env: &BenchEnv,
    events: usize,
    clients: usize,
    relays: usize,
    settings: &RelaySettings,
) -> anyhow::Result<DrainResult> {
    env.truncate().await?;
    let prefill_per_second = prefill(env, events, clients).await?;
    env.vacuum_outbox().await?;
    progress!(
        "  pre-filled {events} pending rows ({:.0} rows/s); starting {relays} relay(s)",
        prefill_per_second
    );

    let db_start_us = db_now_us(env).await?;
    let cpu_before = CpuSnapshot::take();
    let running = RunningRelays::start(env, relays, settings);
    running
        .wait_until_drained(events as u64, PATIENCE * 5)
        .await?;
    let cpu = CpuSnapshot::take().since(&cpu_before, events as u64);
    let batches = running.stop().await;

    let row = env
        .admin_db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT count(*) FILTER (WHERE status = 'published') AS published, \
                 (EXTRACT(EPOCH FROM max(published_at)) * 1000000)::int8 AS last_us \
                 FROM {}",
                env.outbox_sql_name()
            ),
        ))
        .await?
        .context("no result row")?;
    let published: i64 = row.try_get("", "published")?;
    let last_us: Option<i64> = row.try_get("", "last_us")?;
    if published != events as i64 {
        anyhow::bail!("{published} rows published, expected {events}");
    }
    let last_us = last_us.context("no published_at")?;
    let seconds = (last_us - db_start_us) as f64 / 1e6;
    progress!(
        "  {} rows published in {:.0} ms by {relays} relay(s)",
        events,
        ms(last_us - db_start_us)
    );
    Ok(DrainResult {
        per_second: if seconds > 0.0 {
            events as f64 / seconds
        } else {
            0.0
        },
        events: events as u64,
        seconds,
        relays,
        batches,
        prefill_per_second,
        cpu,
    })
}

pub async fn db_now_us(env: &BenchEnv) -> anyhow::Result<i64> {
    let row = env
        .admin_db
        .query_one_raw(Statement::from_string(DbBackend::Postgres, DB_NOW_US_SQL))
        .await?
        .context("clock_timestamp() returned no row")?;
    Ok(row.try_get("", "now_us")?)
}

#[derive(Debug)]
pub struct ConsumerDrainResult {
    pub per_second: f64,
    pub messages: u64,
    pub seconds: f64,
    pub concurrency: usize,
    pub prefetch: u16,
    pub cpu: Value,
}

impl ConsumerDrainResult {
    pub fn to_json(&self) -> Value {
        json!({
            "per_s": round1(self.per_second),
            "messages": self.messages,
            "seconds": round3(self.seconds),
            "concurrency": self.concurrency,
            "prefetch": self.prefetch,
            "cpu": self.cpu,
        })
    }
}

/// The broker crate's consumer runtime (ack after a no-op handler) taking
/// the `expected` messages the relay left on the recorded queue: the
/// consumer side's capacity, which bounds commit -> handled.
pub async fn consumer_drain(
    env: &BenchEnv,
    expected: u64,
    concurrency: Option<usize>,
) -> anyhow::Result<ConsumerDrainResult> {
    let mut consumer = env.broker.consumer();
    if let Some(concurrency) = concurrency {
        let settings = ecommerce_broker::ConsumerSettings {
            concurrency,
            ..*consumer.settings()
        };
        consumer = consumer.with_settings(settings);
    }
    let settings = *consumer.settings();
    let handled = Arc::new(AtomicU64::new(0));
    let (stop, stopped) = watch::channel(false);
    let queue = env.recorded_queue.clone();
    let counter = Arc::clone(&handled);
    let cpu_before = CpuSnapshot::take();
    let started = Instant::now();
    let task = tokio::spawn(async move {
        let handler = move |_delivery: ecommerce_broker::Delivery| {
            let counter = Arc::clone(&counter);
            async move {
                counter.fetch_add(1, Ordering::Relaxed);
                ecommerce_broker::HandlerOutcome::Ack
            }
        };
        let mut stopped = stopped;
        consumer
            .run(&queue, handler, async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            })
            .await
    });
    let deadline = Instant::now() + PATIENCE;
    while handled.load(Ordering::Relaxed) < expected {
        if Instant::now() >= deadline {
            stop.send_replace(true);
            anyhow::bail!(
                "the consumer handled only {} of {expected} messages in {PATIENCE:?}",
                handled.load(Ordering::Relaxed)
            );
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let elapsed = started.elapsed();
    let cpu = CpuSnapshot::take().since(&cpu_before, expected);
    stop.send_replace(true);
    task.await??;
    Ok(ConsumerDrainResult {
        per_second: rate(expected, elapsed),
        messages: expected,
        seconds: elapsed.as_secs_f64(),
        concurrency: settings.concurrency,
        prefetch: settings.prefetch,
        cpu,
    })
}
