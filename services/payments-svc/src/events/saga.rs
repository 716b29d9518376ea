//! The consumer side of the checkout saga: orders, inventory and
//! fulfillment events drive payments through their state machine.
//!
//! One handler serves the three queues. For each event it:
//! 1. maps the event to a [`PaymentInput`] (events payments does not act
//!    on, such as `orders.order_confirmed.v1` or
//!    `inventory.stock.committed.v1`, are acknowledged and ignored);
//! 2. locks the payment row of the order (`SELECT … FOR UPDATE`), so the
//!    three consumers and CapturePayment change one payment, and call the
//!    provider, one at a time;
//! 3. runs [`handle`] (which calls the provider under the lock when the
//!    step needs it) and stores what it returns: an intent is inserted, a
//!    change is written with `UPDATE … WHERE status = $read` and its event
//!    emitted through [`HandlerContext::emit`] (causation = the incoming
//!    event, correlation passed through), all in the inbox's transaction.
//!
//! Errors the domain calls retryable (the intent not recorded yet because
//! `stock.reserved` overtook `order_placed` on another queue, the provider
//! unavailable) are [`HandlerError::Transient`]: requeued with backoff.
//! Everything else the domain refuses (a contradiction such as a shipment
//! of a payment never authorized), and events that cannot be read (an id
//! that is not a UUID, an invalid amount or token), are
//! [`HandlerError::Permanent`]: dead-lettered with the reason. Database
//! failures stay transient.

use std::sync::Arc;

use async_trait::async_trait;
use ecommerce_events::DecodedEvent;
use ecommerce_inbox::{EventHandler, HandlerContext, HandlerError};
use ecommerce_kernel::{Currency, Money};
use ecommerce_proto::ecommerce::orders::v1 as orders_pb;
use tracing::instrument;
use uuid::Uuid;

use crate::domain::{
    OrderId, PaymentError, PaymentEvent, PaymentId, PaymentInput, PaymentIntent,
    PaymentMethodToken, PaymentOutcome, PaymentProvider, handle,
};
use crate::events::payloads::PaymentPayload;
use crate::storage::{StoredPayment, payments};
use ecommerce_kernel::Clock;

/// The inbox handler of payments' three consumer queues.
#[derive(Clone, Debug)]
pub struct PaymentHandler {
    provider: Arc<dyn PaymentProvider>,
    clock: Arc<dyn Clock>,
}

impl PaymentHandler {
    pub fn new(provider: Arc<dyn PaymentProvider>, clock: Arc<dyn Clock>) -> Self {
        Self { provider, clock }
    }
}

/// What an event asks of the payment of one order.
#[derive(Debug)]
pub enum SagaInput {
    /// `orders.order_placed.v1`: the raw event, read in [`intent`] so an
    /// unreadable one is refused with the reason.
    OrderPlaced(orders_pb::OrderPlaced),
    Other(PaymentInput),
}

/// The order an event is about and what it asks; `None` for events
/// payments does not act on.
pub fn saga_input(event: DecodedEvent) -> Option<(String, SagaInput)> {
    let input = match event {
        DecodedEvent::OrdersOrderPlacedV1(event) => {
            (event.order_id.clone(), SagaInput::OrderPlaced(event))
        }
        DecodedEvent::OrdersOrderCanceledV1(event) => (
            event.order_id,
            SagaInput::Other(PaymentInput::OrderCanceled),
        ),
        DecodedEvent::InventoryStockReservedV1(event) => (
            event.order_id,
            SagaInput::Other(PaymentInput::StockReserved),
        ),
        DecodedEvent::InventoryStockReservationFailedV1(event) => (
            event.order_id,
            SagaInput::Other(PaymentInput::ReservationFailed),
        ),
        DecodedEvent::InventoryStockReservationExpiredV1(event) => (
            event.order_id,
            SagaInput::Other(PaymentInput::ReservationExpired),
        ),
        DecodedEvent::InventoryStockReservationReleasedV1(event) => (
            event.order_id,
            SagaInput::Other(PaymentInput::ReservationReleased),
        ),
        DecodedEvent::FulfillmentShipmentShippedV1(event) => (
            event.order_id,
            SagaInput::Other(PaymentInput::ShipmentShipped),
        ),
        _ => return None,
    };
    Some(input)
}

/// The intent `orders.order_placed.v1` asks to record, and the customer.
pub fn intent(
    order_id: OrderId,
    event: &orders_pb::OrderPlaced,
) -> Result<(PaymentIntent, Uuid), String> {
    let user_id = Uuid::try_parse(&event.user_id)
        .map_err(|_| format!("user_id {:?} is not a UUID", event.user_id))?;
    let total = event.total.as_ref().ok_or("total is missing")?;
    let currency_code = if total.currency.is_empty() {
        &event.currency
    } else {
        &total.currency
    };
    let currency = Currency::parse(currency_code)
        .map_err(|invalid| format!("total currency: {}", invalid.0))?;
    let amount = Money::new(total.amount_minor, currency)
        .map_err(|invalid| format!("total: {}", invalid.0))?;
    let payment_method = PaymentMethodToken::parse(&event.payment_method_token)
        .map_err(|invalid| format!("payment_method_token: {}", invalid.0))?;
    let intent = PaymentIntent {
        payment_id: PaymentId::generate(),
        order_id,
        amount,
        payment_method,
    };
    Ok((intent, user_id))
}

