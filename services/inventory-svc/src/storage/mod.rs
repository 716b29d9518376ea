//! inventory-svc's tables through SeaORM.
//!
//! Every function takes `&impl ConnectionTrait`, so it runs inside the
//! transaction the caller opened (the inbox's for a consumer, the outbox's
//! for an RPC or the expiry worker), and returns the shared
//! [`StoreError`], which classifies the SQLSTATE once. Rows are mapped to
//! domain values here (a row that does not make one is an internal
//! `StoreError`); nothing above this module sees a SeaORM type.
//!
//! What the domain asks of storage (see `domain::stock` and
//! `domain::reservation`):
//! - rows are locked in one global order: the reservation row first, then
//!   the stock rows `ORDER BY sku` (the column is `COLLATE "C"`, so that is
//!   the domain's byte order, [`ReservationLines::lock_order`]);
//! - every stock write is `UPDATE ... WHERE sku = $1 AND version = $read` on
//!   a row read `FOR UPDATE`, every reservation change `... AND status =
//!   'held'`; zero rows is a conflict ([`StoreError::conflict`]), and the
//!   whole transaction retries;
//! - reserving serializes on the order ([`lock_order_attempts`]), so two
//!   deliveries of one order cannot both act.
//!
//! Table names are unqualified: the pool's `search_path` is the service's
//! schema (see `inventory-migration`).

pub mod entities;

use chrono::{DateTime, Utc};
use ecommerce_db::StoreError;
use sea_orm::sea_query::{Expr, LockBehavior, LockType, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Statement,
};

use crate::domain::{
    AdjustmentId, FailureReason, InventoryError, OrderId, Quantity, Reservation,
    ReservationFailure, ReservationId, ReservationLine, ReservationLines, ReservationStatus,
    ShortLine, Sku, StockLevel, StockStatus,
};
use crate::storage::entities::{
    reservation, reservation_failure, reservation_line, stock_adjustment, stock_level,
};

/// A row the domain refuses to read back: the constraints and the rules
/// disagree, a bug.
fn corrupt(error: InventoryError) -> StoreError {
    StoreError::internal(error.to_string())
}

// ------------------------------------------------------------------ stock

fn level_from_row(row: stock_level::Model) -> Result<StockLevel, StoreError> {
    let status = StockStatus::from_stored(&row.status).ok_or_else(|| {
        StoreError::internal(format!(
            "stock of SKU {} has status {:?}",
            row.sku, row.status
        ))
    })?;
    StockLevel::from_stored(
        Sku::from_stored(row.sku),
        row.on_hand,
        row.reserved,
        status,
        row.version,
        row.updated_at,
    )
    .map_err(corrupt)
}

/// The stock of `sku`, read without a lock.
pub async fn find_stock<C: ConnectionTrait>(
    db: &C,
    sku: &Sku,
) -> Result<Option<StockLevel>, StoreError> {
    stock_level::Entity::find_by_id(sku.as_str().to_owned())
        .one(db)
        .await?
        .map(level_from_row)
        .transpose()
}

/// The stocks of `skus` that exist, in SKU order, read without a lock.
pub async fn find_stocks<C: ConnectionTrait>(
    db: &C,
    skus: &[Sku],
) -> Result<Vec<StockLevel>, StoreError> {
    let keys: Vec<String> = skus.iter().map(|sku| sku.as_str().to_owned()).collect();
    stock_level::Entity::find()
        .filter(stock_level::Column::Sku.is_in(keys))
        .order_by_asc(stock_level::Column::Sku)
        .all(db)
        .await?
        .into_iter()
        .map(level_from_row)
        .collect()
}

