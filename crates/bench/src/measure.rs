//! Clocks, percentiles and CPU accounting shared by the phases.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde_json::{Value, json};

/// Wall-clock microseconds derived from the monotonic clock: one
/// `(Instant, SystemTime)` anchor taken at start-up, so in-process
/// differences are exact (no NTP steps) while still comparable with
/// timestamps from other processes on the same host (Postgres'
/// `clock_timestamp()`), after the offset [`db_clock_offset_us`] measured.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    anchor: Instant,
    anchor_unix_us: i64,
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock {
    pub fn new() -> Self {
        let anchor = Instant::now();
        let anchor_unix_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| {
                i64::try_from(since.as_micros()).unwrap_or(i64::MAX)
            });
        Self {
            anchor,
            anchor_unix_us,
        }
    }

    pub fn now_us(&self) -> i64 {
        self.at_us(Instant::now())
    }

    pub fn at_us(&self, instant: Instant) -> i64 {
        let since = instant.saturating_duration_since(self.anchor);
        self.anchor_unix_us + i64::try_from(since.as_micros()).unwrap_or(i64::MAX)
    }
}

/// `SELECT clock_timestamp()` in microseconds since the epoch.
pub const DB_NOW_US_SQL: &str =
    "SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::int8 AS now_us";

/// The Postgres clock minus [`Clock`], in microseconds: of 25 round trips,
/// the one with the shortest round trip, its server time against the middle
/// of the round trip (the NTP estimate; its error is at most half that
/// round trip). About zero when Postgres runs on this host.
pub async fn db_clock_offset_us(
    db: &DatabaseConnection,
    clock: &Clock,
) -> anyhow::Result<(i64, i64)> {
    let mut best: Option<(i64, i64)> = None;
    for _ in 0..25 {
        let before = clock.now_us();
        let row = db
            .query_one_raw(Statement::from_string(DbBackend::Postgres, DB_NOW_US_SQL))
            .await?
            .context("clock_timestamp() returned no row")?;
        let after = clock.now_us();
        let server: i64 = row.try_get("", "now_us")?;
        let round_trip = after - before;
        let offset = server - (before + after) / 2;
        if best.is_none_or(|(_, best_round_trip)| round_trip < best_round_trip) {
            best = Some((offset, round_trip));
        }
    }
    best.context("no clock sample")
}

/// Percentiles of a set of durations in microseconds (nearest rank).
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub count: usize,
    pub min_us: i64,
    pub p50_us: i64,
    pub p90_us: i64,
    pub p99_us: i64,
    pub p999_us: i64,
    pub max_us: i64,
    pub mean_us: f64,
}

impl Summary {
    pub fn of(mut samples: Vec<i64>) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        samples.sort_unstable();
        let rank = |quantile: f64| {
            let index = (quantile * samples.len() as f64).ceil() as usize;
            samples[index.clamp(1, samples.len()) - 1]
        };
        let sum: i128 = samples.iter().map(|&sample| i128::from(sample)).sum();
        Self {
            count: samples.len(),
            min_us: samples[0],
            p50_us: rank(0.50),
            p90_us: rank(0.90),
            p99_us: rank(0.99),
            p999_us: rank(0.999),
            max_us: samples[samples.len() - 1],
            mean_us: sum as f64 / samples.len() as f64,
        }
    }

    pub fn to_json_ms(&self) -> Value {
        json!({
            "count": self.count,
            "min": ms(self.min_us),
            "p50": ms(self.p50_us),
            "p90": ms(self.p90_us),
            "p99": ms(self.p99_us),
            "p999": ms(self.p999_us),
            "max": ms(self.max_us),
            "mean": round3(self.mean_us / 1000.0),
        })
    }
}

/// The machine's online cores, whatever this process's CPU affinity
/// (`registry-bench --cpus split` pins the load generator to some of them).
pub fn machine_cores() -> usize {
    std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|list| count_cpu_list(list.trim()))
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get))
}

