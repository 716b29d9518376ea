//! The `orders`, `order_lines` and `order_status_history` tables, read and
//! written as whole [`Order`]s.

use std::collections::HashMap;

use ecommerce_checkout::{CheckoutKey, PaymentMethodToken, SnapshotDigest};
use ecommerce_db::StoreError;
use ecommerce_kernel::{Currency, Money};
use sea_orm::sea_query::ArrayType;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult,
    QueryFilter, QueryOrder, QuerySelect, Statement, TryInsertResult, Value,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::entities::{order, order_line, order_status_history};
use crate::domain::{
    CancelCause, Cancellation, Order, OrderId, OrderLine, OrderState, OrderStatus, Rejection,
    ReservationFailure, ShortLine, StatusChange,
};

/// A short line as stored in `orders.rejection_short_lines`.
#[derive(Serialize, Deserialize)]
struct StoredShortLine {
    sku: String,
    requested: u32,
    available: u32,
}

/// Inserts a new order (PENDING, with its lines and first history entry)
/// unless an order with its checkout key exists already. Returns whether
/// it was inserted: `false` means a previous (or concurrent, now committed)
/// PlaceOrder with the same key won, and the caller reads that order back.
pub async fn insert_if_new<C: ConnectionTrait>(
    db: &C,
    new_order: &Order,
) -> Result<bool, StoreError> {
    let row = order::ActiveModel {
        id: Set(new_order.id.as_uuid()),
        user_id: Set(new_order.user_id),
        checkout_key: Set(new_order.checkout_key.as_str().to_owned()),
        snapshot_digest: Set(new_order
            .snapshot_digest
            .map(|digest| digest.as_bytes().to_vec())),
        cart_id: Set(new_order.cart_id),
        cart_version: Set(new_order.cart_version),
        status: Set(new_order.status().as_str().to_owned()),
        currency: Set(new_order.currency.code().to_owned()),
        subtotal_minor: Set(new_order.subtotal.amount_minor()),
        shipping_price_minor: Set(new_order.shipping_price.amount_minor()),
        total_minor: Set(new_order.total.amount_minor()),
        shipping_option_id: Set(new_order.shipping_option_id),
        payment_method_token: Set(new_order.payment_method_token.expose().to_owned()),
        correlation_id: Set(new_order.correlation_id.clone()),
        rejection_failure: Set(None),
        rejection_short_lines: Set(None),
        cancel_cause: Set(None),
        cancel_reason: Set(None),
        version: Set(1),
        created_at: Set(new_order.created_at),
        updated_at: Set(new_order.updated_at),
    };
    // ON CONFLICT (checkout_key) DO NOTHING: a concurrent insert with the
    // same key waits for the first to commit, then inserts nothing.
    let inserted = order::Entity::insert(row)
        .on_conflict_do_nothing_on([order::Column::CheckoutKey])
        .exec_without_returning(db)
        .await?;
    if !matches!(inserted, TryInsertResult::Inserted(1)) {
        return Ok(false);
    }
    let lines = new_order
        .lines
        .iter()
        .enumerate()
        .map(|(line_no, line)| line_row(new_order.id, line_no, line))
        .collect::<Result<Vec<_>, StoreError>>()?;
    order_line::Entity::insert_many(lines)
        .exec_without_returning(db)
        .await?;
    insert_history(db, new_order, 0).await?;
    Ok(true)
}

fn line_row(
    order_id: OrderId,
    line_no: usize,
    line: &OrderLine,
) -> Result<order_line::ActiveModel, StoreError> {
    Ok(order_line::ActiveModel {
        order_id: Set(order_id.as_uuid()),
        line_no: Set(to_i32(line_no, "line number")?),
        sku: Set(line.sku.clone()),
        variant_id: Set(line.variant_id),
        product_id: Set(line.product_id),
        title: Set(line.title.clone()),
        quantity: Set(to_i32(line.quantity, "quantity")?),
        unit_price_minor: Set(line.unit_price.amount_minor()),
        line_total_minor: Set(line.line_total.amount_minor()),
    })
}

