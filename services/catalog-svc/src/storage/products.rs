//! The `products` table.

use chrono::{DateTime, Utc};
use ecommerce_db::StoreError;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait as _, ConnectionTrait, EntityTrait as _, IntoActiveModel as _, Order,
    QueryFilter as _, QueryOrder as _, QuerySelect as _, Value,
};
use serde::{Deserialize, Serialize};
use tracing::instrument;

use crate::domain::commands::RequestFingerprint;
use crate::domain::error::Resource;
use crate::domain::lifecycle::ProductStatus;
use crate::domain::model::{Product, ProductDetails, ProductId, Variant, Version};
use crate::domain::page::{Cursor, ProductFilter, StatusScope};
use crate::domain::validation::{Brand, Categories, Description, IdempotencyKey, MediaList, Title};
use crate::storage::entities::product;
use crate::storage::{Lock, VersionedEntity, apply_lock};

/// A product row with what the rules need and the idempotency record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredProduct {
    pub id: ProductId,
    pub details: ProductDetails,
    pub status: ProductStatus,
    pub version: Version,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub request_fingerprint: Option<Vec<u8>>,
}

impl StoredProduct {
    /// The domain product, with `variants` (loaded separately).
    pub fn into_product(self, variants: Vec<Variant>) -> Product {
        Product {
            id: self.id,
            details: self.details,
            status: self.status,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
            variants,
        }
    }
}

/// The stored form of one medium in `products.media`.
#[derive(Serialize, Deserialize)]
struct StoredMedia {
    url: String,
    alt_text: String,
}

fn media_json(media: &MediaList) -> Result<serde_json::Value, StoreError> {
    let stored: Vec<StoredMedia> = media
        .as_slice()
        .iter()
        .map(|item| StoredMedia {
            url: item.url.as_str().to_owned(),
            alt_text: item.alt_text.as_str().to_owned(),
        })
        .collect();
    serde_json::to_value(stored)
        .map_err(|error| StoreError::internal(format!("cannot encode product media: {error}")))
}

fn from_row(row: product::Model) -> Result<StoredProduct, StoreError> {
    let status = ProductStatus::from_stored(&row.status).ok_or_else(|| {
        StoreError::internal(format!(
            "product {} has unknown status {:?}",
            row.id, row.status
        ))
    })?;
    let media: Vec<StoredMedia> = serde_json::from_value(row.media).map_err(|error| {
        StoreError::internal(format!("product {} has malformed media: {error}", row.id))
    })?;
    Ok(StoredProduct {
        id: ProductId::from_uuid(row.id),
        details: ProductDetails {
            title: Title::from_stored(row.title),
            description: Description::from_stored(row.description),
            brand: Brand::from_stored(row.brand),
            categories: Categories::from_stored(row.categories),
            media: MediaList::from_stored(
                media
                    .into_iter()
                    .map(|item| (item.url, item.alt_text))
                    .collect(),
            ),
        },
        status,
        version: Version::from_stored(row.version),
        created_at: row.created_at,
        updated_at: row.updated_at,
        request_fingerprint: row.request_fingerprint,
    })
}

/// A product about to be inserted.
#[derive(Clone, Copy, Debug)]
pub struct NewProduct<'a> {
    pub id: ProductId,
    pub details: &'a ProductDetails,
    pub idempotency: Option<(&'a IdempotencyKey, RequestFingerprint)>,
    pub now: DateTime<Utc>,
}