/// Counts a kernel CPU list such as `0-3,6,8-9`.
fn count_cpu_list(list: &str) -> Option<usize> {
    list.split(',').try_fold(0, |count, range| {
        let added = match range.split_once('-') {
            Some((first, last)) => last.parse::<usize>().ok()? + 1 - first.parse::<usize>().ok()?,
            None => {
                range.parse::<usize>().ok()?;
                1
            }
        };
        Some(count + added)
    })
}

pub fn ms(micros: i64) -> f64 {
    round3(micros as f64 / 1000.0)
}

pub fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

pub fn round1(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

/// Operations per second.
pub fn rate(count: u64, elapsed: Duration) -> f64 {
    if elapsed.is_zero() {
        return 0.0;
    }
    count as f64 / elapsed.as_secs_f64()
}

/// Postgres processes by role, from `pg_stat_activity`: this run's
/// sessions (tagged with the schema as `application_name`) and other
/// clients' sessions (other test suites on a shared server). Refreshed by
/// [`classify_postgres_backends`] before each phase; read by
/// [`CpuSnapshot::take`].
#[derive(Default)]
struct PostgresRoles {
    own: std::collections::HashSet<u32>,
    other_clients: std::collections::HashSet<u32>,
    /// Backends with a group of their own, by `application_name` (saga-bench:
    /// one group per service).
    named: std::collections::HashMap<u32, &'static str>,
}

/// Commands of this process' children that count as a group of their own
/// (saga-bench: the service binaries), see [`group_child_processes`].
static CHILD_GROUPS: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();

/// Makes each child process of this one whose command is in `commands`
/// a CPU group of its own, named by its command (relay-bench never calls it).
/// `/proc` truncates commands to 15 bytes: so must the entries.
pub fn group_child_processes(commands: &[&'static str]) {
    let _ = CHILD_GROUPS.set(commands.to_vec());
}

fn postgres_roles() -> &'static std::sync::Mutex<PostgresRoles> {
    static ROLES: std::sync::OnceLock<std::sync::Mutex<PostgresRoles>> = std::sync::OnceLock::new();
    ROLES.get_or_init(Default::default)
}

/// Learns which Postgres backends are this run's (application_name =
/// `schema`) and which serve other clients; the rest (postmaster, WAL
/// writer, checkpointer, autovacuum...) count as shared Postgres work.
/// Only works when Postgres runs on this host (else every group is empty).
pub async fn classify_postgres_backends(
    db: &DatabaseConnection,
    schema: &str,
) -> anyhow::Result<()> {
    classify_postgres_backends_with(db, schema, &[]).await
}

/// Like [`classify_postgres_backends`], and backends whose
/// `application_name` is one of `named`'s names count as that name's group.
pub async fn classify_postgres_backends_with(
    db: &DatabaseConnection,
    schema: &str,
    named: &[(String, &'static str)],
) -> anyhow::Result<()> {
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT pid, coalesce(application_name, '') AS application_name \
             FROM pg_stat_activity WHERE backend_type = 'client backend'",
        ))
        .await?;
    let mut roles = PostgresRoles::default();
    for row in rows {
        let pid: i32 = row.try_get("", "pid")?;
        let application_name: String = row.try_get("", "application_name")?;
        let Ok(pid) = u32::try_from(pid) else {
            continue;
        };
        if let Some((_, group)) = named.iter().find(|(name, _)| *name == application_name) {
            roles.named.insert(pid, group);
        } else if application_name == schema {
            roles.own.insert(pid);
        } else {
            roles.other_clients.insert(pid);
        }
    }
    *postgres_roles()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = roles;
    Ok(())
}

/// Linux clock ticks per second (`USER_HZ`), fixed at 100 on every
/// mainstream architecture; `/proc` reports CPU time in these.
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU time used so far, per process group, read from `/proc`.
#[derive(Clone, Debug)]
pub struct CpuSnapshot {
    at: Instant,
    ticks_by_group: BTreeMap<&'static str, u64>,
    machine_busy_ticks: u64,
    machine_total_ticks: u64,
}

impl CpuSnapshot {
    /// This run's Postgres backends, Postgres' shared processes (WAL
    /// writer, checkpointer, autovacuum...), other clients' Postgres
    /// backends, RabbitMQ's Erlang VM, this process, and the rest of the
    /// machine (on a shared machine other builds and test suites disturb a
    /// run: it shows).
    pub fn take() -> Self {
        let own_pid = std::process::id().to_string();
        let roles = postgres_roles()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut ticks_by_group: BTreeMap<&'static str, u64> = BTreeMap::new();
        if let Ok(entries) = std::fs::read_dir("/proc") {
            for entry in entries.flatten() {
                let name = entry.file_name();
                let Some(pid) = name.to_str() else { continue };
                if !pid.bytes().all(|byte| byte.is_ascii_digit()) {
                    continue;
                }
                let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                    continue;
                };
                let Some((command, ticks)) = process_ticks(&stat) else {
                    continue;
                };
                let numeric_pid: u32 = pid.parse().unwrap_or(0);
                let child_group = CHILD_GROUPS.get().and_then(|commands| {
                    commands
                        .iter()
                        .find(|group| **group == command)
                        .filter(|_| parent_pid(&stat).is_some_and(|parent| parent == own_pid))
                });
                let group = if pid == own_pid {
                    "bench"
                } else if let Some(group) = child_group {
                    *group
                } else if command.starts_with("postgres") {
                    if let Some(group) = roles.named.get(&numeric_pid) {
                        *group
                    } else if roles.own.contains(&numeric_pid) {
                        "postgres"
                    } else if roles.other_clients.contains(&numeric_pid) {
                        "postgres_other_clients"
                    } else {
                        "postgres_shared"
                    }
                } else if command.starts_with("beam") {
                    "rabbitmq"
                } else {
                    "other"
                };
                *ticks_by_group.entry(group).or_default() += ticks;
            }
        }
        let (machine_busy_ticks, machine_total_ticks) = machine_ticks().unwrap_or((0, 0));
        Self {
            at: Instant::now(),
            ticks_by_group,
            machine_busy_ticks,
            machine_total_ticks,
        }
    }

    /// Cores `group` used since `earlier` (1.0 = one core busy).
    pub fn group_cores_since(&self, earlier: &Self, group: &str) -> f64 {
        let seconds = self.at.saturating_duration_since(earlier.at).as_secs_f64();
        if seconds <= 0.0 {
            return 0.0;
        }
        let now = self.ticks_by_group.get(group).copied().unwrap_or(0);
        let before = earlier.ticks_by_group.get(group).copied().unwrap_or(0);
        now.saturating_sub(before) as f64 / TICKS_PER_SECOND / seconds
    }

    /// Cores used by each group since `earlier` (1.0 = one core busy), the
    /// machine's busy share, and CPU milliseconds per unit of `work`.
    pub fn since(&self, earlier: &Self, work: u64) -> Value {
        let seconds = self.at.saturating_duration_since(earlier.at).as_secs_f64();
        let mut cores = serde_json::Map::new();
        let mut cpu_ms_per_1000 = serde_json::Map::new();
        for (group, ticks) in &self.ticks_by_group {
            let before = earlier.ticks_by_group.get(group).copied().unwrap_or(0);
            let used_seconds = ticks.saturating_sub(before) as f64 / TICKS_PER_SECOND;
            if seconds > 0.0 {
                cores.insert((*group).to_owned(), json!(round3(used_seconds / seconds)));
            }
            if work > 0 {
                cpu_ms_per_1000.insert(
                    (*group).to_owned(),
                    json!(round3(used_seconds * 1000.0 * 1000.0 / work as f64)),
                );
            }
        }
        let total = self
            .machine_total_ticks
            .saturating_sub(earlier.machine_total_ticks);
        let busy = self
            .machine_busy_ticks
            .saturating_sub(earlier.machine_busy_ticks);
        let machine_busy = if total > 0 {
            busy as f64 / total as f64
        } else {
            0.0
        };
        json!({
            "seconds": round3(seconds),
            "cores_used": cores,
            "machine_busy_fraction": round3(machine_busy),
            "machine_cores": machine_cores(),
            "cpu_ms_per_1000_ops": cpu_ms_per_1000,
        })
    }
}

