//! The command line: every command and flag, with its `--help`.

use std::time::Duration;

use clap::{ArgAction, ArgGroup, Args, Parser, Subcommand};
use ecommerce_platform::settings::ServiceInfo;
use uuid::Uuid;

use crate::settings::{Overrides, parse_service_assignment};

/// ecomctl: look into the running shop and repair it.
///
/// Reads the variables the services read (AMQP_URL, AMQP_TOPOLOGY_PREFIX,
/// DATABASE_URL or <PREFIX>_DATABASE_URL and <PREFIX>_DB_SCHEMA,
/// SCHEMA_REGISTRY_URL, <PREFIX>_GRPC_ADDR, ...), so it runs beside
/// `scripts/up` with no flags; the global flags override them.
#[derive(Debug, Parser)]
#[command(name = "ecomctl", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// The help heading of the global flags.
const CONNECTIONS: &str = "Connections (every command; each flag overrides the variable it names)";

/// Where ecomctl connects (each flag overrides the variable it names).
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// RabbitMQ URL [default: $AMQP_URL, else amqp://guest:guest@127.0.0.1:5672/%2f]
    #[arg(long, global = true, value_name = "URL", help_heading = CONNECTIONS)]
    pub amqp_url: Option<String>,
    /// Prefix of every exchange and queue name, as the services run with [default: $AMQP_TOPOLOGY_PREFIX]
    #[arg(long, global = true, value_name = "PREFIX", help_heading = CONNECTIONS)]
    pub topology_prefix: Option<String>,
    /// One PostgreSQL URL for every service [default: $<PREFIX>_DATABASE_URL, else $DATABASE_URL, else postgres://postgres@127.0.0.1:5432/ecommerce?sslmode=disable]
    #[arg(long, global = true, value_name = "URL", help_heading = CONNECTIONS)]
    pub database_url: Option<String>,
    /// A service's schema, e.g. `--schema orders=orders_blue` (repeatable) [default: $<PREFIX>_DB_SCHEMA, else the service's own: auth for iam, orders for orders, ...]
    #[arg(long = "schema", global = true, value_name = "SERVICE=SCHEMA", value_parser = parse_assignment, help_heading = CONNECTIONS)]
    pub schemas: Vec<(ServiceInfo, String)>,
    /// Schema registry URL for decoding events by their registry id, or `off` [default: $SCHEMA_REGISTRY_URL, else http://127.0.0.1:50058]
    #[arg(long, global = true, value_name = "URL", help_heading = CONNECTIONS)]
    pub registry_url: Option<String>,
    /// A service's gRPC URL, e.g. `--grpc iam=http://10.0.0.5:50052` (repeatable) [default: http:// + $<PREFIX>_GRPC_ADDR, else the service's default port on 127.0.0.1]
    #[arg(long = "grpc", global = true, value_name = "SERVICE=URL", value_parser = parse_assignment, help_heading = CONNECTIONS)]
    pub grpc: Vec<(ServiceInfo, String)>,
}

impl GlobalArgs {
    /// The overrides these flags make.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            amqp_url: self.amqp_url.clone(),
            topology_prefix: self.topology_prefix.clone(),
            database_url: self.database_url.clone(),
            schemas: self.schemas.clone(),
            registry_url: self.registry_url.clone(),
            grpc: self.grpc.clone(),
        }
    }
}

