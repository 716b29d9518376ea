//! The readable table and the JSON line.

use serde_json::{Value, json};

use crate::args::RelayArgs;
use crate::latency::LatencyResult;
use crate::measure::{Summary, round1, round3};
use crate::publish::PublishResult;
use crate::relay::{ConsumerDrainResult, DrainResult};
use crate::writes::WriteResult;

/// Targets of the relay (from the benchmark's brief).
pub const TARGET_RELAY_EVENTS_PER_S: f64 = 8_000.0;
pub const TARGET_RELAY_RATIO: f64 = 0.5;
pub const TARGET_COMMIT_TO_PUBLISHED_P99_MS: f64 = 5.0;
pub const TARGET_COMMIT_TO_HANDLED_P99_MS: f64 = 30.0;

pub struct Report {
    pub args: RelayArgs,
    pub schema: String,
    pub raw_inserts: WriteResult,
    pub enqueues: WriteResult,
    pub raw_publish: PublishResult,
    pub publisher_only: PublishResult,
    pub drain: DrainResult,
    pub consumer_drain: ConsumerDrainResult,
    pub latency: LatencyResult,
    /// The same measurement at lower loads: the brief's fraction of the
    /// machine's real bottleneck when that is the write path rather than
    /// the relay, and a low load (the floor).
    pub lower_loads: Vec<LatencyResult>,
    /// The same measurement at higher loads (the write-capacity load when
    /// the relay, not the write path, is the bottleneck), lowest first.
    pub higher_loads: Vec<LatencyResult>,
    /// Which run measured the load fraction of the write capacity.
    pub write_load: WriteLoad,
    /// Cores other processes used just before the run.
    pub background_cores: f64,
}

/// The latency at the load fraction of the measured write capacity
/// (outbox enqueue transactions/s): which run measured it.
pub struct WriteLoad {
    pub fraction: f64,
    pub capacity_per_second: f64,
    /// The run's basis (the brief's own when both loads are within 5 %).
    pub basis: String,
}

fn ratio(value: f64, baseline: f64) -> f64 {
    if baseline > 0.0 {
        value / baseline
    } else {
        0.0
    }
}

fn cores() -> usize {
    crate::measure::machine_cores()
}

/// The two latency targets for one latency run.
fn latency_targets(latency: &LatencyResult) -> (bool, bool) {
    let published_p99 = latency.commit_to_published.p99_us as f64 / 1000.0;
    let handled_p99 = latency.commit_to_handled.p99_us as f64 / 1000.0;
    (
        latency.commit_to_published.count > 0 && published_p99 <= TARGET_COMMIT_TO_PUBLISHED_P99_MS,
        latency.commit_to_handled.count > 0 && handled_p99 <= TARGET_COMMIT_TO_HANDLED_P99_MS,
    )
}

fn latency_headline(latency: &LatencyResult) -> Value {
    let (published_met, handled_met) = latency_targets(latency);
    json!({
        "basis": latency.basis,
        "overloaded": latency.overloaded(),
        "offered_load_per_s": round1(latency.offered_per_second),
        "achieved_load_per_s": round1(latency.achieved_per_second),
        "commit_to_published_p50_ms": round3(latency.commit_to_published.p50_us as f64 / 1000.0),
        "commit_to_published_p99_ms": round3(latency.commit_to_published.p99_us as f64 / 1000.0),
        "commit_to_handled_p50_ms": round3(latency.commit_to_handled.p50_us as f64 / 1000.0),
        "commit_to_handled_p99_ms": round3(latency.commit_to_handled.p99_us as f64 / 1000.0),
        "targets_met": {
            "commit_to_published_p99_le_5ms": published_met,
            "commit_to_handled_p99_le_30ms": handled_met,
        },
        "details": latency.to_json(),
    })
}

