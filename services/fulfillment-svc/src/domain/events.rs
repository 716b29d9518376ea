//! The events fulfillment emits, as domain values: one struct per message
//! of `proto/ecommerce/fulfillment/v1/events.proto`. The event type strings
//! repeat the proto's options; a test in the events layer compares them.

use crate::domain::shipment::ShipmentLine;
use crate::domain::values::{Carrier, OrderId, ShipmentId, ShippingOptionId, TrackingNumber};

/// `fulfillment.shipment.created.v1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShipmentCreated {
    pub shipment_id: ShipmentId,
    pub order_id: OrderId,
    pub lines: Vec<ShipmentLine>,
    pub shipping_option_id: ShippingOptionId,
}

/// `fulfillment.shipment.shipped.v1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShipmentShipped {
    pub shipment_id: ShipmentId,
    pub order_id: OrderId,
    pub carrier: Carrier,
    pub tracking_number: TrackingNumber,
}

/// `fulfillment.shipment.delivered.v1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShipmentDelivered {
    pub shipment_id: ShipmentId,
    pub order_id: OrderId,
}

/// Any event fulfillment emits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FulfillmentEvent {
    Created(ShipmentCreated),
    Shipped(ShipmentShipped),
    Delivered(ShipmentDelivered),
}

impl FulfillmentEvent {
    pub const CREATED: &'static str = "fulfillment.shipment.created.v1";
    pub const SHIPPED: &'static str = "fulfillment.shipment.shipped.v1";
    pub const DELIVERED: &'static str = "fulfillment.shipment.delivered.v1";
    /// The envelope aggregate type of every event: the proto's header says
    /// the aggregate is the shipment.
    pub const AGGREGATE_TYPE: &'static str = "shipment";

    pub const fn event_type(&self) -> &'static str {
        match self {
            Self::Created(_) => Self::CREATED,
            Self::Shipped(_) => Self::SHIPPED,
            Self::Delivered(_) => Self::DELIVERED,
        }
    }

    pub fn shipment_id(&self) -> ShipmentId {
        match self {
            Self::Created(ShipmentCreated { shipment_id, .. })
            | Self::Shipped(ShipmentShipped { shipment_id, .. })
            | Self::Delivered(ShipmentDelivered { shipment_id, .. }) => *shipment_id,
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn types_and_aggregates_follow_the_proto() {
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
        assert_eq!(created.event_type(), "fulfillment.shipment.created.v1");
        assert_eq!(shipped.event_type(), "fulfillment.shipment.shipped.v1");
        assert_eq!(delivered.event_type(), "fulfillment.shipment.delivered.v1");
        for event in [created, shipped, delivered] {
            assert_eq!(event.shipment_id(), shipment_id);
        }
    }
}
