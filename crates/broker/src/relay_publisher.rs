//! The outbox relay's publisher: [`Publisher`] implements
//! [`OutboxPublisher`], so a service hands `broker.publisher()` to its relay.

use async_trait::async_trait;
use ecommerce_outbox::{OutboxPublisher, PublishFailure, RelayMessage};

use crate::properties::{short_string, to_basic_properties};
use crate::publisher::{PreparedMessage, PublishError, Publisher};

impl<'a> PreparedMessage<'a> {
    /// Borrows the row's body: the relay's batch is published without copies.
    fn from_relay(message: &'a RelayMessage) -> Result<Self, PublishError> {
        Ok(Self {
            exchange: short_string(&message.exchange, "exchange")?,
            routing_key: short_string(&message.routing_key, "routing_key")?,
            body: &message.body,
            properties: to_basic_properties(&message.properties)?,
        })
    }
}

#[async_trait]
impl OutboxPublisher for Publisher {
    /// One pipelined, confirmed batch; a row whose properties cannot be sent
    /// (say, an over-long header) fails alone and keeps its error.
    async fn publish_batch(&self, batch: &[RelayMessage]) -> Vec<Result<(), PublishFailure>> {
        let mut results: Vec<Option<Result<(), PublishFailure>>> = vec![None; batch.len()];
        let mut prepared = Vec::with_capacity(batch.len());
        let mut prepared_indexes = Vec::with_capacity(batch.len());
        for (index, message) in batch.iter().enumerate() {
            match PreparedMessage::from_relay(message) {
                Ok(message) => {
                    prepared.push(message);
                    prepared_indexes.push(index);
                }
                Err(error) => results[index] = Some(Err(PublishFailure::new(error.to_string()))),
            }
        }
        let published = self.publish_prepared(&prepared).await;
        for (index, result) in prepared_indexes.into_iter().zip(published) {
            results[index] = Some(result.map_err(|error| relay_failure(&error)));
        }
        results
            .into_iter()
            .map(|result| result.unwrap_or_else(|| Err(relay_failure(&PublishError::NotConfirmed))))
            .collect()
    }
}

/// Refusals of this message use up one of the row's attempts; an
/// unreachable broker does not (the relay backs off as a whole).
fn relay_failure(error: &PublishError) -> PublishFailure {
    let reason = error.to_string();
    match error {
        PublishError::Returned { .. } | PublishError::Nacked | PublishError::InvalidMessage(_) => {
            PublishFailure::new(reason)
        }
        PublishError::NotConnected { .. }
        | PublishError::Closed
        | PublishError::ConfirmTimeout(_)
        | PublishError::NotConfirmed
        | PublishError::Channel(_) => PublishFailure::broker_unavailable(reason),
    }
}
