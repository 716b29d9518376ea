//! Reading a stream queue from a point in the past, across reconnects.
//!
//! A stream is a log: every reader gets every message, and reading removes
//! nothing. [`Broker::follow_stream`] attaches at `replay` before now
//! (`x-stream-offset` as an interval), hands each message to a callback in
//! order, and after a lost connection attaches again the same way. So the
//! callback sees some messages twice and must be idempotent; in exchange a
//! restarted process rebuilds what it knew from the log alone.

use std::future::Future;
use std::time::Duration;

use futures::StreamExt as _;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use tracing::{debug, info, instrument, warn};

use crate::connection::Broker;
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
    let channel = connection.create_channel().await?;
    channel
        .basic_qos(STREAM_PREFETCH, BasicQosOptions { global: false })
        .await?;
    let mut arguments = FieldTable::default();
    // An interval such as `900s`: attach at the first chunk that recent.
    arguments.insert(
        "x-stream-offset".into(),
        AMQPValue::LongString(LongString::from(format!("{}s", replay.as_secs().max(1)))),
    );
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