/// Inserts a DRAFT product at version 1. `None` when another product already
/// holds the idempotency key (a concurrent or earlier retry): the caller
/// then reads that one with [`find_by_idempotency_key`].
#[instrument(level = "debug", skip_all, fields(product_id = %new.id), err)]
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    new: NewProduct<'_>,
) -> Result<Option<StoredProduct>, StoreError> {
    let row = product::Model {
        id: new.id.as_uuid(),
        title: new.details.title.as_str().to_owned(),
        description: new.details.description.as_str().to_owned(),
        brand: new.details.brand.as_str().to_owned(),
        categories: new.details.categories.to_strings(),
        media: media_json(&new.details.media)?,
        status: ProductStatus::Draft.as_str().to_owned(),
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
    let inserted = product::Entity::insert(row.clone().into_active_model())
        .on_conflict_do_nothing_on([product::Column::IdempotencyKey])
        .exec_without_returning(db)
        .await?;
    match inserted {
        sea_orm::TryInsertResult::Inserted(1) => from_row(row).map(Some),
        sea_orm::TryInsertResult::Inserted(0) | sea_orm::TryInsertResult::Conflicted => Ok(None),
        sea_orm::TryInsertResult::Inserted(_) | sea_orm::TryInsertResult::Empty => Err(
            StoreError::internal("unexpected row count inserting a product"),
        ),
    }
}

/// The product `id`, read with `lock`.
#[instrument(level = "debug", skip_all, fields(product_id = %id), err)]
pub async fn find<C: ConnectionTrait>(
    db: &C,
    id: ProductId,
    lock: Lock,
) -> Result<Option<StoredProduct>, StoreError> {
    let select = apply_lock(product::Entity::find_by_id(id.as_uuid()), lock);
    select.one(db).await?.map(from_row).transpose()
}

#[instrument(level = "debug", skip_all, err)]
pub async fn find_by_idempotency_key<C: ConnectionTrait>(
    db: &C,
    key: &IdempotencyKey,
) -> Result<Option<StoredProduct>, StoreError> {
    product::Entity::find()
        .filter(product::Column::IdempotencyKey.eq(key.as_str()))
        .one(db)
        .await?
        .map(from_row)
        .transpose()
}

/// Overwrites the descriptive fields of the product at `read_version`
/// (see the module docs of `storage`) and bumps its version.
#[instrument(level = "debug", skip_all, fields(product_id = %id, read_version = %read_version), err)]
pub async fn update_details<C: ConnectionTrait>(
    db: &C,
    id: ProductId,
    read_version: Version,
    details: &ProductDetails,
    now: DateTime<Utc>,
) -> Result<StoredProduct, StoreError> {
    let update = product::Entity::update_many()
        .col_expr(product::Column::Title, Expr::value(details.title.as_str()))
        .col_expr(
            product::Column::Description,
            Expr::value(details.description.as_str()),
        )
        .col_expr(product::Column::Brand, Expr::value(details.brand.as_str()))
        .col_expr(
            product::Column::Categories,
            Expr::value(Value::from(details.categories.to_strings())),
        )
        .col_expr(
            product::Column::Media,
            Expr::value(media_json(&details.media)?),
        );
    conditional_update(db, id, read_version, now, update).await
}

/// Moves the product at `read_version` to `status` and bumps its version.
#[instrument(level = "debug", skip_all, fields(product_id = %id, status = status.as_str()), err)]
pub async fn update_status<C: ConnectionTrait>(
    db: &C,
    id: ProductId,
    read_version: Version,
    status: ProductStatus,
    now: DateTime<Utc>,
) -> Result<StoredProduct, StoreError> {
    let update = product::Entity::update_many()
        .col_expr(product::Column::Status, Expr::value(status.as_str()));
    conditional_update(db, id, read_version, now, update).await
}

impl VersionedEntity for product::Entity {
    const RESOURCE: Resource = Resource::Product;
    const ID: product::Column = product::Column::Id;
    const VERSION: product::Column = product::Column::Version;
    const UPDATED_AT: product::Column = product::Column::UpdatedAt;
}

async fn conditional_update<C: ConnectionTrait>(
    db: &C,
    id: ProductId,
    read_version: Version,
    now: DateTime<Utc>,
    update: sea_orm::UpdateMany<product::Entity>,
) -> Result<StoredProduct, StoreError> {
    from_row(super::conditional_update(db, id.as_uuid(), read_version, now, update).await?)
}

/// Up to `limit` products in `scope` matching `filter`, strictly after
/// `after`, newest first.
#[instrument(level = "debug", skip_all, fields(limit), err)]
pub async fn list<C: ConnectionTrait>(
    db: &C,
    scope: StatusScope,
    filter: &ProductFilter,
    after: Option<&Cursor>,
    limit: u64,
) -> Result<Vec<StoredProduct>, StoreError> {
    let Some(select) = list_query(scope, filter, after, limit) else {
        return Ok(Vec::new());
    };
    let rows = select.all(db).await?;
    rows.into_iter().map(from_row).collect()
}

/// The query behind [`list`]; `None` when the scope admits nothing.
///
/// The custom expressions bind every value as a parameter. Beware of
/// `[` in them: sea-query reads `[...]` as a quoted identifier and would
/// leave a `$1` inside it unbound (hence `$1::text[]`, not `ARRAY[$1]`).
fn list_query(
    scope: StatusScope,
    filter: &ProductFilter,
    after: Option<&Cursor>,
    limit: u64,
) -> Option<sea_orm::Select<product::Entity>> {
    let mut select = product::Entity::find();
    match scope {
        StatusScope::Any => {}
        StatusScope::Only(status) => {
            select = select.filter(product::Column::Status.eq(status.as_str()));
        }
        StatusScope::Nothing => return None,
    }
    if let Some(query) = &filter.query {
        // websearch_to_tsquery never fails on user input (unlike
        // to_tsquery), and its syntax ("quoted phrase", -not, or) is what
        // people type into a search box. Must use the same configuration
        // as the generated column.
        select = select.filter(Expr::cust_with_values(
            "search_document @@ websearch_to_tsquery('english', $1)",
            [query.as_str()],
        ));
    }
    if let Some(category) = &filter.category {
        // `@>` (array containment) is what the GIN index serves.
        select = select.filter(Expr::cust_with_values(
            "categories @> $1::text[]",
            [Value::from(vec![category.as_str().to_owned()])],
        ));
    }
    if let Some(cursor) = after {
        // A row comparison, which Postgres matches to the
        // (created_at DESC, id DESC) index as one range.
        select = select.filter(Expr::cust_with_values(
            "(created_at, id) < ($1, $2)",
            [
                Value::from(cursor.created_at),
                Value::from(cursor.id.as_uuid()),
            ],
        ));
    }
    Some(
        select
            .order_by(product::Column::CreatedAt, Order::Desc)
            .order_by(product::Column::Id, Order::Desc)
            .limit(limit),
    )
}

/// The products with one of `ids`, in no particular order.
#[instrument(level = "debug", skip_all, fields(ids = ids.len()), err)]
pub async fn find_many<C: ConnectionTrait>(
    db: &C,
    ids: &[ProductId],
) -> Result<Vec<StoredProduct>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    product::Entity::find()
        .filter(product::Column::Id.is_in(ids.iter().map(|id| id.as_uuid())))
        .all(db)
        .await?
        .into_iter()
        .map(from_row)
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use sea_orm::{DbBackend, QueryTrait as _};

    use super::*;
    use crate::domain::validation::{CategorySlug, SearchQuery};

    #[test]
    fn every_filter_binds_its_values() {
        let filter = ProductFilter {
            status: Some(ProductStatus::Published),
            query: SearchQuery::parse_optional("trail shoe").unwrap(),
            category: Some(CategorySlug::parse("shoes/running").unwrap()),
        };
        let cursor = Cursor {
            created_at: DateTime::<Utc>::from_timestamp(1_900_000_000, 0).unwrap(),
            id: ProductId::generate(),
        };
        let select = list_query(
            StatusScope::Only(ProductStatus::Published),
            &filter,
            Some(&cursor),
            51,
        )
        .unwrap();
        let statement = select.build(DbBackend::Postgres);
        let values = statement.values.as_ref().unwrap().0.len();
        // status, query, category, created_at, id, limit
        assert_eq!(values, 6, "{}", statement.sql);
        let rendered = statement.to_string();
        assert!(rendered.contains("'trail shoe'"), "{rendered}");
        assert!(rendered.contains("'shoes/running'"), "{rendered}");
        assert!(rendered.contains(&cursor.id.to_string()), "{rendered}");
        assert!(list_query(StatusScope::Nothing, &filter, None, 51).is_none());
    }
}
