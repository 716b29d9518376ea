//! Command-line arguments: `registry-bench [run] [flags]` and
//! `registry-bench cleanup --run-id ID`.

use std::time::Duration;

use anyhow::{Context as _, bail};

use crate::args::{Arg, next_arg, random_run_id, seconds, validate_run_id};

pub const USAGE: &str = "\
usage: registry-bench [run] [--clients N] [--duration SECS] [--warmup SECS]
                      [--load-fraction F] [--channels per-client|shared]
                      [--cpus split|shared] [--run-id ID] [--quick]
       registry-bench cleanup --run-id ID

run       starts the schema-registry release binary (next to this one, or
          E2E_BIN_DIR) on a private schema and topology, registers the
          schemas of every event type, then measures:
            1. RegisterSchema of an already registered schema (the start-up
               path): calls/s of N clients in a closed loop, then latency at
               an open-loop load of F x that;
            2. GetSchema by id: the same two phases, plus the open loop at
               0.1 x capacity (the latency floor);
            3. event decoding on one thread: typed decode_envelope, dynamic
               SchemaCache::decode_dynamic (cache warmed), dynamic + to_json.
          Prints a table, then one JSON line (last).
cleanup   drops what a run named ID left behind (schema, topology)

  --clients N          concurrent callers of the closed loops (default 16)
  --duration SECS      measured window of each phase (default 10)
  --warmup SECS        unmeasured start of each phase (default 1)
  --load-fraction F    open-loop load as a fraction of the measured capacity
                       (default 0.5)
  --channels MODE      per-client: each caller its own tonic channel (own
                       HTTP/2 connection), as N services would call (default);
                       shared: one channel (one connection) for every caller
  --cpus MODE          split: the registry on the last core, this load
                       generator on the others (taskset), as clients on other
                       machines would be (default with 2+ cores); shared: both
                       anywhere, the generator's CPU competing with the
                       registry's
  --run-id ID          names the schema t_bench_ID_* and the topology bench-ID.*
                       (lowercase letters and digits; default: random)
  --quick              a smoke run: 2 s phases, 0.5 s warmup

The registry's own knobs (SCHEMA_REGISTRY_DB_MAX_CONNECTIONS, ...) pass
through from the environment; E2E_SERVICE_LOG is its RUST_LOG (default warn).";

#[derive(Clone, Debug)]
pub enum Command {
    Run(RegistryArgs),
    Cleanup { run_id: String },
    Help,
}

/// Where the registry and the load generator run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cpus {
    /// The registry alone on the last core, the generator on the others.
    Split,
    /// Both anywhere (the scheduler decides).
    Shared,
}

impl Cpus {
    pub const fn name(self) -> &'static str {
        match self {
            Self::Split => "split",
            Self::Shared => "shared",
        }
    }
}

/// How the callers reach the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channels {
    /// One tonic channel (one HTTP/2 connection) per caller.
    PerClient,
    /// One channel multiplexing every caller's calls.
    Shared,
}

impl Channels {
    pub const fn name(self) -> &'static str {
        match self {
            Self::PerClient => "per-client",
            Self::Shared => "shared",
        }
    }
}

#[derive(Clone, Debug)]
pub struct RegistryArgs {
    pub run_id: String,
    pub clients: usize,
    pub duration: Duration,
    pub warmup: Duration,
    pub load_fraction: f64,
    pub channels: Channels,
    pub cpus: Cpus,
    pub quick: bool,
}

