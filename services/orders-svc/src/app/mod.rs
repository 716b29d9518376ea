//! The orders use cases, one method per RPC. Each write runs in one
//! transaction that also enqueues its events in the outbox, so an order's
//! change and its events are stored together or not at all; a transaction
//! that fails on a serialization failure or deadlock is run again from the
//! start (the shared [`transaction!`]).
//!
//! Nothing here knows the wire: `grpc/` and `events/` convert (through
//! `crate::convert`) and call in. The saga's events are applied by
//! [`OrdersApp::apply_event_in`] on the inbox's transaction, under the same
//! row lock as [`OrdersApp::cancel_order`]; it hands back the events to
//! emit, which the consumer writes through the inbox (causation = the
//! consumed event).

mod error;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ecommerce_checkout::{SignedSnapshot, SnapshotError, SnapshotKeys, verify};
use ecommerce_db::transaction;
use ecommerce_events::EventMetadata;
use ecommerce_kernel::Clock;
use ecommerce_outbox::Outbox;
use sea_orm::{DatabaseConnection, DatabaseTransaction};
use tracing::instrument;
use uuid::Uuid;

pub use self::error::OrdersError;
use crate::domain::{
    Actor, CancelReason, Order, OrderEvent, OrderId, OrderInput, OrderStatus, Outcome, list_owner,
};
use crate::storage::orders;

/// What CancelOrder is called in history reasons and errors.
const CANCEL_ORDER: &str = "CancelOrder";

/// Who asks, and the call's correlation id.
#[derive(Clone, Debug)]
pub struct RequestContext {
    pub actor: Actor,
    /// `x-correlation-id` (else `x-request-id`, else a new id). PlaceOrder
    /// stores it on the order: every event of that checkout carries it.
    pub correlation_id: String,
}

/// ListOrders, converted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListOrders {
    /// The user whose orders to list; `None` for the caller.
    pub user_id: Option<Uuid>,
    pub status: Option<OrderStatus>,
    /// 1 to [`MAX_PAGE_SIZE`].
    pub page_size: u64,
    /// The last order of the previous page.
    pub after: Option<OrderId>,
}

/// Page size when the request names none.
pub const DEFAULT_PAGE_SIZE: u64 = 20;
/// The largest page served; larger requests are clamped.
pub const MAX_PAGE_SIZE: u64 = 100;

/// One page of orders, newest first.
#[derive(Clone, Debug)]
pub struct OrderPage {
    pub orders: Vec<Order>,
    /// The last order's id when more may follow.
    pub next_after: Option<OrderId>,
}

/// The orders application: cheap to clone, shared by every handler.
#[derive(Clone, Debug)]
pub struct OrdersApp {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: DatabaseConnection,
    outbox: Outbox,
    keys: SnapshotKeys,
    clock: Arc<dyn Clock>,
}