impl Report {
    /// The run at the write-capacity load.
    fn write_load_run(&self) -> &LatencyResult {
        std::iter::once(&self.latency)
            .chain(&self.lower_loads)
            .chain(&self.higher_loads)
            .find(|run| run.basis == self.write_load.basis)
            .unwrap_or(&self.latency)
    }

    fn write_load_json(&self) -> Value {
        let run = self.write_load_run();
        let (published_met, handled_met) = latency_targets(run);
        json!({
            "load_fraction": self.write_load.fraction,
            "outbox_enqueue_txn_per_s": round1(self.write_load.capacity_per_second),
            "basis": run.basis,
            "same_run_as_brief_load": run.basis == self.latency.basis,
            "overloaded": run.overloaded(),
            "offered_load_per_s": round1(run.offered_per_second),
            "achieved_load_per_s": round1(run.achieved_per_second),
            "commit_to_published_p50_ms": round3(run.commit_to_published.p50_us as f64 / 1000.0),
            "commit_to_published_p99_ms": round3(run.commit_to_published.p99_us as f64 / 1000.0),
            "commit_to_handled_p50_ms": round3(run.commit_to_handled.p50_us as f64 / 1000.0),
            "commit_to_handled_p99_ms": round3(run.commit_to_handled.p99_us as f64 / 1000.0),
            "targets_met": {
                "commit_to_published_p99_le_5ms": published_met,
                "commit_to_handled_p99_le_30ms": handled_met,
            },
        })
    }

    fn enqueue_ratio(&self) -> f64 {
        ratio(self.enqueues.per_second, self.raw_inserts.per_second)
    }

    fn relay_ratio(&self) -> f64 {
        ratio(self.drain.per_second, self.raw_publish.per_second)
    }

    fn p99_ms(summary: &Summary) -> f64 {
        summary.p99_us as f64 / 1000.0
    }

    pub fn to_json(&self) -> Value {
        let latency = &self.latency;
        let published_p99 = Self::p99_ms(&latency.commit_to_published);
        let handled_p99 = Self::p99_ms(&latency.commit_to_handled);
        let (published_met, handled_met) = latency_targets(latency);
        let targets = json!({
            "relay_events_per_s_ge_8000": self.drain.per_second >= TARGET_RELAY_EVENTS_PER_S,
            "relay_ratio_ge_0_5": self.relay_ratio() >= TARGET_RELAY_RATIO,
            "commit_to_published_p99_le_5ms": published_met,
            "commit_to_handled_p99_le_30ms": handled_met,
        });
        let all_met = targets
            .as_object()
            .is_some_and(|targets| targets.values().all(|met| met.as_bool() == Some(true)));
        let mut targets = targets;
        if let Some(object) = targets.as_object_mut() {
            object.insert("all".to_owned(), json!(all_met));
        }
        let mut report = json!({
            "bench": "relay",
            "run_id": self.args.run_id,
            "quick": self.args.quick,
            "machine_cores": cores(),
            "clients": self.args.clients,
            "batch_size": self.args.batch_size,
            "poll_interval_ms": self.args.poll_interval.as_millis() as u64,
            "events": self.args.events,
            "relays": self.args.relays,
            "consumer_concurrency": self.args.consumer_concurrency,
            "background_cpu_cores_before_run": round3(self.background_cores),
            "duration_s": round3(self.args.duration.as_secs_f64()),
            "warmup_s": round3(self.args.warmup().as_secs_f64()),
            "raw_insert_commits_per_s": round1(self.raw_inserts.per_second),
            "outbox_enqueue_txn_per_s": round1(self.enqueues.per_second),
            "outbox_enqueue_ratio": round3(self.enqueue_ratio()),
            "raw_confirmed_publish_per_s": round1(self.raw_publish.per_second),
            "publisher_only_per_s": round1(self.publisher_only.per_second),
            "relay_events_per_s": round1(self.drain.per_second),
            "relay_ratio": round3(self.relay_ratio()),
            "consumer_drain_per_s": round1(self.consumer_drain.per_second),
            "offered_load_per_s": round1(latency.offered_per_second),
            "achieved_load_per_s": round1(latency.achieved_per_second),
            "latency_overloaded": latency.overloaded(),
            "commit_to_published_p50_ms": round3(latency.commit_to_published.p50_us as f64 / 1000.0),
            "commit_to_published_p99_ms": round3(published_p99),
            "commit_to_handled_p50_ms": round3(latency.commit_to_handled.p50_us as f64 / 1000.0),
            "commit_to_handled_p99_ms": round3(handled_p99),
            "targets_met": targets,
            "latency_at_lower_loads": self.lower_loads.iter().map(latency_headline).collect::<Vec<_>>(),
            "latency_at_higher_loads": self.higher_loads.iter().map(latency_headline).collect::<Vec<_>>(),
            "phases": {
                "raw_insert": self.raw_inserts.to_json(),
                "outbox_enqueue": self.enqueues.to_json(),
                "raw_confirmed_publish": self.raw_publish.to_json(),
                "publisher_only": self.publisher_only.to_json(),
                "relay_drain": self.drain.to_json(),
                "consumer_drain": self.consumer_drain.to_json(),
                "latency": latency.to_json(),
            },
            "method": method(),
            "schema": self.schema,
        });
        let write_run = self.write_load_run();
        if let Some(object) = report.as_object_mut() {
            for (key, value) in [
                (
                    "write_load_per_s",
                    json!(round1(write_run.offered_per_second)),
                ),
                (
                    "write_load_commit_to_handled_p99_ms",
                    json!(round3(Self::p99_ms(&write_run.commit_to_handled))),
                ),
                ("write_load_overloaded", json!(write_run.overloaded())),
                ("latency_at_write_load", self.write_load_json()),
            ] {
                object.insert(key.to_owned(), value);
            }
        }
        report
    }

