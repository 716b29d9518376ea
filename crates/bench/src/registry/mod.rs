//! `registry-bench`: the schema registry as a process of its own.
//!
//! One run:
//!
//! 1. the schema-registry release binary on a free loopback port, on a
//!    fresh schema `t_bench_<run>_*` (it migrates it) and the topology
//!    prefix `bench-<run>.` (it publishes nothing, but its runtime connects
//!    to the broker and declares the topology), ready once its API answers
//!    health SERVING;
//! 2. the schema of every event type registered once (what the producers
//!    do at start-up), their ids recorded;
//! 3. RegisterSchema of an already registered schema: N callers in a
//!    closed loop (calls/s), then an open loop at F x that (latency);
//! 4. GetSchema by id: the same two phases, and the open loop again at a
//!    low load (0.1 x capacity: the latency floor);
//! 5. decoding the checkout saga's envelopes on one thread: typed,
//!    dynamic (schema cache warmed), dynamic + JSON.
//!
//! The registry is stopped and the schema and topology removed at the end,
//! also on error or SIGINT/SIGTERM (`registry-bench cleanup --run-id ID`
//! after a SIGKILL). Progress on stderr; a table, then one JSON line (last)
//! on stdout.

pub mod args;
pub mod decode;
pub mod load;
pub mod report;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use ecommerce_broker::topology::TOPOLOGY_PREFIX_VAR;
use ecommerce_events::EVENT_TYPES;
use ecommerce_proto::ecommerce::registry::v1 as registry_pb;
use ecommerce_runtime::schemas::{EventSchema, SCHEMA_REGISTRY_URL_VAR};
use ecommerce_test_support::TestSchema;
use secrecy::ExposeSecret as _;
use tonic::transport::{Channel, Endpoint};

use crate::env::{self, Resources};
use crate::measure;
use crate::progress;
use crate::service_process::{self, ServiceLaunch, ServiceProcess};

use self::args::{Channels, Command, Cpus, RegistryArgs};
use self::decode::Path;
use self::load::{Client, CpuProbe, Registered, Rpc, Window, Workload};
use self::report::{DecodeResult, Report, RpcResult};

/// The binary, also its CPU group ([`load::REGISTRY_GROUP`]).
const REGISTRY_BINARY: &str = "schema-registry";
/// The registry's variables prefix.
const ENV_PREFIX: &str = "SCHEMA_REGISTRY";
/// The low load GetSchema's latency is also measured at (the floor), as a
/// fraction of its capacity.
const LOW_LOAD_FRACTION: f64 = 0.1;
/// How long one call may take before it counts as failed.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

pub fn main() -> std::process::ExitCode {
    crate::set_progress_name("registry-bench");
    // lapin logs a 404 at ERROR for every passive existence check the
    // topology removal makes.
    crate::init_tracing(
        "warn,sqlx::pool::acquire=error,sqlx::postgres::notice=error,lapin::channel=off",
    );
    let command = match args::parse(std::env::args().skip(1)) {
        Ok(command) => command,
        Err(error) => {
            eprintln!("registry-bench: {error:#}");
            return std::process::ExitCode::from(2);
        }
    };
    if let Command::Run(args) = &command
        && args.cpus == Cpus::Split
        && let Err(error) = service_process::pin_this_process(&generator_cpus())
    {
        eprintln!("registry-bench: {error:#}");
        return std::process::ExitCode::FAILURE;
    }
    crate::run_to_exit_code("registry-bench", async move {
        match command {
            Command::Help => {
                println!("{}", args::USAGE);
                Ok(())
            }
            Command::Cleanup { run_id } => env::cleanup_run(&run_id).await,
            Command::Run(args) => run(args).await,
        }
    })
}

/// `--cpus split`: the registry gets the last core...
fn registry_cpu() -> String {
    (cores() - 1).to_string()
}

/// ...and the load generator every other one.
fn generator_cpus() -> String {
    match cores() {
        0..=2 => "0".to_owned(),
        cores => format!("0-{}", cores - 2),
    }
}

fn cores() -> usize {
    measure::machine_cores()
}

