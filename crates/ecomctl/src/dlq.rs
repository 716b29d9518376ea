//! `ecomctl dlq`: the dead-letter queues of the consumer queues.
//!
//! A consumer dead-letters a message by publishing a copy to `<queue>.dlq`
//! with `x-death-reason` and where the message came from
//! (`x-original-queue`, `-exchange`, `-routing-key`, `-user-id`); the broker
//! itself dead-letters a message that reached the queue's delivery limit,
//! with its `x-death` headers. `list` and `show` look without taking
//! anything: they hold the messages unacknowledged and close the channel,
//! which puts them back.
//!
//! # How `replay` republishes
//!
//! A replayed message goes to the consumer queue **through that queue's
//! own retry exchange** (`<queue>.retry`, routing key `<queue>`), the path
//! the consumer's delayed retries take, with the origin headers the
//! consumer wrote when it dead-lettered the message. Because:
//!
//! - the consumer checks every delivery's origin (`EventOrigin`): the
//!   exchange it was published to must be its event type's, and, with
//!   `AMQP_EVENT_PRODUCER_USER`, the AMQP `user_id` its producer's. A copy
//!   republished by ecomctl to the original exchange would carry ecomctl's
//!   broker user (RabbitMQ sets no other) and be refused again, and would
//!   reach every queue bound to that event type (other consumers, the
//!   reporting stream), not only the one that failed it. The default
//!   exchange (straight to the queue) fails the exchange check.
//! - For a delivery that came through `<queue>.retry` (writable only by the
//!   queue's consumer, and by an operator granted the same), the consumer
//!   takes the original exchange, routing key and user from the headers,
//!   so the replayed message passes exactly the check it passed (or failed)
//!   the first time: a forged message is refused again.
//! - The broker user running ecomctl needs write permission on
//!   `<queue>.retry` (and configure, to declare the retry path idempotently
//!   as the consumer does at start), not on any events exchange.
//!
//! `x-retry-count` and the dead-letter headers are removed (a replay starts
//! with a fresh retry budget); `x-replayed-from` names the DLQ. Each message
//! is acknowledged on the DLQ only after the broker confirmed the copy, so
//! nothing is lost; a crash between the two leaves it in both places, which
//! the consumer's inbox absorbs (it deduplicates by message id).
//!
//! With `AMQP_EVENT_PRODUCER_USER` set, a copy the consumer dead-lettered
//! must have been published by that consumer's broker user: anyone else
//! could write a fake DLQ message claiming another origin, so such a
//! message is skipped and stays in the DLQ.

use std::collections::BTreeMap;
use std::io::{BufRead as _, IsTerminal as _, Write as _};

use anyhow::{Context as _, anyhow, bail};
use ecommerce_broker::consumer::{
    DEATH_REASON_HEADER, ORIGINAL_EXCHANGE_HEADER, ORIGINAL_QUEUE_HEADER,
    ORIGINAL_ROUTING_KEY_HEADER, ORIGINAL_USER_ID_HEADER, RETRY_COUNT_HEADER, RETRY_REASON_HEADER,
};
use ecommerce_broker::lapin::message::BasicGetMessage;
use ecommerce_broker::lapin::options::{
    BasicAckOptions, BasicGetOptions, QueueDeclareOptions, QueuePurgeOptions,
};
use ecommerce_broker::lapin::types::{FieldTable, ShortString};
use ecommerce_broker::origin::producer_service;
use ecommerce_broker::properties::{DELIVERY_COUNT_HEADER, from_basic_properties};
use ecommerce_broker::settings::SERVICE_PLACEHOLDER;
use ecommerce_broker::topology::{self, retry_exchange_name, retry_path};
use ecommerce_broker::{
    Broker, BrokerSettings, ConsumerQueue, OutgoingMessage, PublishError, TopologyNames,
};
use ecommerce_events::MessageProperties;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value as Json, json};

use crate::connect::connect_broker;
use crate::decode::{Decoder, EventView};
use crate::format;
use crate::settings::Settings;

/// Header a replayed message carries: the DLQ it was replayed from.
pub const REPLAYED_FROM_HEADER: &str = "x-replayed-from";

/// Headers the broker adds when it dead-letters (`x-death` is a table and
/// never survives into text headers).
const BROKER_DEATH_HEADERS: [&str; 6] = [
    "x-first-death-exchange",
    "x-first-death-queue",
    "x-first-death-reason",
    "x-last-death-exchange",
    "x-last-death-queue",
    "x-last-death-reason",
];

/// A consumer queue and its dead-letter queue, under the configured names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DlqTarget {
    pub queue: ConsumerQueue,
    /// The consumer queue's name.
    pub queue_name: String,
    /// `<queue>.dlq`.
    pub dlq_name: String,
}

impl DlqTarget {
    fn new(names: &TopologyNames, queue: ConsumerQueue) -> Self {
        Self {
            queue,
            queue_name: names.queue(queue).to_owned(),
            dlq_name: names.dead_letter_queue(queue),
        }
    }

