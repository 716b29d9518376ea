//! The saga benchmark's table and JSON line.

use serde_json::{Value, json};

use super::args::SagaArgs;
use super::load::Tally;
use crate::measure::{Summary, round1, round3};
use crate::writes::WriteResult;

/// The targets (a 2-core machine running everything).
const TARGET_SAGAS_PER_S: f64 = 300.0;
const TARGET_P99_MS: f64 = 100.0;
const TARGET_RATIO: f64 = 0.5;

/// Postgres work and CPU of one measured window.
#[derive(Debug)]
pub struct PhaseCost {
    /// `pg_stat_database.xact_commit` delta: every committed transaction of
    /// the database, read-only ones included, any session's.
    pub commits: i64,
    pub rollbacks: i64,
    /// Transaction ids assigned: transactions that wrote (committed or
    /// not), in any database of the cluster.
    pub write_transactions: i64,
    pub cpu: Value,
    pub sagas: u64,
}

impl PhaseCost {
    fn per_saga(&self, count: i64) -> f64 {
        if self.sagas == 0 {
            0.0
        } else {
            count as f64 / self.sagas as f64
        }
    }

    pub fn transactions_per_saga(&self) -> f64 {
        self.per_saga(self.commits)
    }

    pub fn write_transactions_per_saga(&self) -> f64 {
        self.per_saga(self.write_transactions)
    }

    fn to_json(&self) -> Value {
        json!({
            "sagas": self.sagas,
            "xact_commit_delta": self.commits,
            "xact_rollback_delta": self.rollbacks,
            "xids_assigned": self.write_transactions,
            "transactions_per_saga": round3(self.transactions_per_saga()),
            "write_transactions_per_saga": round3(self.write_transactions_per_saga()),
            "cpu": self.cpu,
        })
    }

    /// `(group, cores, cpu ms per saga)`, busiest first.
    fn cpu_rows(&self) -> Vec<(String, f64, f64)> {
        let cores = self.cpu["cores_used"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let per_1000 = &self.cpu["cpu_ms_per_1000_ops"];
        let mut rows: Vec<(String, f64, f64)> = cores
            .iter()
            .map(|(group, cores)| {
                (
                    group.clone(),
                    cores.as_f64().unwrap_or(0.0),
                    per_1000[group].as_f64().unwrap_or(0.0) / 1000.0,
                )
            })
            .collect();
        rows.sort_by(|a, b| b.1.total_cmp(&a.1));
        rows
    }
}

#[derive(Debug)]
pub struct Report {
    pub args: SagaArgs,
    pub stack_run_id: String,
    pub raw_inserts: WriteResult,
    pub sagas_per_s: f64,
    pub capacity: Tally,
    pub capacity_cost: PhaseCost,
    pub offered_per_s: f64,
    pub achieved_per_s: f64,
    pub at_load: Tally,
    pub at_load_cost: PhaseCost,
    pub background_cores: f64,
    pub knobs: Vec<(String, String)>,
}

fn ms(micros: i64) -> f64 {
    round3(micros as f64 / 1000.0)
}

fn tally_json(tally: &Tally) -> Value {
    json!({
        "confirmed": tally.confirmed,
        "rejected": tally.rejected,
        "canceled": tally.canceled,
        "timed_out": tally.timed_out,
        "checkout_errors": tally.checkout_errors,
        "add_item_errors": tally.add_item_errors,
        "last_error": tally.last_error,
        "saga_latency_ms": tally.saga().to_json_ms(),
        "saga_latency_from_call_ms": Summary::of(tally.saga_from_call_us.clone()).to_json_ms(),
        "checkout_rpc_ms": Summary::of(tally.checkout_rpc_us.clone()).to_json_ms(),
        "add_item_rpc_ms": Summary::of(tally.add_item_us.clone()).to_json_ms(),
    })
}

impl Report {
    fn ratio(&self) -> f64 {
        if self.raw_inserts.per_second <= 0.0 {
            0.0
        } else {
            self.sagas_per_s * self.capacity_cost.transactions_per_saga()
                / self.raw_inserts.per_second
        }
    }

    fn write_ratio(&self) -> f64 {
        if self.raw_inserts.per_second <= 0.0 {
            0.0
        } else {
            self.sagas_per_s * self.capacity_cost.write_transactions_per_saga()
                / self.raw_inserts.per_second
        }
    }

    fn p50_ms(&self) -> f64 {
        ms(self.at_load.saga().p50_us)
    }

    fn p99_ms(&self) -> f64 {
        ms(self.at_load.saga().p99_us)
    }

    fn overloaded(&self) -> bool {
        self.achieved_per_s < 0.9 * self.offered_per_s
    }

