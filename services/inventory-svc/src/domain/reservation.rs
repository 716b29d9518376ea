//! Reservations: units of several SKUs held for one order until they are
//! committed, released or expired.
//!
//! Every function here is pure: it takes the reservation and the stock
//! levels as the caller read (and locked) them, and returns the new values
//! to store plus the event to write to the outbox in the same transaction.
//! Each is idempotent: applied to its own result it changes nothing.
//!
//! # Lifecycle
//!
//! `HELD -> COMMITTED | RELEASED | EXPIRED`, all three terminal (the proto
//! calls HELD `RESERVATION_STATUS_PENDING`).
//!
//! | status    | commit (authorized)  | release (failed / canceled) | expire (worker) |
//! |-----------|----------------------|-----------------------------|-----------------|
//! | HELD, TTL left   | COMMITTED, `committed` | RELEASED, `released` | ignored (not due) |
//! | HELD, TTL passed | EXPIRED, `expired` (never commits) | EXPIRED, `expired` | EXPIRED, `expired` |
//! | COMMITTED | ignored (repeat)     | refused (units left stock)  | ignored |
//! | RELEASED  | too late, no event   | ignored (repeat)            | ignored |
//! | EXPIRED   | too late, no event   | ignored                     | ignored (repeat) |
//!
//! The TTL is the truth, whoever looks first: once `now >= expires_at` a
//! held reservation expires, whether the expiry worker, a late
//! authorization or a release reaches it. So a late authorization never
//! commits, and the `reservation_expired` event (written either by the
//! worker or by the late commit itself) is what makes orders cancel the
//! order and payments void the authorization. When the reservation had
//! expired or been released before, that event was written with the
//! transition, so a late commit emits nothing new: a second event would
//! only be a duplicate with a fresh id.
//!
//! # Concurrency
//!
//! Every transaction locks rows in one global order, so two of them can
//! never wait on each other in a cycle: first the reservation row (commit,
//! release, expire), then the stock rows of its SKUs in
//! [`ReservationLines::lock_order`] (byte order of the SKU, which is
//! `ORDER BY sku COLLATE "C"` in Postgres). Reserving has no reservation
//! row yet, adjusting and blocking touch a single stock row, so all agree
//! with that order. The expiry worker picks due reservations with
//! `FOR UPDATE SKIP LOCKED` so it never waits on a consumer.
//!
//! The database must also enforce, for when a lock is missed:
//! - `reservations.order_id UNIQUE`: at most one reservation per order;
//! - `reservation_lines`: `quantity > 0`, primary key `(reservation_id, sku)`;
//! - `reservations.status IN ('held', 'committed', 'released', 'expired')`,
//!   `expires_at > created_at`;
//! - status changes only from held: `UPDATE reservations SET status = $new
//!   WHERE id = $id AND status = 'held'`, one row or the transaction
//!   retries;
//! - the stock checks listed in `stock`.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};

use crate::domain::error::{InvalidValue, InventoryError};
use crate::domain::events::{
    StockCommitted, StockReservationExpired, StockReservationFailed, StockReservationReleased,
    StockReserved,
};
use crate::domain::stock::{StockLevel, StockStatus};
use crate::domain::values::{OrderId, Quantity, Reason, ReservationId, ReservationTtl, Sku};

/// Lifecycle state of a reservation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReservationStatus {
    /// Units are held until `expires_at`.
    Held,
    /// Units left on-hand stock for good (the order is paid).
    Committed,
    /// Units returned before expiry (payment failed, order canceled, or an
    /// operator).
    Released,
    /// Units returned because the TTL ran out.
    Expired,
}

impl ReservationStatus {
    pub const ALL: [Self; 4] = [Self::Held, Self::Committed, Self::Released, Self::Expired];

    /// The stored form (`reservations.status`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Held => "held",
            Self::Committed => "committed",
            Self::Released => "released",
            Self::Expired => "expired",
        }
    }

    pub fn from_stored(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == value)
    }

    /// The proto enum's value name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Held => "PENDING",
            Self::Committed => "COMMITTED",
            Self::Released => "RELEASED",
            Self::Expired => "EXPIRED",
        }
    }

    pub fn is_terminal(self) -> bool {
        self != Self::Held
    }
}

impl fmt::Display for ReservationStatus {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// Units of one SKU in a reservation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReservationLine {
    pub sku: Sku,
    pub quantity: Quantity,
}

/// The lines of one reservation: one per SKU, sorted by SKU, at least one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReservationLines(Vec<ReservationLine>);

impl ReservationLines {
    /// Most distinct SKUs one order may reserve: a bound on the rows one
    /// transaction locks.
    pub const MAX_SKUS: usize = 500;

    /// An order's lines as placed: the same SKU on several lines (one
    /// order may list a SKU twice, e.g. with two shipping notes) is one
    /// line with the summed quantity, because availability is per SKU.
    pub fn aggregate(
        lines: impl IntoIterator<Item = (Sku, Quantity)>,
    ) -> Result<Self, InvalidValue> {
        let mut by_sku: BTreeMap<Sku, Quantity> = BTreeMap::new();
        for (sku, quantity) in lines {
            let total = match by_sku.get(&sku) {
                Some(earlier) => earlier.checked_add(quantity).ok_or_else(|| {
                    InvalidValue::new(format!(
                        "the quantities of SKU {sku} add up to more than {}",
                        i32::MAX
                    ))
                })?,
                None => quantity,
            };
            by_sku.insert(sku, total);
        }
        if by_sku.is_empty() {
            return Err(InvalidValue::new("must hold at least one line"));
        }
        if by_sku.len() > Self::MAX_SKUS {
            return Err(InvalidValue::new(format!(
                "must hold at most {} distinct SKUs, got {}",
                Self::MAX_SKUS,
                by_sku.len()
            )));
        }
        Ok(Self(
            by_sku
                .into_iter()
                .map(|(sku, quantity)| ReservationLine { sku, quantity })
                .collect(),
        ))
    }

