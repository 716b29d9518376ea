//! Every way an IAM operation can fail, and its gRPC code.

use std::time::Duration;

use ecommerce_db::{StoreError, TransactionError};
use ecommerce_platform::grpc::{ErrorCode, ServiceError};

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
    /// The password hashing gate is full (see `app::hashing`).
    #[error("too many sign-ins in progress, retry shortly")]
    Busy,
    /// A storage failure: retried, and its status, by the one policy. A
    /// taken email or sign-up key is claimed as [`IamError::AlreadyExists`]
    /// before it gets here.
    #[error(transparent)]
    Store(#[from] StoreError),
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
}

impl TransactionError for IamError {
    fn store_error(&self) -> Option<&StoreError> {
        match self {
            Self::Store(error) => Some(error),
            Self::InvalidArgument { .. }
            | Self::Unauthenticated(_)
            | Self::PermissionDenied(_)
            | Self::NotFound(_)
            | Self::AlreadyExists(_)
            | Self::FailedPrecondition(_)
            | Self::Throttled { .. }
            | Self::Busy
            | Self::Internal(_) => None,
        }
    }
}

impl ServiceError for IamError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidArgument { .. } => ErrorCode::InvalidArgument,
            Self::Unauthenticated(_) => ErrorCode::Unauthenticated,
            Self::PermissionDenied(_) => ErrorCode::PermissionDenied,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::AlreadyExists(_) => ErrorCode::AlreadyExists,
            Self::FailedPrecondition(_) => ErrorCode::FailedPrecondition,
            Self::Throttled { .. } | Self::Busy => ErrorCode::ResourceExhausted,
            Self::Store(error) => error.code(),
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            Self::InvalidArgument { field, .. } => Some(field),
            Self::Unauthenticated(_)
            | Self::PermissionDenied(_)
            | Self::NotFound(_)
            | Self::AlreadyExists(_)
            | Self::FailedPrecondition(_)
            | Self::Throttled { .. }
            | Self::Busy
            | Self::Store(_)
            | Self::Internal(_) => None,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Throttled { retry_after } => Some(*retry_after),
            // A hash takes tens of milliseconds: the queue drains fast.
            Self::Busy => Some(Duration::from_secs(1)),
            Self::InvalidArgument { .. }
            | Self::Unauthenticated(_)
            | Self::PermissionDenied(_)
            | Self::NotFound(_)
            | Self::AlreadyExists(_)
            | Self::FailedPrecondition(_)
            | Self::Store(_)
            | Self::Internal(_) => None,
        }
    }
}
