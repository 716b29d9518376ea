//! Every proto ⇄ domain conversion of orders-svc, so neither adapter
//! imports the other: requests into validated inputs (INVALID_ARGUMENT
//! naming the field) and orders into messages here, for `grpc/`; consumed
//! events into [`OrderInput`](crate::domain::OrderInput)s and
//! [`OrderEvent`](crate::domain::OrderEvent)s into the generated events in
//! [`events`], for `events/` and the outbox.

pub mod events;

use ecommerce_checkout::SignedSnapshot;
use ecommerce_kernel::{InvalidField, Money};
use ecommerce_proto::ecommerce::common::v1 as common_pb;
use ecommerce_proto::ecommerce::orders::v1 as pb;
use uuid::Uuid;

use crate::app::{DEFAULT_PAGE_SIZE, ListOrders};
use crate::domain::{
    CancelCause, CancelReason, Order, OrderId, OrderLine, OrderStatus, ShortLine, StatusChange,
};

/// PlaceOrder's signed snapshot, moved out of the message as received: the
/// app verifies these bytes, this signature and this claimed checkout key
/// (against the snapshot's) exactly as `ecommerce_checkout::verify_request`
/// would.
pub fn signed_snapshot(request: pb::PlaceOrderRequest) -> SignedSnapshot {
    let pb::PlaceOrderRequest {
        snapshot,
        signature,
        idempotency_key,
    } = request;
    SignedSnapshot {
        bytes: snapshot,
        signature,
        checkout_key: idempotency_key,
    }
}

/// GetOrder / CancelOrder `order_id`.
pub fn order_id(raw: &str) -> Result<OrderId, InvalidField> {
    OrderId::parse(raw).map_err(|invalid| invalid.at("order_id"))
}

/// CancelOrder, converted: the order and the reason.
pub fn cancel_request(
    request: &pb::CancelOrderRequest,
) -> Result<(OrderId, CancelReason), InvalidField> {
    Ok((
        order_id(&request.order_id)?,
        CancelReason::parse(&request.reason)?,
    ))
}

impl TryFrom<pb::ListOrdersRequest> for ListOrders {
    type Error = InvalidField;

    fn try_from(request: pb::ListOrdersRequest) -> Result<Self, Self::Error> {
        let page_size = match request.page_size {
            0 => DEFAULT_PAGE_SIZE,
            size if size < 0 => {
                return Err(InvalidField::new("page_size", "must not be negative"));
            }
            size => u64::try_from(size).unwrap_or(DEFAULT_PAGE_SIZE),
        };
        let user_id = match request.user_id.as_str() {
            "" => None,
            raw => Some(
                Uuid::try_parse(raw)
                    .map_err(|_| InvalidField::new("user_id", format!("{raw:?} is not a UUID")))?,
            ),
        };
        // The page token is the last order id of the previous page: ids are
        // UUID v7, so "after" is "older than".
        let after = match request.page_token.as_str() {
            "" => None,
            raw => Some(OrderId::parse(raw).map_err(|_| {
                InvalidField::new("page_token", "is not a token this service issued")
            })?),
        };
        let status = match pb::OrderStatus::try_from(request.status) {
            Ok(pb::OrderStatus::Unspecified) => None,
            Ok(status) => Some(order_status(status)),
            Err(_) => {
                return Err(InvalidField::new(
                    "status",
                    format!("{} is not an OrderStatus", request.status),
                ));
            }
        };
        Ok(Self {
            user_id,
            status,
            page_size,
            after,
        })
    }
}

/// A known, specified proto status as the domain's.
fn order_status(status: pb::OrderStatus) -> OrderStatus {
    match status {
        pb::OrderStatus::Unspecified | pb::OrderStatus::Pending => OrderStatus::Pending,
        pb::OrderStatus::Reserved => OrderStatus::Reserved,
        pb::OrderStatus::Paid => OrderStatus::Paid,
        pb::OrderStatus::Confirmed => OrderStatus::Confirmed,
        pb::OrderStatus::Shipped => OrderStatus::Shipped,
        pb::OrderStatus::Delivered => OrderStatus::Delivered,
        pb::OrderStatus::Rejected => OrderStatus::Rejected,
        pb::OrderStatus::Canceled => OrderStatus::Canceled,
    }
}

pub fn pb_status(status: OrderStatus) -> pb::OrderStatus {
    match status {
        OrderStatus::Pending => pb::OrderStatus::Pending,
        OrderStatus::Reserved => pb::OrderStatus::Reserved,
        OrderStatus::Paid => pb::OrderStatus::Paid,
        OrderStatus::Confirmed => pb::OrderStatus::Confirmed,
        OrderStatus::Shipped => pb::OrderStatus::Shipped,
        OrderStatus::Delivered => pb::OrderStatus::Delivered,
        OrderStatus::Rejected => pb::OrderStatus::Rejected,
        OrderStatus::Canceled => pb::OrderStatus::Canceled,
    }
}

pub fn pb_money(money: Money) -> common_pb::Money {
    common_pb::Money {
        amount_minor: money.amount_minor(),
        currency: money.currency().code().to_owned(),
    }
}

