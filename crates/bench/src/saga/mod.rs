//! `saga-bench`: the checkout saga across the seven service processes.
//!
//! One run, on a machine shared by everything:
//!
//! 1. the stack: every service binary as a process (`ecommerce_e2e::Stack`,
//!    private schemas and topology, each service's Postgres connections
//!    tagged `application_name=saga-<service>` so their backends' CPU is
//!    told apart), N customers signed up, K SKUs with a huge stock;
//! 2. idle: the stack's CPU (services, their Postgres backends, Postgres'
//!    own processes, RabbitMQ) with no traffic, and the counters below;
//! 3. raw inserts: N clients `BEGIN; INSERT; COMMIT` (`writes::raw_inserts`
//!    of relay-bench, on a schema of its own): the commit limit;
//! 4. capacity: the N customers in a closed loop, saga after saga; a saga
//!    is (scope `full`) AddItem, not timed, then the Checkout call's start
//!    to `orders.order_confirmed.v1` reaching a queue of our own, or (scope
//!    `place`) a signed snapshot sent straight to orders-svc's PlaceOrder
//!    to that event; sagas/s, and per saga: the transactions Postgres
//!    committed, the statements it ran (`pg_stat_statements`, when
//!    preloaded), RabbitMQ's deliveries, the stack's CPU, by process too
//!    (see [`counters`]);
//! 5. latency: an open loop starting sagas at F x the measured sagas/s.
//!
//! Progress on stderr; a table, then one JSON line (last) on stdout.

pub mod args;
pub mod counters;
pub mod load;
pub mod report;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use ecommerce_e2e::{Shop, Stack, StackOptions, Svc};
use ecommerce_test_support::database_url;
use futures::{StreamExt as _, TryStreamExt as _};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use secrecy::ExposeSecret as _;

use crate::env::{self, BenchEnv, Resources};
use crate::measure::{self, CpuSnapshot};
use crate::progress;
use crate::writes;

use self::args::{Command, SagaArgs, Scope};
use self::counters::{Probes, RabbitCounters, RabbitSpan, WorkDelta};
use self::load::{Outcomes, Placer, Shoppers, Tally, Window};
use self::report::{IdleCost, PhaseCost, Report};

/// The services' knobs passed through from the environment (and reported).
const KNOBS: [&str; 4] = [
    "AMQP_PREFETCH",
    "AMQP_CONSUMER_CONCURRENCY",
    "OUTBOX_RELAY_POLL_INTERVAL_MS",
    "OUTBOX_RELAY_BATCH_SIZE",
];

/// Unit price of the benchmark's SKUs, in cents.
const PRICE_MINOR: i64 = 1_999;
/// Stock of each SKU: never the limit.
const ON_HAND: i32 = 10_000_000;

/// The CPU group of a service's Postgres backends.
const fn postgres_group(service: Svc) -> &'static str {
    match service {
        Svc::Registry => "postgres:registry",
        Svc::Iam => "postgres:iam",
        Svc::Catalog => "postgres:catalog",
        Svc::Inventory => "postgres:inventory",
        Svc::Orders => "postgres:orders",
        Svc::Payments => "postgres:payments",
        Svc::Cart => "postgres:cart",
        Svc::Fulfillment => "postgres:fulfillment",
        Svc::Notifications => "postgres:notifications",
        Svc::Reporting => "postgres:reporting",
    }
}

/// The services a saga benchmark starts: the saga's seven and the
/// registry. Downstream consumers (notifications-svc, reporting-svc) are
/// left out: the benchmark measures the checkout saga, the scope of the
/// replaced system.
pub const SERVICES: [Svc; 8] = Svc::SAGA;

/// The CPU groups of the stack: each service process, its Postgres
/// backends, Postgres' own processes (and ended backends), RabbitMQ.
pub fn stack_groups() -> Vec<&'static str> {
    let mut groups: Vec<&'static str> = SERVICES.iter().map(|service| service.binary()).collect();
    groups.extend(SERVICES.iter().map(|service| postgres_group(*service)));
    groups.extend(["postgres_shared", "rabbitmq"]);
    groups
}

