//! The one error type of the catalog, and the kind each error is.
//!
//! [`ErrorKind`] is what a caller needs to react (retry, fix the request,
//! re-read); the gRPC layer maps it to a status code in one exhaustive
//! `match` (`grpc::error`). Messages are written for the caller, except
//! [`CatalogError::Internal`], whose details only reach the log.

use std::fmt;

use crate::domain::lifecycle::{ProductStatus, VariantStatus};
use crate::domain::validation::InvalidField;

/// A boxed cause from a lower layer (database, outbox), kept for the log.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What kind of failure an error is, as far as a caller is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidArgument,
    NotFound,
    AlreadyExists,
    FailedPrecondition,
    /// A stale version, or a transaction conflict that outlasted the
    /// retries: re-read and try again.
    Aborted,
    Unauthenticated,
    PermissionDenied,
    Unavailable,
    Internal,
}

/// The kind of resource an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    Product,
    Variant,
    Price,
}

impl Resource {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Product => "product",
            Self::Variant => "variant",
            Self::Price => "price",
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// Every way a catalog operation can fail.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// A request field is missing or malformed; names the field.
    #[error(transparent)]
    InvalidArgument(#[from] InvalidField),

    /// The resource does not exist, or the caller may not see it.
    #[error("{resource} {id} not found")]
    NotFound { resource: Resource, id: String },

    /// A unique value is taken, e.g. a SKU.
    #[error("{what} already exists")]
    AlreadyExists { what: String },

    /// A lifecycle transition the product's current state forbids.
    #[error("product {product_id} is {from}: it cannot become {to}")]
    IllegalProductTransition {
        product_id: String,
        from: ProductStatus,
        to: ProductStatus,
    },

    /// A variant transition its current state forbids.
    #[error("variant {variant_id} is {from}: it cannot become {to}")]
    IllegalVariantTransition {
        variant_id: String,
        from: VariantStatus,
        to: VariantStatus,
    },

    /// The request is valid but the state of a resource forbids it.
    #[error("{0}")]
    FailedPrecondition(String),

    /// `expected_version` is not the resource's current version.
    #[error(
        "{resource} {id} is at version {current}, not the expected {expected}; re-read it and retry"
    )]
    StaleVersion {
        resource: Resource,
        id: String,
        expected: i64,
        current: i64,
    },

    /// A serialization failure, deadlock or lock timeout. Retried inside the
    /// service; surfaces only when the retries ran out.
    #[error("the change conflicted with a concurrent one; retry")]
    Conflict(#[source] BoxError),

    #[error("sign in first")]
    Unauthenticated,

    #[error("the {role} role is required")]
    PermissionDenied { role: &'static str },

    /// The database cannot be reached right now.
    #[error("the catalog is temporarily unavailable; retry later")]
    Unavailable(#[source] BoxError),

    /// A bug or an unexpected state; `message` is for the log only.
    #[error("internal error: {message}")]
    Internal {
        message: String,
        #[source]
        source: Option<BoxError>,
    },
}

impl CatalogError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::InvalidArgument(_) => ErrorKind::InvalidArgument,
            Self::NotFound { .. } => ErrorKind::NotFound,
            Self::AlreadyExists { .. } => ErrorKind::AlreadyExists,
            Self::IllegalProductTransition { .. }
            | Self::IllegalVariantTransition { .. }
            | Self::FailedPrecondition(_) => ErrorKind::FailedPrecondition,
            Self::StaleVersion { .. } | Self::Conflict(_) => ErrorKind::Aborted,
            Self::Unauthenticated => ErrorKind::Unauthenticated,
            Self::PermissionDenied { .. } => ErrorKind::PermissionDenied,
            Self::Unavailable(_) => ErrorKind::Unavailable,
            Self::Internal { .. } => ErrorKind::Internal,
        }
    }

    /// The request field an invalid argument is about.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::InvalidArgument(invalid) => Some(&invalid.field),
            _ => None,
        }
    }

    /// Whether running the whole transaction again may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Conflict(_))
    }

    pub fn not_found(resource: Resource, id: impl fmt::Display) -> Self {
        Self::NotFound {
            resource,
            id: id.to_string(),
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::Internal {
            message: message.into(),
            source: None,
        }
    }

    pub fn internal_from(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self::Internal {
            message: message.into(),
            source: Some(source.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_the_variant() {
        let invalid = CatalogError::from(InvalidField::new("title", "must not be empty"));
        assert_eq!(invalid.kind(), ErrorKind::InvalidArgument);
        assert_eq!(invalid.field(), Some("title"));
        assert_eq!(invalid.to_string(), "title: must not be empty");

        let stale = CatalogError::StaleVersion {
            resource: Resource::Product,
            id: "p".to_owned(),
            expected: 1,
            current: 2,
        };
        assert_eq!(stale.kind(), ErrorKind::Aborted);
        assert!(!stale.is_retryable());
        assert_eq!(stale.field(), None);

        let conflict = CatalogError::Conflict("deadlock".into());
        assert_eq!(conflict.kind(), ErrorKind::Aborted);
        assert!(conflict.is_retryable());

        let transition = CatalogError::IllegalProductTransition {
            product_id: "p".to_owned(),
            from: ProductStatus::Archived,
            to: ProductStatus::Published,
        };
        assert_eq!(transition.kind(), ErrorKind::FailedPrecondition);
        assert_eq!(
            transition.to_string(),
            "product p is ARCHIVED: it cannot become PUBLISHED"
        );
    }
}
