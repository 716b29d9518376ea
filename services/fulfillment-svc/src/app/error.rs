//! The service's errors: the domain's refusals plus what storage and the
//! surroundings add, each with its gRPC code and its meaning for a consumer.

use ecommerce_db::{StoreError, TransactionError};
use ecommerce_inbox::HandlerError;
use ecommerce_platform::grpc::{ErrorCode, ServiceError};

use crate::domain::FulfillmentError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Domain(#[from] FulfillmentError),
    /// A shipment the caller named does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// A storage failure (a lost race on a unique key or a conditional
    /// write that found the row moved on among them): retried, and its
    /// status, by the one policy.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl TransactionError for AppError {
    fn store_error(&self) -> Option<&StoreError> {
        match self {
            Self::Store(error) => Some(error),
            Self::Domain(_) | Self::NotFound(_) => None,
        }
    }
}

impl ServiceError for AppError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Domain(error) => error.code(),
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Store(error) => error.code(),
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            Self::Domain(FulfillmentError::InvalidArgument(invalid)) => Some(&invalid.field),
            Self::Domain(_) | Self::NotFound(_) | Self::Store(_) => None,
        }
    }
}

/// For a consumer: storage failures come again, and so does a commit whose
/// order is not noted yet (its `order_placed` is on another queue); the
/// service's other refusals are dead-lettered (see
/// [`HandlerError::from_service_error`]).
impl From<AppError> for HandlerError {
    fn from(error: AppError) -> Self {
        match error {
            AppError::Domain(FulfillmentError::OrderNotPlaced { .. }) => {
                Self::transient(error.to_string())
            }
            AppError::Domain(_) | AppError::NotFound(_) | AppError::Store(_) => {
                Self::from_service_error(error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{InvalidValue, ShipmentId, ShipmentStatus};

    #[test]
    fn codes_and_consumer_outcomes_follow_the_variant() {
        let invalid = AppError::from(FulfillmentError::from(
            InvalidValue::new("must not be empty").at("carrier"),
        ));
        assert_eq!(invalid.code(), ErrorCode::InvalidArgument);
        assert_eq!(invalid.field(), Some("carrier"));
        assert!(matches!(
            HandlerError::from(invalid),
            HandlerError::Permanent(_)
        ));
        let illegal = AppError::from(FulfillmentError::IllegalTransition {
            shipment_id: ShipmentId::generate(),
            status: ShipmentStatus::Pending,
            reason: "mark it shipped first",
        });
        assert_eq!(illegal.code(), ErrorCode::FailedPrecondition);
        assert_eq!(illegal.field(), None);
        assert_eq!(
            AppError::NotFound("shipment".to_owned()).code(),
            ErrorCode::NotFound
        );
        let conflict = AppError::from(StoreError::conflict("shipment moved on from PENDING"));
        assert_eq!(conflict.code(), ErrorCode::Aborted);
        assert!(conflict.is_retryable());
        assert!(matches!(
            HandlerError::from(conflict),
            HandlerError::Transient(_)
        ));
        // A commit before its order is noted comes again.
        let not_placed = AppError::from(FulfillmentError::OrderNotPlaced {
            order_id: crate::domain::OrderId::generate(),
        });
        assert_eq!(not_placed.code(), ErrorCode::Unavailable);
        assert!(matches!(
            HandlerError::from(not_placed),
            HandlerError::Transient(_)
        ));
        let broken = AppError::from(FulfillmentError::Inconsistent("broken".to_owned()));
        assert_eq!(broken.code(), ErrorCode::Internal);
        assert!(matches!(
            HandlerError::from(broken),
            HandlerError::Permanent(_)
        ));
        // A row that does not read back is a storage failure: INTERNAL, and
        // the message comes again until the retry budget dead-letters it.
        let corrupt = AppError::from(StoreError::internal("shipment 1: status \"lost\""));
        assert_eq!(corrupt.code(), ErrorCode::Internal);
        assert!(!corrupt.is_retryable());
        assert!(matches!(
            HandlerError::from(corrupt),
            HandlerError::Transient(_)
        ));
    }
}
