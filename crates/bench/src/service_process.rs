//! One service binary as a process of its own, as `ecommerce_e2e::Stack`
//! launches the whole saga but for a single service: on a free loopback
//! port, with the environment the caller gives it, its output in a log
//! file, ready once its API answers health SERVING; stopped with SIGTERM
//! (SIGKILL after a grace period), and SIGKILLed when dropped, so an error
//! or an interrupted run leaves no process behind.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use ecommerce_test_support::{ServingStatus, health_check};
use tokio::process::{Child, Command};
use tonic::transport::{Channel, Endpoint};

/// How long a stopped service gets to drain before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Variables a service must not inherit from the benchmark's shell: the
/// per-name topology variables would bypass the topology prefix's
/// isolation, and traces are not exported from a benchmark.
pub const INHERITED_VARIABLES_REMOVED: [&str; 4] = [
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "UNROUTED_EXCHANGE",
    "UNROUTED_QUEUE",
    "DEAD_LETTER_EXCHANGE",
];

/// What to start.
#[derive(Clone, Debug)]
pub struct ServiceLaunch {
    /// The binary's file name, e.g. `schema-registry` (also the name of its
    /// log file and its command in `/proc`).
    pub binary: &'static str,
    /// The directory holding it (see [`ecommerce_e2e::stack::bin_dir`]).
    pub bin_dir: PathBuf,
    /// The gRPC service whose health must be SERVING: the API's, not the
    /// server's, so another process that took the port is not mistaken for it.
    pub health_service: &'static str,
    /// Variables set on top of the inherited environment.
    pub env: Vec<(String, String)>,
    /// Variables removed from the inherited environment.
    pub env_removed: Vec<String>,
    /// The directory of the log file `<binary>.log`.
    pub log_dir: PathBuf,
    /// The cores it may run on, as `taskset -c` takes them (`1`, `0-2`);
    /// `None` for anywhere.
    pub cpus: Option<String>,
    pub ready_timeout: Duration,
}

/// Pins every thread of this process (and the threads it starts later) to
/// `cpus` (`taskset -c` syntax). Call it before starting any runtime.
pub fn pin_this_process(cpus: &str) -> anyhow::Result<()> {
    let status = std::process::Command::new("taskset")
        .args(["-a", "-p", "-c", cpus, &std::process::id().to_string()])
        .stdout(Stdio::null())
        .status()
        .context("cannot run taskset (util-linux)")?;
    if !status.success() {
        bail!("taskset -a -p -c {cpus} failed with {status}");
    }
    Ok(())
}

/// A started service; see the module documentation.
#[derive(Debug)]
pub struct ServiceProcess {
    binary: &'static str,
    child: Child,
    pid: u32,
    addr: SocketAddr,
    log_path: PathBuf,
}

impl ServiceProcess {
    /// Starts `launch.binary` listening on `addr` (its `<PREFIX>_GRPC_ADDR`
    /// must be among `launch.env`) and waits until it answers health SERVING
    /// for `launch.health_service`.
    pub async fn start(launch: &ServiceLaunch, addr: SocketAddr) -> anyhow::Result<Self> {
        let binary_path = launch.bin_dir.join(launch.binary);
        if !binary_path.is_file() {
            bail!(
                "{} is missing: build it first (`cargo build --release -p {}`), or point {} at \
                 its directory",
                binary_path.display(),
                launch.binary,
                ecommerce_e2e::stack::BIN_DIR_VAR
            );
        }
        std::fs::create_dir_all(&launch.log_dir)
            .with_context(|| format!("cannot create {}", launch.log_dir.display()))?;
        let log_path = launch.log_dir.join(format!("{}.log", launch.binary));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("cannot open {}", log_path.display()))?;
        // taskset execs the binary: the pid and /proc/<pid>/comm are the service's.
        let mut command = match &launch.cpus {
            Some(cpus) => {
                let mut command = Command::new("taskset");
                command.arg("-c").arg(cpus).arg(&binary_path);
                command
            }
            None => Command::new(&binary_path),
        };
        for name in &launch.env_removed {
            command.env_remove(name);
        }
        command.envs(launch.env.iter().map(|(name, value)| (name, value)));
        command
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {}", binary_path.display()))?;
        let pid = child.id().unwrap_or_default();
        let mut process = Self {
            binary: launch.binary,
            child,
            pid,
            addr,
            log_path,
        };
        process
            .wait_ready(launch.health_service, launch.ready_timeout)
            .await?;
        Ok(process)
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The last `lines` lines of the log.
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.log_path, lines)
    }

    /// Whether the process is still alive.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM (the service drains and closes), SIGKILL after 10 s; reaped.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let signalled = std::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .stderr(Stdio::null())
            .status();
        if signalled.is_ok_and(|status| status.success())
            && tokio::time::timeout(STOP_GRACE, self.child.wait())
                .await
                .is_ok()
        {
            return Ok(());
        }
        self.child.start_kill().ok();
        self.child
            .wait()
            .await
            .with_context(|| format!("cannot reap {}", self.binary))?;
        Ok(())
    }

    async fn wait_ready(
        &mut self,
        health_service: &str,
        ready_timeout: Duration,
    ) -> anyhow::Result<()> {
        let channel: Channel = Endpoint::from_shared(self.url())?
            .connect_timeout(Duration::from_secs(2))
            .connect_lazy();
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} exited with {status} before it was ready; its log ({}) ends with:\n{}",
                    self.binary,
                    self.log_path.display(),
                    self.log_tail(30)
                );
            }
            let check = tokio::time::timeout(
                Duration::from_secs(2),
                health_check(channel.clone(), health_service),
            )
            .await;
            if let Ok(Ok(ServingStatus::Serving)) = check {
                return Ok(());
            }
            if started.elapsed() > ready_timeout {
                bail!(
                    "{} not SERVING {health_service} after {ready_timeout:?}; its log ({}) ends with:\n{}",
                    self.binary,
                    self.log_path.display(),
                    self.log_tail(30)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_log_tail_keeps_the_last_lines() {
        let dir = std::env::temp_dir().join(format!("bench-log-tail-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.log");
        std::fs::write(&path, "a\nb\nc\n").unwrap();
        assert_eq!(log_tail(&path, 2), "b\nc");
        assert_eq!(log_tail(&path, 10), "a\nb\nc");
        assert_eq!(log_tail(&dir.join("missing.log"), 3), "");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
