//! The errors of the payment rules, and the code each one has.
//!
//! [`PaymentError::code`] is what a caller needs to react (the shared
//! [`ErrorCode`], which the platform maps to a gRPC status in one table),
//! and an event consumer maps [`PaymentError::is_retryable`] to a requeued
//! (transient) or a dead-lettered (permanent) message.
//!
//! Repeated or superseded inputs are not errors: they are
//! `PaymentOutcome::Ignored`, because the consumer must still record the
//! message as processed.

use ecommerce_kernel::ErrorCode;

use crate::domain::model::{OrderId, PaymentId, PaymentStatus};
use crate::domain::provider::ProviderOperation;
use crate::domain::state_machine::PaymentTrigger;

// The validation errors every service shares, so a gRPC conversion names
// the field the same way whichever domain refused the value.
pub use ecommerce_kernel::{InvalidField, InvalidValue};

/// Every way a payment rule can refuse to act.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    #[error(transparent)]
    InvalidArgument(#[from] InvalidField),

    /// An event about an order whose `orders.order_placed.v1` payments has
    /// not processed yet. The two arrive on different queues, so this
    /// happens; the consumer requeues and the intent is there next time.
    #[error("no payment intent is recorded for order {order_id} yet")]
    IntentNotRecorded { order_id: OrderId },

    /// CapturePayment for an order without a payment.
    #[error("no payment exists for order {order_id}")]
    NotFound { order_id: OrderId },

    /// CapturePayment on a payment that is not AUTHORIZED (nor CAPTURED,
    /// which answers unchanged).
    #[error("payment {payment_id} is {status}: only an AUTHORIZED payment can be captured")]
    NotCapturable {
        payment_id: PaymentId,
        status: PaymentStatus,
    },

    /// An event that a correct saga never delivers in this state, and that
    /// no retry fixes: a shipment shipped for a payment that was never
    /// authorized, or voided; an order canceled after its payment was
    /// captured (a refund, which is out of scope). Dead-lettered so an
    /// operator sees it, never dropped silently.
    #[error("payment {payment_id} is {status}: {trigger} contradicts it and needs an operator")]
    Contradiction {
        payment_id: PaymentId,
        status: PaymentStatus,
        trigger: PaymentTrigger,
    },

    /// The provider could not be reached or answered with an error; the
    /// same call (same idempotency key) may succeed later.
    #[error("the payment provider is unavailable for {operation}: {message}")]
    ProviderUnavailable {
        operation: ProviderOperation,
        message: String,
    },

    /// The provider refused a capture or a void of an authorization it
    /// granted (e.g. the hold lapsed). Nothing retries that.
    #[error("the payment provider refused to {operation} payment {payment_id}: {code}")]
    ProviderRefused {
        payment_id: PaymentId,
        operation: ProviderOperation,
        code: String,
    },

    /// Stored or supplied state contradicts the rules (details for the log).
    #[error("payment state is inconsistent: {0}")]
    Inconsistent(String),
}

impl PaymentError {
    /// UNAVAILABLE means try again later: the provider is down, or the
    /// event that records the payment has not been processed yet.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidArgument(_) => ErrorCode::InvalidArgument,
            Self::NotFound { .. } => ErrorCode::NotFound,
            Self::NotCapturable { .. }
            | Self::Contradiction { .. }
            | Self::ProviderRefused { .. } => ErrorCode::FailedPrecondition,
            Self::IntentNotRecorded { .. } | Self::ProviderUnavailable { .. } => {
                ErrorCode::Unavailable
            }
            Self::Inconsistent(_) => ErrorCode::Internal,
        }
    }

    /// Whether handling the same input again later may succeed.
    pub fn is_retryable(&self) -> bool {
        self.code() == ErrorCode::Unavailable
    }

    pub(crate) fn inconsistent(message: impl Into<String>) -> Self {
        Self::Inconsistent(message.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_retries_follow_the_variant() {
        let order_id = OrderId::generate();
        let payment_id = PaymentId::generate();
        let cases = [
            (
                PaymentError::from(
                    InvalidValue::new("must not be empty").at("payment_method_token"),
                ),
                ErrorCode::InvalidArgument,
            ),
            (
                PaymentError::IntentNotRecorded { order_id },
                ErrorCode::Unavailable,
            ),
            (PaymentError::NotFound { order_id }, ErrorCode::NotFound),
            (
                PaymentError::NotCapturable {
                    payment_id,
                    status: PaymentStatus::Pending,
                },
                ErrorCode::FailedPrecondition,
            ),
            (
                PaymentError::Contradiction {
                    payment_id,
                    status: PaymentStatus::Voided,
                    trigger: PaymentTrigger::ShipmentShipped,
                },
                ErrorCode::FailedPrecondition,
            ),
            (
                PaymentError::ProviderUnavailable {
                    operation: ProviderOperation::Authorize,
                    message: "timeout".to_owned(),
                },
                ErrorCode::Unavailable,
            ),
            (
                PaymentError::ProviderRefused {
                    payment_id,
                    operation: ProviderOperation::Capture,
                    code: "authorization_expired".to_owned(),
                },
                ErrorCode::FailedPrecondition,
            ),
            (PaymentError::inconsistent("bug"), ErrorCode::Internal),
        ];
        for (error, code) in cases {
            assert_eq!(error.code(), code, "{error}");
            assert_eq!(
                error.is_retryable(),
                code == ErrorCode::Unavailable,
                "{error}"
            );
        }
        let contradiction = PaymentError::Contradiction {
            payment_id,
            status: PaymentStatus::Voided,
            trigger: PaymentTrigger::ShipmentShipped,
        };
        assert_eq!(
            contradiction.to_string(),
            format!(
                "payment {payment_id} is VOIDED: shipment shipped contradicts it and needs an operator"
            )
        );
    }
}
