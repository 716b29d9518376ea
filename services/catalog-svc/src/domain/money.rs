//! Money: integer minor units plus an ISO 4217 currency, never floats.
//!
//! Lives in the shared `ecommerce-kernel` crate (cart, checkout and orders
//! price things too); re-exported here so the catalog keeps one path for it.

pub use ecommerce_kernel::{Currency, MAX_AMOUNT_MINOR, Money, MoneyError};
