//! Stock of one SKU: on hand, reserved, available, and whether it may be
//! reserved; opening, blocking and adjusting it.
//!
//! Invariants, held by every [`StockLevel`] value (its fields are private
//! and every change goes through one checked constructor):
//! - `on_hand >= 0`
//! - `0 <= reserved <= on_hand`, so `available = on_hand - reserved >= 0`
//! - `version` starts at 1 and grows by one with every change.
//!
//! The database must enforce the same, because two transactions that each
//! passed these checks on their own snapshot could still break them
//! together: `CHECK (on_hand >= 0 AND reserved >= 0 AND reserved <=
//! on_hand)` on `inventory.stock`, and every write of a level computed here
//! is `UPDATE ... WHERE sku = $1 AND version = $read_version` on a row read
//! `FOR UPDATE`, so a missed lock shows up as zero rows updated (retry)
//! instead of a lost update.
//!
//! Decisions:
//! - Blocking (the variant was discontinued) stops new reservations only.
//!   Reservations already held stay held and may still be committed: the
//!   customer checked out while the variant was on sale and the units are
//!   physically there; discontinuing means "sell no more", not "cancel the
//!   orders in flight". Released or expired units return to on-hand as
//!   usual and simply cannot be reserved again. Adjustments stay allowed
//!   (counting or writing off what is left).
//! - Blocking is terminal (catalog's DISCONTINUED is), and order-free: a
//!   `variant.discontinued` that overtakes its `variant.created` opens the
//!   stock already blocked, and the late `created` is then ignored, so the
//!   SKU never becomes reservable.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::domain::error::{InvalidValue, InventoryError};
use crate::domain::events::StockAdjustmentApplied;
use crate::domain::values::{AdjustmentId, Reason, Sku};

/// Whether a SKU's stock may be reserved. The proto calls the open state
/// `STOCK_STATUS_ACTIVE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StockStatus {
    Active,
    Blocked,
}

impl StockStatus {
    pub const ALL: [Self; 2] = [Self::Active, Self::Blocked];

    /// The stored form (`stock.status`, checked by
    /// `CHECK (status IN ('active', 'blocked'))`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Blocked => "blocked",
        }
    }

    pub fn from_stored(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == value)
    }

    /// The proto enum's value name, used in messages.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Blocked => "BLOCKED",
        }
    }
}

impl fmt::Display for StockStatus {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// The stock of one SKU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StockLevel {
    sku: Sku,
    on_hand: i32,
    reserved: i32,
    status: StockStatus,
    version: i64,
    updated_at: DateTime<Utc>,
}

impl StockLevel {
    pub const INITIAL_VERSION: i64 = 1;

    /// New, empty, reservable stock.
    pub fn opened(sku: Sku, now: DateTime<Utc>) -> Self {
        Self {
            sku,
            on_hand: 0,
            reserved: 0,
            status: StockStatus::Active,
            version: Self::INITIAL_VERSION,
            updated_at: now,
        }
    }

    /// A row read back from `inventory.stock`. Checked anyway: a row that
    /// breaks the invariants means the constraints are missing, and acting
    /// on it would spread the damage.
    pub fn from_stored(
        sku: Sku,
        on_hand: i32,
        reserved: i32,
        status: StockStatus,
        version: i64,
        updated_at: DateTime<Utc>,
    ) -> Result<Self, InventoryError> {
        let (on_hand, reserved) = checked_counts(&sku, i64::from(on_hand), i64::from(reserved))?;
        if version < Self::INITIAL_VERSION {
            return Err(InventoryError::inconsistent(format!(
                "stock of SKU {sku} has version {version}"
            )));
        }
        Ok(Self {
            sku,
            on_hand,
            reserved,
            status,
            version,
            updated_at,
        })
    }

    pub fn sku(&self) -> &Sku {
        &self.sku
    }

    /// Units physically in stock, reserved ones included.
    pub fn on_hand(&self) -> i32 {
        self.on_hand
    }

    /// Units held by held reservations.
    pub fn reserved(&self) -> i32 {
        self.reserved
    }

    /// Units that may still be reserved; never negative.
    pub fn available(&self) -> i32 {
        // Cannot overflow: 0 <= reserved <= on_hand.
        self.on_hand - self.reserved
    }

    pub fn status(&self) -> StockStatus {
        self.status
    }

    pub fn version(&self) -> i64 {
        self.version
    }