/// Appends `order.history[from..]`: the entries a transition added.
async fn insert_history<C: ConnectionTrait>(
    db: &C,
    order: &Order,
    from: usize,
) -> Result<(), StoreError> {
    let Some(entries) = order.history.get(from..) else {
        return Ok(());
    };
    if entries.is_empty() {
        return Ok(());
    }
    let rows = entries
        .iter()
        .enumerate()
        .map(|(offset, change)| {
            Ok(order_status_history::ActiveModel {
                order_id: Set(order.id.as_uuid()),
                seq: Set(to_i32(from + offset, "history position")?),
                status: Set(change.status.as_str().to_owned()),
                reason: Set(change.reason.clone()),
                changed_at: Set(change.changed_at),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    order_status_history::Entity::insert_many(rows)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Stores a transition [`Order::record`]ed on `order`: its state, its
/// `updated_at`, a version step, and the history entries from
/// `history_before` (the history's length before the transition) on.
/// The caller holds the row lock ([`lock_by_id`]).
pub async fn store_transition<C: ConnectionTrait>(
    db: &C,
    order: &Order,
    history_before: usize,
) -> Result<(), StoreError> {
    let (rejection_failure, rejection_short_lines) = match order.state.rejection() {
        Some(rejection) => (
            Some(rejection.failure.as_str().to_owned()),
            Some(short_lines_json(&rejection.short_lines)?),
        ),
        None => (None, None),
    };
    let (cancel_cause, cancel_reason) = match order.state.cancellation() {
        Some(cancellation) => (
            Some(cancellation.cause.as_str().to_owned()),
            Some(cancellation.reason.clone()),
        ),
        None => (None, None),
    };
    let entries = order.history.get(history_before..).unwrap_or_default();
    let mut seqs = Vec::with_capacity(entries.len());
    for offset in 0..entries.len() {
        seqs.push(Value::from(to_i32(
            history_before + offset,
            "history position",
        )?));
    }
    let array = |array_type, values: Vec<Value>| Value::Array(array_type, Some(Box::new(values)));
    // One statement: the state and the new history entries together (a
    // transition per saga event made the history insert a statement of its own).
    let statement = Statement::from_sql_and_values(
        DbBackend::Postgres,
        "WITH moved AS ( \
           UPDATE orders SET status = $2, rejection_failure = $3, rejection_short_lines = $4, \
             cancel_cause = $5, cancel_reason = $6, updated_at = $7, version = version + 1 \
           WHERE id = $1 RETURNING id), \
         recorded AS ( \
           INSERT INTO order_status_history (order_id, seq, status, reason, changed_at) \
           SELECT moved.id, entry.seq, entry.status, entry.reason, entry.changed_at \
           FROM moved, unnest($8::int4[], $9::text[], $10::text[], $11::timestamptz[]) \
             AS entry (seq, status, reason, changed_at) \
           RETURNING 1) \
         SELECT (SELECT count(*) FROM moved) AS moved, (SELECT count(*) FROM recorded) AS recorded",
        [
            Value::from(order.id.as_uuid()),
            Value::from(order.status().as_str()),
            Value::from(rejection_failure),
            Value::from(rejection_short_lines),
            Value::from(cancel_cause),
            Value::from(cancel_reason),
            Value::from(order.updated_at),
            array(ArrayType::Int, seqs),
            array(
                ArrayType::String,
                entries
                    .iter()
                    .map(|change| Value::from(change.status.as_str()))
                    .collect(),
            ),
            array(
                ArrayType::String,
                entries
                    .iter()
                    .map(|change| Value::from(change.reason.clone()))
                    .collect(),
            ),
            array(
                ArrayType::ChronoDateTimeUtc,
                entries
                    .iter()
                    .map(|change| Value::from(change.changed_at))
                    .collect(),
            ),
        ],
    );
    let counts = db
        .query_one_raw(statement)
        .await?
        .ok_or_else(|| StoreError::internal("the transition statement returned no row"))?;
    let moved: i64 = counts.try_get("", "moved")?;
    let recorded: i64 = counts.try_get("", "recorded")?;
    if moved != 1 {
        return Err(StoreError::internal(format!(
            "order {} vanished under its row lock",
            order.id
        )));
    }
    if usize::try_from(recorded).ok() != Some(entries.len()) {
        return Err(StoreError::internal(format!(
            "order {}: {recorded} of {} history entries recorded",
            order.id,
            entries.len()
        )));
    }
    Ok(())
}

fn short_lines_json(lines: &[ShortLine]) -> Result<serde_json::Value, StoreError> {
    let stored: Vec<StoredShortLine> = lines
        .iter()
        .map(|line| StoredShortLine {
            sku: line.sku.clone(),
            requested: line.requested,
            available: line.available,
        })
        .collect();
    serde_json::to_value(stored).map_err(|error| StoreError::internal(error.to_string()))
}

pub async fn find_by_id<C: ConnectionTrait>(
    db: &C,
    id: OrderId,
) -> Result<Option<Order>, StoreError> {
    let row = order::Entity::find_by_id(id.as_uuid()).one(db).await?;
    complete_one(db, row).await
}

/// The order, its row locked until the caller's transaction ends, so the
/// events and the CancelOrder calls about one order apply one after
/// another, each on the state the previous one left.
///
/// One statement: the lines and the history come aggregated as JSON beside
/// the locked row (each saga event locks its order, so the three queries
/// this used to take were a tenth of the saga's statements).
pub async fn lock_by_id<C: ConnectionTrait>(
    db: &C,
    id: OrderId,
) -> Result<Option<Order>, StoreError> {
    let statement = Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT o.*, \
           (SELECT coalesce(json_agg(l ORDER BY l.line_no), '[]'::json) \
              FROM order_lines l WHERE l.order_id = o.id) AS lines_json, \
           (SELECT coalesce(json_agg(h ORDER BY h.seq), '[]'::json) \
              FROM order_status_history h WHERE h.order_id = o.id) AS history_json \
         FROM orders o WHERE o.id = $1 FOR UPDATE OF o",
        [id.as_uuid().into()],
    );
    let Some(row) = db.query_one_raw(statement).await? else {
        return Ok(None);
    };
    let corrupt =
        |what: &str| StoreError::internal(format!("order {id}: stored {what} are invalid"));
    let order = order::Model::from_query_result(&row, "")?;
    let lines: Vec<order_line::Model> =
        serde_json::from_value(row.try_get("", "lines_json")?).map_err(|_| corrupt("lines"))?;
    let history: Vec<order_status_history::Model> =
        serde_json::from_value(row.try_get("", "history_json")?)
            .map_err(|_| corrupt("history entries"))?;
    to_order(order, lines, history).map(Some)
}

pub async fn find_by_checkout_key<C: ConnectionTrait>(
    db: &C,
    checkout_key: &str,
) -> Result<Option<Order>, StoreError> {
    let row = order::Entity::find()
        .filter(order::Column::CheckoutKey.eq(checkout_key))
        .one(db)
        .await?;
    complete_one(db, row).await
}

/// One page of `user_id`'s orders, newest first, optionally only those in
/// `status`, starting after the order `after` (the previous page's last).
pub async fn list_for_user<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    status: Option<OrderStatus>,
    after: Option<OrderId>,
    limit: u64,
) -> Result<Vec<Order>, StoreError> {
    let mut query = order::Entity::find().filter(order::Column::UserId.eq(user_id));
    if let Some(status) = status {
        query = query.filter(order::Column::Status.eq(status.as_str()));
    }
    if let Some(after) = after {
        query = query.filter(order::Column::Id.lt(after.as_uuid()));
    }
    let rows = query
        .order_by_desc(order::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    complete(db, rows).await
}

async fn complete_one<C: ConnectionTrait>(
    db: &C,
    row: Option<order::Model>,
) -> Result<Option<Order>, StoreError> {
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(complete(db, vec![row]).await?.pop())
}

/// The orders of `rows` with their lines and history, loaded with one
/// query each for the whole page.
async fn complete<C: ConnectionTrait>(
    db: &C,
    rows: Vec<order::Model>,
) -> Result<Vec<Order>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    let mut lines: HashMap<Uuid, Vec<order_line::Model>> = HashMap::new();
    for line in order_line::Entity::find()
        .filter(order_line::Column::OrderId.is_in(ids.clone()))
        .order_by_asc(order_line::Column::OrderId)
        .order_by_asc(order_line::Column::LineNo)
        .all(db)
        .await?
    {
        lines.entry(line.order_id).or_default().push(line);
    }
    let mut history: HashMap<Uuid, Vec<order_status_history::Model>> = HashMap::new();
    for entry in order_status_history::Entity::find()
        .filter(order_status_history::Column::OrderId.is_in(ids))
        .order_by_asc(order_status_history::Column::OrderId)
        .order_by_asc(order_status_history::Column::Seq)
        .all(db)
        .await?
    {
        history.entry(entry.order_id).or_default().push(entry);
    }
    rows.into_iter()
        .map(|row| {
            let order_lines = lines.remove(&row.id).unwrap_or_default();
            let order_history = history.remove(&row.id).unwrap_or_default();
            to_order(row, order_lines, order_history)
        })
        .collect()
}

fn to_order(
    row: order::Model,
    lines: Vec<order_line::Model>,
    history: Vec<order_status_history::Model>,
) -> Result<Order, StoreError> {
    let id = row.id;
    let corrupt =
        move |what: &str| StoreError::internal(format!("order {id}: stored {what} is invalid"));
    let currency = Currency::parse(&row.currency).map_err(|_| corrupt("currency"))?;
    let money = |amount: i64, what: &str| Money::new(amount, currency).map_err(|_| corrupt(what));
    let status = OrderStatus::from_stored(&row.status).ok_or_else(|| corrupt("status"))?;
    let rejection = match (row.rejection_failure.as_deref(), row.rejection_short_lines) {
        (Some(failure), Some(short_lines)) => {
            let failure =
                ReservationFailure::from_stored(failure).ok_or_else(|| corrupt("rejection"))?;
            let stored: Vec<StoredShortLine> =
                serde_json::from_value(short_lines).map_err(|_| corrupt("short lines"))?;
            Some(Rejection {
                failure,
                short_lines: stored
                    .into_iter()
                    .map(|line| ShortLine {
                        sku: line.sku,
                        requested: line.requested,
                        available: line.available,
                    })
                    .collect(),
            })
        }
        (None, None) => None,
        _ => return Err(corrupt("rejection")),
    };
    let cancellation = match (row.cancel_cause.as_deref(), row.cancel_reason) {
        (Some(cause), Some(reason)) => Some(Cancellation {
            cause: CancelCause::from_stored(cause).ok_or_else(|| corrupt("cancel cause"))?,
            reason,
        }),
        (None, None) => None,
        _ => return Err(corrupt("cancellation")),
    };
    let state =
        OrderState::from_stored(status, rejection, cancellation).ok_or_else(|| corrupt("state"))?;
    let lines = lines
        .into_iter()
        .map(|line| {
            Ok(OrderLine {
                sku: line.sku,
                variant_id: line.variant_id,
                product_id: line.product_id,
                title: line.title,
                quantity: u32::try_from(line.quantity).map_err(|_| corrupt("quantity"))?,
                unit_price: money(line.unit_price_minor, "unit price")?,
                line_total: money(line.line_total_minor, "line total")?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let history = history
        .into_iter()
        .map(|entry| {
            Ok(StatusChange {
                status: OrderStatus::from_stored(&entry.status)
                    .ok_or_else(|| corrupt("history status"))?,
                reason: entry.reason,
                changed_at: entry.changed_at,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Order {
        id: OrderId::from_uuid(row.id),
        user_id: row.user_id,
        checkout_key: CheckoutKey::parse(&row.checkout_key).map_err(|_| corrupt("checkout key"))?,
        snapshot_digest: match row.snapshot_digest {
            Some(stored) => Some(
                SnapshotDigest::from_slice(&stored).ok_or_else(|| corrupt("snapshot digest"))?,
            ),
            None => None,
        },
        cart_id: row.cart_id,
        cart_version: row.cart_version,
        lines,
        subtotal: money(row.subtotal_minor, "subtotal")?,
        shipping_option_id: row.shipping_option_id,
        shipping_price: money(row.shipping_price_minor, "shipping price")?,
        total: money(row.total_minor, "total")?,
        currency,
        payment_method_token: PaymentMethodToken::parse(&row.payment_method_token)
            .map_err(|_| corrupt("payment method token"))?,
        correlation_id: row.correlation_id,
        state,
        history,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

fn to_i32<N: TryInto<i32>>(value: N, what: &str) -> Result<i32, StoreError> {
    value
        .try_into()
        .map_err(|_| StoreError::internal(format!("{what} does not fit a 32-bit column")))
}
