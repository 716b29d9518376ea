//! Events ⇄ domain: the [`PaymentEvent`]s payments emits as generated
//! events (one `From`, so `emit` takes a domain event as it is), and the
//! saga events payments consumes as [`SagaInput`]s.

use ecommerce_events::DecodedEvent;
use ecommerce_kernel::{Currency, Money};
use ecommerce_proto::ecommerce::orders::v1 as orders_pb;
use ecommerce_proto::ecommerce::payments::v1 as pb;
use uuid::Uuid;

use super::pb_money;
use crate::domain::events::{PaymentAuthorized, PaymentCaptured, PaymentFailed, PaymentVoided};
use crate::domain::{
    OrderId, PaymentEvent, PaymentId, PaymentInput, PaymentIntent, PaymentMethodToken,
};

impl From<&PaymentEvent> for DecodedEvent {
    fn from(event: &PaymentEvent) -> Self {
        match event {
            PaymentEvent::Authorized(PaymentAuthorized {
                payment_id,
                order_id,
                amount,
                provider_reference,
            }) => pb::PaymentAuthorized {
                payment_id: payment_id.to_string(),
                order_id: order_id.to_string(),
                amount: Some(pb_money(*amount)),
                provider_reference: provider_reference.as_str().to_owned(),
            }
            .into(),
            PaymentEvent::Failed(PaymentFailed {
                payment_id,
                order_id,
                amount,
                reason,
            }) => pb::PaymentFailed {
                payment_id: payment_id.to_string(),
                order_id: order_id.to_string(),
                amount: Some(pb_money(*amount)),
                reason: reason.clone(),
            }
            .into(),
            PaymentEvent::Captured(PaymentCaptured {
                payment_id,
                order_id,
                amount,
                provider_reference,
            }) => pb::PaymentCaptured {
                payment_id: payment_id.to_string(),
                order_id: order_id.to_string(),
                amount: Some(pb_money(*amount)),
                provider_reference: provider_reference.as_str().to_owned(),
            }
            .into(),
            PaymentEvent::Voided(PaymentVoided {
                payment_id,
                order_id,
                amount,
                reason,
            }) => pb::PaymentVoided {
                payment_id: payment_id.to_string(),
                order_id: order_id.to_string(),
                amount: Some(pb_money(*amount)),
                reason: reason.as_str().to_owned(),
            }
            .into(),
        }
    }
}

/// What a consumed event asks of the payment of one order.
#[derive(Debug)]
pub enum SagaInput {
    /// `orders.order_placed.v1`: the raw event, read by [`intent`] once the
    /// order id is known, so an unreadable one is refused with the reason.
    OrderPlaced(orders_pb::OrderPlaced),
    Other(PaymentInput),
}

/// The order a consumed event is about (its raw id) and what it asks;
/// `None` for events payments does not act on (such as
/// `orders.order_confirmed.v1` or `inventory.stock.committed.v1`).
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
        // The generated table is open-ended: every other event type.
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use ecommerce_events::Event as _;
    use ecommerce_proto::ecommerce::common::v1 as common_pb;

    use super::*;
    use crate::domain::{ProviderReference, VoidReason};

    #[test]
    fn payments_queues_are_bound_to_exactly_the_events_payments_acts_on() {
        for queue in [
            ecommerce_broker::ConsumerQueue::PaymentsOrderEvents,
            ecommerce_broker::ConsumerQueue::PaymentsInventoryEvents,
            ecommerce_broker::ConsumerQueue::PaymentsFulfillmentEvents,
        ] {
            ecommerce_test_support::assert_binds_exactly_what_it_handles(queue, |event| {
                saga_input(event).is_some()
            });
        }
    }

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
    fn each_payment_event_becomes_its_payload() {
        let (payment_id, order_id) = (PaymentId::generate(), OrderId::generate());
        let amount = Money::new(1_234, Currency::parse("EUR").unwrap()).unwrap();
        let reference = ProviderReference::parse("sim_auth_1").unwrap();
        let events = [
            PaymentEvent::Authorized(PaymentAuthorized {
                payment_id,
                order_id,
                amount,
                provider_reference: reference.clone(),
            }),
            PaymentEvent::Failed(PaymentFailed {
                payment_id,
                order_id,
                amount,
                reason: "card_declined".to_owned(),
            }),
            PaymentEvent::Captured(PaymentCaptured {
                payment_id,
                order_id,
                amount,
                provider_reference: reference,
            }),
            PaymentEvent::Voided(PaymentVoided {
                payment_id,
                order_id,
                amount,
                reason: VoidReason::ReservationExpired,
            }),
        ];
        let decoded: Vec<DecodedEvent> = events.iter().map(DecodedEvent::from).collect();
        let types: Vec<_> = decoded.iter().map(DecodedEvent::event_type).collect();
        assert_eq!(
            types,
            [
                pb::PaymentAuthorized::EVENT_TYPE,
                pb::PaymentFailed::EVENT_TYPE,
                pb::PaymentCaptured::EVENT_TYPE,
                pb::PaymentVoided::EVENT_TYPE,
            ]
        );
        let DecodedEvent::PaymentsPaymentVoidedV1(voided) = &decoded[3] else {
            panic!("payment voided");
        };
        assert_eq!(voided.payment_id, payment_id.to_string());
        assert_eq!(voided.order_id, order_id.to_string());
        assert_eq!(voided.amount.as_ref().unwrap().amount_minor, 1_234);
        assert_eq!(voided.reason, "reservation_expired");
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
