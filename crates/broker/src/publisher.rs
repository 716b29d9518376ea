//! Pipelined publishing with publisher confirms.
//!
//! A [`Publisher`] owns one confirm-mode channel on the broker's current
//! connection. [`Publisher::publish_batch`] writes every message first and
//! only then waits for the confirms, so a batch costs one broker round trip,
//! not one per message. Every message is `mandatory` and persistent; a nack,
//! a return (no queue and no alternate exchange took it), a confirm timeout
//! or a channel failure is an error for that message alone.

use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use ecommerce_events::{EncodedEvent, MessageProperties};
use futures::future::join_all;
use lapin::message::BasicReturnMessage;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::ShortString;
use lapin::{BasicProperties, Channel, Confirmation, PublisherConfirm};
use tokio::sync::Mutex;
use tracing::{debug, instrument, warn};

use crate::connection::{Broker, BrokerError};
use crate::properties::{InvalidProperty, short_string, to_basic_properties};
use crate::topology::TopologyNames;

/// One message to publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutgoingMessage {
    pub exchange: String,
    pub routing_key: String,
    pub body: Vec<u8>,
    pub properties: MessageProperties,
}

impl OutgoingMessage {
    pub fn new(
        exchange: impl Into<String>,
        routing_key: impl Into<String>,
        body: Vec<u8>,
        properties: MessageProperties,
    ) -> Self {
        Self {
            exchange: exchange.into(),
            routing_key: routing_key.into(),
            body,
            properties,
        }
    }

    /// An encoded event for `exchange`, routed by its event type.
    pub fn from_event(event: EncodedEvent, exchange: impl Into<String>) -> Self {
        let routing_key = event.properties.event_type.clone();
        Self {
            exchange: exchange.into(),
            routing_key,
            body: event.body,
            properties: event.properties,
        }
    }

    /// An encoded event for the exchange its type belongs to
    /// ([`TopologyNames::exchange_for`]); `None` for an event type of no
    /// publishing context.
    pub fn for_event(event: EncodedEvent, names: &TopologyNames) -> Option<Self> {
        let exchange = names.exchange_for(&event.properties.event_type)?.to_owned();
        Some(Self::from_event(event, exchange))
    }
}

/// Why one message was not confirmed. Cloneable: one failure (say, no
/// connection) is the answer for every message of a batch.
#[derive(Clone, Debug, thiserror::Error)]
pub enum PublishError {
    #[error("the broker was not connected within {waited:?}")]
    NotConnected { waited: Duration },
    #[error("the broker handle was closed")]
    Closed,
    #[error("the message is invalid: {0}")]
    InvalidMessage(#[from] InvalidProperty),
    #[error("the broker returned the message as unroutable: {reply_code} {reply_text}")]
    Returned { reply_code: u16, reply_text: String },
    #[error("the broker refused the message (nack)")]
    Nacked,
    #[error("the broker sent no confirm within {0:?}")]
    ConfirmTimeout(Duration),
    #[error("the channel was not in confirm mode")]
    NotConfirmed,
    #[error("the channel failed: {0}")]
    Channel(#[source] lapin::Error),
}

impl PublishError {
    fn from_broker(error: BrokerError) -> Self {
        match error {
            BrokerError::NotConnected { waited, .. } => Self::NotConnected { waited },
            BrokerError::Channel(source) | BrokerError::Connect(source) => Self::Channel(source),
            BrokerError::Closed
            | BrokerError::Settings(_)
            | BrokerError::ConnectTimeout(_)
            | BrokerError::Topology(_) => Self::Closed,
        }
    }
}

/// A message ready for `basic.publish`, borrowing its body.
pub(crate) struct PreparedMessage<'a> {
    pub(crate) exchange: ShortString,
    pub(crate) routing_key: ShortString,
    pub(crate) body: &'a [u8],
    pub(crate) properties: BasicProperties,
}

impl<'a> PreparedMessage<'a> {
    fn from_outgoing(message: &'a OutgoingMessage) -> Result<Self, PublishError> {
        Ok(Self {
            exchange: short_string(&message.exchange, "exchange")?,
            routing_key: short_string(&message.routing_key, "routing_key")?,
            body: &message.body,
            properties: to_basic_properties(&message.properties)?,
        })
    }

    fn message_id(&self) -> Option<&str> {
        self.properties
            .message_id()
            .as_ref()
            .map(ShortString::as_str)
    }
}

/// Publishes with confirms on its own channel. Clones share that channel;
/// batches from clones are serialized on it (a confirm must be matched to
/// its batch), so use several publishers for parallel batches.
#[derive(Clone)]
pub struct Publisher {
    inner: Arc<PublisherInner>,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Publisher").finish_non_exhaustive()
    }
}

