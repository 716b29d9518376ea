//! What the relay needs from a broker, and nothing more.
//!
//! The broker crate implements [`OutboxPublisher`] over its confirmed
//! channel; this crate does not depend on it, so the relay is tested with
//! in-memory publishers and the broker crate with no database.

use async_trait::async_trait;
use ecommerce_events::MessageProperties;
use uuid::Uuid;

/// One outbox row, ready to publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelayMessage {
    /// The event id (also `properties.message_id`).
    pub id: Uuid,
    /// Exchange to publish to, chosen when the event was enqueued.
    pub exchange: String,
    /// The event type, which is the routing key.
    pub routing_key: String,
    /// The encoded `ecommerce.events.v1.EventEnvelope`.
    pub body: Vec<u8>,
    /// AMQP properties mirroring the envelope, as `ecommerce_events::encode`
    /// produced them.
    pub properties: MessageProperties,
}

/// Why one message was not confirmed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct PublishFailure {
    /// Kept as the row's `last_error`.
    pub reason: String,
    /// The broker could not be reached (no connection, the channel closed,
    /// no confirm in time): nothing is wrong with the message itself.
    pub broker_unavailable: bool,
}

impl PublishFailure {
    /// The broker refused this message (nack, returned as unroutable, an
    /// invalid property): the row uses up one of its attempts.
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            broker_unavailable: false,
        }
    }

    /// The broker was unreachable. The row keeps its attempts: an outage is
    /// not the row's fault, and the relay backs off as a whole instead, so
    /// an outage of any length ends with every row published, none `failed`.
    pub fn broker_unavailable(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            broker_unavailable: true,
        }
    }
}

/// Publishes batches for the relay.
///
/// Contract:
/// - return exactly one result per message, in the batch's order (a missing
///   result counts as a failure);
/// - `Ok(())` only after the broker confirmed the message (publisher
///   confirms), so the relay marks the row published only then;
/// - publish the batch pipelined (all messages in flight, then await the
///   confirms), not one round trip per message;
/// - never panic; report every problem as a [`PublishFailure`]. The relay
///   also bounds the call with its publish timeout.
#[async_trait]
pub trait OutboxPublisher: Send + Sync {
    async fn publish_batch(&self, batch: &[RelayMessage]) -> Vec<Result<(), PublishFailure>>;
}
