//! fulfillment-svc's tables through SeaORM.
//!
//! Every function takes `&impl ConnectionTrait`, so it runs inside the
//! transaction the caller opened (the inbox's for the consumer, the
//! outbox's for an RPC), and returns the shared [`StoreError`], which
//! classifies the SQLSTATE once. Rows are mapped to domain values here (a
//! row that does not make one is an internal `StoreError`); nothing above
//! this module sees a SeaORM type.
//!
//! What the domain asks of storage:
//! - opening a shipment and noting an order's events serialize on the order
//!   ([`lock_order`]), so two commits of one order (a re-publish has a new
//!   message id the inbox cannot recognise) cannot both open one
//!   (`shipments_order_id_key` backs it up), and a cancel and a commit of
//!   one order (different queues) see each other's writes;
//! - a status change is `UPDATE ... WHERE id = $1 AND status = $read` on a
//!   row read `FOR UPDATE`; zero rows is a conflict
//!   ([`StoreError::conflict`]), and the transaction retries.

pub mod entities;

use std::collections::HashMap;

use ecommerce_db::StoreError;
use ecommerce_kernel::{Currency, Money};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Statement,
};
use uuid::Uuid;

use crate::domain::{
    Carrier, OrderId, OrderNote, Quantity, ReservationId, Shipment, ShipmentId, ShipmentLines,
    ShipmentStatus, ShippingOption, ShippingOptionId, Sku, StoredShipment, Tracking,
    TrackingNumber,
};
use crate::storage::entities::{order_note, shipment, shipment_line, shipping_option};

// ------------------------------------------------------- shipping options

fn option_from_parts(
    id: Uuid,
    name: String,
    amount_minor: i64,
    currency: &str,
    min_days: i32,
    max_days: i32,
) -> Result<ShippingOption, StoreError> {
    let invalid = |reason: String| StoreError::internal(format!("shipping option {id}: {reason}"));
    let currency = Currency::parse(currency).map_err(|error| invalid(error.to_string()))?;
    let price = Money::new(amount_minor, currency).map_err(|error| invalid(error.to_string()))?;
    ShippingOption::new(
        ShippingOptionId::from_uuid(id),
        name,
        price,
        min_days,
        max_days,
    )
    .map_err(|error| invalid(error.to_string()))
}

fn option_from_row(row: shipping_option::Model) -> Result<ShippingOption, StoreError> {
    option_from_parts(
        row.id,
        row.name,
        row.price_amount_minor,
        &row.price_currency,
        row.min_delivery_days,
        row.max_delivery_days,
    )
}

