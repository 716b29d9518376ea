//! The saga benchmark's table and JSON line.

use serde_json::{Value, json};

use super::args::{SagaArgs, Scope};
use super::counters::WorkDelta;
use super::load::Tally;
use crate::measure::{Summary, round1, round3};
use crate::writes::WriteResult;

/// The targets (a 2-core machine running everything).
const TARGET_SAGAS_PER_S: f64 = 300.0;
const TARGET_P99_MS: f64 = 100.0;
const TARGET_RATIO: f64 = 0.5;
/// The replaced system's figure for scope `place`: orders confirmed per
/// second from PlaceOrder (no cart, no catalog on the path).
const REPLACED_SYSTEM_ORDERS_PER_S: f64 = 98.0;

fn opt3(value: Option<f64>) -> Value {
    json!(value.map(round3))
}

fn or_null(value: Option<f64>, digits: usize) -> String {
    value.map_or_else(|| "null".to_owned(), |value| format!("{value:.digits$}"))
}

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
    /// Cores the stack used over the window (see `stack_groups`).
    pub stack_cores: f64,
    pub window_s: f64,
    /// RabbitMQ's deliveries, Postgres' statements, the stack's tables.
    pub work: WorkDelta,
    pub sagas: u64,
}

impl PhaseCost {
    /// The stack's CPU per saga: its cores x the window / sagas.
    pub fn cpu_ms_per_saga(&self) -> Option<f64> {
        (self.sagas > 0).then(|| self.stack_cores * self.window_s * 1000.0 / self.sagas as f64)
    }

    pub fn deliveries_per_saga(&self) -> Option<f64> {
        self.work.deliveries_per_saga(self.sagas)
    }

    pub fn statements_per_saga(&self) -> Option<f64> {
        self.work.statements_per_saga(self.sagas)
    }

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
            "cpu_ms_per_saga": opt3(self.cpu_ms_per_saga()),
            "stack_cores": round3(self.stack_cores),
            "deliveries_per_saga": opt3(self.deliveries_per_saga()),
            "sql_statements_per_saga": opt3(self.statements_per_saga()),
            "counters": self.work.to_json(self.sagas),
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

/// The stack with no traffic.
#[derive(Debug)]
pub struct IdleCost {
    pub stack_cores: f64,
    pub cpu: Value,
    pub window_s: f64,
    pub commits: i64,
    pub write_transactions: i64,
    pub work: WorkDelta,
}

impl IdleCost {
    /// The stack's CPU as a percentage of one core.
    pub fn cpu_pct(&self) -> f64 {
        self.stack_cores * 100.0
    }

    /// The services' processes and their Postgres backends alone (no
    /// shared Postgres process, no RabbitMQ: both also serve other
    /// clients of a shared server), as a percentage of one core.
    pub fn services_cpu_pct(&self) -> f64 {
        let cores = &self.cpu["cores_used"];
        super::stack_groups()
            .iter()
            .filter(|group| !matches!(**group, "postgres_shared" | "rabbitmq"))
            .map(|group| cores[*group].as_f64().unwrap_or(0.0))
            .sum::<f64>()
            * 100.0
    }

    fn per_s(&self, count: i64) -> f64 {
        if self.window_s > 0.0 {
            count as f64 / self.window_s
        } else {
            0.0
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "window_s": round3(self.window_s),
            "idle_cpu_pct": round1(self.cpu_pct()),
            "services_and_their_backends_cpu_pct": round1(self.services_cpu_pct()),
            "transactions_per_s": round1(self.per_s(self.commits)),
            "write_transactions_per_s": round1(self.per_s(self.write_transactions)),
            "deliveries_per_s": self.work.deliveries_per_s_json(),
            "sql_statements_per_s": opt3(self.work.statements_per_s()),
            "counters": self.work.to_json(0),
            "cpu": self.cpu,
        })
    }

