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
