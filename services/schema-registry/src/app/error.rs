//! The service's errors: the domain's refusals plus what storage and the
//! surroundings add, each with its gRPC code.

use ecommerce_platform::grpc::{ErrorCode, ServiceError};

use crate::domain::{ErrorKind, RegistryError};
use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Domain(#[from] RegistryError),
    /// A subject, version or id the caller named does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// A serialization failure, deadlock or lost race on a unique key: run
    /// the whole transaction again.
    #[error("database conflict: {0}")]
    Conflict(String),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    /// Whether running the same transaction again may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Conflict(_) | Self::Unavailable(_) => true,
            Self::Domain(_) | Self::NotFound(_) | Self::Internal(_) => false,
        }
    }
}

impl From<StorageError> for AppError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::Conflict(_) => Self::Conflict(error.to_string()),
            StorageError::Unavailable(_) => Self::Unavailable(error.to_string()),
            StorageError::Corrupt(_) | StorageError::Database(_) => {
                Self::Internal(error.to_string())
            }
        }
    }
}

/// Exhaustive, so a new kind forces a decision here.
pub fn domain_code(kind: ErrorKind) -> ErrorCode {
    match kind {
        ErrorKind::InvalidArgument => ErrorCode::InvalidArgument,
        ErrorKind::FailedPrecondition => ErrorCode::FailedPrecondition,
        ErrorKind::Internal => ErrorCode::Internal,
    }
}

impl ServiceError for AppError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Domain(error) => domain_code(error.kind()),
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Conflict(_) => ErrorCode::Aborted,
            Self::Unavailable(_) => ErrorCode::Unavailable,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            Self::Domain(error) => error.field(),
            Self::NotFound(_) | Self::Conflict(_) | Self::Unavailable(_) | Self::Internal(_) => {
                None
            }
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
        let conflict = AppError::from(StorageError::Conflict("40001".to_owned()));
        assert_eq!(conflict.code(), ErrorCode::Aborted);
        assert!(conflict.is_retryable());
        let unavailable = AppError::from(StorageError::Unavailable("down".to_owned()));
        assert_eq!(unavailable.code(), ErrorCode::Unavailable);
        assert!(unavailable.is_retryable());
        let corrupt = AppError::from(StorageError::Corrupt("bad row".to_owned()));
        assert_eq!(corrupt.code(), ErrorCode::Internal);
        assert!(!corrupt.is_retryable());
        assert_eq!(
            AppError::from(RegistryError::Inconsistent("x".to_owned())).code(),
            ErrorCode::Internal
        );
    }
}
