//! Inventory's use cases, independent of the transport.
//!
//! Each change runs the same way whoever asks (an event consumer, an RPC, the
//! expiry worker): in one transaction, lock the rows in the global order
//! (the reservation, then its stock rows by SKU), apply the domain function,
//! store what it returns, and emit its event in the same transaction. The
//! `*_in` functions do all but the emit inside a transaction the caller
//! owns and return the event: a consumer emits it with `context.emit` in
//! the inbox's transaction (causation = the incoming event), an RPC with
//! `tx.emit` in its own, which it runs again on a conflict by the shared
//! policy ([`transaction!`]). Either emit takes the domain's
//! [`InventoryEvent`] as it is; `crate::convert::events` makes it the
//! generated message.

pub mod error;
pub mod expiry;
pub mod settings;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ecommerce_db::{StoreError, transaction};
use ecommerce_events::EventMetadata;
use ecommerce_kernel::Clock;
use ecommerce_outbox::Outbox;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use tracing::instrument;

use crate::app::error::AppError;
use crate::app::settings::InventorySettings;
use crate::domain::{
    AdjustOutcome, AdjustStock, AdjustmentId, BlockOutcome, CancelOutcome, CommitOutcome,
    ExpireOutcome, InventoryEvent, OpenOutcome, OrderId, PriorAttempt, ReleaseOutcome,
    ReleaseReason, Reservation, ReservationId, ReservationRequest, ReservationStatus,
    ReserveOutcome, Sku, StockLevel, adjust_stock, block_stock, cancel_order, commit, expire,
    open_stock, release, reserve,
};
use crate::storage::{self, Lock, NewAdjustment, StoredReservation};

/// Who a reservation is looked up by: events name the order, RPCs the
/// reservation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReservationKey {
    Order(OrderId),
    Reservation(ReservationId),
}

/// What a reservation change did: the reservation as it is now, and the
/// event to emit, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied<O> {
    pub outcome: O,
    /// The reservation after the change (or as found, when nothing changed).
    pub reservation: Reservation,
    pub event: Option<InventoryEvent>,
}

/// The result of AdjustStock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Adjusted {
    /// The recorded adjustment; `None` when a stocktake found on-hand as
    /// counted (nothing recorded).
    pub adjustment_id: Option<AdjustmentId>,
    pub level: StockLevel,
}

/// The inventory service.
#[derive(Clone, Debug)]
pub struct InventoryApp {
    db: DatabaseConnection,
    outbox: Outbox,
    settings: InventorySettings,
    clock: Arc<dyn Clock>,
}