    /// `(group, cores)` of the stack's groups, busiest first.
    fn rows(&self) -> Vec<(String, f64)> {
        let groups = super::stack_groups();
        let mut rows: Vec<(String, f64)> = self.cpu["cores_used"]
            .as_object()
            .map(|cores| {
                cores
                    .iter()
                    .filter(|(group, _)| groups.contains(&group.as_str()))
                    .map(|(group, cores)| (group.clone(), cores.as_f64().unwrap_or(0.0)))
                    .collect()
            })
            .unwrap_or_default();
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
    /// The idle phase (`None` when skipped).
    pub idle: Option<IdleCost>,
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
        let place = self.args.scope == Scope::Place;
        let mut report = json!({
            "benchmark": "saga",
            "scope": self.args.scope.name(),
            "sagas_per_s": round1(self.sagas_per_s),
            "saga_latency_p50_ms": self.p50_ms(),
            "saga_latency_p99_ms": self.p99_ms(),
            "raw_insert_commits_per_s": round1(self.raw_inserts.per_second),
            "cpu_ms_per_saga": opt3(self.capacity_cost.cpu_ms_per_saga()),
            "deliveries_per_saga": opt3(self.capacity_cost.deliveries_per_saga()),
            "sql_statements_per_saga": opt3(self.capacity_cost.statements_per_saga()),
            "idle_cpu_pct": self.idle.as_ref().map(|idle| round1(idle.cpu_pct())),
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
            "idle": self.idle.as_ref().map(IdleCost::to_json),
            "raw_inserts": self.raw_inserts.to_json(),
            "run": {
                "run_id": self.args.run_id,
                "scope": self.args.scope.name(),
                "idle_s": self.args.idle.as_secs_f64(),
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
                "saga": if place {
                    "scope place: PlaceOrder call start (a checkout snapshot of one unit of the customer's SKU plus the shop's shipping option, signed by saga-bench with the key the services use, CHECKOUT_SIGNING_KEY else the development key, sent straight to orders-svc as the customer with an x-correlation-id; no cart, no catalog on the path) -> orders.order_confirmed.v1 (its AMQP correlation id) reaching an exclusive queue of saga-bench bound to the stack's orders exchange"
                } else {
                    "scope full: Checkout call start -> orders.order_confirmed.v1 (its AMQP correlation id = the checkout's x-correlation-id) reaching an exclusive queue of saga-bench bound to the stack's orders exchange; AddItem (filling the cart) is shopping, not the saga, and is reported apart"
                },
                "sagas_per_s": if place {
                    "closed loop: each of N customers PlaceOrder -> CONFIRMED -> next; sagas confirmed inside the window / window (= orders_per_s)"
                } else {
                    "closed loop: each of N customers AddItem -> Checkout -> CONFIRMED -> next; sagas confirmed inside the window / window"
                },
                "cpu_ms_per_saga": "CPU of the stack over the capacity window (cores used x window, from /proc utime+stime) / sagas confirmed in it; the stack = every service process (cart and catalog too, idle in scope place), their Postgres backends (application_name), Postgres' own processes and ended backends (postgres_shared), and RabbitMQ's Erlang VM (which also serves any other client of the node); saga-bench's own process and sessions and the rest of the machine are not counted",
                "deliveries_per_saga": "RabbitMQ's messages_delivered_total (rabbit_global_counters, every queue type, read with rabbitmqctl eval just before and just after the window) minus the deliveries to saga-bench's own outcome queue, per second of that span, / sagas per second of the window; node-wide: other clients of the node count too (idle.deliveries_per_s shows that background); null when rabbitmqctl cannot reach the node (RabbitMQ on another host)",
                "sql_statements_per_saga": "pg_stat_statements sum(calls) delta of the database / sagas (every session's statements, top level); null unless pg_stat_statements is in shared_preload_libraries (capacity.cost.counters.pg_stat_statements says why); capacity.cost.counters.stack_tables counts rows written and table scans in the stack's schemas only",
                "idle_cpu_pct": "CPU of the stack (as cpu_ms_per_saga) over idle_s with no traffic, after setup and a settle, as a percentage of one core: relays' polls, timers, pollers, RabbitMQ's and Postgres' housekeeping",
                "saga_latency": if place {
                    "open loop at load_fraction x sagas_per_s: saga k is due at start + k / rate whatever earlier ones did, by an idle customer (one saga per customer at a time; no cart to fill); latency from the due time (a late start for want of an idle customer counts), saga_latency_from_call_ms without that wait"
                } else {
                    "open loop at load_fraction x sagas_per_s: checkout k is due at start + k / rate whatever earlier ones did, by an idle customer whose cart was filled after its previous saga; latency from the due time (a late start for want of an idle customer counts), saga_latency_from_call_ms without that wait"
                },
                "transactions_per_saga": "pg_stat_database.xact_commit delta of the database over the capacity window / sagas confirmed in it: EVERY committed transaction, read-only ones (GetOrder, auth lookups, outbox polls, inbox checks) included, of every session on the database (other suites running on a shared server count too); stats are flushed by backends at most once a second, so the window edges blur by about a second",
                "write_transactions_per_saga": "transaction ids assigned over the window (pg_current_snapshot xmax delta) / sagas: transactions that wrote, committed or rolled back, in every database of the cluster",
                "saga_ratio_to_commit_limit": "sagas_per_s x transactions_per_saga / raw_insert_commits_per_s (write_saga_ratio_to_commit_limit: with write transactions)",
                "raw_insert_commits_per_s": "relay-bench's raw-insert phase: N clients, BEGIN; INSERT one row; COMMIT, on a schema of its own while the stack idles",
                "cpu": "cores_used per process group from /proc utime+stime (incl. reaped children): each service process by binary, postgres:<service> = the backends of that service's pool (application_name), postgres_shared = postmaster, WAL writer, checkpointer, autovacuum and ended backends, postgres_other_clients = saga-bench's own and other sessions, rabbitmq = the beam VM, bench = saga-bench, other = the rest of the machine",
            },
        });
        if let (true, Some(object)) = (place, report.as_object_mut()) {
            object.insert("orders_per_s".to_owned(), json!(round1(self.sagas_per_s)));
            object.insert(
                "replaced_system".to_owned(),
                json!({
                    "orders_per_s": REPLACED_SYSTEM_ORDERS_PER_S,
                    "ratio": round3(self.sagas_per_s / REPLACED_SYSTEM_ORDERS_PER_S),
                }),
            );
        }
        report
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
        let rpc = self.args.scope.rpc();
        println!(
            "saga-bench: scope {}, {} clients, {} SKUs, {:.0} s windows (+{:.0} s warmup), {} cores{}",
            self.args.scope.name(),
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
            match self.args.scope {
                Scope::Full => "sagas/s (capacity)",
                Scope::Place => "orders/s confirmed (capacity)",
            },
            format!("{:.1}", self.sagas_per_s),
            format!(
                "closed loop, {} customers; {} failed{}",
                self.args.clients,
                self.capacity.failures(),
                match self.args.scope {
                    Scope::Full => String::new(),
                    Scope::Place => format!(
                        "; replaced system ~{REPLACED_SYSTEM_ORDERS_PER_S:.0}/s (x{:.2})",
                        self.sagas_per_s / REPLACED_SYSTEM_ORDERS_PER_S
                    ),
                }
            ),
        );
        line(
            "  saga p50 / p99 ms at capacity",
            summary_ms(&capacity_saga),
            format!("{rpc} call -> CONFIRMED"),
        );
        line(
            &format!("  {rpc} RPC p50 / p99 ms"),
            summary_ms(&Summary::of(self.capacity.checkout_rpc_us.clone())),
            "part of the saga".to_owned(),
        );
        if self.args.scope == Scope::Full {
            line(
                "  AddItem RPC p50 / p99 ms",
                summary_ms(&Summary::of(self.capacity.add_item_us.clone())),
                "shopping before each saga, not counted in it".to_owned(),
            );
        }
        line(
            "CPU ms per saga",
            or_null(self.capacity_cost.cpu_ms_per_saga(), 2),
            format!(
                "services + their Postgres backends + Postgres + RabbitMQ ({:.2} cores)",
                self.capacity_cost.stack_cores
            ),
        );
        line(
            "RabbitMQ deliveries per saga",
            or_null(self.capacity_cost.deliveries_per_saga(), 2),
            "node-wide messages_delivered_total, ours excluded".to_owned(),
        );
        line(
            "SQL statements per saga",
            or_null(self.capacity_cost.statements_per_saga(), 2),
            if self.capacity_cost.statements_per_saga().is_some() {
                "pg_stat_statements sum(calls) delta / sagas".to_owned()
            } else {
                "pg_stat_statements not preloaded (see the JSON)".to_owned()
            },
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
            format!("from the {rpc} call"),
        );
        line(
            "  transactions per saga at load",
            format!("{:.2}", self.at_load_cost.transactions_per_saga()),
            format!(
                "{:.2} write",
                self.at_load_cost.write_transactions_per_saga()
            ),
        );
        line(
            "  CPU ms / deliveries per saga at load",
            format!(
                "{} / {}",
                or_null(self.at_load_cost.cpu_ms_per_saga(), 2),
                or_null(self.at_load_cost.deliveries_per_saga(), 2)
            ),
            format!(
                "SQL statements per saga {}",
                or_null(self.at_load_cost.statements_per_saga(), 2)
            ),
        );
        if let Some(idle) = &self.idle {
            line(
                "idle CPU % of one core",
                format!("{:.1}", idle.cpu_pct()),
                format!(
                    "no traffic, {:.0} s; services + their backends {:.1} %; {:.1} txn/s, {} deliveries/s (node-wide)",
                    idle.window_s,
                    idle.services_cpu_pct(),
                    idle.per_s(idle.commits),
                    idle.work
                        .deliveries_per_s_json()
                        .as_f64()
                        .map_or_else(|| "null".to_owned(), |value| format!("{value:.1}"))
                ),
            );
        }
        rule();
        println!();
        println!(
            "  CPU per process at capacity (cores; CPU ms per saga)      at load ({:.1}/s)          idle (cores)",
            self.achieved_per_s
        );
        let at_load_rows = self.at_load_cost.cpu_rows();
        let idle_rows = self.idle.as_ref().map(IdleCost::rows).unwrap_or_default();
        for (group, cores, per_saga) in self.capacity_cost.cpu_rows() {
            if cores < 0.005 {
                continue;
            }
            let (load_cores, load_per_saga) = at_load_rows
                .iter()
                .find(|(other, _, _)| *other == group)
                .map_or((0.0, 0.0), |(_, cores, per_saga)| (*cores, *per_saga));
            let idle_cores = idle_rows
                .iter()
                .find(|(other, _)| *other == group)
                .map_or_else(String::new, |(_, cores)| format!("{cores:>6.3}"));
            println!(
                "    {group:<26} {cores:>6.2} {per_saga:>9.2} ms        {load_cores:>6.2} {load_per_saga:>9.2} ms        {idle_cores}"
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
        println!(
            "  targets (2-core machine running everything){}",
            if self.args.scope == Scope::Place {
                "; set for scope full, shown for reference"
            } else {
                ""
            }
        );
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
