//! The orders rules, without I/O: the order built from a verified checkout
//! snapshot, its state machine, and who may read or cancel it.
//!
//! - [`model`]: [`Order`], placed from an
//!   [`ecommerce_checkout::VerifiedCheckout`] (the snapshot's signature,
//!   structure and expiry are checked by `ecommerce-checkout`), with its
//!   status history.
//! - [`status`]: [`OrderStatus`] and [`OrderState`] (the status with its
//!   [`Rejection`] or [`Cancellation`]).
//! - [`machine`]: [`apply`], one table from (state, input) to a
//!   [`Transition`] with the events to emit, an explicit
//!   [`Outcome::Ignored`] for duplicate and late inputs, or a
//!   [`TransitionError`]. The module docs hold the table.
//! - [`access`]: [`Actor`]; owners and admins read and cancel, anyone else
//!   gets NOT_FOUND.
//! - [`events`]: [`OrderEvent`], what orders emits, with what each payload
//!   needs.
//!
//! Nothing here imports tonic, sea_orm or the generated messages:
//! `crate::convert` turns requests and consumed events into the inputs
//! defined here and [`OrderEvent`]s into the generated events, `storage`
//! maps rows to [`Order`], and the application writes each [`Transition`]
//! and its events in one transaction.

pub mod access;
pub mod events;
pub mod machine;
pub mod model;
pub mod status;

pub use access::{AccessError, Actor, CancelReason, CancelRequest, list_owner};
pub use events::OrderEvent;
pub use machine::{
    IgnoreReason, OrderEffect, OrderInput, Outcome, Transition, TransitionError, apply,
};
pub use model::{Order, OrderId, OrderLine, StatusChange};
pub use status::{
    CancelCause, Cancellation, OrderState, OrderStatus, Rejection, ReservationFailure, ShortLine,
};
