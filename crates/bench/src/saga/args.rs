//! Command-line arguments: `saga-bench [run] [flags]`.

use std::time::Duration;

use anyhow::{Context as _, bail};

use crate::args::{Arg, next_arg, random_run_id, seconds, validate_run_id};

pub const USAGE: &str = "\
usage: saga-bench [run] [--scope full|place] [--clients N] [--duration SECS]
                  [--warmup SECS] [--load-fraction F] [--skus K]
                  [--saga-timeout SECS] [--idle-secs SECS] [--run-id ID] [--quick]

Starts the seven saga services as processes (release binaries next to this
one, or E2E_BIN_DIR) on private schemas and a private RabbitMQ topology, then:
  1. idle: the stack's CPU with no traffic (relays, timers, pollers);
  2. raw inserts: N clients, BEGIN; INSERT; COMMIT (the commit limit);
  3. capacity: N customers in a closed loop, each saga started and awaited
     until orders.order_confirmed.v1 -> next (sagas/s);
  4. latency: an open loop starting sagas at F x the measured sagas/s.
A saga of scope `full` is AddItem (shopping, not timed) -> cart-svc Checkout
-> CONFIRMED; of scope `place`, a checkout snapshot signed here (the
CHECKOUT_SIGNING_KEY the services use, else the development key) sent
straight to orders-svc PlaceOrder -> CONFIRMED: no cart, no catalog.
Prints a table, then one JSON line (last).

  --scope full|place   what a saga is (default full), see above
  --clients N          concurrent clients/customers (default 32)
  --duration SECS      measured window of each phase (default 20)
  --warmup SECS        unmeasured start of each phase (default 3)
  --load-fraction F    open-loop load as a fraction of sagas/s (default 0.5)
  --skus K             distinct SKUs the customers buy, client i buying SKU
                       i mod K (default: one per client, no shared stock row)
  --saga-timeout SECS  a saga not confirmed by then counts as timed out (default 60)
  --idle-secs SECS     length of the idle phase (default 30, --quick 5; 0 skips it)
  --run-id ID          names the raw-insert schema t_bench_ID_* and topology
                       bench-ID.* (lowercase letters and digits; default: random)
  --quick              a smoke run: 1 s warmup, 3 s phases, 5 s idle

Services' knobs, passed through from the environment when set:
  AMQP_PREFETCH, AMQP_CONSUMER_CONCURRENCY, OUTBOX_RELAY_POLL_INTERVAL_MS,
  OUTBOX_RELAY_BATCH_SIZE, <SVC>_DB_MAX_CONNECTIONS (IAM, CATALOG, INVENTORY,
  ORDERS, PAYMENTS, CART, FULFILLMENT); E2E_SERVICE_LOG (default warn).";

#[derive(Clone, Debug)]
pub enum Command {
    Run(SagaArgs),
    Help,
}

/// What one saga is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// AddItem (not timed) -> cart-svc Checkout -> orders.order_confirmed.v1.
    Full,
    /// A signed checkout snapshot straight to orders-svc PlaceOrder ->
    /// orders.order_confirmed.v1 (no cart, no catalog on the path).
    Place,
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Place => "place",
        }
    }

    /// The RPC that starts a saga.
    pub fn rpc(self) -> &'static str {
        match self {
            Self::Full => "Checkout",
            Self::Place => "PlaceOrder",
        }
    }
}

#[derive(Clone, Debug)]
pub struct SagaArgs {
    pub run_id: String,
    pub scope: Scope,
    pub clients: usize,
    pub duration: Duration,
    pub warmup: Duration,
    pub load_fraction: f64,
    pub skus: usize,
    pub saga_timeout: Duration,
    /// The idle phase; zero skips it.
    pub idle: Duration,
    pub quick: bool,
}

