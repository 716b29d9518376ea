//! The domain's events as the generated `ecommerce.fulfillment.v1` messages.

use ecommerce_proto::ecommerce::fulfillment::v1 as pb;

use crate::domain::{ShipmentCreated, ShipmentDelivered, ShipmentShipped};
use crate::grpc::convert::pb_lines;

pub fn created(event: &ShipmentCreated) -> pb::ShipmentCreated {
    pb::ShipmentCreated {
        shipment_id: event.shipment_id.to_string(),
        order_id: event.order_id.to_string(),
        lines: pb_lines(&event.lines),
        shipping_option_id: event.shipping_option_id.to_string(),
    }
}

pub fn shipped(event: &ShipmentShipped) -> pb::ShipmentShipped {
    pb::ShipmentShipped {
        shipment_id: event.shipment_id.to_string(),
        order_id: event.order_id.to_string(),
        carrier: event.carrier.as_str().to_owned(),
        tracking_number: event.tracking_number.as_str().to_owned(),
    }
}

pub fn delivered(event: &ShipmentDelivered) -> pb::ShipmentDelivered {
    pb::ShipmentDelivered {
        shipment_id: event.shipment_id.to_string(),
        order_id: event.order_id.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use ecommerce_events::Event;

    use super::*;
    use crate::domain::FulfillmentEvent;

    /// The domain repeats the proto's event type strings; they must agree.
    #[test]
    fn domain_event_types_match_the_generated_ones() {
        assert_eq!(FulfillmentEvent::CREATED, pb::ShipmentCreated::EVENT_TYPE);
        assert_eq!(FulfillmentEvent::SHIPPED, pb::ShipmentShipped::EVENT_TYPE);
        assert_eq!(
            FulfillmentEvent::DELIVERED,
            pb::ShipmentDelivered::EVENT_TYPE
        );
    }
}