fn parse_assignment(text: &str) -> Result<(ServiceInfo, String), String> {
    parse_service_assignment(text).map_err(|error| error.to_string())
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    crate::format::parse_duration(text).map_err(|error| error.to_string())
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Watch the events the services publish
    #[command(subcommand)]
    Events(EventsCommand),
    /// Tell the story of one checkout from the services' outboxes: a timeline and a causation tree
    ///
    /// Every event of a checkout carries its correlation id and names the
    /// event that caused it. The outbox tables keep published rows for
    /// OUTBOX_RETENTION_HOURS (168 by default), and also hold what was not
    /// published yet (pending) or gave up (failed). Given an order id, every
    /// correlation an event about that order carries is shown.
    Saga(SagaArgs),
    /// Dead-letter queues: what is in them and why, replay, purge
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// The services' transactional outboxes: backlog, and failed rows back to pending
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// Run the checkout walk-through over gRPC, printing its events as they happen
    ///
    /// Against running services (scripts/up): the bootstrap admin
    /// (IAM_BOOTSTRAP_ADMIN_EMAIL / _PASSWORD, development defaults
    /// otherwise) creates, prices, publishes and stocks a new SKU; a new
    /// customer buys it; the saga confirms the order; the admin ships and
    /// delivers it. Each service is health-checked first. The events are
    /// read from a temporary queue of ecomctl's own, as `events tail`.
    Demo(DemoArgs),
}

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Print every event as it is published, one line each: time, type, aggregate, correlation, causation
    ///
    /// Reads copies through a temporary queue (exclusive, deleted on exit,
    /// capped at 100,000 messages): the consumer queues are not touched.
    /// Events decode with the compiled codec, else through the schema
    /// registry by the id they carry, else the line says why not. While a
    /// tail listens to everything, an event no consumer is bound to reaches
    /// the tail instead of the `unrouted` queue. Stops on Ctrl-C, --count or --for.
    Tail(TailArgs),
}

