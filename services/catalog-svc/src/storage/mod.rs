//! catalog-svc's tables through SeaORM.
//!
//! Every function takes `&impl ConnectionTrait`, so it runs inside whatever
//! transaction the caller opened (the one that also enqueues the events),
//! and returns the shared `ecommerce_db::StoreError`, which classifies the
//! SQLSTATE once; the one failure that means something to callers, a taken
//! SKU, is claimed by [`variants::insert`]. Rows are mapped to domain
//! models here (a row that breaks an invariant is an internal
//! `StoreError` naming it); nothing above this module sees a SeaORM type.
//!
//! Optimistic concurrency: every change to a product or variant is an
//! `UPDATE ... WHERE id = $1 AND version = $2` that also sets `version + 1`.
//! Callers read the row `FOR UPDATE` first in the same transaction and
//! check the caller's expected version against it (ABORTED, naming both),
//! so zero rows here means a concurrent change slipped past the lock: a
//! conflict, retried; a row that vanished (rows are never deleted) is a
//! bug.
//!
//! Table names are unqualified: the pool's `search_path` is the service's
//! schema (see `catalog-migration`).

use chrono::{DateTime, Utc};
use ecommerce_db::StoreError;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, ModelTrait, QueryFilter, UpdateMany, Value,
};
use uuid::Uuid;

use crate::domain::error::Resource;
use crate::domain::model::Version;

pub mod entities;
pub mod prices;
pub mod products;
pub mod variants;

/// The unique constraint that makes a SKU name one variant.
pub const VARIANTS_SKU_KEY: &str = "variants_sku_key";

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
    /// What a failed update names.
    const RESOURCE: Resource;
    const ID: Self::Column;
    const VERSION: Self::Column;
    const UPDATED_AT: Self::Column;
}

/// Applies `update` to row `id` only if it is still at `read_version`,
/// bumping the version and `updated_at`; returns the updated row. Zero rows
/// is a conflict naming both versions when the row moved on (the whole
/// transaction runs again), internal when it is gone.
pub(crate) async fn conditional_update<E, C>(
    db: &C,
    id: Uuid,
    read_version: Version,
    now: DateTime<Utc>,
    update: UpdateMany<E>,
) -> Result<E::Model, StoreError>
where
    E: VersionedEntity,
    C: ConnectionTrait,
{
    let next_version = read_version.next().ok_or_else(|| {
        StoreError::internal(format!(
            "{} {id} is at version {read_version}, which cannot grow",
            E::RESOURCE
        ))
    })?;
    let updated = update
        .col_expr(E::VERSION, Expr::value(next_version.get()))
        .col_expr(E::UPDATED_AT, Expr::value(now))
        .filter(E::ID.eq(id))
        .filter(E::VERSION.eq(read_version.get()))
        .exec_with_returning(db)
        .await?;
    if let Some(row) = updated.into_iter().next() {
        return Ok(row);
    }
    let current = E::find()
        .filter(E::ID.eq(id))
        .one(db)
        .await?
        .ok_or_else(|| {
            StoreError::internal(format!("{} {id} vanished during its update", E::RESOURCE))
        })?;
    match current.get(E::VERSION) {
        Value::BigInt(Some(current)) => Err(StoreError::conflict(format!(
            "{} {id} moved from version {read_version} to {current}",
            E::RESOURCE
        ))),
        other => Err(StoreError::internal(format!(
            "{} {id} has a version of unexpected type: {other:?}",
            E::RESOURCE
        ))),
    }
}