impl OrdersApp {
    /// `db` must be migrated with `orders_migration::Migrator`; `outbox`
    /// writes to that schema's `orders_outbox_events`; `keys` verify the
    /// checkout snapshots cart-svc signs.
    pub fn new(
        db: DatabaseConnection,
        outbox: Outbox,
        keys: SnapshotKeys,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                outbox,
                keys,
                clock,
            }),
        }
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.inner.db
    }

    fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// PlaceOrder: verifies the signed snapshot with
    /// [`ecommerce_checkout::verify`] (size, HMAC-SHA256 under each key
    /// compared in constant time, decoding, the request's checkout key
    /// against the snapshot's, structure, then expiry), stores the order
    /// PENDING and emits [`OrderEvent::Placed`], in one transaction.
    ///
    /// `signed` is the request's bytes, signature and checkout key exactly
    /// as received (the adapter only moves them out of the proto message),
    /// so the verification is the one `verify_request` runs.
    ///
    /// Who may call: a signed-in caller whose user id is the snapshot's
    /// (cart-svc forwards the customer's access token), or an admin (an
    /// operator or a service account placing it on the customer's behalf).
    /// Anyone else gets PERMISSION_DENIED and nothing is written.
    ///
    /// Idempotent on the snapshot's checkout key: the unique index and
    /// `ON CONFLICT DO NOTHING` make a retry, even a concurrent one, find
    /// the order the first call stored and return it, with no second event.
    /// A retry is the same checkout only when it carries the same snapshot
    /// bytes (cart-svc resends the bytes it signed first): the order keeps
    /// their [`ecommerce_checkout::SnapshotDigest`], and other bytes under a stored key (a
    /// re-priced snapshot, or another user's) are ALREADY_EXISTS naming
    /// `idempotency_key`, never silently answered with an order of other
    /// lines. A retry whose snapshot has expired meanwhile still gets that
    /// order (the expiry is checked last, so the key and bytes are the
    /// authentic ones).
    #[instrument(skip_all, fields(checkout_key = %signed.checkout_key, order_id), err(level = "info"))]
    pub async fn place_order(
        &self,
        context: &RequestContext,
        signed: &SignedSnapshot,
    ) -> Result<Order, OrdersError> {
        let now = self.now();
        let digest = signed.digest();
        let verified = verify(
            &signed.bytes,
            &signed.signature,
            &signed.checkout_key,
            &self.inner.keys,
            now,
        );
        let checkout = match verified {
            Ok(checkout) => checkout,
            Err(expired @ SnapshotError::Expired { .. }) => {
                let stored =
                    orders::find_by_checkout_key(&self.inner.db, &signed.checkout_key).await?;
                return match stored {
                    Some(order) if order.authorize_read(context.actor).is_ok() => {
                        if order.is_replayed_by(order.user_id, &digest) {
                            Ok(order)
                        } else {
                            Err(OrdersError::CheckoutKeyReused(signed.checkout_key.clone()))
                        }
                    }
                    _ => Err(expired.into()),
                };
            }
            Err(refused) => return Err(refused.into()),
        };
        if checkout.user_id != context.actor.user_id() && !context.actor.is_admin() {
            return Err(OrdersError::PermissionDenied(
                "the checkout snapshot belongs to another user".to_owned(),
            ));
        }
        let order = Order::place(
            OrderId::generate(),
            checkout,
            digest,
            context.correlation_id.clone(),
            now,
        );
        let (outbox, db) = (&self.inner.outbox, &self.inner.db);
        let placed = transaction!(OrdersError, "place_order", outbox.begin(db), |tx| {
            if orders::insert_if_new(tx, &order).await? {
                tx.emit(&OrderEvent::placed(&order), event_metadata(&order, now))
                    .await?;
                return Ok(order.clone());
            }
            let key = order.checkout_key.as_str();
            let existing = orders::find_by_checkout_key(tx, key)
                .await?
                .ok_or_else(|| {
                    OrdersError::internal(anyhow::anyhow!(
                        "checkout key {key} conflicted but no order holds it"
                    ))
                })?;
            // cart-svc scopes keys to the shopper and resends the bytes it
            // signed first, so only another checkout lands here with other
            // bytes or another user.
            if !existing.is_replayed_by(order.user_id, &digest) {
                return Err(OrdersError::CheckoutKeyReused(key.to_owned()));
            }
            Ok(existing)
        })?;
        tracing::Span::current().record("order_id", tracing::field::display(placed.id));
        Ok(placed)
    }

    /// GetOrder: the owner or an admin; NOT_FOUND for anyone else.
    #[instrument(skip_all, fields(%order_id), err(level = "info"))]
    pub async fn get_order(&self, actor: Actor, order_id: OrderId) -> Result<Order, OrdersError> {
        let order = orders::find_by_id(&self.inner.db, order_id)
            .await?
            .ok_or_else(|| not_found(order_id))?;
        order.authorize_read(actor)?;
        Ok(order)
    }

    /// ListOrders: the caller's orders, or (admins only) another user's.
    #[instrument(skip_all, err(level = "info"))]
    pub async fn list_orders(
        &self,
        actor: Actor,
        query: ListOrders,
    ) -> Result<OrderPage, OrdersError> {
        let owner = list_owner(actor, query.user_id)?;
        let page_size = query.page_size.clamp(1, MAX_PAGE_SIZE);
        let mut found = orders::list_for_user(
            &self.inner.db,
            owner,
            query.status,
            query.after,
            page_size + 1,
        )
        .await?;
        let more = found.len() as u64 > page_size;
        found.truncate(usize::try_from(page_size).unwrap_or(usize::MAX));
        let next_after = if more {
            found.last().map(|order| order.id)
        } else {
            None
        };
        Ok(OrderPage {
            orders: found,
            next_after,
        })
    }

    /// CancelOrder: the owner or an admin, before the order ships; emits
    /// [`OrderEvent::Canceled`] (which makes inventory release and payments
    /// void). Canceling a canceled order returns it unchanged.
    ///
    /// The event carries the order's correlation id (its checkout's), not
    /// the CancelOrder call's: every event of one checkout shares one id.
    #[instrument(skip_all, fields(%order_id), err(level = "info"))]
    pub async fn cancel_order(
        &self,
        context: &RequestContext,
        order_id: OrderId,
        reason: CancelReason,
    ) -> Result<Order, OrdersError> {
        let (outbox, db) = (&self.inner.outbox, &self.inner.db);
        transaction!(OrdersError, "cancel_order", outbox.begin(db), |tx| {
            let now = self.now();
            let mut order = orders::lock_by_id(tx, order_id)
                .await?
                .ok_or_else(|| not_found(order_id))?;
            let request = order.authorize_cancel(context.actor, reason.clone())?;
            let transition = match order.apply(OrderInput::Cancel(request), CANCEL_ORDER, now)? {
                Outcome::Applied(transition) => transition,
                Outcome::Ignored { .. } => return Ok(order),
            };
            let history_before = order.history.len();
            let events = order.record(transition);
            orders::store_transition(tx, &order, history_before).await?;
            for event in &events {
                tx.emit(event, event_metadata(&order, now)).await?;
            }
            Ok(order)
        })
    }

    /// A saga event, converted to `input` (`source` is its event type, for
    /// history reasons and errors), applied to its order in `tx`, the
    /// inbox's transaction: locks the order row (`SELECT … FOR UPDATE`), so
    /// the three consumers and CancelOrder change one order one at a time,
    /// applies the input and, when it changes the order, stores the new
    /// state and history entries. Returns the events to emit in `tx`; none
    /// when the input changes nothing ([`Outcome::Ignored`]).
    ///
    /// Refusals no retry cures: an order this service does not have
    /// (NOT_FOUND; every consumed event is caused, directly or not, by an
    /// order placed only after the order was committed, so an unknown id
    /// means a misrouted or fabricated event) and an input that contradicts
    /// the order's history (INTERNAL: another service broke the saga's
    /// rules). Storage failures are [`OrdersError::Store`].
    #[instrument(skip_all, fields(%order_id, %source), err(level = "info"))]
    pub async fn apply_event_in(
        &self,
        tx: &DatabaseTransaction,
        order_id: OrderId,
        input: OrderInput,
        source: &'static str,
    ) -> Result<Vec<OrderEvent>, OrdersError> {
        let Some(mut order) = orders::lock_by_id(tx, order_id).await? else {
            return Err(OrdersError::NotFound(format!(
                "order {order_id} does not exist"
            )));
        };
        let transition = match order.apply(input, source, self.now())? {
            Outcome::Applied(transition) => transition,
            Outcome::Ignored { reason } => {
                tracing::debug!(%order_id, %reason, "event ignored");
                return Ok(Vec::new());
            }
        };
        let history_before = order.history.len();
        let events = order.record(transition);
        orders::store_transition(tx, &order, history_before).await?;
        tracing::info!(%order_id, status = %order.status(), "order moved");
        Ok(events)
    }
}

/// Metadata of an event about `order` emitted by a request: the order
/// aggregate and the order's (its checkout's) correlation id.
fn event_metadata(order: &Order, occurred_at: DateTime<Utc>) -> EventMetadata {
    let mut metadata = EventMetadata::new(OrderEvent::AGGREGATE_TYPE, order.id.to_string())
        .with_correlation_id(order.correlation_id.clone());
    metadata.occurred_at = occurred_at;
    metadata
}

fn not_found(order_id: OrderId) -> OrdersError {
    OrdersError::NotFound(format!("order {order_id} not found"))
}
