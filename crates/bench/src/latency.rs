//! Latency under an open-loop load: a producer commits one event per
//! transaction on a fixed-rate schedule (the k-th event is due at
//! `start + k / rate`, whether or not earlier ones finished), the relays
//! publish them (woken in-process by each commit), and a consumer on one
//! bound queue acks and records when each message id arrived.
//!
//! Clocks:
//! - *commit instant*: read in this process right after `COMMIT` returned
//!   (the transaction is durable and visible from then on), from the
//!   monotonic clock anchored to wall time once ([`Clock`]);
//! - *published*: the row's `published_at`, written by the relay's
//!   mark-published UPDATE with Postgres' `clock_timestamp()` after the
//!   broker confirmed; compared with the commit instant moved onto the
//!   database clock by the measured offset (about zero on one host, where
//!   both read the same system clock);
//! - *handled*: read in this process when the consumer's handler runs, on
//!   the same clock as the commit instant: no offset involved.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ecommerce_broker::{Delivery, HandlerOutcome};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::env::{BenchEnv, PATIENCE};
use crate::measure::{Clock, CpuSnapshot, Summary, db_clock_offset_us, rate, round1};
use crate::progress;
use crate::relay::{BatchStats, RunningRelays};
use crate::workload::{insert_order, order_placed};

#[derive(Debug)]
pub struct LatencyResult {
    /// What the offered load is a fraction of.
    pub basis: String,
    pub offered_per_second: f64,
    pub achieved_per_second: f64,
    pub produced: u64,
    pub measured: u64,
    pub errors: u64,
    pub commit_to_published: Summary,
    pub commit_to_handled: Summary,
    /// `published_at - created_at` of the row, both `clock_timestamp()` on
    /// the database: an upper bound of commit -> published free of client
    /// scheduling (it includes the producer's INSERT-to-COMMIT time).
    pub insert_to_published: Summary,
    /// Commit -> published samples below zero: the commit instant was read
    /// late (a starved client task), a sign of an overloaded machine.
    pub negative_samples: u64,
    pub schedule_lag: Summary,
    pub begin_wait: Summary,
    pub transaction: Summary,
    pub unhandled: u64,
    pub clock_offset_us: i64,
    pub clock_round_trip_us: i64,
    pub batches: BatchStats,
    pub cpu: Value,
}

impl LatencyResult {
    /// The machine did not commit the offered load in time: latencies then
    /// measure a growing queue, not the relay.
    pub fn overloaded(&self) -> bool {
        self.achieved_per_second < 0.9 * self.offered_per_second
    }

    pub fn to_json(&self) -> Value {
        json!({
            "basis": self.basis,
            "overloaded": self.overloaded(),
            "offered_load_per_s": round1(self.offered_per_second),
            "achieved_load_per_s": round1(self.achieved_per_second),
            "produced": self.produced,
            "measured": self.measured,
            "errors": self.errors,
            "unhandled": self.unhandled,
            "commit_to_published_ms": self.commit_to_published.to_json_ms(),
            "commit_to_handled_ms": self.commit_to_handled.to_json_ms(),
            "insert_to_published_db_clock_ms": self.insert_to_published.to_json_ms(),
            "negative_commit_to_published_samples": self.negative_samples,
            "schedule_lag_ms": self.schedule_lag.to_json_ms(),
            "producer_begin_wait_ms": self.begin_wait.to_json_ms(),
            "producer_txn_ms": self.transaction.to_json_ms(),
            "db_clock_offset_us": self.clock_offset_us,
            "db_clock_round_trip_us": self.clock_round_trip_us,
            "relay_stages": self.batches.to_json(),
            "cpu": self.cpu,
        })
    }
}

/// One event the producer committed.
#[derive(Clone, Copy, Debug)]
struct Produced {
    id: Uuid,
    due: Instant,
    began: Instant,
    /// `BEGIN` done: a pooled connection was free.
    acquired: Instant,
    committed: Instant,
}

type Seen = Arc<Mutex<Vec<(Uuid, i64)>>>;

pub struct LatencyPlan {
    pub basis: String,
    pub offered_per_second: f64,
    pub duration: Duration,
    pub warmup: Duration,
    pub relays: usize,
    pub settings: ecommerce_outbox::RelaySettings,
    /// The consumer's concurrency; `None` keeps the broker's settings.
    pub consumer_concurrency: Option<usize>,
}

