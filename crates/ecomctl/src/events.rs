//! `ecomctl events tail`: every event published to the events exchanges,
//! through a temporary queue of ecomctl's own, decoded, one line each.
//!
//! The queue is server-named, exclusive and auto-deleted (gone with the
//! connection), classic and capped at [`TAIL_QUEUE_MAX_LENGTH`] messages
//! (the oldest dropped), so a forgotten tail never fills the broker. It
//! receives copies: the consumer queues are not touched. One side effect:
//! while a tail is bound with `#`, an event no consumer queue is bound to is
//! routed to the tail instead of the `unrouted` alternate exchange.

use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use ecommerce_broker::lapin::options::{
    BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions,
};
use ecommerce_broker::lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use ecommerce_broker::lapin::{Channel, Consumer};
use ecommerce_broker::properties::from_basic_properties;
use ecommerce_broker::{Broker, EventsExchange, TopologyNames};
use ecommerce_events::MessageProperties;
use futures::StreamExt as _;

use crate::connect::connect_broker;
use crate::decode::{Decoder, EventView};
use crate::settings::Settings;

/// `x-max-length` of a tail's queue (`x-overflow` is the default `drop-head`).
pub const TAIL_QUEUE_MAX_LENGTH: i64 = 100_000;

/// What `events tail` was asked for.
#[derive(Clone, Debug, Default)]
pub struct TailOptions {
    /// Exchanges to listen to (every events exchange when empty).
    pub exchanges: Vec<String>,
    /// Event types or topic patterns (`orders.#`); everything when empty.
    pub types: Vec<String>,
    /// Only events of this correlation id.
    pub correlation: Option<String>,
    pub json: bool,
    /// Stop after this many events.
    pub count: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
}

