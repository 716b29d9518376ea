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
//! `HELD -> COMMITTED | RELEASED | EXPIRED`, then `COMMITTED -> RESTOCKED`
//! when the order is canceled before it ships; RELEASED, EXPIRED and
//! RESTOCKED are terminal (the proto calls HELD `RESERVATION_STATUS_PENDING`).
//!
//! | status    | commit (authorized)  | release (failed / operator) | order canceled | expire (worker) |
//! |-----------|----------------------|-----------------------------|----------------|-----------------|
//! | HELD, TTL left   | COMMITTED, `committed` | RELEASED, `released` | as release | ignored (not due) |
//! | HELD, TTL passed | EXPIRED, `expired` (never commits) | EXPIRED, `expired` | as release | EXPIRED, `expired` |
//! | COMMITTED | ignored (repeat)     | refused (units left stock)  | RESTOCKED, `restocked` | ignored |
//! | RELEASED  | too late, no event   | ignored (repeat)            | ignored | ignored |
//! | EXPIRED   | too late, no event   | ignored                     | ignored | ignored (repeat) |
//! | RESTOCKED | too late, no event   | ignored                     | ignored (repeat) | ignored |
//!
//! Restocking puts the committed units back into on-hand stock (`on_hand
//! += q`; reserved is untouched, the units were no longer held): orders
//! accepts CancelOrder until the order ships, and a canceled order's goods
//! are still in the warehouse (fulfillment cancels the shipment on the same
//! event). Only `orders.order_canceled.v1` restocks, and only once: the
//! status change is the guard against a re-published cancel.
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
    StockReserved, StockRestocked,
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
    /// Committed units put back into on-hand stock: the order was canceled
    /// before it shipped.
    Restocked,
}

impl ReservationStatus {
    pub const ALL: [Self; 5] = [
        Self::Held,
        Self::Committed,
        Self::Released,
        Self::Expired,
        Self::Restocked,
    ];

    /// The stored form (`reservations.status`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Held => "held",
            Self::Committed => "committed",
            Self::Released => "released",
            Self::Expired => "expired",
            Self::Restocked => "restocked",
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
            Self::Restocked => "RESTOCKED",
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
    AlreadyRestocked,
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
        status @ (ReservationStatus::Released
        | ReservationStatus::Expired
        | ReservationStatus::Restocked) => Ok(CommitOutcome::TooLate { status }),
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
    /// Released, expired or restocked already.
    Ignored(IgnoredBecause),
    /// Committed: its units left stock and cannot come back by a release.
    /// FAILED_PRECONDITION for the RPC; `order_canceled` restocks instead
    /// ([`cancel_order`]).
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
        ReservationStatus::Restocked => {
            Ok(ReleaseOutcome::Ignored(IgnoredBecause::AlreadyRestocked))
        }
    }
}

/// The result of [`cancel_order`] (on `orders.order_canceled.v1`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CancelOutcome {
    /// Not committed yet: what [`release`] does with the reason
    /// `order_canceled` (never [`ReleaseOutcome::RefusedCommitted`]).
    Release(ReleaseOutcome),
    /// Committed: the units are back in on-hand stock (`on_hand += q` per
    /// line), the reservation is RESTOCKED.
    Restocked(Transition<StockRestocked>),
}

/// Undoes whatever the reservation of a canceled order still holds: a held
/// reservation is released, a committed one restocked.
pub fn cancel_order(
    reservation: &Reservation,
    levels: &[StockLevel],
    now: DateTime<Utc>,
) -> Result<CancelOutcome, InventoryError> {
    let reason = ReleaseReason::OrderCanceled;
    match reservation.status {
        ReservationStatus::Committed => {
            let changed = move_units(reservation, levels, UnitsGo::BackOnHand, now)?;
            let restocked = reservation.with_status(ReservationStatus::Restocked, now);
            let event = StockRestocked {
                reservation_id: restocked.id,
                order_id: restocked.order_id,
                lines: restocked.lines.to_vec(),
                reason: reason.as_str().to_owned(),
            };
            Ok(CancelOutcome::Restocked(Transition {
                reservation: restocked,
                levels: changed,
                event,
            }))
        }
        ReservationStatus::Held
        | ReservationStatus::Released
        | ReservationStatus::Expired
        | ReservationStatus::Restocked => {
            release(reservation, levels, &reason, now).map(CancelOutcome::Release)
        }
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
        ReservationStatus::Restocked => {
            Ok(ExpireOutcome::Ignored(IgnoredBecause::AlreadyRestocked))
        }
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

/// Where a reservation's units go when it ends (or, committed, is undone).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum UnitsGo {
    /// Committed: they leave on-hand stock.
    OutOfStock,
    /// Released or expired: they are available again.
    BackToAvailable,
    /// Restocked: committed units, no longer reserved, return to on-hand.
    BackOnHand,
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
        if destination == UnitsGo::BackOnHand {
            // `changed` refuses an on-hand past i32::MAX as an
            // inconsistency: the units fitted before they were committed.
            changed.push(level.changed(
                i64::from(level.on_hand()) + quantity,
                i64::from(level.reserved()),
                level.status(),
                now,
            )?);
            continue;
        }
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
            UnitsGo::BackToAvailable | UnitsGo::BackOnHand => i64::from(level.on_hand()),
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
mod tests;
