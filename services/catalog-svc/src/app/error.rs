//! Every way a catalog operation can fail, and its error code.

use ecommerce_db::{StoreError, TransactionError};
use ecommerce_platform::grpc::{ErrorCode, ServiceError};

use crate::domain::error::{DomainError, Resource};
use crate::domain::validation::InvalidField;
use crate::storage::variants::InsertVariantError;

/// The one error type of the application layer. Messages are for callers,
/// except those of INTERNAL errors, which only reach the log.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The catalog's rules refused.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// A storage failure: retried, and its status, by the one policy.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A bug: the application's own invariants do not hold.
    #[error("internal error: {0}")]
    Internal(String),
}

impl CatalogError {
    pub fn not_found(resource: Resource, id: impl std::fmt::Display) -> Self {
        Self::Domain(DomainError::not_found(resource, id))
    }

    pub fn failed_precondition(message: impl Into<String>) -> Self {
        Self::Domain(DomainError::FailedPrecondition(message.into()))
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::Internal(message.into())
    }
}

impl From<InvalidField> for CatalogError {
    fn from(invalid: InvalidField) -> Self {
        Self::Domain(invalid.into())
    }
}

/// A taken SKU is ALREADY_EXISTS naming it, and not retried.
impl From<InsertVariantError> for CatalogError {
    fn from(error: InsertVariantError) -> Self {
        match error {
            InsertVariantError::SkuTaken(sku) => Self::Domain(DomainError::AlreadyExists {
                what: format!("a variant with sku {:?}", sku.as_str()),
            }),
            InsertVariantError::Store(error) => Self::Store(error),
        }
    }
}

impl TransactionError for CatalogError {
    fn store_error(&self) -> Option<&StoreError> {
        match self {
            Self::Store(error) => Some(error),
            Self::Domain(_) | Self::Internal(_) => None,
        }
    }
}

impl ServiceError for CatalogError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Domain(error) => error.code(),
            Self::Store(error) => error.code(),
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            Self::Domain(error) => error.field(),
            Self::Store(_) | Self::Internal(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use ecommerce_platform::grpc::{INTERNAL_MESSAGE, status_of};

    use super::*;
    use crate::domain::lifecycle::ProductStatus;

    #[test]
    fn codes_follow_the_case_and_only_storage_failures_retry() {
        let invalid = CatalogError::from(InvalidField::new("title", "must not be empty"));
        assert_eq!(invalid.code(), ErrorCode::InvalidArgument);
        assert_eq!(invalid.field(), Some("title"));

        let stale = CatalogError::from(DomainError::StaleVersion {
            resource: Resource::Product,
            id: "p".to_owned(),
            expected: 1,
            current: 2,
        });
        assert_eq!(stale.code(), ErrorCode::Aborted);
        assert!(!stale.is_retryable());
        assert_eq!(stale.field(), None);

        let conflict = CatalogError::from(StoreError::conflict("deadlock"));
        assert_eq!(conflict.code(), ErrorCode::Aborted);
        assert!(conflict.is_retryable());

        let transition = CatalogError::from(DomainError::IllegalProductTransition {
            product_id: "p".to_owned(),
            from: ProductStatus::Archived,
            to: ProductStatus::Published,
        });
        assert_eq!(transition.code(), ErrorCode::FailedPrecondition);
    }

    #[test]
    fn statuses_name_fields_and_hide_internals() {
        let status = status_of(&CatalogError::not_found(Resource::Product, "p-1"));
        assert_eq!(status.code(), tonic::Code::NotFound);
        assert_eq!(status.message(), "product p-1 not found");

        let status = status_of(&CatalogError::internal("password=hunter2 leaked"));
        assert_eq!(status.code(), tonic::Code::Internal);
        assert_eq!(status.message(), INTERNAL_MESSAGE);
        assert!(!format!("{status:?}").contains("hunter2"));
    }
}
