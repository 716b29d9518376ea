//! notifications-svc's tables through SeaORM.
//!
//! Every function takes `&impl ConnectionTrait`, so it runs inside the
//! transaction the caller opened (the inbox's for a consumer, the sender's
//! for a send), and returns the shared [`StoreError`], which classifies the
//! SQLSTATE once. Rows are mapped to domain values here (a row that does
//! not make one is an internal `StoreError`); nothing above this module
//! sees a SeaORM type.
//!
//! What the domain asks of storage:
//! - events about one customer serialize on the customer ([`lock_user`]),
//!   so two instances applying two of their events cannot lose one;
//! - a notification is inserted once per (event, template)
//!   (`notifications_event_template_key`, `ON CONFLICT DO NOTHING`);
//! - the sender locks one due notification whose customer's address (and,
//!   where the mail shows it, order) is known with `FOR UPDATE SKIP
//!   LOCKED`, so any number of senders share the work and none sends a
//!   notification another is sending.

pub mod entities;

use chrono::{DateTime, Utc};
use ecommerce_db::StoreError;
use ecommerce_kernel::{Currency, Money, Quantity, Sku};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Statement,
};
use uuid::Uuid;

use crate::domain::{
    Contact, ContactEmail, EventId, MailDetails, NewNotification, Notification, NotificationId,
    NotificationStatus, OrderCopy, OrderId, OrderLine, UserId,
};
use crate::storage::entities::{contact, notification, order, order_line};

// --------------------------------------------------------------- contacts

/// Serializes every change of `user_id`'s contact until the transaction ends.
pub async fn lock_user<C: ConnectionTrait>(db: &C, user_id: UserId) -> Result<(), StoreError> {
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        [format!("notifications.user:{user_id}").into()],
    ))
    .await?;
    Ok(())
}

fn contact_from_row(row: contact::Model) -> Contact {
    Contact {
        user_id: UserId::from_uuid(row.user_id),
        email: row.email.map(ContactEmail::from_stored),
        email_verified: row.email_verified,
        email_changed_at: row.email_changed_at,
        name: row.name,
        name_changed_at: row.name_changed_at,
    }
}

pub async fn find_contact<C: ConnectionTrait>(
    db: &C,
    user_id: UserId,
) -> Result<Option<Contact>, StoreError> {
    Ok(contact::Entity::find_by_id(user_id.as_uuid())
        .one(db)
        .await?
        .map(contact_from_row))
}

