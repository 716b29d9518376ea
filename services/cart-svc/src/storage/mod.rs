//! The cart tables (migrations: `cart-migration`), through SeaORM
//! statements. A cart is written whole: its row guarded by the version it
//! was read at, its lines replaced. Failures are the shared
//! [`StoreError`], which classifies the SQLSTATE once.

use chrono::{DateTime, Utc};
use ecommerce_db::StoreError;
use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement, Value};
use tracing::instrument;
use uuid::Uuid;

use crate::domain::{Cart, CartId, CartLine, Owner, Quantity, Sku, UnavailableReason};

fn statement(sql: &str, values: impl IntoIterator<Item = Value>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

/// A cart and its lines; `lock` takes the cart row `FOR UPDATE` first.
#[instrument(skip_all, fields(%cart_id, lock), err)]
pub async fn find_cart<C: ConnectionTrait>(
    db: &C,
    cart_id: CartId,
    lock: bool,
) -> Result<Option<Cart>, StoreError> {
    let sql = if lock {
        "SELECT id, user_id, currency, version, created_at, updated_at FROM carts WHERE id = $1 FOR UPDATE"
    } else {
        "SELECT id, user_id, currency, version, created_at, updated_at FROM carts WHERE id = $1"
    };
    let Some(row) = db
        .query_one_raw(statement(sql, [Value::from(cart_id.as_uuid())]))
        .await?
    else {
        return Ok(None);
    };
    let lines = db
        .query_all_raw(statement(
            "SELECT sku, variant_id, product_id, title, quantity, seen_unit_price_minor, \
             unavailable_reason FROM cart_lines WHERE cart_id = $1 ORDER BY position",
            [Value::from(cart_id.as_uuid())],
        ))
        .await?
        .iter()
        .map(line_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let user_id: Option<Uuid> = row.try_get("", "user_id")?;
    Ok(Some(Cart {
        id: CartId::from_uuid(row.try_get("", "id")?),
        owner: user_id.map_or(Owner::Anonymous, Owner::User),
        currency: row.try_get("", "currency")?,
        version: row.try_get("", "version")?,
        lines,
        created_at: row.try_get("", "created_at")?,
        updated_at: row.try_get("", "updated_at")?,
    }))
}

fn line_from_row(row: &QueryResult) -> Result<CartLine, StoreError> {
    let sku: String = row.try_get("", "sku")?;
    let quantity: i32 = row.try_get("", "quantity")?;
    let reason: Option<String> = row.try_get("", "unavailable_reason")?;
    let corrupt = |what: String| StoreError::internal(format!("cart_lines row is corrupt: {what}"));
    Ok(CartLine {
        sku: Sku::parse(&sku).map_err(|error| corrupt(error.to_string()))?,
        variant_id: row.try_get("", "variant_id")?,
        product_id: row.try_get("", "product_id")?,
        title: row.try_get("", "title")?,
        quantity: Quantity::new(quantity).map_err(|error| corrupt(error.to_string()))?,
        seen_unit_price_minor: row.try_get("", "seen_unit_price_minor")?,
        flag: match reason {
            Some(raw) => Some(
                UnavailableReason::from_stored(&raw)
                    .ok_or_else(|| corrupt(format!("unavailable_reason {raw:?}")))?,
            ),
            None => None,
        },
    })
}

/// The id of `user_id`'s cart.
pub async fn find_user_cart_id<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
) -> Result<Option<CartId>, StoreError> {
    let row = db
        .query_one_raw(statement(
            "SELECT id FROM carts WHERE user_id = $1",
            [Value::from(user_id)],
        ))
        .await?;
    Ok(row
        .map(|row| row.try_get("", "id").map(CartId::from_uuid))
        .transpose()?)
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
            db.execute_raw(statement(
                "INSERT INTO carts (id, user_id, currency, version, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                [
                    Value::from(cart.id.as_uuid()),
                    Value::from(user_id),
                    Value::from(cart.currency.clone()),
                    Value::from(cart.version),
                    Value::from(cart.created_at),
                    Value::from(cart.updated_at),
                ],
            ))
            .await?;
        }
        Some(read_version) => {
            let updated = db
                .execute_raw(statement(
                    "UPDATE carts SET user_id = $2, version = $3, updated_at = $4 \
                     WHERE id = $1 AND version = $5",
                    [
                        Value::from(cart.id.as_uuid()),
                        Value::from(user_id),
                        Value::from(cart.version),
                        Value::from(cart.updated_at),
                        Value::from(read_version),
                    ],
                ))
                .await?;
            if updated.rows_affected() != 1 {
                return Err(StoreError::conflict(format!(
                    "cart {} moved on from version {read_version}",
                    cart.id.as_uuid()
                )));
            }
            db.execute_raw(statement(
                "DELETE FROM cart_lines WHERE cart_id = $1",
                [Value::from(cart.id.as_uuid())],
            ))
            .await?;
        }
    }
    for (position, line) in cart.lines.iter().enumerate() {
        db.execute_raw(statement(
            "INSERT INTO cart_lines (cart_id, sku, position, variant_id, product_id, title, \
             quantity, seen_unit_price_minor, unavailable_reason) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            [
                Value::from(cart.id.as_uuid()),
                Value::from(line.sku.as_str().to_owned()),
                Value::from(i32::try_from(position).unwrap_or(i32::MAX)),
                Value::from(line.variant_id),
                Value::from(line.product_id),
                Value::from(line.title.clone()),
                Value::from(line.quantity.get()),
                Value::from(line.seen_unit_price_minor),
                Value::from(line.flag.map(|reason| reason.as_stored().to_owned())),
            ],
        ))
        .await?;
    }
    Ok(())
}