struct PublisherInner {
    broker: Broker,
    /// The AMQP `user_id` of every message: the connection's user, which
    /// RabbitMQ requires it to be, so consumers can trust it.
    user_id: Option<ShortString>,
    /// The confirm channel and the session generation it was opened on;
    /// the lock also serializes batches.
    channel: Mutex<Option<ConfirmChannel>>,
}

struct ConfirmChannel {
    generation: u64,
    channel: Channel,
}

/// How one message of a batch ended, before returns are attributed.
enum Outcome {
    Confirmed,
    Failed(PublishError),
}

impl Publisher {
    pub(crate) fn new(broker: Broker) -> Self {
        Self {
            inner: Arc::new(PublisherInner {
                user_id: ShortString::try_new(broker.settings().username()).ok(),
                broker,
                channel: Mutex::new(None),
            }),
        }
    }

    /// Publishes one message and waits for its confirm.
    pub async fn publish(&self, message: &OutgoingMessage) -> Result<(), PublishError> {
        self.publish_batch(std::slice::from_ref(message))
            .await
            .pop()
            .unwrap_or(Err(PublishError::NotConfirmed))
    }

    /// Publishes `messages` pipelined and returns one result per message, in
    /// input order: `Ok` once the broker confirmed it (it is on disk in every
    /// queue it was routed to, or in the `unrouted` queue).
    #[instrument(skip_all, fields(messages = messages.len()))]
    pub async fn publish_batch(
        &self,
        messages: &[OutgoingMessage],
    ) -> Vec<Result<(), PublishError>> {
        let mut results: Vec<Option<Result<(), PublishError>>> = vec![None; messages.len()];
        let mut prepared = Vec::with_capacity(messages.len());
        let mut prepared_indexes = Vec::with_capacity(messages.len());
        for (index, message) in messages.iter().enumerate() {
            match PreparedMessage::from_outgoing(message) {
                Ok(message) => {
                    prepared.push(message);
                    prepared_indexes.push(index);
                }
                Err(error) => results[index] = Some(Err(error)),
            }
        }
        let published = self.publish_prepared(&prepared).await;
        for (index, result) in prepared_indexes.into_iter().zip(published) {
            results[index] = Some(result);
        }
        results
            .into_iter()
            .map(|result| result.unwrap_or(Err(PublishError::NotConfirmed)))
            .collect()
    }

