//! SetPrice and QuotePrices.

use std::collections::HashMap;

use ecommerce_db::{begin_snapshot, transaction};
use tracing::instrument;

use super::{CatalogApp, CatalogError, check_replay, emit, lock_product_then_variant};
use crate::domain::actor::RequestContext;
use crate::domain::commands::{PriceQuote, QuotePrices, SetPrice};
use crate::domain::events::CatalogEvent;
use crate::domain::lifecycle::{ProductStatus, VariantStatus};
use crate::domain::model::{PriceId, ProductId, VariantId};
use crate::domain::price::{
    Price, PriceDecision, QuoteStatus, decide_price, quote_status, resolve_effective_from,
};
use crate::storage::prices::{self, NewPrice};
use crate::storage::products::{self, StoredProduct};
use crate::storage::variants::{self, StoredVariant};

impl CatalogApp {
    /// SetPrice: records a price effective now or later and emits
    /// `catalog.price.changed.v1` with the amount it supersedes. A price
    /// equal to the one in effect at that time is not recorded (no event);
    /// that one is returned. Idempotent on the command's key.
    #[instrument(skip_all, fields(variant_id = %command.variant_id, currency = %command.amount.currency()), err(level = "info"))]
    pub async fn set_price(
        &self,
        context: &RequestContext,
        command: SetPrice,
    ) -> Result<Price, CatalogError> {
        context.actor.require_admin()?;
        // Checked against the clock before any database work, like every
        // other validation.
        let effective_from = resolve_effective_from(command.effective_from, self.clock.now())
            .map_err(|invalid| invalid.at("effective_from"))?;
        let fingerprint = command.fingerprint();
        let idempotency = command
            .idempotency_key
            .as_ref()
            .map(|key| (key, fingerprint));
        let (outbox, db) = (&self.outbox, &self.db);
        transaction!(CatalogError, "set_price", outbox.begin(db), |tx| {
            let now = self.clock.now();
            if let Some((key, _)) = idempotency {
                if let Some(existing) = prices::find_by_idempotency_key(tx, key).await? {
                    check_replay(existing.request_fingerprint.as_deref(), fingerprint)?;
                    return Ok(existing.price);
                }
            }
            // The variant's row lock serializes SetPrice per variant, so the
            // history read below is the one the new price is decided against.
            let (product, variant) = lock_product_then_variant(tx, command.variant_id).await?;
            if product.status.is_terminal() {
                return Err(CatalogError::failed_precondition(format!(
                    "product {} is {}: its variants cannot be priced",
                    product.id, product.status
                )));
            }
            if variant.status == VariantStatus::Discontinued {
                return Err(CatalogError::failed_precondition(format!(
                    "variant {} is {}: it cannot be priced",
                    variant.id, variant.status
                )));
            }
            let history = prices::history(tx, variant.id, command.amount.currency()).await?;
            let previous = match decide_price(&history, command.amount, effective_from) {
                PriceDecision::Unchanged { in_effect } => return Ok(in_effect),
                PriceDecision::Record { previous } => previous,
            };
            let new = NewPrice {
                price: Price {
                    id: PriceId::generate(),
                    variant_id: variant.id,
                    amount: command.amount,
                    effective_from,
                },
                idempotency,
                now,
            };
            let Some(stored) = prices::insert(tx, new).await? else {
                let (key, _) = idempotency.ok_or_else(|| {
                    CatalogError::internal("price insert conflicted without an idempotency key")
                })?;
                let existing =
                    prices::find_by_idempotency_key(tx, key)
                        .await?
                        .ok_or_else(|| {
                            CatalogError::internal("idempotency key conflict without a row")
                        })?;
                check_replay(existing.request_fingerprint.as_deref(), fingerprint)?;
                return Ok(existing.price);
            };
            let event = CatalogEvent::PriceChanged {
                price: &stored.price,
                sku: &variant.sku,
                previous,
            };
            emit(tx, context, &event, now).await?;
            Ok(stored.price)
        })
    }

    /// QuotePrices: one quote per requested SKU, in request order, with the
    /// price in effect now (never a future one).
    #[instrument(skip_all, fields(skus = command.skus.len(), currency = %command.currency), err(level = "info"))]
    pub async fn quote_prices(
        &self,
        context: &RequestContext,
        command: QuotePrices,
    ) -> Result<Vec<PriceQuote>, CatalogError> {
        transaction!(
            CatalogError,
            "quote_prices",
            begin_snapshot(&self.db),
            |tx| {
                let now = self.clock.now();
                let found = variants::find_by_skus(tx, &command.skus).await?;
                let product_ids: Vec<ProductId> =
                    found.iter().map(|variant| variant.product_id).collect();
                let owners: HashMap<ProductId, StoredProduct> =
                    products::find_many(tx, &product_ids)
                        .await?
                        .into_iter()
                        .map(|product| (product.id, product))
                        .collect();
                let variant_ids: Vec<VariantId> = found.iter().map(|variant| variant.id).collect();
                let in_effect: HashMap<VariantId, Price> =
                    prices::in_effect_for_variants(tx, &variant_ids, Some(command.currency), now)
                        .await?
                        .into_iter()
                        .map(|price| (price.variant_id, price))
                        .collect();
                let by_sku: HashMap<&str, &StoredVariant> = found
                    .iter()
                    .map(|variant| (variant.sku.as_str(), variant))
                    .collect();
                let mut quotes = Vec::with_capacity(command.skus.len());
                for sku in &command.skus {
                    let Some(variant) = by_sku.get(sku.as_str()) else {
                        quotes.push(PriceQuote {
                            sku: sku.clone(),
                            status: QuoteStatus::NotFound,
                            variant_id: None,
                            product_id: None,
                            title: None,
                            unit_price: None,
                        });
                        continue;
                    };
                    let product = owners.get(&variant.product_id).ok_or_else(|| {
                        CatalogError::internal(format!("variant {} has no product", variant.id))
                    })?;
                    let price = in_effect.get(&variant.id).copied();
                    let status = quote_status(product.status, variant.status, price.is_some());
                    // A draft's title is not public yet.
                    let title_visible =
                        context.actor.sees_unpublished() || product.status != ProductStatus::Draft;
                    quotes.push(PriceQuote {
                        sku: sku.clone(),
                        status,
                        variant_id: Some(variant.id),
                        product_id: Some(product.id),
                        title: title_visible.then(|| product.details.title.clone()),
                        unit_price: price.filter(|_| status == QuoteStatus::Available),
                    });
                }
                Ok(quotes)
            }
        )
    }
}