pub fn pb_line(line: &OrderLine) -> pb::OrderLine {
    pb::OrderLine {
        sku: line.sku.clone(),
        variant_id: line.variant_id.to_string(),
        product_id: line.product_id.to_string(),
        title: line.title.clone(),
        // At most a snapshot's quantity, which fits an int32 by construction.
        quantity: i32::try_from(line.quantity).unwrap_or(i32::MAX),
        unit_price: Some(pb_money(line.unit_price)),
        line_total: Some(pb_money(line.line_total)),
    }
}

/// The cause as the API and `orders.order_canceled.v1` carry it.
pub fn pb_cancellation_cause(cause: CancelCause) -> pb::OrderCancellationCause {
    match cause {
        CancelCause::Customer => pb::OrderCancellationCause::Customer,
        CancelCause::Admin => pb::OrderCancellationCause::Admin,
        CancelCause::PaymentFailed => pb::OrderCancellationCause::PaymentFailed,
        CancelCause::ReservationExpired => pb::OrderCancellationCause::ReservationExpired,
        CancelCause::ReservationReleased => pb::OrderCancellationCause::ReservationReleased,
    }
}

pub fn pb_short_line(line: &ShortLine) -> pb::ShortLine {
    pb::ShortLine {
        sku: line.sku.clone(),
        requested: i32::try_from(line.requested).unwrap_or(i32::MAX),
        available: i32::try_from(line.available).unwrap_or(i32::MAX),
    }
}

fn pb_status_change(change: &StatusChange) -> pb::OrderStatusChange {
    pb::OrderStatusChange {
        status: pb_status(change.status) as i32,
        reason: change.reason.clone(),
        changed_at: Some(ecommerce_proto::timestamp(change.changed_at)),
    }
}

