//! The errors of the payment rules, and the kind each one is.
//!
//! [`ErrorKind`] is what a caller needs to react; the gRPC layer maps it to
//! a status code in one exhaustive `match`, and an event consumer maps
//! [`PaymentError::is_retryable`] to a requeued (transient) or a
//! dead-lettered (permanent) message.
//!
//! Repeated or superseded inputs are not errors: they are
//! `PaymentOutcome::Ignored`, because the consumer must still record the
//! message as processed.

use crate::domain::model::{OrderId, PaymentId, PaymentStatus};
use crate::domain::provider::ProviderOperation;
use crate::domain::state_machine::PaymentTrigger;

// The validation errors every service shares, so a gRPC conversion names
// the field the same way whichever domain refused the value.
pub use ecommerce_kernel::{InvalidField, InvalidValue};

/// What kind of failure an error is, as far as a caller is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidArgument,
    NotFound,
    FailedPrecondition,
    /// Try again later: the provider is down, or the event that records the
    /// payment has not been processed yet.
    Unavailable,
    /// Stored state contradicts the rules; a bug.
    Internal,
}

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
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::InvalidArgument(_) => ErrorKind::InvalidArgument,
            Self::NotFound { .. } => ErrorKind::NotFound,
            Self::NotCapturable { .. }
            | Self::Contradiction { .. }
            | Self::ProviderRefused { .. } => ErrorKind::FailedPrecondition,
            Self::IntentNotRecorded { .. } | Self::ProviderUnavailable { .. } => {
                ErrorKind::Unavailable
            }
            Self::Inconsistent(_) => ErrorKind::Internal,
        }
    }

    /// Whether handling the same input again later may succeed.
    pub fn is_retryable(&self) -> bool {
        self.kind() == ErrorKind::Unavailable
    }

    pub(crate) fn inconsistent(message: impl Into<String>) -> Self {
        Self::Inconsistent(message.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_retries_follow_the_variant() {
        let order_id = OrderId::generate();
        let payment_id = PaymentId::generate();
        let cases = [
            (
                PaymentError::from(
                    InvalidValue::new("must not be empty").at("payment_method_token"),
                ),
                ErrorKind::InvalidArgument,
            ),
            (
                PaymentError::IntentNotRecorded { order_id },
                ErrorKind::Unavailable,
            ),
            (PaymentError::NotFound { order_id }, ErrorKind::NotFound),
            (
                PaymentError::NotCapturable {
                    payment_id,
                    status: PaymentStatus::Pending,
                },
                ErrorKind::FailedPrecondition,
            ),
            (
                PaymentError::Contradiction {
                    payment_id,
                    status: PaymentStatus::Voided,
                    trigger: PaymentTrigger::ShipmentShipped,
                },
                ErrorKind::FailedPrecondition,
            ),
            (
                PaymentError::ProviderUnavailable {
                    operation: ProviderOperation::Authorize,
                    message: "timeout".to_owned(),
                },
                ErrorKind::Unavailable,
            ),
            (
                PaymentError::ProviderRefused {
                    payment_id,
                    operation: ProviderOperation::Capture,
                    code: "authorization_expired".to_owned(),
                },
                ErrorKind::FailedPrecondition,
            ),
            (PaymentError::inconsistent("bug"), ErrorKind::Internal),
        ];
        for (error, kind) in cases {
            assert_eq!(error.kind(), kind, "{error}");
            assert_eq!(
                error.is_retryable(),
                kind == ErrorKind::Unavailable,
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
                "payment {payment_id} is VOIDED: fulfillment.shipment.shipped.v1 contradicts it and needs an operator"
            )
        );
    }
}