/// Runs the phases; stops the registry and removes the schema and the
/// topology whatever happened (an error, or SIGINT/SIGTERM).
async fn run(args: RegistryArgs) -> anyhow::Result<()> {
    measure::group_child_processes(&[REGISTRY_BINARY]);
    let mut resources = Resources::new(&args.run_id)?;
    let log_dir = std::env::temp_dir().join(format!("registry-bench-{}", args.run_id));
    progress!(
        "run {}: clients={} channels={} cpus={} warmup={:.1}s duration={:.1}s load-fraction={}{}",
        args.run_id,
        args.clients,
        args.channels.name(),
        args.cpus.name(),
        args.warmup.as_secs_f64(),
        args.duration.as_secs_f64(),
        args.load_fraction,
        if args.quick { " (quick)" } else { "" }
    );
    let mut registry: Option<ServiceProcess> = None;
    let outcome = tokio::select! {
        outcome = phases(&args, &mut resources, &mut registry, &log_dir) => outcome,
        () = ecommerce_platform::shutdown::shutdown_signal() => {
            Err(anyhow::anyhow!("interrupted"))
        }
    };
    progress!("cleaning up");
    let stopped = match registry.take() {
        Some(process) => {
            let tail = process.log_tail(20);
            if outcome.is_err() && !tail.is_empty() {
                progress!(
                    "the registry's log ({}) ends with:\n{tail}",
                    process.log_path().display()
                );
            }
            process.stop().await
        }
        None => Ok(()),
    };
    let removed = resources.remove().await;
    if outcome.is_ok() {
        std::fs::remove_dir_all(&log_dir).ok();
    } else {
        progress!("the registry's log stays in {}", log_dir.display());
    }
    let report = outcome?;
    stopped.context("stopping the registry")?;
    removed?;
    report.print();
    Ok(())
}

/// The registry's environment: its address, schema and topology prefix;
/// registration and tokens need nothing (it registers no schema of its own,
/// and reads carry no token).
fn registry_launch(
    resources: &Resources,
    schema: &TestSchema,
    log_dir: PathBuf,
    addr: std::net::SocketAddr,
    cpus: Cpus,
) -> anyhow::Result<ServiceLaunch> {
    let prefix = env::amqp_prefix(&resources.run_id);
    let service_log =
        std::env::var(ecommerce_e2e::stack::SERVICE_LOG_VAR).unwrap_or_else(|_| "warn".to_owned());
    let env = vec![
        (format!("{ENV_PREFIX}_GRPC_ADDR"), addr.to_string()),
        // Beside a running stack the default metrics port may be taken.
        (format!("{ENV_PREFIX}_METRICS_ADDR"), "off".to_owned()),
        // Tagged with the schema: its backends are told apart in the CPU
        // figures, and dropping the schema ends its sessions.
        ("DATABASE_URL".to_owned(), schema.application_url()),
        (format!("{ENV_PREFIX}_DB_SCHEMA"), schema.name().to_owned()),
        (
            "AMQP_URL".to_owned(),
            resources.settings.amqp_url.expose_secret().to_owned(),
        ),
        (TOPOLOGY_PREFIX_VAR.to_owned(), prefix.clone()),
        (
            "AMQP_CONNECTION_NAME".to_owned(),
            format!("{prefix}{REGISTRY_BINARY}"),
        ),
        (SCHEMA_REGISTRY_URL_VAR.to_owned(), "off".to_owned()),
        // Nothing listens there: only admin calls would need IAM's keys.
        ("IAM_GRPC_URL".to_owned(), "http://127.0.0.1:9".to_owned()),
        ("RUST_LOG".to_owned(), service_log),
    ];
    let mut env_removed: Vec<String> = service_process::INHERITED_VARIABLES_REMOVED
        .iter()
        .map(|name| (*name).to_owned())
        .collect();
    // Would win over DATABASE_URL, losing the tag.
    env_removed.push(format!("{ENV_PREFIX}_DATABASE_URL"));
    Ok(ServiceLaunch {
        binary: REGISTRY_BINARY,
        bin_dir: ecommerce_e2e::stack::bin_dir()?,
        health_service: registry_pb::schema_registry_service_server::SERVICE_NAME,
        env,
        env_removed,
        log_dir,
        ready_timeout: Duration::from_secs(60),
        cpus: match cpus {
            Cpus::Split => Some(registry_cpu()),
            Cpus::Shared => None,
        },
    })
}

/// `SCHEMA_REGISTRY_*` variables of this environment the registry inherits
/// (those [`registry_launch`] sets or removes excepted).
fn registry_knobs(launch: &ServiceLaunch) -> Vec<(String, String)> {
    let mut knobs: Vec<(String, String)> = std::env::vars()
        .filter(|(name, _)| {
            name.starts_with(&format!("{ENV_PREFIX}_"))
                && !launch.env.iter().any(|(set, _)| set == name)
                && !launch.env_removed.contains(name)
        })
        .collect();
    knobs.sort();
    knobs
}

/// N channels (one per caller) or one shared by all, each call with a timeout.
fn clients(url: &str, count: usize, mode: Channels) -> anyhow::Result<Vec<Client>> {
    let channel = || -> anyhow::Result<Channel> {
        Ok(Endpoint::from_shared(url.to_owned())?
            .connect_timeout(Duration::from_secs(2))
            .timeout(CALL_TIMEOUT)
            .connect_lazy())
    };
    match mode {
        Channels::PerClient => (0..count).map(|_| channel().map(Client::new)).collect(),
        Channels::Shared => {
            let shared = Client::new(channel()?);
            Ok(vec![shared; count])
        }
    }
}

