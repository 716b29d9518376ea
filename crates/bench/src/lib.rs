//! The benchmarks' shared code: `relay-bench` (the messaging backbone:
//! commit limit, outbox writes, relay, broker), `saga-bench` (the whole
//! checkout saga across the service processes) and `registry-bench` (the
//! schema registry's RPCs, dynamic against typed decoding). See
//! `scripts/bench`.

pub mod args;
pub mod env;
pub mod latency;
pub mod measure;
pub mod publish;
pub mod registry;
pub mod relay;
pub mod report;
pub mod saga;
pub mod service_process;
pub mod workload;
pub mod writes;

/// The name progress lines start with: the running benchmark's.
static PROGRESS_NAME: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();

/// The end of every benchmark's `main`: runs `work` on a multi-threaded
/// runtime and turns its outcome into the exit code (errors on stderr,
/// after `name`). Tasks still parked when it ends (relays or consumers of
/// an interrupted run) get 2 s, not forever.
pub fn run_to_exit_code(
    name: &str,
    work: impl std::future::Future<Output = anyhow::Result<()>>,
) -> std::process::ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("{name}: cannot start the runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(work);
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{name}: error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Names the running benchmark in progress lines (default `relay-bench`).
pub fn set_progress_name(name: &'static str) {
    let _ = PROGRESS_NAME.set(name);
}

#[doc(hidden)]
pub fn progress_name() -> &'static str {
    PROGRESS_NAME.get().copied().unwrap_or("relay-bench")
}

/// Logs to stderr under `RUST_LOG`, else `default_filter`. Both benchmarks
/// quiet sqlx's slow-acquire warnings (an overloaded pool is what an
/// open-loop phase may measure) and Postgres notices by default.
pub fn init_tracing(default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Progress on stderr (stdout carries the table and the JSON line).
#[macro_export]
macro_rules! progress {
    ($($argument:tt)*) => {
        eprintln!("{}: {}", $crate::progress_name(), format_args!($($argument)*))
    };
}
