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

use async_trait::async_trait;
use ecommerce_events::DecodedEvent;
use ecommerce_inbox::{EventHandler, HandlerContext, HandlerError};
use uuid::Uuid;

use crate::domain::UnavailableReason;
use crate::storage;

/// `cart.catalog-events`: `catalog.#`.
#[derive(Debug, Default)]
pub struct CatalogEventsHandler;

impl CatalogEventsHandler {
    pub fn new() -> Self {
        Self
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
            DecodedEvent::CatalogProductArchivedV1(product) => {
                let product_id = Uuid::parse_str(&product.product_id).map_err(|_| {
                    HandlerError::permanent(format!(
                        "product_id: must be a UUID, got {:?}",
                        product.product_id
                    ))
                })?;
                let flagged =
                    storage::flag_lines_by_product(db, product_id, UnavailableReason::NotPublished)
                        .await?;
                tracing::info!(%product_id, flagged, "flagged lines of an archived product");
            }
            DecodedEvent::CatalogVariantDiscontinuedV1(variant) => {
                if variant.sku.is_empty() {
                    return Err(HandlerError::permanent("sku: is required"));
                }
                let flagged =
                    storage::flag_lines_by_sku(db, &variant.sku, UnavailableReason::Discontinued)
                        .await?;
                tracing::info!(sku = %variant.sku, flagged, "flagged lines of a discontinued variant");
            }
            // Prices come from quotes on every read (see the module docs);
            // other catalog events do not concern carts.
            _ => {}
        }
        Ok(())
    }
}
