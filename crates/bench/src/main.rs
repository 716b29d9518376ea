//! `relay-bench`: how fast the outbox writes, how fast the relay publishes
//! compared with the broker alone, and how long an event takes from its
//! commit to the broker and to a consumer. See `scripts/bench`.
//!
//! Phases, in order, on a fresh schema and a prefixed copy of the topology:
//!
//! 1. raw inserts: N clients, `BEGIN; INSERT business row; COMMIT` (the commit limit);
//! 2. outbox enqueues: N clients, the business row plus `Outbox::enqueue`
//!    in one transaction, relay not running (pure write cost);
//! 3. raw confirmed publish: lapin alone, M messages in windows of the
//!    relay's batch size, one confirm channel per relay (the broker limit);
//!    then the broker crate's publisher the same way (no database);
//! 4. relay drain: M pending rows, R relays, time until all are published;
//!    then the broker crate's consumer runtime taking those M messages;
//! 5. latency: an open-loop producer at a fraction of the measured relay
//!    rate, one event per transaction, relays and a consumer running; also
//!    at the same fraction of the measured write capacity (outbox enqueue
//!    transactions/s: below the relay's when the write path is the
//!    machine's bottleneck, above it otherwise; one run when within 5 %),
//!    and at a low load (the floor); lowest load first.
//!
//! Before each phase the run waits for Postgres and RabbitMQ to go quiet,
//! and it reports per phase which process group used how much CPU (this
//! machine may be shared).
//!
//! Progress goes to stderr, a table to stdout, and the last stdout line is
//! one JSON object with every figure.

use anyhow::Context as _;
use ecommerce_bench::args::{self, Command, RelayArgs};
use ecommerce_bench::env::{self, BenchEnv, Resources};
use ecommerce_bench::measure::{self, Clock};
use ecommerce_bench::{latency, progress, publish, relay, report, writes};

/// The low load of the floor measurement, as a fraction of the bottleneck.
const LOW_LOAD_FRACTION: f64 = 0.05;

fn main() -> std::process::ExitCode {
    ecommerce_bench::init_tracing("warn,sqlx::pool::acquire=error,sqlx::postgres::notice=error");

    let command = match args::parse(std::env::args().skip(1)) {
        Ok(command) => command,
        Err(error) => {
            eprintln!("relay-bench: {error:#}");
            return std::process::ExitCode::from(2);
        }
    };
    ecommerce_bench::run_to_exit_code("relay-bench", async move {
        match command {
            Command::Help => {
                println!("{}", args::USAGE);
                Ok(())
            }
            Command::Cleanup { run_id } => env::cleanup_run(&run_id).await,
            Command::Relay(args) => relay_bench(args).await,
        }
    })
}

