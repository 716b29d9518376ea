//! The events fulfillment emits, as domain values: one struct per message
//! of `proto/ecommerce/fulfillment/v1/events.proto`, with the same fields.
//! `crate::convert::events` turns each into its generated message, which
//! carries the event type (the domain names none).

use crate::domain::shipment::ShipmentLine;
use crate::domain::values::{Carrier, OrderId, ShipmentId, ShippingOptionId, TrackingNumber};

/// A shipment was opened for a committed reservation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShipmentCreated {
    pub shipment_id: ShipmentId,
    pub order_id: OrderId,
    pub lines: Vec<ShipmentLine>,
    pub shipping_option_id: ShippingOptionId,
}

/// A shipment was handed to its carrier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShipmentShipped {
    pub shipment_id: ShipmentId,
    pub order_id: OrderId,
    pub carrier: Carrier,
    pub tracking_number: TrackingNumber,
}

/// A shipment reached the customer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShipmentDelivered {
    pub shipment_id: ShipmentId,
    pub order_id: OrderId,
}

/// A PENDING shipment was canceled with its order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShipmentCanceled {
    pub shipment_id: ShipmentId,
    pub order_id: OrderId,
    /// The order's cancel reason.
    pub reason: String,
}

/// Any event fulfillment emits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FulfillmentEvent {
    Created(ShipmentCreated),
    Shipped(ShipmentShipped),
    Delivered(ShipmentDelivered),
    Canceled(ShipmentCanceled),
}

impl FulfillmentEvent {
    /// The envelope aggregate type of every event: the proto's header says
    /// the aggregate is the shipment.
    pub const AGGREGATE_TYPE: &'static str = "shipment";

    pub fn shipment_id(&self) -> ShipmentId {
        match self {
            Self::Created(ShipmentCreated { shipment_id, .. })
            | Self::Shipped(ShipmentShipped { shipment_id, .. })
            | Self::Delivered(ShipmentDelivered { shipment_id, .. })
            | Self::Canceled(ShipmentCanceled { shipment_id, .. }) => *shipment_id,
        }
    }
}

impl From<ShipmentCreated> for FulfillmentEvent {
    fn from(event: ShipmentCreated) -> Self {
        Self::Created(event)
    }
}

impl From<ShipmentShipped> for FulfillmentEvent {
    fn from(event: ShipmentShipped) -> Self {
        Self::Shipped(event)
    }
}

impl From<ShipmentDelivered> for FulfillmentEvent {
    fn from(event: ShipmentDelivered) -> Self {
        Self::Delivered(event)
    }
}

impl From<ShipmentCanceled> for FulfillmentEvent {
    fn from(event: ShipmentCanceled) -> Self {
        Self::Canceled(event)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn every_event_names_its_shipment() {
        let shipment_id = ShipmentId::generate();
        let order_id = OrderId::generate();
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
            tracking_number: TrackingNumber::parse("1").unwrap(),
        });
        let delivered = FulfillmentEvent::from(ShipmentDelivered {
            shipment_id,
            order_id,
        });
        let canceled = FulfillmentEvent::from(ShipmentCanceled {
            shipment_id,
            order_id,
            reason: "changed my mind".to_owned(),
        });
        for event in [created, shipped, delivered, canceled] {
            assert_eq!(event.shipment_id(), shipment_id);
        }
    }
}