    /// Lines read back from `reservation_lines` (in any order).
    pub fn from_stored(mut lines: Vec<ReservationLine>) -> Result<Self, InventoryError> {
        lines.sort_by(|left, right| left.sku.cmp(&right.sku));
        if lines.is_empty() {
            return Err(InventoryError::inconsistent("a reservation without lines"));
        }
        if let Some(pair) = lines.windows(2).find(|pair| pair[0].sku == pair[1].sku) {
            return Err(InventoryError::inconsistent(format!(
                "a reservation with two lines of SKU {}",
                pair[0].sku
            )));
        }
        Ok(Self(lines))
    }

    pub fn as_slice(&self) -> &[ReservationLine] {
        &self.0
    }

    /// The SKUs in the order their stock rows must be locked: the same
    /// order for every transaction, so none can deadlock another.
    pub fn lock_order(&self) -> impl Iterator<Item = &Sku> + '_ {
        self.0.iter().map(|line| &line.sku)
    }

    fn to_vec(&self) -> Vec<ReservationLine> {
        self.0.clone()
    }
}

/// A request to reserve an order's lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReservationRequest {
    /// Minted by the caller (`ReservationId::generate`) so this stays pure.
    pub reservation_id: ReservationId,
    pub order_id: OrderId,
    pub lines: ReservationLines,
    pub ttl: ReservationTtl,
}

impl ReservationRequest {
    /// See [`ReservationLines::lock_order`].
    pub fn lock_order(&self) -> impl Iterator<Item = &Sku> + '_ {
        self.lines.lock_order()
    }
}

/// Units held for one order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reservation {
    id: ReservationId,
    order_id: OrderId,
    lines: ReservationLines,
    status: ReservationStatus,
    expires_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl Reservation {
    pub fn from_stored(
        id: ReservationId,
        order_id: OrderId,
        lines: ReservationLines,
        status: ReservationStatus,
        expires_at: DateTime<Utc>,
        created_at: DateTime<Utc>,
        updated_at: DateTime<Utc>,
    ) -> Result<Self, InventoryError> {
        if expires_at <= created_at {
            return Err(InventoryError::inconsistent(format!(
                "reservation {id} expires at {expires_at}, not after its creation at {created_at}"
            )));
        }
        Ok(Self {
            id,
            order_id,
            lines,
            status,
            expires_at,
            created_at,
            updated_at,
        })
    }

    pub fn id(&self) -> ReservationId {
        self.id
    }

    pub fn order_id(&self) -> OrderId {
        self.order_id
    }

    pub fn lines(&self) -> &ReservationLines {
        &self.lines
    }

    pub fn status(&self) -> ReservationStatus {
        self.status
    }

    pub fn expires_at(&self) -> DateTime<Utc> {
        self.expires_at
    }

    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    pub fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }

    /// See [`ReservationLines::lock_order`].
    pub fn lock_order(&self) -> impl Iterator<Item = &Sku> + '_ {
        self.lines.lock_order()
    }

    /// Whether the TTL has run out on a held reservation: the expiry
    /// worker's query is `status = 'held' AND expires_at <= now()`.
    pub fn is_due(&self, now: DateTime<Utc>) -> bool {
        self.status == ReservationStatus::Held && now >= self.expires_at
    }

    fn with_status(&self, status: ReservationStatus, now: DateTime<Utc>) -> Self {
        Self {
            status,
            updated_at: now,
            ..self.clone()
        }
    }
}

/// Why an order's stock could not be reserved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailureReason {
    InsufficientStock,
    UnknownSku,
    /// The SKU is blocked (its variant was discontinued).
    SkuBlocked,
}

impl FailureReason {
    pub const ALL: [Self; 3] = [Self::InsufficientStock, Self::UnknownSku, Self::SkuBlocked];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InsufficientStock => "insufficient_stock",
            Self::UnknownSku => "unknown_sku",
            Self::SkuBlocked => "sku_blocked",
        }
    }

    pub fn from_stored(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|reason| reason.as_str() == value)
    }
}

/// A SKU that could not be reserved in full.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ShortLine {
    pub sku: Sku,
    pub requested: i32,
    /// Units available when the reservation was tried; 0 for an unknown or
    /// blocked SKU (the proto's rule), whatever its counts.
    pub available: i32,
}

/// A reservation that was refused; nothing was reserved.
///
/// Stored (`reservation_failures`, keyed by order id) so that the same
/// order placed again (a re-publish with a new message id, which the inbox
/// cannot recognise) is not reserved after it was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReservationFailure {
    pub order_id: OrderId,
    /// The reason of the first short line in SKU order.
    pub reason: FailureReason,
    /// Every short line, in SKU order.
    pub short_lines: Vec<ShortLine>,
    pub failed_at: DateTime<Utc>,
}

/// What inventory already did for the order, read under the same
/// transaction as the stock rows.
///
/// Two deliveries of one order racing each other would both read `None`
/// (there is no row to lock yet), so the storage layer must serialize
/// them on the order: `reservations.order_id UNIQUE` and
/// `reservation_failures.order_id PRIMARY KEY` make the loser's insert fail
/// and retry (then it reads the winner's attempt), and a reserve that races
/// a failure of the same order is caught by taking
/// `pg_advisory_xact_lock` on the order id (or one `reservation_attempts`
/// row per order inserted first) before reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PriorAttempt<'a> {
    None,
    Reserved(&'a Reservation),
    Failed(&'a ReservationFailure),
}

/// A reservation that changed, the stock levels it changed (in lock
/// order), and the event to emit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition<E> {
    pub reservation: Reservation,
    pub levels: Vec<StockLevel>,
    pub event: E,
}

