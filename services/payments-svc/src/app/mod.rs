//! The payments use cases, one method per RPC. Reads are plain queries;
//! CapturePayment runs in one transaction that locks the payment row, calls
//! the provider under the lock, stores the new state (`UPDATE … WHERE
//! status = $read`) and enqueues its event in the outbox, so a payment's
//! change and its event are stored together or not at all. A transaction
//! that fails on a serialization failure, a deadlock or a lost connection
//! is run again from the start (the shared [`transaction!`]); the provider
//! call repeats with the same idempotency key, which is safe.
//!
//! Nothing here knows the wire: `grpc/` and `events/` convert (through
//! `crate::convert`) and call in. The saga's events are applied by
//! [`PaymentsApp::record_intent_in`] and [`PaymentsApp::apply_event_in`] on
//! the inbox's transaction, under the same row lock; they hand back the
//! event to emit, which the consumer writes through the inbox (causation =
//! the consumed event).

mod error;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ecommerce_db::transaction;
use ecommerce_events::EventMetadata;
use ecommerce_kernel::Clock;
use ecommerce_outbox::Outbox;
use sea_orm::{DatabaseConnection, DatabaseTransaction};
use tracing::instrument;
use uuid::Uuid;

pub use self::error::PaymentsError;
use crate::domain::{
    OrderId, PaymentEvent, PaymentId, PaymentInput, PaymentIntent, PaymentOutcome, PaymentProvider,
    StoredPayment, handle,
};
use crate::storage::payments;

/// Who asks: a signed-in user, maybe an admin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Actor {
    pub user_id: Uuid,
    pub is_admin: bool,
}

impl Actor {
    /// Whether the actor may see `stored`: its customer or an admin.
    fn may_read(self, stored: &StoredPayment) -> bool {
        self.is_admin || stored.user_id == self.user_id
    }
}

/// ListPayments, converted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListPayments {
    pub order_id: OrderId,
    /// 1 to [`MAX_PAGE_SIZE`].
    pub page_size: u64,
    /// The last payment of the previous page.
    pub after: Option<PaymentId>,
}

/// Page size when the request names none.
pub const DEFAULT_PAGE_SIZE: u64 = 20;
/// The largest page served; larger requests are clamped.
pub const MAX_PAGE_SIZE: u64 = 100;

/// One page of payments, oldest first.
#[derive(Clone, Debug)]
pub struct PaymentPage {
    pub payments: Vec<StoredPayment>,
    /// The last payment's id when more may follow.
    pub next_after: Option<PaymentId>,
}

/// The payments application: cheap to clone, shared by every handler.
#[derive(Clone, Debug)]
pub struct PaymentsApp {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: DatabaseConnection,
    outbox: Outbox,
    provider: Arc<dyn PaymentProvider>,
    clock: Arc<dyn Clock>,
}

