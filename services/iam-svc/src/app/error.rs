//! Every way an IAM operation can fail, and its gRPC code.

use std::time::Duration;

use ecommerce_db::DbFailure;
use ecommerce_outbox::OutboxError;
use ecommerce_platform::grpc::{ErrorCode, ServiceError};
use sea_orm::DbErr;

/// The one error type of the application layer. Messages are for callers
/// (except [`IamError::Internal`]'s, which stay in the log) and never hold a
/// password, a token or a hash.
#[derive(Debug, thiserror::Error)]
pub enum IamError {
    #[error("{message}")]
    InvalidArgument {
        field: &'static str,
        message: String,
    },
    /// Wrong email or password, an unusable refresh token, an ended session.
    /// One message per situation, the same whether or not the account exists.
    #[error("{0}")]
    Unauthenticated(&'static str),
    #[error("{0}")]
    PermissionDenied(&'static str),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(&'static str),
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("too many failed sign-ins; retry in {} s", retry_after.as_secs().max(1))]
    Throttled { retry_after: Duration },
    #[error("a dependency is unavailable; retry later")]
    Unavailable(#[source] anyhow::Error),
    #[error("{0:#}")]
    Internal(#[source] anyhow::Error),
}

impl IamError {
    pub fn invalid(field: &'static str, message: impl std::fmt::Display) -> Self {
        Self::InvalidArgument {
            field,
            message: message.to_string(),
        }
    }

    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        Self::Internal(error.into())
    }

    /// Whether the whole transaction may be run again.
    pub(crate) fn is_retryable_conflict(&self) -> bool {
        matches!(self, Self::Unavailable(error) if error.downcast_ref::<Conflict>().is_some())
    }
}

/// Marks a serialization failure or deadlock inside [`IamError::Unavailable`].
#[derive(Debug, thiserror::Error)]
#[error("transaction conflict")]
pub(crate) struct Conflict;

impl ServiceError for IamError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidArgument { .. } => ErrorCode::InvalidArgument,
            Self::Unauthenticated(_) => ErrorCode::Unauthenticated,
            Self::PermissionDenied(_) => ErrorCode::PermissionDenied,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::AlreadyExists(_) => ErrorCode::AlreadyExists,
            Self::FailedPrecondition(_) => ErrorCode::FailedPrecondition,
            Self::Throttled { .. } => ErrorCode::ResourceExhausted,
            Self::Unavailable(_) => ErrorCode::Unavailable,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            Self::InvalidArgument { field, .. } => Some(field),
            _ => None,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Throttled { retry_after } => Some(*retry_after),
            _ => None,
        }
    }
}

/// Unique violations are handled where they mean something (a taken email);
/// here they, like every other unexpected failure, are internal.
impl From<DbErr> for IamError {
    fn from(error: DbErr) -> Self {
        let failure = DbFailure::classify(&error);
        match failure {
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

impl From<OutboxError> for IamError {
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
