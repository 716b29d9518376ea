//! What a service writes: an [`EventHandler`], and the [`HandlerContext`]
//! it works through.

use async_trait::async_trait;
use ecommerce_events::{DecodedEvent, EventMetadata};
use ecommerce_outbox::Outbox;
use sea_orm::DatabaseTransaction;
use uuid::Uuid;

use crate::error::HandlerError;
use crate::trace;

/// Applies one event. Called at most once per message id and consumer with
/// success: the inbox has already recorded the message in
/// [`HandlerContext::transaction`], and commits the record together with
/// whatever the handler wrote there.
///
/// Do every write through that transaction (and nothing irreversible
/// outside it, such as a call to another service that has effects): on an
/// error, a panic or a failed commit, all of it is rolled back and the
/// message comes again.
#[async_trait]
pub trait EventHandler: Send + Sync + 'static {
    async fn handle(
        &self,
        context: &HandlerContext<'_>,
        event: DecodedEvent,
    ) -> Result<(), HandlerError>;
}

/// The handler's view of one delivery: its open transaction, the incoming
/// event's metadata, and [`emit`](Self::emit) for follow-up events.
#[derive(Debug)]
pub struct HandlerContext<'a> {
    pub(crate) transaction: &'a DatabaseTransaction,
    pub(crate) metadata: &'a EventMetadata,
    pub(crate) event_type: &'static str,
    pub(crate) consumer_name: &'a str,
    pub(crate) outbox: Option<&'a Outbox>,
    pub(crate) delivery_count: u32,
    pub(crate) redelivered: bool,
}

impl HandlerContext<'_> {
    /// The open transaction, for any SeaORM call (it implements
    /// `ConnectionTrait`, and `TransactionTrait` for savepoints). It already
    /// holds this message's inbox record; the inbox commits it.
    pub fn transaction(&self) -> &DatabaseTransaction {
        self.transaction
    }

    /// The incoming event's metadata: id, aggregate, correlation and
    /// causation ids, trace context.
    pub fn metadata(&self) -> &EventMetadata {
        self.metadata
    }

    /// The incoming event's id (what the inbox deduplicates on).
    pub fn message_id(&self) -> Uuid {
        self.metadata.id
    }

    /// The incoming event's type string, e.g. `orders.order_placed.v1`.
    pub fn event_type(&self) -> &'static str {
        self.event_type
    }

    /// The consumer name recorded in the inbox, e.g. `inventory.order-events`.
    pub fn consumer_name(&self) -> &str {
        self.consumer_name
    }

    /// How many times the message went back to the queue before this
    /// delivery (`x-delivery-count`; 0 the first time).
    pub fn delivery_count(&self) -> u32 {
        self.delivery_count
    }

    /// Whether the broker delivered the message before.
    pub fn redelivered(&self) -> bool {
        self.redelivered
    }

    /// Metadata for an event caused by the incoming one: a fresh id,
    /// causation = the incoming id, the correlation id passed through, and
    /// the trace continued. [`emit`](Self::emit) uses it; take it to adjust
    /// before enqueueing yourself.
    pub fn follow_up_metadata(
        &self,
        aggregate_type: impl Into<String>,
        aggregate_id: impl Into<String>,
    ) -> EventMetadata {
        let metadata = EventMetadata::new(aggregate_type, aggregate_id).caused_by(self.metadata);
        // This consumer's span when it is traced (a child in the incoming
        // trace), else the incoming context itself: the trace goes on either way.
        match trace::current_trace_context().or_else(|| self.metadata.trace_context.clone()) {
            Some(trace_context) => metadata.with_trace_context(trace_context),
            None => metadata,
        }
    }

    /// Enqueues `event` (a generated event, by value or by reference, or a
    /// domain event that converts into one) as an event caused by the incoming one, in this
    /// transaction, through the consumer's outbox (see
    /// [`follow_up_metadata`](Self::follow_up_metadata)). It is published
    /// only if the transaction commits. Returns the new event's id.
    ///
    /// Without an outbox ([`InboxConsumer::with_outbox`](crate::InboxConsumer::with_outbox))
    /// this is a [`HandlerError::Permanent`] configuration error.
    pub async fn emit(
        &self,
        event: impl Into<DecodedEvent>,
        aggregate_type: impl Into<String>,
        aggregate_id: impl Into<String>,
    ) -> Result<Uuid, HandlerError> {
        let event = event.into();
        let Some(outbox) = self.outbox else {
            return Err(HandlerError::permanent(format!(
                "consumer {} emits {} but has no outbox configured",
                self.consumer_name,
                event.event_type()
            )));
        };
        let metadata = self.follow_up_metadata(aggregate_type, aggregate_id);
        Ok(outbox
            .enqueue_event(self.transaction, &event, metadata)
            .await?)
    }
}
