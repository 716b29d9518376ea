//! Events: what inventory emits, as the generated `ecommerce.inventory.v1`
//! messages, and what it consumes, as the domain's inputs.

use ecommerce_events::DecodedEvent;
use ecommerce_proto::ecommerce::inventory::v1 as pb;
use ecommerce_proto::ecommerce::orders::v1::OrderPlaced;

use crate::convert::{order_id, pb_lines, pb_short_line, reservation_lines};
use crate::domain::{
    FailureReason, InvalidField, InventoryEvent, ReservationId, ReservationRequest, ReservationTtl,
};

/// Each domain event as its generated message, so `tx.emit(&event, ..)` and
/// `context.emit(&event, ..)` take the domain's event as it is. The event
/// type comes with the generated message: the domain names none.
impl From<&InventoryEvent> for DecodedEvent {
    fn from(event: &InventoryEvent) -> Self {
        match event {
            InventoryEvent::AdjustmentApplied(event) => pb::StockAdjustmentApplied {
                adjustment_id: event.adjustment_id.to_string(),
                sku: event.sku.as_str().to_owned(),
                delta: event.delta,
                reason: event.reason.clone(),
                on_hand: event.on_hand,
                available: event.available,
                version: event.version,
            }
            .into(),
            InventoryEvent::Reserved(event) => pb::StockReserved {
                reservation_id: event.reservation_id.to_string(),
                order_id: event.order_id.to_string(),
                lines: pb_lines(&event.lines),
                expires_at: Some(ecommerce_proto::timestamp(event.expires_at)),
            }
            .into(),
            InventoryEvent::ReservationFailed(event) => pb::StockReservationFailed {
                order_id: event.order_id.to_string(),
                reason: pb_failure_reason(event.reason).into(),
                short_lines: event.short_lines.iter().map(pb_short_line).collect(),
            }
            .into(),
            InventoryEvent::Committed(event) => pb::StockCommitted {
                reservation_id: event.reservation_id.to_string(),
                order_id: event.order_id.to_string(),
                lines: pb_lines(&event.lines),
            }
            .into(),
            InventoryEvent::Released(event) => pb::StockReservationReleased {
                reservation_id: event.reservation_id.to_string(),
                order_id: event.order_id.to_string(),
                lines: pb_lines(&event.lines),
                reason: event.reason.clone(),
            }
            .into(),
            InventoryEvent::Expired(event) => pb::StockReservationExpired {
                reservation_id: event.reservation_id.to_string(),
                order_id: event.order_id.to_string(),
                lines: pb_lines(&event.lines),
            }
            .into(),
            InventoryEvent::Restocked(event) => pb::StockRestocked {
                reservation_id: event.reservation_id.to_string(),
                order_id: event.order_id.to_string(),
                lines: pb_lines(&event.lines),
                reason: event.reason.clone(),
            }
            .into(),
        }
    }
}

pub fn pb_failure_reason(reason: FailureReason) -> pb::ReservationFailureReason {
    match reason {
        FailureReason::InsufficientStock => pb::ReservationFailureReason::InsufficientStock,
        FailureReason::UnknownSku => pb::ReservationFailureReason::UnknownSku,
        FailureReason::SkuBlocked => pb::ReservationFailureReason::SkuBlocked,
    }
}

