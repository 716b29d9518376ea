//! The cart tables (migrations: `cart-migration`), through SeaORM entities
//! ([`entities`]). A cart is written whole: its row guarded by the version
//! it was read at, its lines replaced. Failures are the shared
//! [`StoreError`], which classifies the SQLSTATE once.

pub mod entities;

use chrono::{DateTime, Utc};
use ecommerce_db::StoreError;
use sea_orm::sea_query::{Expr, ExprTrait as _, Func};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use tracing::instrument;
use uuid::Uuid;

use self::entities::{cart, cart_checkout, cart_idempotency_key, cart_line, merged_cart};
use crate::domain::{Cart, CartId, CartLine, Owner, Quantity, Sku, UnavailableReason};

/// A cart and its lines; `lock` takes the cart row `FOR UPDATE` first.
#[instrument(skip_all, fields(%cart_id, lock), err)]
pub async fn find_cart<C: ConnectionTrait>(
    db: &C,
    cart_id: CartId,
    lock: bool,
) -> Result<Option<Cart>, StoreError> {
    let mut select = cart::Entity::find_by_id(cart_id.as_uuid());
    if lock {
        select = select.lock_exclusive();
    }
    let Some(row) = select.one(db).await? else {
        return Ok(None);
    };
    let lines = cart_line::Entity::find()
        .filter(cart_line::Column::CartId.eq(cart_id.as_uuid()))
        .order_by_asc(cart_line::Column::Position)
        .all(db)
        .await?
        .into_iter()
        .map(line_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(Cart {
        id: CartId::from_uuid(row.id),
        owner: row.user_id.map_or(Owner::Anonymous, Owner::User),
        currency: row.currency,
        version: row.version,
        lines,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }))
}

fn line_from_row(row: cart_line::Model) -> Result<CartLine, StoreError> {
    let corrupt = |what: String| StoreError::internal(format!("cart_lines row is corrupt: {what}"));
    Ok(CartLine {
        sku: Sku::parse(&row.sku).map_err(|error| corrupt(error.to_string()))?,
        variant_id: row.variant_id,
        product_id: row.product_id,
        title: row.title,
        quantity: Quantity::new(row.quantity).map_err(|error| corrupt(error.to_string()))?,
        seen_unit_price_minor: row.seen_unit_price_minor,
        flag: match row.unavailable_reason {
            Some(raw) => Some(
                UnavailableReason::from_stored(&raw)
                    .ok_or_else(|| corrupt(format!("unavailable_reason {raw:?}")))?,
            ),
            None => None,
        },
    })
}

fn line_row(cart_id: CartId, position: usize, line: &CartLine) -> cart_line::ActiveModel {
    cart_line::ActiveModel {
        cart_id: Set(cart_id.as_uuid()),
        sku: Set(line.sku.as_str().to_owned()),
        position: Set(i32::try_from(position).unwrap_or(i32::MAX)),
        variant_id: Set(line.variant_id),
        product_id: Set(line.product_id),
        title: Set(line.title.clone()),
        quantity: Set(line.quantity.get()),
        seen_unit_price_minor: Set(line.seen_unit_price_minor),
        unavailable_reason: Set(line.flag.map(|reason| reason.as_stored().to_owned())),
    }
}

/// The id of `user_id`'s cart.
pub async fn find_user_cart_id<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
) -> Result<Option<CartId>, StoreError> {
    let id: Option<Uuid> = cart::Entity::find()
        .select_only()
        .column(cart::Column::Id)
        .filter(cart::Column::UserId.eq(user_id))
        .into_tuple()
        .one(db)
        .await?;
    Ok(id.map(CartId::from_uuid))
}