    pub fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }

    /// The one way a level changes: the invariants are checked and the
    /// version bumped here. Counts are taken as `i64` so callers compute
    /// without overflowing and this refuses what does not fit.
    pub(crate) fn changed(
        &self,
        on_hand: i64,
        reserved: i64,
        status: StockStatus,
        now: DateTime<Utc>,
    ) -> Result<Self, InventoryError> {
        let (on_hand, reserved) = checked_counts(&self.sku, on_hand, reserved)?;
        let version = self.version.checked_add(1).ok_or_else(|| {
            InventoryError::inconsistent(format!("version of SKU {} cannot grow", self.sku))
        })?;
        Ok(Self {
            sku: self.sku.clone(),
            on_hand,
            reserved,
            status,
            version,
            updated_at: now,
        })
    }
}

fn checked_counts(sku: &Sku, on_hand: i64, reserved: i64) -> Result<(i32, i32), InventoryError> {
    if on_hand < 0 || reserved < 0 || reserved > on_hand {
        return Err(InventoryError::inconsistent(format!(
            "SKU {sku} would have {on_hand} on hand and {reserved} reserved"
        )));
    }
    let on_hand = i32::try_from(on_hand).map_err(|_| {
        InventoryError::inconsistent(format!("SKU {sku} would have {on_hand} on hand"))
    })?;
    // reserved <= on_hand <= i32::MAX, so this cannot fail.
    let reserved = i32::try_from(reserved).map_err(|_| {
        InventoryError::inconsistent(format!("SKU {sku} would have {reserved} reserved"))
    })?;
    Ok((on_hand, reserved))
}

/// What `catalog.variant.created.v1` does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpenOutcome {
    /// Insert this level (`INSERT ... ON CONFLICT (sku) DO NOTHING`: a
    /// concurrent open of the same SKU is then the ignored one).
    Opened(StockLevel),
    /// Stock for the SKU exists already (a redelivery, or a
    /// `discontinued` that arrived first): nothing changes.
    Ignored,
}

pub fn open_stock(existing: Option<&StockLevel>, sku: Sku, now: DateTime<Utc>) -> OpenOutcome {
    match existing {
        Some(_) => OpenOutcome::Ignored,
        None => OpenOutcome::Opened(StockLevel::opened(sku, now)),
    }
}

/// What `catalog.variant.discontinued.v1` does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlockOutcome {
    /// Store this level: the existing one blocked, or a new blocked one
    /// when the SKU was unknown.
    Blocked(StockLevel),
    /// Already blocked.
    Ignored,
}

pub fn block_stock(
    existing: Option<&StockLevel>,
    sku: Sku,
    now: DateTime<Utc>,
) -> Result<BlockOutcome, InventoryError> {
    let Some(level) = existing else {
        let mut tombstone = StockLevel::opened(sku, now);
        tombstone.status = StockStatus::Blocked;
        return Ok(BlockOutcome::Blocked(tombstone));
    };
    match level.status {
        StockStatus::Blocked => Ok(BlockOutcome::Ignored),
        StockStatus::Active => level
            .changed(
                i64::from(level.on_hand),
                i64::from(level.reserved),
                StockStatus::Blocked,
                now,
            )
            .map(BlockOutcome::Blocked),
    }
}

/// How AdjustStock changes on-hand units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StockChange {
    /// Receive (positive) or remove (negative) units; never 0.
    Delta(i32),
    /// A stocktake: set on-hand to the `counted` units, provided on-hand is
    /// still the `expected` units the count started from (optimistic
    /// concurrency on the value itself: a receipt or a commit since the
    /// count makes it [`InventoryError::StaleOnHand`]). Emitted as the delta
    /// it amounts to, since the event carries a delta.
    SetOnHand {
        counted: OnHandCount,
        expected: OnHandCount,
    },
}

impl StockChange {
    pub fn delta(delta: i32) -> Result<Self, InvalidValue> {
        if delta == 0 {
            return Err(InvalidValue::new("must not be 0"));
        }
        Ok(Self::Delta(delta))
    }
}

/// A number of on-hand units as a stocktake states it: at least 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct OnHandCount(i32);

impl OnHandCount {
    pub fn new(units: i32) -> Result<Self, InvalidValue> {
        if units < 0 {
            return Err(InvalidValue::new(format!(
                "must not be negative, got {units}"
            )));
        }
        Ok(Self(units))
    }

    pub fn get(self) -> i32 {
        self.0
    }
}

/// AdjustStock, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdjustStock {
    pub adjustment_id: AdjustmentId,
    pub sku: Sku,
    pub change: StockChange,
    pub reason: Reason,
    /// When set, the version the caller read; any other is ABORTED.
    pub expected_version: Option<i64>,
}

