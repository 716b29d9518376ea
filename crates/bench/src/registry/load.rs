//! The RPC phases: N callers in a closed loop (capacity), then an open loop
//! at a fraction of it (latency), round-robin over the registered schemas.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ecommerce_proto::ecommerce::registry::v1 as registry_pb;
use registry_pb::schema_registry_service_client::SchemaRegistryServiceClient;
use sea_orm::DatabaseConnection;
use serde_json::{Value, json};
use tokio::task::JoinSet;
use tonic::transport::Channel;

use crate::measure::{self, CpuSnapshot, Summary, rate, round1};
use crate::progress;

pub type Client = SchemaRegistryServiceClient<Channel>;

/// The CPU group of the registry process (its command, as `/proc` has it:
/// at most 15 bytes, which `schema-registry` just fits).
pub const REGISTRY_GROUP: &str = "schema-registry";
/// The CPU group of the run's Postgres backends: the registry's pool (and
/// the benchmark's idle admin pool), both tagged with the run's schema.
pub const POSTGRES_GROUP: &str = "postgres";

/// One event schema as registered: the request that registers it again and
/// the id the registry gave it.
#[derive(Clone, Debug)]
pub struct Registered {
    pub request: registry_pb::RegisterSchemaRequest,
    pub id: i64,
}

/// The call a phase makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rpc {
    /// RegisterSchema of a schema that is registered already (what every
    /// producer does at start-up): idempotent, answers the existing id.
    RegisterExisting,
    /// GetSchema by id (what a dynamic consumer does on a cache miss).
    GetSchema,
}

impl Rpc {
    pub const fn name(self) -> &'static str {
        match self {
            Self::RegisterExisting => "RegisterSchema (existing)",
            Self::GetSchema => "GetSchema",
        }
    }
}

/// A phase's call over the registered schemas.
#[derive(Clone, Debug)]
pub struct Workload {
    pub rpc: Rpc,
    pub schemas: Arc<Vec<Registered>>,
}

impl Workload {
    /// Call number `sequence`, on schema `sequence mod schemas`; checks the
    /// answer names the schema asked for.
    async fn call(&self, mut client: Client, sequence: u64) -> Result<(), String> {
        let index = (sequence % self.schemas.len().max(1) as u64) as usize;
        let Some(schema) = self.schemas.get(index) else {
            return Err("no schema registered".to_owned());
        };
        let answered = match self.rpc {
            Rpc::RegisterExisting => client
                .register_schema(schema.request.clone())
                .await
                .map(|response| response.into_inner().schema),
            Rpc::GetSchema => client
                .get_schema(registry_pb::GetSchemaRequest { id: schema.id })
                .await
                .map(|response| response.into_inner().schema),
        };
        let answered = answered.map_err(|status| {
            format!(
                "{} of {}: {:?} {}",
                self.rpc.name(),
                schema.request.subject,
                status.code(),
                status.message()
            )
        })?;
        match answered {
            Some(answer) if answer.id == schema.id => Ok(()),
            Some(answer) => Err(format!(
                "{} of {} answered id {}, not {}",
                self.rpc.name(),
                schema.request.subject,
                answer.id,
                schema.id
            )),
            None => Err(format!(
                "{} of {} answered no schema",
                self.rpc.name(),
                schema.request.subject
            )),
        }
    }
}

/// The measured part of a phase: after the warmup, for the duration.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub start: Instant,
    pub end: Instant,
}

impl Window {
    pub fn after(warmup: Duration, length: Duration) -> Self {
        let start = Instant::now() + warmup;
        Self {
            start,
            end: start + length,
        }
    }

    fn contains(&self, at: Instant) -> bool {
        at >= self.start && at < self.end
    }

    fn length(&self) -> Duration {
        self.end.saturating_duration_since(self.start)
    }
}

/// CPU used by the process groups during a window.
#[derive(Clone, Debug, Default)]
pub struct PhaseCpu {
    pub registry_cores: f64,
    pub postgres_cores: f64,
    pub bench_cores: f64,
    pub other_cores: f64,
    /// Every group, cores and CPU ms per 1000 calls ([`CpuSnapshot::since`]).
    pub details: Value,
}

impl PhaseCpu {
    fn between(before: &CpuSnapshot, after: &CpuSnapshot, calls: u64) -> Self {
        Self {
            registry_cores: after.group_cores_since(before, REGISTRY_GROUP),
            postgres_cores: after.group_cores_since(before, POSTGRES_GROUP),
            bench_cores: after.group_cores_since(before, "bench"),
            other_cores: after.group_cores_since(before, "other"),
            details: after.since(before, calls),
        }
    }

