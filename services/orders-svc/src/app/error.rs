//! Every way an orders operation can fail, and its gRPC code.

use ecommerce_checkout::SnapshotError;
use ecommerce_db::{StoreError, TransactionError};
use ecommerce_kernel::InvalidField;
use ecommerce_platform::grpc::{ErrorCode, ServiceError};

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
    /// ALREADY_EXISTS naming `idempotency_key`: PlaceOrder with a checkout
    /// key an order holds, but not that order's checkout (another user's,
    /// or other snapshot bytes).
    #[error(
        "idempotency_key: the checkout key {0:?} was already used for another checkout; check out again with a new key"
    )]
    CheckoutKeyReused(String),
    #[error("{0}")]
    FailedPrecondition(String),
    /// A storage failure: retried, and its status, by the one policy.
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0:#}")]
    Internal(#[source] anyhow::Error),
}

impl OrdersError {
    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        Self::Internal(error.into())
    }
}

impl TransactionError for OrdersError {
    fn store_error(&self) -> Option<&StoreError> {
        match self {
            Self::Store(error) => Some(error),
            Self::InvalidArgument(_)
            | Self::Snapshot(_)
            | Self::PermissionDenied(_)
            | Self::NotFound(_)
            | Self::CheckoutKeyReused(_)
            | Self::FailedPrecondition(_)
            | Self::Internal(_) => None,
        }
    }
}

impl ServiceError for OrdersError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidArgument(_) => ErrorCode::InvalidArgument,
            Self::Snapshot(error) => error.code(),
            Self::PermissionDenied(_) => ErrorCode::PermissionDenied,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::CheckoutKeyReused(_) => ErrorCode::AlreadyExists,
            Self::FailedPrecondition(_) => ErrorCode::FailedPrecondition,
            Self::Store(error) => error.code(),
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            Self::InvalidArgument(invalid) => Some(&invalid.field),
            Self::Snapshot(error) => ServiceError::field(error),
            Self::CheckoutKeyReused(_) => Some("idempotency_key"),
            Self::PermissionDenied(_)
            | Self::NotFound(_)
            | Self::FailedPrecondition(_)
            | Self::Store(_)
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

        let reused = OrdersError::CheckoutKeyReused("checkout-1".to_owned());
        assert_eq!(reused.field(), Some("idempotency_key"));
        let status = status_of(&reused);
        assert_eq!(status.code(), tonic::Code::AlreadyExists);
        assert!(status.message().starts_with("idempotency_key: "));
    }
}