impl PaymentsApp {
    /// `db` must be migrated with `payments_migration::Migrator`; `outbox`
    /// writes to that schema's `payments_outbox_events`.
    pub fn new(
        db: DatabaseConnection,
        outbox: Outbox,
        provider: Arc<dyn PaymentProvider>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                outbox,
                provider,
                clock,
            }),
        }
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.inner.db
    }

    /// GetPayment: the order's customer or an admin; NOT_FOUND for anyone
    /// else, so ids of other customers' payments are not confirmed.
    #[instrument(skip_all, fields(%payment_id), err(level = "info"))]
    pub async fn get_payment(
        &self,
        actor: Actor,
        payment_id: PaymentId,
    ) -> Result<StoredPayment, PaymentsError> {
        match payments::find_by_id(&self.inner.db, payment_id).await? {
            Some(stored) if actor.may_read(&stored) => Ok(stored),
            _ => Err(not_found(payment_id)),
        }
    }

    /// ListPayments: the payments of an order the caller may read, oldest
    /// first; an order of another customer lists as empty, as an order
    /// without payments does.
    #[instrument(skip_all, fields(order_id = %query.order_id), err(level = "info"))]
    pub async fn list_payments(
        &self,
        actor: Actor,
        query: ListPayments,
    ) -> Result<PaymentPage, PaymentsError> {
        let page_size = query.page_size.clamp(1, MAX_PAGE_SIZE);
        let mut found =
            payments::list_for_order(&self.inner.db, query.order_id, query.after, page_size + 1)
                .await?;
        found.retain(|stored| actor.may_read(stored));
        let more = found.len() as u64 > page_size;
        found.truncate(usize::try_from(page_size).unwrap_or(usize::MAX));
        let next_after = if more {
            found.last().map(|stored| stored.payment.id())
        } else {
            None
        };
        Ok(PaymentPage {
            payments: found,
            next_after,
        })
    }

    /// CapturePayment (admin only): captures an AUTHORIZED payment at the
    /// provider and emits [`PaymentEvent::Captured`] with the checkout's
    /// correlation id; a CAPTURED payment is returned unchanged.
    ///
    /// The provider's idempotency key is derived from the payment and the
    /// operation (see `domain::provider`), so any retry, with this RPC's
    /// key or through a shipment event, never captures twice.
    #[instrument(skip_all, fields(%payment_id), err(level = "info"))]
    pub async fn capture_payment(
        &self,
        actor: Actor,
        payment_id: PaymentId,
    ) -> Result<StoredPayment, PaymentsError> {
        if !actor.is_admin {
            return Err(PaymentsError::PermissionDenied(
                "only an admin may capture a payment".to_owned(),
            ));
        }
        let (outbox, db) = (&self.inner.outbox, &self.inner.db);
        transaction!(PaymentsError, "capture_payment", outbox.begin(db), |tx| {
            let now = self.inner.clock.now();
            let mut stored = payments::lock_by_id(tx, payment_id)
                .await?
                .ok_or_else(|| not_found(payment_id))?;
            let read_status = stored.payment.status();
            let outcome = handle(
                stored.payment.order_id(),
                Some(&stored.payment),
                PaymentInput::CaptureRequested,
                self.inner.provider.as_ref(),
                now,
            )
            .await?;
            let change = match outcome {
                PaymentOutcome::Changed(change) => change,
                PaymentOutcome::Ignored(_) => return Ok(stored),
                PaymentOutcome::Recorded(_) => {
                    return Err(PaymentsError::internal(anyhow::anyhow!(
                        "a capture recorded an intent"
                    )));
                }
            };
            payments::store_change(tx, &change.payment, read_status).await?;
            let metadata = event_metadata(&stored, &change.event, now);
            tx.emit(&change.event, metadata).await?;
            stored.payment = change.payment;
            Ok(stored)
        })
    }

    /// `orders.order_placed.v1`, converted: records `intent` as a PENDING
    /// payment of `user_id` (with the checkout's `correlation_id`) in `tx`,
    /// the inbox's transaction, unless its order has a payment already.
    /// Emits nothing: there is no event for an intent.
    #[instrument(skip_all, fields(order_id = %intent.order_id), err(level = "info"))]
    pub async fn record_intent_in(
        &self,
        tx: &DatabaseTransaction,
        intent: PaymentIntent,
        user_id: Uuid,
        correlation_id: Option<String>,
    ) -> Result<(), PaymentsError> {
        let order_id = intent.order_id;
        let (_, outcome) = self
            .decide_in(tx, order_id, PaymentInput::OrderPlaced(intent))
            .await?;
        match outcome {
            PaymentOutcome::Recorded(payment) => {
                let stored = StoredPayment {
                    payment,
                    user_id,
                    correlation_id,
                };
                // A concurrent order_placed of the same order (another
                // message id) may have won; its intent stands.
                let inserted = payments::insert_if_new(tx, &stored).await?;
                tracing::info!(%order_id, inserted, "payment intent recorded");
                Ok(())
            }
            PaymentOutcome::Ignored(because) => {
                tracing::debug!(%order_id, ?because, "event ignored");
                Ok(())
            }
            PaymentOutcome::Changed(_) => Err(PaymentsError::internal(anyhow::anyhow!(
                "an order placed changed a payment"
            ))),
        }
    }

    /// Any other saga event, converted to `input`, applied to the payment
    /// of `order_id` in `tx`, the inbox's transaction: locks the row (so
    /// the three consumers and CapturePayment change one payment, and call
    /// the provider, one at a time), runs [`handle`] (which calls the
    /// provider under the lock when the step needs it) and stores the
    /// change (`UPDATE … WHERE status = $read`). Returns the event to emit
    /// in `tx`; `None` when the input changes nothing.
    ///
    /// A refusal the domain calls retryable ([`PaymentError::is_retryable`]:
    /// the intent not recorded yet because `stock.reserved` overtook
    /// `order_placed` on another queue, the provider unavailable) may pass
    /// when the event comes again; the consumer requeues it.
    ///
    /// [`PaymentError::is_retryable`]: crate::domain::PaymentError::is_retryable
    #[instrument(skip_all, fields(%order_id), err(level = "info"))]
    pub async fn apply_event_in(
        &self,
        tx: &DatabaseTransaction,
        order_id: OrderId,
        input: PaymentInput,
    ) -> Result<Option<PaymentEvent>, PaymentsError> {
        let (locked, outcome) = self.decide_in(tx, order_id, input).await?;
        match outcome {
            PaymentOutcome::Changed(change) => {
                let read_status =
                    locked
                        .map(|stored| stored.payment.status())
                        .ok_or_else(|| {
                            PaymentsError::internal(anyhow::anyhow!("a change without a payment"))
                        })?;
                payments::store_change(tx, &change.payment, read_status).await?;
                tracing::info!(%order_id, status = %change.payment.status(), "payment moved");
                Ok(Some(change.event))
            }
            PaymentOutcome::Ignored(because) => {
                tracing::debug!(%order_id, ?because, "event ignored");
                Ok(None)
            }
            PaymentOutcome::Recorded(_) => Err(PaymentsError::internal(anyhow::anyhow!(
                "an intent without its customer"
            ))),
        }
    }

    /// Locks the payment of `order_id` (if any) in `tx` and decides what
    /// `input` does to it.
    async fn decide_in(
        &self,
        tx: &DatabaseTransaction,
        order_id: OrderId,
        input: PaymentInput,
    ) -> Result<(Option<StoredPayment>, PaymentOutcome), PaymentsError> {
        let locked = payments::lock_by_order(tx, order_id).await?;
        let outcome = handle(
            order_id,
            locked.as_ref().map(|stored| &stored.payment),
            input,
            self.inner.provider.as_ref(),
            self.inner.clock.now(),
        )
        .await?;
        Ok((locked, outcome))
    }
}

/// Metadata of an event emitted by a request: the payment aggregate and
/// the checkout's correlation id (recorded from `orders.order_placed.v1`).
fn event_metadata(
    stored: &StoredPayment,
    event: &PaymentEvent,
    occurred_at: DateTime<Utc>,
) -> EventMetadata {
    let mut metadata =
        EventMetadata::new(PaymentEvent::AGGREGATE_TYPE, event.payment_id().to_string());
    if let Some(correlation_id) = &stored.correlation_id {
        metadata = metadata.with_correlation_id(correlation_id.clone());
    }
    metadata.occurred_at = occurred_at;
    metadata
}

fn not_found(payment_id: PaymentId) -> PaymentsError {
    PaymentsError::NotFound(format!("payment {payment_id} not found"))
}
