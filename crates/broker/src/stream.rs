//! Reading a stream queue from a point in the past, across reconnects.
//!
//! A stream is a log: every reader gets every message, and reading removes
//! nothing. [`Broker::follow_stream`] attaches at `replay` before now
//! (`x-stream-offset` as an interval), hands each message to a callback in
//! order, and after a lost connection attaches again the same way. So the
//! callback sees some messages twice and must be idempotent; in exchange a
//! restarted process rebuilds what it knew from the log alone.
//!
//! [`Broker::read_stream`] is the other way to read one: from an offset the
//! reader keeps itself (reporting-svc keeps it in its database, in the
//! transaction of what each message changed), in batches, each message with
//! its offset. The reader attaches again after a failure, from its own offset.

use std::future::Future;
use std::time::Duration;

use futures::FutureExt as _;
use futures::StreamExt as _;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use tracing::{debug, info, instrument, warn};

use crate::connection::{Broker, BrokerError};
use crate::consumer::Delivery;

/// Messages the broker may send ahead of the acks (streams require a limit).
const STREAM_PREFETCH: u16 = 256;

/// A pause this long after attaching means the replay has been delivered.
const CAUGHT_UP_AFTER: Duration = Duration::from_millis(250);

/// What [`Broker::follow_stream`] reports.
#[derive(Clone, Debug, PartialEq)]
// Delivered by value one at a time, never stored: boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum StreamItem {
    /// The next message of the log.
    Message(Delivery),
    /// The replay of this attachment has been delivered (no message came
    /// for a moment): what follows is new. Once per attachment.
    CaughtUp,
}

impl Broker {
    /// Reads `stream` from `replay` ago onwards, calling `on_item` for each
    /// message in log order and once the replay is through, until `shutdown`
    /// completes or the broker is closed. Every (re)attachment replays from
    /// `replay` before that moment.
    #[instrument(skip_all, fields(stream = %stream))]
    pub async fn follow_stream(
        &self,
        stream: &str,
        replay: Duration,
        mut on_item: impl FnMut(StreamItem) + Send,
        shutdown: impl Future<Output = ()> + Send,
    ) {
        let Ok(queue) = ShortString::try_new(stream) else {
            warn!("the stream name is not a valid AMQP short string; not following it");
            return;
        };
        let backoff = self.settings().reconnect_backoff;
        let mut failures: u32 = 0;
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let session = tokio::select! {
                () = &mut shutdown => return,
                session = self.session() => session,
            };
            let Ok(session) = session else {
                return;
            };
            let attached = attach(&session.connection, &queue, replay).await;
            let (channel, mut deliveries) = match attached {
                Ok(attached) => {
                    failures = 0;
                    attached
                }
                Err(error) => {
                    let delay = backoff.delay(failures);
                    failures = failures.saturating_add(1);
                    warn!(%error, attempt = failures, "could not attach to the stream");
                    tokio::select! {
                        () = &mut shutdown => return,
                        () = tokio::time::sleep(delay) => continue,
                    }
                }
            };
            info!(replay_secs = replay.as_secs(), "following the stream");
            let mut caught_up = false;
            loop {
                let next = tokio::select! {
                    () = &mut shutdown => {
                        let _ = channel.close(200, "stopping".into()).await;
                        return;
                    }
                    () = tokio::time::sleep(CAUGHT_UP_AFTER), if !caught_up => {
                        caught_up = true;
                        on_item(StreamItem::CaughtUp);
                        continue;
                    }
                    next = deliveries.next() => next,
                };
                match next {
                    Some(Ok(delivery)) => {
                        let tag = delivery.delivery_tag;
                        on_item(StreamItem::Message(Delivery::from_amqp(&delivery, stream)));
                        // Acks only grant credit on a stream; losing one costs nothing.
                        if let Err(error) = channel.basic_ack(tag, BasicAckOptions::default()).await
                        {
                            debug!(%error, "could not ack a stream message");
                        }
                    }
                    Some(Err(error)) => {
                        warn!(%error, "the stream's channel failed; attaching again");
                        break;
                    }
                    None => {
                        warn!("the broker cancelled the stream consumer; attaching again");
                        break;
                    }
                }
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(backoff.delay(0)) => {}
            }
        }
    }
}

async fn attach(
    connection: &lapin::Connection,
    queue: &ShortString,
    replay: Duration,
) -> Result<(lapin::Channel, lapin::Consumer), lapin::Error> {
    // An interval such as `900s`: attach at the first chunk that recent.
    let interval = AMQPValue::LongString(LongString::from(format!("{}s", replay.as_secs().max(1))));
    attach_at(connection, queue, interval).await
}

/// Where [`Broker::read_stream`] attaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamOffset {
    /// The first message the stream still holds (retention may have
    /// removed older ones).
    First,
    /// This offset (or the first one held after it).
    At(u64),
}