    /// CPU milliseconds of `group` per call.
    pub fn ms_per_call(&self, group: &str) -> f64 {
        self.details["cpu_ms_per_1000_ops"][group]
            .as_f64()
            .unwrap_or(0.0)
            / 1000.0
    }
}

/// Where the CPU sampler tells the run's Postgres backends from the others.
#[derive(Clone, Debug)]
pub struct CpuProbe {
    pub db: DatabaseConnection,
    pub schema: String,
}

impl CpuProbe {
    /// Takes a CPU snapshot at the window's start and end (the Postgres
    /// backends classified just before the first: the registry's pool has
    /// grown to its working size during the warmup).
    fn sample(&self, window: Window) -> tokio::task::JoinHandle<anyhow::Result<CpuWindow>> {
        let probe = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(window.start.into()).await;
            measure::classify_postgres_backends(&probe.db, &probe.schema).await?;
            let before = CpuSnapshot::take();
            tokio::time::sleep_until(window.end.into()).await;
            let after = CpuSnapshot::take();
            Ok(CpuWindow { before, after })
        })
    }
}

struct CpuWindow {
    before: CpuSnapshot,
    after: CpuSnapshot,
}

/// Errors of a phase: how many, and the last one's text.
#[derive(Clone, Debug, Default)]
pub struct Errors {
    pub count: u64,
    pub last: Option<String>,
}

impl Errors {
    fn add(&mut self, error: String) {
        self.count += 1;
        self.last = Some(error);
    }

    fn merge(&mut self, other: Self) {
        self.count += other.count;
        if other.last.is_some() {
            self.last = other.last;
        }
    }
}

/// The closed loop's outcome.
#[derive(Clone, Debug)]
pub struct Capacity {
    pub clients: usize,
    /// Successful calls completed inside the window.
    pub calls: u64,
    pub per_second: f64,
    /// Call latency of those calls.
    pub latency: Summary,
    /// Failed calls (any time during the phase).
    pub errors: Errors,
    pub cpu: PhaseCpu,
}

impl Capacity {
    pub fn to_json(&self) -> Value {
        json!({
            "clients": self.clients,
            "calls": self.calls,
            "calls_per_s": round1(self.per_second),
            "latency_ms": self.latency.to_json_ms(),
            "errors": self.errors.count,
            "last_error": self.errors.last,
            "cpu": self.cpu.details,
        })
    }
}

