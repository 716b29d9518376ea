//! Every way a cart operation can fail, and its gRPC code.

use ecommerce_checkout::SnapshotError;
use ecommerce_db::DbFailure;
use ecommerce_platform::grpc::{ErrorCode, ServiceError};
use sea_orm::DbErr;

use crate::domain::CartError;

/// The one error type of the application layer. Messages are for callers
/// (except [`AppError::Internal`]'s, which stay in the log).
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{field}: {reason}")]
    InvalidArgument { field: String, reason: String },
    #[error(transparent)]
    Snapshot(SnapshotError),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("{0}")]
    Aborted(String),
    /// A dependency refused the call with this status; its own code is kept
    /// when it means something to the caller.
    #[error("{service}: {}", status.message())]
    Upstream {
        service: &'static str,
        status: tonic::Status,
    },
    #[error("a dependency is unavailable; retry later")]
    Unavailable(#[source] anyhow::Error),
    #[error("{0:#}")]
    Internal(#[source] anyhow::Error),
}

/// Marks a serialization failure, deadlock or lost race inside [`AppError::Unavailable`].
#[derive(Debug, thiserror::Error)]
#[error("transaction conflict")]
pub(crate) struct Conflict;

impl AppError {
    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        Self::Internal(error.into())
    }

    /// Whether the whole transaction may be run again.
    pub(crate) fn is_retryable_conflict(&self) -> bool {
        matches!(self, Self::Unavailable(error) if error.downcast_ref::<Conflict>().is_some())
    }

    pub(crate) fn conflict(error: impl Into<anyhow::Error>) -> Self {
        Self::Unavailable(error.into().context(Conflict))
    }
}

fn upstream_code(code: tonic::Code) -> ErrorCode {
    match code {
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => {
            ErrorCode::Unavailable
        }
        tonic::Code::Unauthenticated => ErrorCode::Unauthenticated,
        tonic::Code::PermissionDenied => ErrorCode::PermissionDenied,
        tonic::Code::FailedPrecondition => ErrorCode::FailedPrecondition,
        tonic::Code::AlreadyExists => ErrorCode::AlreadyExists,
        tonic::Code::Aborted => ErrorCode::Aborted,
        tonic::Code::ResourceExhausted => ErrorCode::ResourceExhausted,
        // What we sent was wrong, or the dependency broke: our problem.
        tonic::Code::Ok
        | tonic::Code::InvalidArgument
        | tonic::Code::NotFound
        | tonic::Code::OutOfRange
        | tonic::Code::Unimplemented
        | tonic::Code::Internal
        | tonic::Code::DataLoss
        | tonic::Code::Unknown => ErrorCode::Internal,
    }
}

impl ServiceError for AppError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidArgument { .. } => ErrorCode::InvalidArgument,
            Self::Snapshot(error) => error.code(),
            Self::Unauthenticated(_) => ErrorCode::Unauthenticated,
            Self::PermissionDenied(_) => ErrorCode::PermissionDenied,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::FailedPrecondition(_) => ErrorCode::FailedPrecondition,
            Self::Aborted(_) => ErrorCode::Aborted,
            Self::Upstream { status, .. } => upstream_code(status.code()),
            Self::Unavailable(_) => ErrorCode::Unavailable,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            Self::InvalidArgument { field, .. } => Some(field),
            Self::Snapshot(error) => ServiceError::field(error),
            Self::Unauthenticated(_)
            | Self::PermissionDenied(_)
            | Self::NotFound(_)
            | Self::FailedPrecondition(_)
            | Self::Aborted(_)
            | Self::Upstream { .. }
            | Self::Unavailable(_)
            | Self::Internal(_) => None,
        }
    }
}

impl From<CartError> for AppError {
    fn from(error: CartError) -> Self {
        match error {
            CartError::Invalid { field, reason } => Self::InvalidArgument {
                field: field.to_owned(),
                reason,
            },
            CartError::StaleVersion { .. } => Self::Aborted(error.to_string()),
            CartError::LineNotFound { .. } => Self::NotFound(error.to_string()),
            CartError::LimitExceeded(_)
            | CartError::UnavailableLines { .. }
            | CartError::Empty
            | CartError::Pricing(_) => Self::FailedPrecondition(error.to_string()),
        }
    }
}

impl From<SnapshotError> for AppError {
    fn from(error: SnapshotError) -> Self {
        Self::Snapshot(error)
    }
}

/// A lost race (a unique key or a version taken meanwhile) is retried: the
/// next attempt reads what the winner wrote.
impl From<DbErr> for AppError {
    fn from(error: DbErr) -> Self {
        if matches!(error, DbErr::RecordNotUpdated) {
            return Self::conflict(error);
        }
        match DbFailure::classify(&error) {
            DbFailure::Conflict | DbFailure::UniqueViolation { .. } => Self::conflict(error),
            DbFailure::Unavailable => Self::Unavailable(error.into()),
            DbFailure::ForeignKeyViolation { .. }
            | DbFailure::CheckViolation { .. }
            | DbFailure::UndefinedTable
            | DbFailure::Other => Self::Internal(error.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use ecommerce_platform::grpc::{INTERNAL_MESSAGE, status_of};

    use super::*;

    #[test]
    fn statuses_follow_the_table() {
        let stale = AppError::from(CartError::StaleVersion {
            expected: 1,
            actual: 2,
        });
        assert_eq!(status_of(&stale).code(), tonic::Code::Aborted);
        let unavailable = AppError::from(CartError::UnavailableLines {
            skus: vec!["A".to_owned()],
        });
        assert_eq!(
            status_of(&unavailable).code(),
            tonic::Code::FailedPrecondition
        );
        let invalid = AppError::from(CartError::Invalid {
            field: "sku",
            reason: "is required".to_owned(),
        });
        assert_eq!(status_of(&invalid).code(), tonic::Code::InvalidArgument);
        let internal = AppError::internal(anyhow::anyhow!("secret detail"));
        assert_eq!(status_of(&internal).message(), INTERNAL_MESSAGE);
        let upstream = AppError::Upstream {
            service: "orders",
            status: tonic::Status::unavailable("down"),
        };
        assert_eq!(status_of(&upstream).code(), tonic::Code::Unavailable);
        assert!(AppError::from(DbErr::RecordNotUpdated).is_retryable_conflict());
    }
}
