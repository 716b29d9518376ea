//! The payloads of `orders.order_placed.v1`, `orders.order_confirmed.v1`,
//! `orders.order_rejected.v1` and `orders.order_canceled.v1`.

use ecommerce_proto::ecommerce::inventory::v1 as inventory_pb;
use ecommerce_proto::ecommerce::orders::v1 as pb;

use crate::domain::{Cancellation, Order, OrderEffect, Rejection, ReservationFailure};
use crate::grpc::convert::{pb_line, pb_money, pb_short_line};

/// `orders.order_placed.v1`: everything inventory needs to reserve and
/// payments to authorize, including the payment method token (the one
/// place it leaves the service).
pub fn order_placed(order: &Order) -> pb::OrderPlaced {
    pb::OrderPlaced {
        order_id: order.id.to_string(),
        user_id: order.user_id.to_string(),
        lines: order.lines.iter().map(pb_line).collect(),
        total: Some(pb_money(order.total)),
        currency: order.currency.code().to_owned(),
        payment_method_token: order.payment_method_token.expose().to_owned(),
        shipping_option_id: order.shipping_option_id.to_string(),
    }
}

/// The event a transition's [`OrderEffect`] stands for.
#[derive(Clone, Debug, PartialEq)]
pub enum EffectEvent {
    Confirmed(pb::OrderConfirmed),
    Rejected(pb::OrderRejected),
    Canceled(pb::OrderCanceled),
}

pub fn effect_event(order: &Order, effect: &OrderEffect) -> EffectEvent {
    match effect {
        OrderEffect::Confirmed => EffectEvent::Confirmed(pb::OrderConfirmed {
            order_id: order.id.to_string(),
            user_id: order.user_id.to_string(),
        }),
        OrderEffect::Rejected(rejection) => EffectEvent::Rejected(order_rejected(order, rejection)),
        OrderEffect::Canceled(cancellation) => {
            EffectEvent::Canceled(order_canceled(order, cancellation))
        }
    }
}

/// `orders.order_rejected.v1`. The event's reason enum only knows
/// OUT_OF_STOCK for reservation failures, so an unknown or blocked SKU is
/// reported as out of stock too; the short lines say which SKUs.
fn order_rejected(order: &Order, rejection: &Rejection) -> pb::OrderRejected {
    let reason = match rejection.failure {
        ReservationFailure::InsufficientStock
        | ReservationFailure::UnknownSku
        | ReservationFailure::SkuBlocked => pb::OrderRejectionReason::OutOfStock,
    };
    pb::OrderRejected {
        order_id: order.id.to_string(),
        user_id: order.user_id.to_string(),
        reason: reason as i32,
        short_lines: rejection.short_lines.iter().map(pb_short_line).collect(),
    }
}

fn order_canceled(order: &Order, cancellation: &Cancellation) -> pb::OrderCanceled {
    pb::OrderCanceled {
        order_id: order.id.to_string(),
        user_id: order.user_id.to_string(),
        reason: cancellation.reason.clone(),
    }
}

/// The inventory event's failure reason as the domain's.
pub fn reservation_failure(reason: inventory_pb::ReservationFailureReason) -> ReservationFailure {
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