/// `(comm, utime + stime + cutime + cstime)` from a `/proc/<pid>/stat`
/// line. The reaped children's time counts too: a compiler or test process
/// that ends between two snapshots shows up in its parent's (cargo's) delta
/// instead of vanishing. The command may hold spaces and parentheses, so
/// fields are counted from the last `)`.
fn process_ticks(stat: &str) -> Option<(String, u64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let command = stat.get(open + 1..close)?.to_owned();
    let fields: Vec<&str> = stat.get(close + 2..)?.split_whitespace().collect();
    // After the command: state is field 3 (index 0 here); utime 14, stime
    // 15, cutime 16, cstime 17.
    let mut ticks = 0_u64;
    for index in 11..=14 {
        let value: i64 = fields.get(index)?.parse().ok()?;
        ticks += u64::try_from(value).unwrap_or(0);
    }
    Some((command, ticks))
}

/// The parent's pid (field 4) of a `/proc/<pid>/stat` line.
fn parent_pid(stat: &str) -> Option<&str> {
    let close = stat.rfind(')')?;
    stat.get(close + 2..)?.split_whitespace().nth(1)
}

/// What the rest of the machine (not Postgres, RabbitMQ or this process)
/// uses during one second before the run: on a shared machine, other
/// builds and test suites skew every figure.
pub async fn background_load() -> f64 {
    let before = CpuSnapshot::take();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let cores = CpuSnapshot::take().group_cores_since(&before, "other");
    if cores > 0.25 {
        crate::progress!(
            "warning: other processes use {cores:.2} cores right now; the figures will be noisy"
        );
    }
    cores
}

