//! Command-line arguments: `saga-bench [run] [flags]`.

use std::time::Duration;

use anyhow::{Context as _, bail};

use crate::args::{Arg, next_arg, random_run_id, seconds, validate_run_id};

pub const USAGE: &str = "\
usage: saga-bench [run] [--clients N] [--duration SECS] [--warmup SECS]
                  [--load-fraction F] [--skus K] [--saga-timeout SECS]
                  [--run-id ID] [--quick]

Starts the seven saga services as processes (release binaries next to this
one, or E2E_BIN_DIR) on private schemas and a private RabbitMQ topology, then:
  1. raw inserts: N clients, BEGIN; INSERT; COMMIT (the commit limit);
  2. capacity: N customers in a closed loop, AddItem -> Checkout -> wait
     for orders.order_confirmed.v1 -> next (sagas/s);
  3. latency: an open loop starting checkouts at F x the measured sagas/s.
Prints a table, then one JSON line (last).

  --clients N          concurrent clients/customers (default 32)
  --duration SECS      measured window of each phase (default 20)
  --warmup SECS        unmeasured start of each phase (default 3)
  --load-fraction F    open-loop load as a fraction of sagas/s (default 0.5)
  --skus K             distinct SKUs the customers buy, client i buying SKU
                       i mod K (default: one per client, no shared stock row)
  --saga-timeout SECS  a saga not confirmed by then counts as timed out (default 60)
  --run-id ID          names the raw-insert schema t_bench_ID_* and topology
                       bench-ID.* (lowercase letters and digits; default: random)
  --quick              a smoke run: 1 s warmup, 3 s phases

Services' knobs, passed through from the environment when set:
  AMQP_PREFETCH, AMQP_CONSUMER_CONCURRENCY, OUTBOX_RELAY_POLL_INTERVAL_MS,
  OUTBOX_RELAY_BATCH_SIZE, <SVC>_DB_MAX_CONNECTIONS (IAM, CATALOG, INVENTORY,
  ORDERS, PAYMENTS, CART, FULFILLMENT); E2E_SERVICE_LOG (default warn).";

#[derive(Clone, Debug)]
pub enum Command {
    Run(SagaArgs),
    Help,
}

#[derive(Clone, Debug)]
pub struct SagaArgs {
    pub run_id: String,
    pub clients: usize,
    pub duration: Duration,
    pub warmup: Duration,
    pub load_fraction: f64,
    pub skus: usize,
    pub saga_timeout: Duration,
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
    let (default_duration, default_warmup) = if quick {
        (Duration::from_secs(3), Duration::from_secs(1))
    } else {
        (Duration::from_secs(20), Duration::from_secs(3))
    };
    let duration = duration.unwrap_or(default_duration);
    if duration.is_zero() {
        bail!("--duration must be positive");
    }
    Ok(Command::Run(SagaArgs {
        run_id,
        clients,
        duration,
        warmup: warmup.unwrap_or(default_warmup),
        load_fraction,
        skus,
        saga_timeout,
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
        let args = parsed(&["run", "--clients=8", "--quick", "--skus", "2"]);
        assert_eq!((args.clients, args.skus), (8, 2));
        assert_eq!(args.duration, Duration::from_secs(3));
        assert!(parse(["--bogus".to_owned()]).is_err());
    }
}