/// Deletes a cart and its lines.
pub async fn delete_cart<C: ConnectionTrait>(db: &C, cart_id: CartId) -> Result<(), StoreError> {
    db.execute_raw(statement(
        "DELETE FROM carts WHERE id = $1",
        [Value::from(cart_id.as_uuid())],
    ))
    .await?;
    Ok(())
}

/// The cart an AddItem idempotency key was first used on.
pub async fn find_idempotency_key<C: ConnectionTrait>(
    db: &C,
    key: &str,
) -> Result<Option<CartId>, StoreError> {
    let row = db
        .query_one_raw(statement(
            "SELECT cart_id FROM cart_idempotency_keys WHERE idempotency_key = $1",
            [Value::from(key.to_owned())],
        ))
        .await?;
    Ok(row
        .map(|row| row.try_get("", "cart_id").map(CartId::from_uuid))
        .transpose()?)
}

/// Records an AddItem idempotency key (a concurrent duplicate is a unique
/// violation, so its transaction rolls back).
pub async fn insert_idempotency_key<C: ConnectionTrait>(
    db: &C,
    key: &str,
    cart_id: CartId,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    db.execute_raw(statement(
        "INSERT INTO cart_idempotency_keys (idempotency_key, cart_id, created_at) VALUES ($1, $2, $3)",
        [
            Value::from(key.to_owned()),
            Value::from(cart_id.as_uuid()),
            Value::from(now),
        ],
    ))
    .await?;
    Ok(())
}

/// The user an anonymous cart was merged into.
pub async fn find_merge<C: ConnectionTrait>(
    db: &C,
    anonymous_cart_id: CartId,
) -> Result<Option<Uuid>, StoreError> {
    let row = db
        .query_one_raw(statement(
            "SELECT user_id FROM merged_carts WHERE anonymous_cart_id = $1",
            [Value::from(anonymous_cart_id.as_uuid())],
        ))
        .await?;
    Ok(row.map(|row| row.try_get("", "user_id")).transpose()?)
}

pub async fn insert_merge<C: ConnectionTrait>(
    db: &C,
    anonymous_cart_id: CartId,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    db.execute_raw(statement(
        "INSERT INTO merged_carts (anonymous_cart_id, user_id, merged_at) VALUES ($1, $2, $3)",
        [
            Value::from(anonymous_cart_id.as_uuid()),
            Value::from(user_id),
            Value::from(now),
        ],
    ))
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
    let row = db
        .query_one_raw(statement(
            "SELECT checkout_key, cart_id, user_id, cart_version, order_id, order_status \
             FROM cart_checkouts WHERE checkout_key = $1",
            [Value::from(checkout_key.to_owned())],
        ))
        .await?;
    row.map(|row| {
        Ok(StoredCheckout {
            checkout_key: row.try_get("", "checkout_key")?,
            cart_id: CartId::from_uuid(row.try_get("", "cart_id")?),
            user_id: row.try_get("", "user_id")?,
            cart_version: row.try_get("", "cart_version")?,
            order_id: row.try_get("", "order_id")?,
            order_status: row.try_get("", "order_status")?,
        })
    })
    .transpose()
}

/// Records a placed checkout; a second record of one key is ignored.
pub async fn insert_checkout<C: ConnectionTrait>(
    db: &C,
    checkout: &StoredCheckout,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    db.execute_raw(statement(
        "INSERT INTO cart_checkouts (checkout_key, cart_id, user_id, cart_version, order_id, \
         order_status, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (checkout_key) DO NOTHING",
        [
            Value::from(checkout.checkout_key.clone()),
            Value::from(checkout.cart_id.as_uuid()),
            Value::from(checkout.user_id),
            Value::from(checkout.cart_version),
            Value::from(checkout.order_id),
            Value::from(checkout.order_status),
            Value::from(now),
        ],
    ))
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
    let updated = db
        .execute_raw(statement(
            "UPDATE carts SET version = version + 1, updated_at = GREATEST($3, created_at) \
             WHERE id = $1 AND version = $2",
            [
                Value::from(cart_id.as_uuid()),
                Value::from(version),
                Value::from(now),
            ],
        ))
        .await?;
    if updated.rows_affected() == 0 {
        return Ok(false);
    }
    db.execute_raw(statement(
        "DELETE FROM cart_lines WHERE cart_id = $1",
        [Value::from(cart_id.as_uuid())],
    ))
    .await?;
    Ok(true)
}

/// Flags every line of `sku` (a discontinued variant). Returns the number of lines.
pub async fn flag_lines_by_sku<C: ConnectionTrait>(
    db: &C,
    sku: &Sku,
    reason: UnavailableReason,
) -> Result<u64, StoreError> {
    let updated = db
        .execute_raw(statement(
            "UPDATE cart_lines SET unavailable_reason = $2 WHERE sku = $1",
            [
                Value::from(sku.as_str().to_owned()),
                Value::from(reason.as_stored().to_owned()),
            ],
        ))
        .await?;
    Ok(updated.rows_affected())
}

/// Flags every line of `product_id` (an archived product). Returns the number of lines.
pub async fn flag_lines_by_product<C: ConnectionTrait>(
    db: &C,
    product_id: Uuid,
    reason: UnavailableReason,
) -> Result<u64, StoreError> {
    let updated = db
        .execute_raw(statement(
            "UPDATE cart_lines SET unavailable_reason = $2 WHERE product_id = $1",
            [
                Value::from(product_id),
                Value::from(reason.as_stored().to_owned()),
            ],
        ))
        .await?;
    Ok(updated.rows_affected())
}