    /// Publishes already prepared messages (the consumer's dead-lettering
    /// uses this to keep the original AMQP properties).
    pub(crate) async fn publish_prepared(
        &self,
        messages: &[PreparedMessage<'_>],
    ) -> Vec<Result<(), PublishError>> {
        if messages.is_empty() {
            return Vec::new();
        }
        let confirm_timeout = self.inner.broker.settings().confirm_timeout;
        let mut slot = self.inner.channel.lock().await;
        let channel = match self.current_channel(&mut slot).await {
            Ok(channel) => channel,
            Err(error) => return vec![Err(error); messages.len()],
        };

        let writes = issue_publishes(&channel, messages, self.inner.user_id.as_ref()).await;
        let deadline = tokio::time::Instant::now() + confirm_timeout;
        let confirms = join_all(writes.into_iter().map(|write| async move {
            let confirm = write?;
            tokio::time::timeout_at(deadline, confirm)
                .await
                .map_err(|_| PublishError::ConfirmTimeout(confirm_timeout))?
                .map_err(PublishError::Channel)
        }))
        .await;

        let mut outcomes = Vec::with_capacity(messages.len());
        let mut returned_messages = Vec::new();
        let mut channel_is_suspect = false;
        for (index, confirm) in confirms.into_iter().enumerate() {
            let outcome = match confirm {
                Ok(Confirmation::Ack(returned)) => {
                    returned_messages.extend(returned.map(|message| (index, message)));
                    Outcome::Confirmed
                }
                Ok(Confirmation::Nack(returned)) => {
                    returned_messages.extend(returned.map(|message| (index, message)));
                    Outcome::Failed(PublishError::Nacked)
                }
                Ok(Confirmation::NotRequested) => {
                    channel_is_suspect = true;
                    Outcome::Failed(PublishError::NotConfirmed)
                }
                Err(error) => {
                    // A late confirm on this channel could be matched to the
                    // next batch: after a timeout or failure, never reuse it.
                    channel_is_suspect = true;
                    Outcome::Failed(error)
                }
            };
            outcomes.push(outcome);
        }
        let mut results: Vec<Result<(), PublishError>> = outcomes
            .into_iter()
            .map(|outcome| match outcome {
                Outcome::Confirmed => Ok(()),
                Outcome::Failed(error) => Err(error),
            })
            .collect();
        attribute_returns(messages, returned_messages, &mut results);

        if channel_is_suspect {
            let failed = results.iter().filter(|result| result.is_err()).count();
            warn!(failed, "publish batch failed; the channel will be reopened");
            if let Some(stale) = slot.take() {
                close_quietly(stale.channel);
            }
        }
        results
    }

    /// The confirm channel on the current connection, (re)opened when there
    /// is none, it failed, or the connection was replaced.
    async fn current_channel(
        &self,
        slot: &mut Option<ConfirmChannel>,
    ) -> Result<Channel, PublishError> {
        let broker = &self.inner.broker;
        if let Some(current) = slot.as_ref() {
            if current.channel.status().connected()
                && broker.connection_generation() == Some(current.generation)
            {
                return Ok(current.channel.clone());
            }
        }
        if let Some(stale) = slot.take() {
            close_quietly(stale.channel);
        }
        if broker.is_closed() {
            return Err(PublishError::Closed);
        }
        let session = broker
            .session_within(broker.settings().confirm_timeout)
            .await
            .map_err(PublishError::from_broker)?;
        let channel = session
            .connection
            .create_channel()
            .await
            .map_err(PublishError::Channel)?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(PublishError::Channel)?;
        debug!(
            generation = session.generation,
            channel_id = channel.id(),
            "publisher channel opened"
        );
        *slot = Some(ConfirmChannel {
            generation: session.generation,
            channel: channel.clone(),
        });
        Ok(channel)
    }
}

/// Writes every publish, in order, before any confirm is awaited. Each
/// future is polled once right away: lapin assigns the delivery tag and queues
/// the frames on that first poll, so the broker sees the input order.
async fn issue_publishes(
    channel: &Channel,
    messages: &[PreparedMessage<'_>],
    user_id: Option<&ShortString>,
) -> Vec<Result<PublisherConfirm, PublishError>> {
    let options = BasicPublishOptions {
        mandatory: true,
        immediate: false,
    };
    let mut writes = Vec::with_capacity(messages.len());
    for message in messages {
        let properties = match user_id {
            Some(user_id) => message.properties.clone().with_user_id(user_id.clone()),
            None => message.properties.clone(),
        };
        let mut write = Box::pin(channel.basic_publish(
            message.exchange.clone(),
            message.routing_key.clone(),
            options,
            message.body,
            properties,
        ));
        let first_poll = futures::poll!(write.as_mut());
        writes.push(match first_poll {
            Poll::Ready(result) => futures::future::Either::Left(std::future::ready(result)),
            Poll::Pending => futures::future::Either::Right(write),
        });
    }
    join_all(writes)
        .await
        .into_iter()
        .map(|written| written.map_err(PublishError::Channel))
        .collect()
}

/// Marks returned messages as failed. lapin hands each return to whichever
/// confirm completes next, which under multiple-acks need not be its own
/// message, so a return is matched by message id (and exchange and routing
/// key); only a return without a match stays with the confirm that carried it.
fn attribute_returns(
    messages: &[PreparedMessage<'_>],
    returned_messages: Vec<(usize, BasicReturnMessage)>,
    results: &mut [Result<(), PublishError>],
) {
    let mut already_returned = vec![false; messages.len()];
    for (carrier_index, returned) in returned_messages {
        let returned_message_id = returned
            .delivery
            .properties
            .message_id()
            .as_ref()
            .map(ShortString::as_str);
        let matching_index = messages.iter().enumerate().position(|(index, message)| {
            !already_returned[index]
                && returned_message_id.is_some()
                && message.message_id() == returned_message_id
                && message.exchange == returned.delivery.exchange
                && message.routing_key == returned.delivery.routing_key
        });
        let index = matching_index.unwrap_or(carrier_index);
        already_returned[index] = true;
        warn!(
            exchange = %returned.delivery.exchange,
            routing_key = %returned.delivery.routing_key,
            message_id = returned_message_id.unwrap_or(""),
            reply_code = returned.reply_code,
            reply_text = %returned.reply_text,
            "broker returned an unroutable message"
        );
        results[index] = Err(PublishError::Returned {
            reply_code: returned.reply_code,
            reply_text: returned.reply_text.as_str().to_owned(),
        });
    }
}

fn close_quietly(channel: Channel) {
    if !channel.status().connected() {
        return;
    }
    tokio::spawn(async move {
        if let Err(error) = channel
            .close(200, "publisher channel replaced".into())
            .await
        {
            debug!(%error, "could not close a stale publisher channel");
        }
    });
}
