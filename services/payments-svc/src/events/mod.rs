//! What payments-svc consumes: [`PaymentHandler`], the one inbox handler
//! behind the three consumer queues (`payments.order-events`,
//! `payments.inventory-events`, `payments.fulfillment-events`). Each saga
//! event is converted (`crate::convert::events`) into a
//! [`PaymentInput`](crate::domain::PaymentInput) (or an intent to record),
//! applied by the app to the locked payment, and the event it hands back
//! is emitted. What payments emits is
//! [`PaymentEvent`](crate::domain::PaymentEvent), converted to its payload
//! in `crate::convert::events`.

pub mod saga;

pub use saga::PaymentHandler;
