//! The inbox handler of `fulfillment.inventory-events`
//! (`inventory.stock.committed.v1` on `inventory.events`).
//!
//! The event is applied in the inbox's transaction (which also records the
//! message id): lock the order, open its shipment, emit `shipment.created`
//! with causation = the committed event. A storage failure is
//! [`HandlerError::Transient`] (the message comes again, and the retry
//! budget dead-letters what keeps failing); an invalid event or a broken
//! invariant is [`HandlerError::Permanent`] (dead-lettered with the
//! reason): [`HandlerError::from_service_error`].

use async_trait::async_trait;
use ecommerce_events::DecodedEvent;
use ecommerce_inbox::{EventHandler, HandlerContext, HandlerError};
use ecommerce_proto::ecommerce::inventory::v1::StockCommitted;

use crate::app::FulfillmentApp;
use crate::domain::{
    FulfillmentEvent, InvalidValue, OpenShipment, OrderId, Quantity, ReservationId, ShipmentId,
    ShipmentLines, Sku,
};

/// `fulfillment.inventory-events`.
pub struct InventoryEventsHandler {
    app: FulfillmentApp,
}

impl InventoryEventsHandler {
    pub fn new(app: FulfillmentApp) -> Self {
        Self { app }
    }
}

#[async_trait]
impl EventHandler for InventoryEventsHandler {
    async fn handle(
        &self,
        context: &HandlerContext<'_>,
        event: DecodedEvent,
    ) -> Result<(), HandlerError> {
        let DecodedEvent::InventoryStockCommittedV1(committed) = event else {
            // Other inventory events bound by an operator: nothing to do.
            return Ok(());
        };
        let request = open_request(&committed)?;
        let metadata = context.follow_up_metadata(
            FulfillmentEvent::AGGREGATE_TYPE,
            request.shipment_id.to_string(),
        );
        self.app
            .open_shipment_in(context.transaction(), request, metadata)
            .await?;
        Ok(())
    }
}

fn invalid(field: &str, invalid: InvalidValue) -> HandlerError {
    HandlerError::permanent(invalid.at(field).to_string())
}

/// The committed reservation as a shipment to open.
fn open_request(committed: &StockCommitted) -> Result<OpenShipment, HandlerError> {
    let order_id =
        OrderId::parse(&committed.order_id).map_err(|error| invalid("order_id", error))?;
    let reservation_id = ReservationId::parse(&committed.reservation_id)
        .map_err(|error| invalid("reservation_id", error))?;
    let mut lines = Vec::with_capacity(committed.lines.len());
    for (index, line) in committed.lines.iter().enumerate() {
        let sku = Sku::parse(&line.sku)
            .map_err(|error| invalid(&format!("lines[{index}].sku"), error))?;
        let quantity = Quantity::new(line.quantity)
            .map_err(|error| invalid(&format!("lines[{index}].quantity"), error))?;
        lines.push((sku, quantity));
    }
    let lines = ShipmentLines::aggregate(lines).map_err(|error| invalid("lines", error))?;
    Ok(OpenShipment {
        shipment_id: ShipmentId::generate(),
        order_id,
        reservation_id,
        lines,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use ecommerce_proto::ecommerce::inventory::v1::StockLine;
    use uuid::Uuid;

    use super::*;

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
        let request = open_request(&event).unwrap();
        assert_eq!(request.order_id.to_string(), event.order_id);
        assert_eq!(request.lines.as_slice()[0].sku.as_str(), "A");

        let mut bad_order = committed(vec![("A", 1)]);
        bad_order.order_id = "nope".to_owned();
        let error = open_request(&bad_order).unwrap_err();
        assert!(matches!(&error, HandlerError::Permanent(reason) if reason.contains("order_id")));

        let error = open_request(&committed(vec![("A", 0)])).unwrap_err();
        assert!(
            matches!(&error, HandlerError::Permanent(reason) if reason.contains("lines[0].quantity"))
        );
        let error = open_request(&committed(vec![])).unwrap_err();
        assert!(matches!(&error, HandlerError::Permanent(reason) if reason.contains("lines")));
    }
}
