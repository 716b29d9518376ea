//! Events: the IAM, orders and fulfillment events notifications consumes,
//! as the domain's inputs. One classification ([`input_of`]) serves the
//! handlers and the test that the topology binds exactly these types.

use ecommerce_events::{DecodedEvent, Event as _, EventMetadata};
use ecommerce_kernel::{Currency, Money, Quantity, Sku};
use ecommerce_proto::ecommerce::common::v1 as common_pb;
use ecommerce_proto::ecommerce::fulfillment::v1 as fulfillment_pb;
use ecommerce_proto::ecommerce::orders::v1 as orders_pb;
use uuid::Uuid;

use crate::convert::at;
use crate::domain::{
    CancelCause, ContactChange, ContactEmail, EventId, InvalidField, InvalidValue, MailDetails,
    NewNotification, NotificationId, OrderCopy, OrderId, OrderLine, RejectionReason, ShortLine,
    UserId,
};

/// What one consumed event asks of notifications.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventInput {
    /// An IAM user event: the customer's contact changes.
    Contact {
        user_id: UserId,
        change: ContactChange,
    },
    /// `orders.order_placed.v1`: the order's copy.
    OrderPlaced(OrderCopy),
    /// An event that mails the customer.
    Notify(NewNotification),
}

/// What `event` (with its envelope's `metadata`) asks of notifications:
/// `None` for the types it does not act on, an [`InvalidField`] naming the
/// field for one of its types that does not convert.
pub fn input_of(
    event: &DecodedEvent,
    metadata: &EventMetadata,
) -> Option<Result<EventInput, InvalidField>> {
    let notify = |event_type: &'static str, order_id: &str, user_id: Option<&str>, details| {
        notification(metadata, event_type, order_id, user_id, details).map(EventInput::Notify)
    };
    Some(match event {
        DecodedEvent::IamUserRegisteredV1(registered) => contact(
            &registered.user_id,
            ContactEmail::parse(&registered.email)
                .map_err(at("email"))
                .map(|email| ContactChange::Registered {
                    email,
                    name: registered.name.clone(),
                }),
        ),
        DecodedEvent::IamUserEmailVerifiedV1(verified) => contact(
            &verified.user_id,
            ContactEmail::parse(&verified.email)
                .map_err(at("email"))
                .map(|email| ContactChange::EmailVerified { email }),
        ),
        DecodedEvent::IamUserProfileUpdatedV1(updated) => contact(
            &updated.user_id,
            Ok(ContactChange::ProfileUpdated {
                name: updated.name.clone(),
            }),
        ),
        DecodedEvent::OrdersOrderPlacedV1(placed) => {
            order_copy(placed, metadata).map(EventInput::OrderPlaced)
        }
        DecodedEvent::OrdersOrderConfirmedV1(confirmed) => notify(
            orders_pb::OrderConfirmed::EVENT_TYPE,
            &confirmed.order_id,
            Some(&confirmed.user_id),
            MailDetails::OrderConfirmed,
        ),
        DecodedEvent::OrdersOrderRejectedV1(rejected) => rejection(rejected).and_then(|details| {
            notify(
                orders_pb::OrderRejected::EVENT_TYPE,
                &rejected.order_id,
                Some(&rejected.user_id),
                details,
            )
        }),
        DecodedEvent::OrdersOrderCanceledV1(canceled) => notify(
            orders_pb::OrderCanceled::EVENT_TYPE,
            &canceled.order_id,
            Some(&canceled.user_id),
            MailDetails::OrderCanceled {
                cause: cancel_cause(canceled.cause),
                reason: canceled.reason.trim().to_owned(),
            },
        ),
        DecodedEvent::FulfillmentShipmentShippedV1(shipped) => {
            shipped_details(shipped).and_then(|details| {
                notify(
                    fulfillment_pb::ShipmentShipped::EVENT_TYPE,
                    &shipped.order_id,
                    None,
                    details,
                )
            })
        }
        DecodedEvent::FulfillmentShipmentDeliveredV1(delivered) => notify(
            fulfillment_pb::ShipmentDelivered::EVENT_TYPE,
            &delivered.order_id,
            None,
            MailDetails::ShipmentDelivered,
        ),
        _ => return None,
    })
}

