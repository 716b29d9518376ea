//! What payments-svc emits and consumes.
//!
//! - [`payloads`]: the four `payments.*` events, built from domain
//!   [`PaymentEvent`](crate::domain::PaymentEvent)s.
//! - [`saga`]: [`PaymentHandler`], the one inbox handler behind the three
//!   consumer queues (`payments.order-events`, `payments.inventory-events`,
//!   `payments.fulfillment-events`): each saga event becomes a
//!   [`PaymentInput`](crate::domain::PaymentInput) applied to the locked
//!   payment.

pub mod payloads;
pub mod saga;

pub use saga::PaymentHandler;
