//! What the cart rules refuse.

use std::time::Duration;

use crate::domain::PriceChange;

/// A refused cart change; each says which status it becomes in `app`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CartError {
    /// INVALID_ARGUMENT naming `field`.
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// ABORTED: the caller saw another version.
    #[error("the cart is at version {actual}, not {expected}; reload it and retry")]
    StaleVersion { expected: i64, actual: i64 },
    /// NOT_FOUND: UpdateItem of a SKU the cart does not hold.
    #[error("the cart has no line of SKU {sku:?}")]
    LineNotFound { sku: String },
    /// FAILED_PRECONDITION: a limit of the cart or the line.
    #[error("{0}")]
    LimitExceeded(String),
    /// FAILED_PRECONDITION: lines that cannot be bought now.
    #[error("the cart has unavailable lines: {}", skus.join(", "))]
    UnavailableLines { skus: Vec<String> },
    /// FAILED_PRECONDITION: checkout of an empty cart.
    #[error("the cart is empty")]
    Empty,
    /// FAILED_PRECONDITION: a line priced in another currency.
    #[error("{0}")]
    Pricing(String),
    /// FAILED_PRECONDITION: prices moved since the shopper last read the
    /// cart; reading it again (GetCart) shows and accepts them.
    #[error(
        "prices changed since the cart was last read ({}); read the cart again to accept them",
        changes
            .iter()
            .map(|change| format!(
                "{}: {} -> {} {currency}",
                change.sku.as_str(),
                change.seen_unit_price_minor,
                change.unit_price_minor
            ))
            .collect::<Vec<_>>()
            .join(", ")
    )]
    PricesChanged {
        /// The cart's currency; prices are in its minor units.
        currency: String,
        changes: Vec<PriceChange>,
    },
    /// FAILED_PRECONDITION naming `idempotency_key`: a checkout under this
    /// key is stored for other cart contents.
    #[error(
        "the key {key:?} was used for a checkout of other cart contents; check out again with a new key"
    )]
    IdempotencyKeyReused { key: String },
    /// RESOURCE_EXHAUSTED with a retry delay: the client created as many
    /// anonymous carts as it may in the window.
    #[error(
        "too many anonymous carts created from this address (at most {limit} a minute); retry in {} s, or sign in",
        retry_after.as_secs()
    )]
    TooManyAnonymousCarts { limit: u32, retry_after: Duration },
}
