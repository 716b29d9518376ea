//! Every way a cart operation can fail, and its error code.

use std::time::Duration;

use ecommerce_checkout::SnapshotError;
use ecommerce_db::{StoreError, TransactionError};
use ecommerce_platform::grpc::{ErrorCode, ServiceError};

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
    /// FAILED_PRECONDITION about one request field (e.g. an idempotency
    /// key already used for another operation).
    #[error("{field}: {reason}")]
    FailedPreconditionOn { field: &'static str, reason: String },
    #[error("{0}")]
    Aborted(String),
    /// RESOURCE_EXHAUSTED, with a `google.rpc.RetryInfo` of `retry_after`.
    #[error("{message}")]
    Throttled {
        message: String,
        retry_after: Duration,
    },
    /// A dependency refused the call; `code` is what its status means to
    /// our caller (`crate::upstream` decides).
    #[error("{service}: {message}")]
    Upstream {
        service: &'static str,
        code: ErrorCode,
        message: String,
    },
    /// A storage failure: retried, and its status, by the one policy.
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0:#}")]
    Internal(#[source] anyhow::Error),
}

impl AppError {
    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        Self::Internal(error.into())
    }
}

impl TransactionError for AppError {
    fn store_error(&self) -> Option<&StoreError> {
        match self {
            Self::Store(error) => Some(error),
            Self::InvalidArgument { .. }
            | Self::Snapshot(_)
            | Self::Unauthenticated(_)
            | Self::PermissionDenied(_)
            | Self::NotFound(_)
            | Self::FailedPrecondition(_)
            | Self::FailedPreconditionOn { .. }
            | Self::Aborted(_)
            | Self::Throttled { .. }
            | Self::Upstream { .. }
            | Self::Internal(_) => None,
        }
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
            Self::FailedPrecondition(_) | Self::FailedPreconditionOn { .. } => {
                ErrorCode::FailedPrecondition
            }
            Self::Aborted(_) => ErrorCode::Aborted,
            Self::Throttled { .. } => ErrorCode::ResourceExhausted,
            Self::Upstream { code, .. } => *code,
            Self::Store(error) => error.code(),
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            Self::InvalidArgument { field, .. } => Some(field),
            Self::FailedPreconditionOn { field, .. } => Some(field),
            Self::Snapshot(error) => ServiceError::field(error),
            Self::Unauthenticated(_)
            | Self::PermissionDenied(_)
            | Self::NotFound(_)
            | Self::FailedPrecondition(_)
            | Self::Aborted(_)
            | Self::Throttled { .. }
            | Self::Upstream { .. }
            | Self::Store(_)
            | Self::Internal(_) => None,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Throttled { retry_after, .. } => Some(*retry_after),
            Self::InvalidArgument { .. }
            | Self::Snapshot(_)
            | Self::Unauthenticated(_)
            | Self::PermissionDenied(_)
            | Self::NotFound(_)
            | Self::FailedPrecondition(_)
            | Self::FailedPreconditionOn { .. }
            | Self::Aborted(_)
            | Self::Upstream { .. }
            | Self::Store(_)
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
            | CartError::Pricing(_)
            | CartError::PricesChanged { .. } => Self::FailedPrecondition(error.to_string()),
            CartError::IdempotencyKeyReused { .. } => Self::FailedPreconditionOn {
                field: "idempotency_key",
                reason: error.to_string(),
            },
            CartError::TooManyAnonymousCarts { retry_after, .. } => Self::Throttled {
                message: error.to_string(),
                retry_after,
            },
        }
    }
}

impl From<SnapshotError> for AppError {
    fn from(error: SnapshotError) -> Self {
        Self::Snapshot(error)
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
            code: ErrorCode::Unavailable,
            message: "down".to_owned(),
        };
        assert_eq!(status_of(&upstream).code(), tonic::Code::Unavailable);
        assert_eq!(upstream.to_string(), "orders: down");
        let reused = AppError::from(CartError::IdempotencyKeyReused {
            key: "key-1".to_owned(),
        });
        assert_eq!(reused.field(), Some("idempotency_key"));
        let status = status_of(&reused);
        assert_eq!(status.code(), tonic::Code::FailedPrecondition);
        assert!(status.message().starts_with("idempotency_key: "));
        assert!(status.message().contains("key-1"));
        let throttled = AppError::from(CartError::TooManyAnonymousCarts {
            limit: 30,
            retry_after: Duration::from_secs(12),
        });
        assert_eq!(throttled.retry_after(), Some(Duration::from_secs(12)));
        let status = status_of(&throttled);
        assert_eq!(status.code(), tonic::Code::ResourceExhausted);
        assert!(status.message().contains("at most 30 a minute"));
        let moved_on = AppError::from(StoreError::conflict("version 3 moved on"));
        assert!(moved_on.is_retryable());
        assert_eq!(status_of(&moved_on).code(), tonic::Code::Aborted);
    }
}
