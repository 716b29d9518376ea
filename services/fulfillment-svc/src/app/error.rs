//! The service's errors: the domain's refusals plus what storage and the
//! surroundings add, each with its gRPC code and its meaning for a consumer.

use ecommerce_inbox::HandlerError;
use ecommerce_outbox::OutboxError;
use ecommerce_platform::grpc::{ErrorCode, ServiceError};

use crate::domain::{ErrorKind, FulfillmentError};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Domain(#[from] FulfillmentError),
    /// A shipment the caller named does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// A serialization failure, deadlock, lost race on a unique key or a
    /// conditional write that found the row moved on: run the whole
    /// transaction again.
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

impl From<OutboxError> for AppError {
    fn from(error: OutboxError) -> Self {
        match error {
            OutboxError::Conflict(_) => Self::Conflict(error.to_string()),
            OutboxError::Unavailable(_) => Self::Unavailable(error.to_string()),
            OutboxError::InvalidName { .. }
            | OutboxError::DuplicateEvent { .. }
            | OutboxError::MissingTable { .. }
            | OutboxError::Database(_) => Self::Internal(error.to_string()),
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
            Self::Domain(FulfillmentError::InvalidArgument(invalid)) => Some(&invalid.field),
            Self::Domain(_)
            | Self::NotFound(_)
            | Self::Conflict(_)
            | Self::Unavailable(_)
            | Self::Internal(_) => None,
        }
    }
}

/// For a consumer: conflicts and outages are retried, anything else (an
/// invalid event, a broken invariant) will fail the same way again and is
/// dead-lettered.
impl From<AppError> for HandlerError {
    fn from(error: AppError) -> Self {
        if error.is_retryable() {
            Self::Transient(error.to_string())
        } else {
            Self::Permanent(error.to_string())
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
        let conflict = AppError::Conflict("40001".to_owned());
        assert_eq!(conflict.code(), ErrorCode::Aborted);
        assert!(matches!(
            HandlerError::from(conflict),
            HandlerError::Transient(_)
        ));
        let unavailable = AppError::Unavailable("down".to_owned());
        assert_eq!(unavailable.code(), ErrorCode::Unavailable);
        assert!(unavailable.is_retryable());
        let internal = AppError::Internal("broken".to_owned());
        assert_eq!(internal.code(), ErrorCode::Internal);
        assert!(matches!(
            HandlerError::from(internal),
            HandlerError::Permanent(_)
        ));
    }
}
