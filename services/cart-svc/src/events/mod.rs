//! What cart consumes: catalog events on `cart.catalog-events`. Cart emits
//! nothing (DESIGN: none required), so the consumer has no outbox.
//!
//! - `catalog.product.archived.v1`: every line of the product is flagged
//!   NOT_PUBLISHED and blocks checkout.
//! - `catalog.variant.discontinued.v1`: every line of the SKU is flagged
//!   DISCONTINUED.
//! - `catalog.price.changed.v1`: nothing to store. Carts are priced by
//!   QuotePrices on every read and write, so the next read shows the new
//!   price and marks the line `price_changed` against the price the
//!   shopper last saw; storing the event's price as well would only add a
//!   second, possibly older, source of truth.
//!
//! Flags stay until the shopper adds the SKU again (which needs a fresh
//! AVAILABLE quote) or removes the line; a later unpublish-republish is
//! seen through the quotes anyway.
//!
//! The consumer only maps the event to a [`CatalogChange`]; the app applies
//! it in the inbox's transaction.

use async_trait::async_trait;
use ecommerce_events::DecodedEvent;
use ecommerce_inbox::{EventHandler, HandlerContext, HandlerError};
use uuid::Uuid;

use crate::app::CartApp;
use crate::domain::{CatalogChange, Sku};

/// `cart.catalog-events`: `catalog.#`, through [`CartApp::apply_catalog_change`].
#[derive(Debug)]
pub struct CatalogEventsHandler {
    app: CartApp,
}

impl CatalogEventsHandler {
    pub fn new(app: CartApp) -> Self {
        Self { app }
    }
}

/// The change `event` means to carts; `None` for the events carts ignore.
fn catalog_change(event: DecodedEvent) -> Result<Option<CatalogChange>, HandlerError> {
    match event {
        DecodedEvent::CatalogProductArchivedV1(product) => {
            let product_id = Uuid::parse_str(&product.product_id).map_err(|_| {
                HandlerError::permanent(format!(
                    "product_id: must be a UUID, got {:?}",
                    product.product_id
                ))
            })?;
            Ok(Some(CatalogChange::ProductArchived { product_id }))
        }
        DecodedEvent::CatalogVariantDiscontinuedV1(variant) => {
            let sku = Sku::parse(&variant.sku)
                .map_err(|invalid| HandlerError::permanent(format!("sku: {invalid}")))?;
            Ok(Some(CatalogChange::VariantDiscontinued { sku }))
        }
        // Prices come from quotes on every read (see the module docs);
        // other catalog events do not concern carts.
        _ => Ok(None),
    }
}

#[async_trait]
impl EventHandler for CatalogEventsHandler {
    async fn handle(
        &self,
        context: &HandlerContext<'_>,
        event: DecodedEvent,
    ) -> Result<(), HandlerError> {
        let Some(change) = catalog_change(event)? else {
            return Ok(());
        };
        let flagged = self
            .app
            .apply_catalog_change(context.transaction(), &change)
            .await
            .map_err(HandlerError::from_service_error)?;
        tracing::info!(?change, flagged, "flagged cart lines");
        Ok(())
    }
}
