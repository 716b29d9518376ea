//! Every way a payments operation can fail, and its gRPC code.

use ecommerce_db::{StoreError, TransactionError};
use ecommerce_kernel::InvalidField;
use ecommerce_platform::grpc::{ErrorCode, ServiceError};

use crate::domain::PaymentError;

/// The one error type of the application layer. Messages are for callers
/// (except [`PaymentsError::Internal`]'s, which stay in the log) and never
/// hold a payment method token.
#[derive(Debug, thiserror::Error)]
pub enum PaymentsError {
    #[error("{0}")]
    InvalidArgument(InvalidField),
    /// A payment rule refused; [`PaymentError::code`] says the code.
    #[error(transparent)]
    Payment(PaymentError),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    NotFound(String),
    /// A storage failure: retried, and its status, by the one policy.
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0:#}")]
    Internal(#[source] anyhow::Error),
}

impl PaymentsError {
    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        Self::Internal(error.into())
    }
}

/// Only storage failures are retried: a provider the domain calls
/// unavailable is answered UNAVAILABLE at once rather than called again
/// under the row lock.
impl TransactionError for PaymentsError {
    fn store_error(&self) -> Option<&StoreError> {
        match self {
            Self::Store(error) => Some(error),
            Self::InvalidArgument(_)
            | Self::Payment(_)
            | Self::PermissionDenied(_)
            | Self::NotFound(_)
            | Self::Internal(_) => None,
        }
    }
}

impl ServiceError for PaymentsError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidArgument(_) => ErrorCode::InvalidArgument,
            Self::Payment(error) => error.code(),
            Self::PermissionDenied(_) => ErrorCode::PermissionDenied,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Store(error) => error.code(),
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            Self::InvalidArgument(invalid) => Some(&invalid.field),
            Self::Payment(PaymentError::InvalidArgument(invalid)) => Some(&invalid.field),
            Self::Payment(_)
            | Self::PermissionDenied(_)
            | Self::NotFound(_)
            | Self::Store(_)
            | Self::Internal(_) => None,
        }
    }
}

impl From<InvalidField> for PaymentsError {
    fn from(invalid: InvalidField) -> Self {
        Self::InvalidArgument(invalid)
    }
}

impl From<PaymentError> for PaymentsError {
    fn from(error: PaymentError) -> Self {
        Self::Payment(error)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use ecommerce_platform::grpc::{INTERNAL_MESSAGE, status_of};

    use super::*;
    use crate::domain::{OrderId, PaymentId, PaymentStatus, ProviderOperation};

    #[test]
    fn statuses_follow_the_domain_code_and_hide_internals() {
        let status = status_of(&PaymentsError::from(InvalidField::new(
            "payment_id",
            "is not a UUID",
        )));
        assert_eq!(status.code(), tonic::Code::InvalidArgument);

        let status = status_of(&PaymentsError::from(PaymentError::NotCapturable {
            payment_id: PaymentId::generate(),
            status: PaymentStatus::Pending,
        }));
        assert_eq!(status.code(), tonic::Code::FailedPrecondition);

        let status = status_of(&PaymentsError::from(PaymentError::ProviderUnavailable {
            operation: ProviderOperation::Capture,
            message: "timeout".to_owned(),
        }));
        assert_eq!(status.code(), tonic::Code::Unavailable);

        let status = status_of(&PaymentsError::from(PaymentError::NotFound {
            order_id: OrderId::generate(),
        }));
        assert_eq!(status.code(), tonic::Code::NotFound);

        let status = status_of(&PaymentsError::internal(anyhow::anyhow!(
            "pm_card_visa leaked"
        )));
        assert_eq!(status.code(), tonic::Code::Internal);
        assert_eq!(status.message(), INTERNAL_MESSAGE);
    }
}