    pub fn print(&self) {
        let json = self.to_json();
        let latency = &self.latency;
        let line = |name: &str, value: String, note: String| {
            println!("  {name:<34} {value:>14}  {note}");
        };
        println!();
        println!(
            "relay-bench  run {}  ({} cores, {} clients, batch {}, {} events, {} relay(s), {:.1} s phases{})",
            self.args.run_id,
            cores(),
            self.args.clients,
            self.args.batch_size,
            self.args.events,
            self.args.relays,
            self.args.duration.as_secs_f64(),
            if self.args.quick { ", quick" } else { "" }
        );
        println!();
        println!("  {:<34} {:>14}  note", "measurement", "value");
        println!("  {}", "-".repeat(92));
        line(
            "raw insert commits/s",
            format!("{:.0}", self.raw_inserts.per_second),
            format!(
                "commit limit; txn p50 {:.2} ms p99 {:.2} ms",
                self.raw_inserts.latency.p50_us as f64 / 1000.0,
                Self::p99_ms(&self.raw_inserts.latency)
            ),
        );
        line(
            "outbox enqueue txn/s",
            format!("{:.0}", self.enqueues.per_second),
            format!(
                "ratio {:.2} to raw; txn p50 {:.2} ms p99 {:.2} ms",
                self.enqueue_ratio(),
                self.enqueues.latency.p50_us as f64 / 1000.0,
                Self::p99_ms(&self.enqueues.latency)
            ),
        );
        line(
            "raw confirmed publish msg/s",
            format!("{:.0}", self.raw_publish.per_second),
            format!(
                "broker limit; lapin, {} channel(s), windows of {}",
                self.raw_publish.channels, self.args.batch_size
            ),
        );
        line(
            "broker-crate publisher msg/s",
            format!("{:.0}", self.publisher_only.per_second),
            format!(
                "ratio {:.2} to raw; no database",
                ratio(self.publisher_only.per_second, self.raw_publish.per_second)
            ),
        );
        let stages = &self.drain.batches;
        line(
            "relay events/s",
            format!("{:.0}", self.drain.per_second),
            format!(
                "ratio {:.2} to raw publish; {} rows in {:.2} s",
                self.relay_ratio(),
                self.drain.events,
                self.drain.seconds
            ),
        );
        line(
            "  relay stages per batch",
            format!("{:.1} rows", mean(stages.messages, stages.batches)),
            format!(
                "publish {:.2} ms, database between batches {:.2} ms",
                millis_per(stages.publish, stages.batches),
                millis_per(stages.between, stages.between_gaps)
            ),
        );
        line(
            "consumer runtime msg/s",
            format!("{:.0}", self.consumer_drain.per_second),
            format!(
                "broker crate consumer, no-op handler, concurrency {}, prefetch {}",
                self.consumer_drain.concurrency, self.consumer_drain.prefetch
            ),
        );
        println!("  {}", "-".repeat(92));
        print_latency(&line, latency);
        if self.enqueues.per_second < self.drain.per_second && !self.lower_loads.is_empty() {
            println!(
                "  note: this machine commits fewer outbox transactions ({:.0}/s) than the relay publishes: \
                 the write path is the bottleneck",
                self.enqueues.per_second
            );
        }
        for lower in self.higher_loads.iter().chain(&self.lower_loads) {
            println!("  {}", "-".repeat(92));
            print_latency(&line, lower);
            let (published_met, handled_met) = latency_targets(lower);
            println!(
                "    at this load: commit->published p99 <= 5 ms {}, commit->handled p99 <= 30 ms {}",
                if published_met { "met" } else { "MISSED" },
                if handled_met { "met" } else { "MISSED" }
            );
        }
        println!("  {}", "-".repeat(92));
        let write_run = self.write_load_run();
        line(
            "commit -> handled p99 at write load",
            format!("{:.2} ms", Self::p99_ms(&write_run.commit_to_handled)),
            format!(
                "{} x {:.0} outbox txn/s = {:.0} events/s{}; commit -> published p99 {:.2} ms{}",
                self.write_load.fraction,
                self.write_load.capacity_per_second,
                write_run.offered_per_second,
                if write_run.basis == self.latency.basis {
                    " (the brief's run)"
                } else {
                    ""
                },
                Self::p99_ms(&write_run.commit_to_published),
                if write_run.overloaded() {
                    " OVERLOADED"
                } else {
                    ""
                }
            ),
        );
        println!();
        println!("  targets");
        if let Some(targets) = json.get("targets_met").and_then(Value::as_object) {
            for (name, description) in [
                ("relay_events_per_s_ge_8000", "relay >= 8000 events/s"),
                ("relay_ratio_ge_0_5", "relay / raw publish >= 0.5"),
                (
                    "commit_to_published_p99_le_5ms",
                    "commit -> published p99 <= 5 ms",
                ),
                (
                    "commit_to_handled_p99_le_30ms",
                    "commit -> handled p99 <= 30 ms",
                ),
                ("all", "all"),
            ] {
                let met = targets.get(name).and_then(Value::as_bool) == Some(true);
                println!(
                    "    {description:<36} {}",
                    if met { "met" } else { "MISSED" }
                );
            }
        }
        println!();
        println!("{json}");
    }
}

