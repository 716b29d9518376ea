//! The inbox handlers of inventory's two consumer queues.
//!
//! Each event is converted ([`crate::convert`]) and applied by an `*_in`
//! method of the app in the inbox's transaction (which also records the
//! message id); the app returns the domain's event, and the handler emits
//! it there with causation = the incoming event. A storage
//! failure is [`HandlerError::Transient`] (the message comes again, and the
//! retry budget dead-letters what keeps failing); an invalid event or a
//! broken invariant is [`HandlerError::Permanent`] (dead-lettered with the
//! reason): [`HandlerError::from_service_error`].

use async_trait::async_trait;
use ecommerce_events::DecodedEvent;
use ecommerce_inbox::{EventHandler, HandlerContext, HandlerError};

use crate::app::{InventoryApp, ReservationKey};
use crate::convert::events::reservation_request;
use crate::convert::{order_id, sku};
use crate::domain::{InvalidField, InventoryEvent, ReleaseReason};

/// `inventory.order-events`: `orders.#` and `payments.#`.
pub struct OrderEventsHandler {
    app: InventoryApp,
}

impl OrderEventsHandler {
    pub fn new(app: InventoryApp) -> Self {
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
        let db = context.transaction();
        let event = match event {
            DecodedEvent::OrdersOrderPlacedV1(order) => {
                let request = reservation_request(&order, self.app.settings().reservation_ttl)
                    .map_err(invalid)?;
                let correlation_id = context.metadata().correlation_id.clone();
                let (_, event) = self
                    .app
                    .reserve_in(db, &request, correlation_id.as_deref())
                    .await?;
                event
            }
            DecodedEvent::PaymentsPaymentAuthorizedV1(payment) => {
                let key = ReservationKey::Order(order_id(&payment.order_id).map_err(invalid)?);
                self.app
                    .commit_in(db, key)
                    .await?
                    .map_or_else(|| no_reservation(context), |applied| applied.event)
            }
            DecodedEvent::PaymentsPaymentFailedV1(payment) => {
                let key = ReservationKey::Order(order_id(&payment.order_id).map_err(invalid)?);
                self.app
                    .release_in(db, key, &ReleaseReason::PaymentFailed)
                    .await?
                    .map_or_else(|| no_reservation(context), |applied| applied.event)
            }
            DecodedEvent::OrdersOrderCanceledV1(order) => {
                // Held: released; committed (canceled at CONFIRMED):
                // restocked.
                let order_id = order_id(&order.order_id).map_err(invalid)?;
                self.app
                    .cancel_order_in(db, order_id)
                    .await?
                    .map_or_else(|| no_reservation(context), |applied| applied.event)
            }
            // Other order and payment events on the queue: nothing to do.
            _ => None,
        };
        if let Some(event) = event {
            let aggregate = event.aggregate();
            context
                .emit(&event, aggregate.aggregate_type, aggregate.id)
                .await?;
        }
        Ok(())
    }
}

/// `inventory.catalog-events`: `catalog.variant.#`.
pub struct CatalogEventsHandler {
    app: InventoryApp,
}

impl CatalogEventsHandler {
    pub fn new(app: InventoryApp) -> Self {
        Self { app }
    }
}

#[async_trait]
impl EventHandler for CatalogEventsHandler {
    async fn handle(
        &self,
        context: &HandlerContext<'_>,
        event: DecodedEvent,
    ) -> Result<(), HandlerError> {
        let db = context.transaction();
        match event {
            DecodedEvent::CatalogVariantCreatedV1(variant) => {
                let sku = sku(&variant.sku, "sku").map_err(invalid)?;
                self.app.open_stock_in(db, sku).await?;
            }
            DecodedEvent::CatalogVariantDiscontinuedV1(variant) => {
                let sku = sku(&variant.sku, "sku").map_err(invalid)?;
                self.app.block_stock_in(db, sku).await?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// A payment or cancel for an order inventory holds nothing for (its
/// reservation was refused): nothing to do.
fn no_reservation(context: &HandlerContext<'_>) -> Option<InventoryEvent> {
    tracing::info!(
        event_type = context.event_type(),
        message_id = %context.message_id(),
        "no reservation for the order; nothing to do"
    );
    None
}

/// An event that does not convert comes out the same however often it is
/// delivered: dead-letter it, naming the field.
fn invalid(invalid: InvalidField) -> HandlerError {
    HandlerError::permanent(invalid.to_string())
}