    pub fn to_json(&self) -> Value {
        let knobs: serde_json::Map<String, Value> = self
            .knobs
            .iter()
            .map(|(name, value)| (name.clone(), json!(value)))
            .collect();
        json!({
            "benchmark": "saga",
            "sagas_per_s": round1(self.sagas_per_s),
            "saga_latency_p50_ms": self.p50_ms(),
            "saga_latency_p99_ms": self.p99_ms(),
            "raw_insert_commits_per_s": round1(self.raw_inserts.per_second),
            "transactions_per_saga": round3(self.capacity_cost.transactions_per_saga()),
            "write_transactions_per_saga": round3(self.capacity_cost.write_transactions_per_saga()),
            "saga_ratio_to_commit_limit": round3(self.ratio()),
            "write_saga_ratio_to_commit_limit": round3(self.write_ratio()),
            "targets": {
                "sagas_per_s": {"target": TARGET_SAGAS_PER_S, "met": self.sagas_per_s >= TARGET_SAGAS_PER_S},
                "saga_latency_p99_ms_at_load": {"target": TARGET_P99_MS, "met": self.p99_ms() <= TARGET_P99_MS && !self.overloaded()},
                "saga_ratio_to_commit_limit": {"target": TARGET_RATIO, "met": self.ratio() >= TARGET_RATIO},
            },
            "capacity": {
                "clients": self.args.clients,
                "window_s": self.args.duration.as_secs_f64(),
                "outcomes": tally_json(&self.capacity),
                "cost": self.capacity_cost.to_json(),
            },
            "at_load": {
                "load_fraction": self.args.load_fraction,
                "offered_per_s": round1(self.offered_per_s),
                "achieved_per_s": round1(self.achieved_per_s),
                "overloaded": self.overloaded(),
                "late_starts": self.at_load.late_starts,
                "max_start_lag_ms": ms(self.at_load.max_start_lag_us),
                "outcomes": tally_json(&self.at_load),
                "cost": self.at_load_cost.to_json(),
            },
            "raw_inserts": self.raw_inserts.to_json(),
            "run": {
                "run_id": self.args.run_id,
                "stack_run_id": self.stack_run_id,
                "clients": self.args.clients,
                "skus": self.args.skus,
                "warmup_s": self.args.warmup.as_secs_f64(),
                "duration_s": self.args.duration.as_secs_f64(),
                "quick": self.args.quick,
                "machine_cores": crate::measure::machine_cores(),
                "background_cores_before_run": round3(self.background_cores),
                "service_knobs": knobs,
            },
            "method": {
                "saga": "Checkout call start -> orders.order_confirmed.v1 (its AMQP correlation id = the checkout's x-correlation-id) reaching an exclusive queue of saga-bench bound to the stack's orders exchange; AddItem (filling the cart) is shopping, not the saga, and is reported apart",
                "sagas_per_s": "closed loop: each of N customers AddItem -> Checkout -> CONFIRMED -> next; sagas confirmed inside the window / window",
                "saga_latency": "open loop at load_fraction x sagas_per_s: checkout k is due at start + k / rate whatever earlier ones did, by an idle customer whose cart was filled after its previous saga; latency from the due time (a late start for want of an idle customer counts), saga_latency_from_call_ms without that wait",
                "transactions_per_saga": "pg_stat_database.xact_commit delta of the database over the capacity window / sagas confirmed in it: EVERY committed transaction, read-only ones (GetOrder, auth lookups, outbox polls, inbox checks) included, of every session on the database (other suites running on a shared server count too); stats are flushed by backends at most once a second, so the window edges blur by about a second",
                "write_transactions_per_saga": "transaction ids assigned over the window (pg_current_snapshot xmax delta) / sagas: transactions that wrote, committed or rolled back, in every database of the cluster",
                "saga_ratio_to_commit_limit": "sagas_per_s x transactions_per_saga / raw_insert_commits_per_s (write_saga_ratio_to_commit_limit: with write transactions)",
                "raw_insert_commits_per_s": "relay-bench's raw-insert phase: N clients, BEGIN; INSERT one row; COMMIT, on a schema of its own while the stack idles",
                "cpu": "cores_used per process group from /proc utime+stime (incl. reaped children): each service process by binary, postgres:<service> = the backends of that service's pool (application_name), postgres_shared = postmaster, WAL writer, checkpointer, autovacuum and ended backends, postgres_other_clients = saga-bench's own and other sessions, rabbitmq = the beam VM, bench = saga-bench, other = the rest of the machine",
            },
        })
    }

