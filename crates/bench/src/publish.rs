//! The broker's limit, without the database: the same messages, windows of
//! the relay's batch size, pipelined with publisher confirms, persistent and
//! `mandatory`, to the same exchange and queues.
//!
//! - raw: lapin alone on a plain confirm channel;
//! - publisher: the broker crate's [`Publisher`] through the
//!   [`OutboxPublisher`] trait, exactly as the relay calls it (isolates the
//!   publisher's own cost from the relay's database work).

use std::time::Instant;

use anyhow::Context as _;
use ecommerce_broker::Publisher;
use ecommerce_broker::lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use ecommerce_broker::lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use ecommerce_broker::lapin::{BasicProperties, Channel, Confirmation};
use ecommerce_events::{DELIVERY_MODE_PERSISTENT, Event as _, MessageProperties, encode};
use ecommerce_outbox::{OutboxPublisher, RelayMessage};
use ecommerce_proto::ecommerce::orders::v1::OrderPlaced;
use futures::future::join_all;
use serde_json::{Value, json};
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::env::BenchEnv;
use crate::measure::{CpuSnapshot, rate, round1};
use crate::workload::order_placed;

#[derive(Debug)]
pub struct PublishResult {
    pub per_second: f64,
    pub messages: u64,
    pub seconds: f64,
    pub channels: usize,
    pub cpu: Value,
}

impl PublishResult {
    pub fn to_json(&self) -> Value {
        json!({
            "per_s": round1(self.per_second),
            "messages": self.messages,
            "seconds": crate::measure::round3(self.seconds),
            "channels": self.channels,
            "cpu": self.cpu,
        })
    }
}

/// `count` relay messages as the relay would build them from outbox rows.
pub fn relay_messages(exchange: &str, count: usize) -> Vec<RelayMessage> {
    (0..count)
        .map(|index| {
            let order_id = Uuid::now_v7();
            let (payload, metadata) = order_placed(order_id, index as u64);
            let encoded = encode(&payload, &metadata);
            RelayMessage {
                id: metadata.id,
                exchange: exchange.to_owned(),
                routing_key: OrderPlaced::EVENT_TYPE.to_owned(),
                body: encoded.body,
                properties: encoded.properties,
            }
        })
        .collect()
}

/// The AMQP properties the broker crate sends for `properties` (persistent,
/// every header a long string).
fn basic_properties(properties: &MessageProperties) -> BasicProperties {
    let mut basic = BasicProperties::default()
        .with_delivery_mode(DELIVERY_MODE_PERSISTENT)
        .with_message_id(ShortString::from(properties.message_id.as_str()))
        .with_type(ShortString::from(properties.event_type.as_str()))
        .with_timestamp(properties.timestamp)
        .with_content_type(ShortString::from(properties.content_type.as_str()));
    if let Some(correlation_id) = &properties.correlation_id {
        basic = basic.with_correlation_id(ShortString::from(correlation_id.as_str()));
    }
    let mut headers = FieldTable::default();
    for (name, value) in &properties.headers {
        headers.insert(
            ShortString::from(name.as_str()),
            AMQPValue::LongString(LongString::from(value.as_str())),
        );
    }
    basic.with_headers(headers)
}

struct RawMessage {
    exchange: ShortString,
    routing_key: ShortString,
    body: Vec<u8>,
    properties: BasicProperties,
}