fn handler_error(error: PaymentError) -> HandlerError {
    if error.is_retryable() {
        HandlerError::transient(error.to_string())
    } else {
        HandlerError::permanent(error.to_string())
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
        let (input, user_id) = match saga_input {
            SagaInput::OrderPlaced(placed) => {
                let (intent, user_id) =
                    intent(order_id, &placed).map_err(HandlerError::permanent)?;
                (PaymentInput::OrderPlaced(intent), Some(user_id))
            }
            SagaInput::Other(input) => (input, None),
        };
        let transaction = context.transaction();
        let locked = payments::lock_by_order(transaction, order_id).await?;
        let outcome = handle(
            order_id,
            locked.as_ref().map(|stored| &stored.payment),
            input,
            self.provider.as_ref(),
            self.clock.now(),
        )
        .await
        .map_err(handler_error)?;
        match outcome {
            PaymentOutcome::Recorded(payment) => {
                let Some(user_id) = user_id else {
                    return Err(HandlerError::permanent("an intent without its customer"));
                };
                let stored = StoredPayment {
                    payment,
                    user_id,
                    correlation_id: context.metadata().correlation_id.clone(),
                };
                // A concurrent order_placed of the same order (another
                // message id) may have won; its intent stands.
                let inserted = payments::insert_if_new(transaction, &stored).await?;
                tracing::info!(%order_id, inserted, "payment intent recorded");
            }
            PaymentOutcome::Changed(change) => {
                let read_status = locked
                    .as_ref()
                    .map(|stored| stored.payment.status())
                    .ok_or_else(|| HandlerError::permanent("a change without a payment"))?;
                payments::store_change(transaction, &change.payment, read_status).await?;
                emit(context, &change.event).await?;
                tracing::info!(%order_id, status = %change.payment.status(), "payment moved");
            }
            PaymentOutcome::Ignored(because) => {
                tracing::debug!(%order_id, ?because, "event ignored");
            }
        }
        Ok(())
    }
}

async fn emit(context: &HandlerContext<'_>, event: &PaymentEvent) -> Result<Uuid, HandlerError> {
    let aggregate_id = event.payment_id().to_string();
    let aggregate = PaymentEvent::AGGREGATE_TYPE;
    match PaymentPayload::from(event) {
        PaymentPayload::Authorized(payload) => {
            context.emit(&payload, aggregate, aggregate_id).await
        }
        PaymentPayload::Failed(payload) => context.emit(&payload, aggregate, aggregate_id).await,
        PaymentPayload::Captured(payload) => context.emit(&payload, aggregate, aggregate_id).await,
        PaymentPayload::Voided(payload) => context.emit(&payload, aggregate, aggregate_id).await,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use ecommerce_proto::ecommerce::common::v1 as common_pb;

    use super::*;

    fn placed(order_id: OrderId) -> orders_pb::OrderPlaced {
        orders_pb::OrderPlaced {
            order_id: order_id.to_string(),
            user_id: Uuid::now_v7().to_string(),
            total: Some(common_pb::Money {
                amount_minor: 10_400,
                currency: "EUR".to_owned(),
            }),
            currency: "EUR".to_owned(),
            payment_method_token: "pm_card_visa".to_owned(),
            ..Default::default()
        }
    }

    #[test]
    fn an_order_placed_becomes_an_intent_of_its_total() {
        let order_id = OrderId::generate();
        let (intent, _) = intent(order_id, &placed(order_id)).unwrap();
        assert_eq!(intent.order_id, order_id);
        assert_eq!(intent.amount.amount_minor(), 10_400);
        assert_eq!(intent.amount.currency().code(), "EUR");
        assert_eq!(intent.payment_method.expose(), "pm_card_visa");
    }

    #[test]
    fn an_unreadable_order_placed_is_refused_naming_the_field() {
        let order_id = OrderId::generate();
        let mut event = placed(order_id);
        event.payment_method_token = String::new();
        assert!(
            intent(order_id, &event)
                .unwrap_err()
                .contains("payment_method_token")
        );
        let mut event = placed(order_id);
        event.total = None;
        assert!(intent(order_id, &event).unwrap_err().contains("total"));
        let mut event = placed(order_id);
        event.user_id = "nope".to_owned();
        assert!(intent(order_id, &event).unwrap_err().contains("user_id"));
    }

    #[test]
    fn only_the_events_payments_follows_are_inputs() {
        let confirmed = DecodedEvent::OrdersOrderConfirmedV1(orders_pb::OrderConfirmed::default());
        assert!(saga_input(confirmed).is_none());
        let canceled = DecodedEvent::OrdersOrderCanceledV1(orders_pb::OrderCanceled {
            order_id: "x".to_owned(),
            ..Default::default()
        });
        assert!(matches!(
            saga_input(canceled),
            Some((_, SagaInput::Other(PaymentInput::OrderCanceled)))
        ));
    }
}