/// `application_name` of a service's Postgres connections.
fn application_name(service: Svc) -> String {
    format!("saga-{}", service.binary())
}

pub fn main() -> std::process::ExitCode {
    crate::set_progress_name("saga-bench");
    // lapin logs a 404 at ERROR for every passive existence check the stack
    // makes while it removes its topology.
    crate::init_tracing(
        "warn,sqlx::pool::acquire=error,sqlx::postgres::notice=error,lapin::channel=off",
    );
    let command = match args::parse(std::env::args().skip(1)) {
        Ok(command) => command,
        Err(error) => {
            eprintln!("saga-bench: {error:#}");
            return std::process::ExitCode::from(2);
        }
    };
    let args = match command {
        Command::Help => {
            println!("{}", args::USAGE);
            return std::process::ExitCode::SUCCESS;
        }
        Command::Run(args) => args,
    };
    crate::run_to_exit_code("saga-bench", run(args))
}

/// Runs the phases; removes the raw-insert schema and topology and stops
/// the stack whatever happened (an error, or SIGINT/SIGTERM).
async fn run(args: SagaArgs) -> anyhow::Result<()> {
    let binaries: Vec<&'static str> = SERVICES.iter().map(|service| service.binary()).collect();
    measure::group_child_processes(&binaries);
    let mut resources = Resources::new(&args.run_id)?;
    progress!(
        "run {}: scope={} clients={} skus={} warmup={:.1}s duration={:.1}s load-fraction={} idle={:.1}s{}",
        args.run_id,
        args.scope.name(),
        args.clients,
        args.skus,
        args.warmup.as_secs_f64(),
        args.duration.as_secs_f64(),
        args.load_fraction,
        args.idle.as_secs_f64(),
        if args.quick { " (quick)" } else { "" }
    );
    let outcome = tokio::select! {
        outcome = with_stack(&args, &mut resources) => outcome,
        () = ecommerce_platform::shutdown::shutdown_signal() => {
            Err(anyhow::anyhow!("interrupted"))
        }
    };
    progress!("cleaning up");
    let removed = resources.remove().await;
    let report = outcome?;
    removed?;
    report.print();
    Ok(())
}

fn stack_options() -> (StackOptions, Vec<(String, String)>) {
    let service_log =
        std::env::var(ecommerce_e2e::stack::SERVICE_LOG_VAR).unwrap_or_else(|_| "warn".to_owned());
    let mut options = StackOptions {
        tap: false,
        services: &SERVICES,
        ..StackOptions::default()
    }
    .with_env("RUST_LOG", service_log);
    let mut knobs = Vec::new();
    let mut names: Vec<String> = KNOBS.iter().map(|name| (*name).to_owned()).collect();
    names.extend(
        SERVICES
            .iter()
            .map(|service| format!("{}_DB_MAX_CONNECTIONS", service.env_prefix())),
    );
    for name in names {
        if let Ok(value) = std::env::var(&name) {
            options = options.with_env(&name, value.clone());
            knobs.push((name, value));
        } else if name.ends_with("_DB_MAX_CONNECTIONS") {
            // The services' own default, not the e2e stack's smaller test
            // budget: the benchmark runs alone and measures the services
            // as they are configured out of the box.
            options = options.with_env(&name, ecommerce_db::DEFAULT_MAX_CONNECTIONS.to_string());
        }
    }
    let url = database_url();
    let separator = if url.contains('?') { '&' } else { '?' };
    for service in SERVICES {
        options = options.with_service_env(
            service,
            &format!("{}_DATABASE_URL", service.env_prefix()),
            format!(
                "{url}{separator}application_name={}",
                application_name(service)
            ),
        );
    }
    (options, knobs)
}

