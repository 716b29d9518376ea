//! Counters of the whole stack's work over a window, beside CPU and
//! `pg_stat_database`: RabbitMQ's deliveries, Postgres' statements and the
//! stack schemas' table statistics.
//!
//! - RabbitMQ: the node's global message counters
//!   (`rabbit_global_counters:overview()`, kept by the broker itself since
//!   3.9, no management or Prometheus plugin needed), read through
//!   `rabbitmqctl eval` when RabbitMQ runs on this host (`AMQP_URL` on
//!   loopback and a `rabbitmqctl` that can reach the node). In 3.10
//!   `rabbitmqctl list_queues` has no delivery counter (its columns are
//!   depths, consumers, memory...), and per-queue `message_stats` need the
//!   management plugin: so the counts are node-wide, every vhost's and
//!   every client's, by queue type. Deliveries made to saga-bench's own
//!   outcome queue are subtracted. The two readings are taken just after
//!   the window's start and end (one CLI call each, about half a second);
//!   the deliveries per second over that span, times the window, are the
//!   window's.
//! - Postgres: `sum(calls)` of `pg_stat_statements` for the database, when
//!   the module is in `shared_preload_libraries` (it cannot be loaded
//!   without a server restart; the benchmark never changes the server's
//!   configuration). Otherwise the statement count is unknown (null).
//! - Tables: `pg_stat_user_tables` of the stack's schemas only (no other
//!   client counts): rows inserted/updated/deleted and sequential + index
//!   scans.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, Value as SqlValue};
use serde_json::{Value, json};

use crate::measure::round3;
use crate::progress;

/// How long one `rabbitmqctl eval` may take before it counts as failed.
const CLI_TIMEOUT: Duration = Duration::from_secs(15);

/// The Erlang expression printing the node's clock (µs) and every global
/// counter as `<labels> <counter> <value>` lines.
const GLOBAL_COUNTERS_EXPR: &str = "io:format(\"t ~w~n\", [os:system_time(microsecond)]), \
     maps:foreach(fun(K, V) -> maps:foreach(fun(C, N) -> io:format(\"~w ~w ~w~n\", [K, C, N]) end, V) end, \
     rabbit_global_counters:overview()), ok.";

/// Where the counters come from, found once per run.
#[derive(Clone, Debug)]
pub struct Probes {
    /// `rabbitmqctl`, or why RabbitMQ's counters are not read.
    rabbitmqctl: Result<RabbitCli, String>,
    /// Whether `pg_stat_statements` answers, or why not.
    statements: Result<(), String>,
    /// The stack's schemas.
    schemas: Vec<String>,
}

#[derive(Clone, Debug)]
struct RabbitCli {
    path: String,
}

impl Probes {
    /// Finds the sources; a missing one is reported, not an error.
    pub async fn find(db: &DatabaseConnection, amqp_url: &str, schemas: Vec<String>) -> Self {
        let rabbitmqctl = find_rabbitmqctl(amqp_url).await;
        if let Err(why) = &rabbitmqctl {
            progress!("RabbitMQ deliveries will not be counted: {why}");
        }
        let statements = statements_available(db).await;
        if let Err(why) = &statements {
            progress!("SQL statements will not be counted: {why}");
        }
        Self {
            rabbitmqctl,
            statements,
            schemas,
        }
    }

    /// RabbitMQ's counters now (`None` when they cannot be read).
    pub async fn rabbit(&self) -> Result<RabbitCounters, String> {
        let cli = self.rabbitmqctl.as_ref().map_err(Clone::clone)?;
        read_global_counters(&cli.path)
            .await
            .map_err(|error| format!("{error:#}"))
    }

