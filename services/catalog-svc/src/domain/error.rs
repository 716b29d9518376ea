//! What the catalog's rules refuse, and the kinds of resource they name.
//!
//! [`DomainError`] holds refusals only: no storage or transport failure
//! reaches the domain. Each says its [`ErrorCode`]; the application's
//! `CatalogError` (`app::error`) adds the other failures. Messages are
//! written for the caller.

use std::fmt;

use ecommerce_kernel::ErrorCode;

use crate::domain::lifecycle::{ProductStatus, VariantStatus};
use crate::domain::validation::InvalidField;

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

/// Every way the catalog's rules refuse an operation.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
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

    #[error("sign in first")]
    Unauthenticated,

    #[error("the {role} role is required")]
    PermissionDenied { role: &'static str },
}

impl DomainError {
    /// What kind of failure the refusal is. Exhaustive, so a new refusal
    /// forces a decision here.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidArgument(_) => ErrorCode::InvalidArgument,
            Self::NotFound { .. } => ErrorCode::NotFound,
            Self::AlreadyExists { .. } => ErrorCode::AlreadyExists,
            Self::IllegalProductTransition { .. }
            | Self::IllegalVariantTransition { .. }
            | Self::FailedPrecondition(_) => ErrorCode::FailedPrecondition,
            // Re-read and retry: the caller's view is out of date.
            Self::StaleVersion { .. } => ErrorCode::Aborted,
            Self::Unauthenticated => ErrorCode::Unauthenticated,
            Self::PermissionDenied { .. } => ErrorCode::PermissionDenied,
        }
    }

    /// The request field an invalid argument is about.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::InvalidArgument(invalid) => Some(&invalid.field),
            Self::NotFound { .. }
            | Self::AlreadyExists { .. }
            | Self::IllegalProductTransition { .. }
            | Self::IllegalVariantTransition { .. }
            | Self::FailedPrecondition(_)
            | Self::StaleVersion { .. }
            | Self::Unauthenticated
            | Self::PermissionDenied { .. } => None,
        }
    }

    pub fn not_found(resource: Resource, id: impl fmt::Display) -> Self {
        Self::NotFound {
            resource,
            id: id.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_what_was_refused() {
        let invalid = DomainError::from(InvalidField::new("title", "must not be empty"));
        assert_eq!(invalid.field(), Some("title"));
        assert_eq!(invalid.to_string(), "title: must not be empty");

        let stale = DomainError::StaleVersion {
            resource: Resource::Product,
            id: "p".to_owned(),
            expected: 1,
            current: 2,
        };
        assert_eq!(stale.field(), None);
        assert!(stale.to_string().contains("version 2"), "{stale}");

        let transition = DomainError::IllegalProductTransition {
            product_id: "p".to_owned(),
            from: ProductStatus::Archived,
            to: ProductStatus::Published,
        };
        assert_eq!(
            transition.to_string(),
            "product p is ARCHIVED: it cannot become PUBLISHED"
        );
    }
}
