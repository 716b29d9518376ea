//! The catalog's use cases: one method per RPC, taking a validated command
//! and the caller.
//!
//! Every write runs in one transaction that also emits its event into the
//! outbox, so a change and its event are stored together or not at all; an
//! error anywhere drops the transaction, which rolls back both. The shared
//! [`transaction!`] runs it again from the start when the one policy says
//! a retry may cure the failure (a serialization failure, deadlock or lock
//! timeout is reported ABORTED once the attempts run out).
//!
//! A write that changes nothing (an update naming current values, a price
//! equal to the one in effect) writes nothing, keeps the version and emits
//! no event. Reads run in a read-only REPEATABLE READ transaction, so a
//! product, its variants and their prices come from one snapshot.

mod error;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ecommerce_db::{begin_snapshot, transaction};
use ecommerce_events::EventMetadata;
use ecommerce_kernel::{Clock, SystemClock};
use ecommerce_outbox::{Outbox, OutboxTransaction};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use tracing::instrument;

pub use self::error::CatalogError;

use crate::domain::actor::RequestContext;
use crate::domain::commands::{
    ChangeProductStatus, CreateProduct, CreateVariant, DiscontinueVariant, GetProduct,
    ListProducts, PriceQuote, ProductPage, QuotePrices, RequestFingerprint, SetPrice,
    UpdateProduct, UpdateVariant,
};
use crate::domain::error::{DomainError, Resource};
use crate::domain::events::CatalogEvent;
use crate::domain::lifecycle::{ProductStatus, VariantStatus};
use crate::domain::model::{PriceId, Product, ProductId, Variant, VariantId, variant_changes};
use crate::domain::page::{Cursor, encode_page_token};
use crate::domain::price::{
    Price, PriceDecision, QuoteStatus, decide_price, quote_status, resolve_effective_from,
};
use crate::storage::prices::NewPrice;
use crate::storage::products::{NewProduct, StoredProduct};
use crate::storage::variants::{NewVariant, StoredVariant};
use crate::storage::{Lock, prices, products, variants};

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

    // ---------------------------------------------------------------- products

    /// CreateProduct: a DRAFT product at version 1 and
    /// `catalog.product.created.v1`. Idempotent on the command's key (see
    /// `domain::commands`).
    #[instrument(skip_all, fields(idempotency_key = ?command.idempotency_key.as_ref().map(|key| key.as_str())), err(level = "info"))]
    pub async fn create_product(
        &self,
        context: &RequestContext,
        command: CreateProduct,
    ) -> Result<Product, CatalogError> {
        context.actor.require_admin()?;
        let fingerprint = command.fingerprint();
        let idempotency = command
            .idempotency_key
            .as_ref()
            .map(|key| (key, fingerprint));
        let (outbox, db) = (&self.outbox, &self.db);
        transaction!(CatalogError, "create_product", outbox.begin(db), |tx| {
            let now = self.clock.now();
            if let Some((key, _)) = idempotency {
                if let Some(existing) = products::find_by_idempotency_key(tx, key).await? {
                    return self.replayed_product(tx, existing, fingerprint).await;
                }
            }
            let new = NewProduct {
                id: ProductId::generate(),
                details: &command.details,
                idempotency,
                now,
            };
            let Some(stored) = products::insert(tx, new).await? else {
                // A concurrent call with the same key committed first.
                let (key, _) = idempotency.ok_or_else(|| {
                    CatalogError::internal("product insert conflicted without an idempotency key")
                })?;
                let existing = products::find_by_idempotency_key(tx, key)
                    .await?
                    .ok_or_else(|| {
                        CatalogError::internal("idempotency key conflict without a row")
                    })?;
                return self.replayed_product(tx, existing, fingerprint).await;
            };
            let product = stored.into_product(Vec::new());
            emit(tx, context, &CatalogEvent::ProductCreated(&product), now).await?;
            Ok(product)
        })
    }

    async fn replayed_product(
        &self,
        db: &impl ConnectionTrait,
        existing: StoredProduct,
        fingerprint: RequestFingerprint,
    ) -> Result<Product, CatalogError> {
        check_replay(existing.request_fingerprint.as_deref(), fingerprint)?;
        assemble_one(db, existing, self.clock.now()).await
    }

    /// UpdateProduct: overwrites the named fields; when any value changes,
    /// bumps the version and emits `catalog.product.updated.v1` listing
    /// the changed fields.
    #[instrument(skip_all, fields(product_id = %command.product_id), err(level = "info"))]
    pub async fn update_product(
        &self,
        context: &RequestContext,
        command: UpdateProduct,
    ) -> Result<Product, CatalogError> {
        context.actor.require_admin()?;
        let (outbox, db) = (&self.outbox, &self.db);
        transaction!(CatalogError, "update_product", outbox.begin(db), |tx| {
            let now = self.clock.now();
            let current = get_product(tx, command.product_id, Lock::Update).await?;
            current.version.check_expected(
                command.expected_version,
                Resource::Product,
                current.id,
            )?;
            if current.status.is_terminal() {
                return Err(CatalogError::failed_precondition(format!(
                    "product {} is {}: it cannot be edited",
                    current.id, current.status
                )));
            }
            let diff = current.details.apply(&command.changes);
            if diff.is_empty() {
                return assemble_one(tx, current, now).await;
            }
            let updated =
                products::update_details(tx, current.id, current.version, &diff.details, now)
                    .await?;
            let product = assemble_one(tx, updated, now).await?;
            let event = CatalogEvent::ProductUpdated {
                product: &product,
                changed: &diff.changed,
            };
            emit(tx, context, &event, now).await?;
            Ok(product)
        })
    }

    /// PublishProduct, UnpublishProduct and ArchiveProduct: one lifecycle
    /// step (FAILED_PRECONDITION naming the current state when illegal),
    /// a version bump and the matching event.
    #[instrument(skip_all, fields(product_id = %command.product_id, action = ?command.action), err(level = "info"))]
    pub async fn change_product_status(
        &self,
        context: &RequestContext,
        command: ChangeProductStatus,
    ) -> Result<Product, CatalogError> {
        context.actor.require_admin()?;
        let (outbox, db) = (&self.outbox, &self.db);
        transaction!(
            CatalogError,
            "change_product_status",
            outbox.begin(db),
            |tx| {
                let now = self.clock.now();
                let current = get_product(tx, command.product_id, Lock::Update).await?;
                current.version.check_expected(
                    command.expected_version,
                    Resource::Product,
                    current.id,
                )?;
                let target = command.action.target();
                if !current.status.can_become(target) {
                    return Err(DomainError::IllegalProductTransition {
                        product_id: current.id.to_string(),
                        from: current.status,
                        to: target,
                    }
                    .into());
                }
                let updated =
                    products::update_status(tx, current.id, current.version, target, now).await?;
                let product = assemble_one(tx, updated, now).await?;
                let event = CatalogEvent::lifecycle(&product).ok_or_else(|| {
                    CatalogError::internal(format!(
                        "product {} moved to {} without an event",
                        product.id, product.status
                    ))
                })?;
                emit(tx, context, &event, now).await?;
                Ok(product)
            }
        )
    }

    /// GetProduct: NOT_FOUND for a product the caller may not see.
    #[instrument(skip_all, fields(product_id = %command.product_id), err(level = "info"))]
    pub async fn get_product(
        &self,
        context: &RequestContext,
        command: GetProduct,
    ) -> Result<Product, CatalogError> {
        transaction!(
            CatalogError,
            "get_product",
            begin_snapshot(&self.db),
            |tx| {
                let now = self.clock.now();
                let stored = products::find(tx, command.product_id, Lock::None)
                    .await?
                    .filter(|stored| {
                        context.actor.sees_unpublished() || stored.status.is_visible_to_shoppers()
                    })
                    .ok_or_else(|| {
                        CatalogError::not_found(Resource::Product, command.product_id)
                    })?;
                assemble_one(tx, stored, now).await
            }
        )
    }

    /// ListProducts: one page, newest first, of the products the caller
    /// may see that match the filter.
    #[instrument(skip_all, fields(page_size = command.page_size.get()), err(level = "info"))]
    pub async fn list_products(
        &self,
        context: &RequestContext,
        command: ListProducts,
    ) -> Result<ProductPage, CatalogError> {
        let scope = command.filter.status_scope(&context.actor);
        let page_size = usize::try_from(command.page_size.get())
            .map_err(|error| CatalogError::internal(format!("page size out of usize: {error}")))?;
        transaction!(
            CatalogError,
            "list_products",
            begin_snapshot(&self.db),
            |tx| {
                let now = self.clock.now();
                // One more than asked tells whether another page follows.
                let mut rows = products::list(
                    tx,
                    scope,
                    &command.filter,
                    command.after.as_ref(),
                    u64::from(command.page_size.get()) + 1,
                )
                .await?;
                let has_more = rows.len() > page_size;
                rows.truncate(page_size);
                let next_page_token = match rows.last() {
                    Some(last) if has_more => Some(encode_page_token(
                        &Cursor {
                            created_at: last.created_at,
                            id: last.id,
                        },
                        &command.filter,
                    )),
                    Some(_) | None => None,
                };
                let products = assemble_products(tx, rows, now).await?;
                Ok(ProductPage {
                    products,
                    next_page_token,
                })
            }
        )
    }

    // ---------------------------------------------------------------- variants

    /// CreateVariant: an ACTIVE variant at version 1 and
    /// `catalog.variant.created.v1`; ALREADY_EXISTS naming the SKU when it
    /// is taken. Idempotent on the command's key.
    #[instrument(skip_all, fields(product_id = %command.product_id, sku = %command.sku), err(level = "info"))]
    pub async fn create_variant(
        &self,
        context: &RequestContext,
        command: CreateVariant,
    ) -> Result<Variant, CatalogError> {
        context.actor.require_admin()?;
        let fingerprint = command.fingerprint();
        let idempotency = command
            .idempotency_key
            .as_ref()
            .map(|key| (key, fingerprint));
        let (outbox, db) = (&self.outbox, &self.db);
        transaction!(CatalogError, "create_variant", outbox.begin(db), |tx| {
            let now = self.clock.now();
            if let Some((key, _)) = idempotency {
                if let Some(existing) = variants::find_by_idempotency_key(tx, key).await? {
                    check_replay(existing.request_fingerprint.as_deref(), fingerprint)?;
                    return variant_with_prices(tx, existing, now).await;
                }
            }
            // FOR SHARE: the product cannot be archived until this commits.
            let product = get_product(tx, command.product_id, Lock::Share).await?;
            if product.status.is_terminal() {
                return Err(CatalogError::failed_precondition(format!(
                    "product {} is {}: variants cannot be added",
                    product.id, product.status
                )));
            }
            let new = NewVariant {
                id: VariantId::generate(),
                product_id: product.id,
                sku: &command.sku,
                attributes: &command.attributes,
                idempotency,
                now,
            };
            let Some(stored) = variants::insert(tx, new).await? else {
                let (key, _) = idempotency.ok_or_else(|| {
                    CatalogError::internal("variant insert conflicted without an idempotency key")
                })?;
                let existing = variants::find_by_idempotency_key(tx, key)
                    .await?
                    .ok_or_else(|| {
                        CatalogError::internal("idempotency key conflict without a row")
                    })?;
                check_replay(existing.request_fingerprint.as_deref(), fingerprint)?;
                return variant_with_prices(tx, existing, now).await;
            };
            let variant = stored.into_variant(Vec::new());
            emit(tx, context, &CatalogEvent::VariantCreated(&variant), now).await?;
            Ok(variant)
        })
    }

    /// UpdateVariant: replaces the attributes; when they change, bumps the
    /// version and emits `catalog.variant.updated.v1`.
    #[instrument(skip_all, fields(variant_id = %command.variant_id), err(level = "info"))]
    pub async fn update_variant(
        &self,
        context: &RequestContext,
        command: UpdateVariant,
    ) -> Result<Variant, CatalogError> {
        context.actor.require_admin()?;
        let (outbox, db) = (&self.outbox, &self.db);
        transaction!(CatalogError, "update_variant", outbox.begin(db), |tx| {
            let now = self.clock.now();
            let (product, current) = lock_product_then_variant(tx, command.variant_id).await?;
            current.version.check_expected(
                command.expected_version,
                Resource::Variant,
                current.id,
            )?;
            if current.status == VariantStatus::Discontinued {
                return Err(CatalogError::failed_precondition(format!(
                    "variant {} is {}: it cannot be edited",
                    current.id, current.status
                )));
            }
            if product.status.is_terminal() {
                return Err(CatalogError::failed_precondition(format!(
                    "product {} is {}: its variants cannot be edited",
                    product.id, product.status
                )));
            }
            let changed = variant_changes(&current.attributes, &command.attributes);
            if changed.is_empty() {
                return variant_with_prices(tx, current, now).await;
            }
            let updated = variants::update_attributes(
                tx,
                current.id,
                current.version,
                &command.attributes,
                now,
            )
            .await?;
            let variant = variant_with_prices(tx, updated, now).await?;
            let event = CatalogEvent::VariantUpdated {
                variant: &variant,
                changed: &changed,
            };
            emit(tx, context, &event, now).await?;
            Ok(variant)
        })
    }

    /// DiscontinueVariant: ACTIVE -> DISCONTINUED (FAILED_PRECONDITION
    /// naming the state otherwise) and `catalog.variant.discontinued.v1`.
    /// Allowed whatever the product's state: retiring a SKU is always safe.
    #[instrument(skip_all, fields(variant_id = %command.variant_id), err(level = "info"))]
    pub async fn discontinue_variant(
        &self,
        context: &RequestContext,
        command: DiscontinueVariant,
    ) -> Result<Variant, CatalogError> {
        context.actor.require_admin()?;
        let (outbox, db) = (&self.outbox, &self.db);
        transaction!(
            CatalogError,
            "discontinue_variant",
            outbox.begin(db),
            |tx| {
                let now = self.clock.now();
                let current = get_variant(tx, command.variant_id, Lock::Update).await?;
                current.version.check_expected(
                    command.expected_version,
                    Resource::Variant,
                    current.id,
                )?;
                let target = VariantStatus::Discontinued;
                if !current.status.can_become(target) {
                    return Err(DomainError::IllegalVariantTransition {
                        variant_id: current.id.to_string(),
                        from: current.status,
                        to: target,
                    }
                    .into());
                }
                let updated =
                    variants::update_status(tx, current.id, current.version, target, now).await?;
                let variant = variant_with_prices(tx, updated, now).await?;
                emit(
                    tx,
                    context,
                    &CatalogEvent::VariantDiscontinued(&variant),
                    now,
                )
                .await?;
                Ok(variant)
            }
        )
    }

    // ------------------------------------------------------------------ prices

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
    products::find(db, id, lock)
        .await?
        .ok_or_else(|| CatalogError::not_found(Resource::Product, id))
}

/// The variant `id`, read with `lock`; NOT_FOUND when missing.
async fn get_variant(
    db: &impl ConnectionTrait,
    id: VariantId,
    lock: Lock,
) -> Result<StoredVariant, CatalogError> {
    variants::find(db, id, lock)
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
    let all_variants = variants::list_for_products(db, &product_ids).await?;
    let variant_ids: Vec<VariantId> = all_variants.iter().map(|variant| variant.id).collect();
    let mut prices_by_variant: HashMap<VariantId, Vec<Price>> = HashMap::new();
    for price in prices::in_effect_for_variants(db, &variant_ids, None, now).await? {
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
    let current_prices = prices::in_effect_for_variants(db, &[stored.id], None, now).await?;
    Ok(stored.into_variant(current_prices))
}
