//! The consumer side of the checkout saga: inventory, payments and
//! fulfillment events move orders through their state machine.
//!
//! One handler serves the three queues. For each event it:
//! 1. converts the event to an [`OrderInput`](crate::domain::OrderInput)
//!    ([`saga_input`]; events orders does not follow, such as
//!    `payments.payment_captured.v1` or `fulfillment.shipment.created.v1`,
//!    are acknowledged and ignored);
//! 2. has the app apply it to the locked order in the inbox's transaction
//!    ([`OrdersApp::apply_event_in`]), with the event's type as the
//!    input's name in history reasons;
//! 3. emits the events the app hands back through [`HandlerContext::emit`]
//!    (causation = the incoming event, correlation passed through), in the
//!    same transaction.
//!
//! Failures that retrying cannot cure are [`HandlerError::Permanent`] and
//! go to the dead-letter queue with the reason
//! ([`HandlerError::from_service_error`]):
//! - a contradiction of the order's history: another service broke the
//!   saga's rules (see the state machine's docs);
//! - an order id that is not a UUID;
//! - an order this service does not have (see
//!   [`OrdersApp::apply_event_in`] for why that is never a race).
//!
//! Database failures stay transient (requeued with backoff).

use async_trait::async_trait;
use ecommerce_events::DecodedEvent;
use ecommerce_inbox::{EventHandler, HandlerContext, HandlerError};
use tracing::instrument;

use crate::app::OrdersApp;
use crate::convert::events::saga_input;
use crate::domain::{OrderEvent, OrderId};

/// The inbox handler of orders' three consumer queues.
#[derive(Clone, Debug)]
pub struct SagaHandler {
    app: OrdersApp,
}

impl SagaHandler {
    pub fn new(app: OrdersApp) -> Self {
        Self { app }
    }
}

#[async_trait]
impl EventHandler for SagaHandler {
    #[instrument(skip_all, fields(event_type = context.event_type(), message_id = %context.message_id(), order_id), err)]
    async fn handle(
        &self,
        context: &HandlerContext<'_>,
        event: DecodedEvent,
    ) -> Result<(), HandlerError> {
        let Some((raw_order_id, input)) = saga_input(event) else {
            return Ok(());
        };
        tracing::Span::current().record("order_id", raw_order_id.as_str());
        let order_id = OrderId::parse(&raw_order_id).map_err(|invalid| {
            HandlerError::permanent(format!("order_id {raw_order_id:?}: {}", invalid.0))
        })?;
        let events = self
            .app
            .apply_event_in(context.transaction(), order_id, input, context.event_type())
            .await
            .map_err(HandlerError::from_service_error)?;
        let aggregate_id = order_id.to_string();
        for event in &events {
            context
                .emit(event, OrderEvent::AGGREGATE_TYPE, &aggregate_id)
                .await?;
        }
        Ok(())
    }
}
