//! The cart rules, without I/O: lines per SKU with quantity limits, a
//! version for optimistic concurrency, merging, availability flags, the
//! priced view and the checkout snapshot built from it.

mod anonymous;
mod cart;
mod checkout;
mod error;
mod pricing;
mod redacted;

pub use self::anonymous::{AnonymousCartPolicy, CREATION_WINDOW, RecentCreations};
pub use self::cart::{
    Cart, CartId, CartLine, CatalogChange, CatalogItem, KeyScope, MAX_CART_LINES,
    MAX_LINE_QUANTITY, Owner, Quantity, Sku, UnavailableReason, parse_cart_id, parse_quantity,
    parse_sku,
};
pub use self::checkout::{
    AttemptState, CheckoutAttempt, CheckoutContent, CheckoutSnapshot, MAX_PAYMENT_METHOD_TOKEN_LEN,
    OrderedLine, Replay, SnapshotLine, scoped_checkout_key,
};
pub use self::error::CartError;
pub use self::pricing::{PriceChange, PriceQuote, PricedCart, PricedLine, QuoteStatus, price_cart};
pub(crate) use self::redacted::Redacted;
