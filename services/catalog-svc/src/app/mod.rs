//! The catalog's use cases: one method per RPC, taking a validated command
//! and the caller.
//!
//! Every write runs in one transaction that also emits its event into the
//! outbox, so a change and its event are stored together or not at all; an
//! error anywhere drops the transaction, which rolls back both. The shared
//! [`transaction!`](ecommerce_db::transaction!) runs it again from the
//! start when the one policy says a retry may cure the failure (a
//! serialization failure, deadlock or lock timeout is reported ABORTED once
//! the attempts run out).
//!
//! A write that changes nothing (an update naming current values, a price
//! equal to the one in effect) writes nothing, keeps the version and emits
//! no event. Reads run in a read-only REPEATABLE READ transaction, so a
//! product, its variants and their prices come from one snapshot.

mod error;
mod prices;
mod products;
mod variants;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ecommerce_events::EventMetadata;
use ecommerce_kernel::{Clock, SystemClock};
use ecommerce_outbox::{Outbox, OutboxTransaction};
use sea_orm::{ConnectionTrait, DatabaseConnection};

pub use self::error::CatalogError;

use crate::domain::actor::RequestContext;
use crate::domain::commands::RequestFingerprint;
use crate::domain::error::Resource;
use crate::domain::events::CatalogEvent;
use crate::domain::model::{Product, ProductId, Variant, VariantId};
use crate::domain::price::Price;
use crate::storage::products::StoredProduct;
use crate::storage::variants::StoredVariant;
use crate::storage::{self, Lock};

/// The catalog service, independent of the transport.
#[derive(Clone, Debug)]
pub struct CatalogApp {
    db: DatabaseConnection,
    outbox: Outbox,
    clock: Arc<dyn Clock>,
}

impl CatalogApp {
    /// `db` must be migrated with `catalog_migration::Migrator`; `outbox`
    /// writes to that schema's `catalog_outbox_events`.
    pub fn new(db: DatabaseConnection, outbox: Outbox) -> Self {
        Self {
            db,
            outbox,
            clock: Arc::new(SystemClock),
        }
    }

    /// The same service on another clock (tests move time forward).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }
}

/// Emits `event` into the outbox in `tx`, about its aggregate, stamped with
/// the change's time and the caller's correlation id.
async fn emit(
    tx: &OutboxTransaction,
    context: &RequestContext,
    event: &CatalogEvent<'_>,
    occurred_at: DateTime<Utc>,
) -> Result<(), CatalogError> {
    let (aggregate_type, aggregate_id) = event.aggregate();
    let mut metadata = EventMetadata::new(aggregate_type, aggregate_id);
    metadata.occurred_at = occurred_at;
    if let Some(correlation_id) = &context.correlation_id {
        metadata = metadata.with_correlation_id(correlation_id.clone());
    }
    tx.emit(event, metadata).await?;
    Ok(())
}

/// Same key: the same request is a replay, a different one an error.
fn check_replay(
    stored: Option<&[u8]>,
    fingerprint: RequestFingerprint,
) -> Result<(), CatalogError> {
    if stored == Some(fingerprint.as_bytes()) {
        return Ok(());
    }
    Err(CatalogError::failed_precondition(
        "idempotency_key was already used with a different request; \
         send a new key for a new request",
    ))
}

/// The product `id`, read with `lock`; NOT_FOUND when missing.
async fn get_product(
    db: &impl ConnectionTrait,
    id: ProductId,
    lock: Lock,
) -> Result<StoredProduct, CatalogError> {
    storage::products::find(db, id, lock)
        .await?
        .ok_or_else(|| CatalogError::not_found(Resource::Product, id))
}

/// The variant `id`, read with `lock`; NOT_FOUND when missing.
async fn get_variant(
    db: &impl ConnectionTrait,
    id: VariantId,
    lock: Lock,
) -> Result<StoredVariant, CatalogError> {
    storage::variants::find(db, id, lock)
        .await?
        .ok_or_else(|| CatalogError::not_found(Resource::Variant, id))
}

/// The variant and its product, locked product first (`FOR SHARE`) then
/// variant (`FOR UPDATE`): every transaction that locks both does it in
/// this order, so they cannot deadlock one another.
async fn lock_product_then_variant(
    db: &impl ConnectionTrait,
    variant_id: VariantId,
) -> Result<(StoredProduct, StoredVariant), CatalogError> {
    // The product id is immutable, so reading it unlocked is safe.
    let unlocked = get_variant(db, variant_id, Lock::None).await?;
    let product = get_product(db, unlocked.product_id, Lock::Share).await?;
    let variant = get_variant(db, variant_id, Lock::Update).await?;
    Ok((product, variant))
}

/// One product with its variants and their prices in effect at `now`.
async fn assemble_one(
    db: &impl ConnectionTrait,
    stored: StoredProduct,
    now: DateTime<Utc>,
) -> Result<Product, CatalogError> {
    assemble_products(db, vec![stored], now)
        .await?
        .pop()
        .ok_or_else(|| CatalogError::internal("assembling one product returned none"))
}

/// Products (in the given order) with their variants and current prices:
/// two queries whatever the number of products.
async fn assemble_products(
    db: &impl ConnectionTrait,
    stored: Vec<StoredProduct>,
    now: DateTime<Utc>,
) -> Result<Vec<Product>, CatalogError> {
    let product_ids: Vec<ProductId> = stored.iter().map(|product| product.id).collect();
    let all_variants = storage::variants::list_for_products(db, &product_ids).await?;
    let variant_ids: Vec<VariantId> = all_variants.iter().map(|variant| variant.id).collect();
    let mut prices_by_variant: HashMap<VariantId, Vec<Price>> = HashMap::new();
    for price in storage::prices::in_effect_for_variants(db, &variant_ids, None, now).await? {
        prices_by_variant
            .entry(price.variant_id)
            .or_default()
            .push(price);
    }
    let mut variants_by_product: BTreeMap<ProductId, Vec<Variant>> = BTreeMap::new();
    for variant in all_variants {
        let current_prices = prices_by_variant.remove(&variant.id).unwrap_or_default();
        variants_by_product
            .entry(variant.product_id)
            .or_default()
            .push(variant.into_variant(current_prices));
    }
    Ok(stored
        .into_iter()
        .map(|product| {
            let variants = variants_by_product.remove(&product.id).unwrap_or_default();
            product.into_product(variants)
        })
        .collect())
}

/// A variant with its prices in effect at `now`.
async fn variant_with_prices(
    db: &impl ConnectionTrait,
    stored: StoredVariant,
    now: DateTime<Utc>,
) -> Result<Variant, CatalogError> {
    let current_prices =
        storage::prices::in_effect_for_variants(db, &[stored.id], None, now).await?;
    Ok(stored.into_variant(current_prices))
}
