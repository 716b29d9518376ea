//! What fulfillment consumes: the inbox handlers of
//! `fulfillment.inventory-events` and `fulfillment.order-events`
//! ([`consumers`]). What it emits is the
//! domain's [`FulfillmentEvent`](crate::domain::FulfillmentEvent),
//! converted into the generated messages in
//! [`convert::events`](crate::convert::events) and emitted by the app.

pub mod consumers;