/// lapin alone: `channels` confirm channels side by side, each publishing
/// its share in windows of `window`, waiting for every confirm of a window
/// before the next.
pub async fn raw_confirmed_publish(
    env: &BenchEnv,
    messages: &[RelayMessage],
    window: usize,
    channels: usize,
) -> anyhow::Result<PublishResult> {
    let session = env.amqp("raw-publish").await?;
    let mut opened: Vec<Channel> = Vec::with_capacity(channels);
    for _ in 0..channels {
        let channel = session.connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        opened.push(channel);
    }
    let share = messages.len().div_ceil(channels);
    let mut shares: Vec<Vec<RawMessage>> = messages
        .chunks(share.max(1))
        .map(|chunk| {
            chunk
                .iter()
                .map(|message| RawMessage {
                    exchange: ShortString::from(message.exchange.as_str()),
                    routing_key: ShortString::from(message.routing_key.as_str()),
                    body: message.body.clone(),
                    properties: basic_properties(&message.properties),
                })
                .collect()
        })
        .collect();

    let cpu_before = CpuSnapshot::take();
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for channel in opened {
        let Some(share) = shares.pop() else { break };
        tasks.spawn(async move { publish_share(channel, share, window).await });
    }
    let mut confirmed = 0_u64;
    while let Some(joined) = tasks.join_next().await {
        confirmed += joined??;
    }
    let elapsed = started.elapsed();
    let cpu = CpuSnapshot::take().since(&cpu_before, confirmed);
    session.close().await;
    Ok(PublishResult {
        per_second: rate(confirmed, elapsed),
        messages: confirmed,
        seconds: elapsed.as_secs_f64(),
        channels,
        cpu,
    })
}

async fn publish_share(
    channel: Channel,
    share: Vec<RawMessage>,
    window: usize,
) -> anyhow::Result<u64> {
    let options = BasicPublishOptions {
        mandatory: true,
        immediate: false,
    };
    let mut confirmed = 0_u64;
    for messages in share.chunks(window) {
        let writes = join_all(messages.iter().map(|message| {
            channel.basic_publish(
                message.exchange.clone(),
                message.routing_key.clone(),
                options,
                &message.body,
                message.properties.clone(),
            )
        }))
        .await;
        let confirms = join_all(writes.into_iter().map(|write| async move {
            let confirm = write?;
            confirm.await
        }))
        .await;
        for confirm in confirms {
            match confirm.context("publish")? {
                Confirmation::Ack(None) => confirmed += 1,
                other => anyhow::bail!("raw publish not confirmed: {other:?}"),
            }
        }
    }
    let _ = channel.close(200, "raw publish done".into()).await;
    Ok(confirmed)
}

/// The broker crate's publisher, called as the relay calls it.
pub async fn publisher_only(
    env: &BenchEnv,
    messages: &[RelayMessage],
    window: usize,
    publishers: usize,
) -> anyhow::Result<PublishResult> {
    let opened: Vec<Publisher> = (0..publishers).map(|_| env.broker.publisher()).collect();
    // Open each publisher's channel outside the measurement, as a running
    // relay's is.
    let warmup = relay_messages(&env.exchange, 1);
    for publisher in &opened {
        let results = OutboxPublisher::publish_batch(publisher, &warmup).await;
        if let Some(Err(failure)) = results.into_iter().next() {
            anyhow::bail!("publisher warm-up failed: {failure}");
        }
    }
    let share = messages.len().div_ceil(publishers);
    let mut shares: Vec<Vec<RelayMessage>> = messages
        .chunks(share.max(1))
        .map(<[RelayMessage]>::to_vec)
        .collect();

    let cpu_before = CpuSnapshot::take();
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for publisher in opened {
        let Some(share) = shares.pop() else { break };
        tasks.spawn(async move {
            let mut confirmed = 0_u64;
            for batch in share.chunks(window) {
                for result in OutboxPublisher::publish_batch(&publisher, batch).await {
                    match result {
                        Ok(()) => confirmed += 1,
                        Err(failure) => anyhow::bail!("publisher failed: {failure}"),
                    }
                }
            }
            Ok(confirmed)
        });
    }
    let mut confirmed = 0_u64;
    while let Some(joined) = tasks.join_next().await {
        confirmed += joined??;
    }
    let elapsed = started.elapsed();
    let cpu = CpuSnapshot::take().since(&cpu_before, confirmed);
    Ok(PublishResult {
        per_second: rate(confirmed, elapsed),
        messages: confirmed,
        seconds: elapsed.as_secs_f64(),
        channels: publishers,
        cpu,
    })
}
