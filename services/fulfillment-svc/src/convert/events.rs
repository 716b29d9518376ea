//! Events: what fulfillment emits, as the generated
//! `ecommerce.fulfillment.v1` messages, and the committed reservation it
//! consumes, as the shipment to open.

use ecommerce_events::DecodedEvent;
use ecommerce_proto::ecommerce::fulfillment::v1 as pb;
use ecommerce_proto::ecommerce::inventory::v1::StockCommitted;
use ecommerce_proto::ecommerce::orders::v1::{OrderCanceled, OrderPlaced};

use crate::convert::{at, pb_lines};
use crate::domain::{
    FulfillmentEvent, InvalidField, OpenShipment, OrderId, Quantity, ReservationId, ShipmentId,
    ShipmentLines, ShippingOptionId, Sku,
};

/// What `orders.order_placed.v1` tells fulfillment: the order and the
/// shipping option it was placed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlacedOrder {
    pub order_id: OrderId,
    pub shipping_option_id: ShippingOptionId,
}

pub fn placed_order(placed: &OrderPlaced) -> Result<PlacedOrder, InvalidField> {
    Ok(PlacedOrder {
        order_id: OrderId::parse(&placed.order_id).map_err(at("order_id"))?,
        shipping_option_id: ShippingOptionId::parse(&placed.shipping_option_id)
            .map_err(at("shipping_option_id"))?,
    })
}

/// What `orders.order_canceled.v1` tells fulfillment: the order and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CanceledOrder {
    pub order_id: OrderId,
    /// The order's reason; "order canceled" when it gave none.
    pub reason: String,
}

pub fn canceled_order(canceled: &OrderCanceled) -> Result<CanceledOrder, InvalidField> {
    let reason = match canceled.reason.trim() {
        "" => "order canceled".to_owned(),
        reason => reason.to_owned(),
    };
    Ok(CanceledOrder {
        order_id: OrderId::parse(&canceled.order_id).map_err(at("order_id"))?,
        reason,
    })
}

/// Each domain event as its generated message, so the app emits the
/// domain's event as it is. The event type comes with the generated
/// message: the domain names none.
impl From<&FulfillmentEvent> for DecodedEvent {
    fn from(event: &FulfillmentEvent) -> Self {
        match event {
            FulfillmentEvent::Created(event) => pb::ShipmentCreated {
                shipment_id: event.shipment_id.to_string(),
                order_id: event.order_id.to_string(),
                lines: pb_lines(&event.lines),
                shipping_option_id: event.shipping_option_id.to_string(),
            }
            .into(),
            FulfillmentEvent::Shipped(event) => pb::ShipmentShipped {
                shipment_id: event.shipment_id.to_string(),
                order_id: event.order_id.to_string(),
                carrier: event.carrier.as_str().to_owned(),
                tracking_number: event.tracking_number.as_str().to_owned(),
            }
            .into(),
            FulfillmentEvent::Delivered(event) => pb::ShipmentDelivered {
                shipment_id: event.shipment_id.to_string(),
                order_id: event.order_id.to_string(),
            }
            .into(),
            FulfillmentEvent::Canceled(event) => pb::ShipmentCanceled {
                shipment_id: event.shipment_id.to_string(),
                order_id: event.order_id.to_string(),
                reason: event.reason.clone(),
            }
            .into(),
        }
    }
}

