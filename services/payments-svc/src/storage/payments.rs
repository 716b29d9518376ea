//! The `payments` table, read and written as whole [`StoredPayment`]s: the
//! [`Payment`] with the customer (who may read it) and the checkout's
//! correlation id.

use ecommerce_db::StoreError;
use ecommerce_kernel::{Currency, Money};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TryInsertResult,
};

use super::entities::payment;
use crate::domain::{
    OrderId, Payment, PaymentColumns, PaymentId, PaymentMethodToken, PaymentStatus, StoredPayment,
};

/// Inserts a new (PENDING) payment unless the order has one already.
/// Returns whether it was inserted.
pub async fn insert_if_new<C: ConnectionTrait>(
    db: &C,
    stored: &StoredPayment,
) -> Result<bool, StoreError> {
    let payment = &stored.payment;
    let columns = PaymentColumns::from_state(payment.state());
    let row = payment::ActiveModel {
        id: Set(payment.id().as_uuid()),
        order_id: Set(payment.order_id().as_uuid()),
        user_id: Set(stored.user_id),
        amount_minor: Set(payment.amount().amount_minor()),
        currency: Set(payment.amount().currency().code().to_owned()),
        payment_method_token: Set(payment.payment_method().expose().to_owned()),
        correlation_id: Set(stored.correlation_id.clone()),
        status: Set(columns.status),
        provider_reference: Set(columns.provider_reference),
        authorized_at: Set(columns.authorized_at),
        failure_reason: Set(columns.failure_reason),
        failed_at: Set(columns.failed_at),
        captured_at: Set(columns.captured_at),
        void_reason: Set(columns.void_reason),
        voided_at: Set(columns.voided_at),
        created_at: Set(payment.created_at()),
        updated_at: Set(payment.updated_at()),
    };
    // ON CONFLICT (order_id) DO NOTHING: a concurrent insert for the same
    // order waits for the first to commit, then inserts nothing.
    let inserted = payment::Entity::insert(row)
        .on_conflict_do_nothing_on([payment::Column::OrderId])
        .exec_without_returning(db)
        .await?;
    Ok(matches!(inserted, TryInsertResult::Inserted(1)))
}

/// Stores `payment`'s new state, only if the row is still in
/// `read_status` (the status it had when the caller locked and read it).
/// The caller holds the row lock, so a mismatch is a bug: an internal
/// `StoreError`, never retried.
pub async fn store_change<C: ConnectionTrait>(
    db: &C,
    payment: &Payment,
    read_status: PaymentStatus,
) -> Result<(), StoreError> {
    let columns = PaymentColumns::from_state(payment.state());
    let updated = payment::Entity::update_many()
        .col_expr(payment::Column::Status, Expr::value(columns.status))
        .col_expr(
            payment::Column::ProviderReference,
            Expr::value(columns.provider_reference),
        )
        .col_expr(
            payment::Column::AuthorizedAt,
            Expr::value(columns.authorized_at),
        )
        .col_expr(
            payment::Column::FailureReason,
            Expr::value(columns.failure_reason),
        )
        .col_expr(payment::Column::FailedAt, Expr::value(columns.failed_at))
        .col_expr(
            payment::Column::CapturedAt,
            Expr::value(columns.captured_at),
        )
        .col_expr(
            payment::Column::VoidReason,
            Expr::value(columns.void_reason),
        )
        .col_expr(payment::Column::VoidedAt, Expr::value(columns.voided_at))
        .col_expr(
            payment::Column::UpdatedAt,
            Expr::value(payment.updated_at()),
        )
        .filter(payment::Column::Id.eq(payment.id().as_uuid()))
        .filter(payment::Column::Status.eq(read_status.as_str()))
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Err(StoreError::internal(format!(
            "payment {} left {read_status} under its row lock",
            payment.id()
        )));
    }
    Ok(())
}

/// The payment of `order_id`, its row locked until the caller's
/// transaction ends, so the three consumers and CapturePayment change one
/// payment one at a time (and call the provider one at a time).
pub async fn lock_by_order<C: ConnectionTrait>(
    db: &C,
    order_id: OrderId,
) -> Result<Option<StoredPayment>, StoreError> {
    payment::Entity::find()
        .filter(payment::Column::OrderId.eq(order_id.as_uuid()))
        .lock_exclusive()
        .one(db)
        .await?
        .map(to_stored)
        .transpose()
}

/// The payment `id`, its row locked (see [`lock_by_order`]).
pub async fn lock_by_id<C: ConnectionTrait>(
    db: &C,
    id: PaymentId,
) -> Result<Option<StoredPayment>, StoreError> {
    payment::Entity::find_by_id(id.as_uuid())
        .lock_exclusive()
        .one(db)
        .await?
        .map(to_stored)
        .transpose()
}

pub async fn find_by_id<C: ConnectionTrait>(
    db: &C,
    id: PaymentId,
) -> Result<Option<StoredPayment>, StoreError> {
    payment::Entity::find_by_id(id.as_uuid())
        .one(db)
        .await?
        .map(to_stored)
        .transpose()
}

/// One page of the payments of `order_id`, oldest first, after the
/// payment `after` (the previous page's last).
pub async fn list_for_order<C: ConnectionTrait>(
    db: &C,
    order_id: OrderId,
    after: Option<PaymentId>,
    limit: u64,
) -> Result<Vec<StoredPayment>, StoreError> {
    let mut query = payment::Entity::find().filter(payment::Column::OrderId.eq(order_id.as_uuid()));
    if let Some(after) = after {
        query = query.filter(payment::Column::Id.gt(after.as_uuid()));
    }
    query
        .order_by_asc(payment::Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(to_stored)
        .collect()
}

fn to_stored(row: payment::Model) -> Result<StoredPayment, StoreError> {
    let id = row.id;
    let corrupt =
        move |what: &str| StoreError::internal(format!("payment {id}: stored {what} is invalid"));
    let currency = Currency::parse(&row.currency).map_err(|_| corrupt("currency"))?;
    let amount = Money::new(row.amount_minor, currency).map_err(|_| corrupt("amount"))?;
    let payment_method =
        PaymentMethodToken::parse(&row.payment_method_token).map_err(|_| corrupt("token"))?;
    let state = PaymentColumns {
        status: row.status,
        provider_reference: row.provider_reference,
        authorized_at: row.authorized_at,
        failure_reason: row.failure_reason,
        failed_at: row.failed_at,
        captured_at: row.captured_at,
        void_reason: row.void_reason,
        voided_at: row.voided_at,
    }
    .into_state()
    .map_err(|error| StoreError::internal(format!("payment {id}: {error}")))?;
    let payment = Payment::from_stored(
        PaymentId::from_uuid(row.id),
        OrderId::from_uuid(row.order_id),
        amount,
        payment_method,
        state,
        row.created_at,
        row.updated_at,
    );
    Ok(StoredPayment {
        payment,
        user_id: row.user_id,
        correlation_id: row.correlation_id,
    })
}
