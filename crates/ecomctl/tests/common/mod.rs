//! What the ecomctl tests share: running the binary with a clean
//! environment, a schema holding every service's outbox table, events.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::process::Stdio;
use std::time::Duration;

use chrono::{DateTime, TimeZone as _, Utc};
use ecommerce_events::{DecodedEvent, EncodedEvent, EventMetadata, encode_decoded};
use ecommerce_outbox::{Outbox, OutboxTable, create_outbox_table};
use ecommerce_test_support::TestSchema;
use sea_orm::ConnectionTrait as _;
use tokio::process::{Child, Command};
use uuid::Uuid;

/// The services with an outbox, as ecomctl knows them: (env prefix, preset).
pub const OUTBOXES: [(&str, OutboxTable); 6] = [
    ("CATALOG", OutboxTable::CATALOG),
    ("IAM", OutboxTable::IAM),
    ("INVENTORY", OutboxTable::INVENTORY),
    ("ORDERS", OutboxTable::ORDERS),
    ("PAYMENTS", OutboxTable::PAYMENTS),
    ("FULFILLMENT", OutboxTable::FULFILLMENT),
];

/// What one run of ecomctl printed.
#[derive(Debug)]
pub struct Run {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    /// Panics with both outputs unless the run succeeded.
    pub fn ok(self) -> Self {
        assert!(
            self.success,
            "ecomctl failed:\n{}\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Panics unless the run failed; returns its `error: ...` line.
    pub fn error(self) -> String {
        assert!(!self.success, "ecomctl succeeded:\n{}", self.stdout);
        self.stderr
            .lines()
            .find(|line| line.starts_with("error: "))
            .unwrap_or_else(|| panic!("no error line in:\n{}", self.stderr))
            .to_owned()
    }
}

/// `ecomctl` with only `env` (plus the test's own `DATABASE_URL` and
/// `AMQP_URL`, when set), so nothing in the caller's shell changes it.
pub fn command(args: &[&str], env: &[(String, String)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ecomctl"));
    command.args(args).env_clear();
    for inherited in ["DATABASE_URL", "AMQP_URL", "PATH"] {
        if let Some(value) = std::env::var_os(inherited) {
            command.env(inherited, value);
        }
    }
    for (name, value) in env {
        command.env(name, value);
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Starts `ecomctl events tail ARGS` and waits until it listens (its
/// `tailing ...` line on stderr); collect it with [`finish`].
pub async fn start_tail(args: &[&str], env: &[(String, String)]) -> Child {
    use tokio::io::{AsyncBufReadExt as _, BufReader};
    let mut all = vec!["events", "tail"];
    all.extend_from_slice(args);
    let mut child = command(&all, env).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("the tail starts within 20 s")
        .unwrap()
        .unwrap_or_default();
    assert!(first.starts_with("tailing "), "{first}");
    // The rest of stderr is not needed; keep the pipe drained.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    child
}

/// Runs ecomctl to its end (at most two minutes).
pub async fn ecomctl(args: &[&str], env: &[(String, String)]) -> Run {
    let child = command(args, env).spawn().expect("ecomctl starts");
    finish(child).await
}

/// Waits for a started ecomctl and collects its output.
pub async fn finish(child: Child) -> Run {
    let output = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("ecomctl ends within two minutes")
        .expect("ecomctl output");
    let run = Run {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    // Shown for a failing test (or with --nocapture).
    eprintln!(
        "---- ecomctl stdout ----\n{}---- ecomctl stderr ----\n{}",
        run.stdout, run.stderr
    );
    run
}

/// Runs ecomctl with a terminal as its standard input (through
/// util-linux `script`), typing `input`; `None` when `script` is missing.
pub async fn ecomctl_on_terminal(
    args: &[&str],
    env: &[(String, String)],
    input: &str,
) -> Option<Run> {
    use tokio::io::AsyncWriteExt as _;
    let script_exists = std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    if !script_exists {
        eprintln!("util-linux `script` is missing: the terminal path is not tested");
        return None;
    }
    let mut line = env!("CARGO_BIN_EXE_ecomctl").to_owned();
    for arg in args {
        line.push(' ');
        line.push_str(arg);
    }
    let mut command = Command::new("script");
    command.args(["-qec", &line, "/dev/null"]).env_clear();
    for inherited in ["DATABASE_URL", "AMQP_URL", "PATH", "TERM"] {
        if let Some(value) = std::env::var_os(inherited) {
            command.env(inherited, value);
        }
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("script starts");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).await.unwrap();
    drop(stdin);
    Some(finish(child).await)
}

/// `(name, value)` pairs.
pub fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

/// A loopback port nobody listens on (bound, then released).
pub fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A fresh schema with every service's outbox table in it.
pub struct Outboxes {
    pub schema: TestSchema,
}

impl Outboxes {
    pub async fn create(hint: &str) -> Self {
        let schema = TestSchema::create(hint).await.unwrap();
        for (_, preset) in OUTBOXES {
            create_outbox_table(schema.db(), &preset.in_schema(schema.name()).unwrap())
                .await
                .unwrap();
        }
        Self { schema }
    }

    /// `<PREFIX>_DB_SCHEMA` of every service: this schema.
    pub fn env(&self) -> Vec<(String, String)> {
        OUTBOXES
            .iter()
            .map(|(prefix, _)| (format!("{prefix}_DB_SCHEMA"), self.schema.name().to_owned()))
            .collect()
    }

    /// The outbox of the service with env prefix `prefix`.
    pub fn outbox(&self, prefix: &str) -> Outbox {
        let (_, preset) = OUTBOXES
            .into_iter()
            .find(|(known, _)| *known == prefix)
            .unwrap();
        Outbox::new(preset.in_schema(self.schema.name()).unwrap(), "unused")
    }

    /// Writes an event of `event_type` (empty payload) to `prefix`'s outbox.
    pub async fn write(&self, prefix: &str, event_type: &str, metadata: EventMetadata) -> Uuid {
        let event = empty_event(event_type);
        self.outbox(prefix)
            .enqueue_event(self.schema.db(), &event, metadata)
            .await
            .unwrap()
    }

    /// Runs `sql` (with `{table}` standing for `prefix`'s outbox table).
    pub async fn execute(&self, prefix: &str, sql: &str) {
        let table = self.outbox(prefix).table().qualified();
        self.schema
            .db()
            .execute_unprepared(&sql.replace("{table}", &table))
            .await
            .unwrap();
    }

    /// Marks row `id` published `after_ms` after it occurred.
    pub async fn mark_published(&self, prefix: &str, id: Uuid, after_ms: i64) {
        self.execute(
            prefix,
            &format!(
                "UPDATE {{table}} SET status = 'published', attempts = 1, \
                 published_at = occurred_at + interval '{after_ms} milliseconds' WHERE id = '{id}'"
            ),
        )
        .await;
    }

    /// Marks row `id` failed after `attempts` attempts.
    pub async fn mark_failed(&self, prefix: &str, id: Uuid, attempts: i32) {
        self.execute(
            prefix,
            &format!(
                "UPDATE {{table}} SET status = 'failed', attempts = {attempts}, \
                 last_error = 'the broker returned the message as unroutable: 312 NO_ROUTE' \
                 WHERE id = '{id}'"
            ),
        )
        .await;
    }

    pub async fn count(&self, prefix: &str, condition: &str) -> i64 {
        let table = self.outbox(prefix).table().qualified();
        self.schema
            .count(&format!(
                "SELECT count(*) AS n FROM {table} WHERE {condition}"
            ))
            .await
    }

    pub async fn drop(self) {
        self.schema.drop_schema().await.unwrap();
    }
}

/// An event of `event_type` with an empty payload.
pub fn empty_event(event_type: &str) -> DecodedEvent {
    DecodedEvent::decode_payload(event_type, &[])
        .unwrap_or_else(|| panic!("{event_type} is a compiled event type"))
        .unwrap()
}

/// 2026-03-01T10:00:00Z plus `millis`.
pub fn at(millis: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap() + chrono::Duration::milliseconds(millis)
}

/// Metadata about `aggregate_type`/`aggregate_id` at [`at`]`(millis)`.
pub fn metadata(
    aggregate_type: &str,
    aggregate_id: &str,
    millis: i64,
    correlation: &str,
    causation: Option<Uuid>,
) -> EventMetadata {
    let mut metadata =
        EventMetadata::new(aggregate_type, aggregate_id).with_correlation_id(correlation);
    if let Some(causation) = causation {
        metadata = metadata.with_causation_id(causation.to_string());
    }
    metadata.occurred_at = at(millis);
    metadata
}

/// An encoded event of `event_type` (empty payload).
pub fn encoded(event_type: &str, metadata: &EventMetadata) -> EncodedEvent {
    encode_decoded(&empty_event(event_type), metadata)
}