/// `(busy, total)` ticks of the whole machine from `/proc/stat`.
fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|line| line.starts_with("cpu "))?;
    let values: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|value| value.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest is inside user).
    let total: u64 = values.iter().take(8).sum();
    let idle = values.get(3).copied().unwrap_or(0) + values.get(4).copied().unwrap_or(0);
    Some((total.saturating_sub(idle), total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_are_counted() {
        assert_eq!(count_cpu_list("0"), Some(1));
        assert_eq!(count_cpu_list("0-1"), Some(2));
        assert_eq!(count_cpu_list("0-3,6,8-9"), Some(7));
        assert_eq!(count_cpu_list("x"), None);
        assert!(machine_cores() >= 1);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let summary = Summary::of((1..=100).rev().collect());
        assert_eq!(summary.count, 100);
        assert_eq!(summary.min_us, 1);
        assert_eq!(summary.p50_us, 50);
        assert_eq!(summary.p90_us, 90);
        assert_eq!(summary.p99_us, 99);
        assert_eq!(summary.max_us, 100);
        assert!((summary.mean_us - 50.5).abs() < 1e-9);
        assert_eq!(Summary::of(vec![7]).p99_us, 7);
        assert_eq!(Summary::of(Vec::new()).count, 0);
    }

    #[test]
    fn proc_stat_lines_with_odd_commands_are_read() {
        let line = "1234 (tokio (worker) 1) S 1 2 3 4 5 6 7 8 9 10 250 50 7 3 20 0 4";
        assert_eq!(
            process_ticks(line),
            Some(("tokio (worker) 1".to_owned(), 310))
        );
        assert_eq!(parent_pid(line), Some("1"));
    }
}