fn contact(
    user_id: &str,
    change: Result<ContactChange, InvalidField>,
) -> Result<EventInput, InvalidField> {
    Ok(EventInput::Contact {
        user_id: UserId::parse(user_id).map_err(at("user_id"))?,
        change: change?,
    })
}

fn notification(
    metadata: &EventMetadata,
    event_type: &'static str,
    order_id: &str,
    user_id: Option<&str>,
    details: MailDetails,
) -> Result<NewNotification, InvalidField> {
    Ok(NewNotification {
        id: NotificationId::generate(),
        event_id: EventId::from_uuid(metadata.id),
        event_type,
        order_id: OrderId::parse(order_id).map_err(at("order_id"))?,
        user_id: user_id
            .map(|raw| UserId::parse(raw).map_err(at("user_id")))
            .transpose()?,
        occurred_at: metadata.occurred_at,
        details,
    })
}

fn rejection(rejected: &orders_pb::OrderRejected) -> Result<MailDetails, InvalidField> {
    let reason = match orders_pb::OrderRejectionReason::try_from(rejected.reason) {
        Ok(orders_pb::OrderRejectionReason::OutOfStock) => RejectionReason::OutOfStock,
        Ok(_) | Err(_) => RejectionReason::Other,
    };
    let short_lines = rejected
        .short_lines
        .iter()
        .enumerate()
        .map(|(index, line)| {
            Sku::parse(&line.sku)
                .map_err(|invalid| invalid.at(format!("short_lines[{index}].sku")))?;
            Ok(ShortLine {
                sku: line.sku.clone(),
                requested: line.requested,
                available: line.available,
            })
        })
        .collect::<Result<Vec<_>, InvalidField>>()?;
    Ok(MailDetails::OrderRejected {
        reason,
        short_lines,
    })
}

fn cancel_cause(raw: i32) -> CancelCause {
    use orders_pb::OrderCancellationCause as Cause;
    match Cause::try_from(raw) {
        Ok(Cause::Customer) => CancelCause::Customer,
        Ok(Cause::Admin) => CancelCause::Admin,
        Ok(Cause::PaymentFailed) => CancelCause::PaymentFailed,
        Ok(Cause::ReservationExpired) => CancelCause::ReservationExpired,
        Ok(Cause::ReservationReleased) => CancelCause::ReservationReleased,
        // A cause added after this service was built reads like none.
        Ok(Cause::Unspecified) | Err(_) => CancelCause::Unspecified,
    }
}

fn shipped_details(shipped: &fulfillment_pb::ShipmentShipped) -> Result<MailDetails, InvalidField> {
    let text = |raw: &str, field: &'static str| match raw.trim() {
        "" => Err(InvalidValue::new("must not be empty").at(field)),
        value => Ok(value.to_owned()),
    };
    Ok(MailDetails::ShipmentShipped {
        carrier: text(&shipped.carrier, "carrier")?,
        tracking_number: text(&shipped.tracking_number, "tracking_number")?,
    })
}

fn money(
    money: Option<&common_pb::Money>,
    currency: Currency,
    field: &str,
) -> Result<Money, InvalidField> {
    let Some(money) = money else {
        return Err(InvalidValue::new("is required").at(field));
    };
    let parsed = Currency::parse(&money.currency)
        .map_err(|invalid| invalid.at(format!("{field}.currency")))?;
    if parsed != currency {
        return Err(
            InvalidValue::new(format!("is {parsed}, the order is in {currency}"))
                .at(format!("{field}.currency")),
        );
    }
    Money::new(money.amount_minor, currency)
        .map_err(|invalid| invalid.at(format!("{field}.amount_minor")))
}