async fn phases(
    args: &RegistryArgs,
    resources: &mut Resources,
    registry: &mut Option<ServiceProcess>,
    log_dir: &std::path::Path,
) -> anyhow::Result<Report> {
    let background_cores = measure::background_load().await;
    let schema = TestSchema::create(&env::schema_prefix(&args.run_id)).await?;
    let schema_name = schema.name().to_owned();
    let probe = CpuProbe {
        db: schema.db().clone(),
        schema: schema_name.clone(),
    };
    let addr = ecommerce_e2e::stack::free_loopback_addr()?;
    let launch = registry_launch(resources, &schema, log_dir.to_path_buf(), addr, args.cpus)?;
    let knobs = registry_knobs(&launch);
    resources.schema = Some(schema);
    progress!(
        "starting {REGISTRY_BINARY} on {addr} (schema {schema_name}, topology {}*, log {})",
        env::amqp_prefix(&args.run_id),
        log_dir.display()
    );
    let process = registry.insert(ServiceProcess::start(&launch, addr).await?);
    let url = process.url();
    progress!("{REGISTRY_BINARY} ready (pid {})", process.pid());

    let clients = clients(&url, args.clients, args.channels)?;
    // Connected before anything is timed.
    clients[0]
        .clone()
        .list_subjects(registry_pb::ListSubjectsRequest::default())
        .await
        .context("ListSubjects on a fresh registry")?;
    progress!(
        "[1/4] registering the schemas of the {} event types",
        EVENT_TYPES.len()
    );
    let (registered, first_registration) = register_all(&clients[0]).await?;
    progress!(
        "  {} schemas registered in {:.1} ms",
        registered.len(),
        first_registration.as_secs_f64() * 1000.0
    );
    let registered = Arc::new(registered);

    progress!("[2/4] RegisterSchema of registered schemas");
    let register = rpc_phases(args, Rpc::RegisterExisting, &registered, &clients, &probe).await?;
    progress!("[3/4] GetSchema by id");
    let get = rpc_phases(args, Rpc::GetSchema, &registered, &clients, &probe).await?;

    progress!("[4/4] decoding the checkout saga's envelopes, one thread");
    let decode = decode_phases(args, &url, &registered).await?;

    Ok(Report {
        args: args.clone(),
        schema: schema_name,
        schemas_registered: registered.len(),
        first_registration_ms: first_registration.as_secs_f64() * 1000.0,
        register,
        get,
        decode,
        background_cores,
        knobs,
    })
}

/// Registers every event type's compiled schema, one after the other, and
/// checks each got an id of its own.
async fn register_all(client: &Client) -> anyhow::Result<(Vec<Registered>, Duration)> {
    let schemas: Vec<EventSchema> = EVENT_TYPES
        .iter()
        .map(EventSchema::compiled)
        .collect::<anyhow::Result<_>>()?;
    let started = Instant::now();
    let mut registered = Vec::with_capacity(schemas.len());
    for schema in schemas {
        let request = registry_pb::RegisterSchemaRequest {
            subject: schema.event_type.to_owned(),
            file_descriptor_set: schema.file_descriptor_set,
            message_name: schema.message_name.to_owned(),
        };
        let response = client
            .clone()
            .register_schema(request.clone())
            .await
            .with_context(|| format!("registering {}", schema.event_type))?;
        let id = response
            .into_inner()
            .schema
            .map(|answer| answer.id)
            .filter(|id| *id > 0)
            .with_context(|| format!("the registry gave {} no id", schema.event_type))?;
        registered.push(Registered { request, id });
    }
    let took = started.elapsed();
    let distinct: HashSet<i64> = registered.iter().map(|schema| schema.id).collect();
    if distinct.len() != registered.len() {
        anyhow::bail!(
            "{} schemas got only {} distinct ids",
            registered.len(),
            distinct.len()
        );
    }
    Ok((registered, took))
}

