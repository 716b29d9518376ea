//! Command-line arguments: `relay-bench relay [flags]` and
//! `relay-bench cleanup --run-id ID`.

use std::time::Duration;

use anyhow::{Context as _, bail};
use ecommerce_outbox::RelaySettings;

pub const USAGE: &str = "\
usage: relay-bench relay [--events M] [--clients N] [--relays R] [--duration SECS]
                         [--batch-size B] [--poll-ms MS] [--load-fraction F | --offered-load N]
                         [--run-id ID] [--quick]
       relay-bench cleanup --run-id ID

relay     measures the commit limit, the outbox write cost, the broker's
          confirmed-publish limit, the relay's throughput, and the latency
          at open-loop loads (a fraction of the relay rate, the same fraction
          of the write capacity, a low load); prints a table, then one JSON
          line (last)
cleanup   drops what a run named ID left behind (schema, topology)

  --events M          outbox rows pre-filled for the relay drain (default 50000)
  --clients N         concurrent writers for the insert/enqueue phases (default 16)
  --relays R          relay instances in this process (default 2)
  --duration SECS     length of each timed phase (default 10)
  --batch-size B      relay batch and publish window (default: RelaySettings, 256)
  --poll-ms MS        relay fallback poll interval (default: RelaySettings, 250)
  --load-fraction F   offered load as a fraction of the measured relay rate (default 0.5);
                      the same fraction of the write capacity (outbox enqueue txn/s)
                      is measured too (one run when within 5 %)
  --offered-load N    offered load in events/s instead of the relay fraction (no
                      floor run; the write-capacity run stays)
  --consumer-concurrency N  handlers the latency consumer runs at once
                      (default: the broker crate's ConsumerSettings, 1)
  --run-id ID         names the schema t_bench_ID_* and the topology bench-ID.*
                      (lowercase letters and digits; default: random)
  --quick             small sizes for a smoke run (events 3000, duration 2 s)";

#[derive(Clone, Debug)]
pub enum Command {
    Relay(RelayArgs),
    Cleanup { run_id: String },
    Help,
}

#[derive(Clone, Debug)]
pub struct RelayArgs {
    pub run_id: String,
    pub events: usize,
    pub clients: usize,
    pub relays: usize,
    pub duration: Duration,
    pub batch_size: usize,
    pub poll_interval: Duration,
    pub load_fraction: f64,
    pub offered_load: Option<f64>,
    pub consumer_concurrency: Option<usize>,
    pub quick: bool,
}

impl RelayArgs {
    /// The relay settings every relay of the run uses: the defaults with this
    /// run's batch size and poll interval, and housekeeping pushed out of the
    /// measurement.
    pub fn relay_settings(&self) -> RelaySettings {
        RelaySettings {
            batch_size: self.batch_size,
            poll_interval: self.poll_interval,
            stats_interval: Duration::from_secs(3600),
            prune_interval: Duration::from_secs(3600),
            ..RelaySettings::default()
        }
    }

    /// The part of each timed phase that is not measured.
    pub fn warmup(&self) -> Duration {
        (self.duration / 5).min(Duration::from_secs(1))
    }
}

pub fn parse(arguments: impl IntoIterator<Item = String>) -> anyhow::Result<Command> {
    let mut arguments = arguments.into_iter().peekable();
    let command = match arguments.peek().map(String::as_str) {
        Some("relay") | Some("cleanup") => arguments.next().unwrap_or_default(),
        Some("-h" | "--help" | "help") => return Ok(Command::Help),
        // `relay` is the default command.
        _ => "relay".to_owned(),
    };

    let defaults = RelaySettings::default();
    let mut run_id = None;
    let mut events = None;
    let mut clients = 16_usize;
    let mut relays = 2_usize;
    let mut duration = None;
    let mut batch_size = defaults.batch_size;
    let mut poll_interval = defaults.poll_interval;
    let mut load_fraction = 0.5_f64;
    let mut offered_load = None;
    let mut consumer_concurrency = None;
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
            "--run-id" => run_id = Some(value),
            "--events" => events = Some(number(&flag, &value)?),
            "--clients" => clients = number(&flag, &value)?,
            "--relays" => relays = number(&flag, &value)?,
            "--duration" => {
                let seconds: f64 = value
                    .parse()
                    .with_context(|| format!("{flag} takes seconds"))?;
                if !(seconds.is_finite() && seconds > 0.0) {
                    bail!("{flag} must be a positive number of seconds");
                }
                duration = Some(Duration::from_secs_f64(seconds));
            }
            "--consumer-concurrency" => {
                let concurrency = number(&flag, &value)?;
                if concurrency == 0 {
                    bail!("{flag} must be at least 1");
                }
                consumer_concurrency = Some(concurrency);
            }
            "--batch-size" => batch_size = number(&flag, &value)?,
            "--poll-ms" => poll_interval = Duration::from_millis(number(&flag, &value)? as u64),
            "--load-fraction" => {
                load_fraction = value
                    .parse()
                    .with_context(|| format!("{flag} takes a number"))?;
                if !(load_fraction > 0.0 && load_fraction <= 2.0) {
                    bail!("{flag} must be in (0, 2]");
                }
            }
            "--offered-load" => {
                let per_second: f64 = value
                    .parse()
                    .with_context(|| format!("{flag} takes events per second"))?;
                if !(per_second.is_finite() && per_second > 0.0) {
                    bail!("{flag} must be a positive number of events per second");
                }
                offered_load = Some(per_second);
            }
            other => bail!("unknown argument `{other}`\n\n{USAGE}"),
        }
    }

    let run_id = match run_id {
        Some(run_id) => validate_run_id(run_id)?,
        None => random_run_id(),
    };
    if command == "cleanup" {
        return Ok(Command::Cleanup { run_id });
    }
    if clients == 0 || relays == 0 || batch_size == 0 {
        bail!("--clients, --relays and --batch-size must be at least 1");
    }
    if batch_size > ecommerce_outbox::settings::MAX_BATCH_SIZE {
        bail!(
            "--batch-size must be at most {}",
            ecommerce_outbox::settings::MAX_BATCH_SIZE
        );
    }
    if poll_interval.is_zero() {
        bail!("--poll-ms must be at least 1");
    }
    let events = events.unwrap_or(if quick { 3_000 } else { 50_000 });
    if events == 0 {
        bail!("--events must be at least 1");
    }
    let duration = duration.unwrap_or(Duration::from_secs(if quick { 2 } else { 10 }));
    Ok(Command::Relay(RelayArgs {
        run_id,
        events,
        clients,
        relays,
        duration,
        batch_size,
        poll_interval,
        load_fraction,
        offered_load,
        consumer_concurrency,
        quick,
    }))
}

