//! The cart tables (migrations: `cart-migration`), through SeaORM entities
//! ([`entities`]). A cart is written whole: its row guarded by the version
//! it was read at, its lines replaced. Failures are the shared
//! [`StoreError`], which classifies the SQLSTATE once.

pub mod entities;

use chrono::{DateTime, Utc};
use ecommerce_checkout::SignedSnapshot;
use ecommerce_db::StoreError;
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult,
    QueryFilter, QueryOrder, QuerySelect, Statement,
};
use serde::{Deserialize, Serialize};
use tracing::instrument;
use uuid::Uuid;

use self::entities::{
    anonymous_cart_creation, cart, cart_checkout, cart_idempotency_key, cart_line, merged_cart,
};
use crate::domain::{
    AttemptState, Cart, CartId, CartLine, CheckoutAttempt, CheckoutContent, KeyScope, OrderedLine,
    Owner, Quantity, RecentCreations, Sku, UnavailableReason,
};

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

/// The cart `scope`'s AddItem idempotency key was first used on.
pub async fn find_idempotency_key<C: ConnectionTrait>(
    db: &C,
    scope: KeyScope,
    key: &str,
) -> Result<Option<CartId>, StoreError> {
    let cart_id: Option<Uuid> =
        cart_idempotency_key::Entity::find_by_id((scope.as_stored(), key.to_owned()))
            .select_only()
            .column(cart_idempotency_key::Column::CartId)
            .into_tuple()
            .one(db)
            .await?;
    Ok(cart_id.map(CartId::from_uuid))
}