/// Why an operation changed nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IgnoredBecause {
    /// The order has a reservation already (any status).
    AlreadyReserved,
    /// The order's reservation was refused already.
    AlreadyFailed,
    AlreadyCommitted,
    AlreadyReleased,
    AlreadyExpired,
    /// The expiry worker found a held reservation whose TTL has not run out
    /// (clock skew between its query and this check).
    NotDue,
}

/// The result of [`reserve`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReserveOutcome {
    /// Every line was reserved: insert the reservation, store the levels,
    /// emit `stock.reserved`.
    Reserved(Transition<StockReserved>),
    /// Nothing was reserved: record the failure, emit
    /// `stock.reservation_failed`. No stock row changes.
    Failed {
        failure: ReservationFailure,
        event: StockReservationFailed,
    },
    Ignored(IgnoredBecause),
}

/// Reserves every line of `request`, or none.
///
/// `levels` holds the stock rows of the request's SKUs, locked in
/// [`ReservationRequest::lock_order`]; a SKU without a row is unknown.
/// Rows of other SKUs are ignored.
pub fn reserve(
    prior: PriorAttempt<'_>,
    levels: &[StockLevel],
    request: &ReservationRequest,
    now: DateTime<Utc>,
) -> Result<ReserveOutcome, InventoryError> {
    match prior {
        PriorAttempt::Reserved(existing) => {
            check_same_order(existing.order_id, request.order_id)?;
            return Ok(ReserveOutcome::Ignored(IgnoredBecause::AlreadyReserved));
        }
        PriorAttempt::Failed(failure) => {
            check_same_order(failure.order_id, request.order_id)?;
            return Ok(ReserveOutcome::Ignored(IgnoredBecause::AlreadyFailed));
        }
        PriorAttempt::None => {}
    }
    let by_sku = index_levels(levels)?;

    let mut short_lines = Vec::new();
    let mut first_reason = None;
    for line in request.lines.as_slice() {
        let requested = line.quantity.get();
        let shortage = match by_sku.get(&line.sku) {
            None => Some((FailureReason::UnknownSku, 0)),
            Some(level) if level.status() == StockStatus::Blocked => {
                Some((FailureReason::SkuBlocked, 0))
            }
            Some(level) if level.available() < requested => {
                Some((FailureReason::InsufficientStock, level.available()))
            }
            Some(_) => None,
        };
        if let Some((reason, available)) = shortage {
            first_reason.get_or_insert(reason);
            short_lines.push(ShortLine {
                sku: line.sku.clone(),
                requested,
                available,
            });
        }
    }
    if let Some(reason) = first_reason {
        let failure = ReservationFailure {
            order_id: request.order_id,
            reason,
            short_lines,
            failed_at: now,
        };
        let event = StockReservationFailed {
            order_id: failure.order_id,
            reason: failure.reason,
            short_lines: failure.short_lines.clone(),
        };
        return Ok(ReserveOutcome::Failed { failure, event });
    }

    let mut changed = Vec::with_capacity(request.lines.as_slice().len());
    for line in request.lines.as_slice() {
        let level = by_sku.get(&line.sku).ok_or_else(|| {
            InventoryError::inconsistent(format!("stock of SKU {} vanished", line.sku))
        })?;
        changed.push(level.changed(
            i64::from(level.on_hand()),
            i64::from(level.reserved()) + i64::from(line.quantity.get()),
            level.status(),
            now,
        )?);
    }
    let reservation = Reservation {
        id: request.reservation_id,
        order_id: request.order_id,
        lines: request.lines.clone(),
        status: ReservationStatus::Held,
        expires_at: now + request.ttl.as_duration(),
        created_at: now,
        updated_at: now,
    };
    let event = StockReserved {
        reservation_id: reservation.id,
        order_id: reservation.order_id,
        lines: reservation.lines.to_vec(),
        expires_at: reservation.expires_at,
    };
    Ok(ReserveOutcome::Reserved(Transition {
        reservation,
        levels: changed,
        event,
    }))
}

/// The result of [`commit`] (on `payments.payment_authorized.v1`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommitOutcome {
    /// The units left stock: `on_hand -= q, reserved -= q` per line.
    Committed(Transition<StockCommitted>),
    /// The authorization came after the TTL, before the expiry worker: the
    /// reservation expires now instead of committing, and its
    /// `reservation_expired` event makes orders cancel and payments void.
    ExpiredInstead(Transition<StockReservationExpired>),
    /// A repeated authorization.
    Ignored(IgnoredBecause),
    /// The reservation was released or expired earlier: never committed.
    /// Nothing is emitted, since the event of that transition already
    /// drives the cancel and the void; the service should log it.
    TooLate { status: ReservationStatus },
}

pub fn commit(
    reservation: &Reservation,
    levels: &[StockLevel],
    now: DateTime<Utc>,
) -> Result<CommitOutcome, InventoryError> {
    match reservation.status {
        ReservationStatus::Held if reservation.is_due(now) => {
            expire_now(reservation, levels, now).map(CommitOutcome::ExpiredInstead)
        }
        ReservationStatus::Held => {
            let changed = move_units(reservation, levels, UnitsGo::OutOfStock, now)?;
            let committed = reservation.with_status(ReservationStatus::Committed, now);
            let event = StockCommitted {
                reservation_id: committed.id,
                order_id: committed.order_id,
                lines: committed.lines.to_vec(),
            };
            Ok(CommitOutcome::Committed(Transition {
                reservation: committed,
                levels: changed,
                event,
            }))
        }
        ReservationStatus::Committed => {
            Ok(CommitOutcome::Ignored(IgnoredBecause::AlreadyCommitted))
        }
        status @ (ReservationStatus::Released | ReservationStatus::Expired) => {
            Ok(CommitOutcome::TooLate { status })
        }
    }
}