/// One argument after a benchmark's command word.
pub(crate) enum Arg {
    /// `--quick`: short phases.
    Quick,
    /// `-h` or `--help`.
    Help,
    /// `--name value` or `--name=value`.
    Flag { name: String, value: String },
}

/// The next argument of `arguments`; a flag without `=` takes the
/// following word as its value. Whether the flag exists is the caller's
/// question.
pub(crate) fn next_arg(
    arguments: &mut impl Iterator<Item = String>,
) -> Option<anyhow::Result<Arg>> {
    let argument = arguments.next()?;
    let (name, inline_value) = match argument.split_once('=') {
        Some((name, value)) if name.starts_with("--") => (name.to_owned(), Some(value.to_owned())),
        _ => (argument, None),
    };
    Some(match name.as_str() {
        "--quick" => Ok(Arg::Quick),
        "-h" | "--help" => Ok(Arg::Help),
        _ => match inline_value.or_else(|| arguments.next()) {
            Some(value) => Ok(Arg::Flag { name, value }),
            None => Err(anyhow::anyhow!("{name} needs a value")),
        },
    })
}

/// A non-negative number of seconds, e.g. `2.5`.
pub(crate) fn seconds(flag: &str, value: &str) -> anyhow::Result<std::time::Duration> {
    let seconds: f64 = value
        .parse()
        .with_context(|| format!("{flag} takes seconds, not {value:?}"))?;
    if !seconds.is_finite() || seconds < 0.0 {
        bail!("{flag} must be a non-negative number of seconds");
    }
    Ok(std::time::Duration::from_secs_f64(seconds))
}

fn number(flag: &str, value: &str) -> anyhow::Result<usize> {
    value
        .replace('_', "")
        .parse()
        .with_context(|| format!("{flag} takes a whole number, not `{value}`"))
}

/// Lowercase letters and digits only: it becomes part of a Postgres
/// identifier and of AMQP names.
pub(crate) fn validate_run_id(run_id: String) -> anyhow::Result<String> {
    let valid = !run_id.is_empty()
        && run_id.len() <= 12
        && run_id
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit());
    if !valid {
        bail!("--run-id must be 1 to 12 lowercase letters or digits, not `{run_id}`");
    }
    Ok(run_id)
}

pub(crate) fn random_run_id() -> String {
    // The random tail of a UUID v7 (its head is the clock).
    let simple = uuid::Uuid::now_v7().simple().to_string();
    simple[simple.len() - 8..].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_words(words: &str) -> Command {
        parse(words.split_whitespace().map(str::to_owned)).unwrap()
    }

    #[test]
    fn defaults_and_quick() {
        let Command::Relay(full) = parse_words("relay") else {
            panic!("relay")
        };
        assert_eq!(full.events, 50_000);
        assert_eq!(full.clients, 16);
        assert_eq!(full.relays, 2);
        assert_eq!(full.duration, Duration::from_secs(10));
        assert_eq!(full.batch_size, RelaySettings::default().batch_size);
        let Command::Relay(quick) = parse_words("relay --quick --relays=2") else {
            panic!("relay")
        };
        assert_eq!(quick.events, 3_000);
        assert_eq!(quick.relays, 2);
        assert_eq!(quick.duration, Duration::from_secs(2));
    }

    #[test]
    fn flags_take_values_both_ways() {
        let Command::Relay(args) =
            parse_words("--events 10_000 --clients=4 --duration 1.5 --run-id abc123")
        else {
            panic!("relay")
        };
        assert_eq!(args.events, 10_000);
        assert_eq!(args.clients, 4);
        assert_eq!(args.duration, Duration::from_millis(1500));
        assert_eq!(args.run_id, "abc123");
    }

    #[test]
    fn bad_input_is_refused() {
        for words in [
            "relay --events",
            "relay --clients 0",
            "relay --run-id Bad-Id",
            "relay --bogus 1",
            "relay --batch-size 20000",
        ] {
            assert!(
                parse(words.split_whitespace().map(str::to_owned)).is_err(),
                "{words}"
            );
        }
    }

    #[test]
    fn cleanup_needs_only_the_run_id() {
        match parse_words("cleanup --run-id deadbeef") {
            Command::Cleanup { run_id } => assert_eq!(run_id, "deadbeef"),
            other => panic!("{other:?}"),
        }
    }
}