pub fn parse(arguments: impl IntoIterator<Item = String>) -> anyhow::Result<Command> {
    let mut arguments = arguments.into_iter().peekable();
    match arguments.peek().map(String::as_str) {
        Some("run") => {
            arguments.next();
        }
        Some("-h" | "--help" | "help") => return Ok(Command::Help),
        _ => {}
    }
    let mut run_id = None;
    let mut clients = 32_usize;
    let mut duration = None;
    let mut warmup = None;
    let mut load_fraction = 0.5_f64;
    let mut skus = None;
    let mut saga_timeout = Duration::from_secs(60);
    let mut scope = Scope::Full;
    let mut idle = None;
    let mut quick = false;
    while let Some(argument) = next_arg(&mut arguments) {
        let (flag, value) = match argument? {
            Arg::Quick => {
                quick = true;
                continue;
            }
            Arg::Help => return Ok(Command::Help),
            Arg::Flag { name, value } => (name, value),
        };
        match flag.as_str() {
            "--clients" => clients = value.parse().context("--clients takes a number")?,
            "--duration" => duration = Some(seconds(&flag, &value)?),
            "--warmup" => warmup = Some(seconds(&flag, &value)?),
            "--load-fraction" => {
                load_fraction = value.parse().context("--load-fraction takes a number")?;
            }
            "--skus" => skus = Some(value.parse().context("--skus takes a number")?),
            "--saga-timeout" => saga_timeout = seconds(&flag, &value)?,
            "--idle-secs" => idle = Some(seconds(&flag, &value)?),
            "--scope" => {
                scope = match value.as_str() {
                    "full" => Scope::Full,
                    "place" => Scope::Place,
                    other => bail!("--scope takes full or place, not {other:?}"),
                };
            }
            "--run-id" => run_id = Some(value),
            other => bail!("unknown flag {other}\n\n{USAGE}"),
        }
    }
    if clients == 0 {
        bail!("--clients must be at least 1");
    }
    if !(load_fraction > 0.0 && load_fraction <= 1.0) {
        bail!("--load-fraction must be in (0, 1]");
    }
    let skus: usize = skus.unwrap_or(clients);
    if skus == 0 {
        bail!("--skus must be at least 1");
    }
    let run_id = match run_id {
        Some(run_id) => validate_run_id(run_id)?,
        None => random_run_id(),
    };
    let (default_duration, default_warmup, default_idle) = if quick {
        (
            Duration::from_secs(3),
            Duration::from_secs(1),
            Duration::from_secs(5),
        )
    } else {
        (
            Duration::from_secs(20),
            Duration::from_secs(3),
            Duration::from_secs(30),
        )
    };
    let duration = duration.unwrap_or(default_duration);
    if duration.is_zero() {
        bail!("--duration must be positive");
    }
    Ok(Command::Run(SagaArgs {
        run_id,
        scope,
        clients,
        duration,
        warmup: warmup.unwrap_or(default_warmup),
        load_fraction,
        skus,
        saga_timeout,
        idle: idle.unwrap_or(default_idle),
        quick,
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn parsed(arguments: &[&str]) -> SagaArgs {
        match parse(arguments.iter().map(|argument| (*argument).to_owned())).unwrap() {
            Command::Run(args) => args,
            Command::Help => panic!("help"),
        }
    }

    #[test]
    fn defaults_and_flags() {
        let args = parsed(&[]);
        assert_eq!(args.clients, 32);
        assert_eq!(args.skus, 32);
        assert_eq!(args.duration, Duration::from_secs(20));
        assert_eq!(args.scope, Scope::Full);
        assert_eq!(args.idle, Duration::from_secs(30));
        let args = parsed(&["run", "--clients=8", "--quick", "--skus", "2"]);
        assert_eq!((args.clients, args.skus), (8, 2));
        assert_eq!(args.duration, Duration::from_secs(3));
        assert_eq!(args.idle, Duration::from_secs(5));
        let args = parsed(&["--scope", "place", "--idle-secs=0", "--quick"]);
        assert_eq!(args.scope, Scope::Place);
        assert_eq!(args.idle, Duration::ZERO);
        assert!(parse(["--bogus".to_owned()]).is_err());
        assert!(parse(["--scope".to_owned(), "cart".to_owned()]).is_err());
    }
}
