//! Every way an orders operation can fail, and its gRPC code.

use ecommerce_checkout::SnapshotError;
use ecommerce_db::DbFailure;
use ecommerce_money::InvalidField;
use ecommerce_outbox::OutboxError;
use ecommerce_platform::grpc::{ErrorCode, ServiceError};
use sea_orm::DbErr;

use crate::domain::{AccessError, TransitionError};

/// The one error type of the application layer. Messages are for callers
/// (except [`OrdersError::Internal`]'s, which stay in the log) and never
/// hold a payment method token.
#[derive(Debug, thiserror::Error)]
pub enum OrdersError {
    #[error("{0}")]
    InvalidArgument(InvalidField),
    /// The signed snapshot was refused: INVALID_ARGUMENT naming the field,
    /// or FAILED_PRECONDITION when it expired.
    #[error(transparent)]
    Snapshot(SnapshotError),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("a dependency is unavailable; retry later")]
    Unavailable(#[source] anyhow::Error),
    #[error("{0:#}")]
    Internal(#[source] anyhow::Error),
}

impl OrdersError {
    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        Self::Internal(error.into())
    }

    /// Whether the whole transaction may be run again.
    pub(crate) fn is_retryable_conflict(&self) -> bool {
        matches!(self, Self::Unavailable(error) if error.downcast_ref::<Conflict>().is_some())
    }
}

/// Marks a serialization failure or deadlock inside [`OrdersError::Unavailable`].
#[derive(Debug, thiserror::Error)]
#[error("transaction conflict")]
pub(crate) struct Conflict;

impl ServiceError for OrdersError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidArgument(_) => ErrorCode::InvalidArgument,
            Self::Snapshot(error) => error.code(),
            Self::PermissionDenied(_) => ErrorCode::PermissionDenied,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::AlreadyExists(_) => ErrorCode::AlreadyExists,
            Self::FailedPrecondition(_) => ErrorCode::FailedPrecondition,
            Self::Unavailable(_) => ErrorCode::Unavailable,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            Self::InvalidArgument(invalid) => Some(&invalid.field),
            Self::Snapshot(error) => ServiceError::field(error),
            Self::PermissionDenied(_)
            | Self::NotFound(_)
            | Self::AlreadyExists(_)
            | Self::FailedPrecondition(_)
            | Self::Unavailable(_)
            | Self::Internal(_) => None,
        }
    }
}

impl From<InvalidField> for OrdersError {
    fn from(invalid: InvalidField) -> Self {
        Self::InvalidArgument(invalid)
    }
}

impl From<SnapshotError> for OrdersError {
    fn from(error: SnapshotError) -> Self {
        Self::Snapshot(error)
    }
}

impl From<AccessError> for OrdersError {
    fn from(error: AccessError) -> Self {
        match error {
            AccessError::NotFound { .. } => Self::NotFound(error.to_string()),
            AccessError::OtherUsersOrders => Self::PermissionDenied(error.to_string()),
        }
    }
}

impl From<TransitionError> for OrdersError {
    fn from(error: TransitionError) -> Self {
        match error {
            TransitionError::NotCancelable { .. } => Self::FailedPrecondition(error.to_string()),
            // Only events can contradict an order's history; a request
            // that does is a bug.
            TransitionError::Contradiction { .. } => Self::Internal(error.into()),
        }
    }
}

/// Unique violations are handled where they mean something (a reused
/// checkout key); here they, like every other unexpected failure, are
/// internal.
impl From<DbErr> for OrdersError {
    fn from(error: DbErr) -> Self {
        match DbFailure::classify(&error) {
            DbFailure::Conflict => Self::Unavailable(anyhow::Error::new(error).context(Conflict)),
            DbFailure::Unavailable => Self::Unavailable(error.into()),
            DbFailure::UniqueViolation { .. }
            | DbFailure::ForeignKeyViolation { .. }
            | DbFailure::CheckViolation { .. }
            | DbFailure::UndefinedTable
            | DbFailure::Other => Self::Internal(error.into()),
        }
    }
}

impl From<OutboxError> for OrdersError {
    fn from(error: OutboxError) -> Self {
        match error {
            OutboxError::Conflict(_) => {
                Self::Unavailable(anyhow::Error::new(error).context(Conflict))
            }
            OutboxError::Unavailable(_) => Self::Unavailable(error.into()),
            OutboxError::InvalidName { .. }
            | OutboxError::DuplicateEvent { .. }
            | OutboxError::MissingTable { .. }
            | OutboxError::Database(_) => Self::Internal(error.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use ecommerce_platform::grpc::{INTERNAL_MESSAGE, status_of};

    use super::*;

    #[test]
    fn statuses_name_fields_and_hide_internals() {
        let status = status_of(&OrdersError::from(InvalidField::new(
            "order_id",
            "is not a UUID",
        )));
        assert_eq!(status.code(), tonic::Code::InvalidArgument);

        let status = status_of(&OrdersError::Snapshot(SnapshotError::SignatureMismatch));
        assert_eq!(status.code(), tonic::Code::InvalidArgument);

        let status = status_of(&OrdersError::internal(anyhow::anyhow!(
            "pm_card_visa leaked"
        )));
        assert_eq!(status.code(), tonic::Code::Internal);
        assert_eq!(status.message(), INTERNAL_MESSAGE);

        let status = status_of(&OrdersError::from(TransitionError::NotCancelable {
            status: crate::domain::OrderStatus::Shipped,
        }));
        assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    }
}
