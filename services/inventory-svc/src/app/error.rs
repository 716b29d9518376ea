//! The service's errors: the domain's refusals plus what storage and the
//! surroundings add, each with its gRPC code and its meaning for a consumer.

use ecommerce_db::{StoreError, TransactionError};
use ecommerce_inbox::HandlerError;
use ecommerce_platform::grpc::{ErrorCode, ServiceError};

use crate::domain::InventoryError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Domain(#[from] InventoryError),
    /// A reservation (or SKU) the caller named does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The request is valid but the state refuses it (a committed
    /// reservation cannot be released, a reservation was refused).
    #[error("{0}")]
    FailedPrecondition(String),
    /// A storage failure (a lost race on a unique key or a versioned write
    /// that found the row moved on among them): retried, and its status, by
    /// the one policy.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A rule of the service's own broken outside a stored row: a bug.
    #[error("internal error: {0}")]
    Internal(String),
}

impl TransactionError for AppError {
    fn store_error(&self) -> Option<&StoreError> {
        match self {
            Self::Store(error) => Some(error),
            Self::Domain(_)
            | Self::NotFound(_)
            | Self::FailedPrecondition(_)
            | Self::Internal(_) => None,
        }
    }
}

impl ServiceError for AppError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Domain(error) => error.code(),
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::FailedPrecondition(_) => ErrorCode::FailedPrecondition,
            Self::Store(error) => error.code(),
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            Self::Domain(InventoryError::InvalidArgument(invalid)) => Some(&invalid.field),
            // The request field the caller re-reads and corrects.
            Self::Domain(InventoryError::StaleOnHand { .. }) => Some("stocktake.expected_on_hand"),
            Self::Domain(_)
            | Self::NotFound(_)
            | Self::FailedPrecondition(_)
            | Self::Store(_)
            | Self::Internal(_) => None,
        }
    }
}

/// For a consumer: storage failures come again, the service's refusals are
/// dead-lettered (see [`HandlerError::from_service_error`]).
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
        let invalid = AppError::from(InventoryError::from(
            InvalidValue::new("must not be 0").at("delta"),
        ));
        assert_eq!(invalid.code(), ErrorCode::InvalidArgument);
        assert_eq!(invalid.field(), Some("delta"));
        assert!(matches!(
            HandlerError::from(invalid),
            HandlerError::Permanent(_)
        ));
        let conflict = AppError::from(StoreError::conflict("stock moved past version 3"));
        assert_eq!(conflict.code(), ErrorCode::Aborted);
        assert!(matches!(
            HandlerError::from(conflict),
            HandlerError::Transient(_)
        ));
        let internal = AppError::Internal("broken".to_owned());
        assert!(matches!(
            HandlerError::from(internal),
            HandlerError::Permanent(_)
        ));
    }
}
