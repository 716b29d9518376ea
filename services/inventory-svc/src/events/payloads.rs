//! The domain's events as the generated `ecommerce.inventory.v1` messages.

use ecommerce_proto::ecommerce::inventory::v1 as pb;

use crate::domain::FailureReason;
use crate::domain::events::{
    StockAdjustmentApplied, StockCommitted, StockReservationExpired, StockReservationFailed,
    StockReservationReleased, StockReserved,
};
use crate::grpc::convert::{pb_lines, pb_short_line, pb_timestamp};

pub fn adjustment_applied(event: &StockAdjustmentApplied) -> pb::StockAdjustmentApplied {
    pb::StockAdjustmentApplied {
        adjustment_id: event.adjustment_id.to_string(),
        sku: event.sku.as_str().to_owned(),
        delta: event.delta,
        reason: event.reason.clone(),
        on_hand: event.on_hand,
        available: event.available,
        version: event.version,
    }
}

pub fn reserved(event: &StockReserved) -> pb::StockReserved {
    pb::StockReserved {
        reservation_id: event.reservation_id.to_string(),
        order_id: event.order_id.to_string(),
        lines: pb_lines(&event.lines),
        expires_at: Some(pb_timestamp(event.expires_at)),
    }
}

pub fn failure_reason(reason: FailureReason) -> pb::ReservationFailureReason {
    match reason {
        FailureReason::InsufficientStock => pb::ReservationFailureReason::InsufficientStock,
        FailureReason::UnknownSku => pb::ReservationFailureReason::UnknownSku,
        FailureReason::SkuBlocked => pb::ReservationFailureReason::SkuBlocked,
    }
}

pub fn reservation_failed(event: &StockReservationFailed) -> pb::StockReservationFailed {
    pb::StockReservationFailed {
        order_id: event.order_id.to_string(),
        reason: failure_reason(event.reason).into(),
        short_lines: event.short_lines.iter().map(pb_short_line).collect(),
    }
}

pub fn committed(event: &StockCommitted) -> pb::StockCommitted {
    pb::StockCommitted {
        reservation_id: event.reservation_id.to_string(),
        order_id: event.order_id.to_string(),
        lines: pb_lines(&event.lines),
    }
}

pub fn released(event: &StockReservationReleased) -> pb::StockReservationReleased {
    pb::StockReservationReleased {
        reservation_id: event.reservation_id.to_string(),
        order_id: event.order_id.to_string(),
        lines: pb_lines(&event.lines),
        reason: event.reason.clone(),
    }
}

pub fn expired(event: &StockReservationExpired) -> pb::StockReservationExpired {
    pb::StockReservationExpired {
        reservation_id: event.reservation_id.to_string(),
        order_id: event.order_id.to_string(),
        lines: pb_lines(&event.lines),
    }
}

#[cfg(test)]
mod tests {
    use ecommerce_events::Event;

    use super::*;
    use crate::domain::InventoryEvent;

    /// The domain repeats the proto's event type strings; they must agree.
    #[test]
    fn domain_event_types_match_the_generated_ones() {
        assert_eq!(
            InventoryEvent::ADJUSTMENT_APPLIED,
            pb::StockAdjustmentApplied::EVENT_TYPE
        );
        assert_eq!(InventoryEvent::RESERVED, pb::StockReserved::EVENT_TYPE);
        assert_eq!(
            InventoryEvent::RESERVATION_FAILED,
            pb::StockReservationFailed::EVENT_TYPE
        );
        assert_eq!(InventoryEvent::COMMITTED, pb::StockCommitted::EVENT_TYPE);
        assert_eq!(
            InventoryEvent::RELEASED,
            pb::StockReservationReleased::EVENT_TYPE
        );
        assert_eq!(
            InventoryEvent::EXPIRED,
            pb::StockReservationExpired::EVENT_TYPE
        );
    }
}
