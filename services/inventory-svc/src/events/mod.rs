//! What inventory consumes: the inbox handlers of `inventory.order-events`
//! and `inventory.catalog-events` ([`consumers`]). What it emits is the
//! domain's [`InventoryEvent`](crate::domain::InventoryEvent), converted
//! into the generated messages in [`convert::events`](crate::convert::events).

pub mod consumers;