async fn with_stack(args: &SagaArgs, resources: &mut Resources) -> anyhow::Result<Report> {
    let background_cores = measure::background_load().await;
    let (options, knobs) = stack_options();
    progress!("starting the stack (7 services)");
    let stack = Stack::start(options).await.context("starting the stack")?;
    progress!(
        "stack {} ready; logs in {}",
        stack.run_id(),
        stack.log_dir().display()
    );
    let outcome = with_shop(args, resources, &stack).await;
    progress!("stopping the stack");
    let finished = stack.finish().await;
    let mut report = outcome?;
    finished.context("stopping the stack")?;
    report.background_cores = background_cores;
    report.knobs = knobs;
    Ok(report)
}

async fn with_shop(
    args: &SagaArgs,
    resources: &mut Resources,
    stack: &Stack,
) -> anyhow::Result<Report> {
    let shop = Shop::open(stack).await.context("opening the shop")?;
    progress!("{} SKUs with {ON_HAND} in stock", args.skus);
    let skus: Vec<String> = futures::stream::iter(0..args.skus)
        .map(|_| shop.sellable_sku(PRICE_MINOR, ON_HAND))
        .buffer_unordered(4)
        .try_collect()
        .await
        .context("creating the SKUs")?;
    progress!("signing up {} customers", args.clients);
    let customers = shop
        .customers(args.clients, 2)
        .await
        .context("signing up the customers")?;
    let placer = match args.scope {
        Scope::Full => None,
        Scope::Place => Some(Arc::new(
            Placer::new(stack, &shop, &skus, PRICE_MINOR)
                .await
                .context("preparing the signed snapshots")?,
        )),
    };
    let shoppers = Shoppers {
        shop,
        customers,
        skus,
        placer,
    };
    let outcomes = Arc::new(Outcomes::listen(stack).await?);
    let outcome = phases(args, stack, resources, &shoppers, &outcomes).await;
    if let Ok(outcomes) = Arc::try_unwrap(outcomes) {
        outcomes.close().await;
    }
    outcome
}

