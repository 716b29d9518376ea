//! The cart rules, without I/O: lines per SKU with quantity limits, a
//! version for optimistic concurrency, merging, availability flags and the
//! priced view a checkout is built from.

mod cart;
mod error;
mod pricing;

pub use self::cart::{
    Cart, CartId, CartLine, CatalogItem, MAX_CART_LINES, MAX_LINE_QUANTITY, Owner, Quantity, Sku,
    UnavailableReason, parse_sku,
};
pub use self::error::CartError;
pub use self::pricing::{PriceQuote, PricedCart, PricedLine, QuoteStatus, price_cart};