    /// Postgres' counters now.
    pub async fn postgres(&self, db: &DatabaseConnection) -> anyhow::Result<PgWork> {
        let statements = match &self.statements {
            Ok(()) => Ok(statement_calls(db).await?),
            Err(why) => Err(why.clone()),
        };
        let row = db
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT coalesce(sum(seq_scan), 0)::int8 AS seq_scans, \
                        coalesce(sum(idx_scan), 0)::int8 AS idx_scans, \
                        coalesce(sum(n_tup_ins), 0)::int8 AS inserted, \
                        coalesce(sum(n_tup_upd), 0)::int8 AS updated, \
                        coalesce(sum(n_tup_del), 0)::int8 AS deleted \
                 FROM pg_stat_user_tables WHERE schemaname = ANY($1)",
                [SqlValue::from(self.schemas.clone())],
            ))
            .await?
            .context("pg_stat_user_tables returned no row")?;
        Ok(PgWork {
            statements,
            seq_scans: row.try_get("", "seq_scans")?,
            idx_scans: row.try_get("", "idx_scans")?,
            rows_written: row.try_get::<i64>("", "inserted")?
                + row.try_get::<i64>("", "updated")?
                + row.try_get::<i64>("", "deleted")?,
        })
    }
}

/// `rabbitmqctl` when RabbitMQ is this host's and the CLI reaches it.
async fn find_rabbitmqctl(amqp_url: &str) -> Result<RabbitCli, String> {
    let host = amqp_host(amqp_url).ok_or("AMQP_URL has no host")?;
    if !matches!(host.as_str(), "127.0.0.1" | "localhost" | "::1" | "[::1]") {
        return Err(format!(
            "RabbitMQ is not on this host ({host}): rabbitmqctl would read another node"
        ));
    }
    let candidates: Vec<String> = match std::env::var("RABBITMQCTL") {
        Ok(path) => vec![path],
        Err(_) => vec![
            "rabbitmqctl".to_owned(),
            "/usr/sbin/rabbitmqctl".to_owned(),
            "/usr/lib/rabbitmq/bin/rabbitmqctl".to_owned(),
        ],
    };
    let mut last_error = String::from("no rabbitmqctl");
    for path in candidates {
        match read_global_counters(&path).await {
            Ok(counters) if counters.delivered_total().is_some() => {
                return Ok(RabbitCli { path });
            }
            Ok(_) => last_error = format!("{path} printed no delivery counter"),
            Err(error) => last_error = format!("{path}: {error:#}"),
        }
    }
    Err(format!(
        "{last_error} (set RABBITMQCTL to its path; it needs the node's Erlang cookie)"
    ))
}

/// The host of an `amqp://user:pass@host:port/vhost` URL.
fn amqp_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split('/').next()?;
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = if host_port.starts_with('[') {
        host_port.split_inclusive(']').next()?
    } else {
        host_port.split(':').next()?
    };
    (!host.is_empty()).then(|| host.to_lowercase())
}

/// One reading of the node's global counters.
#[derive(Clone, Debug, Default)]
pub struct RabbitCounters {
    /// The node's clock when read (µs since the epoch).
    at_unix_us: i64,
    /// `(queue type or "all", counter) -> value`.
    values: BTreeMap<(String, String), i64>,
}

impl RabbitCounters {
    fn parse(output: &str) -> anyhow::Result<Self> {
        let mut counters = Self::default();
        for line in output.lines() {
            let mut words = line.split_whitespace();
            let (Some(first), second, third) = (words.next(), words.next(), words.next()) else {
                continue;
            };
            match (first, second, third) {
                ("t", Some(at), None) => counters.at_unix_us = at.parse()?,
                (labels, Some(counter), Some(value)) => {
                    // Dead-lettering counters carry a strategy label; they
                    // are not deliveries.
                    if labels.contains("dead_letter_strategy") {
                        continue;
                    }
                    let queue_type = labels
                        .split("queue_type,")
                        .nth(1)
                        .and_then(|rest| rest.split('}').next())
                        .map_or("all", |kind| {
                            kind.trim_start_matches("rabbit_")
                                .trim_end_matches("_queue")
                        })
                        .to_owned();
                    let Ok(value) = value.parse::<i64>() else {
                        continue;
                    };
                    counters
                        .values
                        .insert((queue_type, counter.to_owned()), value);
                }
                _ => {}
            }
        }
        if counters.at_unix_us == 0 {
            anyhow::bail!("no counters in the output: {}", output.trim());
        }
        Ok(counters)
    }