pub async fn run(
    env: &BenchEnv,
    plan: &LatencyPlan,
    clock: &Clock,
) -> anyhow::Result<LatencyResult> {
    // The published rows of the earlier phases stay, as a service's
    // retained history does; vacuumed and analyzed as autovacuum would.
    env.vacuum_outbox().await?;
    env.purge_queues().await?;
    let (clock_offset_us, clock_round_trip_us) = db_clock_offset_us(&env.admin_db, clock).await?;

    // The consumer: the broker crate's runtime with its default settings.
    let seen: Seen = Arc::new(Mutex::new(Vec::new()));
    let (stop_consumer, consumer_stopped) = watch::channel(false);
    let mut consumer = env.broker.consumer();
    if let Some(concurrency) = plan.consumer_concurrency {
        let settings = ecommerce_broker::ConsumerSettings {
            concurrency,
            ..*consumer.settings()
        };
        consumer = consumer.with_settings(settings);
    }
    let queue = env.recorded_queue.clone();
    let handler_seen = Arc::clone(&seen);
    let handler_clock = *clock;
    let consumer_task = tokio::spawn(async move {
        let handler = move |delivery: Delivery| {
            let at = handler_clock.now_us();
            let seen = Arc::clone(&handler_seen);
            async move {
                if let Ok(id) = Uuid::parse_str(&delivery.properties.message_id) {
                    seen.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push((id, at));
                }
                HandlerOutcome::Ack
            }
        };
        let mut stopped = consumer_stopped;
        consumer
            .run(&queue, handler, async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            })
            .await
    });
    wait_for_consumer(env).await?;

    // The other bound queue has no consumer here: purge it as it fills.
    let (stop_purging, mut purging_stopped) = watch::channel(false);
    let purge_queue = env.other_queue.clone();
    let purger = {
        let session = env.amqp("purger").await?;
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = purging_stopped.wait_for(|stop| *stop) => break,
                    () = tokio::time::sleep(Duration::from_millis(500)) => {}
                }
                let _ = session
                    .channel
                    .queue_purge(purge_queue.as_str().into(), Default::default())
                    .await;
            }
            session.close().await;
        })
    };

    let relays = RunningRelays::start(env, plan.relays, &plan.settings);
    // Let the relays finish their first (empty) claim.
    tokio::time::sleep(Duration::from_millis(100)).await;

    progress!(
        "  open-loop producer: {:.0} events/s for {:.1} s (first {:.1} s not measured)",
        plan.offered_per_second,
        plan.duration.as_secs_f64(),
        plan.warmup.as_secs_f64()
    );
    env.classify_backends().await?;
    let cpu_before = CpuSnapshot::take();
    let (produced, errors) = produce(env, plan).await?;
    let produced_count = produced.len() as u64;

    // Everything committed must be published and handled.
    relays.wait_until_drained(produced_count, PATIENCE).await?;
    let cpu = CpuSnapshot::take().since(&cpu_before, produced_count);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let handled = seen.lock().unwrap_or_else(PoisonError::into_inner).len() as u64;
        if handled >= produced_count || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop_consumer.send_replace(true);
    match consumer_task.await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => progress!("consumer ended with an error: {error}"),
        Err(error) => progress!("consumer task failed: {error}"),
    }
    stop_purging.send_replace(true);
    let _ = purger.await;
    let batches = relays.stop().await;
    env.purge_queues().await?;

    let published = published_at_by_id(env).await?;
    let handled: HashMap<Uuid, i64> = {
        let seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
        let mut first_seen = HashMap::with_capacity(seen.len());
        for (id, at) in seen.iter() {
            first_seen.entry(*id).or_insert(*at);
        }
        first_seen
    };

    let Some(first_due) = produced.iter().map(|event| event.due).min() else {
        anyhow::bail!("nothing produced");
    };
    let window_start = first_due + plan.warmup;
    let window_end = first_due + plan.duration;
    let mut to_published = Vec::new();
    let mut insert_to_published = Vec::new();
    let mut to_handled = Vec::new();
    let mut schedule_lag = Vec::new();
    let mut begin_wait = Vec::new();
    let mut transaction = Vec::new();
    let mut unhandled = 0_u64;
    let mut measured = 0_u64;
    let mut committed_in_window = 0_u64;
    let mut negative_samples = 0_u64;
    for event in &produced {
        if event.committed >= window_start && event.committed < window_end {
            committed_in_window += 1;
        }
        if event.due < window_start {
            continue;
        }
        measured += 1;
        let committed_us = clock.at_us(event.committed);
        if let Some((published_us, created_us)) = published.get(&event.id) {
            let sample = published_us - (committed_us + clock_offset_us);
            if sample < 0 {
                negative_samples += 1;
            }
            to_published.push(sample);
            insert_to_published.push(published_us - created_us);
        }
        match handled.get(&event.id) {
            Some(handled_us) => to_handled.push(handled_us - committed_us),
            None => unhandled += 1,
        }
        schedule_lag.push(micros(event.began.saturating_duration_since(event.due)));
        begin_wait.push(micros(event.acquired.duration_since(event.began)));
        transaction.push(micros(event.committed.duration_since(event.acquired)));
    }
    let window = plan.duration.saturating_sub(plan.warmup);
    Ok(LatencyResult {
        basis: plan.basis.clone(),
        offered_per_second: plan.offered_per_second,
        achieved_per_second: rate(committed_in_window, window),
        produced: produced_count,
        measured,
        errors,
        commit_to_published: Summary::of(to_published),
        commit_to_handled: Summary::of(to_handled),
        insert_to_published: Summary::of(insert_to_published),
        negative_samples,
        schedule_lag: Summary::of(schedule_lag),
        begin_wait: Summary::of(begin_wait),
        transaction: Summary::of(transaction),
        unhandled,
        clock_offset_us,
        clock_round_trip_us,
        batches,
        cpu,
    })
}

fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

/// Waits until the broker reports the consumer on the recorded queue.
async fn wait_for_consumer(env: &BenchEnv) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, consumers) = env.queue_state(&env.recorded_queue).await?;
        if consumers > 0 {
            return Ok(());
        }
        if Instant::now() >= deadline {
            anyhow::bail!("the consumer did not start within 10 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The open-loop producer. Returns the committed events and the number of
/// failed transactions.
async fn produce(env: &BenchEnv, plan: &LatencyPlan) -> anyhow::Result<(Vec<Produced>, u64)> {
    let start = Instant::now() + Duration::from_millis(20);
    let end = start + plan.duration;
    let mut tasks: JoinSet<anyhow::Result<Produced>> = JoinSet::new();
    let mut produced = Vec::new();
    let mut errors = 0_u64;
    let mut last_error = None;
    let mut collect =
        |joined: Result<anyhow::Result<Produced>, tokio::task::JoinError>| match joined {
            Ok(Ok(event)) => produced.push(event),
            Ok(Err(error)) => {
                errors += 1;
                last_error = Some(format!("{error:#}"));
            }
            Err(error) => {
                errors += 1;
                last_error = Some(error.to_string());
            }
        };
    for sequence in 0_u64.. {
        let due = start + Duration::from_secs_f64(sequence as f64 / plan.offered_per_second);
        if due >= end {
            break;
        }
        if due > Instant::now() {
            tokio::time::sleep_until(due.into()).await;
        }
        let db = env.clients_db.clone();
        let outbox = env.outbox.clone();
        let table = env.business_table.clone();
        tasks.spawn(async move {
            let began = Instant::now();
            let order_id = Uuid::now_v7();
            let (payload, metadata) = order_placed(order_id, sequence);
            // As a service writes: its commit wakes this process's relays.
            let transaction = outbox.begin(&db).await?;
            let acquired = Instant::now();
            transaction
                .execute_raw(insert_order(&table, order_id, sequence))
                .await?;
            let id = transaction.enqueue(&payload, metadata).await?;
            transaction.commit().await?;
            Ok(Produced {
                id,
                due,
                began,
                acquired,
                committed: Instant::now(),
            })
        });
        while let Some(joined) = tasks.try_join_next() {
            collect(joined);
        }
    }
    while let Some(joined) = tasks.join_next().await {
        collect(joined);
    }
    if let Some(error) = last_error {
        progress!("  {errors} producer transaction(s) failed; last error: {error}");
    }
    if produced.is_empty() {
        anyhow::bail!("the producer committed nothing");
    }
    Ok((produced, errors))
}

async fn published_at_by_id(env: &BenchEnv) -> anyhow::Result<HashMap<Uuid, (i64, i64)>> {
    let rows = env
        .admin_db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT id, (EXTRACT(EPOCH FROM published_at) * 1000000)::int8 AS published_us, \
                 (EXTRACT(EPOCH FROM created_at) * 1000000)::int8 AS created_us \
                 FROM {} WHERE status = 'published'",
                env.outbox_sql_name()
            ),
        ))
        .await?;
    let mut published = HashMap::with_capacity(rows.len());
    for row in rows {
        let id: Uuid = row.try_get("", "id")?;
        let published_us: i64 = row.try_get("", "published_us")?;
        let created_us: i64 = row.try_get("", "created_us")?;
        published.insert(id, (published_us, created_us));
    }
    Ok(published)
}