async fn phases(
    args: &SagaArgs,
    stack: &Stack,
    resources: &mut Resources,
    shoppers: &Shoppers,
    outcomes: &Arc<Outcomes>,
) -> anyhow::Result<Report> {
    let named: Vec<(String, &'static str)> = SERVICES
        .iter()
        .map(|service| (application_name(*service), postgres_group(*service)))
        .collect();
    let stats_db = stack.db(Svc::Orders).clone();
    let amqp_url = stack.broker().settings.amqp_url.expose_secret().to_owned();
    let schemas: Vec<String> = SERVICES
        .iter()
        .map(|service| stack.schema(*service).to_owned())
        .collect();
    let probes = Arc::new(Probes::find(&stats_db, &amqp_url, schemas).await);
    let sampler = |window: Window, schema: String| {
        tokio::spawn(sample(
            window,
            stats_db.clone(),
            schema,
            named.clone(),
            Arc::clone(&probes),
            Arc::clone(outcomes),
        ))
    };

    let idle = if args.idle.is_zero() {
        progress!("[1/4] idle: skipped (--idle-secs 0)");
        None
    } else {
        progress!(
            "[1/4] idle: the stack's CPU with no traffic, {:.1} s",
            args.idle.as_secs_f64()
        );
        env::settle().await;
        let window = Window::after(Duration::from_secs(1), args.idle);
        let idle = sampler(window, "saga-bench idle".to_owned())
            .await?
            .context("sampling the idle stack")?
            .idle_cost(args.idle);
        progress!(
            "  {:.1} % of one core (services, their Postgres backends, Postgres, RabbitMQ)",
            idle.cpu_pct()
        );
        Some(idle)
    };

    progress!(
        "[2/4] raw inserts: {} clients, {:.1} s",
        args.clients,
        args.duration.as_secs_f64()
    );
    // Its N + 2 connections are closed before the saga phases: the stack's
    // pools need the server's connection slots.
    let env = BenchEnv::open(resources, args.clients, 0).await?;
    env::settle().await;
    let raw_inserts = match env.classify_backends().await {
        Ok(()) => writes::raw_inserts(&env, args.clients, args.warmup, args.duration).await,
        Err(error) => Err(error),
    };
    let bench_schema = env.schema_name.clone();
    env.close().await;
    let raw_inserts = raw_inserts?;
    progress!("  {:.0} commits/s", raw_inserts.per_second);

    progress!(
        "[3/4] capacity: {} customers in a closed loop ({}), {:.1} s (+{:.1} s warmup)",
        args.clients,
        match args.scope {
            Scope::Full => "AddItem -> Checkout -> CONFIRMED",
            Scope::Place => "signed PlaceOrder -> CONFIRMED",
        },
        args.duration.as_secs_f64(),
        args.warmup.as_secs_f64()
    );
    env::settle().await;
    let window = Window::after(args.warmup, args.duration);
    let sampled = sampler(window, bench_schema.clone());
    let capacity = load::closed_loop(shoppers, outcomes, window, args.saga_timeout).await?;
    let capacity_cost = sampled
        .await?
        .context("sampling the counters")?
        .cost(capacity.confirmed, args.duration);
    let sagas_per_s = capacity.confirmed as f64 / args.duration.as_secs_f64();
    report_phase("closed loop", &capacity, sagas_per_s);
    if capacity.confirmed == 0 {
        anyhow::bail!(
            "no saga was confirmed in the capacity window{}",
            capacity
                .last_error
                .as_ref()
                .map(|error| format!("; last error: {error}"))
                .unwrap_or_default()
        );
    }

    let rate = sagas_per_s * args.load_fraction;
    progress!(
        "[4/4] latency: open loop at {} x {sagas_per_s:.1} = {rate:.1} sagas/s, {:.1} s (+{:.1} s warmup)",
        args.load_fraction,
        args.duration.as_secs_f64(),
        args.warmup.as_secs_f64()
    );
    env::settle().await;
    load::fill_carts(shoppers).await?;
    let window = Window::after(args.warmup, args.duration);
    let sampled = sampler(window, bench_schema);
    let at_load = load::open_loop(shoppers, outcomes, rate, window, args.saga_timeout).await?;
    let at_load_cost = sampled
        .await?
        .context("sampling the counters")?
        .cost(at_load.confirmed, args.duration);
    let achieved = at_load.confirmed as f64 / args.duration.as_secs_f64();
    report_phase("open loop", &at_load, achieved);

    Ok(Report {
        args: args.clone(),
        stack_run_id: stack.run_id().to_owned(),
        raw_inserts,
        sagas_per_s,
        capacity,
        capacity_cost,
        offered_per_s: rate,
        achieved_per_s: achieved,
        at_load,
        at_load_cost,
        idle,
        background_cores: 0.0,
        knobs: Vec::new(),
    })
}

fn report_phase(name: &str, tally: &Tally, per_second: f64) {
    let saga = tally.saga();
    progress!(
        "  {name}: {per_second:.1} sagas/s confirmed; saga p50 {:.1} ms p99 {:.1} ms; {} failed",
        saga.p50_us as f64 / 1000.0,
        saga.p99_us as f64 / 1000.0,
        tally.failures()
    );
    if let Some(error) = &tally.last_error {
        progress!("  last error: {error}");
    }
}

/// Postgres' counters at one instant: committed and rolled back
/// transactions of the database (`pg_stat_database`, every session's,
/// read-only ones included), and the next transaction id (advanced only by
/// transactions that wrote, in any database of the cluster).
#[derive(Clone, Copy, Debug)]
struct PgCounters {
    commits: i64,
    rollbacks: i64,
    next_xid: i64,
}

async fn pg_counters(db: &DatabaseConnection) -> anyhow::Result<PgCounters> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT xact_commit::int8 AS commits, xact_rollback::int8 AS rollbacks, \
                    pg_snapshot_xmax(pg_current_snapshot())::text::int8 AS next_xid \
             FROM pg_stat_database WHERE datname = current_database()",
        ))
        .await?
        .context("pg_stat_database has no row for this database")?;
    Ok(PgCounters {
        commits: row.try_get("", "commits")?,
        rollbacks: row.try_get("", "rollbacks")?,
        next_xid: row.try_get("", "next_xid")?,
    })
}

