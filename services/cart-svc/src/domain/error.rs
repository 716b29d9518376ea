//! What the cart rules refuse.

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
}
