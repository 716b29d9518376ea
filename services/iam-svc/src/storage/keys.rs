//! The `signing_keys` table.

use chrono::{DateTime, Utc};
use ecommerce_db::StoreError;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};

use super::entities::signing_key;

pub use signing_key::Model as SigningKeyRow;

/// Every key not retired, newest first: the first signs, all verify.
pub async fn active<C: ConnectionTrait>(db: &C) -> Result<Vec<SigningKeyRow>, StoreError> {
    Ok(signing_key::Entity::find()
        .filter(signing_key::Column::RetiredAt.is_null())
        .order_by_desc(signing_key::Column::CreatedAt)
        .order_by_desc(signing_key::Column::Kid)
        .all(db)
        .await?)
}

/// Stores a key unless its kid is already there.
pub async fn insert_if_absent<C: ConnectionTrait>(
    db: &C,
    kid: &str,
    private_key_pem: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    signing_key::Entity::insert(signing_key::ActiveModel {
        kid: Set(kid.to_owned()),
        private_key_pem: Set(private_key_pem.to_owned()),
        created_at: Set(now),
        retired_at: Set(None),
    })
    .on_conflict_do_nothing_on([signing_key::Column::Kid])
    .exec(db)
    .await?;
    Ok(())
}
