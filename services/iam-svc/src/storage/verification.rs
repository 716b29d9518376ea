//! The `email_verification_tokens` table: only SHA-256 digests of tokens.

use chrono::{DateTime, Utc};
use ecommerce_db::StoreError;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter,
    QuerySelect,
};
use uuid::Uuid;

use super::entities::email_verification_token as token;

pub use token::Model as VerificationTokenRow;

pub async fn insert<C: ConnectionTrait>(
    db: &C,
    token_hash: Vec<u8>,
    user_id: Uuid,
    email: String,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    token::Entity::insert(token::ActiveModel {
        token_hash: Set(token_hash),
        user_id: Set(user_id),
        email: Set(email),
        created_at: Set(now),
        expires_at: Set(expires_at),
        used_at: Set(None),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The token row, locked: two concurrent uses of one token apply once.
pub async fn lock_by_hash<C: ConnectionTrait>(
    db: &C,
    token_hash: &[u8],
) -> Result<Option<VerificationTokenRow>, StoreError> {
    Ok(token::Entity::find_by_id(token_hash.to_vec())
        .lock_exclusive()
        .one(db)
        .await?)
}

pub async fn mark_used<C: ConnectionTrait>(
    db: &C,
    token_hash: &[u8],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    token::Entity::update_many()
        .col_expr(token::Column::UsedAt, Expr::value(now))
        .filter(token::Column::TokenHash.eq(token_hash.to_vec()))
        .exec(db)
        .await?;
    Ok(())
}

/// Spends every unused token of `user_id`: only the newest mail's token works.
pub async fn spend_all_of_user<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    token::Entity::update_many()
        .col_expr(token::Column::UsedAt, Expr::value(now))
        .filter(token::Column::UserId.eq(user_id))
        .filter(token::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// The verification mails (one token each) sent to `email` as `user_id`'s
/// address after `since`: how many, the oldest and the newest.
pub async fn recent_to_address<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    email: &str,
    since: DateTime<Utc>,
) -> Result<RecentTokens, StoreError> {
    let recent = token::Entity::find()
        .select_only()
        .column_as(Expr::col(token::Column::TokenHash).count(), "count")
        .column_as(Expr::col(token::Column::CreatedAt).min(), "oldest")
        .column_as(Expr::col(token::Column::CreatedAt).max(), "newest")
        .filter(token::Column::UserId.eq(user_id))
        .filter(token::Column::Email.eq(email))
        .filter(token::Column::CreatedAt.gt(since))
        .into_model::<RecentTokens>()
        .one(db)
        .await?;
    Ok(recent.unwrap_or_default())
}

/// See [`recent_to_address`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromQueryResult)]
pub struct RecentTokens {
    pub count: i64,
    pub oldest: Option<DateTime<Utc>>,
    pub newest: Option<DateTime<Utc>>,
}