    pub fn print(&self) {
        let line = |name: &str, value: String, note: String| {
            println!("  {name:<38} {value:>14}  {note}");
        };
        let rule = || println!("  {}", "-".repeat(96));
        let capacity_saga = self.capacity.saga();
        let at_load_saga = self.at_load.saga();
        let at_load_call = Summary::of(self.at_load.saga_from_call_us.clone());
        let summary_ms =
            |summary: &Summary| format!("{:.1} / {:.1}", ms(summary.p50_us), ms(summary.p99_us));
        println!();
        println!(
            "saga-bench: {} clients, {} SKUs, {:.0} s windows (+{:.0} s warmup), {} cores{}",
            self.args.clients,
            self.args.skus,
            self.args.duration.as_secs_f64(),
            self.args.warmup.as_secs_f64(),
            crate::measure::machine_cores(),
            if self.args.quick { ", QUICK run" } else { "" }
        );
        println!();
        println!("  {:<38} {:>14}  note", "measurement", "value");
        rule();
        line(
            "raw INSERT commits/s",
            format!("{:.0}", self.raw_inserts.per_second),
            format!("{} clients, BEGIN; INSERT; COMMIT", self.args.clients),
        );
        line(
            "sagas/s (capacity)",
            format!("{:.1}", self.sagas_per_s),
            format!(
                "closed loop, {} customers; {} failed",
                self.args.clients,
                self.capacity.failures()
            ),
        );
        line(
            "  saga p50 / p99 ms at capacity",
            summary_ms(&capacity_saga),
            "Checkout call -> CONFIRMED".to_owned(),
        );
        line(
            "  Checkout RPC p50 / p99 ms",
            summary_ms(&Summary::of(self.capacity.checkout_rpc_us.clone())),
            "part of the saga".to_owned(),
        );
        line(
            "  AddItem RPC p50 / p99 ms",
            summary_ms(&Summary::of(self.capacity.add_item_us.clone())),
            "shopping before each saga, not counted in it".to_owned(),
        );
        line(
            "transactions per saga",
            format!("{:.2}", self.capacity_cost.transactions_per_saga()),
            "xact_commit delta / sagas: ALL commits incl. read-only".to_owned(),
        );
        line(
            "  write transactions per saga",
            format!("{:.2}", self.capacity_cost.write_transactions_per_saga()),
            "xids assigned / sagas (committed or not)".to_owned(),
        );
        line(
            "saga ratio to commit limit",
            format!("{:.3}", self.ratio()),
            format!(
                "sagas/s x txn/saga / commits/s ({:.3} with write txns)",
                self.write_ratio()
            ),
        );
        line(
            "open loop: offered / achieved /s",
            format!("{:.1} / {:.1}", self.offered_per_s, self.achieved_per_s),
            format!(
                "{} x capacity{}",
                self.args.load_fraction,
                if self.overloaded() {
                    "; OVERLOADED"
                } else {
                    ""
                }
            ),
        );
        line(
            "  saga p50 / p99 ms at load",
            summary_ms(&at_load_saga),
            format!(
                "from due time; {} late starts, {} failed",
                self.at_load.late_starts,
                self.at_load.failures()
            ),
        );
        line(
            "  saga p50 / p99 ms from call",
            summary_ms(&at_load_call),
            "from the Checkout call".to_owned(),
        );
        line(
            "  transactions per saga at load",
            format!("{:.2}", self.at_load_cost.transactions_per_saga()),
            format!(
                "{:.2} write",
                self.at_load_cost.write_transactions_per_saga()
            ),
        );
        rule();
        println!();
        println!(
            "  CPU per process at capacity (cores; CPU ms per saga)      at load ({:.1}/s)",
            self.achieved_per_s
        );
        let at_load_rows = self.at_load_cost.cpu_rows();
        for (group, cores, per_saga) in self.capacity_cost.cpu_rows() {
            if cores < 0.005 {
                continue;
            }
            let (load_cores, load_per_saga) = at_load_rows
                .iter()
                .find(|(other, _, _)| *other == group)
                .map_or((0.0, 0.0), |(_, cores, per_saga)| (*cores, *per_saga));
            println!(
                "    {group:<26} {cores:>6.2} {per_saga:>9.2} ms        {load_cores:>6.2} {load_per_saga:>9.2} ms"
            );
        }
        println!(
            "    machine busy fraction      {:>6.2}                     {:>6.2}",
            self.capacity_cost.cpu["machine_busy_fraction"]
                .as_f64()
                .unwrap_or(0.0),
            self.at_load_cost.cpu["machine_busy_fraction"]
                .as_f64()
                .unwrap_or(0.0)
        );
        println!();
        println!("  targets (2-core machine running everything)");
        let verdict = |met: bool| if met { "met" } else { "NOT met" };
        println!(
            "    sagas/s >= {TARGET_SAGAS_PER_S:.0}: {:.1} ({})",
            self.sagas_per_s,
            verdict(self.sagas_per_s >= TARGET_SAGAS_PER_S)
        );
        println!(
            "    p99 <= {TARGET_P99_MS:.0} ms at {} x capacity: {:.1} ms ({})",
            self.args.load_fraction,
            self.p99_ms(),
            verdict(self.p99_ms() <= TARGET_P99_MS && !self.overloaded())
        );
        println!(
            "    ratio to commit limit >= {TARGET_RATIO}: {:.3} ({})",
            self.ratio(),
            verdict(self.ratio() >= TARGET_RATIO)
        );
        if self.background_cores > 0.25 {
            println!(
                "  note: other processes used {:.2} cores before the run; figures are noisy",
                self.background_cores
            );
        }
        println!();
        println!("{}", self.to_json());
    }
}