/// The events exchanges `requested` names (each by its configured name,
/// its default name such as `orders.events`, or its context such as
/// `orders`); all of them when none is requested.
pub fn resolve_exchanges(
    names: &TopologyNames,
    requested: &[String],
) -> anyhow::Result<Vec<String>> {
    if requested.is_empty() {
        return Ok(EventsExchange::ALL
            .iter()
            .map(|exchange| names.exchange(*exchange).to_owned())
            .collect());
    }
    let mut resolved: Vec<String> = Vec::new();
    for wanted in requested {
        let found = EventsExchange::ALL.iter().find(|exchange| {
            let default = exchange.default_name();
            let context = default
                .trim_end_matches(".events")
                .trim_end_matches("-events")
                .trim_end_matches('.');
            wanted == names.exchange(**exchange) || wanted == default || wanted == context
        });
        let Some(exchange) = found else {
            bail!(
                "unknown events exchange `{wanted}`; one of: {}",
                EventsExchange::ALL
                    .iter()
                    .map(|exchange| names.exchange(*exchange))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        };
        let name = names.exchange(*exchange).to_owned();
        if !resolved.contains(&name) {
            resolved.push(name);
        }
    }
    Ok(resolved)
}

/// A temporary queue bound to some exchanges, and its consumer.
pub struct EventStream {
    channel: Channel,
    consumer: Consumer,
    /// The broker-made queue name.
    pub queue: String,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("EventStream")
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}

impl EventStream {
    /// Declares the queue, binds it to each of `exchanges` with each of
    /// `keys`, and starts consuming (auto-ack: these are copies).
    pub async fn open(
        broker: &Broker,
        exchanges: &[String],
        keys: &[String],
    ) -> anyhow::Result<Self> {
        let channel = broker
            .open_channel()
            .await
            .context("cannot open a channel on the RabbitMQ connection")?;
        let mut arguments = FieldTable::default();
        arguments.insert(
            "x-queue-type".into(),
            AMQPValue::LongString(LongString::from("classic")),
        );
        arguments.insert(
            "x-max-length".into(),
            AMQPValue::LongLongInt(TAIL_QUEUE_MAX_LENGTH),
        );
        let options = QueueDeclareOptions {
            passive: false,
            durable: false,
            exclusive: true,
            auto_delete: true,
            nowait: false,
        };
        let queue = channel
            .queue_declare(ShortString::from(""), options, arguments)
            .await
            .context("cannot declare the temporary queue")?;
        let queue_name = queue.name().clone();
        for exchange in exchanges {
            for key in keys {
                channel
                    .queue_bind(
                        queue_name.clone(),
                        ShortString::from(exchange.as_str()),
                        ShortString::from(key.as_str()),
                        QueueBindOptions::default(),
                        FieldTable::default(),
                    )
                    .await
                    .map_err(|error| bind_error(exchange, key, &error))?;
            }
        }
        let consumer = channel
            .basic_consume(
                queue_name.clone(),
                ShortString::from(""),
                BasicConsumeOptions {
                    no_local: false,
                    no_ack: true,
                    exclusive: true,
                    nowait: false,
                },
                FieldTable::default(),
            )
            .await
            .context("cannot consume the temporary queue")?;
        Ok(Self {
            channel,
            consumer,
            queue: queue_name.as_str().to_owned(),
        })
    }

    /// The next message; `Err` when the channel or connection is lost.
    pub async fn next(&mut self) -> anyhow::Result<(MessageProperties, Vec<u8>)> {
        match self.consumer.next().await {
            Some(Ok(delivery)) => Ok((from_basic_properties(&delivery.properties), delivery.data)),
            Some(Err(error)) => Err(anyhow!("lost the RabbitMQ channel: {error}")),
            None => Err(anyhow!("RabbitMQ cancelled the tail's consumer")),
        }
    }

    /// Closes the channel (the broker deletes the queue).
    pub async fn close(self) {
        self.channel.close(200, "tail done".into()).await.ok();
    }
}

fn bind_error(exchange: &str, key: &str, error: &ecommerce_broker::lapin::Error) -> anyhow::Error {
    let text = error.to_string();
    if text.contains("NOT_FOUND") {
        return anyhow!(
            "exchange `{exchange}` does not exist: the services declare it when they start \
             (is AMQP_TOPOLOGY_PREFIX / --topology-prefix the one they run with?)"
        );
    }
    if text.contains("ACCESS_REFUSED") {
        return anyhow!(
            "the broker user may not bind a queue to `{exchange}` (read permission on the \
             exchange is needed to tail it): {text}"
        );
    }
    anyhow!("cannot bind the temporary queue to `{exchange}` with `{key}`: {text}")
}

/// Whether `view` belongs to `correlation` (all do when none is asked).
pub fn matches_correlation(view: &EventView, correlation: Option<&str>) -> bool {
    correlation.is_none_or(|wanted| view.correlation_id.as_deref() == Some(wanted))
}

/// Runs `events tail` until Ctrl-C, `--count` or `--for`.
pub async fn tail(settings: &Settings, options: TailOptions) -> anyhow::Result<()> {
    let broker_settings = settings.broker()?;
    let exchanges = resolve_exchanges(&broker_settings.names, &options.exchanges)?;
    let keys = if options.types.is_empty() {
        vec!["#".to_owned()]
    } else {
        options.types.clone()
    };
    let registry_url = settings.registry_url()?;
    let decoder = Decoder::new(registry_url.as_deref())?;
    let broker = connect_broker(&broker_settings).await?;
    let mut stream = EventStream::open(&broker, &exchanges, &keys).await?;
    eprintln!(
        "tailing {} for {}{} (Ctrl-C to stop)",
        exchanges.join(", "),
        keys.join(", "),
        options
            .correlation
            .as_deref()
            .map(|correlation| format!(", correlation {correlation}"))
            .unwrap_or_default()
    );
    let deadline = options
        .duration
        .map(|duration| tokio::time::Instant::now() + duration);
    let mut printed: u64 = 0;
    // One listener for the whole tail, so a Ctrl-C between two events is not missed.
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    let outcome = loop {
        if options.count.is_some_and(|count| printed >= count) {
            break Ok(());
        }
        let until_deadline = async {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        let (properties, body) = tokio::select! {
            next = stream.next() => match next {
                Ok(message) => message,
                Err(error) => break Err(error),
            },
            _ = &mut interrupted => break Ok(()),
            () = until_deadline => break Ok(()),
        };
        let view = decoder.decode(&properties, &body).await;
        if !matches_correlation(&view, options.correlation.as_deref()) {
            continue;
        }
        if options.json {
            println!("{}", view.json());
        } else {
            println!("{}", view.line());
        }
        printed += 1;
    };
    stream.close().await;
    broker.close().await;
    outcome
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn exchanges_are_named_by_their_name_default_or_context() {
        let names = TopologyNames::default().with_prefix("t-1.");
        assert_eq!(resolve_exchanges(&names, &[]).unwrap().len(), 6);
        let requested = [
            "orders".to_owned(),
            "orders.events".to_owned(),
            "t-1.inventory.events".to_owned(),
            "iam.security".to_owned(),
        ];
        assert_eq!(
            resolve_exchanges(&names, &requested).unwrap(),
            [
                "t-1.orders.events",
                "t-1.inventory.events",
                "t-1.iam.security-events"
            ]
        );
        let error = resolve_exchanges(&names, &["shipping".to_owned()])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("unknown events exchange `shipping`"),
            "{error}"
        );
        assert!(error.contains("t-1.fulfillment.events"), "{error}");
    }
}