fn print_latency(line: &impl Fn(&str, String, String), latency: &LatencyResult) {
    line(
        "offered load events/s",
        format!("{:.0}", latency.offered_per_second),
        format!(
            "{}; open loop; committed {:.0}/s{}",
            latency.basis,
            latency.achieved_per_second,
            if latency.overloaded() {
                " OVERLOADED"
            } else {
                ""
            }
        ),
    );
    line(
        "  producer per event ms",
        format!("{:.2}", latency.transaction.p50_us as f64 / 1000.0),
        format!(
            "txn p50; p99 {:.2}; waiting for a connection p99 {:.2}; schedule lag p99 {:.2}",
            latency.transaction.p99_us as f64 / 1000.0,
            latency.begin_wait.p99_us as f64 / 1000.0,
            latency.schedule_lag.p99_us as f64 / 1000.0
        ),
    );
    for (name, summary) in [
        ("commit -> published ms", &latency.commit_to_published),
        ("commit -> handled ms", &latency.commit_to_handled),
        (
            "  insert -> published (db clock)",
            &latency.insert_to_published,
        ),
    ] {
        line(
            name,
            format!(
                "{:.2} / {:.2}",
                summary.p50_us as f64 / 1000.0,
                summary.p99_us as f64 / 1000.0
            ),
            format!(
                "p50 / p99; p90 {:.2}, p99.9 {:.2}, max {:.2} ({} events)",
                summary.p90_us as f64 / 1000.0,
                summary.p999_us as f64 / 1000.0,
                summary.max_us as f64 / 1000.0,
                summary.count
            ),
        );
    }
    line(
        "  relay batches under load",
        format!(
            "{:.1} rows",
            mean(latency.batches.messages, latency.batches.batches)
        ),
        format!(
            "publish {:.2} ms, gap between batches (database + idle) {:.2} ms; db clock offset {} us",
            millis_per(latency.batches.publish, latency.batches.batches),
            millis_per(latency.batches.between, latency.batches.between_gaps),
            latency.clock_offset_us
        ),
    );
}