/// Inserts or overwrites the contact (the caller holds [`lock_user`]).
pub async fn store_contact<C: ConnectionTrait>(
    db: &C,
    contact: &Contact,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let row = contact::ActiveModel {
        user_id: Set(contact.user_id.as_uuid()),
        email: Set(contact
            .email
            .as_ref()
            .map(|email| email.as_str().to_owned())),
        email_verified: Set(contact.email_verified),
        email_changed_at: Set(contact.email_changed_at),
        name: Set(contact.name.clone()),
        name_changed_at: Set(contact.name_changed_at),
        updated_at: Set(now),
    };
    contact::Entity::insert(row)
        .on_conflict(
            OnConflict::column(contact::Column::UserId)
                .update_columns([
                    contact::Column::Email,
                    contact::Column::EmailVerified,
                    contact::Column::EmailChangedAt,
                    contact::Column::Name,
                    contact::Column::NameChangedAt,
                    contact::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

// ----------------------------------------------------------------- orders

/// Stores the copy of a placed order; `false` when it is stored already (a
/// duplicate `order_placed`), which changes nothing.
pub async fn insert_order<C: ConnectionTrait>(
    db: &C,
    order: &OrderCopy,
) -> Result<bool, StoreError> {
    let row = order::ActiveModel {
        order_id: Set(order.order_id.as_uuid()),
        user_id: Set(order.user_id.as_uuid()),
        currency: Set(order.currency.code().to_owned()),
        subtotal_minor: Set(order.subtotal.amount_minor()),
        shipping_minor: Set(order.shipping.amount_minor()),
        total_minor: Set(order.total.amount_minor()),
        shipping_option_id: Set(order.shipping_option_id),
        placed_at: Set(order.placed_at),
    };
    let inserted = order::Entity::insert(row)
        .on_conflict(
            OnConflict::column(order::Column::OrderId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    if inserted == 0 {
        return Ok(false);
    }
    let lines = order
        .lines
        .iter()
        .enumerate()
        .map(|(position, line)| order_line::ActiveModel {
            order_id: Set(order.order_id.as_uuid()),
            position: Set(i32::try_from(position).unwrap_or(i32::MAX)),
            sku: Set(line.sku.as_str().to_owned()),
            title: Set(line.title.clone()),
            quantity: Set(line.quantity.get()),
            unit_price_minor: Set(line.unit_price.amount_minor()),
            line_total_minor: Set(line.line_total.amount_minor()),
        });
    order_line::Entity::insert_many(lines)
        .exec_without_returning(db)
        .await?;
    Ok(true)
}

/// The copy of `order_id`, if its `order_placed` was seen.
pub async fn find_order<C: ConnectionTrait>(
    db: &C,
    order_id: OrderId,
) -> Result<Option<OrderCopy>, StoreError> {
    let Some(row) = order::Entity::find_by_id(order_id.as_uuid())
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let internal =
        |reason: String| StoreError::internal(format!("order {}: {reason}", row.order_id));
    let currency = Currency::parse(&row.currency).map_err(|error| internal(error.to_string()))?;
    let money = |amount_minor: i64| {
        Money::new(amount_minor, currency).map_err(|error| internal(error.to_string()))
    };
    let lines = order_line::Entity::find()
        .filter(order_line::Column::OrderId.eq(row.order_id))
        .order_by_asc(order_line::Column::Position)
        .all(db)
        .await?
        .into_iter()
        .map(|line| {
            Ok(OrderLine {
                sku: Sku::from_stored(line.sku),
                title: line.title,
                quantity: Quantity::new(line.quantity)
                    .map_err(|error| internal(error.to_string()))?,
                unit_price: money(line.unit_price_minor)?,
                line_total: money(line.line_total_minor)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let copy = OrderCopy::new(
        OrderId::from_uuid(row.order_id),
        UserId::from_uuid(row.user_id),
        currency,
        lines,
        money(row.total_minor)?,
        row.shipping_option_id,
        row.placed_at,
    )
    .map_err(|error| internal(error.to_string()))?;
    Ok(Some(copy))
}

/// Whose order `order_id` is, if its `order_placed` was seen.
pub async fn find_order_owner<C: ConnectionTrait>(
    db: &C,
    order_id: OrderId,
) -> Result<Option<UserId>, StoreError> {
    Ok(order::Entity::find_by_id(order_id.as_uuid())
        .one(db)
        .await?
        .map(|row| UserId::from_uuid(row.user_id)))
}

/// Names `user_id` as the customer of the notifications about `order_id`
/// recorded before its order was known. Returns how many.
pub async fn assign_owner<C: ConnectionTrait>(
    db: &C,
    order_id: OrderId,
    user_id: UserId,
) -> Result<u64, StoreError> {
    let result = notification::Entity::update_many()
        .col_expr(
            notification::Column::UserId,
            sea_orm::sea_query::Expr::value(Some(user_id.as_uuid())),
        )
        .filter(notification::Column::OrderId.eq(order_id.as_uuid()))
        .filter(notification::Column::UserId.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

// ---------------------------------------------------------- notifications

/// Records `new`, due at once; `false` when (event, template) is recorded
/// already, which changes nothing.
pub async fn insert_notification<C: ConnectionTrait>(
    db: &C,
    new: &NewNotification,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let details = serde_json::to_value(&new.details)
        .map_err(|error| StoreError::internal(format!("notification details: {error}")))?;
    let row = notification::ActiveModel {
        id: Set(new.id.as_uuid()),
        event_id: Set(new.event_id.as_uuid()),
        event_type: Set(new.event_type.to_owned()),
        template: Set(new.template().as_str().to_owned()),
        order_id: Set(new.order_id.as_uuid()),
        user_id: Set(new.user_id.map(UserId::as_uuid)),
        needs_order: Set(new.template().needs_order()),
        details: Set(details),
        occurred_at: Set(new.occurred_at),
        created_at: Set(now),
        status: Set(NotificationStatus::Pending.as_str().to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        last_error: Set(None),
        recipient: Set(None),
        subject: Set(None),
        sent_at: Set(None),
    };
    let inserted = notification::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                notification::Column::EventId,
                notification::Column::Template,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(inserted == 1)
}

fn notification_from_row(row: notification::Model) -> Result<Notification, StoreError> {
    let internal =
        |reason: String| StoreError::internal(format!("notification {}: {reason}", row.id));
    let status = NotificationStatus::from_stored(&row.status)
        .ok_or_else(|| internal(format!("status {:?}", row.status)))?;
    let details: MailDetails = serde_json::from_value(row.details.clone())
        .map_err(|error| internal(format!("details: {error}")))?;
    if details.template().as_str() != row.template {
        return Err(internal(format!(
            "details of {} stored as template {}",
            details.template().as_str(),
            row.template
        )));
    }
    Ok(Notification {
        id: NotificationId::from_uuid(row.id),
        event_id: EventId::from_uuid(row.event_id),
        event_type: row.event_type,
        order_id: OrderId::from_uuid(row.order_id),
        user_id: row.user_id.map(UserId::from_uuid),
        status,
        details,
        occurred_at: row.occurred_at,
        attempts: u32::try_from(row.attempts).unwrap_or_default(),
        recipient: row.recipient,
        subject: row.subject,
        sent_at: row.sent_at,
    })
}

/// Up to `limit` notifications of `user_id` recorded before `before`,
/// newest first (ids are UUID v7).
pub async fn list_notifications<C: ConnectionTrait>(
    db: &C,
    user_id: UserId,
    before: Option<NotificationId>,
    limit: u64,
) -> Result<Vec<Notification>, StoreError> {
    let mut select =
        notification::Entity::find().filter(notification::Column::UserId.eq(user_id.as_uuid()));
    if let Some(before) = before {
        select = select.filter(notification::Column::Id.lt(before.as_uuid()));
    }
    select
        .order_by_desc(notification::Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(notification_from_row)
        .collect()
}

/// A notification ready to send, locked by the caller's transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claimed {
    pub notification: Notification,
    pub contact: Contact,
    pub order: Option<OrderCopy>,
}

/// Locks the oldest due PENDING notification whose customer's address is
/// known (and whose order is, when its mail needs it), skipping the ones
/// other senders hold; `None` when there is none.
pub async fn claim_next<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
) -> Result<Option<Claimed>, StoreError> {
    let Some(row) = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT n.id FROM notifications n \
             JOIN contacts c ON c.user_id = n.user_id AND c.email IS NOT NULL \
             WHERE n.status = 'pending' AND n.next_attempt_at <= $1 \
               AND (NOT n.needs_order OR EXISTS \
                    (SELECT 1 FROM orders o WHERE o.order_id = n.order_id)) \
             ORDER BY n.occurred_at, n.id \
             LIMIT 1 \
             FOR UPDATE OF n SKIP LOCKED",
            [now.into()],
        ))
        .await?
    else {
        return Ok(None);
    };
    let id: Uuid = row.try_get("", "id")?;
    let Some(row) = notification::Entity::find_by_id(id).one(db).await? else {
        return Err(StoreError::internal(format!(
            "notification {id} vanished under its lock"
        )));
    };
    let notification = notification_from_row(row)?;
    let Some(user_id) = notification.user_id else {
        return Err(StoreError::internal(format!(
            "notification {id} claimed without a customer"
        )));
    };
    let Some(contact) = find_contact(db, user_id).await? else {
        return Err(StoreError::internal(format!(
            "notification {id} claimed without a contact"
        )));
    };
    let order = find_order(db, notification.order_id).await?;
    Ok(Some(Claimed {
        notification,
        contact,
        order,
    }))
}

/// Marks `id` SENT to `recipient` with `subject`.
pub async fn mark_sent<C: ConnectionTrait>(
    db: &C,
    id: NotificationId,
    recipient: &str,
    subject: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "UPDATE notifications SET status = 'sent', sent_at = $2, recipient = $3, subject = $4, \
         last_error = NULL WHERE id = $1 AND status = 'pending'",
        [
            id.as_uuid().into(),
            now.into(),
            recipient.to_owned().into(),
            subject.to_owned().into(),
        ],
    ))
    .await?;
    Ok(())
}

/// Records a failed attempt at `id`: due again at `retry_at`, or FAILED
/// when `retry_at` is `None`.
pub async fn mark_attempt_failed<C: ConnectionTrait>(
    db: &C,
    id: NotificationId,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    let (status, next_attempt_at) = match retry_at {
        Some(at) => (NotificationStatus::Pending, Some(at)),
        None => (NotificationStatus::Failed, None),
    };
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "UPDATE notifications SET status = $2, attempts = attempts + 1, last_error = $3, \
         next_attempt_at = COALESCE($4, next_attempt_at) WHERE id = $1 AND status = 'pending'",
        [
            id.as_uuid().into(),
            status.as_str().into(),
            error.to_owned().into(),
            next_attempt_at.into(),
        ],
    ))
    .await?;
    Ok(())
}
