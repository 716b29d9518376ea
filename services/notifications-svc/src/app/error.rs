//! The service's errors: the domain's refusals plus what storage adds, each
//! with its gRPC code and its meaning for a consumer.

use ecommerce_db::{StoreError, TransactionError};
use ecommerce_inbox::HandlerError;
use ecommerce_platform::grpc::{ErrorCode, ServiceError};

use crate::domain::NotificationsError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Domain(#[from] NotificationsError),
    /// A storage failure: retried, and its status, by the one policy.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl TransactionError for AppError {
    fn store_error(&self) -> Option<&StoreError> {
        match self {
            Self::Store(error) => Some(error),
            Self::Domain(_) => None,
        }
    }
}

impl ServiceError for AppError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Domain(error) => error.code(),
            Self::Store(error) => error.code(),
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            Self::Domain(NotificationsError::InvalidArgument(invalid)) => Some(&invalid.field),
            Self::Domain(NotificationsError::NotYours) | Self::Store(_) => None,
        }
    }
}

/// For a consumer: storage failures come again, refusals are dead-lettered
/// (see [`HandlerError::from_service_error`]).
impl From<AppError> for HandlerError {
    fn from(error: AppError) -> Self {
        Self::from_service_error(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::InvalidValue;

    #[test]
    fn codes_and_consumer_outcomes_follow_the_variant() {
        let invalid = AppError::from(NotificationsError::from(
            InvalidValue::new("must not be empty").at("email"),
        ));
        assert_eq!(invalid.code(), ErrorCode::InvalidArgument);
        assert_eq!(invalid.field(), Some("email"));
        assert!(matches!(
            HandlerError::from(invalid),
            HandlerError::Permanent(_)
        ));
        let not_yours = AppError::from(NotificationsError::NotYours);
        assert_eq!(not_yours.code(), ErrorCode::PermissionDenied);
        assert_eq!(not_yours.field(), None);
        let conflict = AppError::from(StoreError::conflict("moved on"));
        assert_eq!(conflict.code(), ErrorCode::Aborted);
        assert!(matches!(
            HandlerError::from(conflict),
            HandlerError::Transient(_)
        ));
    }
}