/// Runs the phases, then removes the schema and the topology whatever
/// happened (an error, or SIGINT/SIGTERM).
async fn relay_bench(args: RelayArgs) -> anyhow::Result<()> {
    let mut resources = Resources::new(&args.run_id)?;
    progress!(
        "run {}: events={} clients={} relays={} batch={} duration={:.1}s{}",
        args.run_id,
        args.events,
        args.clients,
        args.relays,
        args.batch_size,
        args.duration.as_secs_f64(),
        if args.quick { " (quick)" } else { "" }
    );
    let outcome = tokio::select! {
        outcome = phases(&args, &mut resources) => outcome,
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

async fn phases(args: &RelayArgs, resources: &mut Resources) -> anyhow::Result<report::Report> {
    let clock = Clock::new();
    let background_cores = measure::background_load().await;
    let env = BenchEnv::open(resources, args.clients, args.relays).await?;
    let outcome = run_phases(args, &env, &clock).await;
    env.close().await;
    outcome.map(|mut report| {
        report.background_cores = background_cores;
        report
    })
}

async fn run_phases(
    args: &RelayArgs,
    env: &BenchEnv,
    clock: &Clock,
) -> anyhow::Result<report::Report> {
    let warmup = args.warmup();
    let window = args.duration;
    let settings = args.relay_settings();

    progress!(
        "[1/5] raw inserts: {} clients, {:.1} s",
        args.clients,
        window.as_secs_f64()
    );
    env.settle().await;
    env.classify_backends().await?;
    let raw_inserts = writes::raw_inserts(env, args.clients, warmup, window).await?;
    progress!("  {:.0} commits/s", raw_inserts.per_second);
    env.truncate().await?;

    progress!(
        "[2/5] outbox enqueues: {} clients, {:.1} s, relay stopped",
        args.clients,
        window.as_secs_f64()
    );
    env.settle().await;
    env.classify_backends().await?;
    let enqueues = writes::outbox_enqueues(env, args.clients, warmup, window).await?;
    progress!("  {:.0} transactions/s", enqueues.per_second);
    env.truncate().await?;

    progress!(
        "[3/5] confirmed publish without the database: {} messages, windows of {}, {} channel(s)",
        args.events,
        args.batch_size,
        args.relays
    );
    env.settle().await;
    env.classify_backends().await?;
    let messages = publish::relay_messages(&env.exchange, args.events);
    let raw_publish =
        publish::raw_confirmed_publish(env, &messages, args.batch_size, args.relays).await?;
    progress!("  lapin alone: {:.0} messages/s", raw_publish.per_second);
    env.purge_queues().await?;
    let publisher_only =
        publish::publisher_only(env, &messages, args.batch_size, args.relays).await?;
    progress!(
        "  broker crate publisher: {:.0} messages/s",
        publisher_only.per_second
    );
    env.purge_queues().await?;
    drop(messages);

    progress!(
        "[4/5] relay drain: {} rows, {} relay(s), batch {}",
        args.events,
        args.relays,
        args.batch_size
    );
    env.settle().await;
    env.classify_backends().await?;
    let drain = relay::drain(env, args.events, args.clients, args.relays, &settings).await?;
    progress!("  {:.0} events/s", drain.per_second);
    // Every row reached the bound queue (a confirm is not a delivery
    // check: this is), and nothing fell through to the alternate exchange.
    let (unrouted, _) = env.queue_state(env.unrouted_queue()).await?;
    let (recorded_depth, _) = env.queue_state(&env.recorded_queue).await?;
    if (recorded_depth as usize) < args.events || unrouted != 0 {
        anyhow::bail!(
            "after the drain {} holds {recorded_depth} messages (expected {}) and {} holds {unrouted}",
            env.recorded_queue,
            args.events,
            env.unrouted_queue()
        );
    }
    if recorded_depth as usize > args.events {
        progress!(
            "  note: {} messages for {} rows: a batch was retried (at-least-once)",
            recorded_depth,
            args.events
        );
    }
    // The consumer side's capacity, on the messages the relay just published.
    let consumer_drain =
        relay::consumer_drain(env, u64::from(recorded_depth), args.consumer_concurrency).await?;
    progress!(
        "  consumer runtime (concurrency {}, prefetch {}): {:.0} messages/s",
        consumer_drain.concurrency,
        consumer_drain.prefetch,
        consumer_drain.per_second
    );
    env.purge_queues().await?;

    // The brief's load: a fraction of the relay's capacity (or as asked).
    let (basis, offered_per_second) = match args.offered_load {
        Some(offered) => ("--offered-load".to_owned(), offered),
        None => (
            format!("{} x relay_events_per_s", args.load_fraction),
            drain.per_second * args.load_fraction,
        ),
    };
    let plan = |basis: String, offered_per_second: f64| latency::LatencyPlan {
        basis,
        offered_per_second,
        duration: window,
        warmup,
        relays: args.relays,
        settings: settings.clone(),
        consumer_concurrency: args.consumer_concurrency,
    };
    let brief_plan = plan(basis, offered_per_second);

    // When the machine cannot even commit that many outbox transactions
    // (the write path, not the relay, is its bottleneck), the brief's load
    // measures a queue in front of the database. So the same fraction of
    // the measured write capacity (outbox enqueue transactions/s) is always
    // measured too, below or above the brief's load (the same run when
    // within 5 % of it), and a low load (the floor: what the relay path
    // costs when nothing queues). Lowest load first, so an overloaded
    // run's aftermath cannot spill into the others.
    let write_load_per_second = enqueues.per_second * args.load_fraction;
    let write_basis = format!("{} x outbox_enqueue_txn_per_s", args.load_fraction);
    let mut plans = vec![brief_plan];
    if args.offered_load.is_none() {
        let bottleneck = drain.per_second.min(enqueues.per_second);
        let label = if enqueues.per_second < drain.per_second {
            "outbox_enqueue_txn_per_s"
        } else {
            "relay_events_per_s"
        };
        plans.push(plan(
            format!("{LOW_LOAD_FRACTION} x {label}"),
            bottleneck * LOW_LOAD_FRACTION,
        ));
    }
    let brief_offered = plans[0].offered_per_second;
    let write_basis = if (write_load_per_second - brief_offered).abs() > 0.05 * brief_offered {
        if enqueues.per_second < drain.per_second {
            progress!(
                "  the write path is the bottleneck ({:.0} outbox txn/s < {:.0} relay events/s)",
                enqueues.per_second,
                drain.per_second
            );
        }
        plans.push(plan(write_basis.clone(), write_load_per_second));
        write_basis
    } else {
        plans[0].basis.clone()
    };
    let brief_basis = plans[0].basis.clone();
    plans.sort_by(|a, b| a.offered_per_second.total_cmp(&b.offered_per_second));
    let runs = plans.len();
    let mut lower_loads = Vec::new();
    let mut higher_loads = Vec::new();
    let mut brief = None;
    for (index, plan) in plans.iter().enumerate() {
        env.settle().await;
        progress!(
            "[5/5] latency {}/{runs} at {}: {:.0} events/s",
            index + 1,
            plan.basis,
            plan.offered_per_second
        );
        let measured = latency::run(env, plan, clock)
            .await
            .with_context(|| format!("latency phase at {}", plan.basis))?;
        report_latency(&measured);
        if plan.basis == brief_basis {
            brief = Some(measured);
        } else if brief.is_none() {
            lower_loads.push(measured);
        } else {
            higher_loads.push(measured);
        }
    }
    let latency = brief.context("no latency run at the brief's load")?;
    // Highest load first in the report.
    lower_loads.reverse();

    let write_load = report::WriteLoad {
        fraction: args.load_fraction,
        capacity_per_second: enqueues.per_second,
        basis: write_basis,
    };
    Ok(report::Report {
        args: args.clone(),
        schema: env.schema_name.clone(),
        raw_inserts,
        enqueues,
        raw_publish,
        publisher_only,
        drain,
        consumer_drain,
        latency,
        lower_loads,
        higher_loads,
        write_load,
        background_cores: 0.0,
    })
}

fn report_latency(latency: &latency::LatencyResult) {
    progress!(
        "  commit->published p50 {:.2} ms p99 {:.2} ms; commit->handled p50 {:.2} ms p99 {:.2} ms{}",
        latency.commit_to_published.p50_us as f64 / 1000.0,
        latency.commit_to_published.p99_us as f64 / 1000.0,
        latency.commit_to_handled.p50_us as f64 / 1000.0,
        latency.commit_to_handled.p99_us as f64 / 1000.0,
        if latency.overloaded() {
            format!(
                " (OVERLOADED: only {:.0} of {:.0} commits/s)",
                latency.achieved_per_second, latency.offered_per_second
            )
        } else {
            String::new()
        }
    );
}