/// Reads and locks (`FOR UPDATE`) the stock rows of `skus` in the global
/// lock order; SKUs without a row are simply missing from the result.
pub async fn lock_stocks<'a, C: ConnectionTrait>(
    db: &C,
    skus: impl IntoIterator<Item = &'a Sku>,
) -> Result<Vec<StockLevel>, StoreError> {
    let keys: Vec<String> = skus
        .into_iter()
        .map(|sku| sku.as_str().to_owned())
        .collect();
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    stock_level::Entity::find()
        .filter(stock_level::Column::Sku.is_in(keys))
        // COLLATE "C" on the column: byte order, the domain's lock order.
        .order_by_asc(stock_level::Column::Sku)
        .lock_exclusive()
        .all(db)
        .await?
        .into_iter()
        .map(level_from_row)
        .collect()
}

/// Inserts a new level; `false` when the SKU has a row already (a
/// concurrent open won).
pub async fn insert_stock<C: ConnectionTrait>(
    db: &C,
    level: &StockLevel,
) -> Result<bool, StoreError> {
    let row = stock_level::ActiveModel {
        sku: Set(level.sku().as_str().to_owned()),
        on_hand: Set(level.on_hand()),
        reserved: Set(level.reserved()),
        status: Set(level.status().as_str().to_owned()),
        version: Set(level.version()),
        created_at: Set(level.updated_at()),
        updated_at: Set(level.updated_at()),
    };
    let inserted = stock_level::Entity::insert(row)
        .on_conflict(
            OnConflict::column(stock_level::Column::Sku)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(inserted == 1)
}

/// Writes `level` over the row it was computed from (its version minus
/// one); zero rows means a missed lock, reported as a conflict to retry.
pub async fn update_stock<C: ConnectionTrait>(
    db: &C,
    level: &StockLevel,
) -> Result<(), StoreError> {
    let read_version = level.version() - 1;
    let updated = stock_level::Entity::update_many()
        .col_expr(stock_level::Column::OnHand, Expr::value(level.on_hand()))
        .col_expr(stock_level::Column::Reserved, Expr::value(level.reserved()))
        .col_expr(
            stock_level::Column::Status,
            Expr::value(level.status().as_str()),
        )
        .col_expr(stock_level::Column::Version, Expr::value(level.version()))
        .col_expr(
            stock_level::Column::UpdatedAt,
            Expr::value(level.updated_at()),
        )
        .filter(stock_level::Column::Sku.eq(level.sku().as_str()))
        .filter(stock_level::Column::Version.eq(read_version))
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Err(StoreError::conflict(format!(
            "stock of SKU {} moved past version {read_version}",
            level.sku()
        )));
    }
    Ok(())
}

/// Stores every level of a transition (already in lock order).
pub async fn update_stocks<C: ConnectionTrait>(
    db: &C,
    levels: &[StockLevel],
) -> Result<(), StoreError> {
    for level in levels {
        update_stock(db, level).await?;
    }
    Ok(())
}

// ------------------------------------------------------------ adjustments

/// A recorded adjustment, as AdjustStock answers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAdjustment {
    pub id: AdjustmentId,
    pub sku: Sku,
}

pub struct NewAdjustment<'a> {
    pub id: AdjustmentId,
    pub sku: &'a Sku,
    pub delta: i32,
    pub reason: &'a str,
    pub level_after: &'a StockLevel,
    pub idempotency_key: Option<&'a str>,
    pub now: DateTime<Utc>,
}

pub async fn insert_adjustment<C: ConnectionTrait>(
    db: &C,
    new: NewAdjustment<'_>,
) -> Result<(), StoreError> {
    let row = stock_adjustment::ActiveModel {
        id: Set(new.id.as_uuid()),
        sku: Set(new.sku.as_str().to_owned()),
        delta: Set(new.delta),
        reason: Set(new.reason.to_owned()),
        on_hand_after: Set(new.level_after.on_hand()),
        version_after: Set(new.level_after.version()),
        idempotency_key: Set(new.idempotency_key.map(str::to_owned)),
        created_at: Set(new.now),
    };
    stock_adjustment::Entity::insert(row)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

pub async fn find_adjustment_by_key<C: ConnectionTrait>(
    db: &C,
    key: &str,
) -> Result<Option<StoredAdjustment>, StoreError> {
    Ok(stock_adjustment::Entity::find()
        .filter(stock_adjustment::Column::IdempotencyKey.eq(key))
        .one(db)
        .await?
        .map(|row| StoredAdjustment {
            id: AdjustmentId::from_uuid(row.id),
            sku: Sku::from_stored(row.sku),
        }))
}

// ----------------------------------------------------------- reservations

/// Serializes every reserve of `order_id` until the transaction ends: two
/// deliveries of one order (a re-publish has a new message id the inbox
/// cannot recognise) would otherwise both find no prior attempt.
pub async fn lock_order_attempts<C: ConnectionTrait>(
    db: &C,
    order_id: OrderId,
) -> Result<(), StoreError> {
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        [order_id.to_string().into()],
    ))
    .await?;
    Ok(())
}

