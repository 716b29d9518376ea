//! Events ⇄ domain: the [`OrderEvent`]s orders emits as generated events
//! (one `From`, so `emit` takes a domain event as it is), and the saga
//! events orders consumes as [`OrderInput`]s.

use ecommerce_events::DecodedEvent;
use ecommerce_proto::ecommerce::inventory::v1 as inventory_pb;
use ecommerce_proto::ecommerce::orders::v1 as pb;

use super::{pb_cancellation_cause, pb_line, pb_money, pb_short_line};
use crate::domain::{OrderEvent, OrderInput, Rejection, ReservationFailure, ShortLine};

impl From<&OrderEvent> for DecodedEvent {
    fn from(event: &OrderEvent) -> Self {
        match event {
            // Everything inventory needs to reserve and payments to
            // authorize, including the payment method token.
            OrderEvent::Placed(order) => pb::OrderPlaced {
                order_id: order.id.to_string(),
                user_id: order.user_id.to_string(),
                lines: order.lines.iter().map(pb_line).collect(),
                total: Some(pb_money(order.total)),
                currency: order.currency.code().to_owned(),
                payment_method_token: order.payment_method_token.expose().to_owned(),
                shipping_option_id: order.shipping_option_id.to_string(),
            }
            .into(),
            OrderEvent::Confirmed { order_id, user_id } => pb::OrderConfirmed {
                order_id: order_id.to_string(),
                user_id: user_id.to_string(),
            }
            .into(),
            OrderEvent::Rejected {
                order_id,
                user_id,
                rejection,
            } => pb::OrderRejected {
                order_id: order_id.to_string(),
                user_id: user_id.to_string(),
                reason: rejection_reason(rejection.failure) as i32,
                short_lines: rejection.short_lines.iter().map(pb_short_line).collect(),
            }
            .into(),
            OrderEvent::Canceled {
                order_id,
                user_id,
                cancellation,
            } => pb::OrderCanceled {
                order_id: order_id.to_string(),
                user_id: user_id.to_string(),
                reason: cancellation.reason.clone(),
                cause: pb_cancellation_cause(cancellation.cause) as i32,
            }
            .into(),
        }
    }
}

/// The event's reason enum only knows OUT_OF_STOCK for reservation
/// failures, so an unknown or blocked SKU is reported as out of stock too;
/// the short lines say which SKUs.
fn rejection_reason(failure: ReservationFailure) -> pb::OrderRejectionReason {
    match failure {
        ReservationFailure::InsufficientStock
        | ReservationFailure::UnknownSku
        | ReservationFailure::SkuBlocked => pb::OrderRejectionReason::OutOfStock,
    }
}