fn order_copy(
    placed: &orders_pb::OrderPlaced,
    metadata: &EventMetadata,
) -> Result<OrderCopy, InvalidField> {
    let order_id = OrderId::parse(&placed.order_id).map_err(at("order_id"))?;
    let user_id = UserId::parse(&placed.user_id).map_err(at("user_id"))?;
    let currency = Currency::parse(&placed.currency).map_err(at("currency"))?;
    let lines = placed
        .lines
        .iter()
        .enumerate()
        .map(|(index, line)| {
            let field = |name: &str| format!("lines[{index}].{name}");
            Ok(OrderLine {
                sku: Sku::parse(&line.sku).map_err(|invalid| invalid.at(field("sku")))?,
                title: line.title.trim().to_owned(),
                quantity: Quantity::new(line.quantity)
                    .map_err(|invalid| invalid.at(field("quantity")))?,
                unit_price: money(line.unit_price.as_ref(), currency, &field("unit_price"))?,
                line_total: money(line.line_total.as_ref(), currency, &field("line_total"))?,
            })
        })
        .collect::<Result<Vec<_>, InvalidField>>()?;
    let total = money(placed.total.as_ref(), currency, "total")?;
    let shipping_option_id = match placed.shipping_option_id.trim() {
        "" => None,
        raw => Some(
            Uuid::parse_str(raw)
                .map_err(|_| InvalidValue::new("is not a UUID").at("shipping_option_id"))?,
        ),
    };
    OrderCopy::new(
        order_id,
        user_id,
        currency,
        lines,
        total,
        shipping_option_id,
        metadata.occurred_at,
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use ecommerce_broker::ConsumerQueue;
    use ecommerce_proto::ecommerce::iam::v1 as iam_pb;

    use super::*;

    fn metadata() -> EventMetadata {
        EventMetadata::new("order", Uuid::now_v7().to_string())
    }

    #[test]
    fn notifications_queues_are_bound_to_exactly_the_events_it_acts_on() {
        for queue in [
            ConsumerQueue::NotificationsIamEvents,
            ConsumerQueue::NotificationsOrderEvents,
            ConsumerQueue::NotificationsFulfillmentEvents,
        ] {
            ecommerce_test_support::assert_binds_exactly_what_it_handles(queue, |event| {
                input_of(&event, &metadata()).is_some()
            });
        }
    }

    fn eur(amount_minor: i64) -> Option<common_pb::Money> {
        Some(common_pb::Money {
            amount_minor,
            currency: "EUR".to_owned(),
        })
    }

    fn placed() -> orders_pb::OrderPlaced {
        orders_pb::OrderPlaced {
            order_id: Uuid::now_v7().to_string(),
            user_id: Uuid::now_v7().to_string(),
            lines: vec![orders_pb::OrderLine {
                sku: "TEE-RED-M".to_owned(),
                title: "Tee".to_owned(),
                quantity: 2,
                unit_price: eur(1000),
                line_total: eur(2000),
                ..Default::default()
            }],
            total: eur(2499),
            currency: "EUR".to_owned(),
            payment_method_token: "pm_card_visa".to_owned(),
            shipping_option_id: Uuid::now_v7().to_string(),
        }
    }

    #[test]
    fn a_placed_order_becomes_its_copy_or_names_the_bad_field() {
        let event = placed();
        let metadata = metadata();
        let Some(Ok(EventInput::OrderPlaced(order))) =
            input_of(&DecodedEvent::OrdersOrderPlacedV1(event.clone()), &metadata)
        else {
            panic!("not an order copy");
        };
        assert_eq!(order.order_id.to_string(), event.order_id);
        assert_eq!(order.shipping.amount_minor(), 499);
        assert_eq!(order.placed_at, metadata.occurred_at);
        for (broken, field) in [
            (
                orders_pb::OrderPlaced {
                    user_id: "x".to_owned(),
                    ..event.clone()
                },
                "user_id",
            ),
            (
                orders_pb::OrderPlaced {
                    total: eur(100),
                    ..event.clone()
                },
                "total",
            ),
            (
                orders_pb::OrderPlaced {
                    total: None,
                    ..event.clone()
                },
                "total",
            ),
        ] {
            let Some(Err(invalid)) =
                input_of(&DecodedEvent::OrdersOrderPlacedV1(broken), &metadata)
            else {
                panic!("{field} accepted");
            };
            assert_eq!(invalid.field, field);
        }
        let mut dollars = event;
        dollars.lines[0].unit_price = Some(common_pb::Money {
            amount_minor: 1000,
            currency: "USD".to_owned(),
        });
        let Some(Err(invalid)) = input_of(&DecodedEvent::OrdersOrderPlacedV1(dollars), &metadata)
        else {
            panic!("a dollar line accepted");
        };
        assert_eq!(invalid.field, "lines[0].unit_price.currency");
    }

    #[test]
    fn mailing_events_record_their_details_keyed_by_the_event_id() {
        let metadata = metadata();
        let order_id = Uuid::now_v7().to_string();
        let canceled = orders_pb::OrderCanceled {
            order_id: order_id.clone(),
            user_id: Uuid::now_v7().to_string(),
            reason: " changed my mind ".to_owned(),
            cause: orders_pb::OrderCancellationCause::Customer.into(),
        };
        let Some(Ok(EventInput::Notify(notification))) =
            input_of(&DecodedEvent::OrdersOrderCanceledV1(canceled), &metadata)
        else {
            panic!("not a notification");
        };
        assert_eq!(notification.event_id.as_uuid(), metadata.id);
        assert_eq!(notification.event_type, "orders.order_canceled.v1");
        assert_eq!(
            notification.details,
            MailDetails::OrderCanceled {
                cause: CancelCause::Customer,
                reason: "changed my mind".to_owned(),
            }
        );
        let shipped = fulfillment_pb::ShipmentShipped {
            shipment_id: Uuid::now_v7().to_string(),
            order_id: order_id.clone(),
            carrier: "DHL".to_owned(),
            tracking_number: " ".to_owned(),
        };
        let Some(Err(invalid)) = input_of(
            &DecodedEvent::FulfillmentShipmentShippedV1(shipped),
            &metadata,
        ) else {
            panic!("an empty tracking number accepted");
        };
        assert_eq!(invalid.field, "tracking_number");
        let delivered = fulfillment_pb::ShipmentDelivered {
            shipment_id: Uuid::now_v7().to_string(),
            order_id,
        };
        let Some(Ok(EventInput::Notify(notification))) = input_of(
            &DecodedEvent::FulfillmentShipmentDeliveredV1(delivered),
            &metadata,
        ) else {
            panic!("not a notification");
        };
        assert_eq!(
            notification.user_id, None,
            "shipment events name no customer"
        );
        let rejected = orders_pb::OrderRejected {
            order_id: Uuid::now_v7().to_string(),
            user_id: Uuid::now_v7().to_string(),
            reason: orders_pb::OrderRejectionReason::OutOfStock.into(),
            short_lines: vec![orders_pb::ShortLine {
                sku: "A".to_owned(),
                requested: 2,
                available: 0,
            }],
        };
        let Some(Ok(EventInput::Notify(notification))) =
            input_of(&DecodedEvent::OrdersOrderRejectedV1(rejected), &metadata)
        else {
            panic!("not a notification");
        };
        assert!(matches!(
            notification.details,
            MailDetails::OrderRejected {
                reason: RejectionReason::OutOfStock,
                ref short_lines,
            } if short_lines.len() == 1
        ));
    }

    #[test]
    fn iam_events_change_the_contact() {
        let metadata = metadata();
        let user_id = Uuid::now_v7().to_string();
        let registered = iam_pb::UserRegistered {
            user_id: user_id.clone(),
            email: "Jane@Example.com".to_owned(),
            name: "Jane".to_owned(),
        };
        let Some(Ok(EventInput::Contact { change, .. })) =
            input_of(&DecodedEvent::IamUserRegisteredV1(registered), &metadata)
        else {
            panic!("not a contact change");
        };
        assert_eq!(
            change,
            ContactChange::Registered {
                email: ContactEmail::parse("jane@example.com").unwrap(),
                name: "Jane".to_owned(),
            }
        );
        let verified = iam_pb::UserEmailVerified {
            user_id,
            email: "not-an-address".to_owned(),
        };
        let Some(Err(invalid)) =
            input_of(&DecodedEvent::IamUserEmailVerifiedV1(verified), &metadata)
        else {
            panic!("a bad address accepted");
        };
        assert_eq!(invalid.field, "email");
        let signed_out = iam_pb::UserSignedOut::default();
        assert!(input_of(&DecodedEvent::IamUserSignedOutV1(signed_out), &metadata).is_none());
    }
}