/// The committed reservation as a shipment to open.
pub fn open_shipment(committed: &StockCommitted) -> Result<OpenShipment, InvalidField> {
    let order_id = OrderId::parse(&committed.order_id).map_err(at("order_id"))?;
    let reservation_id =
        ReservationId::parse(&committed.reservation_id).map_err(at("reservation_id"))?;
    let mut lines = Vec::with_capacity(committed.lines.len());
    for (index, line) in committed.lines.iter().enumerate() {
        let sku =
            Sku::parse(&line.sku).map_err(|invalid| invalid.at(format!("lines[{index}].sku")))?;
        let quantity = Quantity::new(line.quantity)
            .map_err(|invalid| invalid.at(format!("lines[{index}].quantity")))?;
        lines.push((sku, quantity));
    }
    let lines = ShipmentLines::aggregate(lines).map_err(at("lines"))?;
    Ok(OpenShipment {
        shipment_id: ShipmentId::generate(),
        order_id,
        reservation_id,
        lines,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use ecommerce_events::Event;
    use ecommerce_proto::ecommerce::inventory::v1::StockLine;
    use uuid::Uuid;

    use super::*;
    use crate::domain::{
        Carrier, ShipmentCreated, ShipmentDelivered, ShipmentShipped, ShippingOptionId,
        TrackingNumber,
    };

    #[test]
    fn each_domain_event_becomes_its_generated_message() {
        let (shipment_id, order_id) = (ShipmentId::generate(), OrderId::generate());
        let created = FulfillmentEvent::from(ShipmentCreated {
            shipment_id,
            order_id,
            lines: Vec::new(),
            shipping_option_id: ShippingOptionId::generate(),
        });
        let shipped = FulfillmentEvent::from(ShipmentShipped {
            shipment_id,
            order_id,
            carrier: Carrier::parse("DHL").unwrap(),
            tracking_number: TrackingNumber::parse("JJD1").unwrap(),
        });
        let delivered = FulfillmentEvent::from(ShipmentDelivered {
            shipment_id,
            order_id,
        });
        for (event, event_type) in [
            (&created, pb::ShipmentCreated::EVENT_TYPE),
            (&shipped, pb::ShipmentShipped::EVENT_TYPE),
            (&delivered, pb::ShipmentDelivered::EVENT_TYPE),
        ] {
            assert_eq!(DecodedEvent::from(event).event_type(), event_type);
        }
        let DecodedEvent::FulfillmentShipmentShippedV1(shipped) = DecodedEvent::from(&shipped)
        else {
            panic!("not a ShipmentShipped");
        };
        assert_eq!(shipped.shipment_id, shipment_id.to_string());
        assert_eq!(shipped.order_id, order_id.to_string());
        assert_eq!(
            (shipped.carrier.as_str(), shipped.tracking_number.as_str()),
            ("DHL", "JJD1")
        );
    }

    fn committed(lines: Vec<(&str, i32)>) -> StockCommitted {
        StockCommitted {
            reservation_id: Uuid::now_v7().to_string(),
            order_id: Uuid::now_v7().to_string(),
            lines: lines
                .into_iter()
                .map(|(sku, quantity)| StockLine {
                    sku: sku.to_owned(),
                    quantity,
                })
                .collect(),
        }
    }

    #[test]
    fn a_committed_reservation_converts_or_names_the_bad_field() {
        let event = committed(vec![("B", 1), ("A", 2)]);
        let request = open_shipment(&event).unwrap();
        assert_eq!(request.order_id.to_string(), event.order_id);
        assert_eq!(request.reservation_id.to_string(), event.reservation_id);
        assert_eq!(request.lines.as_slice()[0].sku.as_str(), "A");

        let mut bad_order = committed(vec![("A", 1)]);
        bad_order.order_id = "nope".to_owned();
        assert_eq!(open_shipment(&bad_order).unwrap_err().field, "order_id");
        let mut bad_reservation = committed(vec![("A", 1)]);
        bad_reservation.reservation_id = String::new();
        assert_eq!(
            open_shipment(&bad_reservation).unwrap_err().field,
            "reservation_id"
        );
        assert_eq!(
            open_shipment(&committed(vec![("A", 0)])).unwrap_err().field,
            "lines[0].quantity"
        );
        assert_eq!(
            open_shipment(&committed(vec![(" ", 1)])).unwrap_err().field,
            "lines[0].sku"
        );
        assert_eq!(
            open_shipment(&committed(vec![])).unwrap_err().field,
            "lines"
        );
    }
}
