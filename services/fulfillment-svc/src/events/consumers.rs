//! The inbox handler of `fulfillment.inventory-events`
//! (`inventory.stock.committed.v1` on `inventory.events`).
//!
//! The event is converted ([`crate::convert`]) and applied by the app in
//! the inbox's transaction (which also records the message id): lock the
//! order, open its shipment, emit `shipment.created` with causation = the
//! committed event. The app emits it, rather than the handler through
//! `context.emit`, because the new shipment row records the event's id
//! (the cause of the shipment's next event). A storage failure is
//! [`HandlerError::Transient`] (the message comes again, and the retry
//! budget dead-letters what keeps failing); an invalid event or a broken
//! invariant is [`HandlerError::Permanent`] (dead-lettered with the
//! reason): [`HandlerError::from_service_error`].

use async_trait::async_trait;
use ecommerce_events::DecodedEvent;
use ecommerce_inbox::{EventHandler, HandlerContext, HandlerError};

use crate::app::FulfillmentApp;
use crate::convert::events::open_shipment;
use crate::domain::FulfillmentEvent;

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
        // Comes out the same however often it is delivered: dead-letter it,
        // naming the field.
        let request = open_shipment(&committed)
            .map_err(|invalid| HandlerError::permanent(invalid.to_string()))?;
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