    fn get(&self, queue_type: &str, counter: &str) -> i64 {
        self.values
            .get(&(queue_type.to_owned(), counter.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// `messages_delivered_total` summed over queue types.
    fn delivered_total(&self) -> Option<i64> {
        let mut found = false;
        let total = self
            .values
            .iter()
            .filter(|((kind, counter), _)| kind != "all" && counter == "messages_delivered_total")
            .map(|(_, value)| {
                found = true;
                *value
            })
            .sum();
        found.then_some(total)
    }

    fn queue_types(&self) -> Vec<String> {
        let mut kinds: Vec<String> = self
            .values
            .keys()
            .filter(|(kind, _)| kind != "all")
            .map(|(kind, _)| kind.clone())
            .collect();
        kinds.dedup();
        kinds
    }

    fn sum_over_types(&self, counter: &str) -> i64 {
        self.queue_types()
            .iter()
            .map(|kind| self.get(kind, counter))
            .sum()
    }
}

async fn read_global_counters(path: &str) -> anyhow::Result<RabbitCounters> {
    let output = tokio::time::timeout(
        CLI_TIMEOUT,
        tokio::process::Command::new(path)
            .args(["-q", "eval", GLOBAL_COUNTERS_EXPR])
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .map_err(|_| anyhow::anyhow!("no answer in {CLI_TIMEOUT:?}"))?
    .context("cannot run it")?;
    if !output.status.success() {
        anyhow::bail!(
            "{}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    RabbitCounters::parse(&String::from_utf8_lossy(&output.stdout))
}

async fn statements_available(db: &DatabaseConnection) -> Result<(), String> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_setting('shared_preload_libraries') AS preload, \
                    EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements') AS installed, \
                    EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements') AS available",
        ))
        .await
        .map_err(|error| error.to_string())?
        .ok_or("no row")?;
    let preload: String = row.try_get("", "preload").map_err(|e| e.to_string())?;
    let installed: bool = row.try_get("", "installed").map_err(|e| e.to_string())?;
    let available: bool = row.try_get("", "available").map_err(|e| e.to_string())?;
    if !preload
        .split(',')
        .any(|library| library.trim() == "pg_stat_statements")
    {
        return Err(format!(
            "pg_stat_statements is not in shared_preload_libraries ('{preload}'; {}): add it \
             and restart Postgres to count statements",
            if available {
                "the module is installed"
            } else {
                "the module is not even installed (postgresql-contrib)"
            }
        ));
    }
    if !installed {
        // Preloaded but not created in this database: creating the
        // extension changes no server setting.
        db.execute_unprepared("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            .await
            .map_err(|error| format!("CREATE EXTENSION pg_stat_statements: {error}"))?;
        progress!("created the pg_stat_statements extension in this database");
    }
    statement_calls(db)
        .await
        .map(drop)
        .map_err(|error| format!("{error:#}"))
}

async fn statement_calls(db: &DatabaseConnection) -> anyhow::Result<i64> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT coalesce(sum(calls), 0)::int8 AS calls FROM pg_stat_statements \
             WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
        ))
        .await?
        .context("pg_stat_statements returned no row")?;
    Ok(row.try_get("", "calls")?)
}

/// Postgres' work counters at one instant.
#[derive(Clone, Debug)]
pub struct PgWork {
    /// `pg_stat_statements` calls of the database, or why unknown.
    statements: Result<i64, String>,
    seq_scans: i64,
    idx_scans: i64,
    rows_written: i64,
}