/// Records `scope`'s AddItem idempotency key (a concurrent duplicate is a
/// unique violation, so its transaction rolls back).
pub async fn insert_idempotency_key<C: ConnectionTrait>(
    db: &C,
    scope: KeyScope,
    key: &str,
    cart_id: CartId,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let row = cart_idempotency_key::ActiveModel {
        scope: Set(scope.as_stored()),
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

/// A line of `cart_checkouts.ordered_lines`.
#[derive(Serialize, Deserialize)]
struct StoredLine {
    sku: String,
    quantity: i32,
}

/// `user_id`'s checkout under `idempotency_key`, pending or placed.
#[instrument(skip_all, fields(%user_id), err)]
pub async fn find_checkout<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    idempotency_key: &str,
) -> Result<Option<CheckoutAttempt>, StoreError> {
    cart_checkout::Entity::find_by_id((user_id, idempotency_key.to_owned()))
        .one(db)
        .await?
        .map(attempt_from_row)
        .transpose()
}

fn attempt_from_row(row: cart_checkout::Model) -> Result<CheckoutAttempt, StoreError> {
    let corrupt = |what: &str| {
        StoreError::internal(format!(
            "cart_checkouts row {}/{:?} is corrupt: {what}",
            row.user_id, row.idempotency_key
        ))
    };
    let content = match &row.content_digest {
        Some(stored) => {
            Some(CheckoutContent::from_slice(stored).ok_or_else(|| corrupt("content_digest"))?)
        }
        None => None,
    };
    let ordered_lines = match &row.ordered_lines {
        Some(stored) => serde_json::from_value::<Vec<StoredLine>>(stored.clone())
            .map_err(|_| corrupt("ordered_lines"))?
            .into_iter()
            .map(|line| {
                Ok(OrderedLine {
                    sku: Sku::parse(&line.sku).map_err(|_| corrupt("ordered_lines sku"))?,
                    quantity: Quantity::new(line.quantity)
                        .map_err(|_| corrupt("ordered_lines quantity"))?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?,
        None => Vec::new(),
    };
    let state = match (
        row.order_id,
        row.order_status,
        &row.snapshot,
        &row.signature,
        row.expires_at,
    ) {
        (Some(order_id), Some(order_status), _, _, _) => AttemptState::Placed {
            order_id,
            order_status,
        },
        (None, None, Some(bytes), Some(signature), Some(expires_at)) => AttemptState::Pending {
            signed: SignedSnapshot {
                bytes: bytes.clone(),
                signature: signature.clone(),
                checkout_key: row.checkout_key.clone(),
            },
            expires_at,
        },
        _ => return Err(corrupt("neither pending nor placed")),
    };
    Ok(CheckoutAttempt {
        user_id: row.user_id,
        idempotency_key: row.idempotency_key,
        checkout_key: row.checkout_key,
        cart_id: CartId::from_uuid(row.cart_id),
        cart_version: row.cart_version,
        content,
        ordered_lines,
        state,
    })
}

/// Stores a pending checkout attempt unless one of its user and key
/// exists (a concurrent one waits for the first to commit, then inserts
/// nothing): the caller reads back the one that stands.
#[instrument(skip_all, fields(user_id = %attempt.user_id), err)]
pub async fn insert_checkout_attempt<C: ConnectionTrait>(
    db: &C,
    attempt: &CheckoutAttempt,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let AttemptState::Pending { signed, expires_at } = &attempt.state else {
        return Err(StoreError::internal(
            "only a pending checkout attempt is inserted",
        ));
    };
    let lines: Vec<StoredLine> = attempt
        .ordered_lines
        .iter()
        .map(|line| StoredLine {
            sku: line.sku.as_str().to_owned(),
            quantity: line.quantity.get(),
        })
        .collect();
    let ordered_lines = serde_json::to_value(lines)
        .map_err(|error| StoreError::internal(format!("ordered_lines: {error}")))?;
    let row = cart_checkout::ActiveModel {
        user_id: Set(attempt.user_id),
        idempotency_key: Set(attempt.idempotency_key.clone()),
        checkout_key: Set(attempt.checkout_key.clone()),
        cart_id: Set(attempt.cart_id.as_uuid()),
        cart_version: Set(attempt.cart_version),
        order_id: Set(None),
        order_status: Set(None),
        created_at: Set(now),
        content_digest: Set(attempt.content.map(|content| content.as_bytes().to_vec())),
        ordered_lines: Set(Some(ordered_lines)),
        snapshot: Set(Some(signed.bytes.clone())),
        signature: Set(Some(signed.signature.clone())),
        expires_at: Set(Some(*expires_at)),
    };
    cart_checkout::Entity::insert(row)
        .on_conflict_do_nothing_on([
            cart_checkout::Column::UserId,
            cart_checkout::Column::IdempotencyKey,
        ])
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Records the order orders answered a pending checkout with, and drops
/// its snapshot (which holds the payment method token). Returns `false`
/// when it was recorded already (by a concurrent retry), so the ordered
/// lines leave the cart once.
#[instrument(skip_all, fields(%user_id, %order_id), err)]
pub async fn record_checkout_order<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    idempotency_key: &str,
    order_id: Uuid,
    order_status: i32,
) -> Result<bool, StoreError> {
    let updated = cart_checkout::Entity::update_many()
        .col_expr(cart_checkout::Column::OrderId, Expr::value(order_id))
        .col_expr(
            cart_checkout::Column::OrderStatus,
            Expr::value(order_status),
        )
        .col_expr(
            cart_checkout::Column::Snapshot,
            Expr::value(None::<Vec<u8>>),
        )
        .col_expr(
            cart_checkout::Column::Signature,
            Expr::value(None::<Vec<u8>>),
        )
        .col_expr(
            cart_checkout::Column::ExpiresAt,
            Expr::value(None::<DateTime<Utc>>),
        )
        .filter(cart_checkout::Column::UserId.eq(user_id))
        .filter(cart_checkout::Column::IdempotencyKey.eq(idempotency_key))
        .filter(cart_checkout::Column::OrderId.is_null())
        .exec(db)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// Forgets a pending checkout (one orders refused as expired, so never
/// placed): the key can start a new one. Returns whether one was deleted.
#[instrument(skip_all, fields(%user_id), err)]
pub async fn delete_pending_checkout<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    idempotency_key: &str,
) -> Result<bool, StoreError> {
    let deleted = cart_checkout::Entity::delete_many()
        .filter(cart_checkout::Column::UserId.eq(user_id))
        .filter(cart_checkout::Column::IdempotencyKey.eq(idempotency_key))
        .filter(cart_checkout::Column::OrderId.is_null())
        .exec(db)
        .await?;
    Ok(deleted.rows_affected == 1)
}

/// Records that the shopper was shown `seen` (SKU, unit price) on
/// `cart_id`'s lines, so they are no longer `price_changed`. Not a change
/// of the cart: its version stays.
#[instrument(skip_all, fields(%cart_id, lines = seen.len()), err)]
pub async fn mark_prices_seen<C: ConnectionTrait>(
    db: &C,
    cart_id: CartId,
    seen: &[(Sku, i64)],
) -> Result<(), StoreError> {
    for (sku, unit_price_minor) in seen {
        cart_line::Entity::update_many()
            .col_expr(
                cart_line::Column::SeenUnitPriceMinor,
                Expr::value(*unit_price_minor),
            )
            .filter(cart_line::Column::CartId.eq(cart_id.as_uuid()))
            .filter(cart_line::Column::Sku.eq(sku.as_str()))
            .exec(db)
            .await?;
    }
    Ok(())
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

/// Advisory-lock class of [`serialize_anonymous_creations`], apart from
/// any other lock on the same hash.
const ANONYMOUS_CREATION_LOCK_CLASS: i32 = 0xca_0001;

/// Makes concurrent anonymous-cart creations from `client_address` take
/// turns until the caller's transaction ends, so each counts the creations
/// the previous one committed (a transaction-scoped advisory lock; a hash
/// collision only makes two addresses take turns too).
pub async fn serialize_anonymous_creations<C: ConnectionTrait>(
    db: &C,
    client_address: &str,
) -> Result<(), StoreError> {
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_advisory_xact_lock($1, hashtext($2))",
        [ANONYMOUS_CREATION_LOCK_CLASS.into(), client_address.into()],
    ))
    .await?;
    Ok(())
}

#[derive(FromQueryResult)]
struct CreationCount {
    count: i64,
    oldest: Option<DateTime<Utc>>,
}

/// The anonymous carts `client_address` created after `since`.
pub async fn recent_anonymous_creations<C: ConnectionTrait>(
    db: &C,
    client_address: &str,
    since: DateTime<Utc>,
) -> Result<RecentCreations, StoreError> {
    let counted = anonymous_cart_creation::Entity::find()
        .select_only()
        .column_as(
            Expr::col(anonymous_cart_creation::Column::CartId).count(),
            "count",
        )
        .column_as(
            Expr::col(anonymous_cart_creation::Column::CreatedAt).min(),
            "oldest",
        )
        .filter(anonymous_cart_creation::Column::ClientAddress.eq(client_address))
        .filter(anonymous_cart_creation::Column::CreatedAt.gt(since))
        .into_model::<CreationCount>()
        .one(db)
        .await?;
    Ok(
        counted.map_or_else(RecentCreations::default, |counted| RecentCreations {
            count: u64::try_from(counted.count).unwrap_or(0),
            oldest: counted.oldest,
        }),
    )
}

/// Counts the creation of anonymous cart `cart_id` by `client_address`.
pub async fn record_anonymous_creation<C: ConnectionTrait>(
    db: &C,
    cart_id: CartId,
    client_address: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let row = anonymous_cart_creation::ActiveModel {
        cart_id: Set(cart_id.as_uuid()),
        client_address: Set(client_address.to_owned()),
        created_at: Set(now),
    };
    anonymous_cart_creation::Entity::insert(row)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Forgets creations made at or before `window_start`: only later ones
/// count ([`recent_anonymous_creations`]).
pub async fn prune_anonymous_creations<C: ConnectionTrait>(
    db: &C,
    window_start: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let deleted = anonymous_cart_creation::Entity::delete_many()
        .filter(anonymous_cart_creation::Column::CreatedAt.lte(window_start))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected)
}

/// Deletes at most `limit` anonymous carts last changed before `before`,
/// oldest first, with their lines and AddItem keys (ON DELETE CASCADE).
/// A cart a writer holds locked is skipped (`SKIP LOCKED`): it is being
/// changed, so it is not abandoned; a cart changed since the scan read it
/// is checked again under the lock and kept. Returns how many went.
#[instrument(skip_all, fields(%before, limit), err)]
pub async fn delete_expired_anonymous_carts<C: ConnectionTrait>(
    db: &C,
    before: DateTime<Utc>,
    limit: u64,
) -> Result<u64, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let deleted = db
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "DELETE FROM carts WHERE id IN (\
                SELECT id FROM carts \
                WHERE user_id IS NULL AND updated_at < $1 \
                ORDER BY updated_at \
                LIMIT $2 \
                FOR UPDATE SKIP LOCKED)",
            [before.into(), limit.into()],
        ))
        .await?;
    Ok(deleted.rows_affected())
}
