//! catalog-svc's tables through SeaORM.
//!
//! Every function takes `&impl ConnectionTrait`, so it runs inside whatever
//! transaction the caller opened (the one that also enqueues the events),
//! and returns a [`CatalogError`](crate::domain::CatalogError): database
//! errors are translated once, in [`error`]. Rows are mapped to domain
//! models here; nothing above this module sees a SeaORM type.
//!
//! Optimistic concurrency: every change to a product or variant is an
//! `UPDATE ... WHERE id = $1 AND version = $2` that also sets `version + 1`.
//! Zero rows means the row is gone (NOT_FOUND) or moved on (ABORTED,
//! naming both versions). Callers that must check the current state first
//! (lifecycle rules) read it `FOR UPDATE` in the same transaction, so the
//! conditional update then only fails on a bug.
//!
//! Table names are unqualified: the pool's `search_path` is the service's
//! schema (see `catalog-migration`).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, ModelTrait, QueryFilter, UpdateMany, Value,
};
use uuid::Uuid;

use crate::domain::error::{CatalogError, Resource};
use crate::domain::model::Version;
use crate::storage::error::translate;

pub mod entities;
pub(crate) mod error;
pub mod prices;
pub mod products;
pub mod variants;

/// The unique constraint that makes a SKU name one variant.
pub const VARIANTS_SKU_KEY: &str = "variants_sku_key";
/// The unique constraints that make idempotent creates idempotent.
pub const PRODUCTS_IDEMPOTENCY_KEY: &str = "products_idempotency_key_key";
pub const VARIANTS_IDEMPOTENCY_KEY: &str = "variants_idempotency_key_key";
pub const PRICES_IDEMPOTENCY_KEY: &str = "prices_idempotency_key_key";

/// How a row is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lock {
    /// A plain read.
    None,
    /// `FOR SHARE`: the row cannot change until the transaction ends, but
    /// others may read-lock it too (a product while a variant or price of
    /// it is written).
    Share,
    /// `FOR UPDATE`: the caller is about to change the row.
    Update,
}

fn apply_lock<S: sea_orm::QuerySelect>(select: S, lock: Lock) -> S {
    match lock {
        Lock::None => select,
        Lock::Share => select.lock_shared(),
        Lock::Update => select.lock_exclusive(),
    }
}

/// A table whose rows change only through versioned conditional updates.
pub(crate) trait VersionedEntity: EntityTrait {
    /// What a missing or stale row is reported as.
    const RESOURCE: Resource;
    const ID: Self::Column;
    const VERSION: Self::Column;
    const UPDATED_AT: Self::Column;
}

/// Applies `update` to row `id` only if it is still at `read_version`,
/// bumping the version and `updated_at`; returns the updated row. Zero rows
/// means the row is gone (NOT_FOUND) or moved on (ABORTED, naming both
/// versions).
pub(crate) async fn conditional_update<E, C>(
    db: &C,
    id: Uuid,
    read_version: Version,
    now: DateTime<Utc>,
    update: UpdateMany<E>,
) -> Result<E::Model, CatalogError>
where
    E: VersionedEntity,
    C: ConnectionTrait,
{
    let next_version = read_version.next()?;
    let updated = update
        .col_expr(E::VERSION, Expr::value(next_version.get()))
        .col_expr(E::UPDATED_AT, Expr::value(now))
        .filter(E::ID.eq(id))
        .filter(E::VERSION.eq(read_version.get()))
        .exec_with_returning(db)
        .await
        .map_err(translate)?;
    if let Some(row) = updated.into_iter().next() {
        return Ok(row);
    }
    let current = E::find()
        .filter(E::ID.eq(id))
        .one(db)
        .await
        .map_err(translate)?
        .ok_or_else(|| CatalogError::not_found(E::RESOURCE, id))?;
    let current_version = match current.get(E::VERSION) {
        Value::BigInt(Some(version)) => version,
        other => {
            return Err(CatalogError::internal(format!(
                "{} {id} has a version of unexpected type: {other:?}",
                E::RESOURCE
            )));
        }
    };
    Err(CatalogError::StaleVersion {
        resource: E::RESOURCE,
        id: id.to_string(),
        expected: read_version.get(),
        current: current_version,
    })
}
