//! The `sessions` and `refresh_tokens` tables.

use chrono::{DateTime, Utc};
use ecommerce_db::StoreError;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
};
use uuid::Uuid;

use super::entities::{refresh_token, session};

pub use refresh_token::Model as RefreshTokenRow;
pub use session::Model as SessionRow;

pub async fn insert_session<C: ConnectionTrait>(db: &C, row: SessionRow) -> Result<(), StoreError> {
    session::Entity::insert(session::ActiveModel {
        id: Set(row.id),
        user_id: Set(row.user_id),
        created_at: Set(row.created_at),
        last_refreshed_at: Set(row.last_refreshed_at),
        expires_at: Set(row.expires_at),
        absolute_expires_at: Set(row.absolute_expires_at),
        revoked_at: Set(row.revoked_at),
        revoked_reason: Set(row.revoked_reason),
        client_address: Set(row.client_address),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

pub async fn insert_refresh_token<C: ConnectionTrait>(
    db: &C,
    token_hash: Vec<u8>,
    session_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    refresh_token::Entity::insert(refresh_token::ActiveModel {
        token_hash: Set(token_hash),
        session_id: Set(session_id),
        issued_at: Set(now),
        spent_at: Set(None),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

pub async fn find<C: ConnectionTrait>(
    db: &C,
    session_id: Uuid,
) -> Result<Option<SessionRow>, StoreError> {
    Ok(session::Entity::find_by_id(session_id).one(db).await?)
}

/// The refresh token and its session, both locked, so a token presented
/// twice at once rotates once and the other call sees it spent.
pub async fn lock_by_refresh_token<C: ConnectionTrait>(
    db: &C,
    token_hash: &[u8],
) -> Result<Option<(RefreshTokenRow, SessionRow)>, StoreError> {
    let Some(token) = refresh_token::Entity::find_by_id(token_hash.to_vec())
        .lock_exclusive()
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let session = session::Entity::find_by_id(token.session_id)
        .lock_exclusive()
        .one(db)
        .await?;
    Ok(session.map(|session| (token, session)))
}

pub async fn spend_refresh_token<C: ConnectionTrait>(
    db: &C,
    token_hash: &[u8],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::SpentAt, Expr::value(now))
        .filter(refresh_token::Column::TokenHash.eq(token_hash.to_vec()))
        .exec(db)
        .await?;
    Ok(())
}

/// Records a refresh: the sliding expiry moves to `expires_at`.
pub async fn slide<C: ConnectionTrait>(
    db: &C,
    session_id: Uuid,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    session::Entity::update_many()
        .col_expr(session::Column::LastRefreshedAt, Expr::value(now))
        .col_expr(session::Column::ExpiresAt, Expr::value(expires_at))
        .filter(session::Column::Id.eq(session_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Revokes the session unless it already is; true when this call did.
pub async fn revoke<C: ConnectionTrait>(
    db: &C,
    session_id: Uuid,
    now: DateTime<Utc>,
    reason: &str,
) -> Result<bool, StoreError> {
    let result = session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Expr::value(now))
        .col_expr(session::Column::RevokedReason, Expr::value(reason))
        .filter(session::Column::Id.eq(session_id))
        .filter(session::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}