/// RabbitMQ before and after a window, and our own outcome queue's
/// deliveries over the same span.
#[derive(Clone, Debug)]
pub struct RabbitSpan {
    pub before: RabbitCounters,
    pub after: RabbitCounters,
    pub own_deliveries: u64,
}

/// The counters' deltas over one window; each figure is normalised to the
/// window's length (the RabbitMQ readings bracket it by about a CLI call).
#[derive(Clone, Debug)]
pub struct WorkDelta {
    window_s: f64,
    rabbit: Result<RabbitSpan, String>,
    pg_before: PgWork,
    pg_after: PgWork,
}

impl WorkDelta {
    pub fn new(
        window: Duration,
        rabbit: Result<RabbitSpan, String>,
        pg_before: PgWork,
        pg_after: PgWork,
    ) -> Self {
        Self {
            window_s: window.as_secs_f64(),
            rabbit,
            pg_before,
            pg_after,
        }
    }

    /// System deliveries per second (our outcome queue's excluded).
    fn deliveries_per_s(&self) -> Option<f64> {
        let span = self.rabbit.as_ref().ok()?;
        let seconds = (span.after.at_unix_us - span.before.at_unix_us) as f64 / 1e6;
        if seconds <= 0.0 {
            return None;
        }
        let delivered = span.after.delivered_total()? - span.before.delivered_total()?;
        Some((delivered as f64 - span.own_deliveries as f64).max(0.0) / seconds)
    }

    /// Deliveries per saga: RabbitMQ's deliveries/s over its span, divided
    /// by the window's sagas/s.
    pub fn deliveries_per_saga(&self, sagas: u64) -> Option<f64> {
        per_saga(self.deliveries_per_s()? * self.window_s, sagas)
    }

    fn statements(&self) -> Option<i64> {
        Some(self.pg_after.statements.as_ref().ok()? - self.pg_before.statements.as_ref().ok()?)
    }

    pub fn statements_per_saga(&self, sagas: u64) -> Option<f64> {
        per_saga(self.statements()? as f64, sagas)
    }

    pub fn statements_per_s(&self) -> Option<f64> {
        Some(self.statements()? as f64 / self.window_s)
    }

    pub fn deliveries_per_s_json(&self) -> Value {
        json!(self.deliveries_per_s().map(round3))
    }

    pub fn to_json(&self, sagas: u64) -> Value {
        let rabbit = match &self.rabbit {
            Ok(span) => {
                let seconds = (span.after.at_unix_us - span.before.at_unix_us) as f64 / 1e6;
                let delta = |kind: &str, counter: &str| {
                    span.after.get(kind, counter) - span.before.get(kind, counter)
                };
                let by_type: serde_json::Map<String, Value> = span
                    .after
                    .queue_types()
                    .into_iter()
                    .map(|kind| {
                        let delivered = delta(&kind, "messages_delivered_total");
                        (kind, json!(delivered))
                    })
                    .collect();
                let sum_delta = |counter: &str| {
                    span.after.sum_over_types(counter) - span.before.sum_over_types(counter)
                };
                json!({
                    "span_s": round3(seconds),
                    "delivered_by_queue_type": by_type,
                    "delivered_to_saga_bench": span.own_deliveries,
                    "deliveries_per_s": self.deliveries_per_s().map(round3),
                    "deliveries_per_saga": self.deliveries_per_saga(sagas).map(round3),
                    "published": delta("all", "messages_received_total"),
                    "routed": delta("all", "messages_routed_total"),
                    "acknowledged": sum_delta("messages_acknowledged_total"),
                    "redelivered": sum_delta("messages_redelivered_total"),
                    "basic_get_empty": sum_delta("messages_get_empty_total"),
                })
            }
            Err(why) => json!({ "unavailable": why }),
        };
        let scans = (self.pg_after.seq_scans - self.pg_before.seq_scans)
            + (self.pg_after.idx_scans - self.pg_before.idx_scans);
        let rows_written = self.pg_after.rows_written - self.pg_before.rows_written;
        let statements = match (&self.pg_before.statements, &self.pg_after.statements) {
            (Ok(_), Ok(_)) => json!({
                "calls": self.statements(),
                "per_saga": self.statements_per_saga(sagas).map(round3),
                "per_s": self.statements_per_s().map(round3),
            }),
            (Err(why), _) | (_, Err(why)) => json!({ "unavailable": why }),
        };
        json!({
            "rabbitmq": rabbit,
            "pg_stat_statements": statements,
            "stack_tables": {
                "rows_written": rows_written,
                "rows_written_per_saga": per_saga(rows_written as f64, sagas).map(round3),
                "scans": scans,
                "scans_per_saga": per_saga(scans as f64, sagas).map(round3),
            },
        })
    }
}