/// Writes `cart` whole. `read_version` is the version it was read at
/// (`None` for a new cart, inserted): a cart changed meanwhile is a
/// [`StoreError::conflict`]: the transaction runs again and reads it.
#[instrument(skip_all, fields(cart_id = %cart.id, version = cart.version), err)]
pub async fn save_cart<C: ConnectionTrait>(
    db: &C,
    cart: &Cart,
    read_version: Option<i64>,
) -> Result<(), StoreError> {
    let user_id = match cart.owner {
        Owner::Anonymous => None,
        Owner::User(user_id) => Some(user_id),
    };
    match read_version {
        None => {
            let row = cart::ActiveModel {
                id: Set(cart.id.as_uuid()),
                user_id: Set(user_id),
                currency: Set(cart.currency.clone()),
                version: Set(cart.version),
                created_at: Set(cart.created_at),
                updated_at: Set(cart.updated_at),
            };
            cart::Entity::insert(row).exec_without_returning(db).await?;
        }
        Some(read_version) => {
            let updated = cart::Entity::update_many()
                .col_expr(cart::Column::UserId, Expr::value(user_id))
                .col_expr(cart::Column::Version, Expr::value(cart.version))
                .col_expr(cart::Column::UpdatedAt, Expr::value(cart.updated_at))
                .filter(cart::Column::Id.eq(cart.id.as_uuid()))
                .filter(cart::Column::Version.eq(read_version))
                .exec(db)
                .await?;
            if updated.rows_affected != 1 {
                return Err(StoreError::conflict(format!(
                    "cart {} moved on from version {read_version}",
                    cart.id.as_uuid()
                )));
            }
            delete_lines(db, cart.id).await?;
        }
    }
    let lines = cart
        .lines
        .iter()
        .enumerate()
        .map(|(position, line)| line_row(cart.id, position, line));
    // No lines, no statement.
    cart_line::Entity::insert_many(lines)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

async fn delete_lines<C: ConnectionTrait>(db: &C, cart_id: CartId) -> Result<(), StoreError> {
    cart_line::Entity::delete_many()
        .filter(cart_line::Column::CartId.eq(cart_id.as_uuid()))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes a cart and its lines.
pub async fn delete_cart<C: ConnectionTrait>(db: &C, cart_id: CartId) -> Result<(), StoreError> {
    // The lines go with it: ON DELETE CASCADE.
    cart::Entity::delete_by_id(cart_id.as_uuid())
        .exec(db)
        .await?;
    Ok(())
}

/// The cart an AddItem idempotency key was first used on.
pub async fn find_idempotency_key<C: ConnectionTrait>(
    db: &C,
    key: &str,
) -> Result<Option<CartId>, StoreError> {
    let cart_id: Option<Uuid> = cart_idempotency_key::Entity::find_by_id(key.to_owned())
        .select_only()
        .column(cart_idempotency_key::Column::CartId)
        .into_tuple()
        .one(db)
        .await?;
    Ok(cart_id.map(CartId::from_uuid))
}

/// Records an AddItem idempotency key (a concurrent duplicate is a unique
/// violation, so its transaction rolls back).
pub async fn insert_idempotency_key<C: ConnectionTrait>(
    db: &C,
    key: &str,
    cart_id: CartId,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let row = cart_idempotency_key::ActiveModel {
        idempotency_key: Set(key.to_owned()),
        cart_id: Set(cart_id.as_uuid()),
        created_at: Set(now),
    };
    cart_idempotency_key::Entity::insert(row)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The user an anonymous cart was merged into.
pub async fn find_merge<C: ConnectionTrait>(
    db: &C,
    anonymous_cart_id: CartId,
) -> Result<Option<Uuid>, StoreError> {
    Ok(merged_cart::Entity::find_by_id(anonymous_cart_id.as_uuid())
        .select_only()
        .column(merged_cart::Column::UserId)
        .into_tuple()
        .one(db)
        .await?)
}

pub async fn insert_merge<C: ConnectionTrait>(
    db: &C,
    anonymous_cart_id: CartId,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let row = merged_cart::ActiveModel {
        anonymous_cart_id: Set(anonymous_cart_id.as_uuid()),
        user_id: Set(user_id),
        merged_at: Set(now),
    };
    merged_cart::Entity::insert(row)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// An order placed from a cart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCheckout {
    pub checkout_key: String,
    pub cart_id: CartId,
    pub user_id: Uuid,
    pub cart_version: i64,
    pub order_id: Uuid,
    /// `ecommerce.orders.v1.OrderStatus` when the order was placed.
    pub order_status: i32,
}

pub async fn find_checkout<C: ConnectionTrait>(
    db: &C,
    checkout_key: &str,
) -> Result<Option<StoredCheckout>, StoreError> {
    Ok(cart_checkout::Entity::find_by_id(checkout_key.to_owned())
        .one(db)
        .await?
        .map(|row| StoredCheckout {
            checkout_key: row.checkout_key,
            cart_id: CartId::from_uuid(row.cart_id),
            user_id: row.user_id,
            cart_version: row.cart_version,
            order_id: row.order_id,
            order_status: row.order_status,
        }))
}

/// Records a placed checkout; a second record of one key is ignored.
pub async fn insert_checkout<C: ConnectionTrait>(
    db: &C,
    checkout: &StoredCheckout,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let row = cart_checkout::ActiveModel {
        checkout_key: Set(checkout.checkout_key.clone()),
        cart_id: Set(checkout.cart_id.as_uuid()),
        user_id: Set(checkout.user_id),
        cart_version: Set(checkout.cart_version),
        order_id: Set(checkout.order_id),
        order_status: Set(checkout.order_status),
        created_at: Set(now),
    };
    // ON CONFLICT (checkout_key) DO NOTHING: the first record stands.
    cart_checkout::Entity::insert(row)
        .on_conflict_do_nothing_on([cart_checkout::Column::CheckoutKey])
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Empties a checked-out cart, unless it changed since it was priced.
pub async fn clear_cart_at_version<C: ConnectionTrait>(
    db: &C,
    cart_id: CartId,
    version: i64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let updated = cart::Entity::update_many()
        .col_expr(
            cart::Column::Version,
            Expr::col(cart::Column::Version).add(1),
        )
        // GREATEST(now, created_at): updated_at never precedes created_at.
        .col_expr(
            cart::Column::UpdatedAt,
            Func::greatest([Expr::value(now), Expr::col(cart::Column::CreatedAt)]).into(),
        )
        .filter(cart::Column::Id.eq(cart_id.as_uuid()))
        .filter(cart::Column::Version.eq(version))
        .exec(db)
        .await?;
    if updated.rows_affected == 0 {
        return Ok(false);
    }
    delete_lines(db, cart_id).await?;
    Ok(true)
}

/// Flags every line of `sku` (a discontinued variant). Returns the number of lines.
pub async fn flag_lines_by_sku<C: ConnectionTrait>(
    db: &C,
    sku: &Sku,
    reason: UnavailableReason,
) -> Result<u64, StoreError> {
    let updated = cart_line::Entity::update_many()
        .col_expr(
            cart_line::Column::UnavailableReason,
            Expr::value(reason.as_stored()),
        )
        .filter(cart_line::Column::Sku.eq(sku.as_str()))
        .exec(db)
        .await?;
    Ok(updated.rows_affected)
}

/// Flags every line of `product_id` (an archived product). Returns the number of lines.
pub async fn flag_lines_by_product<C: ConnectionTrait>(
    db: &C,
    product_id: Uuid,
    reason: UnavailableReason,
) -> Result<u64, StoreError> {
    let updated = cart_line::Entity::update_many()
        .col_expr(
            cart_line::Column::UnavailableReason,
            Expr::value(reason.as_stored()),
        )
        .filter(cart_line::Column::ProductId.eq(product_id))
        .exec(db)
        .await?;
    Ok(updated.rows_affected)
}