/// What a window cost, before dividing by its sagas.
struct Sampled {
    before: PgCounters,
    after: PgCounters,
    cpu_before: CpuSnapshot,
    cpu_after: CpuSnapshot,
    work: WorkDelta,
}

impl Sampled {
    fn stack_cores(&self) -> f64 {
        stack_groups()
            .iter()
            .map(|group| self.cpu_after.group_cores_since(&self.cpu_before, group))
            .sum()
    }

    fn cost(self, sagas: u64, window: Duration) -> PhaseCost {
        PhaseCost {
            commits: self.after.commits - self.before.commits,
            rollbacks: self.after.rollbacks - self.before.rollbacks,
            write_transactions: self.after.next_xid - self.before.next_xid,
            cpu: self.cpu_after.since(&self.cpu_before, sagas),
            stack_cores: self.stack_cores(),
            window_s: window.as_secs_f64(),
            work: self.work,
            sagas,
        }
    }

    fn idle_cost(self, window: Duration) -> IdleCost {
        IdleCost {
            stack_cores: self.stack_cores(),
            cpu: self.cpu_after.since(&self.cpu_before, 0),
            window_s: window.as_secs_f64(),
            commits: self.after.commits - self.before.commits,
            write_transactions: self.after.next_xid - self.before.next_xid,
            work: self.work,
        }
    }
}

/// Takes Postgres' counters and the CPU snapshot at the window's start and
/// end (the backends classified just before each), and RabbitMQ's counters
/// just after each. `rabbitmqctl` runs an Erlang VM (`beam.smp`, which the
/// CPU accounting would count as RabbitMQ's while it lives), so a reading
/// never spans a CPU snapshot: the first one ends before the window does
/// (else the end waits for it), the second starts after it. Once reaped,
/// the CLI's CPU is saga-bench's (`bench`, not the stack's).
async fn sample(
    window: Window,
    db: DatabaseConnection,
    schema: String,
    named: Vec<(String, &'static str)>,
    probes: Arc<Probes>,
    outcomes: Arc<Outcomes>,
) -> anyhow::Result<Sampled> {
    tokio::time::sleep_until(window.start.into()).await;
    measure::classify_postgres_backends_with(&db, &schema, &named).await?;
    let cpu_before = CpuSnapshot::take();
    let before = pg_counters(&db).await?;
    let work_before = probes.postgres(&db).await?;
    let first_reading = tokio::spawn({
        let probes = Arc::clone(&probes);
        let outcomes = Arc::clone(&outcomes);
        async move {
            let counters = probes.rabbit().await;
            (counters, outcomes.received())
        }
    });
    tokio::time::sleep_until(window.end.into()).await;
    let (rabbit_before, own_before) = first_reading.await?;
    measure::classify_postgres_backends_with(&db, &schema, &named).await?;
    let cpu_after = CpuSnapshot::take();
    let after = pg_counters(&db).await?;
    let work_after = probes.postgres(&db).await?;
    let rabbit_after = probes.rabbit().await;
    let own_after = outcomes.received();
    let rabbit = rabbit_span(rabbit_before, rabbit_after, own_after - own_before);
    Ok(Sampled {
        before,
        after,
        cpu_before,
        cpu_after,
        work: WorkDelta::new(
            window.end.duration_since(window.start),
            rabbit,
            work_before,
            work_after,
        ),
    })
}

fn rabbit_span(
    before: Result<RabbitCounters, String>,
    after: Result<RabbitCounters, String>,
    own_deliveries: u64,
) -> Result<RabbitSpan, String> {
    Ok(RabbitSpan {
        before: before?,
        after: after?,
        own_deliveries,
    })
}