fn per_saga(count: f64, sagas: u64) -> Option<f64> {
    (sagas > 0).then(|| count / sagas as f64)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const OUTPUT: &str = "t 1700000000000000
[{protocol,amqp091}] messages_received_total 9985
[{protocol,amqp091}] messages_routed_total 25441
[{protocol,amqp091},{queue_type,rabbit_classic_queue}] messages_delivered_total 7
[{protocol,amqp091},{queue_type,rabbit_quorum_queue}] messages_delivered_total 10111
[{protocol,amqp091},{queue_type,rabbit_quorum_queue}] messages_get_empty_total 7804
[{protocol,amqp091},{queue_type,rabbit_stream_queue}] messages_delivered_total 215
[{queue_type,rabbit_quorum_queue},{dead_letter_strategy,at_least_once}] messages_dead_lettered_confirmed_total 3
ok
";

    #[test]
    fn global_counters_are_read_by_queue_type() {
        let counters = RabbitCounters::parse(OUTPUT).unwrap();
        assert_eq!(counters.at_unix_us, 1_700_000_000_000_000);
        assert_eq!(counters.get("all", "messages_routed_total"), 25_441);
        assert_eq!(counters.get("quorum", "messages_delivered_total"), 10_111);
        assert_eq!(counters.delivered_total(), Some(10_333));
        assert_eq!(counters.queue_types(), ["classic", "quorum", "stream"]);
        assert_eq!(counters.sum_over_types("messages_get_empty_total"), 7_804);
        assert!(RabbitCounters::parse("Error: unable to connect").is_err());
    }

    #[test]
    fn deliveries_are_normalised_to_the_window() {
        let before = RabbitCounters::parse(OUTPUT).unwrap();
        let mut after = before.clone();
        // 2 s between the readings, 1000 deliveries, 100 of them ours.
        after.at_unix_us += 2_000_000;
        *after
            .values
            .get_mut(&("quorum".to_owned(), "messages_delivered_total".to_owned()))
            .unwrap() += 1_000;
        let pg = PgWork {
            statements: Err("off".to_owned()),
            seq_scans: 0,
            idx_scans: 0,
            rows_written: 0,
        };
        let delta = WorkDelta::new(
            Duration::from_secs(1),
            Ok(RabbitSpan {
                before,
                after,
                own_deliveries: 100,
            }),
            pg.clone(),
            pg,
        );
        // 450 deliveries/s; over the 1 s window, 50 sagas: 9 per saga.
        assert_eq!(delta.deliveries_per_saga(50), Some(9.0));
        assert_eq!(delta.statements_per_saga(50), None);
    }

    #[test]
    fn amqp_hosts_are_found() {
        assert_eq!(
            amqp_host("amqp://guest:guest@127.0.0.1:5672/%2f").as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(
            amqp_host("amqps://Rabbit.example:5671").as_deref(),
            Some("rabbit.example")
        );
        assert_eq!(
            amqp_host("amqp://u:p@[::1]:5672/").as_deref(),
            Some("[::1]")
        );
        assert_eq!(amqp_host("nonsense"), None);
    }
}