pub fn parse(arguments: impl IntoIterator<Item = String>) -> anyhow::Result<Command> {
    let mut arguments = arguments.into_iter().peekable();
    let cleanup = match arguments.peek().map(String::as_str) {
        Some("run") => {
            arguments.next();
            false
        }
        Some("cleanup") => {
            arguments.next();
            true
        }
        Some("-h" | "--help" | "help") => return Ok(Command::Help),
        _ => false,
    };
    let mut run_id = None;
    let mut clients = 16_usize;
    let mut duration = None;
    let mut warmup = None;
    let mut load_fraction = 0.5_f64;
    let mut channels = Channels::PerClient;
    let two_cores = crate::measure::machine_cores() >= 2;
    let mut cpus = if two_cores { Cpus::Split } else { Cpus::Shared };
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
            "--clients" => {
                clients = value
                    .parse()
                    .with_context(|| format!("--clients takes a number, not {value:?}"))?;
            }
            "--duration" => duration = Some(seconds(&flag, &value)?),
            "--warmup" => warmup = Some(seconds(&flag, &value)?),
            "--load-fraction" => {
                load_fraction = value
                    .parse()
                    .with_context(|| format!("--load-fraction takes a number, not {value:?}"))?;
            }
            "--cpus" => {
                cpus = match value.as_str() {
                    "split" if two_cores => Cpus::Split,
                    "split" => bail!("--cpus split needs at least 2 cores"),
                    "shared" => Cpus::Shared,
                    other => bail!("--cpus is split or shared, not {other:?}"),
                };
            }
            "--channels" => {
                channels = match value.as_str() {
                    "per-client" => Channels::PerClient,
                    "shared" => Channels::Shared,
                    other => bail!("--channels is per-client or shared, not {other:?}"),
                };
            }
            "--run-id" => run_id = Some(value),
            other => bail!("unknown flag {other}\n\n{USAGE}"),
        }
    }
    let run_id = match run_id {
        Some(run_id) => validate_run_id(run_id)?,
        None => random_run_id(),
    };
    if cleanup {
        return Ok(Command::Cleanup { run_id });
    }
    if clients == 0 {
        bail!("--clients must be at least 1");
    }
    if !(load_fraction > 0.0 && load_fraction <= 2.0) {
        bail!("--load-fraction must be in (0, 2]");
    }
    let (default_duration, default_warmup) = if quick {
        (Duration::from_secs(2), Duration::from_millis(500))
    } else {
        (Duration::from_secs(10), Duration::from_secs(1))
    };
    let duration = duration.unwrap_or(default_duration);
    if duration.is_zero() {
        bail!("--duration must be positive");
    }
    Ok(Command::Run(RegistryArgs {
        run_id,
        clients,
        duration,
        warmup: warmup.unwrap_or(default_warmup),
        load_fraction,
        channels,
        cpus,
        quick,
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn parse_words(words: &str) -> anyhow::Result<Command> {
        parse(words.split_whitespace().map(str::to_owned))
    }

    fn run_args(words: &str) -> RegistryArgs {
        match parse_words(words).unwrap() {
            Command::Run(args) => args,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn defaults_quick_and_flags() {
        let defaults = run_args("");
        assert_eq!(defaults.clients, 16);
        assert_eq!(defaults.duration, Duration::from_secs(10));
        assert_eq!(defaults.warmup, Duration::from_secs(1));
        assert_eq!(defaults.channels, Channels::PerClient);
        assert!((defaults.load_fraction - 0.5).abs() < f64::EPSILON);
        assert_eq!(defaults.run_id.len(), 8);

        let quick =
            run_args("run --quick --clients=4 --channels shared --cpus shared --run-id abc1");
        assert_eq!(quick.cpus, Cpus::Shared);
        assert_eq!(quick.duration, Duration::from_secs(2));
        assert_eq!(quick.warmup, Duration::from_millis(500));
        assert_eq!(quick.clients, 4);
        assert_eq!(quick.channels, Channels::Shared);
        assert_eq!(quick.run_id, "abc1");

        let custom = run_args("--duration 1.5 --warmup 0 --load-fraction=0.25");
        assert_eq!(custom.duration, Duration::from_millis(1500));
        assert_eq!(custom.warmup, Duration::ZERO);
        assert!((custom.load_fraction - 0.25).abs() < f64::EPSILON);
    }

    #[test]
    fn cleanup_and_help() {
        match parse_words("cleanup --run-id deadbeef").unwrap() {
            Command::Cleanup { run_id } => assert_eq!(run_id, "deadbeef"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(parse_words("--help").unwrap(), Command::Help));
    }

    #[test]
    fn bad_input_is_refused() {
        for words in [
            "--clients 0",
            "--clients",
            "--duration 0",
            "--load-fraction 3",
            "--channels many",
            "--run-id Bad-Id",
            "--bogus 1",
        ] {
            assert!(parse_words(words).is_err(), "{words}");
        }
    }
}
