//! What notifications consumes: the inbox handler of
//! `notifications.iam-events`, `notifications.order-events` and
//! `notifications.fulfillment-events` ([`consumers`]). It emits no events.

pub mod consumers;
