//! The inbox handlers of inventory's two consumer queues.
//!
//! Each event is applied in the inbox's transaction (which also records the
//! message id): lock the rows in the global order, apply the domain, store,
//! emit the domain's event with causation = the incoming event. A storage
//! failure is [`HandlerError::Transient`] (the message comes again, and the
//! retry budget dead-letters what keeps failing); an invalid event or a
//! broken invariant is [`HandlerError::Permanent`] (dead-lettered with the
//! reason): [`HandlerError::from_service_error`].

use async_trait::async_trait;
use ecommerce_events::DecodedEvent;
use ecommerce_inbox::{EventHandler, HandlerContext, HandlerError};
use ecommerce_proto::ecommerce::orders::v1::OrderPlaced;

use crate::app::{InventoryApp, ReservationKey};
use crate::domain::{
    InvalidValue, OrderId, Quantity, ReleaseReason, ReservationId, ReservationLines,
    ReservationRequest, Sku,
};
use crate::events::emit;

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
                let request = reservation_request(&order, &self.app)?;
                let correlation_id = context.metadata().correlation_id.clone();
                let (_, event) = self
                    .app
                    .reserve_in(db, &request, correlation_id.as_deref())
                    .await?;
                event
            }
            DecodedEvent::PaymentsPaymentAuthorizedV1(payment) => {
                let key = ReservationKey::Order(order_id(&payment.order_id)?);
                self.app
                    .commit_in(db, key)
                    .await?
                    .map_or_else(|| no_reservation(context), |applied| applied.event)
            }
            DecodedEvent::PaymentsPaymentFailedV1(payment) => {
                let key = ReservationKey::Order(order_id(&payment.order_id)?);
                self.app
                    .release_in(db, key, &ReleaseReason::PaymentFailed)
                    .await?
                    .map_or_else(|| no_reservation(context), |applied| applied.event)
            }
            DecodedEvent::OrdersOrderCanceledV1(order) => {
                let key = ReservationKey::Order(order_id(&order.order_id)?);
                self.app
                    .release_in(db, key, &ReleaseReason::OrderCanceled)
                    .await?
                    .map_or_else(|| no_reservation(context), |applied| applied.event)
            }
            // Other order and payment events on the queue: nothing to do.
            _ => None,
        };
        if let Some(event) = event {
            emit(context, &event).await?;
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
                self.app.open_stock_in(db, sku(&variant.sku)?).await?;
            }
            DecodedEvent::CatalogVariantDiscontinuedV1(variant) => {
                self.app.block_stock_in(db, sku(&variant.sku)?).await?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// A payment or cancel for an order inventory holds nothing for (its
/// reservation was refused): nothing to do.
fn no_reservation(context: &HandlerContext<'_>) -> Option<crate::domain::InventoryEvent> {
    tracing::info!(
        event_type = context.event_type(),
        message_id = %context.message_id(),
        "no reservation for the order; nothing to do"
    );
    None
}

fn invalid(field: &str, invalid: InvalidValue) -> HandlerError {
    HandlerError::permanent(invalid.at(field).to_string())
}

fn order_id(raw: &str) -> Result<OrderId, HandlerError> {
    OrderId::parse(raw).map_err(|error| invalid("order_id", error))
}

fn sku(raw: &str) -> Result<Sku, HandlerError> {
    Sku::parse(raw).map_err(|error| invalid("sku", error))
}

/// The lines of a placed order as a reservation with the configured TTL.
fn reservation_request(
    order: &OrderPlaced,
    app: &InventoryApp,
) -> Result<ReservationRequest, HandlerError> {
    let order_id = order_id(&order.order_id)?;
    let mut lines = Vec::with_capacity(order.lines.len());
    for (index, line) in order.lines.iter().enumerate() {
        let sku = Sku::parse(&line.sku)
            .map_err(|error| invalid(&format!("lines[{index}].sku"), error))?;
        let quantity = Quantity::new(line.quantity)
            .map_err(|error| invalid(&format!("lines[{index}].quantity"), error))?;
        lines.push((sku, quantity));
    }
    let lines = ReservationLines::aggregate(lines).map_err(|error| invalid("lines", error))?;
    Ok(ReservationRequest {
        reservation_id: ReservationId::generate(),
        order_id,
        lines,
        ttl: app.settings().reservation_ttl,
    })
}