/// The order a consumed event is about (its raw id) and what it does to
/// it; `None` for events orders does not follow (such as
/// `payments.payment_captured.v1` or `fulfillment.shipment.created.v1`).
pub fn saga_input(event: DecodedEvent) -> Option<(String, OrderInput)> {
    let input = match event {
        DecodedEvent::InventoryStockReservedV1(event) => {
            (event.order_id, OrderInput::StockReserved)
        }
        DecodedEvent::InventoryStockReservationFailedV1(event) => {
            let rejection = Rejection {
                failure: reservation_failure(event.reason()),
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
        // The generated table is open-ended: every other event type.
        _ => return None,
    };
    Some(input)
}

/// The inventory event's failure reason as the domain's.
fn reservation_failure(reason: inventory_pb::ReservationFailureReason) -> ReservationFailure {
    match reason {
        inventory_pb::ReservationFailureReason::UnknownSku => ReservationFailure::UnknownSku,
        inventory_pb::ReservationFailureReason::SkuBlocked => ReservationFailure::SkuBlocked,
        // An unspecified reason from a well-behaved inventory cannot happen;
        // a shortage is the failure that needs no further explanation.
        inventory_pb::ReservationFailureReason::InsufficientStock
        | inventory_pb::ReservationFailureReason::Unspecified => {
            ReservationFailure::InsufficientStock
        }
    }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use ecommerce_events::Event as _;
    use uuid::Uuid;

    use super::*;
    use crate::domain::machine::tests::order_owned_by;
    use crate::domain::{Cancellation, OrderEffect};

    #[test]
    fn orders_queues_are_bound_to_exactly_the_events_the_saga_follows() {
        for queue in [
            ecommerce_broker::ConsumerQueue::OrdersInventoryEvents,
            ecommerce_broker::ConsumerQueue::OrdersPaymentEvents,
            ecommerce_broker::ConsumerQueue::OrdersFulfillmentEvents,
        ] {
            ecommerce_test_support::assert_binds_exactly_what_it_handles(queue, |event| {
                saga_input(event).is_some()
            });
        }
    }

    #[test]
    fn each_order_event_becomes_its_payload() {
        let order = order_owned_by(Uuid::from_u128(0xb));
        let rejection = Rejection {
            failure: ReservationFailure::SkuBlocked,
            short_lines: vec![ShortLine {
                sku: "SHOE-42".to_owned(),
                requested: 2,
                available: 0,
            }],
        };
        let events = [
            OrderEvent::placed(&order),
            OrderEvent::of(&order, OrderEffect::Confirmed),
            OrderEvent::of(&order, OrderEffect::Rejected(rejection)),
            OrderEvent::of(
                &order,
                OrderEffect::Canceled(Cancellation::reservation_expired()),
            ),
        ];
        let types: Vec<_> = events
            .iter()
            .map(|event| DecodedEvent::from(event).event_type())
            .collect();
        assert_eq!(
            types,
            [
                pb::OrderPlaced::EVENT_TYPE,
                pb::OrderConfirmed::EVENT_TYPE,
                pb::OrderRejected::EVENT_TYPE,
                pb::OrderCanceled::EVENT_TYPE,
            ]
        );
        let DecodedEvent::OrdersOrderPlacedV1(placed) = DecodedEvent::from(&events[0]) else {
            panic!("order placed");
        };
        assert_eq!(placed.payment_method_token, "pm_card_visa");
        assert_eq!(placed.total.unwrap().amount_minor, 11_400);
        assert_eq!(placed.lines.len(), 2);
        let DecodedEvent::OrdersOrderRejectedV1(rejected) = DecodedEvent::from(&events[2]) else {
            panic!("order rejected");
        };
        assert_eq!(rejected.reason(), pb::OrderRejectionReason::OutOfStock);
        assert_eq!(rejected.short_lines[0].available, 0);
        let DecodedEvent::OrdersOrderCanceledV1(canceled) = DecodedEvent::from(&events[3]) else {
            panic!("order canceled");
        };
        assert_eq!(
            canceled.cause(),
            pb::OrderCancellationCause::ReservationExpired
        );
        assert_eq!(
            canceled.reason,
            "the stock reservation expired before the order was confirmed"
        );
    }

    #[test]
    fn only_the_saga_events_are_inputs_and_failures_keep_their_reason() {
        let failed =
            DecodedEvent::InventoryStockReservationFailedV1(inventory_pb::StockReservationFailed {
                order_id: "o".to_owned(),
                reason: inventory_pb::ReservationFailureReason::UnknownSku as i32,
                short_lines: vec![inventory_pb::ShortLine {
                    sku: "X".to_owned(),
                    requested: 1,
                    available: -1,
                }],
            });
        let Some((order_id, OrderInput::StockReservationFailed(rejection))) = saga_input(failed)
        else {
            panic!("a reservation failure is an input");
        };
        assert_eq!(order_id, "o");
        assert_eq!(rejection.failure, ReservationFailure::UnknownSku);
        assert_eq!(rejection.short_lines[0].available, 0);
        let placed = DecodedEvent::OrdersOrderPlacedV1(pb::OrderPlaced::default());
        assert!(saga_input(placed).is_none());
    }
}