/// A message of a stream and its offset (`x-stream-offset`).
#[derive(Clone, Debug)]
pub struct StreamMessage {
    pub offset: u64,
    pub delivery: Delivery,
}

/// Why a [`StreamReader`] stopped: attach again from your own offset.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error(transparent)]
    Broker(#[from] BrokerError),
    #[error("could not attach to the stream: {0}")]
    Attach(#[source] lapin::Error),
    #[error("the stream's channel failed: {0}")]
    Channel(#[source] lapin::Error),
    #[error("the broker cancelled the stream consumer")]
    Cancelled,
    #[error("a message of the stream has no x-stream-offset")]
    NoOffset,
    #[error("the stream name {0:?} is not a valid AMQP short string")]
    InvalidName(String),
}

/// One attachment to a stream, read in batches ([`Broker::read_stream`]).
pub struct StreamReader {
    stream: String,
    channel: lapin::Channel,
    deliveries: lapin::Consumer,
}

impl Broker {
    /// Attaches to `stream` at `from` on the current connection, waiting at
    /// most `connect_within` for one.
    #[instrument(skip(self), err)]
    pub async fn read_stream(
        &self,
        stream: &str,
        from: StreamOffset,
        connect_within: Duration,
    ) -> Result<StreamReader, StreamError> {
        let queue = ShortString::try_new(stream)
            .map_err(|_| StreamError::InvalidName(stream.to_owned()))?;
        let session = self.session_within(connect_within).await?;
        let offset = match from {
            StreamOffset::First => AMQPValue::LongString(LongString::from("first")),
            StreamOffset::At(offset) => {
                AMQPValue::LongLongInt(i64::try_from(offset).unwrap_or(i64::MAX))
            }
        };
        let (channel, deliveries) = attach_at(&session.connection, &queue, offset)
            .await
            .map_err(StreamError::Attach)?;
        info!(?from, "reading the stream");
        Ok(StreamReader {
            stream: stream.to_owned(),
            channel,
            deliveries,
        })
    }
}

impl StreamReader {
    /// The next messages in log order: waits up to `idle` for the first,
    /// then takes those that already arrived, `max` at most. Empty when
    /// nothing came for `idle` (the reader has caught up).
    pub async fn next_batch(
        &mut self,
        max: usize,
        idle: Duration,
    ) -> Result<Vec<StreamMessage>, StreamError> {
        let mut batch: Vec<StreamMessage> = Vec::new();
        let mut last_tag = None;
        let mut next = match tokio::time::timeout(idle, self.deliveries.next()).await {
            Ok(next) => Some(next),
            Err(_) => return Ok(batch),
        };
        while let Some(arrived) = next {
            let delivery = match arrived {
                Some(Ok(delivery)) => delivery,
                Some(Err(error)) => return Err(StreamError::Channel(error)),
                None => return Err(StreamError::Cancelled),
            };
            let offset = stream_offset(&delivery).ok_or(StreamError::NoOffset)?;
            last_tag = Some(delivery.delivery_tag);
            batch.push(StreamMessage {
                offset,
                delivery: Delivery::from_amqp(&delivery, &self.stream),
            });
            if batch.len() >= max {
                break;
            }
            next = self.deliveries.next().now_or_never();
        }
        // Acks only grant credit on a stream; one for the batch.
        if let Some(tag) = last_tag {
            let multiple = BasicAckOptions { multiple: true };
            if let Err(error) = self.channel.basic_ack(tag, multiple).await {
                return Err(StreamError::Channel(error));
            }
        }
        Ok(batch)
    }

    /// Detaches (closes the channel).
    pub async fn close(self) {
        let _ = self.channel.close(200, "detaching".into()).await;
    }
}

/// The offset RabbitMQ puts on every message it delivers from a stream.
fn stream_offset(delivery: &lapin::message::Delivery) -> Option<u64> {
    let headers = delivery.properties.headers().as_ref()?;
    match headers.inner().get("x-stream-offset")? {
        AMQPValue::LongLongInt(offset) => u64::try_from(*offset).ok(),
        AMQPValue::LongUInt(offset) => Some(u64::from(*offset)),
        AMQPValue::LongInt(offset) => u64::try_from(*offset).ok(),
        _ => None,
    }
}

async fn attach_at(
    connection: &lapin::Connection,
    queue: &ShortString,
    offset: AMQPValue,
) -> Result<(lapin::Channel, lapin::Consumer), lapin::Error> {
    let channel = connection.create_channel().await?;
    channel
        .basic_qos(STREAM_PREFETCH, BasicQosOptions { global: false })
        .await?;
    let mut arguments = FieldTable::default();
    arguments.insert("x-stream-offset".into(), offset);
    let deliveries = channel
        .basic_consume(
            queue.clone(),
            ShortString::from(""),
            BasicConsumeOptions::default(),
            arguments,
        )
        .await?;
    Ok((channel, deliveries))
}
