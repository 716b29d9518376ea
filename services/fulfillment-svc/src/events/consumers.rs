//! The inbox handlers of `fulfillment.inventory-events`
//! (`inventory.stock.committed.v1` on `inventory.events`) and
//! `fulfillment.order-events` (`orders.order_placed.v1` and
//! `orders.order_canceled.v1` on `orders.events`).
//!
//! A placed order is noted with its shipping option; a canceled one is
//! noted and its PENDING shipment canceled (`shipment.canceled`, causation
//! = the cancel). A commit that overtook its order's `order_placed` comes
//! again (transient) until the order is noted.
//!
//! The committed event is converted ([`crate::convert`]) and applied by the app in
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
use crate::convert::events::{canceled_order, open_shipment, placed_order};
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

/// `fulfillment.order-events`.
pub struct OrderEventsHandler {
    app: FulfillmentApp,
}

impl OrderEventsHandler {
    pub fn new(app: FulfillmentApp) -> Self {
        Self { app }
    }
}

#[async_trait]
impl EventHandler for OrderEventsHandler {
    async fn handle(
        &self,
        context: &HandlerContext<'_>,
        event: DecodedEvent,
    ) -> Result<(), HandlerError> {
        let invalid =
            |invalid: crate::domain::InvalidField| HandlerError::permanent(invalid.to_string());
        match event {
            DecodedEvent::OrdersOrderPlacedV1(placed) => {
                let placed = placed_order(&placed).map_err(invalid)?;
                self.app
                    .note_order_placed_in(
                        context.transaction(),
                        placed.order_id,
                        placed.shipping_option_id,
                    )
                    .await?;
            }
            DecodedEvent::OrdersOrderCanceledV1(canceled) => {
                let canceled = canceled_order(&canceled).map_err(invalid)?;
                self.app
                    .cancel_order_in(
                        context.transaction(),
                        canceled.order_id,
                        &canceled.reason,
                        |shipment_id| {
                            context.follow_up_metadata(
                                FulfillmentEvent::AGGREGATE_TYPE,
                                shipment_id.to_string(),
                            )
                        },
                    )
                    .await?;
            }
            // Other order events bound by an operator: nothing to do.
            _ => {}
        }
        Ok(())
    }
}
