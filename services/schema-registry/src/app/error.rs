//! The service's errors: the domain's refusals plus what storage and the
//! surroundings add, each with its error code.

use ecommerce_db::{StoreError, TransactionError};
use ecommerce_platform::grpc::{ErrorCode, ServiceError};

use crate::domain::RegistryError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Domain(#[from] RegistryError),
    /// A subject, version or id the caller named does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// A storage failure: retried, and its status, by the one policy.
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl TransactionError for AppError {
    fn store_error(&self) -> Option<&StoreError> {
        match self {
            Self::Store(error) => Some(error),
            Self::Domain(_) | Self::NotFound(_) | Self::Internal(_) => None,
        }
    }
}

impl ServiceError for AppError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Domain(error) => error.code(),
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Store(error) => error.code(),
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            Self::Domain(error) => error.field(),
            Self::NotFound(_) | Self::Store(_) | Self::Internal(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::InvalidValue;

    #[test]
    fn codes_fields_and_retries_follow_the_variant() {
        let invalid = AppError::from(RegistryError::from(
            InvalidValue::new("must not be empty").at("subject"),
        ));
        assert_eq!(invalid.code(), ErrorCode::InvalidArgument);
        assert_eq!(invalid.field(), Some("subject"));
        assert!(!invalid.is_retryable());
        let missing = AppError::NotFound("subject x".to_owned());
        assert_eq!(missing.code(), ErrorCode::NotFound);
        assert_eq!(missing.to_string(), "subject x not found");
        let conflict = AppError::from(StoreError::conflict("40001"));
        assert_eq!(conflict.code(), ErrorCode::Aborted);
        assert!(conflict.is_retryable());
        let corrupt = AppError::from(StoreError::internal("bad row"));
        assert_eq!(corrupt.code(), ErrorCode::Internal);
        assert!(!corrupt.is_retryable());
        assert_eq!(
            AppError::from(RegistryError::Inconsistent("x".to_owned())).code(),
            ErrorCode::Internal
        );
    }
}