/// Why a held reservation is released.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReleaseReason {
    /// On `payments.payment_failed.v1`.
    PaymentFailed,
    /// On `orders.order_canceled.v1`.
    OrderCanceled,
    /// ReleaseReservation, with the operator's text.
    Operator(Reason),
}

impl ReleaseReason {
    /// The released event's `reason`.
    pub fn as_str(&self) -> &str {
        match self {
            Self::PaymentFailed => "payment_failed",
            Self::OrderCanceled => "order_canceled",
            Self::Operator(reason) => reason.as_str(),
        }
    }
}

/// The result of [`release`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReleaseOutcome {
    /// The units are available again: `reserved -= q` per line.
    Released(Transition<StockReservationReleased>),
    /// The TTL had passed: expired instead (the proto's ReleaseReservation
    /// answers EXPIRED then), with the expired event.
    ExpiredInstead(Transition<StockReservationExpired>),
    /// Released or expired already.
    Ignored(IgnoredBecause),
    /// Committed: its units left stock and cannot come back by a release.
    /// FAILED_PRECONDITION for the RPC; for `order_canceled` after the
    /// commit, a warning (restocking is an AdjustStock).
    RefusedCommitted,
}

pub fn release(
    reservation: &Reservation,
    levels: &[StockLevel],
    reason: &ReleaseReason,
    now: DateTime<Utc>,
) -> Result<ReleaseOutcome, InventoryError> {
    match reservation.status {
        ReservationStatus::Held if reservation.is_due(now) => {
            expire_now(reservation, levels, now).map(ReleaseOutcome::ExpiredInstead)
        }
        ReservationStatus::Held => {
            let changed = move_units(reservation, levels, UnitsGo::BackToAvailable, now)?;
            let released = reservation.with_status(ReservationStatus::Released, now);
            let event = StockReservationReleased {
                reservation_id: released.id,
                order_id: released.order_id,
                lines: released.lines.to_vec(),
                reason: reason.as_str().to_owned(),
            };
            Ok(ReleaseOutcome::Released(Transition {
                reservation: released,
                levels: changed,
                event,
            }))
        }
        ReservationStatus::Committed => Ok(ReleaseOutcome::RefusedCommitted),
        ReservationStatus::Released => Ok(ReleaseOutcome::Ignored(IgnoredBecause::AlreadyReleased)),
        ReservationStatus::Expired => Ok(ReleaseOutcome::Ignored(IgnoredBecause::AlreadyExpired)),
    }
}

/// The result of [`expire`] (the expiry worker).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExpireOutcome {
    /// The units are available again: `reserved -= q` per line.
    Expired(Transition<StockReservationExpired>),
    Ignored(IgnoredBecause),
}

pub fn expire(
    reservation: &Reservation,
    levels: &[StockLevel],
    now: DateTime<Utc>,
) -> Result<ExpireOutcome, InventoryError> {
    match reservation.status {
        ReservationStatus::Held if reservation.is_due(now) => {
            expire_now(reservation, levels, now).map(ExpireOutcome::Expired)
        }
        ReservationStatus::Held => Ok(ExpireOutcome::Ignored(IgnoredBecause::NotDue)),
        ReservationStatus::Committed => {
            Ok(ExpireOutcome::Ignored(IgnoredBecause::AlreadyCommitted))
        }
        ReservationStatus::Released => Ok(ExpireOutcome::Ignored(IgnoredBecause::AlreadyReleased)),
        ReservationStatus::Expired => Ok(ExpireOutcome::Ignored(IgnoredBecause::AlreadyExpired)),
    }
}

fn expire_now(
    reservation: &Reservation,
    levels: &[StockLevel],
    now: DateTime<Utc>,
) -> Result<Transition<StockReservationExpired>, InventoryError> {
    let changed = move_units(reservation, levels, UnitsGo::BackToAvailable, now)?;
    let expired = reservation.with_status(ReservationStatus::Expired, now);
    let event = StockReservationExpired {
        reservation_id: expired.id,
        order_id: expired.order_id,
        lines: expired.lines.to_vec(),
    };
    Ok(Transition {
        reservation: expired,
        levels: changed,
        event,
    })
}

/// Where a held reservation's units go when it ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum UnitsGo {
    /// Committed: they leave on-hand stock.
    OutOfStock,
    /// Released or expired: they are available again.
    BackToAvailable,
}

fn move_units(
    reservation: &Reservation,
    levels: &[StockLevel],
    destination: UnitsGo,
    now: DateTime<Utc>,
) -> Result<Vec<StockLevel>, InventoryError> {
    let by_sku = index_levels(levels)?;
    let mut changed = Vec::with_capacity(reservation.lines.as_slice().len());
    for line in reservation.lines.as_slice() {
        let level = by_sku.get(&line.sku).ok_or_else(|| {
            InventoryError::inconsistent(format!(
                "reservation {} holds SKU {} but its stock was not given",
                reservation.id, line.sku
            ))
        })?;
        let quantity = i64::from(line.quantity.get());
        if i64::from(level.reserved()) < quantity {
            // The held units are counted in `reserved`; fewer means a
            // write bypassed these rules.
            return Err(InventoryError::inconsistent(format!(
                "reservation {} holds {quantity} of SKU {} but only {} are reserved",
                reservation.id,
                line.sku,
                level.reserved()
            )));
        }
        let on_hand = match destination {
            UnitsGo::OutOfStock => i64::from(level.on_hand()) - quantity,
            UnitsGo::BackToAvailable => i64::from(level.on_hand()),
        };
        changed.push(level.changed(
            on_hand,
            i64::from(level.reserved()) - quantity,
            level.status(),
            now,
        )?);
    }
    Ok(changed)
}

fn index_levels(levels: &[StockLevel]) -> Result<BTreeMap<&Sku, &StockLevel>, InventoryError> {
    let mut by_sku = BTreeMap::new();
    for level in levels {
        if by_sku.insert(level.sku(), level).is_some() {
            return Err(InventoryError::inconsistent(format!(
                "the stock of SKU {} was given twice",
                level.sku()
            )));
        }
    }
    Ok(by_sku)
}