impl InventoryApp {
    /// `db` must be migrated with `inventory_migration::Migrator`; `outbox`
    /// writes to that schema's `inventory_outbox_events`; `clock` says when
    /// reservations expire (`SystemClock` in the service).
    pub fn new(
        db: DatabaseConnection,
        outbox: Outbox,
        settings: InventorySettings,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            db,
            outbox,
            settings,
            clock,
        }
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    pub fn settings(&self) -> &InventorySettings {
        &self.settings
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    // ------------------------------------------------------------ reads

    pub async fn get_stock(&self, sku: &Sku) -> Result<StockLevel, AppError> {
        storage::find_stock(&self.db, sku)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("stock of SKU {sku}")))
    }

    /// The stocks of `skus` that exist (unknown SKUs are left out), in SKU order.
    pub async fn batch_get_stock(&self, skus: &[Sku]) -> Result<Vec<StockLevel>, AppError> {
        Ok(storage::find_stocks(&self.db, skus).await?)
    }

    pub async fn get_reservation(&self, id: ReservationId) -> Result<Reservation, AppError> {
        storage::find_reservation(&self.db, id, Lock::None)
            .await?
            .map(|stored| stored.reservation)
            .ok_or_else(|| AppError::NotFound(format!("reservation {id}")))
    }

    // -------------------------------------------------- catalog events

    /// On `catalog.variant.created.v1`: opens empty, reservable stock;
    /// nothing when the SKU has stock already. Emits nothing.
    #[instrument(skip_all, fields(%sku), err(level = "info"))]
    pub async fn open_stock_in<C: ConnectionTrait>(
        &self,
        db: &C,
        sku: Sku,
    ) -> Result<(), AppError> {
        let existing = storage::lock_stocks(db, [&sku]).await?;
        match open_stock(existing.first(), sku, self.now()) {
            OpenOutcome::Opened(level) => {
                // A concurrent open of the same SKU is then the ignored one.
                storage::insert_stock(db, &level).await?;
            }
            OpenOutcome::Ignored => {}
        }
        Ok(())
    }

    /// On `catalog.variant.discontinued.v1`: blocks the SKU (opening it
    /// blocked when unknown). Emits nothing.
    #[instrument(skip_all, fields(%sku), err(level = "info"))]
    pub async fn block_stock_in<C: ConnectionTrait>(
        &self,
        db: &C,
        sku: Sku,
    ) -> Result<(), AppError> {
        let existing = storage::lock_stocks(db, [&sku]).await?;
        match block_stock(existing.first(), sku, self.now())? {
            BlockOutcome::Blocked(level) if existing.is_empty() => {
                if !storage::insert_stock(db, &level).await? {
                    // Lost the race to a concurrent open: block it on the
                    // retry, which finds its row.
                    return Err(StoreError::conflict(format!(
                        "stock of SKU {} was opened concurrently",
                        level.sku()
                    ))
                    .into());
                }
            }
            BlockOutcome::Blocked(level) => storage::update_stock(db, &level).await?,
            BlockOutcome::Ignored => {}
        }
        Ok(())
    }

    // ---------------------------------------------------- reservations

    /// Reserves every line of `request` or none, inside `db`; returns the
    /// outcome and the event for the caller to emit. `correlation_id` is
    /// stored with the reservation so the expiry worker's event keeps the
    /// checkout's correlation.
    #[instrument(skip_all, fields(order_id = %request.order_id), err(level = "info"))]
    pub async fn reserve_in<C: ConnectionTrait>(
        &self,
        db: &C,
        request: &ReservationRequest,
        correlation_id: Option<&str>,
    ) -> Result<(ReserveOutcome, Option<InventoryEvent>), AppError> {
        storage::lock_order_attempts(db, request.order_id).await?;
        let existing = storage::find_reservation_by_order(db, request.order_id, Lock::None).await?;
        let failure = match existing {
            Some(_) => None,
            None => storage::find_failure(db, request.order_id).await?,
        };
        let prior = match (&existing, &failure) {
            (Some(stored), _) => PriorAttempt::Reserved(&stored.reservation),
            (None, Some(failure)) => PriorAttempt::Failed(failure),
            (None, None) => PriorAttempt::None,
        };
        let levels = match prior {
            PriorAttempt::None => storage::lock_stocks(db, request.lock_order()).await?,
            PriorAttempt::Reserved(_) | PriorAttempt::Failed(_) => Vec::new(),
        };
        let outcome = reserve(prior, &levels, request, self.now())?;
        let event = match &outcome {
            ReserveOutcome::Reserved(transition) => {
                storage::insert_reservation(db, &transition.reservation, correlation_id).await?;
                storage::update_stocks(db, &transition.levels).await?;
                Some(transition.event.clone().into())
            }
            ReserveOutcome::Failed { failure, event } => {
                storage::insert_failure(db, failure).await?;
                Some(event.clone().into())
            }
            ReserveOutcome::Ignored(because) => {
                tracing::info!(?because, "reservation ignored");
                None
            }
        };
        Ok((outcome, event))
    }

    /// Locks the reservation, then its stock rows in lock order.
    async fn lock_reservation<C: ConnectionTrait>(
        &self,
        db: &C,
        key: ReservationKey,
    ) -> Result<Option<(StoredReservation, Vec<StockLevel>)>, AppError> {
        let stored = match key {
            ReservationKey::Order(order_id) => {
                storage::find_reservation_by_order(db, order_id, Lock::Update).await?
            }
            ReservationKey::Reservation(id) => {
                storage::find_reservation(db, id, Lock::Update).await?
            }
        };
        let Some(stored) = stored else {
            return Ok(None);
        };
        let levels = storage::lock_stocks(db, stored.reservation.lock_order()).await?;
        Ok(Some((stored, levels)))
    }

    /// Commits the held reservation of `key` (on `payment_authorized`);
    /// `None` when there is none.
    #[instrument(skip_all, fields(?key), err(level = "info"))]
    pub async fn commit_in<C: ConnectionTrait>(
        &self,
        db: &C,
        key: ReservationKey,
    ) -> Result<Option<Applied<CommitOutcome>>, AppError> {
        let Some((stored, levels)) = self.lock_reservation(db, key).await? else {
            return Ok(None);
        };
        let outcome = commit(&stored.reservation, &levels, self.now())?;
        let (reservation, event) = match &outcome {
            CommitOutcome::Committed(transition) => {
                store_transition(
                    db,
                    &transition.reservation,
                    &transition.levels,
                    ReservationStatus::Held,
                )
                .await?;
                (
                    transition.reservation.clone(),
                    Some(transition.event.clone().into()),
                )
            }
            CommitOutcome::ExpiredInstead(transition) => {
                tracing::warn!(reservation_id = %stored.reservation.id(), "authorization after the ttl: expired instead of committed");
                store_transition(
                    db,
                    &transition.reservation,
                    &transition.levels,
                    ReservationStatus::Held,
                )
                .await?;
                (
                    transition.reservation.clone(),
                    Some(transition.event.clone().into()),
                )
            }
            CommitOutcome::Ignored(_) => (stored.reservation, None),
            CommitOutcome::TooLate { status } => {
                tracing::warn!(reservation_id = %stored.reservation.id(), %status, "authorization after the reservation ended: not committed");
                (stored.reservation, None)
            }
        };
        Ok(Some(Applied {
            outcome,
            reservation,
            event,
        }))
    }

    /// Releases the held reservation of `key`; `None` when there is none.
    #[instrument(skip_all, fields(?key, reason = reason.as_str()), err(level = "info"))]
    pub async fn release_in<C: ConnectionTrait>(
        &self,
        db: &C,
        key: ReservationKey,
        reason: &ReleaseReason,
    ) -> Result<Option<Applied<ReleaseOutcome>>, AppError> {
        let Some((stored, levels)) = self.lock_reservation(db, key).await? else {
            return Ok(None);
        };
        let outcome = release(&stored.reservation, &levels, reason, self.now())?;
        let (reservation, event) = match &outcome {
            ReleaseOutcome::Released(transition) => {
                store_transition(
                    db,
                    &transition.reservation,
                    &transition.levels,
                    ReservationStatus::Held,
                )
                .await?;
                (
                    transition.reservation.clone(),
                    Some(transition.event.clone().into()),
                )
            }
            ReleaseOutcome::ExpiredInstead(transition) => {
                store_transition(
                    db,
                    &transition.reservation,
                    &transition.levels,
                    ReservationStatus::Held,
                )
                .await?;
                (
                    transition.reservation.clone(),
                    Some(transition.event.clone().into()),
                )
            }
            ReleaseOutcome::Ignored(_) => (stored.reservation, None),
            ReleaseOutcome::RefusedCommitted => {
                tracing::warn!(reservation_id = %stored.reservation.id(), "release of a committed reservation refused");
                (stored.reservation, None)
            }
        };
        Ok(Some(Applied {
            outcome,
            reservation,
            event,
        }))
    }

    /// On `orders.order_canceled.v1`: releases the order's held
    /// reservation, or restocks its committed one (the order was canceled
    /// at CONFIRMED, before it shipped); `None` when the order has no
    /// reservation (it was refused).
    #[instrument(skip_all, fields(%order_id), err(level = "info"))]
    pub async fn cancel_order_in<C: ConnectionTrait>(
        &self,
        db: &C,
        order_id: OrderId,
    ) -> Result<Option<Applied<CancelOutcome>>, AppError> {
        let key = ReservationKey::Order(order_id);
        let Some((stored, levels)) = self.lock_reservation(db, key).await? else {
            return Ok(None);
        };
        let from = stored.reservation.status();
        let outcome = cancel_order(&stored.reservation, &levels, self.now())?;
        let (reservation, event) = match &outcome {
            CancelOutcome::Release(ReleaseOutcome::Released(transition)) => {
                store_transition(db, &transition.reservation, &transition.levels, from).await?;
                (
                    transition.reservation.clone(),
                    Some(transition.event.clone().into()),
                )
            }
            CancelOutcome::Release(ReleaseOutcome::ExpiredInstead(transition)) => {
                store_transition(db, &transition.reservation, &transition.levels, from).await?;
                (
                    transition.reservation.clone(),
                    Some(transition.event.clone().into()),
                )
            }
            CancelOutcome::Restocked(transition) => {
                store_transition(db, &transition.reservation, &transition.levels, from).await?;
                tracing::info!(reservation_id = %transition.reservation.id(), "committed units restocked");
                (
                    transition.reservation.clone(),
                    Some(transition.event.clone().into()),
                )
            }
            CancelOutcome::Release(
                ReleaseOutcome::Ignored(_) | ReleaseOutcome::RefusedCommitted,
            ) => (stored.reservation, None),
        };
        Ok(Some(Applied {
            outcome,
            reservation,
            event,
        }))
    }

    // ----------------------------------------------------- RPC writes

    /// AdjustStock: one transaction with its `adjustment_applied` event.
    /// Idempotent on `idempotency_key`: a retry answers the recorded
    /// adjustment and the current level, and emits nothing. A stocktake is
    /// applied only to the on-hand it was counted from (ABORTED
    /// otherwise: `InventoryError::StaleOnHand`).
    #[instrument(skip_all, fields(sku = %command.sku), err(level = "info"))]
    pub async fn adjust_stock(
        &self,
        command: &AdjustStock,
        idempotency_key: Option<&str>,
        correlation_id: &str,
    ) -> Result<Adjusted, AppError> {
        let (outbox, db) = (&self.outbox, &self.db);
        transaction!(AppError, "adjust_stock", outbox.begin(db), |tx| {
            if let Some(key) = idempotency_key {
                if let Some(recorded) = storage::find_adjustment_by_key(tx, key).await? {
                    if recorded.sku != command.sku {
                        return Err(AppError::FailedPrecondition(format!(
                            "idempotency key {key:?} was used for SKU {}",
                            recorded.sku
                        )));
                    }
                    let level = storage::find_stock(tx, &command.sku)
                        .await?
                        .ok_or_else(|| {
                            AppError::Internal(format!("adjusted SKU {} has no stock", command.sku))
                        })?;
                    return Ok(Adjusted {
                        adjustment_id: Some(recorded.id),
                        level,
                    });
                }
            }
            let now = self.now();
            let locked = storage::lock_stocks(tx, [&command.sku]).await?;
            let adjusted = match adjust_stock(locked.first(), command, now)? {
                AdjustOutcome::Applied { level, event } => {
                    storage::update_stock(tx, &level).await?;
                    storage::insert_adjustment(
                        tx,
                        NewAdjustment {
                            id: command.adjustment_id,
                            sku: &command.sku,
                            delta: event.delta,
                            reason: command.reason.as_str(),
                            level_after: &level,
                            idempotency_key,
                            now,
                        },
                    )
                    .await?;
                    let event = InventoryEvent::from(event);
                    tx.emit(&event, metadata(&event, Some(correlation_id)))
                        .await?;
                    Adjusted {
                        adjustment_id: Some(command.adjustment_id),
                        level,
                    }
                }
                AdjustOutcome::Unchanged { level } => Adjusted {
                    adjustment_id: None,
                    level,
                },
            };
            Ok(adjusted)
        })
    }

    /// ReserveStock: reserves in a transaction of its own. A refusal is
    /// stored and emitted like the consumer's, then answered as
    /// FAILED_PRECONDITION naming the short lines.
    pub async fn reserve_stock(
        &self,
        request: &ReservationRequest,
        correlation_id: &str,
    ) -> Result<Reservation, AppError> {
        let (outbox, db) = (&self.outbox, &self.db);
        let outcome = transaction!(AppError, "reserve_stock", outbox.begin(db), |tx| {
            let (outcome, event) = self.reserve_in(tx, request, Some(correlation_id)).await?;
            if let Some(event) = &event {
                tx.emit(event, metadata(event, Some(correlation_id)))
                    .await?;
            }
            Ok(outcome)
        })?;
        match outcome {
            ReserveOutcome::Reserved(transition) => Ok(transition.reservation),
            ReserveOutcome::Failed { failure, .. } => Err(refused(&failure.short_lines)),
            ReserveOutcome::Ignored(_) => {
                let stored =
                    storage::find_reservation_by_order(&self.db, request.order_id, Lock::None)
                        .await?;
                match stored {
                    Some(stored) => Ok(stored.reservation),
                    None => {
                        let failure = storage::find_failure(&self.db, request.order_id).await?;
                        Err(failure.map_or_else(
                            || {
                                AppError::Internal(
                                    "ignored reservation without a record".to_owned(),
                                )
                            },
                            |failure| refused(&failure.short_lines),
                        ))
                    }
                }
            }
        }
    }

    /// CommitReservation.
    pub async fn commit_reservation(
        &self,
        id: ReservationId,
        correlation_id: &str,
    ) -> Result<Reservation, AppError> {
        let (outbox, db) = (&self.outbox, &self.db);
        let applied = transaction!(AppError, "commit_reservation", outbox.begin(db), |tx| {
            let applied = self.commit_in(tx, ReservationKey::Reservation(id)).await?;
            if let Some(event) = applied.as_ref().and_then(|applied| applied.event.as_ref()) {
                tx.emit(event, metadata(event, Some(correlation_id)))
                    .await?;
            }
            Ok(applied)
        })?
        .ok_or_else(|| AppError::NotFound(format!("reservation {id}")))?;
        match applied.outcome {
            CommitOutcome::Committed(_) | CommitOutcome::Ignored(_) => Ok(applied.reservation),
            CommitOutcome::ExpiredInstead(_) => Err(AppError::FailedPrecondition(format!(
                "reservation {id} expired before it was committed"
            ))),
            CommitOutcome::TooLate { status } => Err(AppError::FailedPrecondition(format!(
                "reservation {id} is {status} and cannot be committed"
            ))),
        }
    }

    /// ReleaseReservation.
    pub async fn release_reservation(
        &self,
        id: ReservationId,
        reason: &ReleaseReason,
        correlation_id: &str,
    ) -> Result<Reservation, AppError> {
        let (outbox, db) = (&self.outbox, &self.db);
        let applied = transaction!(AppError, "release_reservation", outbox.begin(db), |tx| {
            let applied = self
                .release_in(tx, ReservationKey::Reservation(id), reason)
                .await?;
            if let Some(event) = applied.as_ref().and_then(|applied| applied.event.as_ref()) {
                tx.emit(event, metadata(event, Some(correlation_id)))
                    .await?;
            }
            Ok(applied)
        })?
        .ok_or_else(|| AppError::NotFound(format!("reservation {id}")))?;
        match applied.outcome {
            ReleaseOutcome::RefusedCommitted => Err(AppError::FailedPrecondition(format!(
                "reservation {id} is COMMITTED; restock with AdjustStock"
            ))),
            ReleaseOutcome::Released(_)
            | ReleaseOutcome::ExpiredInstead(_)
            | ReleaseOutcome::Ignored(_) => Ok(applied.reservation),
        }
    }

    // --------------------------------------------------------- expiry

    /// Expires the held reservation that has been due longest, if any, in
    /// a transaction of its own; `true` when one was expired (or found not
    /// due after all), `false` when none is due.
    pub async fn expire_next(&self) -> Result<bool, AppError> {
        let (outbox, db) = (&self.outbox, &self.db);
        transaction!(AppError, "expire_reservation", outbox.begin(db), |tx| {
            let now = self.now();
            let Some(stored) = storage::lock_next_due(tx, now).await? else {
                return Ok(false);
            };
            let levels = storage::lock_stocks(tx, stored.reservation.lock_order()).await?;
            match expire(&stored.reservation, &levels, now)? {
                ExpireOutcome::Expired(transition) => {
                    store_transition(
                        tx,
                        &transition.reservation,
                        &transition.levels,
                        ReservationStatus::Held,
                    )
                    .await?;
                    tracing::info!(reservation_id = %transition.reservation.id(), order_id = %transition.reservation.order_id(), "reservation expired");
                    let event = InventoryEvent::from(transition.event);
                    let metadata = metadata(&event, stored.correlation_id.as_deref());
                    tx.emit(&event, metadata).await?;
                }
                ExpireOutcome::Ignored(because) => {
                    tracing::debug!(?because, "due reservation not expired");
                }
            }
            Ok(true)
        })
    }
}

/// A reservation whose units moved from status `from`: its new status,
/// then its stock rows.
async fn store_transition<C: ConnectionTrait>(
    db: &C,
    reservation: &Reservation,
    levels: &[StockLevel],
    from: ReservationStatus,
) -> Result<(), StoreError> {
    storage::update_reservation_status(db, reservation, from).await?;
    storage::update_stocks(db, levels).await
}

/// The envelope of `event` emitted by an RPC or the worker: its aggregate,
/// and the caller's (or the stored checkout's) correlation id.
fn metadata(event: &InventoryEvent, correlation_id: Option<&str>) -> EventMetadata {
    let aggregate = event.aggregate();
    let metadata = EventMetadata::new(aggregate.aggregate_type, aggregate.id);
    match correlation_id {
        Some(correlation_id) => metadata.with_correlation_id(correlation_id.to_owned()),
        None => metadata,
    }
}

fn refused(short_lines: &[crate::domain::ShortLine]) -> AppError {
    let lines: Vec<String> = short_lines
        .iter()
        .map(|line| {
            format!(
                "{} (requested {}, available {})",
                line.sku, line.requested, line.available
            )
        })
        .collect();
    AppError::FailedPrecondition(format!("stock is short for {}", lines.join(", ")))
}
