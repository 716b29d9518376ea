//! The `variants` table.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ecommerce_db::StoreError;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait as _, ConnectionTrait, EntityTrait as _, IntoActiveModel as _, Order,
    QueryFilter as _, QueryOrder as _,
};
use tracing::instrument;

use crate::domain::commands::RequestFingerprint;
use crate::domain::error::Resource;
use crate::domain::lifecycle::VariantStatus;
use crate::domain::model::{ProductId, Variant, VariantId, Version};
use crate::domain::price::Price;
use crate::domain::validation::{Attributes, IdempotencyKey, Sku};
use crate::storage::entities::variant;
use crate::storage::{Lock, VARIANTS_SKU_KEY, VersionedEntity, apply_lock};

/// A variant row with the idempotency record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredVariant {
    pub id: VariantId,
    pub product_id: ProductId,
    pub sku: Sku,
    pub attributes: Attributes,
    pub status: VariantStatus,
    pub version: Version,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub request_fingerprint: Option<Vec<u8>>,
}

impl StoredVariant {
    pub fn into_variant(self, current_prices: Vec<Price>) -> Variant {
        Variant {
            id: self.id,
            product_id: self.product_id,
            sku: self.sku,
            attributes: self.attributes,
            status: self.status,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
            current_prices,
        }
    }
}

fn attributes_json(attributes: &Attributes) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(attributes.as_map())
        .map_err(|error| StoreError::internal(format!("cannot encode variant attributes: {error}")))
}

pub(crate) fn from_row(row: variant::Model) -> Result<StoredVariant, StoreError> {
    let status = VariantStatus::from_stored(&row.status).ok_or_else(|| {
        StoreError::internal(format!(
            "variant {} has unknown status {:?}",
            row.id, row.status
        ))
    })?;
    let attributes: BTreeMap<String, String> =
        serde_json::from_value(row.attributes).map_err(|error| {
            StoreError::internal(format!(
                "variant {} has malformed attributes: {error}",
                row.id
            ))
        })?;
    Ok(StoredVariant {
        id: VariantId::from_uuid(row.id),
        product_id: ProductId::from_uuid(row.product_id),
        sku: Sku::from_stored(row.sku),
        attributes: Attributes::from_stored(attributes),
        status,
        version: Version::from_stored(row.version),
        created_at: row.created_at,
        updated_at: row.updated_at,
        request_fingerprint: row.request_fingerprint,
    })
}

/// A variant about to be inserted.
#[derive(Clone, Copy, Debug)]
pub struct NewVariant<'a> {
    pub id: VariantId,
    pub product_id: ProductId,
    pub sku: &'a Sku,
    pub attributes: &'a Attributes,
    pub idempotency: Option<(&'a IdempotencyKey, RequestFingerprint)>,
    pub now: DateTime<Utc>,
}

/// Why [`insert`] inserted no variant.
#[derive(Debug, thiserror::Error)]
pub enum InsertVariantError {
    /// Another variant has the SKU: ALREADY_EXISTS naming it, claimed here
    /// so the transaction is not run again for it.
    #[error("a variant with sku {:?} already exists", .0.as_str())]
    SkuTaken(Sku),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Inserts an ACTIVE variant at version 1. `None` when the idempotency key
/// is taken (see `products::insert`); [`InsertVariantError::SkuTaken`]
/// when another variant has the SKU.
#[instrument(level = "debug", skip_all, fields(variant_id = %new.id, sku = %new.sku), err)]
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    new: NewVariant<'_>,
) -> Result<Option<StoredVariant>, InsertVariantError> {
    let row = variant::Model {
        id: new.id.as_uuid(),
        product_id: new.product_id.as_uuid(),
        sku: new.sku.as_str().to_owned(),
        attributes: attributes_json(new.attributes)?,
        status: VariantStatus::Active.as_str().to_owned(),
        version: Version::INITIAL.get(),
        idempotency_key: new.idempotency.map(|(key, _)| key.as_str().to_owned()),
        request_fingerprint: new
            .idempotency
            .map(|(_, fingerprint)| fingerprint.as_bytes().to_vec()),
        created_at: new.now,
        updated_at: new.now,
    };
    // Without RETURNING: with `ON CONFLICT DO NOTHING` a skipped row
    // returns nothing, which SeaORM reports as a failed lookup rather than
    // a conflict. The row is exactly what was written, so it needs no
    // read-back either.
    let inserted = variant::Entity::insert(row.clone().into_active_model())
        .on_conflict_do_nothing_on([variant::Column::IdempotencyKey])
        .exec_without_returning(db)
        .await
        .map_err(|error| match StoreError::from(error) {
            error if error.is_unique_violation_of(VARIANTS_SKU_KEY) => {
                InsertVariantError::SkuTaken(new.sku.clone())
            }
            error => error.into(),
        })?;
    match inserted {
        sea_orm::TryInsertResult::Inserted(1) => Ok(Some(from_row(row)?)),
        sea_orm::TryInsertResult::Inserted(0) | sea_orm::TryInsertResult::Conflicted => Ok(None),
        sea_orm::TryInsertResult::Inserted(_) | sea_orm::TryInsertResult::Empty => {
            Err(StoreError::internal("unexpected row count inserting a variant").into())
        }
    }
}

