//! The consumer side of the checkout saga: inventory, payments and
//! fulfillment events move orders through their state machine.
//!
//! One handler serves the three queues. For each event it:
//! 1. maps the event to an [`OrderInput`] (events orders does not follow,
//!    such as `payments.payment_captured.v1` or
//!    `fulfillment.shipment.created.v1`, are acknowledged and ignored);
//! 2. locks the order row (`SELECT … FOR UPDATE`), so the three consumers
//!    and CancelOrder change one order one at a time;
//! 3. applies the input ([`Order::apply`]) and, when it changes the order,
//!    stores the new state and history entries and emits the transition's
//!    events through [`HandlerContext::emit`] (causation = the incoming
//!    event, correlation passed through), all in the inbox's transaction.
//!
//! Failures that retrying cannot cure are [`HandlerError::Permanent`] and
//! go to the dead-letter queue with the reason:
//! - a [`TransitionError::Contradiction`]: another service broke the saga's
//!   rules (see the state machine's docs);
//! - an order id that is not a UUID;
//! - an order this service does not have. Every event orders consumes is
//!   caused, directly or not, by an `orders.order_placed.v1`, which is
//!   published only after the transaction that stored the order committed;
//!   so the order is always visible by the time such an event arrives, and
//!   an unknown id means a misrouted or fabricated event (or a wrong
//!   database). Retrying would only delay the dead-lettering by the retry
//!   budget.
//!
//! Database failures stay transient (requeued with backoff).

use std::sync::Arc;

use async_trait::async_trait;
use ecommerce_events::DecodedEvent;
use ecommerce_inbox::{EventHandler, HandlerContext, HandlerError};
use ecommerce_proto::ecommerce::inventory::v1 as inventory_pb;
use tracing::instrument;

use crate::domain::{OrderId, OrderInput, Outcome, Rejection, ShortLine, TransitionError};
use crate::events::ORDER_AGGREGATE;
use crate::events::payloads::{EffectEvent, effect_event, reservation_failure};
use crate::storage::orders;
use ecommerce_kernel::Clock;

/// The inbox handler of orders' three consumer queues.
#[derive(Clone, Debug)]
pub struct SagaHandler {
    clock: Arc<dyn Clock>,
}

impl SagaHandler {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self { clock }
    }
}

/// The order an event is about and what it does to it; `None` for events
/// orders does not follow.
pub fn saga_input(event: DecodedEvent) -> Option<(String, OrderInput)> {
    let input = match event {
        DecodedEvent::InventoryStockReservedV1(event) => {
            (event.order_id, OrderInput::StockReserved)
        }
        DecodedEvent::InventoryStockReservationFailedV1(event) => {
            let failure = reservation_failure(event.reason());
            let rejection = Rejection {
                failure,
                short_lines: event.short_lines.iter().map(short_line).collect(),
            };
            (
                event.order_id,
                OrderInput::StockReservationFailed(rejection),
            )
        }
        DecodedEvent::InventoryStockCommittedV1(event) => {
            (event.order_id, OrderInput::StockCommitted)
        }
        DecodedEvent::InventoryStockReservationExpiredV1(event) => {
            (event.order_id, OrderInput::StockReservationExpired)
        }
        DecodedEvent::InventoryStockReservationReleasedV1(event) => (
            event.order_id,
            OrderInput::StockReservationReleased {
                reason: event.reason,
            },
        ),
        DecodedEvent::PaymentsPaymentAuthorizedV1(event) => {
            (event.order_id, OrderInput::PaymentAuthorized)
        }
        DecodedEvent::PaymentsPaymentFailedV1(event) => (
            event.order_id,
            OrderInput::PaymentFailed {
                reason: event.reason,
            },
        ),
        DecodedEvent::FulfillmentShipmentShippedV1(event) => (
            event.order_id,
            OrderInput::ShipmentShipped {
                carrier: event.carrier,
                tracking_number: event.tracking_number,
            },
        ),
        DecodedEvent::FulfillmentShipmentDeliveredV1(event) => {
            (event.order_id, OrderInput::ShipmentDelivered)
        }
        _ => return None,
    };
    Some(input)
}

fn short_line(line: &inventory_pb::ShortLine) -> ShortLine {
    // Negative counts cannot come from a well-behaved inventory; 0 is the
    // honest floor.
    ShortLine {
        sku: line.sku.clone(),
        requested: u32::try_from(line.requested).unwrap_or(0),
        available: u32::try_from(line.available).unwrap_or(0),
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
        let transaction = context.transaction();
        let Some(mut order) = orders::lock_by_id(transaction, order_id).await? else {
            return Err(HandlerError::permanent(format!(
                "order {order_id} does not exist"
            )));
        };
        let outcome = order
            .apply(input, self.clock.now())
            .map_err(|error| match error {
                TransitionError::Contradiction { .. } | TransitionError::NotCancelable { .. } => {
                    HandlerError::permanent(error.to_string())
                }
            })?;
        let transition = match outcome {
            Outcome::Applied(transition) => transition,
            Outcome::Ignored { reason } => {
                tracing::debug!(%order_id, %reason, "event ignored");
                return Ok(());
            }
        };
        let history_before = order.history.len();
        let effects = order.record(transition);
        orders::store_transition(transaction, &order, history_before).await?;
        let aggregate_id = order.id.to_string();
        for effect in &effects {
            match effect_event(&order, effect) {
                EffectEvent::Confirmed(payload) => {
                    context
                        .emit(&payload, ORDER_AGGREGATE, &aggregate_id)
                        .await?
                }
                EffectEvent::Rejected(payload) => {
                    context
                        .emit(&payload, ORDER_AGGREGATE, &aggregate_id)
                        .await?
                }
                EffectEvent::Canceled(payload) => {
                    context
                        .emit(&payload, ORDER_AGGREGATE, &aggregate_id)
                        .await?
                }
            };
        }
        tracing::info!(%order_id, status = %order.status(), "order moved");
        Ok(())
    }
}