/// A stored reservation and the correlation id of the event that made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredReservation {
    pub reservation: Reservation,
    pub correlation_id: Option<String>,
}

async fn with_lines<C: ConnectionTrait>(
    db: &C,
    row: reservation::Model,
) -> Result<StoredReservation, StoreError> {
    let lines = reservation_line::Entity::find()
        .filter(reservation_line::Column::ReservationId.eq(row.id))
        .all(db)
        .await?
        .into_iter()
        .map(|line| {
            let quantity = Quantity::new(line.quantity).map_err(|invalid| {
                StoreError::internal(format!("reservation {} line: {invalid}", row.id))
            })?;
            Ok(ReservationLine {
                sku: Sku::from_stored(line.sku),
                quantity,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let status = ReservationStatus::from_stored(&row.status).ok_or_else(|| {
        StoreError::internal(format!(
            "reservation {} has status {:?}",
            row.id, row.status
        ))
    })?;
    let reservation = Reservation::from_stored(
        ReservationId::from_uuid(row.id),
        OrderId::from_uuid(row.order_id),
        ReservationLines::from_stored(lines).map_err(corrupt)?,
        status,
        row.expires_at,
        row.created_at,
        row.updated_at,
    )
    .map_err(corrupt)?;
    Ok(StoredReservation {
        reservation,
        correlation_id: row.correlation_id,
    })
}

/// How a reservation row is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lock {
    None,
    /// `FOR UPDATE`: the caller is about to change it.
    Update,
}

/// The reservation of `order_id`, with its lines.
pub async fn find_reservation_by_order<C: ConnectionTrait>(
    db: &C,
    order_id: OrderId,
    lock: Lock,
) -> Result<Option<StoredReservation>, StoreError> {
    let mut select =
        reservation::Entity::find().filter(reservation::Column::OrderId.eq(order_id.as_uuid()));
    if lock == Lock::Update {
        select = select.lock_exclusive();
    }
    match select.one(db).await? {
        Some(row) => with_lines(db, row).await.map(Some),
        None => Ok(None),
    }
}

/// Reservation `id`, with its lines.
pub async fn find_reservation<C: ConnectionTrait>(
    db: &C,
    id: ReservationId,
    lock: Lock,
) -> Result<Option<StoredReservation>, StoreError> {
    let mut select = reservation::Entity::find_by_id(id.as_uuid());
    if lock == Lock::Update {
        select = select.lock_exclusive();
    }
    match select.one(db).await? {
        Some(row) => with_lines(db, row).await.map(Some),
        None => Ok(None),
    }
}

/// The held reservation that has been due longest, locked; reservations
/// another transaction holds are skipped (`FOR UPDATE SKIP LOCKED`), so the
/// expiry worker never waits on a consumer or on another worker.
pub async fn lock_next_due<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
) -> Result<Option<StoredReservation>, StoreError> {
    let row = reservation::Entity::find()
        .filter(reservation::Column::Status.eq(ReservationStatus::Held.as_str()))
        .filter(reservation::Column::ExpiresAt.lte(now))
        .order_by_asc(reservation::Column::ExpiresAt)
        .limit(1)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .one(db)
        .await?;
    match row {
        Some(row) => with_lines(db, row).await.map(Some),
        None => Ok(None),
    }
}

/// Inserts a new (held) reservation and its lines.
pub async fn insert_reservation<C: ConnectionTrait>(
    db: &C,
    reservation: &Reservation,
    correlation_id: Option<&str>,
) -> Result<(), StoreError> {
    let row = reservation::ActiveModel {
        id: Set(reservation.id().as_uuid()),
        order_id: Set(reservation.order_id().as_uuid()),
        status: Set(reservation.status().as_str().to_owned()),
        expires_at: Set(reservation.expires_at()),
        correlation_id: Set(correlation_id.map(str::to_owned)),
        created_at: Set(reservation.created_at()),
        updated_at: Set(reservation.updated_at()),
    };
    reservation::Entity::insert(row)
        .exec_without_returning(db)
        .await?;
    let lines = reservation
        .lines()
        .as_slice()
        .iter()
        .map(|line| reservation_line::ActiveModel {
            reservation_id: Set(reservation.id().as_uuid()),
            sku: Set(line.sku.as_str().to_owned()),
            quantity: Set(line.quantity.get()),
        });
    reservation_line::Entity::insert_many(lines)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Moves a reservation read in status `from` (held, or committed for a
/// restock) to `reservation`'s status; zero rows (it left `from`
/// meanwhile) is a conflict to retry.
pub async fn update_reservation_status<C: ConnectionTrait>(
    db: &C,
    reservation: &Reservation,
    from: ReservationStatus,
) -> Result<(), StoreError> {
    let updated = reservation::Entity::update_many()
        .col_expr(
            reservation::Column::Status,
            Expr::value(reservation.status().as_str()),
        )
        .col_expr(
            reservation::Column::UpdatedAt,
            Expr::value(reservation.updated_at()),
        )
        .filter(reservation::Column::Id.eq(reservation.id().as_uuid()))
        .filter(reservation::Column::Status.eq(from.as_str()))
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Err(StoreError::conflict(format!(
            "reservation {} is no longer {from}",
            reservation.id()
        )));
    }
    Ok(())
}

// --------------------------------------------------------------- failures

#[derive(serde::Serialize, serde::Deserialize)]
struct StoredShortLine {
    sku: String,
    requested: i32,
    available: i32,
}

pub async fn find_failure<C: ConnectionTrait>(
    db: &C,
    order_id: OrderId,
) -> Result<Option<ReservationFailure>, StoreError> {
    let Some(row) = reservation_failure::Entity::find_by_id(order_id.as_uuid())
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let reason = FailureReason::from_stored(&row.reason).ok_or_else(|| {
        StoreError::internal(format!(
            "failure of order {order_id} has reason {:?}",
            row.reason
        ))
    })?;
    let short_lines: Vec<StoredShortLine> =
        serde_json::from_value(row.short_lines).map_err(|error| {
            StoreError::internal(format!("short lines of order {order_id}: {error}"))
        })?;
    Ok(Some(ReservationFailure {
        order_id,
        reason,
        short_lines: short_lines
            .into_iter()
            .map(|line| ShortLine {
                sku: Sku::from_stored(line.sku),
                requested: line.requested,
                available: line.available,
            })
            .collect(),
        failed_at: row.failed_at,
    }))
}

pub async fn insert_failure<C: ConnectionTrait>(
    db: &C,
    failure: &ReservationFailure,
) -> Result<(), StoreError> {
    let short_lines: Vec<StoredShortLine> = failure
        .short_lines
        .iter()
        .map(|line| StoredShortLine {
            sku: line.sku.as_str().to_owned(),
            requested: line.requested,
            available: line.available,
        })
        .collect();
    let short_lines = serde_json::to_value(short_lines)
        .map_err(|error| StoreError::internal(format!("short lines: {error}")))?;
    let row = reservation_failure::ActiveModel {
        order_id: Set(failure.order_id.as_uuid()),
        reason: Set(failure.reason.as_str().to_owned()),
        short_lines: Set(short_lines),
        failed_at: Set(failure.failed_at),
    };
    reservation_failure::Entity::insert(row)
        .exec_without_returning(db)
        .await?;
    Ok(())
}