/// A placed order's lines as a reservation held for `ttl`.
pub fn reservation_request(
    order: &OrderPlaced,
    ttl: ReservationTtl,
) -> Result<ReservationRequest, InvalidField> {
    let order_id = order_id(&order.order_id)?;
    let lines = reservation_lines(
        order
            .lines
            .iter()
            .map(|line| (line.sku.as_str(), line.quantity)),
    )?;
    Ok(ReservationRequest {
        reservation_id: ReservationId::generate(),
        order_id,
        lines,
        ttl,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use chrono::{DateTime, Utc};
    use ecommerce_events::Event;
    use ecommerce_proto::ecommerce::orders::v1::OrderLine;

    use super::*;
    use crate::domain::events::{
        StockAdjustmentApplied, StockCommitted, StockReservationExpired, StockReservationFailed,
        StockReservationReleased, StockReserved, StockRestocked,
    };
    use crate::domain::{AdjustmentId, OrderId, Quantity, ReservationLine, ShortLine, Sku};

    #[test]
    fn each_domain_event_becomes_its_generated_message() {
        let sku = Sku::parse("SKU-1").unwrap();
        let (order_id, reservation_id) = (OrderId::generate(), ReservationId::generate());
        let lines = vec![ReservationLine {
            sku: sku.clone(),
            quantity: Quantity::new(2).unwrap(),
        }];
        let expires_at = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap();
        let events = [
            (
                InventoryEvent::from(StockAdjustmentApplied {
                    adjustment_id: AdjustmentId::generate(),
                    sku: sku.clone(),
                    delta: 3,
                    reason: "receipt".to_owned(),
                    on_hand: 3,
                    available: 3,
                    version: 2,
                }),
                pb::StockAdjustmentApplied::EVENT_TYPE,
            ),
            (
                InventoryEvent::from(StockReserved {
                    reservation_id,
                    order_id,
                    lines: lines.clone(),
                    expires_at,
                }),
                pb::StockReserved::EVENT_TYPE,
            ),
            (
                InventoryEvent::from(StockReservationFailed {
                    order_id,
                    reason: FailureReason::UnknownSku,
                    short_lines: vec![ShortLine {
                        sku,
                        requested: 2,
                        available: 0,
                    }],
                }),
                pb::StockReservationFailed::EVENT_TYPE,
            ),
            (
                InventoryEvent::from(StockCommitted {
                    reservation_id,
                    order_id,
                    lines: lines.clone(),
                }),
                pb::StockCommitted::EVENT_TYPE,
            ),
            (
                InventoryEvent::from(StockReservationReleased {
                    reservation_id,
                    order_id,
                    lines: lines.clone(),
                    reason: "order_canceled".to_owned(),
                }),
                pb::StockReservationReleased::EVENT_TYPE,
            ),
            (
                InventoryEvent::from(StockReservationExpired {
                    reservation_id,
                    order_id,
                    lines: lines.clone(),
                }),
                pb::StockReservationExpired::EVENT_TYPE,
            ),
            (
                InventoryEvent::from(StockRestocked {
                    reservation_id,
                    order_id,
                    lines,
                    reason: "order_canceled".to_owned(),
                }),
                pb::StockRestocked::EVENT_TYPE,
            ),
        ];
        for (event, event_type) in &events {
            assert_eq!(DecodedEvent::from(event).event_type(), *event_type);
        }

        let DecodedEvent::InventoryStockReservedV1(reserved) = DecodedEvent::from(&events[1].0)
        else {
            panic!("not a StockReserved");
        };
        assert_eq!(reserved.order_id, order_id.to_string());
        assert_eq!(reserved.lines[0].sku, "SKU-1");
        assert_eq!(reserved.lines[0].quantity, 2);
        assert_eq!(reserved.expires_at.unwrap().seconds, 1_800_000_000);
        let DecodedEvent::InventoryStockReservationFailedV1(failed) =
            DecodedEvent::from(&events[2].0)
        else {
            panic!("not a StockReservationFailed");
        };
        assert_eq!(
            failed.reason(),
            pb::ReservationFailureReason::UnknownSku,
            "{failed:?}"
        );
        assert_eq!(failed.short_lines[0].requested, 2);
    }

    #[test]
    fn a_placed_order_becomes_a_reservation_or_names_the_bad_field() {
        let line = |sku: &str, quantity| OrderLine {
            sku: sku.to_owned(),
            quantity,
            ..Default::default()
        };
        let order = OrderPlaced {
            order_id: OrderId::generate().to_string(),
            lines: vec![line("B", 1), line("A", 2), line("B", 3)],
            ..Default::default()
        };
        let request = reservation_request(&order, ReservationTtl::DEFAULT).unwrap();
        assert_eq!(request.order_id.to_string(), order.order_id);
        let lines: Vec<(&str, i32)> = request
            .lines
            .as_slice()
            .iter()
            .map(|line| (line.sku.as_str(), line.quantity.get()))
            .collect();
        assert_eq!(lines, [("A", 2), ("B", 4)]);

        for (order, field) in [
            (
                OrderPlaced {
                    order_id: "nope".to_owned(),
                    ..order.clone()
                },
                "order_id",
            ),
            (
                OrderPlaced {
                    lines: vec![line("A", 1), line("B", 0)],
                    ..order.clone()
                },
                "lines[1].quantity",
            ),
            (
                OrderPlaced {
                    lines: vec![line(" ", 1)],
                    ..order.clone()
                },
                "lines[0].sku",
            ),
            (
                OrderPlaced {
                    lines: Vec::new(),
                    ..order
                },
                "lines",
            ),
        ] {
            let error = reservation_request(&order, ReservationTtl::DEFAULT).unwrap_err();
            assert_eq!(error.field, field);
        }
    }
}
