//! The `sign_in_failures` table: recent failures per account and per client.
//!
//! A sign-in attempt is written here *before* its password is checked
//! ([`serialize_attempts`] then [`record`]) and deleted when the password
//! turns out right, so a burst of parallel attempts cannot all pass the
//! throttle on the same stale count.

use chrono::{DateTime, Utc};
use ecommerce_db::StoreError;
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter,
    QuerySelect, Statement,
    sea_query::{Expr, ExprTrait},
};

use super::entities::sign_in_failure as failure;

/// How many failures happened since a moment, and the oldest of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromQueryResult)]
pub struct RecentFailures {
    pub count: i64,
    pub oldest: Option<DateTime<Utc>>,
}

/// Whose failures to count.
#[derive(Clone, Copy, Debug)]
pub enum FailureKey<'a> {
    /// The normalized email, whether or not a user has it.
    Account(&'a str),
    /// The client's address.
    Client(&'a str),
}

/// Makes concurrent attempts on `account` or from `client_address` take
/// turns until the caller's transaction ends, so each reads the count the
/// previous one left. Transaction-scoped advisory locks, always account
/// first, then client (two classes, so an email never collides with an
/// address): no two attempts can wait for each other in a cycle. A hash
/// collision only makes two keys take turns too.
pub async fn serialize_attempts<C: ConnectionTrait>(
    db: &C,
    account: &str,
    client_address: &str,
) -> Result<(), StoreError> {
    for (class, key) in [
        (ACCOUNT_LOCK_CLASS, account),
        (CLIENT_LOCK_CLASS, client_address),
    ] {
        db.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1, hashtext($2))",
            [class.into(), key.into()],
        ))
        .await?;
    }
    Ok(())
}

const ACCOUNT_LOCK_CLASS: i32 = 0x1a_0001;
const CLIENT_LOCK_CLASS: i32 = 0x1a_0002;

/// Counts one attempt (a failure until [`delete`]d); returns its id.
pub async fn record<C: ConnectionTrait>(
    db: &C,
    account: &str,
    client_address: &str,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let inserted = failure::Entity::insert(failure::ActiveModel {
        account: Set(account.to_owned()),
        client_address: Set(client_address.to_owned()),
        failed_at: Set(now),
        ..Default::default()
    })
    .exec(db)
    .await?;
    Ok(inserted.last_insert_id)
}

/// Uncounts an attempt whose password was right.
pub async fn delete<C: ConnectionTrait>(db: &C, id: i64) -> Result<(), StoreError> {
    failure::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}

pub async fn recent<C: ConnectionTrait>(
    db: &C,
    key: FailureKey<'_>,
    since: DateTime<Utc>,
) -> Result<RecentFailures, StoreError> {
    let filter = match key {
        FailureKey::Account(account) => failure::Column::Account.eq(account),
        FailureKey::Client(client) => failure::Column::ClientAddress.eq(client),
    };
    let recent = failure::Entity::find()
        .select_only()
        .column_as(Expr::col(failure::Column::Id).count(), "count")
        .column_as(Expr::col(failure::Column::FailedAt).min(), "oldest")
        .filter(filter)
        .filter(failure::Column::FailedAt.gt(since))
        .into_model::<RecentFailures>()
        .one(db)
        .await?;
    Ok(recent.unwrap_or_default())
}

/// Forgets an account's failures after a successful sign-in, so old
/// mistakes do not count toward a later lockout.
pub async fn forget_account<C: ConnectionTrait>(db: &C, account: &str) -> Result<(), StoreError> {
    failure::Entity::delete_many()
        .filter(failure::Column::Account.eq(account))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes failures older than `before`; they no longer count.
pub async fn prune<C: ConnectionTrait>(db: &C, before: DateTime<Utc>) -> Result<u64, StoreError> {
    let result = failure::Entity::delete_many()
        .filter(failure::Column::FailedAt.lt(before))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