/// The variant `id`, read with `lock`.
#[instrument(level = "debug", skip_all, fields(variant_id = %id), err)]
pub async fn find<C: ConnectionTrait>(
    db: &C,
    id: VariantId,
    lock: Lock,
) -> Result<Option<StoredVariant>, StoreError> {
    apply_lock(variant::Entity::find_by_id(id.as_uuid()), lock)
        .one(db)
        .await?
        .map(from_row)
        .transpose()
}

#[instrument(level = "debug", skip_all, err)]
pub async fn find_by_idempotency_key<C: ConnectionTrait>(
    db: &C,
    key: &IdempotencyKey,
) -> Result<Option<StoredVariant>, StoreError> {
    variant::Entity::find()
        .filter(variant::Column::IdempotencyKey.eq(key.as_str()))
        .one(db)
        .await?
        .map(from_row)
        .transpose()
}

/// The variants of `product_ids`, each product's in creation order.
#[instrument(level = "debug", skip_all, fields(products = product_ids.len()), err)]
pub async fn list_for_products<C: ConnectionTrait>(
    db: &C,
    product_ids: &[ProductId],
) -> Result<Vec<StoredVariant>, StoreError> {
    if product_ids.is_empty() {
        return Ok(Vec::new());
    }
    variant::Entity::find()
        .filter(variant::Column::ProductId.is_in(product_ids.iter().map(|id| id.as_uuid())))
        .order_by(variant::Column::ProductId, Order::Asc)
        .order_by(variant::Column::CreatedAt, Order::Asc)
        .order_by(variant::Column::Id, Order::Asc)
        .all(db)
        .await?
        .into_iter()
        .map(from_row)
        .collect()
}

/// The variants with one of `skus`, in no particular order.
#[instrument(level = "debug", skip_all, fields(skus = skus.len()), err)]
pub async fn find_by_skus<C: ConnectionTrait>(
    db: &C,
    skus: &[Sku],
) -> Result<Vec<StoredVariant>, StoreError> {
    if skus.is_empty() {
        return Ok(Vec::new());
    }
    variant::Entity::find()
        .filter(variant::Column::Sku.is_in(skus.iter().map(Sku::as_str)))
        .all(db)
        .await?
        .into_iter()
        .map(from_row)
        .collect()
}

/// Replaces the attributes of the variant at `read_version`, bumping its
/// version (see the module docs of `storage`).
#[instrument(level = "debug", skip_all, fields(variant_id = %id), err)]
pub async fn update_attributes<C: ConnectionTrait>(
    db: &C,
    id: VariantId,
    read_version: Version,
    attributes: &Attributes,
    now: DateTime<Utc>,
) -> Result<StoredVariant, StoreError> {
    let update = variant::Entity::update_many().col_expr(
        variant::Column::Attributes,
        Expr::value(attributes_json(attributes)?),
    );
    conditional_update(db, id, read_version, now, update).await
}

/// Moves the variant at `read_version` to `status`, bumping its version.
#[instrument(level = "debug", skip_all, fields(variant_id = %id, status = status.as_str()), err)]
pub async fn update_status<C: ConnectionTrait>(
    db: &C,
    id: VariantId,
    read_version: Version,
    status: VariantStatus,
    now: DateTime<Utc>,
) -> Result<StoredVariant, StoreError> {
    let update = variant::Entity::update_many()
        .col_expr(variant::Column::Status, Expr::value(status.as_str()));
    conditional_update(db, id, read_version, now, update).await
}

impl VersionedEntity for variant::Entity {
    const RESOURCE: Resource = Resource::Variant;
    const ID: variant::Column = variant::Column::Id;
    const VERSION: variant::Column = variant::Column::Version;
    const UPDATED_AT: variant::Column = variant::Column::UpdatedAt;
}

async fn conditional_update<C: ConnectionTrait>(
    db: &C,
    id: VariantId,
    read_version: Version,
    now: DateTime<Utc>,
    update: sea_orm::UpdateMany<variant::Entity>,
) -> Result<StoredVariant, StoreError> {
    from_row(super::conditional_update(db, id.as_uuid(), read_version, now, update).await?)
}
