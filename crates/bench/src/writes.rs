//! Closed-loop write throughput: N clients each committing one transaction
//! after the other for the phase's duration.
//!
//! - raw: `BEGIN; INSERT business row; COMMIT` (the commit limit);
//! - outbox: `BEGIN; INSERT business row; Outbox::enqueue; COMMIT` through
//!   [`Outbox::begin`] (the relay is not running: pure write cost).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait};
use serde_json::{Value, json};
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::env::BenchEnv;
use crate::measure::{CpuSnapshot, Summary, rate, round1};
use crate::workload::{insert_order, order_placed};

/// What one closed-loop phase measured.
#[derive(Debug)]
pub struct WriteResult {
    pub per_second: f64,
    pub committed: u64,
    pub errors: u64,
    pub latency: Summary,
    pub cpu: Value,
}

impl WriteResult {
    pub fn to_json(&self) -> Value {
        json!({
            "per_s": round1(self.per_second),
            "committed_in_window": self.committed,
            "errors": self.errors,
            "txn_latency_ms": self.latency.to_json_ms(),
            "cpu": self.cpu,
        })
    }
}

/// Runs `transaction` from `clients` tasks for `warmup + window`, counting
/// only those that complete inside the window.
async fn closed_loop<F, Fut>(
    clients: usize,
    warmup: Duration,
    window: Duration,
    transaction: F,
) -> anyhow::Result<WriteResult>
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    let transaction = Arc::new(transaction);
    let started = Instant::now();
    let window_start = started + warmup;
    let window_end = window_start + window;
    let cpu_before = Arc::new(std::sync::Mutex::new(None::<CpuSnapshot>));
    let mut tasks = JoinSet::new();
    for client in 0..clients {
        let transaction = Arc::clone(&transaction);
        let cpu_before = Arc::clone(&cpu_before);
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0_u64;
            let mut last_error = None;
            let mut sequence = client as u64 * 1_000_000_000;
            loop {
                let begun = Instant::now();
                if begun >= window_end {
                    break;
                }
                if client == 0 && begun >= window_start {
                    let mut slot = cpu_before
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    if slot.is_none() {
                        *slot = Some(CpuSnapshot::take());
                    }
                }
                sequence += 1;
                let outcome = transaction(sequence).await;
                let finished = Instant::now();
                match outcome {
                    Ok(()) if finished >= window_start && finished < window_end => {
                        latencies.push(
                            i64::try_from(finished.duration_since(begun).as_micros())
                                .unwrap_or(i64::MAX),
                        );
                    }
                    Ok(()) => {}
                    Err(error) => {
                        errors += 1;
                        last_error = Some(format!("{error:#}"));
                    }
                }
            }
            (latencies, errors, last_error)
        });
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut last_error = None;
    while let Some(joined) = tasks.join_next().await {
        let (client_latencies, client_errors, client_last_error) = joined?;
        latencies.extend(client_latencies);
        errors += client_errors;
        last_error = client_last_error.or(last_error);
    }
    let cpu_after = CpuSnapshot::take();
    if let Some(error) = &last_error {
        crate::progress!("{errors} transaction(s) failed; last error: {error}");
    }
    let committed = latencies.len() as u64;
    let cpu = cpu_before
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take()
        .map_or(Value::Null, |before| cpu_after.since(&before, committed));
    if committed == 0 {
        anyhow::bail!(
            "no transaction committed in the window{}",
            last_error
                .map(|error| format!(": {error}"))
                .unwrap_or_default()
        );
    }
    Ok(WriteResult {
        per_second: rate(committed, window),
        committed,
        errors,
        latency: Summary::of(latencies),
        cpu,
    })
}

/// Plain single-row INSERT transactions: the commit limit.
pub async fn raw_inserts(
    env: &BenchEnv,
    clients: usize,
    warmup: Duration,
    window: Duration,
) -> anyhow::Result<WriteResult> {
    let db: DatabaseConnection = env.clients_db.clone();
    let table = env.business_table.clone();
    closed_loop(clients, warmup, window, move |sequence| {
        let db = db.clone();
        let table = table.clone();
        async move {
            let transaction = db.begin().await?;
            transaction
                .execute_raw(insert_order(&table, Uuid::now_v7(), sequence))
                .await?;
            transaction.commit().await?;
            Ok(())
        }
    })
    .await
}

/// The business row plus its event in one transaction, as a service writes.
pub async fn outbox_enqueues(
    env: &BenchEnv,
    clients: usize,
    warmup: Duration,
    window: Duration,
) -> anyhow::Result<WriteResult> {
    let db: DatabaseConnection = env.clients_db.clone();
    let table = env.business_table.clone();
    let outbox = env.outbox.clone();
    closed_loop(clients, warmup, window, move |sequence| {
        let db = db.clone();
        let table = table.clone();
        let outbox = outbox.clone();
        async move {
            let order_id = Uuid::now_v7();
            let transaction = outbox.begin(&db).await?;
            transaction
                .execute_raw(insert_order(&table, order_id, sequence))
                .await?;
            let (payload, metadata) = order_placed(order_id, sequence);
            transaction.enqueue(&payload, metadata).await?;
            transaction.commit().await?;
            Ok(())
        }
    })
    .await
}
