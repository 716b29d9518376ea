//! Inventory's rules, without I/O: validated values, stock levels and
//! their invariants, adjustments, and reservations with a TTL (reserve all
//! lines or none, commit, release, expire, restock), each returning the new state to
//! store and the event to emit.
//!
//! Nothing here imports tonic, sea_orm or the generated messages:
//! `crate::convert` turns requests and consumed events into the values
//! defined here (and the events defined here into messages), storage reads and
//! locks the rows these functions take (in the order they name) and writes
//! back what they return, in one transaction with the outbox row. The
//! module docs of `stock` and `reservation` list what the database must
//! enforce as well.

pub mod error;
pub mod events;
pub mod reservation;
pub mod stock;
pub mod values;

#[cfg(test)]
mod invariant_tests;

pub use error::{InvalidField, InvalidValue, InventoryError};
pub use events::InventoryEvent;
pub use reservation::{
    CancelOutcome, CommitOutcome, ExpireOutcome, FailureReason, IgnoredBecause, PriorAttempt,
    ReleaseOutcome, ReleaseReason, Reservation, ReservationFailure, ReservationLine,
    ReservationLines, ReservationRequest, ReservationStatus, ReserveOutcome, ShortLine, Transition,
    cancel_order, commit, expire, release, reserve,
};
pub use stock::{
    AdjustOutcome, AdjustStock, BlockOutcome, OnHandCount, OpenOutcome, StockChange, StockLevel,
    StockStatus, adjust_stock, block_stock, open_stock,
};
pub use values::{AdjustmentId, OrderId, Quantity, Reason, ReservationId, ReservationTtl, Sku};