fn check_same_order(stored: OrderId, requested: OrderId) -> Result<(), InventoryError> {
    if stored != requested {
        return Err(InventoryError::inconsistent(format!(
            "the prior attempt of order {requested} belongs to order {stored}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::Duration;

    use super::*;
    use crate::domain::error::ErrorKind;
    use crate::domain::stock::tests::{sku, stock_of, t0};
    use crate::domain::stock::{BlockOutcome, block_stock};

    fn quantity(units: i32) -> Quantity {
        Quantity::new(units).unwrap()
    }

    fn lines(pairs: &[(&str, i32)]) -> ReservationLines {
        ReservationLines::aggregate(
            pairs
                .iter()
                .map(|(raw, units)| (sku(raw), quantity(*units))),
        )
        .unwrap()
    }

    fn request(pairs: &[(&str, i32)]) -> ReservationRequest {
        ReservationRequest {
            reservation_id: ReservationId::generate(),
            order_id: OrderId::generate(),
            lines: lines(pairs),
            ttl: ReservationTtl::DEFAULT,
        }
    }

    fn reserved(levels: &[StockLevel], request: &ReservationRequest) -> Transition<StockReserved> {
        match reserve(PriorAttempt::None, levels, request, t0()).unwrap() {
            ReserveOutcome::Reserved(transition) => transition,
            other => panic!("expected a reservation, got {other:?}"),
        }
    }

    fn counts(levels: &[StockLevel]) -> Vec<(&str, i32, i32)> {
        levels
            .iter()
            .map(|level| (level.sku().as_str(), level.on_hand(), level.reserved()))
            .collect()
    }

    /// A held reservation of A×2 and B×1 over A(5) and B(3), as stored.
    fn held() -> (Reservation, Vec<StockLevel>) {
        let transition = reserved(
            &[stock_of("A", 5, 0), stock_of("B", 3, 0)],
            &request(&[("A", 2), ("B", 1)]),
        );
        (transition.reservation, transition.levels)
    }

    fn before_expiry() -> DateTime<Utc> {
        t0() + Duration::seconds(899)
    }

    fn at_expiry() -> DateTime<Utc> {
        t0() + Duration::seconds(900)
    }

    #[test]
    fn statuses_round_trip_and_only_held_is_open() {
        for status in ReservationStatus::ALL {
            assert_eq!(
                ReservationStatus::from_stored(status.as_str()),
                Some(status)
            );
            assert_eq!(status.is_terminal(), status != ReservationStatus::Held);
        }
        assert_eq!(ReservationStatus::Held.to_string(), "PENDING");
        for reason in FailureReason::ALL {
            assert_eq!(FailureReason::from_stored(reason.as_str()), Some(reason));
        }
    }

    #[test]
    fn duplicate_skus_are_summed_and_lines_sorted() {
        let aggregated = lines(&[("B", 1), ("A", 2), ("B", 3), ("a", 1)]);
        let pairs: Vec<(&str, i32)> = aggregated
            .as_slice()
            .iter()
            .map(|line| (line.sku.as_str(), line.quantity.get()))
            .collect();
        assert_eq!(pairs, [("A", 2), ("B", 4), ("a", 1)]);
        let order: Vec<&str> = aggregated.lock_order().map(Sku::as_str).collect();
        assert_eq!(order, ["A", "B", "a"]);
    }

    #[test]
    fn line_sets_are_bounded() {
        assert!(ReservationLines::aggregate(Vec::new()).is_err());
        let overflow =
            ReservationLines::aggregate([(sku("A"), quantity(i32::MAX)), (sku("A"), quantity(1))]);
        assert!(overflow.unwrap_err().0.contains("SKU A"));
        let many =
            (0..=ReservationLines::MAX_SKUS).map(|index| (sku(&format!("S{index}")), quantity(1)));
        assert!(ReservationLines::aggregate(many).is_err());
        let enough =
            (0..ReservationLines::MAX_SKUS).map(|index| (sku(&format!("S{index}")), quantity(1)));
        assert!(ReservationLines::aggregate(enough).is_ok());
        // The same SKU many times is one line.
        let repeated = (0..1000).map(|_| (sku("A"), quantity(1)));
        assert_eq!(
            ReservationLines::aggregate(repeated).unwrap().as_slice()[0].quantity,
            quantity(1000)
        );
    }

    #[test]
    fn stored_lines_are_sorted_and_unique() {
        let stored = ReservationLines::from_stored(vec![
            ReservationLine {
                sku: sku("B"),
                quantity: quantity(1),
            },
            ReservationLine {
                sku: sku("A"),
                quantity: quantity(2),
            },
        ])
        .unwrap();
        assert_eq!(stored, lines(&[("A", 2), ("B", 1)]));
        assert!(ReservationLines::from_stored(Vec::new()).is_err());
        let twice = ReservationLines::from_stored(vec![
            ReservationLine {
                sku: sku("A"),
                quantity: quantity(1),
            },
            ReservationLine {
                sku: sku("A"),
                quantity: quantity(2),
            },
        ]);
        assert_eq!(twice.unwrap_err().kind(), ErrorKind::Internal);
    }

    #[test]
    fn stored_reservations_expire_after_creation() {
        let (reservation, _) = held();
        let restored = Reservation::from_stored(
            reservation.id(),
            reservation.order_id(),
            reservation.lines().clone(),
            reservation.status(),
            reservation.expires_at(),
            reservation.created_at(),
            reservation.updated_at(),
        )
        .unwrap();
        assert_eq!(restored, reservation);
        assert!(
            Reservation::from_stored(
                reservation.id(),
                reservation.order_id(),
                reservation.lines().clone(),
                reservation.status(),
                reservation.created_at(),
                reservation.created_at(),
                reservation.updated_at(),
            )
            .is_err()
        );
    }

    #[test]
    fn reserving_holds_every_line_with_a_ttl() {
        let levels = [
            stock_of("A", 5, 1),
            stock_of("B", 3, 0),
            stock_of("C", 9, 0),
        ];
        let request = request(&[("B", 1), ("A", 2), ("A", 2)]);
        let transition = reserved(&levels, &request);
        assert_eq!(counts(&transition.levels), [("A", 5, 5), ("B", 3, 1)]);
        assert!(transition.levels.iter().all(|level| level.version() == 2));
        let reservation = &transition.reservation;
        assert_eq!(reservation.status(), ReservationStatus::Held);
        assert_eq!(reservation.id(), request.reservation_id);
        assert_eq!(reservation.order_id(), request.order_id);
        assert_eq!(reservation.expires_at(), t0() + Duration::seconds(900));
        assert_eq!(reservation.created_at(), t0());
        assert_eq!(
            transition.event,
            StockReserved {
                reservation_id: request.reservation_id,
                order_id: request.order_id,
                lines: lines(&[("A", 4), ("B", 1)]).to_vec(),
                expires_at: t0() + Duration::seconds(900),
            }
        );
    }

    #[test]
    fn the_whole_available_stock_can_be_reserved() {
        let transition = reserved(&[stock_of("A", 3, 1)], &request(&[("A", 2)]));
        assert_eq!(counts(&transition.levels), [("A", 3, 3)]);
        assert_eq!(transition.levels[0].available(), 0);
    }

    #[test]
    fn a_short_line_reserves_nothing_and_names_every_short_line() {
        let BlockOutcome::Blocked(blocked) =
            block_stock(Some(&stock_of("C", 8, 0)), sku("C"), t0()).unwrap()
        else {
            panic!("blocks");
        };
        let levels = [stock_of("A", 5, 4), stock_of("B", 3, 0), blocked];
        let request = request(&[("D", 1), ("A", 2), ("B", 3), ("C", 1)]);
        let ReserveOutcome::Failed { failure, event } =
            reserve(PriorAttempt::None, &levels, &request, t0()).unwrap()
        else {
            panic!("must fail");
        };
        // A is first in SKU order, so its reason is the event's.
        assert_eq!(failure.reason, FailureReason::InsufficientStock);
        assert_eq!(
            failure.short_lines,
            [
                ShortLine {
                    sku: sku("A"),
                    requested: 2,
                    available: 1
                },
                ShortLine {
                    sku: sku("C"),
                    requested: 1,
                    available: 0
                },
                ShortLine {
                    sku: sku("D"),
                    requested: 1,
                    available: 0
                },
            ]
        );
        assert_eq!(failure.order_id, request.order_id);
        assert_eq!(failure.failed_at, t0());
        assert_eq!(event.reason, failure.reason);
        assert_eq!(event.short_lines, failure.short_lines);
        assert_eq!(event.order_id, request.order_id);
    }

    #[test]
    fn the_reason_is_the_first_short_sku_s() {
        let cases = [
            (vec![], FailureReason::UnknownSku),
            (vec![stock_of("A", 0, 0)], FailureReason::InsufficientStock),
        ];
        for (levels, expected) in cases {
            let ReserveOutcome::Failed { failure, .. } =
                reserve(PriorAttempt::None, &levels, &request(&[("A", 1)]), t0()).unwrap()
            else {
                panic!("must fail");
            };
            assert_eq!(failure.reason, expected);
        }
        let BlockOutcome::Blocked(blocked) = block_stock(None, sku("A"), t0()).unwrap() else {
            panic!("blocks");
        };
        let ReserveOutcome::Failed { failure, .. } =
            reserve(PriorAttempt::None, &[blocked], &request(&[("A", 1)]), t0()).unwrap()
        else {
            panic!("must fail");
        };
        assert_eq!(failure.reason, FailureReason::SkuBlocked);
    }

    #[test]
    fn a_blocked_sku_with_stock_is_still_refused() {
        let BlockOutcome::Blocked(blocked) =
            block_stock(Some(&stock_of("A", 10, 0)), sku("A"), t0()).unwrap()
        else {
            panic!("blocks");
        };
        let outcome = reserve(PriorAttempt::None, &[blocked], &request(&[("A", 1)]), t0()).unwrap();
        let ReserveOutcome::Failed { failure, .. } = outcome else {
            panic!("must fail");
        };
        assert_eq!(failure.short_lines[0].available, 0);
    }

    #[test]
    fn reserving_is_idempotent_per_order() {
        let (reservation, levels) = held();
        let again = ReservationRequest {
            order_id: reservation.order_id(),
            ..request(&[("A", 1)])
        };
        assert_eq!(
            reserve(PriorAttempt::Reserved(&reservation), &levels, &again, t0()).unwrap(),
            ReserveOutcome::Ignored(IgnoredBecause::AlreadyReserved)
        );
        let failure = ReservationFailure {
            order_id: again.order_id,
            reason: FailureReason::UnknownSku,
            short_lines: Vec::new(),
            failed_at: t0(),
        };
        assert_eq!(
            reserve(PriorAttempt::Failed(&failure), &levels, &again, t0()).unwrap(),
            ReserveOutcome::Ignored(IgnoredBecause::AlreadyFailed)
        );
        let other_order = request(&[("A", 1)]);
        assert_eq!(
            reserve(
                PriorAttempt::Reserved(&reservation),
                &levels,
                &other_order,
                t0()
            )
            .unwrap_err()
            .kind(),
            ErrorKind::Internal
        );
        assert!(reserve(PriorAttempt::Failed(&failure), &levels, &other_order, t0()).is_err());
    }

    #[test]
    fn levels_given_twice_are_a_bug() {
        let levels = [stock_of("A", 5, 0), stock_of("A", 5, 0)];
        assert_eq!(
            reserve(PriorAttempt::None, &levels, &request(&[("A", 1)]), t0())
                .unwrap_err()
                .kind(),
            ErrorKind::Internal
        );
    }

    #[test]
    fn reservations_lock_in_sku_order() {
        let request = request(&[("b", 1), ("B", 1), ("A-2", 1), ("A-10", 1)]);
        let order: Vec<&str> = request.lock_order().map(Sku::as_str).collect();
        assert_eq!(order, ["A-10", "A-2", "B", "b"]);
        let levels = ["b", "B", "A-2", "A-10"].map(|raw| stock_of(raw, 1, 0));
        let transition = reserved(&levels, &request);
        let reservation_order: Vec<&str> = transition
            .reservation
            .lock_order()
            .map(Sku::as_str)
            .collect();
        assert_eq!(reservation_order, order);
        let level_order: Vec<&str> = transition
            .levels
            .iter()
            .map(|level| level.sku().as_str())
            .collect();
        assert_eq!(level_order, order);
    }

    #[test]
    fn commit_deducts_on_hand_and_reserved_once() {
        let (reservation, levels) = held();
        let CommitOutcome::Committed(transition) =
            commit(&reservation, &levels, before_expiry()).unwrap()
        else {
            panic!("commits before the TTL");
        };
        assert_eq!(counts(&transition.levels), [("A", 3, 0), ("B", 2, 0)]);
        assert_eq!(
            transition.reservation.status(),
            ReservationStatus::Committed
        );
        assert_eq!(transition.reservation.updated_at(), before_expiry());
        assert_eq!(
            transition.event,
            StockCommitted {
                reservation_id: reservation.id(),
                order_id: reservation.order_id(),
                lines: reservation.lines().to_vec(),
            }
        );
        assert_eq!(
            commit(&transition.reservation, &transition.levels, before_expiry()).unwrap(),
            CommitOutcome::Ignored(IgnoredBecause::AlreadyCommitted)
        );
    }

    #[test]
    fn a_late_authorization_expires_instead_of_committing() {
        let (reservation, levels) = held();
        let CommitOutcome::ExpiredInstead(transition) =
            commit(&reservation, &levels, at_expiry()).unwrap()
        else {
            panic!("must not commit at the TTL");
        };
        assert_eq!(counts(&transition.levels), [("A", 5, 0), ("B", 3, 0)]);
        assert_eq!(transition.reservation.status(), ReservationStatus::Expired);
        assert_eq!(transition.event.reservation_id, reservation.id());
        assert_eq!(transition.event.order_id, reservation.order_id());
        // Authorized again (a redelivery, or the worker's expiry came
        // first): still never committed, and nothing new to emit.
        assert_eq!(
            commit(&transition.reservation, &transition.levels, at_expiry()).unwrap(),
            CommitOutcome::TooLate {
                status: ReservationStatus::Expired
            }
        );
    }

    #[test]
    fn release_returns_units_and_says_why() {
        let (reservation, levels) = held();
        for (reason, text) in [
            (ReleaseReason::PaymentFailed, "payment_failed"),
            (ReleaseReason::OrderCanceled, "order_canceled"),
            (
                ReleaseReason::Operator(Reason::parse("customer called").unwrap()),
                "customer called",
            ),
        ] {
            let ReleaseOutcome::Released(transition) =
                release(&reservation, &levels, &reason, before_expiry()).unwrap()
            else {
                panic!("releases before the TTL");
            };
            assert_eq!(counts(&transition.levels), [("A", 5, 0), ("B", 3, 0)]);
            assert_eq!(transition.reservation.status(), ReservationStatus::Released);
            assert_eq!(transition.event.reason, text);
            assert_eq!(transition.event.lines, reservation.lines().to_vec());
            assert_eq!(
                release(
                    &transition.reservation,
                    &transition.levels,
                    &reason,
                    before_expiry()
                )
                .unwrap(),
                ReleaseOutcome::Ignored(IgnoredBecause::AlreadyReleased)
            );
            assert_eq!(
                commit(&transition.reservation, &transition.levels, before_expiry()).unwrap(),
                CommitOutcome::TooLate {
                    status: ReservationStatus::Released
                }
            );
        }
    }

    #[test]
    fn expiry_waits_for_the_ttl_and_happens_once() {
        let (reservation, levels) = held();
        assert!(!reservation.is_due(before_expiry()));
        assert!(reservation.is_due(at_expiry()));
        assert_eq!(
            expire(&reservation, &levels, before_expiry()).unwrap(),
            ExpireOutcome::Ignored(IgnoredBecause::NotDue)
        );
        let ExpireOutcome::Expired(transition) =
            expire(&reservation, &levels, at_expiry()).unwrap()
        else {
            panic!("expires at the TTL");
        };
        assert_eq!(counts(&transition.levels), [("A", 5, 0), ("B", 3, 0)]);
        assert!(!transition.reservation.is_due(at_expiry()));
        assert_eq!(
            expire(&transition.reservation, &transition.levels, at_expiry()).unwrap(),
            ExpireOutcome::Ignored(IgnoredBecause::AlreadyExpired)
        );
    }

    /// Every (status, operation, TTL passed or not) with its outcome kind.
    #[test]
    fn every_status_and_operation() {
        #[derive(Debug, PartialEq)]
        enum Kind {
            Committed,
            Released,
            Expired,
            Ignored(IgnoredBecause),
            TooLate,
            Refused,
        }
        use IgnoredBecause::*;
        use ReservationStatus::{Committed, Expired, Held, Released};
        let (held_reservation, held_levels) = held();
        let stored_in = |status: ReservationStatus| -> (Reservation, Vec<StockLevel>) {
            // The levels are as they would be once the reservation reached
            // `status`.
            match status {
                Held => (held_reservation.clone(), held_levels.clone()),
                Committed => match commit(&held_reservation, &held_levels, t0()).unwrap() {
                    CommitOutcome::Committed(t) => (t.reservation, t.levels),
                    other => panic!("{other:?}"),
                },
                Released => match release(
                    &held_reservation,
                    &held_levels,
                    &ReleaseReason::OrderCanceled,
                    t0(),
                )
                .unwrap()
                {
                    ReleaseOutcome::Released(t) => (t.reservation, t.levels),
                    other => panic!("{other:?}"),
                },
                Expired => match expire(&held_reservation, &held_levels, at_expiry()).unwrap() {
                    ExpireOutcome::Expired(t) => (t.reservation, t.levels),
                    other => panic!("{other:?}"),
                },
            }
        };
        let table = [
            // (status, TTL passed, commit, release, expire)
            (
                Held,
                false,
                Kind::Committed,
                Kind::Released,
                Kind::Ignored(NotDue),
            ),
            (Held, true, Kind::Expired, Kind::Expired, Kind::Expired),
            (
                Committed,
                false,
                Kind::Ignored(AlreadyCommitted),
                Kind::Refused,
                Kind::Ignored(AlreadyCommitted),
            ),
            (
                Committed,
                true,
                Kind::Ignored(AlreadyCommitted),
                Kind::Refused,
                Kind::Ignored(AlreadyCommitted),
            ),
            (
                Released,
                false,
                Kind::TooLate,
                Kind::Ignored(AlreadyReleased),
                Kind::Ignored(AlreadyReleased),
            ),
            (
                Released,
                true,
                Kind::TooLate,
                Kind::Ignored(AlreadyReleased),
                Kind::Ignored(AlreadyReleased),
            ),
            (
                Expired,
                false,
                Kind::TooLate,
                Kind::Ignored(AlreadyExpired),
                Kind::Ignored(AlreadyExpired),
            ),
            (
                Expired,
                true,
                Kind::TooLate,
                Kind::Ignored(AlreadyExpired),
                Kind::Ignored(AlreadyExpired),
            ),
        ];
        assert_eq!(table.len(), ReservationStatus::ALL.len() * 2);
        for (status, ttl_passed, on_commit, on_release, on_expire) in table {
            let (reservation, levels) = stored_in(status);
            let now = if ttl_passed {
                at_expiry() + Duration::days(1)
            } else {
                before_expiry()
            };
            let committed = match commit(&reservation, &levels, now).unwrap() {
                CommitOutcome::Committed(_) => Kind::Committed,
                CommitOutcome::ExpiredInstead(_) => Kind::Expired,
                CommitOutcome::Ignored(because) => Kind::Ignored(because),
                CommitOutcome::TooLate { status: seen } => {
                    assert_eq!(seen, status);
                    Kind::TooLate
                }
            };
            let released =
                match release(&reservation, &levels, &ReleaseReason::PaymentFailed, now).unwrap() {
                    ReleaseOutcome::Released(_) => Kind::Released,
                    ReleaseOutcome::ExpiredInstead(_) => Kind::Expired,
                    ReleaseOutcome::Ignored(because) => Kind::Ignored(because),
                    ReleaseOutcome::RefusedCommitted => Kind::Refused,
                };
            let expired = match expire(&reservation, &levels, now).unwrap() {
                ExpireOutcome::Expired(_) => Kind::Expired,
                ExpireOutcome::Ignored(because) => Kind::Ignored(because),
            };
            let context = format!("{status} ttl_passed={ttl_passed}");
            assert_eq!(committed, on_commit, "commit, {context}");
            assert_eq!(released, on_release, "release, {context}");
            assert_eq!(expired, on_expire, "expire, {context}");
        }
    }

    #[test]
    fn ending_needs_every_level_with_the_held_units() {
        let (reservation, levels) = held();
        let missing_b = &levels[..1];
        assert_eq!(
            commit(&reservation, missing_b, t0()).unwrap_err().kind(),
            ErrorKind::Internal
        );
        let underreserved = [stock_of("A", 5, 1), stock_of("B", 3, 1)];
        for outcome in [
            commit(&reservation, &underreserved, t0()).map(|_| ()),
            release(
                &reservation,
                &underreserved,
                &ReleaseReason::OrderCanceled,
                t0(),
            )
            .map(|_| ()),
            expire(&reservation, &underreserved, at_expiry()).map(|_| ()),
        ] {
            assert_eq!(outcome.unwrap_err().kind(), ErrorKind::Internal);
        }
        // Terminal reservations do not look at the levels at all.
        let ExpireOutcome::Expired(expired) = expire(&reservation, &levels, at_expiry()).unwrap()
        else {
            panic!("expires");
        };
        assert!(commit(&expired.reservation, &[], t0()).is_ok());
    }

    #[test]
    fn blocked_stock_keeps_its_reservations() {
        let (reservation, levels) = held();
        let blocked: Vec<StockLevel> = levels
            .iter()
            .map(
                |level| match block_stock(Some(level), level.sku().clone(), t0()).unwrap() {
                    BlockOutcome::Blocked(level) => level,
                    BlockOutcome::Ignored => panic!("blocks"),
                },
            )
            .collect();
        let CommitOutcome::Committed(transition) = commit(&reservation, &blocked, t0()).unwrap()
        else {
            panic!("a held reservation of a discontinued SKU still commits");
        };
        assert_eq!(counts(&transition.levels), [("A", 3, 0), ("B", 2, 0)]);
        assert!(
            transition
                .levels
                .iter()
                .all(|level| level.status() == StockStatus::Blocked)
        );
        let ReleaseOutcome::Released(released) =
            release(&reservation, &blocked, &ReleaseReason::OrderCanceled, t0()).unwrap()
        else {
            panic!("releases");
        };
        assert!(
            released
                .levels
                .iter()
                .all(|level| level.status() == StockStatus::Blocked)
        );
    }
}
