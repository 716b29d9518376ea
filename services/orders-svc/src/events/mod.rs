//! What orders-svc consumes: [`SagaHandler`], the one inbox handler behind
//! the three consumer queues (`orders.inventory-events`,
//! `orders.payment-events`, `orders.fulfillment-events`). Each saga event
//! is converted (`crate::convert::events`) into an
//! [`OrderInput`](crate::domain::OrderInput), applied by the app to the
//! locked order, and the events it hands back are emitted. What orders
//! emits is [`OrderEvent`](crate::domain::OrderEvent), converted to its
//! payload in `crate::convert::events`.

pub mod saga;

pub use saga::SagaHandler;
