//! `ecomctl`, the operator CLI, as a library: `main.rs` parses the command
//! line and calls [`run`]; the tests call the binary.
//!
//! One module per command group, each over the workspace's shared crates
//! (the broker's topology names and dead-letter headers, the events codec
//! and schema registry client, the outbox tables), with its output built
//! by pure functions tested beside them:
//!
//! - [`events`]: `events tail`, a temporary queue on the events exchanges;
//! - [`saga`]: `saga`, one checkout's story from the outbox tables;
//! - [`dlq`]: `dlq list | show | replay | purge` (how a replay passes the
//!   consumer's origin check is explained there);
//! - [`outbox`]: `outbox status | retry`;
//! - [`demo`]: `demo`, the checkout walk-through over gRPC.
//!
//! [`settings`] reads the variables the services read, with the flags on
//! top; [`connect`] turns every unreachable broker, database or service
//! into an error that says where and what to do.

pub mod cli;
pub mod connect;
pub mod db;
pub mod decode;
pub mod demo;
pub mod dlq;
pub mod events;
pub mod format;
pub mod outbox;
pub mod saga;
pub mod settings;

use cli::{Cli, Command, DlqCommand, EventsCommand, OutboxCommand};
use settings::Settings;

/// Runs one command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::from_process(cli.global.overrides());
    match cli.command {
        Command::Events(EventsCommand::Tail(args)) => {
            events::tail(
                &settings,
                events::TailOptions {
                    exchanges: args.exchanges,
                    types: args.types,
                    correlation: args.correlation,
                    json: args.json,
                    count: args.count,
                    duration: args.duration,
                },
            )
            .await
        }
        Command::Saga(args) => {
            let selector = match (args.order_id, args.correlation) {
                (_, Some(correlation)) => saga::Selector::Correlation(correlation),
                (Some(order_id), None) => saga::Selector::Order(order_id),
                (None, None) => anyhow::bail!("give an ORDER_ID or --correlation"),
            };
            let story = saga::load(&settings, selector).await?;
            if args.json {
                println!("{}", saga::json(&story));
            } else {
                for line in saga::render(&story) {
                    println!("{line}");
                }
            }
            Ok(())
        }
        Command::Dlq(DlqCommand::List { sample, json }) => dlq::list(&settings, sample, json).await,
        Command::Dlq(DlqCommand::Show { queue, id, json }) => {
            dlq::show(&settings, &queue, id.as_deref(), json).await
        }
        Command::Dlq(DlqCommand::Replay { queue, id, all }) => {
            let selection = match (id, all) {
                (Some(id), _) => dlq::Selection::Id(id),
                (None, true) => dlq::Selection::All,
                (None, false) => anyhow::bail!("give --id ID or --all"),
            };
            dlq::replay(&settings, &queue, selection).await
        }
        Command::Dlq(DlqCommand::Purge { queue, yes }) => dlq::purge(&settings, &queue, yes).await,
        Command::Outbox(OutboxCommand::Status {
            services,
            window,
            json,
        }) => outbox::status(&settings, &services, window, json).await,
        Command::Outbox(OutboxCommand::Retry {
            id,
            failed,
            services,
        }) => {
            let target = match (id, failed) {
                (Some(id), _) => outbox::RetryTarget::Event(id),
                (None, true) => outbox::RetryTarget::AllFailed,
                (None, false) => anyhow::bail!("give an EVENT_ID or --failed"),
            };
            outbox::retry(&settings, &services, target).await
        }
        Command::Demo(args) => {
            demo::demo(
                &settings,
                demo::DemoOptions {
                    card: args.card,
                    ship: !args.no_ship,
                    timeout: args.timeout,
                    correlation: args.correlation,
                    quantity: args.quantity,
                },
            )
            .await
        }
    }
}