    /// The service consuming the queue: `inventory.order-events` → `inventory-svc`.
    pub fn consumer_service(&self) -> String {
        producer_service(self.queue.default_name()).unwrap_or_default()
    }
}

/// Every consumer queue's DLQ.
pub fn all_targets(names: &TopologyNames) -> Vec<DlqTarget> {
    ConsumerQueue::ALL
        .iter()
        .map(|queue| DlqTarget::new(names, *queue))
        .collect()
}

/// The DLQ `requested` names: the DLQ's name or its consumer queue's, as
/// configured or by default name (without the topology prefix).
pub fn resolve(names: &TopologyNames, requested: &str) -> anyhow::Result<DlqTarget> {
    let requested = requested.trim();
    let found = all_targets(names).into_iter().find(|target| {
        let default = target.queue.default_name();
        requested == target.dlq_name
            || requested == target.queue_name
            || requested == default
            || requested == topology::dead_letter_queue_name(default)
    });
    found.ok_or_else(|| {
        anyhow!(
            "no dead-letter queue `{requested}`; one of: {}",
            all_targets(names)
                .iter()
                .map(|target| target.dlq_name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// Why a dead-lettered message is there, in one line.
pub fn death_reason(properties: &MessageProperties) -> String {
    let header = |name: &str| properties.headers.get(name);
    if let Some(reason) = header(DEATH_REASON_HEADER) {
        return format::one_line(reason);
    }
    if let Some(reason) = header("x-first-death-reason") {
        let explained = match reason.as_str() {
            "delivery_limit" => "its x-delivery-limit was reached",
            "rejected" => "a consumer rejected it without requeueing",
            "expired" => "its TTL expired",
            "maxlen" => "the queue was full",
            _ => "",
        };
        return if explained.is_empty() {
            format!("dead-lettered by the broker ({reason})")
        } else {
            format!("dead-lettered by the broker ({reason}: {explained})")
        };
    }
    "no reason recorded".to_owned()
}

/// Reasons with their counts, most frequent first, each cut to `max` characters.
pub fn summarize_reasons(reasons: &[String], max: usize) -> Vec<(usize, String)> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for reason in reasons {
        *counts.entry(format::truncate(reason, max)).or_default() += 1;
    }
    let mut summary: Vec<(usize, String)> = counts
        .into_iter()
        .map(|(reason, count)| (count, reason))
        .collect();
    summary.sort_by(|left, right| right.0.cmp(&left.0).then_with(|| left.1.cmp(&right.1)));
    summary
}

/// The message to publish for a replay of one dead-lettered message, or
/// why it is not replayed. `user_id` is the DLQ message's AMQP `user_id`;
/// `consumer_user`, when producer users are checked, the broker user of
/// the queue's consumer.
pub fn replay_message(
    target: &DlqTarget,
    properties: &MessageProperties,
    user_id: Option<&str>,
    body: Vec<u8>,
    consumer_user: Option<&str>,
) -> Result<OutgoingMessage, String> {
    let mut headers = properties.headers.clone();
    if let Some(original_queue) = headers.get(ORIGINAL_QUEUE_HEADER) {
        // Dead-lettered by the consumer, which recorded where it came from.
        if *original_queue != target.queue_name {
            return Err(format!(
                "dead-lettered from `{original_queue}`, not from `{}`",
                target.queue_name
            ));
        }
        if let Some(consumer_user) = consumer_user {
            if user_id != Some(consumer_user) {
                return Err(format!(
                    "put in the DLQ by {}, not by the consumer's broker user `{consumer_user}`",
                    user_id.map_or_else(|| "no user".to_owned(), |user| format!("`{user}`"))
                ));
            }
        }
    } else if let Some(exchange) = headers.get("x-first-death-exchange").cloned() {
        // Dead-lettered by the broker: the message is the original, with
        // its own user_id; it names the exchange in the death headers.
        if !headers.contains_key(ORIGINAL_EXCHANGE_HEADER) {
            if exchange == retry_exchange_name(&target.queue_name) {
                return Err(
                    "it came back from a delayed retry without its origin headers".to_owned(),
                );
            }
            headers.insert(ORIGINAL_EXCHANGE_HEADER.to_owned(), exchange);
        }
        headers
            .entry(ORIGINAL_ROUTING_KEY_HEADER.to_owned())
            .or_insert_with(|| properties.event_type.clone());
        if let Some(user_id) = user_id {
            headers
                .entry(ORIGINAL_USER_ID_HEADER.to_owned())
                .or_insert_with(|| user_id.to_owned());
        }
    } else {
        return Err(
            "no record of where it was first published (neither x-original-queue nor x-death)"
                .to_owned(),
        );
    }
    if headers
        .get(ORIGINAL_EXCHANGE_HEADER)
        .is_none_or(|exchange| exchange.is_empty())
    {
        return Err("no x-original-exchange: the consumer could not check its origin".to_owned());
    }
    for name in [
        DEATH_REASON_HEADER,
        ORIGINAL_QUEUE_HEADER,
        RETRY_COUNT_HEADER,
        RETRY_REASON_HEADER,
        DELIVERY_COUNT_HEADER,
        REPLAYED_FROM_HEADER,
    ]
    .into_iter()
    .chain(BROKER_DEATH_HEADERS)
    {
        headers.remove(name);
    }
    headers.insert(REPLAYED_FROM_HEADER.to_owned(), target.dlq_name.clone());
    Ok(OutgoingMessage::new(
        retry_exchange_name(&target.queue_name),
        target.queue_name.clone(),
        body,
        MessageProperties {
            headers,
            ..properties.clone()
        },
    ))
}

/// The consumer's broker user when producer users are checked
/// (`AMQP_EVENT_PRODUCER_USER`, `{service}` = the consuming service).
fn consumer_user(settings: &BrokerSettings, target: &DlqTarget) -> Option<String> {
    let template = settings.producer_user_template.as_deref()?;
    Some(template.replace(SERVICE_PLACEHOLDER, &target.consumer_service()))
}

/// Ready messages in `queue`; `None` when it does not exist.
async fn depth(broker: &Broker, queue: &str) -> anyhow::Result<Option<u32>> {
    // A refused passive declare closes its channel: one channel per question.
    let channel = broker
        .open_channel()
        .await
        .context("cannot open a RabbitMQ channel")?;
    let declared = channel
        .queue_declare(
            ShortString::from(queue),
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await;
    match declared {
        Ok(declared) => {
            channel.close(200, "done".into()).await.ok();
            Ok(Some(declared.message_count()))
        }
        Err(error) if error.to_string().contains("NOT_FOUND") => Ok(None),
        Err(error) => Err(anyhow!("cannot look at queue `{queue}`: {error}")),
    }
}

/// One message taken (unacknowledged) off a DLQ.
struct Taken {
    properties: MessageProperties,
    user_id: Option<String>,
    body: Vec<u8>,
    message: BasicGetMessage,
}

/// Up to `limit` messages off `queue`, unacknowledged on `channel` (they go
/// back when it closes).
async fn take(
    channel: &ecommerce_broker::lapin::Channel,
    queue: &str,
    limit: usize,
) -> anyhow::Result<Vec<Taken>> {
    let mut taken = Vec::new();
    while taken.len() < limit {
        let Some(message) = get(channel, queue).await? else {
            break;
        };
        taken.push(Taken::from(message));
    }
    Ok(taken)
}

async fn get(
    channel: &ecommerce_broker::lapin::Channel,
    queue: &str,
) -> anyhow::Result<Option<BasicGetMessage>> {
    channel
        .basic_get(ShortString::from(queue), BasicGetOptions { no_ack: false })
        .await
        .with_context(|| format!("cannot read from `{queue}`"))
}

impl From<BasicGetMessage> for Taken {
    fn from(message: BasicGetMessage) -> Self {
        let properties = from_basic_properties(&message.delivery.properties);
        let user_id = message
            .delivery
            .properties
            .user_id()
            .as_ref()
            .map(|user| user.as_str().to_owned());
        let body = message.delivery.data.clone();
        Self {
            properties,
            user_id,
            body,
            message,
        }
    }
}

/// One DLQ as `dlq list` shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct DlqDepth {
    pub target: DlqTarget,
    /// Ready messages; `None` when the queue does not exist.
    pub messages: Option<u32>,
    /// Reasons of the messages read, with their counts.
    pub reasons: Vec<(usize, String)>,
    /// How many messages the reasons come from.
    pub sampled: usize,
}

/// The text of `dlq list`.
pub fn list_lines(depths: &[DlqDepth], unrouted_queue: &str, unrouted: Option<u32>) -> Vec<String> {
    let mut rows = vec![vec![
        "DEAD-LETTER QUEUE".to_owned(),
        "MESSAGES".to_owned(),
        "CONSUMER".to_owned(),
    ]];
    for depth in depths {
        rows.push(vec![
            depth.target.dlq_name.clone(),
            depth
                .messages
                .map_or_else(|| "missing".to_owned(), |count| count.to_string()),
            depth.target.consumer_service(),
        ]);
    }
    let table = format::table(&rows, &[1]);
    let mut lines = Vec::new();
    let mut table = table.into_iter();
    lines.extend(table.next());
    for (line, depth) in table.zip(depths) {
        lines.push(line);
        for (times, reason) in &depth.reasons {
            lines.push(format!("    {times} × {reason}"));
        }
        if depth
            .messages
            .is_some_and(|count| count as usize > depth.sampled)
            && depth.sampled > 0
        {
            lines.push(format!("    (reasons of the first {})", depth.sampled));
        }
    }
    let total: u64 = depths
        .iter()
        .filter_map(|depth| depth.messages)
        .map(u64::from)
        .sum();
    lines.push(format!(
        "{} dead-letter queues, {}; the `{unrouted_queue}` queue (events no queue is bound to): {}",
        depths.len(),
        format::plural(i64::try_from(total).unwrap_or(i64::MAX), "message"),
        unrouted.map_or_else(|| "missing".to_owned(), |count| count.to_string())
    ));
    lines
}

/// `dlq list --json`.
pub fn list_json(depths: &[DlqDepth], unrouted: Option<u32>) -> Json {
    let queues: Vec<Json> = depths
        .iter()
        .map(|depth| {
            json!({
                "queue": depth.target.dlq_name,
                "consumer_queue": depth.target.queue_name,
                "consumer": depth.target.consumer_service(),
                "messages": depth.messages,
                "reasons": depth
                    .reasons
                    .iter()
                    .map(|(count, reason)| json!({"count": count, "reason": reason}))
                    .collect::<Vec<_>>(),
                "sampled": depth.sampled,
            })
        })
        .collect();
    json!({"dead_letter_queues": queues, "unrouted": unrouted})
}

/// `dlq list`: every DLQ's depth, and the reasons of its first `sample` messages.
pub async fn list(settings: &Settings, sample: usize, as_json: bool) -> anyhow::Result<()> {
    let broker_settings = settings.broker()?;
    let broker = connect_broker(&broker_settings).await?;
    let mut depths = Vec::new();
    for target in all_targets(&broker_settings.names) {
        let messages = depth(&broker, &target.dlq_name).await?;
        let mut reasons = Vec::new();
        let mut sampled = 0;
        if messages.is_some_and(|count| count > 0) {
            let channel = broker
                .open_channel()
                .await
                .context("cannot open a RabbitMQ channel")?;
            let taken = take(&channel, &target.dlq_name, sample).await?;
            // Closing the channel puts them back.
            channel.close(200, "peeked".into()).await.ok();
            let texts: Vec<String> = taken
                .iter()
                .map(|taken| death_reason(&taken.properties))
                .collect();
            reasons = summarize_reasons(&texts, 120);
            sampled = taken.len();
        }
        depths.push(DlqDepth {
            target,
            messages,
            reasons,
            sampled,
        });
    }
    let unrouted = depth(&broker, broker_settings.names.unrouted_queue()).await?;
    broker.close().await;
    if as_json {
        println!("{}", list_json(&depths, unrouted));
    } else {
        for line in list_lines(&depths, broker_settings.names.unrouted_queue(), unrouted) {
            println!("{line}");
        }
    }
    Ok(())
}

/// `dlq show`: one message, decoded.
pub async fn show(
    settings: &Settings,
    requested: &str,
    id: Option<&str>,
    as_json: bool,
) -> anyhow::Result<()> {
    let broker_settings = settings.broker()?;
    let target = resolve(&broker_settings.names, requested)?;
    let decoder = Decoder::new(settings.registry_url()?.as_deref())?;
    let broker = connect_broker(&broker_settings).await?;
    let count = depth(&broker, &target.dlq_name)
        .await?
        .ok_or_else(|| anyhow!("queue `{}` does not exist", target.dlq_name))?;
    if count == 0 {
        broker.close().await;
        bail!("{} is empty", target.dlq_name);
    }
    let channel = broker
        .open_channel()
        .await
        .context("cannot open a RabbitMQ channel")?;
    let mut position = 0;
    let mut found = None;
    while position < count {
        let Some(message) = get(&channel, &target.dlq_name).await? else {
            break;
        };
        position += 1;
        let taken = Taken::from(message);
        if id.is_none_or(|id| taken.properties.message_id == id) {
            found = Some(taken);
            break;
        }
    }
    channel.close(200, "shown".into()).await.ok();
    broker.close().await;
    let Some(taken) = found else {
        bail!(
            "no message with id {} among the {count} messages in {}",
            id.unwrap_or("?"),
            target.dlq_name
        );
    };
    let view = decoder.decode(&taken.properties, &taken.body).await;
    if as_json {
        println!(
            "{}",
            show_json(&target, &taken.properties, taken.user_id.as_deref(), &view)
        );
    } else {
        for line in show_lines(
            &target,
            &taken.properties,
            taken.user_id.as_deref(),
            &view,
            position,
            count,
        ) {
            println!("{line}");
        }
    }
    Ok(())
}

/// The text of `dlq show`.
fn show_lines(
    target: &DlqTarget,
    properties: &MessageProperties,
    user_id: Option<&str>,
    view: &EventView,
    position: u32,
    count: u32,
) -> Vec<String> {
    let header = |name: &str| properties.headers.get(name).map_or("-", String::as_str);
    let mut lines = vec![
        format!(
            "message {} in {} ({position} of {count})",
            if properties.message_id.is_empty() {
                "(no id)"
            } else {
                &properties.message_id
            },
            target.dlq_name
        ),
        format!("  type:            {}", view.event_type),
        format!("  reason:          {}", death_reason(properties)),
        format!(
            "  first published: exchange {}, routing key {}, by broker user {}",
            header(ORIGINAL_EXCHANGE_HEADER),
            header(ORIGINAL_ROUTING_KEY_HEADER),
            properties
                .headers
                .get(ORIGINAL_USER_ID_HEADER)
                .map(String::as_str)
                .or(user_id)
                .unwrap_or("-")
        ),
        format!(
            "  dead-lettered:   {}",
            dead_lettered_by(properties, user_id)
        ),
        format!(
            "  occurred at:     {}",
            view.occurred_at
                .as_ref()
                .map_or_else(|| "-".to_owned(), format::timestamp)
        ),
        format!("  aggregate:       {}", view.aggregate_text()),
        format!(
            "  correlation:     {}",
            view.correlation_id.as_deref().unwrap_or("-")
        ),
        format!(
            "  causation:       {}",
            view.causation_id.as_deref().unwrap_or("-")
        ),
        format!(
            "  decoded:         {}",
            match &view.decoding {
                crate::decode::Decoding::Typed => "with the compiled codec".to_owned(),
                crate::decode::Decoding::Registry { schema_id, subject } =>
                    format!("through the schema registry (id {schema_id}, {subject})"),
                crate::decode::Decoding::Failed { reason } =>
                    format!("no: {}", format::one_line(reason)),
            }
        ),
        "  headers:".to_owned(),
    ];
    for (name, value) in &properties.headers {
        lines.push(format!("    {name}: {value}"));
    }
    if let Some(payload) = &view.payload {
        lines.push("  payload:".to_owned());
        let pretty = serde_json::to_string_pretty(payload).unwrap_or_else(|_| payload.to_string());
        lines.extend(pretty.lines().map(|line| format!("    {line}")));
    }
    lines
}

/// Who put the message in the DLQ: its consumer, or the broker.
fn dead_lettered_by(properties: &MessageProperties, user_id: Option<&str>) -> String {
    if let Some(queue) = properties.headers.get(ORIGINAL_QUEUE_HEADER) {
        return format!(
            "by the consumer of {queue} (broker user {})",
            user_id.unwrap_or("-")
        );
    }
    if let Some(queue) = properties.headers.get("x-first-death-queue") {
        return format!("by the broker, from {queue}");
    }
    "by whoever published it to the dead-letter exchange".to_owned()
}

fn show_json(
    target: &DlqTarget,
    properties: &MessageProperties,
    user_id: Option<&str>,
    view: &EventView,
) -> Json {
    json!({
        "queue": target.dlq_name,
        "reason": death_reason(properties),
        "user_id": user_id,
        "headers": properties.headers,
        "event": view.json(),
    })
}

/// Which messages `dlq replay` republishes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    Id(String),
    All,
}

/// `dlq replay`.
pub async fn replay(
    settings: &Settings,
    requested: &str,
    selection: Selection,
) -> anyhow::Result<()> {
    let broker_settings = settings.broker()?;
    let target = resolve(&broker_settings.names, requested)?;
    let consumer_user = consumer_user(&broker_settings, &target);
    let broker = connect_broker(&broker_settings).await?;
    let count = depth(&broker, &target.dlq_name)
        .await?
        .ok_or_else(|| anyhow!("queue `{}` does not exist", target.dlq_name))?;
    if count == 0 {
        println!("{} is empty: nothing to replay", target.dlq_name);
        broker.close().await;
        return Ok(());
    }
    // The consumer declares its retry path when it starts; declaring it
    // here too (the same declaration, idempotent) lets a replay go ahead
    // while the consumer is down.
    let declaring = broker
        .open_channel()
        .await
        .context("cannot open a RabbitMQ channel")?;
    topology::declare(&declaring, &retry_path(&target.queue_name))
        .await
        .map_err(|error| {
            anyhow!(
                "cannot declare the retry path of `{}` (exchange `{}`): {error}; the broker user \
                 needs the permissions of the queue's consumer on it",
                target.queue_name,
                retry_exchange_name(&target.queue_name)
            )
        })?;
    declaring.close(200, "declared".into()).await.ok();

    let reading = broker
        .open_channel()
        .await
        .context("cannot open a RabbitMQ channel")?;
    let publisher = broker.publisher();
    let progress = progress_bar(match selection {
        Selection::All => u64::from(count),
        Selection::Id(_) => 1,
    });
    let mut replayed = 0_u32;
    let mut skipped: Vec<(String, String)> = Vec::new();
    let mut found = false;
    let mut outcome = Ok(());
    // At most the depth seen at the start: what is skipped stays
    // unacknowledged (back in the DLQ when the channel closes), so the loop
    // never meets a message twice.
    for _ in 0..count {
        let message = match get(&reading, &target.dlq_name).await {
            Ok(Some(message)) => message,
            Ok(None) => break,
            Err(error) => {
                outcome = Err(error);
                break;
            }
        };
        let taken = Taken::from(message);
        if let Selection::Id(id) = &selection {
            if taken.properties.message_id != *id {
                continue;
            }
            found = true;
        }
        let Taken {
            properties,
            user_id,
            body,
            message,
        } = taken;
        match replay_message(
            &target,
            &properties,
            user_id.as_deref(),
            body,
            consumer_user.as_deref(),
        ) {
            Err(reason) => {
                skipped.push((properties.message_id.clone(), reason));
                progress.inc(1);
            }
            Ok(outgoing) => {
                if let Err(error) = publisher.publish(&outgoing).await {
                    outcome = Err(publish_error(&target, &error));
                    break;
                }
                if let Err(error) = message.delivery.acker.ack(BasicAckOptions::default()).await {
                    outcome = Err(anyhow!(
                        "message {} was replayed but could not be acknowledged on {} ({error}); \
                         it stays there and a later replay sends it again (its consumer's inbox \
                         ignores the second copy)",
                        properties.message_id,
                        target.dlq_name
                    ));
                    break;
                }
                replayed += 1;
                progress.inc(1);
            }
        }
        if found {
            break;
        }
    }
    progress.finish_and_clear();
    reading.close(200, "replayed".into()).await.ok();
    broker.close().await;
    for (id, reason) in &skipped {
        eprintln!("skipped {id}: {reason}");
    }
    outcome?;
    if let Selection::Id(id) = &selection {
        if !found {
            bail!(
                "no message with id {id} among the {count} messages in {}",
                target.dlq_name
            );
        }
        if !skipped.is_empty() {
            bail!("message {id} was not replayed");
        }
    }
    println!(
        "replayed {replayed} of {} from {} to {} (through {}){}",
        format::plural(i64::from(count), "message"),
        target.dlq_name,
        target.queue_name,
        retry_exchange_name(&target.queue_name),
        if skipped.is_empty() {
            String::new()
        } else {
            format!("; {} skipped and left in the DLQ", skipped.len())
        }
    );
    Ok(())
}

fn progress_bar(length: u64) -> ProgressBar {
    let progress = ProgressBar::new(length);
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} replaying [{bar:30}] {pos}/{len} {per_sec}")
    {
        progress.set_style(style.progress_chars("=> "));
    }
    // Drawn on stderr only when it is a terminal (indicatif's default).
    progress
}

fn publish_error(target: &DlqTarget, error: &PublishError) -> anyhow::Error {
    let exchange = retry_exchange_name(&target.queue_name);
    let text = error.to_string();
    let detail = match error {
        PublishError::Channel(source) => source.to_string(),
        _ => text,
    };
    if detail.contains("ACCESS_REFUSED") {
        return anyhow!(
            "the broker user may not publish to `{exchange}`: replaying needs the write \
             permission of {}'s consumer on it ({detail}); nothing was acknowledged on {}",
            target.queue_name,
            target.dlq_name
        );
    }
    anyhow!(
        "could not republish to `{exchange}`: {detail}; the message stays in {}",
        target.dlq_name
    )
}

/// Whether a purge may go ahead: `--yes`, then a typed confirmation on a
/// terminal, or `--yes` twice when nobody can be asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PurgeConsent {
    Refused(String),
    AskOnTerminal,
    Given,
}

/// The rule of [`PurgeConsent`].
pub fn purge_consent(dlq: &str, depth: u32, yes: u8, stdin_is_terminal: bool) -> PurgeConsent {
    if yes == 0 {
        return PurgeConsent::Refused(format!(
            "purging deletes the {} in {dlq} for good: add --yes to purge it",
            format::plural(i64::from(depth), "message")
        ));
    }
    if stdin_is_terminal {
        return PurgeConsent::AskOnTerminal;
    }
    if yes < 2 {
        return PurgeConsent::Refused(format!(
            "standard input is not a terminal, so nobody can confirm: give --yes twice \
             (--yes --yes) to purge {dlq} without asking"
        ));
    }
    PurgeConsent::Given
}

/// `dlq purge`.
pub async fn purge(settings: &Settings, requested: &str, yes: u8) -> anyhow::Result<()> {
    let broker_settings = settings.broker()?;
    let target = resolve(&broker_settings.names, requested)?;
    let broker = connect_broker(&broker_settings).await?;
    let count = depth(&broker, &target.dlq_name)
        .await?
        .ok_or_else(|| anyhow!("queue `{}` does not exist", target.dlq_name))?;
    match purge_consent(&target.dlq_name, count, yes, std::io::stdin().is_terminal()) {
        PurgeConsent::Refused(reason) => {
            broker.close().await;
            bail!("{reason}");
        }
        PurgeConsent::AskOnTerminal => {
            eprint!(
                "Purge the {} in {} for good? Type the queue name to confirm: ",
                format::plural(i64::from(count), "message"),
                target.dlq_name
            );
            std::io::stderr().flush().ok();
            let mut answer = String::new();
            std::io::stdin().lock().read_line(&mut answer).ok();
            if answer.trim() != target.dlq_name {
                broker.close().await;
                bail!("not confirmed: nothing purged");
            }
        }
        PurgeConsent::Given => {}
    }
    let channel = broker
        .open_channel()
        .await
        .context("cannot open a RabbitMQ channel")?;
    let purged = channel
        .queue_purge(
            ShortString::from(target.dlq_name.as_str()),
            QueuePurgeOptions::default(),
        )
        .await
        .with_context(|| format!("cannot purge `{}`", target.dlq_name))?;
    channel.close(200, "purged".into()).await.ok();
    broker.close().await;
    println!(
        "purged {} from {}",
        format::plural(i64::from(purged), "message"),
        target.dlq_name
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn target() -> DlqTarget {
        resolve(
            &TopologyNames::default().with_prefix("t-1."),
            "inventory.order-events",
        )
        .unwrap()
    }

    fn properties(headers: &[(&str, &str)]) -> MessageProperties {
        MessageProperties {
            message_id: "m-1".to_owned(),
            event_type: "payments.payment_authorized.v1".to_owned(),
            headers: headers
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
            ..MessageProperties::default()
        }
    }

    #[test]
    fn dlqs_are_named_by_their_queue_or_their_own_name() {
        let names = TopologyNames::default().with_prefix("t-1.");
        for name in [
            "inventory.order-events",
            "inventory.order-events.dlq",
            "t-1.inventory.order-events",
            "t-1.inventory.order-events.dlq",
        ] {
            let target = resolve(&names, name).unwrap();
            assert_eq!(target.dlq_name, "t-1.inventory.order-events.dlq");
            assert_eq!(target.queue_name, "t-1.inventory.order-events");
            assert_eq!(target.consumer_service(), "inventory-svc");
        }
        let error = resolve(&names, "nope").unwrap_err().to_string();
        assert!(error.contains("t-1.cart.catalog-events.dlq"), "{error}");
    }

    #[test]
    fn reasons_come_from_the_consumer_or_the_broker() {
        assert_eq!(
            death_reason(&properties(&[(DEATH_REASON_HEADER, "bad\nthing")])),
            "bad thing"
        );
        assert_eq!(
            death_reason(&properties(&[("x-first-death-reason", "delivery_limit")])),
            "dead-lettered by the broker (delivery_limit: its x-delivery-limit was reached)"
        );
        assert_eq!(death_reason(&properties(&[])), "no reason recorded");
        let summary = summarize_reasons(
            &[
                "b".to_owned(),
                "a".to_owned(),
                "b".to_owned(),
                "c".to_owned(),
            ],
            10,
        );
        assert_eq!(
            summary,
            [
                (2, "b".to_owned()),
                (1, "a".to_owned()),
                (1, "c".to_owned())
            ]
        );
    }

    #[test]
    fn a_consumer_copy_is_replayed_through_the_queues_retry_exchange_with_its_origin() {
        let dead = properties(&[
            (DEATH_REASON_HEADER, "handler failed"),
            (ORIGINAL_QUEUE_HEADER, "t-1.inventory.order-events"),
            (ORIGINAL_EXCHANGE_HEADER, "t-1.orders.events"),
            (
                ORIGINAL_ROUTING_KEY_HEADER,
                "payments.payment_authorized.v1",
            ),
            (ORIGINAL_USER_ID_HEADER, "payments-svc"),
            (RETRY_COUNT_HEADER, "3"),
            (RETRY_REASON_HEADER, "timeout"),
            ("x-causation-id", "cause-1"),
        ]);
        let outgoing =
            replay_message(&target(), &dead, Some("guest"), b"body".to_vec(), None).unwrap();
        assert_eq!(outgoing.exchange, "t-1.inventory.order-events.retry");
        assert_eq!(outgoing.routing_key, "t-1.inventory.order-events");
        assert_eq!(outgoing.body, b"body");
        assert_eq!(outgoing.properties.message_id, "m-1");
        let names: Vec<&str> = outgoing
            .properties
            .headers
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            names,
            [
                "x-causation-id",
                "x-original-exchange",
                "x-original-routing-key",
                "x-original-user-id",
                "x-replayed-from"
            ]
        );
        assert_eq!(
            outgoing.properties.headers[REPLAYED_FROM_HEADER],
            "t-1.inventory.order-events.dlq"
        );
    }

    #[test]
    fn with_producer_users_only_the_consumers_own_copies_are_replayed() {
        let dead = properties(&[
            (ORIGINAL_QUEUE_HEADER, "t-1.inventory.order-events"),
            (ORIGINAL_EXCHANGE_HEADER, "t-1.orders.events"),
        ]);
        replay_message(
            &target(),
            &dead,
            Some("inventory-svc"),
            Vec::new(),
            Some("inventory-svc"),
        )
        .unwrap();
        let refused = replay_message(
            &target(),
            &dead,
            Some("orders-svc"),
            Vec::new(),
            Some("inventory-svc"),
        )
        .unwrap_err();
        assert_eq!(
            refused,
            "put in the DLQ by `orders-svc`, not by the consumer's broker user `inventory-svc`"
        );
        let elsewhere = properties(&[
            (ORIGINAL_QUEUE_HEADER, "t-1.payments.order-events"),
            (ORIGINAL_EXCHANGE_HEADER, "t-1.orders.events"),
        ]);
        assert!(replay_message(&target(), &elsewhere, None, Vec::new(), None).is_err());
    }

    #[test]
    fn a_broker_dead_lettered_message_takes_its_origin_from_the_death_headers() {
        let dead = properties(&[
            ("x-first-death-exchange", "t-1.orders.events"),
            ("x-first-death-queue", "t-1.inventory.order-events"),
            ("x-first-death-reason", "delivery_limit"),
            (DELIVERY_COUNT_HEADER, "10"),
        ]);
        let outgoing =
            replay_message(&target(), &dead, Some("payments-svc"), Vec::new(), None).unwrap();
        let headers = &outgoing.properties.headers;
        assert_eq!(headers[ORIGINAL_EXCHANGE_HEADER], "t-1.orders.events");
        assert_eq!(
            headers[ORIGINAL_ROUTING_KEY_HEADER],
            "payments.payment_authorized.v1"
        );
        assert_eq!(headers[ORIGINAL_USER_ID_HEADER], "payments-svc");
        assert!(!headers.contains_key("x-first-death-reason"));
        assert!(!headers.contains_key(DELIVERY_COUNT_HEADER));
        let unknown =
            replay_message(&target(), &properties(&[]), None, Vec::new(), None).unwrap_err();
        assert!(unknown.contains("no record of where"), "{unknown}");
    }

    #[test]
    fn the_list_shows_each_dlq_with_its_reasons() {
        let names = TopologyNames::default();
        let mut depths: Vec<DlqDepth> = all_targets(&names)
            .into_iter()
            .take(3)
            .map(|target| DlqDepth {
                target,
                messages: Some(0),
                reasons: Vec::new(),
                sampled: 0,
            })
            .collect();
        depths[0].messages = Some(250);
        depths[0].sampled = 100;
        depths[0].reasons = vec![
            (98, "handler failed: unknown SKU".to_owned()),
            (2, "no reason recorded".to_owned()),
        ];
        depths[2].messages = None;
        assert_eq!(
            list_lines(&depths, "unrouted", Some(4)),
            [
                "DEAD-LETTER QUEUE             MESSAGES  CONSUMER",
                "inventory.order-events.dlq         250  inventory-svc",
                "    98 × handler failed: unknown SKU",
                "    2 × no reason recorded",
                "    (reasons of the first 100)",
                "inventory.catalog-events.dlq         0  inventory-svc",
                "orders.inventory-events.dlq    missing  orders-svc",
                "3 dead-letter queues, 250 messages; the `unrouted` queue (events no queue is bound to): 4",
            ]
        );
        let json = list_json(&depths, Some(4));
        assert_eq!(json["dead_letter_queues"][0]["reasons"][0]["count"], 98);
        assert_eq!(json["dead_letter_queues"][2]["messages"], Json::Null);
    }

    #[test]
    fn a_message_is_shown_with_its_reason_origin_and_payload() {
        let dead = properties(&[
            (DEATH_REASON_HEADER, "handler failed"),
            (ORIGINAL_QUEUE_HEADER, "t-1.inventory.order-events"),
            (ORIGINAL_EXCHANGE_HEADER, "t-1.orders.events"),
            (
                ORIGINAL_ROUTING_KEY_HEADER,
                "payments.payment_authorized.v1",
            ),
            (ORIGINAL_USER_ID_HEADER, "payments-svc"),
        ]);
        let view =
            crate::decode::from_properties(&dead, "the body is not an event envelope".to_owned());
        let lines = show_lines(&target(), &dead, Some("inventory-svc"), &view, 2, 5);
        assert_eq!(
            lines[..7],
            [
                "message m-1 in t-1.inventory.order-events.dlq (2 of 5)",
                "  type:            payments.payment_authorized.v1",
                "  reason:          handler failed",
                "  first published: exchange t-1.orders.events, routing key payments.payment_authorized.v1, by broker user payments-svc",
                "  dead-lettered:   by the consumer of t-1.inventory.order-events (broker user inventory-svc)",
                "  occurred at:     -",
                "  aggregate:       -",
            ]
        );
        assert!(
            lines.contains(&"  decoded:         no: the body is not an event envelope".to_owned())
        );
        assert!(lines.contains(&"    x-original-user-id: payments-svc".to_owned()));
        let json = show_json(&target(), &dead, Some("inventory-svc"), &view);
        assert_eq!(json["reason"], "handler failed");
        assert_eq!(json["event"]["decoding"]["by"], "none");
    }

    #[test]
    fn a_purge_needs_a_yes_and_a_confirmation() {
        assert!(matches!(
            purge_consent("q.dlq", 3, 0, true),
            PurgeConsent::Refused(reason) if reason == "purging deletes the 3 messages in q.dlq for good: add --yes to purge it"
        ));
        assert_eq!(
            purge_consent("q.dlq", 3, 1, true),
            PurgeConsent::AskOnTerminal
        );
        assert!(
            matches!(purge_consent("q.dlq", 3, 1, false), PurgeConsent::Refused(reason) if reason.contains("--yes --yes"))
        );
        assert_eq!(purge_consent("q.dlq", 3, 2, false), PurgeConsent::Given);
    }
}