/// Every shipping option, in table order (the caller sorts).
pub async fn list_shipping_options<C: ConnectionTrait>(
    db: &C,
) -> Result<Vec<ShippingOption>, StoreError> {
    shipping_option::Entity::find()
        .order_by_asc(shipping_option::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(option_from_row)
        .collect()
}

/// The shipping option `id`, if it is on offer.
pub async fn find_shipping_option<C: ConnectionTrait>(
    db: &C,
    id: ShippingOptionId,
) -> Result<Option<ShippingOption>, StoreError> {
    shipping_option::Entity::find_by_id(id.as_uuid())
        .one(db)
        .await?
        .map(option_from_row)
        .transpose()
}

// ------------------------------------------------------------ order notes

/// What orders' events said of `order_id` (read under [`lock_order`]).
pub async fn find_order_note<C: ConnectionTrait>(
    db: &C,
    order_id: OrderId,
) -> Result<Option<OrderNote>, StoreError> {
    let Some(row) = order_note::Entity::find_by_id(order_id.as_uuid())
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let canceled = match (row.canceled_at, row.cancel_reason) {
        (Some(at), Some(reason)) => Some((at, reason)),
        (None, None) => None,
        _ => {
            return Err(StoreError::internal(format!(
                "order note {}: canceled_at without cancel_reason",
                row.order_id
            )));
        }
    };
    Ok(Some(OrderNote {
        order_id: OrderId::from_uuid(row.order_id),
        shipping_option_id: row.shipping_option_id.map(ShippingOptionId::from_uuid),
        canceled,
    }))
}

/// Inserts or overwrites the note of its order (the caller holds
/// [`lock_order`], so no other writer races it).
pub async fn store_order_note<C: ConnectionTrait>(
    db: &C,
    note: &OrderNote,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), StoreError> {
    let row = order_note::ActiveModel {
        order_id: Set(note.order_id.as_uuid()),
        shipping_option_id: Set(note.shipping_option_id.map(ShippingOptionId::as_uuid)),
        canceled_at: Set(note.canceled.as_ref().map(|(at, _)| *at)),
        cancel_reason: Set(note.canceled.as_ref().map(|(_, reason)| reason.clone())),
        updated_at: Set(now),
    };
    order_note::Entity::insert(row)
        .on_conflict(
            OnConflict::column(order_note::Column::OrderId)
                .update_columns([
                    order_note::Column::ShippingOptionId,
                    order_note::Column::CanceledAt,
                    order_note::Column::CancelReason,
                    order_note::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

// -------------------------------------------------------------- shipments

/// Serializes every open of `order_id` until the transaction ends.
pub async fn lock_order<C: ConnectionTrait>(db: &C, order_id: OrderId) -> Result<(), StoreError> {
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        [format!("fulfillment.order:{order_id}").into()],
    ))
    .await?;
    Ok(())
}

/// A stored shipment with what the next event about it needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRow {
    pub shipment: Shipment,
    /// The checkout's correlation id, from the committed event.
    pub correlation_id: Option<String>,
    /// The last event emitted about the shipment: the next one's causation.
    pub last_event_id: Uuid,
}

/// How a shipment row is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lock {
    None,
    /// `FOR UPDATE`: the caller is about to change it.
    Update,
}

fn shipment_from_row(
    row: shipment::Model,
    lines: Vec<shipment_line::Model>,
) -> Result<StoredRow, StoreError> {
    let internal = |reason: String| StoreError::internal(format!("shipment {}: {reason}", row.id));
    let status = ShipmentStatus::from_stored(&row.status)
        .ok_or_else(|| internal(format!("status {:?}", row.status)))?;
    let lines = lines
        .into_iter()
        .map(|line| {
            let quantity = Quantity::new(line.quantity)
                .map_err(|invalid| internal(format!("line {}: {invalid}", line.sku)))?;
            Ok((Sku::from_stored(line.sku), quantity))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let lines = ShipmentLines::aggregate(lines).map_err(|invalid| internal(invalid.to_string()))?;
    let shipping_option = option_from_parts(
        row.shipping_option_id,
        row.shipping_option_name,
        row.shipping_price_minor,
        &row.shipping_currency,
        row.min_delivery_days,
        row.max_delivery_days,
    )?;
    let tracking = match (row.carrier, row.tracking_number) {
        (Some(carrier), Some(tracking_number)) => Some(Tracking {
            carrier: Carrier::from_stored(carrier),
            tracking_number: TrackingNumber::from_stored(tracking_number),
        }),
        (None, None) => None,
        _ => return Err(internal("carrier without tracking number".to_owned())),
    };
    let shipment = Shipment::from_stored(StoredShipment {
        id: ShipmentId::from_uuid(row.id),
        order_id: OrderId::from_uuid(row.order_id),
        reservation_id: ReservationId::from_uuid(row.reservation_id),
        status,
        lines,
        shipping_option,
        tracking,
        created_at: row.created_at,
        shipped_at: row.shipped_at,
        delivered_at: row.delivered_at,
        canceled_at: row.canceled_at,
        updated_at: row.updated_at,
    })
    .map_err(|error| internal(error.to_string()))?;
    Ok(StoredRow {
        shipment,
        correlation_id: row.correlation_id,
        last_event_id: row.last_event_id,
    })
}

/// The rows with their lines (one query for all lines), in the given order.
async fn with_lines<C: ConnectionTrait>(
    db: &C,
    rows: Vec<shipment::Model>,
) -> Result<Vec<StoredRow>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    let mut lines_by_shipment: HashMap<Uuid, Vec<shipment_line::Model>> = HashMap::new();
    for line in shipment_line::Entity::find()
        .filter(shipment_line::Column::ShipmentId.is_in(ids))
        .all(db)
        .await?
    {
        lines_by_shipment
            .entry(line.shipment_id)
            .or_default()
            .push(line);
    }
    rows.into_iter()
        .map(|row| {
            let lines = lines_by_shipment.remove(&row.id).unwrap_or_default();
            shipment_from_row(row, lines)
        })
        .collect()
}

async fn one_with_lines<C: ConnectionTrait>(
    db: &C,
    row: Option<shipment::Model>,
) -> Result<Option<StoredRow>, StoreError> {
    match row {
        Some(row) => Ok(with_lines(db, vec![row]).await?.pop()),
        None => Ok(None),
    }
}

/// The shipment `id`.
pub async fn find_shipment<C: ConnectionTrait>(
    db: &C,
    id: ShipmentId,
    lock: Lock,
) -> Result<Option<StoredRow>, StoreError> {
    let mut select = shipment::Entity::find_by_id(id.as_uuid());
    if lock == Lock::Update {
        select = select.lock_exclusive();
    }
    let row = select.one(db).await?;
    one_with_lines(db, row).await
}

/// The shipment of `order_id`, if one was opened.
pub async fn find_shipment_by_order<C: ConnectionTrait>(
    db: &C,
    order_id: OrderId,
) -> Result<Option<StoredRow>, StoreError> {
    let row = shipment::Entity::find()
        .filter(shipment::Column::OrderId.eq(order_id.as_uuid()))
        .one(db)
        .await?;
    one_with_lines(db, row).await
}

/// Up to `limit` shipments of `order_id` after `after`, oldest first (ids
/// are UUID v7, so id order is creation order).
pub async fn list_shipments<C: ConnectionTrait>(
    db: &C,
    order_id: OrderId,
    after: Option<ShipmentId>,
    limit: u64,
) -> Result<Vec<Shipment>, StoreError> {
    let mut select =
        shipment::Entity::find().filter(shipment::Column::OrderId.eq(order_id.as_uuid()));
    if let Some(after) = after {
        select = select.filter(shipment::Column::Id.gt(after.as_uuid()));
    }
    let rows = select
        .order_by_asc(shipment::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    Ok(with_lines(db, rows)
        .await?
        .into_iter()
        .map(|stored| stored.shipment)
        .collect())
}

/// Inserts a new shipment and its lines.
pub async fn insert_shipment<C: ConnectionTrait>(
    db: &C,
    shipment: &Shipment,
    correlation_id: Option<&str>,
    last_event_id: Uuid,
) -> Result<(), StoreError> {
    let option = shipment.shipping_option();
    let tracking = shipment.tracking();
    let row = shipment::ActiveModel {
        id: Set(shipment.id().as_uuid()),
        order_id: Set(shipment.order_id().as_uuid()),
        reservation_id: Set(shipment.reservation_id().as_uuid()),
        status: Set(shipment.status().as_str().to_owned()),
        shipping_option_id: Set(option.id().as_uuid()),
        shipping_option_name: Set(option.name().to_owned()),
        shipping_price_minor: Set(option.price().amount_minor()),
        shipping_currency: Set(option.price().currency().code().to_owned()),
        min_delivery_days: Set(option.min_delivery_days()),
        max_delivery_days: Set(option.max_delivery_days()),
        carrier: Set(tracking.map(|tracking| tracking.carrier.as_str().to_owned())),
        tracking_number: Set(tracking.map(|tracking| tracking.tracking_number.as_str().to_owned())),
        correlation_id: Set(correlation_id.map(str::to_owned)),
        last_event_id: Set(last_event_id),
        created_at: Set(shipment.created_at()),
        shipped_at: Set(shipment.shipped_at()),
        delivered_at: Set(shipment.delivered_at()),
        updated_at: Set(shipment.updated_at()),
        canceled_at: Set(shipment.canceled_at()),
    };
    shipment::Entity::insert(row)
        .exec_without_returning(db)
        .await?;
    let lines = shipment
        .lines()
        .as_slice()
        .iter()
        .map(|line| shipment_line::ActiveModel {
            shipment_id: Set(shipment.id().as_uuid()),
            sku: Set(line.sku.as_str().to_owned()),
            quantity: Set(line.quantity.get()),
        });
    shipment_line::Entity::insert_many(lines)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Writes a transition of a shipment read `FOR UPDATE` in status `from`.
pub async fn update_shipment<C: ConnectionTrait>(
    db: &C,
    shipment: &Shipment,
    from: ShipmentStatus,
    last_event_id: Uuid,
) -> Result<(), StoreError> {
    let tracking = shipment.tracking();
    let updated = shipment::Entity::update_many()
        .col_expr(
            shipment::Column::Status,
            Expr::value(shipment.status().as_str()),
        )
        .col_expr(
            shipment::Column::Carrier,
            Expr::value(tracking.map(|tracking| tracking.carrier.as_str().to_owned())),
        )
        .col_expr(
            shipment::Column::TrackingNumber,
            Expr::value(tracking.map(|tracking| tracking.tracking_number.as_str().to_owned())),
        )
        .col_expr(
            shipment::Column::ShippedAt,
            Expr::value(shipment.shipped_at()),
        )
        .col_expr(
            shipment::Column::DeliveredAt,
            Expr::value(shipment.delivered_at()),
        )
        .col_expr(
            shipment::Column::CanceledAt,
            Expr::value(shipment.canceled_at()),
        )
        .col_expr(
            shipment::Column::UpdatedAt,
            Expr::value(shipment.updated_at()),
        )
        .col_expr(shipment::Column::LastEventId, Expr::value(last_event_id))
        .filter(shipment::Column::Id.eq(shipment.id().as_uuid()))
        .filter(shipment::Column::Status.eq(from.as_str()))
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Err(StoreError::conflict(format!(
            "shipment {} moved on from {from}",
            shipment.id()
        )));
    }
    Ok(())
}
