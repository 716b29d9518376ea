//! The one table from service errors to gRPC statuses.
//!
//! Each service's error type says which [`ErrorCode`] it is (an exhaustive
//! `match`, so a new variant forces a decision) and
//! [`ServiceError::into_status`] turns it into the `tonic::Status` callers
//! see: the message for the caller, a `google.rpc.BadRequest` naming the
//! field for invalid arguments, a `google.rpc.RetryInfo` for throttling, and
//! for internal errors a generic message, the details going to the log only.

use crate::error_chain;
use std::time::Duration;

use tonic_types::{ErrorDetails, StatusExt as _};

pub use ecommerce_kernel::ErrorCode;

/// The one table from [`ErrorCode`] to the gRPC code callers see.
pub const fn grpc_code(code: ErrorCode) -> tonic::Code {
    match code {
        ErrorCode::InvalidArgument => tonic::Code::InvalidArgument,
        ErrorCode::NotFound => tonic::Code::NotFound,
        ErrorCode::AlreadyExists => tonic::Code::AlreadyExists,
        ErrorCode::FailedPrecondition => tonic::Code::FailedPrecondition,
        ErrorCode::Aborted => tonic::Code::Aborted,
        ErrorCode::Unauthenticated => tonic::Code::Unauthenticated,
        ErrorCode::PermissionDenied => tonic::Code::PermissionDenied,
        ErrorCode::ResourceExhausted => tonic::Code::ResourceExhausted,
        ErrorCode::Unavailable => tonic::Code::Unavailable,
        ErrorCode::Internal => tonic::Code::Internal,
    }
}

/// The message internal errors are replaced with.
pub const INTERNAL_MESSAGE: &str = "internal error; see the service log";

/// An error a gRPC handler can return. Its `Display` is the message the
/// caller reads (for every code but [`ErrorCode::Internal`]), so it must
/// never hold a secret.
pub trait ServiceError: std::error::Error {
    fn code(&self) -> ErrorCode;

    /// The request field an [`ErrorCode::InvalidArgument`] is about.
    fn field(&self) -> Option<&str> {
        None
    }

    /// How long to wait before retrying an [`ErrorCode::ResourceExhausted`].
    fn retry_after(&self) -> Option<Duration> {
        None
    }

    /// The status for the caller; internal errors are logged here, with
    /// their whole source chain, and replaced by [`INTERNAL_MESSAGE`].
    fn into_status(self) -> tonic::Status
    where
        Self: Sized,
    {
        status_of(&self)
    }
}

/// See [`ServiceError::into_status`].
pub fn status_of<E: ServiceError + ?Sized>(error: &E) -> tonic::Status {
    let code = error.code();
    if code == ErrorCode::Internal {
        tracing::error!(error = %error_chain(error), "internal error");
        return tonic::Status::new(grpc_code(code), INTERNAL_MESSAGE);
    }
    let message = error.to_string();
    let mut details = ErrorDetails::new();
    if let Some(field) = error.field() {
        details.add_bad_request_violation(field, message.clone());
    }
    if let Some(retry_after) = error.retry_after() {
        details.set_retry_info(Some(retry_after));
    }
    tonic::Status::with_error_details(grpc_code(code), message, details)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[derive(Debug, thiserror::Error)]
    enum ExampleError {
        #[error("title must not be empty")]
        EmptyTitle,
        #[error("too many attempts; retry later")]
        Throttled,
        #[error("database password=hunter2 refused")]
        Database,
    }

    impl ServiceError for ExampleError {
        fn code(&self) -> ErrorCode {
            match self {
                Self::EmptyTitle => ErrorCode::InvalidArgument,
                Self::Throttled => ErrorCode::ResourceExhausted,
                Self::Database => ErrorCode::Internal,
            }
        }

        fn field(&self) -> Option<&str> {
            matches!(self, Self::EmptyTitle).then_some("title")
        }

        fn retry_after(&self) -> Option<Duration> {
            matches!(self, Self::Throttled).then_some(Duration::from_secs(42))
        }
    }

    #[test]
    fn invalid_arguments_name_their_field_in_a_bad_request() {
        let status = ExampleError::EmptyTitle.into_status();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert_eq!(status.message(), "title must not be empty");
        let details = status.get_error_details();
        let violations = &details.bad_request().unwrap().field_violations;
        assert_eq!(violations[0].field, "title");
    }

    #[test]
    fn throttling_carries_retry_info() {
        let status = ExampleError::Throttled.into_status();
        assert_eq!(status.code(), tonic::Code::ResourceExhausted);
        let retry = status.get_error_details().retry_info().cloned().unwrap();
        assert_eq!(retry.retry_delay, Some(Duration::from_secs(42)));
    }

    #[test]
    fn internal_details_never_leave_the_process() {
        let status = ExampleError::Database.into_status();
        assert_eq!(status.code(), tonic::Code::Internal);
        assert_eq!(status.message(), INTERNAL_MESSAGE);
        assert!(!format!("{status:?}").contains("hunter2"));
    }
}
