//! The shared kernel: the values every service's domain speaks in, with
//! their rules and tests in one place.
//!
//! - [`Currency`]: an ISO 4217 code from a fixed list, with its exponent.
//! - [`Money`]: a non-negative integer count of minor units of one currency,
//!   bounded by [`MAX_AMOUNT_MINOR`], with checked arithmetic only.
//! - [`Sku`] and [`Quantity`]: the item lines inventory reserves and
//!   fulfillment ships.
//! - [`uuid_id!`]: a typed UUID v7 id (`OrderId`, `CartId`, ...).
//! - [`Clock`]: where "now" comes from, at Postgres' microsecond precision:
//!   [`SystemClock`] in services, [`ManualClock`] in tests.
//! - [`ErrorCode`]: what kind of failure an error is; a domain error says
//!   its code without knowing gRPC.
//! - [`InvalidValue`] / [`InvalidField`]: why a value was refused, and the
//!   same reason pinned to the request field it came from. The parsers here
//!   return an [`InvalidValue`] because only the caller knows the field.
//!
//! Floats never appear: amounts are exact and survive JSON, SQL and protobuf
//! unchanged.

mod clock;
mod error_code;
mod id;
mod invalid;
mod item;
mod money;
mod page;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error_code::ErrorCode;
pub use id::parse_uuid;
pub use invalid::{InvalidField, InvalidValue};
pub use item::{Quantity, SKU_MAX_CHARS, Sku};
pub use money::{Currency, MAX_AMOUNT_MINOR, Money, MoneyError};
pub use page::PageSize;
/// For [`uuid_id!`]: the services name the macro, not the crate.
pub use uuid;