#[derive(Debug, Args)]
pub struct TailArgs {
    /// Only this events exchange: `orders`, `orders.events` or its full name (repeatable) [default: all six]
    #[arg(long = "exchange", value_name = "EXCHANGE")]
    pub exchanges: Vec<String>,
    /// Only this event type or topic pattern, e.g. `orders.order_placed.v1`, `inventory.stock.*.v1`, `payments.#` (repeatable; bound on the broker, so nothing else is copied)
    #[arg(long = "type", value_name = "TYPE")]
    pub types: Vec<String>,
    /// Only events of this correlation id (one checkout)
    #[arg(long, value_name = "ID")]
    pub correlation: Option<String>,
    /// One JSON object per line, with the decoded payload
    #[arg(long)]
    pub json: bool,
    /// Stop after this many events
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Stop after this long, e.g. 30s, 5m
    #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("which").required(true).args(["order_id", "correlation"])))]
pub struct SagaArgs {
    /// The order whose checkout to tell
    #[arg(value_name = "ORDER_ID")]
    pub order_id: Option<String>,
    /// The correlation id to tell instead (e.g. a checkout's x-correlation-id)
    #[arg(long, value_name = "ID")]
    pub correlation: Option<String>,
    /// The events as JSON, in causation order with their depth
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// Every dead-letter queue's depth, and the reasons of what is in it
    ///
    /// Looks without taking: the messages read for their reasons are put back.
    List {
        /// Read the reasons of at most this many messages per queue
        #[arg(long, default_value_t = 100, value_name = "N")]
        sample: usize,
        /// As JSON
        #[arg(long)]
        json: bool,
    },
    /// One dead-lettered message, decoded: why, where it came from, its headers and payload
    ///
    /// QUEUE is the DLQ (`inventory.order-events.dlq`) or its consumer queue
    /// (`inventory.order-events`), with or without the topology prefix. The
    /// message is put back.
    Show {
        /// The DLQ (`inventory.order-events.dlq`) or its consumer queue (`inventory.order-events`), with or without the topology prefix
        #[arg(value_name = "QUEUE")]
        queue: String,
        /// The message with this id [default: the first]
        #[arg(long, value_name = "MESSAGE_ID")]
        id: Option<String>,
        /// As JSON
        #[arg(long)]
        json: bool,
    },
    /// Send dead-lettered messages back to their consumer queue
    ///
    /// Each message goes through the consumer queue's own retry exchange
    /// (`<queue>.retry`, as the consumer's delayed retries do) with the origin
    /// the consumer recorded, so it passes the consumer's origin check as the
    /// first time (a forged message is refused again) and reaches that queue
    /// alone, not every queue bound to its type. The broker user needs write
    /// permission on `<queue>.retry`. A message leaves the DLQ only once the
    /// broker confirmed its copy (at least once: the consumer's inbox drops a
    /// duplicate). With AMQP_EVENT_PRODUCER_USER set, a DLQ message not put
    /// there by the consumer's own broker user is skipped.
    #[command(group(ArgGroup::new("which").required(true).args(["id", "all"])))]
    Replay {
        /// The DLQ (`inventory.order-events.dlq`) or its consumer queue (`inventory.order-events`), with or without the topology prefix
        #[arg(value_name = "QUEUE")]
        queue: String,
        /// Only the message with this id
        #[arg(long, value_name = "MESSAGE_ID")]
        id: Option<String>,
        /// Every message in the queue when the replay starts
        #[arg(long)]
        all: bool,
    },
    /// Delete every message of a dead-letter queue, for good
    ///
    /// Purges only when asked twice: --yes, then, on a terminal, the queue's
    /// name typed to confirm. Without a terminal on standard input (a
    /// script), give --yes twice instead.
    Purge {
        /// The DLQ (`inventory.order-events.dlq`) or its consumer queue (`inventory.order-events`), with or without the topology prefix
        #[arg(value_name = "QUEUE")]
        queue: String,
        /// Yes, purge (twice without a terminal)
        #[arg(long, action = ArgAction::Count)]
        yes: u8,
    },
}

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// Per service: pending and failed rows, the oldest pending row's age, the publish rate
    Status {
        /// Only this service (repeatable) [default: every service with an outbox]
        #[arg(long = "service", value_name = "SERVICE")]
        services: Vec<String>,
        /// The rate is over this past window, e.g. 1m, 5m, 1h
        #[arg(long, default_value = "5m", value_parser = parse_duration, value_name = "DURATION")]
        window: Duration,
        /// As JSON
        #[arg(long)]
        json: bool,
    },
    /// Put failed rows (out of publish attempts) back to pending, with a fresh attempt budget
    ///
    /// The services' relays publish them on their next poll. Fix the cause
    /// first: the row's last error says what the broker refused.
    #[command(group(ArgGroup::new("which").required(true).args(["id", "failed"])))]
    Retry {
        /// The failed event with this id
        #[arg(value_name = "EVENT_ID")]
        id: Option<Uuid>,
        /// Every failed row
        #[arg(long)]
        failed: bool,
        /// Only this service's outbox (repeatable) [default: every service with an outbox]
        #[arg(long = "service", value_name = "SERVICE")]
        services: Vec<String>,
    },
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The simulated card: pm_card_visa authorizes, pm_card_declined declines
    #[arg(long, default_value = "pm_card_visa", value_name = "TOKEN")]
    pub card: String,
    /// Stop once the order is confirmed (no shipping or delivery)
    #[arg(long)]
    pub no_ship: bool,
    /// How long each step of the saga may take
    #[arg(long, default_value = "60s", value_parser = parse_duration, value_name = "DURATION")]
    pub timeout: Duration,
    /// The checkout's correlation id [default: demo-<uuid>]
    #[arg(long, value_name = "ID")]
    pub correlation: Option<String>,
    /// Units bought
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub quantity: i32,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn replay_needs_an_id_or_all_and_purge_counts_its_yes() {
        assert!(Cli::try_parse_from(["ecomctl", "dlq", "replay", "q"]).is_err());
        assert!(
            Cli::try_parse_from(["ecomctl", "dlq", "replay", "q", "--id", "x", "--all"]).is_err()
        );
        let parsed = Cli::try_parse_from(["ecomctl", "dlq", "purge", "q", "--yes", "--yes"]);
        assert!(matches!(
            parsed.map(|cli| cli.command),
            Ok(Command::Dlq(DlqCommand::Purge { yes: 2, .. }))
        ));
        assert!(Cli::try_parse_from(["ecomctl", "saga"]).is_err());
        assert!(Cli::try_parse_from(["ecomctl", "saga", "o-1", "--correlation", "c"]).is_err());
        assert!(Cli::try_parse_from(["ecomctl", "outbox", "retry"]).is_err());
        assert!(Cli::try_parse_from(["ecomctl", "outbox", "retry", "not-a-uuid"]).is_err());
    }

    #[test]
    fn global_flags_go_anywhere() {
        let cli = Cli::try_parse_from([
            "ecomctl",
            "outbox",
            "status",
            "--schema",
            "orders=t_1",
            "--topology-prefix",
            "t-1.",
        ])
        .map_err(|error| error.to_string());
        let Ok(cli) = cli else {
            panic!("{cli:?}");
        };
        let overrides = cli.global.overrides();
        assert_eq!(overrides.schemas[0].1, "t_1");
        assert_eq!(overrides.topology_prefix.as_deref(), Some("t-1."));
    }
}
