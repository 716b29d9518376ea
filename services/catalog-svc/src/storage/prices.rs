//! The `prices` table: an insert-only history per variant and currency.

use chrono::{DateTime, Utc};
use ecommerce_db::StoreError;
use sea_orm::{
    ColumnTrait as _, ConnectionTrait, DbBackend, EntityTrait as _, IntoActiveModel as _, Order,
    QueryFilter as _, QueryOrder as _, Statement, Value,
};
use tracing::instrument;

use crate::domain::commands::RequestFingerprint;
use crate::domain::model::{PriceId, VariantId};
use crate::domain::price::Price;
use crate::domain::validation::IdempotencyKey;
use crate::storage::entities::price;
use ecommerce_kernel::{Currency, Money};

/// A price row with the idempotency record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPrice {
    pub price: Price,
    pub request_fingerprint: Option<Vec<u8>>,
}

fn from_row(row: price::Model) -> Result<StoredPrice, StoreError> {
    // A currency that leaves the ISO list (a withdrawn code) must be
    // migrated before the code is removed from the kernel's `Currency`.
    let currency = Currency::parse(&row.currency).map_err(|invalid| {
        StoreError::internal(format!(
            "price {} has currency {:?}: {invalid}",
            row.id, row.currency
        ))
    })?;
    let amount = Money::new(row.amount_minor, currency).map_err(|invalid| {
        StoreError::internal(format!(
            "price {} has amount {}: {invalid}",
            row.id, row.amount_minor
        ))
    })?;
    Ok(StoredPrice {
        price: Price {
            id: PriceId::from_uuid(row.id),
            variant_id: VariantId::from_uuid(row.variant_id),
            amount,
            effective_from: row.effective_from,
        },
        request_fingerprint: row.request_fingerprint,
    })
}

/// A price about to be recorded.
#[derive(Clone, Copy, Debug)]
pub struct NewPrice<'a> {
    pub price: Price,
    pub idempotency: Option<(&'a IdempotencyKey, RequestFingerprint)>,
    pub now: DateTime<Utc>,
}

/// Records a price. `None` when the idempotency key is taken (see
/// `products::insert`).
#[instrument(level = "debug", skip_all, fields(price_id = %new.price.id, variant_id = %new.price.variant_id), err)]
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    new: NewPrice<'_>,
) -> Result<Option<StoredPrice>, StoreError> {
    let row = price::Model {
        id: new.price.id.as_uuid(),
        variant_id: new.price.variant_id.as_uuid(),
        currency: new.price.amount.currency().code().to_owned(),
        amount_minor: new.price.amount.amount_minor(),
        effective_from: new.price.effective_from,
        created_at: new.now,
        idempotency_key: new.idempotency.map(|(key, _)| key.as_str().to_owned()),
        request_fingerprint: new
            .idempotency
            .map(|(_, fingerprint)| fingerprint.as_bytes().to_vec()),
    };
    // Without RETURNING: with `ON CONFLICT DO NOTHING` a skipped row
    // returns nothing, which SeaORM reports as a failed lookup rather than
    // a conflict. The row is exactly what was written, so it needs no
    // read-back either.
    let inserted = price::Entity::insert(row.clone().into_active_model())
        .on_conflict_do_nothing_on([price::Column::IdempotencyKey])
        .exec_without_returning(db)
        .await?;
    match inserted {
        sea_orm::TryInsertResult::Inserted(1) => from_row(row).map(Some),
        sea_orm::TryInsertResult::Inserted(0) | sea_orm::TryInsertResult::Conflicted => Ok(None),
        sea_orm::TryInsertResult::Inserted(_) | sea_orm::TryInsertResult::Empty => Err(
            StoreError::internal("unexpected row count inserting a price"),
        ),
    }
}

#[instrument(level = "debug", skip_all, err)]
pub async fn find_by_idempotency_key<C: ConnectionTrait>(
    db: &C,
    key: &IdempotencyKey,
) -> Result<Option<StoredPrice>, StoreError> {
    price::Entity::find()
        .filter(price::Column::IdempotencyKey.eq(key.as_str()))
        .one(db)
        .await?
        .map(from_row)
        .transpose()
}

/// Every recorded price of `variant_id` in `currency`, future ones
/// included, in effective order. SetPrice reads it (under the variant's
/// row lock) to decide against the full history with
/// `domain::price::decide_price`.
#[instrument(level = "debug", skip_all, fields(variant_id = %variant_id, currency = %currency), err)]
pub async fn history<C: ConnectionTrait>(
    db: &C,
    variant_id: VariantId,
    currency: Currency,
) -> Result<Vec<Price>, StoreError> {
    price::Entity::find()
        .filter(price::Column::VariantId.eq(variant_id.as_uuid()))
        .filter(price::Column::Currency.eq(currency.code()))
        .order_by(price::Column::EffectiveFrom, Order::Asc)
        .order_by(price::Column::Id, Order::Asc)
        .all(db)
        .await?
        .into_iter()
        .map(|row| from_row(row).map(|stored| stored.price))
        .collect()
}

/// The price in effect at `at` of each of `variant_ids`, per currency (or
/// only in `currency`), ordered by variant then currency.
///
/// The rule of `domain::price::select_in_effect`, in SQL: `DISTINCT ON`
/// keeps the first row of each (variant, currency) in
/// `effective_from DESC, id DESC` order among rows not in the future, one
/// backward scan of `prices_lookup_idx` per pair.
#[instrument(level = "debug", skip_all, fields(variants = variant_ids.len()), err)]
pub async fn in_effect_for_variants<C: ConnectionTrait>(
    db: &C,
    variant_ids: &[VariantId],
    currency: Option<Currency>,
    at: DateTime<Utc>,
) -> Result<Vec<Price>, StoreError> {
    if variant_ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<uuid::Uuid> = variant_ids.iter().map(|id| id.as_uuid()).collect();
    let sql = "SELECT DISTINCT ON (variant_id, currency) \
               id, variant_id, currency, amount_minor, effective_from, created_at, \
               idempotency_key, request_fingerprint \
               FROM prices \
               WHERE variant_id = ANY($1) AND effective_from <= $2 \
               AND ($3::text IS NULL OR currency = $3) \
               ORDER BY variant_id, currency, effective_from DESC, id DESC";
    let statement = Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        [
            Value::from(ids),
            Value::from(at),
            Value::from(currency.map(|currency| currency.code().to_owned())),
        ],
    );
    price::Entity::find()
        .from_raw_sql(statement)
        .all(db)
        .await?
        .into_iter()
        .map(|row| from_row(row).map(|stored| stored.price))
        .collect()
}
