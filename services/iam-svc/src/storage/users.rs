//! The `users` table.

use chrono::{DateTime, Utc};
use ecommerce_db::StoreError;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

use super::entities::user;
use crate::domain::roles::ADMIN;

pub use user::Model as UserRow;

/// A user about to be inserted; every field already validated.
#[derive(Clone)]
pub struct NewUser {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub roles: Vec<String>,
    pub email_verified_at: Option<DateTime<Utc>>,
    pub signup_key: Option<String>,
    /// Set only by the bootstrap admin: the one account it may make admin.
    pub created_by_bootstrap: bool,
    pub now: DateTime<Utc>,
}

/// Inserts a user. A taken email or signup key fails with a unique
/// violation of [`USERS_EMAIL_KEY`](super::USERS_EMAIL_KEY) or
/// [`USERS_SIGNUP_KEY`](super::USERS_SIGNUP_KEY).
pub async fn insert<C: ConnectionTrait>(db: &C, new_user: NewUser) -> Result<UserRow, StoreError> {
    let row = user::ActiveModel {
        id: Set(new_user.id),
        email: Set(new_user.email),
        email_verified_at: Set(new_user.email_verified_at),
        name: Set(new_user.name),
        image_url: Set(String::new()),
        roles: Set(new_user.roles),
        password_hash: Set(new_user.password_hash),
        signup_key: Set(new_user.signup_key),
        locked_until: Set(None),
        created_at: Set(new_user.now),
        updated_at: Set(new_user.now),
        created_by_bootstrap: Set(new_user.created_by_bootstrap),
    };
    Ok(user::Entity::insert(row).exec_with_returning(db).await?)
}

pub async fn find_by_id<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
) -> Result<Option<UserRow>, StoreError> {
    Ok(user::Entity::find_by_id(id).one(db).await?)
}

/// The user row, locked until the caller's transaction ends, so concurrent
/// changes to one user (role sync, lockout, profile) apply one after another.
pub async fn lock_by_id<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
) -> Result<Option<UserRow>, StoreError> {
    Ok(user::Entity::find_by_id(id)
        .lock_exclusive()
        .one(db)
        .await?)
}

/// `email` must already be normalized (lower case).
pub async fn find_by_email<C: ConnectionTrait>(
    db: &C,
    email: &str,
) -> Result<Option<UserRow>, StoreError> {
    Ok(user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(db)
        .await?)
}

/// Every user holding the `admin` role, oldest first.
pub async fn admins<C: ConnectionTrait>(db: &C) -> Result<Vec<UserRow>, StoreError> {
    Ok(user::Entity::find()
        .filter(Expr::cust_with_values("$1 = ANY (roles)", [ADMIN]))
        .order_by_asc(user::Column::CreatedAt)
        .all(db)
        .await?)
}

pub async fn find_by_signup_key<C: ConnectionTrait>(
    db: &C,
    signup_key: &str,
) -> Result<Option<UserRow>, StoreError> {
    Ok(user::Entity::find()
        .filter(user::Column::SignupKey.eq(signup_key))
        .one(db)
        .await?)
}

/// Applies `changes` (built with `Set` on the columns to change) and stamps
/// `updated_at`.
pub async fn update<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    mut changes: user::ActiveModel,
    now: DateTime<Utc>,
) -> Result<UserRow, StoreError> {
    changes.id = Set(id);
    changes.updated_at = Set(now);
    Ok(user::Entity::update(changes).exec(db).await?)
}

/// Locks sign-in until `until`, unless a later lock is already in place.
pub async fn lock_sign_in_until<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    until: DateTime<Utc>,
) -> Result<(), StoreError> {
    user::Entity::update_many()
        .col_expr(user::Column::LockedUntil, Expr::value(until))
        .filter(user::Column::Id.eq(id))
        .filter(
            user::Column::LockedUntil
                .is_null()
                .or(user::Column::LockedUntil.lt(until)),
        )
        .exec(db)
        .await?;
    Ok(())
}
