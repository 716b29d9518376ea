//! What orders-svc emits and consumes.
//!
//! - [`payloads`]: the four `orders.*` events, built from domain values.
//! - [`saga`]: [`SagaHandler`], the one inbox handler behind the three
//!   consumer queues (`orders.inventory-events`, `orders.payment-events`,
//!   `orders.fulfillment-events`): each saga event becomes an
//!   [`OrderInput`](crate::domain::OrderInput) applied to the locked order.

pub mod payloads;
pub mod saga;

pub use saga::SagaHandler;

/// Aggregate type of every orders event (the id is the order id).
pub const ORDER_AGGREGATE: &str = "order";