/// The result of an adjustment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdjustOutcome {
    /// Store the level and the adjustment (`stock_adjustments`, an
    /// append-only ledger: the sum of its deltas minus the committed units
    /// is on-hand, which the saga tests check), and emit the event.
    Applied {
        level: StockLevel,
        event: StockAdjustmentApplied,
    },
    /// A count equal to the current on-hand: nothing changes, nothing is
    /// recorded or emitted (an event with delta 0 would tell consumers
    /// nothing).
    Unchanged { level: StockLevel },
}

/// Applies an admin adjustment. Never takes on-hand below the reserved
/// units: those belong to customers who checked out.
pub fn adjust_stock(
    level: Option<&StockLevel>,
    command: &AdjustStock,
    now: DateTime<Utc>,
) -> Result<AdjustOutcome, InventoryError> {
    let Some(level) = level else {
        return Err(InventoryError::UnknownSku {
            sku: command.sku.clone(),
        });
    };
    if level.sku != command.sku {
        return Err(InventoryError::inconsistent(format!(
            "adjusting SKU {} with the stock of SKU {}",
            command.sku, level.sku
        )));
    }
    // No let-chain: the workspace's rust-version (1.85) predates them.
    match command.expected_version {
        Some(expected) if expected != level.version => {
            return Err(InventoryError::StaleVersion {
                sku: level.sku.clone(),
                expected,
                current: level.version,
            });
        }
        Some(_) | None => {}
    }
    let on_hand_after = match command.change {
        StockChange::Delta(delta) => i64::from(level.on_hand) + i64::from(delta),
        StockChange::SetOnHand { counted, expected } => {
            if expected.get() != level.on_hand {
                return Err(InventoryError::StaleOnHand {
                    sku: level.sku.clone(),
                    expected: expected.get(),
                    current: level.on_hand,
                });
            }
            i64::from(counted.get())
        }
    };
    if on_hand_after < i64::from(level.reserved) {
        return Err(InventoryError::BelowReserved {
            sku: level.sku.clone(),
            on_hand_after,
            reserved: level.reserved,
        });
    }
    if on_hand_after > i64::from(i32::MAX) {
        return Err(InventoryError::OnHandOverflow {
            sku: level.sku.clone(),
        });
    }
    let delta = on_hand_after - i64::from(level.on_hand);
    if delta == 0 {
        return Ok(AdjustOutcome::Unchanged {
            level: level.clone(),
        });
    }
    // Both ends lie in 0..=i32::MAX, so their difference fits an i32.
    let delta = i32::try_from(delta)
        .map_err(|_| InventoryError::inconsistent(format!("delta {delta} overflows")))?;
    let adjusted = level.changed(on_hand_after, i64::from(level.reserved), level.status, now)?;
    let event = StockAdjustmentApplied {
        adjustment_id: command.adjustment_id,
        sku: adjusted.sku.clone(),
        delta,
        reason: command.reason.as_str().to_owned(),
        on_hand: adjusted.on_hand,
        available: adjusted.available(),
        version: adjusted.version,
    };
    Ok(AdjustOutcome::Applied {
        level: adjusted,
        event,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::TimeZone as _;
    use ecommerce_kernel::ErrorCode;

    use super::*;

    pub(crate) fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap()
    }

    pub(crate) fn sku(raw: &str) -> Sku {
        Sku::parse(raw).unwrap()
    }

    pub(crate) fn stock_of(raw: &str, on_hand: i32, reserved: i32) -> StockLevel {
        StockLevel::from_stored(sku(raw), on_hand, reserved, StockStatus::Active, 1, t0()).unwrap()
    }

    /// A stocktake of `counted` units started from `expected` on hand.
    fn count(counted: i32, expected: i32) -> StockChange {
        StockChange::SetOnHand {
            counted: OnHandCount::new(counted).unwrap(),
            expected: OnHandCount::new(expected).unwrap(),
        }
    }

    fn adjustment(raw_sku: &str, change: StockChange) -> AdjustStock {
        AdjustStock {
            adjustment_id: AdjustmentId::generate(),
            sku: sku(raw_sku),
            change,
            reason: Reason::parse("cycle count").unwrap(),
            expected_version: None,
        }
    }

    #[test]
    fn stored_levels_must_keep_the_invariants() {
        let ok = stock_of("A", 5, 2);
        assert_eq!((ok.on_hand(), ok.reserved(), ok.available()), (5, 2, 3));
        for (on_hand, reserved) in [(-1, 0), (0, -1), (2, 3), (i32::MIN, i32::MIN)] {
            let stored =
                StockLevel::from_stored(sku("A"), on_hand, reserved, StockStatus::Active, 1, t0());
            assert_eq!(
                stored.unwrap_err().code(),
                ErrorCode::Internal,
                "{on_hand}/{reserved}"
            );
        }
        assert!(StockLevel::from_stored(sku("A"), 0, 0, StockStatus::Active, 0, t0()).is_err());
        let full = StockLevel::from_stored(
            sku("A"),
            i32::MAX,
            i32::MAX,
            StockStatus::Blocked,
            i64::MAX,
            t0(),
        )
        .unwrap();
        assert_eq!(full.available(), 0);
        assert!(
            full.changed(0, 0, StockStatus::Blocked, t0()).is_err(),
            "the version cannot grow past i64::MAX"
        );
    }

    #[test]
    fn statuses_round_trip() {
        for status in StockStatus::ALL {
            assert_eq!(StockStatus::from_stored(status.as_str()), Some(status));
        }
        assert_eq!(StockStatus::from_stored("ACTIVE"), None);
        assert_eq!(StockStatus::Blocked.to_string(), "BLOCKED");
    }

    #[test]
    fn opening_is_idempotent() {
        let opened = match open_stock(None, sku("A"), t0()) {
            OpenOutcome::Opened(level) => level,
            OpenOutcome::Ignored => panic!("a new SKU opens"),
        };
        assert_eq!(
            (opened.on_hand(), opened.reserved(), opened.version()),
            (0, 0, 1)
        );
        assert_eq!(opened.status(), StockStatus::Active);
        assert_eq!(
            open_stock(Some(&opened), sku("A"), t0()),
            OpenOutcome::Ignored
        );
    }

    #[test]
    fn blocking_keeps_counts_and_is_order_free() {
        let held = stock_of("A", 5, 2);
        let blocked = match block_stock(Some(&held), sku("A"), t0()).unwrap() {
            BlockOutcome::Blocked(level) => level,
            BlockOutcome::Ignored => panic!("an active SKU blocks"),
        };
        assert_eq!((blocked.on_hand(), blocked.reserved()), (5, 2));
        assert_eq!(blocked.status(), StockStatus::Blocked);
        assert_eq!(blocked.version(), 2);
        assert_eq!(
            block_stock(Some(&blocked), sku("A"), t0()).unwrap(),
            BlockOutcome::Ignored
        );

        // Discontinued before created: a blocked tombstone, and the late
        // create is ignored.
        let tombstone = match block_stock(None, sku("B"), t0()).unwrap() {
            BlockOutcome::Blocked(level) => level,
            BlockOutcome::Ignored => panic!("an unknown SKU is recorded as blocked"),
        };
        assert_eq!(tombstone.status(), StockStatus::Blocked);
        assert_eq!(
            open_stock(Some(&tombstone), sku("B"), t0()),
            OpenOutcome::Ignored
        );
    }

    #[test]
    fn changes_are_validated() {
        assert_eq!(StockChange::delta(-3).unwrap(), StockChange::Delta(-3));
        assert!(StockChange::delta(0).is_err());
        assert_eq!(OnHandCount::new(0).unwrap().get(), 0);
        assert!(OnHandCount::new(-1).is_err());
    }

    #[test]
    fn deltas_apply_and_emit() {
        let before = stock_of("A", 5, 2);
        let command = adjustment("A", StockChange::Delta(-3));
        let AdjustOutcome::Applied { level, event } =
            adjust_stock(Some(&before), &command, t0()).unwrap()
        else {
            panic!("a delta applies");
        };
        assert_eq!(
            (level.on_hand(), level.reserved(), level.available()),
            (2, 2, 0)
        );
        assert_eq!(level.version(), 2);
        assert_eq!(
            event,
            StockAdjustmentApplied {
                adjustment_id: command.adjustment_id,
                sku: sku("A"),
                delta: -3,
                reason: "cycle count".to_owned(),
                on_hand: 2,
                available: 0,
                version: 2,
            }
        );
    }

    #[test]
    fn never_below_reserved_nor_past_i32() {
        let before = stock_of("A", 5, 2);
        let error = adjust_stock(
            Some(&before),
            &adjustment("A", StockChange::Delta(-4)),
            t0(),
        )
        .unwrap_err();
        assert_eq!(
            error,
            InventoryError::BelowReserved {
                sku: sku("A"),
                on_hand_after: 1,
                reserved: 2
            }
        );
        assert_eq!(error.code(), ErrorCode::FailedPrecondition);
        assert!(adjust_stock(Some(&before), &adjustment("A", count(1, 5)), t0()).is_err());
        let empty = stock_of("A", 0, 0);
        assert!(matches!(
            adjust_stock(
                Some(&empty),
                &adjustment("A", StockChange::Delta(i32::MIN)),
                t0()
            ),
            Err(InventoryError::BelowReserved { .. })
        ));
        let full = stock_of("A", i32::MAX - 1, 0);
        assert_eq!(
            adjust_stock(Some(&full), &adjustment("A", StockChange::Delta(2)), t0()).unwrap_err(),
            InventoryError::OnHandOverflow { sku: sku("A") }
        );
        assert!(adjust_stock(Some(&full), &adjustment("A", StockChange::Delta(1)), t0()).is_ok());
    }

    #[test]
    fn counts_become_deltas_and_equal_counts_change_nothing() {
        let before = stock_of("A", 5, 2);
        let AdjustOutcome::Applied { level, event } =
            adjust_stock(Some(&before), &adjustment("A", count(9, 5)), t0()).unwrap()
        else {
            panic!("a different count applies");
        };
        assert_eq!(level.on_hand(), 9);
        assert_eq!(event.delta, 4);
        let extreme = stock_of("A", i32::MAX, 0);
        let AdjustOutcome::Applied { event, .. } =
            adjust_stock(Some(&extreme), &adjustment("A", count(0, i32::MAX)), t0()).unwrap()
        else {
            panic!("a count to zero applies");
        };
        assert_eq!(event.delta, -i32::MAX);

        assert_eq!(
            adjust_stock(Some(&before), &adjustment("A", count(5, 5)), t0()).unwrap(),
            AdjustOutcome::Unchanged { level: before }
        );
    }

    #[test]
    fn a_count_from_another_on_hand_is_aborted_and_changes_nothing() {
        let before = stock_of("A", 5, 2);
        let error = adjust_stock(Some(&before), &adjustment("A", count(9, 4)), t0()).unwrap_err();
        assert_eq!(
            error,
            InventoryError::StaleOnHand {
                sku: sku("A"),
                expected: 4,
                current: 5
            }
        );
        assert_eq!(error.code(), ErrorCode::Aborted);
        // Checked before the count's own rules: a stale count below the
        // reserved units is still stale.
        assert!(matches!(
            adjust_stock(Some(&before), &adjustment("A", count(0, 6)), t0()),
            Err(InventoryError::StaleOnHand { .. })
        ));
        assert!(matches!(
            adjust_stock(Some(&before), &adjustment("A", count(1, 5)), t0()),
            Err(InventoryError::BelowReserved { .. })
        ));
    }

    #[test]
    fn unknown_stale_and_mismatched_adjustments_are_refused() {
        let command = adjustment("A", StockChange::Delta(1));
        assert_eq!(
            adjust_stock(None, &command, t0()).unwrap_err(),
            InventoryError::UnknownSku { sku: sku("A") }
        );
        let before = stock_of("A", 5, 2);
        let stale = AdjustStock {
            expected_version: Some(7),
            ..command.clone()
        };
        assert_eq!(
            adjust_stock(Some(&before), &stale, t0())
                .unwrap_err()
                .code(),
            ErrorCode::Aborted
        );
        let current = AdjustStock {
            expected_version: Some(1),
            ..command.clone()
        };
        assert!(adjust_stock(Some(&before), &current, t0()).is_ok());
        let other = stock_of("B", 5, 2);
        assert_eq!(
            adjust_stock(Some(&other), &command, t0())
                .unwrap_err()
                .code(),
            ErrorCode::Internal
        );
    }

    #[test]
    fn blocked_stock_may_still_be_adjusted() {
        let BlockOutcome::Blocked(blocked) =
            block_stock(Some(&stock_of("A", 5, 2)), sku("A"), t0()).unwrap()
        else {
            panic!("blocks");
        };
        let AdjustOutcome::Applied { level, .. } = adjust_stock(
            Some(&blocked),
            &adjustment("A", StockChange::Delta(-3)),
            t0(),
        )
        .unwrap() else {
            panic!("a write-off applies");
        };
        assert_eq!(level.status(), StockStatus::Blocked);
        assert_eq!(level.on_hand(), 2);
    }
}