/// Capacity (closed loop), then latency at F x capacity (open loop).
async fn rpc_phases(
    args: &RegistryArgs,
    rpc: Rpc,
    registered: &Arc<Vec<Registered>>,
    clients: &[Client],
    probe: &CpuProbe,
) -> anyhow::Result<RpcResult> {
    let workload = Workload {
        rpc,
        schemas: Arc::clone(registered),
    };
    env::settle().await;
    progress!(
        "  closed loop: {} callers, {:.1} s (+{:.1} s warmup)",
        clients.len(),
        args.duration.as_secs_f64(),
        args.warmup.as_secs_f64()
    );
    let window = Window::after(args.warmup, args.duration);
    let capacity = load::closed_loop(&workload, clients, window, probe).await?;
    progress!(
        "  {:.0} calls/s; call p50 {:.2} ms p99 {:.2} ms; registry {:.2} cores, its postgres {:.2}",
        capacity.per_second,
        capacity.latency.p50_us as f64 / 1000.0,
        capacity.latency.p99_us as f64 / 1000.0,
        capacity.cpu.registry_cores,
        capacity.cpu.postgres_cores
    );
    if capacity.calls == 0 {
        anyhow::bail!(
            "no {} call succeeded in the capacity window{}",
            rpc.name(),
            capacity
                .errors
                .last
                .as_ref()
                .map(|error| format!("; last error: {error}"))
                .unwrap_or_default()
        );
    }
    if let Some(error) = &capacity.errors.last {
        progress!(
            "  {} call(s) failed; last error: {error}",
            capacity.errors.count
        );
    }

    let at_load = open_loop_phase(
        args,
        &workload,
        clients,
        probe,
        &capacity,
        args.load_fraction,
    )
    .await?;
    // GetSchema also at a low load: on a machine the capacity phase
    // saturated, half of it still keeps every core busy, so the tail says
    // as much about the machine as about the registry.
    let low_load = if rpc == Rpc::GetSchema && args.load_fraction > LOW_LOAD_FRACTION {
        Some(
            open_loop_phase(
                args,
                &workload,
                clients,
                probe,
                &capacity,
                LOW_LOAD_FRACTION,
            )
            .await?,
        )
    } else {
        None
    };
    Ok(RpcResult {
        rpc,
        capacity,
        at_load,
        low_load,
    })
}

/// An open loop at `fraction` x the measured capacity.
async fn open_loop_phase(
    args: &RegistryArgs,
    workload: &Workload,
    clients: &[Client],
    probe: &CpuProbe,
    capacity: &load::Capacity,
    fraction: f64,
) -> anyhow::Result<load::AtLoad> {
    let rate = capacity.per_second * fraction;
    env::settle().await;
    progress!(
        "  open loop: {fraction} x {:.0} = {rate:.0} calls/s, {:.1} s (+{:.1} s warmup)",
        capacity.per_second,
        args.duration.as_secs_f64(),
        args.warmup.as_secs_f64()
    );
    let window = Window::after(args.warmup, args.duration);
    let at_load = load::open_loop(workload, clients, rate, window, probe).await?;
    progress!(
        "  latency p50 {:.2} ms p99 {:.2} ms max {:.2} ms; {:.0}/s answered",
        at_load.latency.p50_us as f64 / 1000.0,
        at_load.latency.p99_us as f64 / 1000.0,
        at_load.latency.max_us as f64 / 1000.0,
        at_load.achieved_per_second
    );
    Ok(at_load)
}

/// Typed, dynamic and dynamic + JSON decode throughput over the saga corpus.
async fn decode_phases(
    args: &RegistryArgs,
    url: &str,
    registered: &[Registered],
) -> anyhow::Result<DecodeResult> {
    let ids: HashMap<&str, i64> = registered
        .iter()
        .map(|schema| (schema.request.subject.as_str(), schema.id))
        .collect();
    let corpus = Arc::new(decode::saga_corpus(&ids)?);
    let all_ids: Vec<i64> = registered.iter().map(|schema| schema.id).collect();
    let cache = decode::warmed_cache(url, &all_ids).await?;
    decode::check_agreement(&corpus, &cache).await?;
    progress!(
        "  corpus: {} envelopes of {} types, mean {:.0} B; cache holds {} schemas",
        corpus.bodies.len(),
        corpus.event_types.len(),
        corpus.mean_bytes(),
        cache.cached_count()
    );
    let mut throughputs = Vec::new();
    for path in [Path::Typed, Path::Dynamic, Path::DynamicJson] {
        env::settle().await;
        let throughput = decode::measure(
            path,
            Arc::clone(&corpus),
            Arc::clone(&cache),
            args.warmup,
            args.duration,
        )
        .await
        .with_context(|| format!("{} loop", path.name()))?;
        progress!(
            "  {}: {:.0} decodes/s ({:.0} ns each)",
            path.name(),
            throughput.per_second(),
            throughput.nanos_per_decode()
        );
        throughputs.push(throughput);
    }
    let [typed, dynamic, dynamic_json] = throughputs[..] else {
        anyhow::bail!("three decode loops expected");
    };
    Ok(DecodeResult::new(&corpus, typed, dynamic, dynamic_json))
}