/// How each figure is measured, carried in the JSON so a result explains itself.
fn method() -> Value {
    json!({
        "raw_insert": "N clients: BEGIN; INSERT one business row; COMMIT (closed loop)",
        "outbox_enqueue": "N clients: Outbox::begin; INSERT business row; enqueue(OrderPlaced); commit; relay not running",
        "raw_confirmed_publish": "lapin alone: one confirm channel per relay, windows of batch_size publishes (persistent, mandatory) then all confirms, same exchange and quorum queues",
        "relay": "M pending rows pre-filled and VACUUM ANALYZEd; time = max(published_at) - clock_timestamp() read before the relays start",
        "commit_to_published": "published_at (DB clock_timestamp() in the relay's mark UPDATE) - commit instant (in-process clock right after COMMIT returned, shifted by the measured DB clock offset)",
        "commit_to_handled": "consumer handler entry - commit instant, both on the in-process clock",
        "insert_to_published_db_clock": "published_at - created_at of the row, both clock_timestamp() on the database: an upper bound of commit_to_published free of client scheduling",
        "latency_load": "open loop: event k is due at start + k / offered_load_per_s whatever earlier events did; one event per transaction through Outbox::begin (its commit wakes the relays in-process); the first warmup_s is not measured",
        "consumer_drain": "the broker crate's consumer runtime (its default settings unless --consumer-concurrency) acking, with a no-op handler, the M messages the relay drain left on the bound queue",
        "targets": "the latency targets are evaluated on the brief's load (top level); latency_at_lower_loads / latency_at_higher_loads / latency_at_write_load carry the same targets at the other loads",
        "write_load": "open loop at load_fraction x outbox_enqueue_txn_per_s (the write capacity measured in phase 2, relay stopped): write_load_commit_to_handled_p99_ms; one run with the brief's load when the two are within 5 %, else a run of its own, below (write path the bottleneck) or above (relay the bottleneck) the brief's",
        "cpu": "cores_used per process group from /proc (utime+stime incl. reaped children); postgres = this run's backends (by application_name), postgres_shared = Postgres' own processes and ended backends, other = the rest of the machine",
    })
}

fn mean(total: u64, count: u64) -> f64 {
    if count == 0 {
        0.0
    } else {
        total as f64 / count as f64
    }
}

fn millis_per(total: std::time::Duration, count: u64) -> f64 {
    if count == 0 {
        0.0
    } else {
        total.as_secs_f64() * 1000.0 / count as f64
    }
}