/// Every caller in a loop: call, wait for the answer, call again, until the
/// window ends; caller `k` takes calls `k, k + N, k + 2N, ...`.
pub async fn closed_loop(
    workload: &Workload,
    clients: &[Client],
    window: Window,
    probe: &CpuProbe,
) -> anyhow::Result<Capacity> {
    let sampler = probe.sample(window);
    let callers = clients.len() as u64;
    let mut tasks = JoinSet::new();
    for (caller, client) in clients.iter().enumerate() {
        let workload = workload.clone();
        let client = client.clone();
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = Errors::default();
            let mut sequence = caller as u64;
            while Instant::now() < window.end {
                let sent = Instant::now();
                let outcome = workload.call(client.clone(), sequence).await;
                let done = Instant::now();
                sequence += callers;
                match outcome {
                    Ok(()) => {
                        if window.contains(done) {
                            latencies.push(micros(done.duration_since(sent)));
                        }
                    }
                    Err(error) => {
                        errors.add(error);
                        // A failing registry must not turn into a hot spin.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
            (latencies, errors)
        });
    }
    let mut latencies = Vec::new();
    let mut errors = Errors::default();
    while let Some(joined) = tasks.join_next().await {
        let (caller_latencies, caller_errors) = joined?;
        latencies.extend(caller_latencies);
        errors.merge(caller_errors);
    }
    let calls = latencies.len() as u64;
    let cpu_window = sampler.await??;
    Ok(Capacity {
        clients: clients.len(),
        calls,
        per_second: rate(calls, window.length()),
        latency: Summary::of(latencies),
        errors,
        cpu: PhaseCpu::between(&cpu_window.before, &cpu_window.after, calls),
    })
}

/// The open loop's outcome.
#[derive(Clone, Debug)]
pub struct AtLoad {
    pub offered_per_second: f64,
    /// Successful calls completed inside the window, per second.
    pub achieved_per_second: f64,
    /// Calls due inside the window (the measured ones).
    pub measured: u64,
    /// From the instant a call was due to its answer: what a caller waits,
    /// queueing behind earlier calls included (no coordinated omission).
    pub latency: Summary,
    /// From the instant a call was sent to its answer.
    pub service_time: Summary,
    /// How late the dispatcher sent calls (this process' own delay).
    pub schedule_lag: Summary,
    pub errors: Errors,
    pub cpu: PhaseCpu,
}

impl AtLoad {
    /// The registry did not keep up with the offered load: latencies then
    /// measure a growing queue.
    pub fn overloaded(&self) -> bool {
        self.achieved_per_second < 0.9 * self.offered_per_second
    }

    pub fn to_json(&self) -> Value {
        json!({
            "offered_per_s": round1(self.offered_per_second),
            "achieved_per_s": round1(self.achieved_per_second),
            "overloaded": self.overloaded(),
            "measured_calls": self.measured,
            "latency_ms": self.latency.to_json_ms(),
            "service_time_ms": self.service_time.to_json_ms(),
            "schedule_lag_ms": self.schedule_lag.to_json_ms(),
            "errors": self.errors.count,
            "last_error": self.errors.last,
            "cpu": self.cpu.details,
        })
    }
}

/// One finished open-loop call.
struct Finished {
    due: Instant,
    sent: Instant,
    done: Instant,
    outcome: Result<(), String>,
}

/// Call `k` is due at `start + k / rate` and is sent then (spawned as a
/// task of its own), whether or not earlier calls were answered, on caller
/// `k mod N`'s client. Calls due
/// before the window are the warmup; those due inside it are measured.
pub async fn open_loop(
    workload: &Workload,
    clients: &[Client],
    per_second: f64,
    window: Window,
    probe: &CpuProbe,
) -> anyhow::Result<AtLoad> {
    if !(per_second.is_finite() && per_second > 0.0) {
        anyhow::bail!("the open loop needs a positive rate, not {per_second}");
    }
    let sampler = probe.sample(window);
    // The dispatcher sleeps on a thread of its own: tokio's timer wheel
    // rounds every wake-up up to the next millisecond, which would make
    // calls late by up to 1 ms (half the GetSchema target); a thread's
    // nanosleep wakes within tens of microseconds.
    let runtime = tokio::runtime::Handle::current();
    let workload = workload.clone();
    let clients = clients.to_vec();
    // A blocking task cannot be cancelled: should this future be dropped
    // (an interrupted run), the guard tells the dispatcher to stop.
    let stop = StopOnDrop::default();
    let stopped = Arc::clone(&stop.0);
    let calls = tokio::task::spawn_blocking(move || {
        let start = Instant::now();
        let mut calls = Vec::new();
        for sequence in 0_u64.. {
            let due = start + Duration::from_secs_f64(sequence as f64 / per_second);
            if due >= window.end || stopped.load(Ordering::Relaxed) {
                break;
            }
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            let workload = workload.clone();
            let client = clients[(sequence % clients.len() as u64) as usize].clone();
            calls.push(runtime.spawn(async move {
                let sent = Instant::now();
                let outcome = workload.call(client, sequence).await;
                Finished {
                    due,
                    sent,
                    done: Instant::now(),
                    outcome,
                }
            }));
        }
        calls
    })
    .await?;
    let mut finished = Vec::with_capacity(calls.len());
    for call in calls {
        finished.push(call.await?);
    }
    let mut latency = Vec::new();
    let mut service_time = Vec::new();
    let mut schedule_lag = Vec::new();
    let mut errors = Errors::default();
    let mut completed_in_window = 0_u64;
    let mut measured = 0_u64;
    for call in finished {
        let succeeded = call.outcome.is_ok();
        if let Err(error) = call.outcome {
            errors.add(error);
        }
        if succeeded && window.contains(call.done) {
            completed_in_window += 1;
        }
        if !window.contains(call.due) {
            continue;
        }
        measured += 1;
        if succeeded {
            latency.push(micros(call.done.duration_since(call.due)));
            service_time.push(micros(call.done.duration_since(call.sent)));
        }
        schedule_lag.push(micros(call.sent.saturating_duration_since(call.due)));
    }
    let cpu_window = sampler.await??;
    if errors.count > 0 {
        progress!(
            "  {} call(s) failed; last error: {}",
            errors.count,
            errors.last.as_deref().unwrap_or("?")
        );
    }
    Ok(AtLoad {
        offered_per_second: per_second,
        achieved_per_second: rate(completed_in_window, window.length()),
        measured,
        latency: Summary::of(latency),
        service_time: Summary::of(service_time),
        schedule_lag: Summary::of(schedule_lag),
        errors,
        cpu: PhaseCpu::between(&cpu_window.before, &cpu_window.after, completed_in_window),
    })
}

/// Sets its flag when dropped.
#[derive(Default)]
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}
