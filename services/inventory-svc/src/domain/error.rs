//! The errors of the inventory rules, and the [`ErrorCode`] each one is.
//!
//! The code is what a caller needs to react (fix the request, re-read,
//! retry); the gRPC layer maps it to a status. None of these errors goes away by handling the same input
//! again, so an event consumer dead-letters on any of them; database
//! conflicts (serialization failures, deadlocks, a version mismatch on
//! write) are the storage layer's errors and are retried there.
//!
//! Outcomes that are not failures (a repeated commit, a release of an
//! expired reservation, a reservation refused for lack of stock) are not
//! errors: they are variants of the outcome enums in `stock` and
//! `reservation`, because the service still has to answer or emit
//! something for them.

use std::fmt;

use crate::domain::values::Sku;

use ecommerce_kernel::ErrorCode;
// The validation errors every service shares, so a gRPC conversion names
// the field the same way whichever domain refused the value.
pub use ecommerce_kernel::{InvalidField, InvalidValue};

/// Every way an inventory rule can refuse to act.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InventoryError {
    /// A request or event field is missing or malformed; names the field.
    #[error(transparent)]
    InvalidArgument(#[from] InvalidField),

    /// AdjustStock of a SKU whose stock was never opened (catalog has not
    /// announced it). A reservation never fails with it: an unknown SKU is
    /// a short line of a refused reservation instead.
    #[error("no stock is kept for SKU {sku}")]
    UnknownSku { sku: Sku },

    /// An adjustment would take on-hand stock below the reserved units (or
    /// below zero, since reserved is never negative).
    #[error(
        "SKU {sku}: the adjustment would leave {on_hand_after} on hand, below the {reserved} reserved"
    )]
    BelowReserved {
        sku: Sku,
        on_hand_after: i64,
        reserved: i32,
    },

    /// An adjustment would take on-hand stock past what an `int32` (the
    /// proto and column type) can hold.
    #[error("SKU {sku}: the adjustment would leave more than {max} units on hand", max = i32::MAX)]
    OnHandOverflow { sku: Sku },

    /// The caller's `expected_version` is not the stock's current version.
    #[error(
        "stock of SKU {sku} is at version {current}, not the expected {expected}; re-read it and retry"
    )]
    StaleVersion {
        sku: Sku,
        expected: i64,
        current: i64,
    },

    /// A stocktake's `expected_on_hand` is not the stock's current on-hand:
    /// the count was taken against another level.
    #[error(
        "stock of SKU {sku} has {current} on hand, not the {expected} the stocktake expected; re-read it, reconcile the count and retry"
    )]
    StaleOnHand {
        sku: Sku,
        expected: i32,
        current: i32,
    },

    /// Stored or supplied state contradicts the rules, e.g. a reservation
    /// line whose SKU has fewer reserved units than the line holds. The
    /// details are for the log only.
    #[error("inventory state is inconsistent: {0}")]
    Inconsistent(String),
}

impl InventoryError {
    /// Exhaustive, so a new variant forces a decision here. A stale
    /// version or on-hand is ABORTED (re-read, then redo the
    /// read-modify-write: gRPC's code for a concurrency conflict the client
    /// resolves at a higher level); an inconsistency is
    /// INTERNAL: stored state broke an invariant the database should have
    /// enforced, a bug and never the caller's fault.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidArgument(_) | Self::OnHandOverflow { .. } => ErrorCode::InvalidArgument,
            Self::UnknownSku { .. } => ErrorCode::NotFound,
            Self::BelowReserved { .. } => ErrorCode::FailedPrecondition,
            Self::StaleVersion { .. } | Self::StaleOnHand { .. } => ErrorCode::Aborted,
            Self::Inconsistent(_) => ErrorCode::Internal,
        }
    }

    pub(crate) fn inconsistent(message: impl fmt::Display) -> Self {
        Self::Inconsistent(message.to_string())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn codes_follow_the_variant() {
        let sku = Sku::parse("SKU-1").unwrap();
        let invalid = InventoryError::from(InvalidValue::new("must be positive").at("delta"));
        assert_eq!(invalid.code(), ErrorCode::InvalidArgument);
        assert_eq!(invalid.to_string(), "delta: must be positive");

        let unknown = InventoryError::UnknownSku { sku: sku.clone() };
        assert_eq!(unknown.code(), ErrorCode::NotFound);

        let below = InventoryError::BelowReserved {
            sku: sku.clone(),
            on_hand_after: 1,
            reserved: 2,
        };
        assert_eq!(below.code(), ErrorCode::FailedPrecondition);
        assert_eq!(
            below.to_string(),
            "SKU SKU-1: the adjustment would leave 1 on hand, below the 2 reserved"
        );

        let overflow = InventoryError::OnHandOverflow { sku: sku.clone() };
        assert_eq!(overflow.code(), ErrorCode::InvalidArgument);

        let stale = InventoryError::StaleVersion {
            sku,
            expected: 1,
            current: 2,
        };
        assert_eq!(stale.code(), ErrorCode::Aborted);

        let broken = InventoryError::inconsistent("reserved 3 < line 4");
        assert_eq!(broken.code(), ErrorCode::Internal);
    }
}
