//! The consumer side of the checkout saga: orders, inventory and
//! fulfillment events drive payments through their state machine.
//!
//! One handler serves the three queues. For each event it:
//! 1. converts the event ([`saga_input`]; events payments does not act
//!    on, such as `orders.order_confirmed.v1` or
//!    `inventory.stock.committed.v1`, are acknowledged and ignored);
//! 2. has the app apply it in the inbox's transaction: an order placed
//!    records the intent ([`PaymentsApp::record_intent_in`]), any other
//!    event moves the locked payment ([`PaymentsApp::apply_event_in`],
//!    which calls the provider under the lock when the step needs it);
//! 3. emits the event the app hands back through [`HandlerContext::emit`]
//!    (causation = the incoming event, correlation passed through), in the
//!    same transaction.
//!
//! Errors the domain calls retryable (the intent not recorded yet because
//! `stock.reserved` overtook `order_placed` on another queue, the provider
//! unavailable) are [`HandlerError::Transient`]: requeued with backoff.
//! Everything else the domain refuses (a contradiction such as a shipment
//! of a payment never authorized), and events that cannot be read (an id
//! that is not a UUID, an invalid amount or token), are
//! [`HandlerError::Permanent`]: dead-lettered with the reason. Database
//! failures stay transient.

use async_trait::async_trait;
use ecommerce_events::DecodedEvent;
use ecommerce_inbox::{EventHandler, HandlerContext, HandlerError};
use tracing::instrument;

use crate::app::{PaymentsApp, PaymentsError};
use crate::convert::events::{SagaInput, intent, saga_input};
use crate::domain::{OrderId, PaymentEvent};

/// The inbox handler of payments' three consumer queues.
#[derive(Clone, Debug)]
pub struct PaymentHandler {
    app: PaymentsApp,
}

impl PaymentHandler {
    pub fn new(app: PaymentsApp) -> Self {
        Self { app }
    }
}

/// A retryable payment refusal comes again through the queue, although the
/// app's own transactions never retry one (they would call the provider
/// again under the row lock); the rest as any service error.
fn handler_error(error: PaymentsError) -> HandlerError {
    let retry_later = matches!(&error, PaymentsError::Payment(refusal) if refusal.is_retryable());
    if retry_later {
        HandlerError::transient(error.to_string())
    } else {
        HandlerError::from_service_error(error)
    }
}

#[async_trait]
impl EventHandler for PaymentHandler {
    #[instrument(skip_all, fields(event_type = context.event_type(), message_id = %context.message_id(), order_id), err)]
    async fn handle(
        &self,
        context: &HandlerContext<'_>,
        event: DecodedEvent,
    ) -> Result<(), HandlerError> {
        let Some((raw_order_id, saga_input)) = saga_input(event) else {
            return Ok(());
        };
        tracing::Span::current().record("order_id", raw_order_id.as_str());
        let order_id = OrderId::parse(&raw_order_id).map_err(|invalid| {
            HandlerError::permanent(format!("order_id {raw_order_id:?}: {}", invalid.0))
        })?;
        let transaction = context.transaction();
        match saga_input {
            SagaInput::OrderPlaced(placed) => {
                let (intent, user_id) =
                    intent(order_id, &placed).map_err(HandlerError::permanent)?;
                let correlation_id = context.metadata().correlation_id.clone();
                self.app
                    .record_intent_in(transaction, intent, user_id, correlation_id)
                    .await
                    .map_err(handler_error)?;
            }
            SagaInput::Other(input) => {
                let event = self
                    .app
                    .apply_event_in(transaction, order_id, input)
                    .await
                    .map_err(handler_error)?;
                if let Some(event) = event {
                    let aggregate_id = event.payment_id().to_string();
                    context
                        .emit(&event, PaymentEvent::AGGREGATE_TYPE, aggregate_id)
                        .await?;
                }
            }
        }
        Ok(())
    }
}