/// The order as the API shows it (never with its payment method token).
pub fn pb_order(order: &Order) -> pb::Order {
    let rejection_reason = match order.state.rejection() {
        Some(_) => pb::OrderRejectionReason::OutOfStock,
        None => pb::OrderRejectionReason::Unspecified,
    };
    pb::Order {
        id: order.id.to_string(),
        user_id: order.user_id.to_string(),
        status: pb_status(order.status()) as i32,
        lines: order.lines.iter().map(pb_line).collect(),
        subtotal: Some(pb_money(order.subtotal)),
        shipping_price: Some(pb_money(order.shipping_price)),
        total: Some(pb_money(order.total)),
        currency: order.currency.code().to_owned(),
        shipping_option_id: order.shipping_option_id.to_string(),
        status_history: order.history.iter().map(pb_status_change).collect(),
        rejection_reason: rejection_reason as i32,
        cancellation_reason: order
            .state
            .cancellation()
            .map(|cancellation| cancellation.reason.clone())
            .unwrap_or_default(),
        cancellation_cause: order
            .state
            .cancellation()
            .map_or(pb::OrderCancellationCause::Unspecified, |cancellation| {
                pb_cancellation_cause(cancellation.cause)
            }) as i32,
        correlation_id: order.correlation_id.clone(),
        created_at: Some(ecommerce_proto::timestamp(order.created_at)),
        updated_at: Some(ecommerce_proto::timestamp(order.updated_at)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::{DateTime, TimeZone as _, Utc};
    use ecommerce_checkout::{
        DEFAULT_SNAPSHOT_TTL, SnapshotError, SnapshotKey, SnapshotKeys, VerifiedCheckout, sign,
        verify,
    };

    use super::*;

    /// A PlaceOrder request for a two-line checkout of `owner`, signed as
    /// cart-svc signs it, at `now`.
    fn signed_request(
        owner: Uuid,
        keys: &SnapshotKeys,
        now: DateTime<Utc>,
    ) -> pb::PlaceOrderRequest {
        let eur = |amount_minor| {
            Some(common_pb::Money {
                amount_minor,
                currency: "EUR".to_owned(),
            })
        };
        let line = |sku: &str, quantity: i32, unit_price: i64| pb::CheckoutLine {
            sku: sku.to_owned(),
            variant_id: Uuid::from_u128(1).to_string(),
            product_id: Uuid::from_u128(2).to_string(),
            title: "Trail shoe".to_owned(),
            quantity,
            unit_price: eur(unit_price),
            line_total: eur(unit_price * i64::from(quantity)),
        };
        let snapshot = pb::CheckoutSnapshot {
            cart_id: Uuid::from_u128(3).to_string(),
            cart_version: 4,
            user_id: owner.to_string(),
            lines: vec![line("SHOE-42", 2, 4_950), line("SOCK-1", 1, 1_000)],
            subtotal: eur(10_900),
            shipping_option_id: Uuid::from_u128(5).to_string(),
            shipping_price: eur(500),
            total: eur(11_400),
            currency: "EUR".to_owned(),
            issued_at: Some(ecommerce_proto::timestamp(now)),
            expires_at: Some(ecommerce_proto::timestamp(now + DEFAULT_SNAPSHOT_TTL)),
            payment_method_token: "pm_card_visa".to_owned(),
            checkout_key: "checkout-1".to_owned(),
        };
        sign(&snapshot, keys.signing_key()).into_place_order_request()
    }

    fn verify_signed(
        signed: &SignedSnapshot,
        keys: &SnapshotKeys,
        now: DateTime<Utc>,
    ) -> Result<VerifiedCheckout, SnapshotError> {
        verify(
            &signed.bytes,
            &signed.signature,
            &signed.checkout_key,
            keys,
            now,
        )
    }

    #[test]
    fn a_signed_request_verifies_and_places_a_pending_order_with_the_checkout_s_prices() {
        let now = Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap();
        let owner = Uuid::from_u128(0xb);
        let keys: SnapshotKeys = SnapshotKey::from_bytes(&[1; 32]).unwrap().into();
        let signed = signed_snapshot(signed_request(owner, &keys, now));
        let checkout = verify_signed(&signed, &keys, now).unwrap();
        let order = Order::place(
            OrderId::from_uuid(Uuid::from_u128(9)),
            checkout,
            signed.digest(),
            "correlation-1".to_owned(),
            now,
        );
        assert_eq!(order.status(), OrderStatus::Pending);
        assert_eq!(order.user_id, owner);
        assert_eq!(order.lines.len(), 2);
        assert_eq!(order.lines[0].line_total.amount_minor(), 9_900);
        assert_eq!(order.subtotal.amount_minor(), 10_900);
        assert_eq!(order.shipping_price.amount_minor(), 500);
        assert_eq!(order.total.amount_minor(), 11_400);
        assert_eq!(order.currency.code(), "EUR");
        assert_eq!(order.checkout_key.as_str(), "checkout-1");
        assert_eq!(order.snapshot_digest, Some(signed.digest()));
        assert_eq!(order.payment_method_token.expose(), "pm_card_visa");
        assert_eq!(order.correlation_id, "correlation-1");
        assert_eq!(order.created_at, now);
        assert_eq!(order.updated_at, now);
        assert_eq!(
            order.history,
            [StatusChange {
                status: OrderStatus::Pending,
                reason: String::new(),
                changed_at: now,
            }]
        );
    }

    #[test]
    fn the_claimed_checkout_key_and_the_signature_are_what_gets_verified() {
        let now = Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap();
        let keys: SnapshotKeys = SnapshotKey::from_bytes(&[1; 32]).unwrap().into();
        let mut request = signed_request(Uuid::from_u128(0xb), &keys, now);
        request.idempotency_key = "checkout-2".to_owned();
        assert!(matches!(
            verify_signed(&signed_snapshot(request), &keys, now),
            Err(SnapshotError::CheckoutKeyMismatch)
        ));
        let mut request = signed_request(Uuid::from_u128(0xb), &keys, now);
        request.signature[0] ^= 1;
        assert!(matches!(
            verify_signed(&signed_snapshot(request), &keys, now),
            Err(SnapshotError::SignatureMismatch)
        ));
    }

    #[test]
    fn list_requests_convert_and_name_bad_fields() {
        let defaults = ListOrders::try_from(pb::ListOrdersRequest::default()).unwrap();
        assert_eq!(defaults.page_size, DEFAULT_PAGE_SIZE);
        assert_eq!(defaults.user_id, None);
        assert_eq!(defaults.status, None);
        assert_eq!(defaults.after, None);

        let filtered = ListOrders::try_from(pb::ListOrdersRequest {
            status: pb::OrderStatus::Canceled as i32,
            page_size: 5,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(filtered.status, Some(OrderStatus::Canceled));
        assert_eq!(filtered.page_size, 5);

        for (request, field) in [
            (
                pb::ListOrdersRequest {
                    page_size: -1,
                    ..Default::default()
                },
                "page_size",
            ),
            (
                pb::ListOrdersRequest {
                    user_id: "me".to_owned(),
                    ..Default::default()
                },
                "user_id",
            ),
            (
                pb::ListOrdersRequest {
                    page_token: "x".to_owned(),
                    ..Default::default()
                },
                "page_token",
            ),
            (
                pb::ListOrdersRequest {
                    status: 99,
                    ..Default::default()
                },
                "status",
            ),
        ] {
            assert_eq!(ListOrders::try_from(request).unwrap_err().field, field);
        }
    }

    #[test]
    fn statuses_round_trip() {
        for status in OrderStatus::ALL {
            assert_eq!(order_status(pb_status(status)), status);
        }
        assert_eq!(order_id("nope").unwrap_err().field, "order_id");
    }

    #[test]
    fn every_cancel_cause_has_its_own_specified_proto_value() {
        let values: std::collections::HashSet<_> = CancelCause::ALL
            .into_iter()
            .map(pb_cancellation_cause)
            .collect();
        assert_eq!(values.len(), CancelCause::ALL.len());
        assert!(!values.contains(&pb::OrderCancellationCause::Unspecified));
        assert_eq!(
            pb_cancellation_cause(CancelCause::PaymentFailed).as_str_name(),
            "ORDER_CANCELLATION_CAUSE_PAYMENT_FAILED"
        );
    }
}
