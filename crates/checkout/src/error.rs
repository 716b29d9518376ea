//! Why a signed checkout snapshot was refused, and the status each reason is.

use chrono::{DateTime, Utc};
use ecommerce_kernel::InvalidField;
use ecommerce_platform::grpc::{ErrorCode, ServiceError};

use crate::signature::{MAX_SNAPSHOT_BYTES, SIGNATURE_LEN};

/// Every way [`verify`](crate::verify) refuses a snapshot, in the order it
/// checks: size, signature, decoding, checkout key, contents, clocks.
///
/// Intended gRPC codes ([`SnapshotError::code`]): every variant is
/// `INVALID_ARGUMENT` (the request is wrong and retrying it cannot help)
/// except [`SnapshotError::Expired`], which is `FAILED_PRECONDITION`: the
/// snapshot was genuine and well-formed, only too old, so checking out again
/// succeeds. Messages never contain the payment method token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// Refused before the HMAC is computed, so an oversized body costs
    /// nothing. Field `snapshot`.
    #[error("snapshot: is {length} bytes; at most {MAX_SNAPSHOT_BYTES} are accepted")]
    TooLarge { length: usize },

    /// Field `signature`; truncated or padded signatures land here.
    #[error("signature: must be {SIGNATURE_LEN} bytes (HMAC-SHA256), got {length}")]
    SignatureLength { length: usize },

    /// The HMAC matches under none of the keys: the snapshot or the signature
    /// was altered, or another key signed it. Field `signature`.
    #[error(
        "signature: does not match the snapshot (altered, or signed with another key); check out again"
    )]
    SignatureMismatch,

    /// Correctly signed bytes that are not a `CheckoutSnapshot`: a cart-svc
    /// bug. Field `snapshot`.
    #[error("snapshot: is not a protobuf CheckoutSnapshot: {reason}")]
    Malformed { reason: String },

    /// The request's `idempotency_key` differs from the snapshot's
    /// `checkout_key`. Field `idempotency_key`.
    #[error("idempotency_key: must equal the checkout key of the signed snapshot")]
    CheckoutKeyMismatch,

    /// A signed snapshot whose contents break a rule (no lines, a quantity
    /// of 0, totals that do not add up, mixed currencies, …). `field` is
    /// its path inside the snapshot, e.g. `snapshot.lines[2].line_total`.
    #[error(transparent)]
    Invalid(InvalidField),

    /// `issued_at` is later than now plus [`crate::MAX_CLOCK_SKEW`]: the
    /// clocks of cart-svc and orders-svc disagree. Field `snapshot.issued_at`.
    #[error(
        "snapshot.issued_at: {issued_at} is in the future (now {now}); the service clocks disagree"
    )]
    IssuedInFuture {
        issued_at: DateTime<Utc>,
        now: DateTime<Utc>,
    },

    /// `expires_at` has passed. Checked last, so this error means the
    /// snapshot is genuine, well-formed and carries the request's checkout
    /// key: PlaceOrder may still answer a retry with the order already
    /// stored under that key. Field `snapshot.expires_at`.
    #[error("snapshot.expires_at: the checkout expired at {expires_at}; check out again")]
    Expired {
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    },
}

impl SnapshotError {
    /// The request field the error is about (`snapshot`, `signature`,
    /// `idempotency_key`, or a path inside the snapshot).
    pub fn field(&self) -> &str {
        match self {
            Self::TooLarge { .. } | Self::Malformed { .. } => "snapshot",
            Self::SignatureLength { .. } | Self::SignatureMismatch => "signature",
            Self::CheckoutKeyMismatch => "idempotency_key",
            Self::Invalid(invalid) => &invalid.field,
            Self::IssuedInFuture { .. } => "snapshot.issued_at",
            Self::Expired { .. } => "snapshot.expires_at",
        }
    }

    /// The status the caller gets (see the type's docs).
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::TooLarge { .. }
            | Self::SignatureLength { .. }
            | Self::SignatureMismatch
            | Self::Malformed { .. }
            | Self::CheckoutKeyMismatch
            | Self::Invalid(_)
            | Self::IssuedInFuture { .. } => ErrorCode::InvalidArgument,
            Self::Expired { .. } => ErrorCode::FailedPrecondition,
        }
    }

    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid(InvalidField::new(field, reason))
    }
}

impl From<InvalidField> for SnapshotError {
    fn from(invalid: InvalidField) -> Self {
        Self::Invalid(invalid)
    }
}

impl ServiceError for SnapshotError {
    fn code(&self) -> ErrorCode {
        SnapshotError::code(self)
    }

    /// `google.rpc.BadRequest` is for invalid arguments only, so an expired
    /// snapshot names no field in the status details (its message does).
    fn field(&self) -> Option<&str> {
        (SnapshotError::code(self) == ErrorCode::InvalidArgument)
            .then(|| SnapshotError::field(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_expiry_is_a_failed_precondition() {
        let now = DateTime::<Utc>::UNIX_EPOCH;
        let table = [
            (SnapshotError::TooLarge { length: 1 }, "snapshot"),
            (SnapshotError::SignatureLength { length: 1 }, "signature"),
            (SnapshotError::SignatureMismatch, "signature"),
            (
                SnapshotError::Malformed {
                    reason: "x".to_owned(),
                },
                "snapshot",
            ),
            (SnapshotError::CheckoutKeyMismatch, "idempotency_key"),
            (
                SnapshotError::invalid("snapshot.lines", "must not be empty"),
                "snapshot.lines",
            ),
            (
                SnapshotError::IssuedInFuture {
                    issued_at: now,
                    now,
                },
                "snapshot.issued_at",
            ),
        ];
        for (error, field) in table {
            assert_eq!(error.code(), ErrorCode::InvalidArgument, "{error}");
            assert_eq!(error.field(), field);
            assert!(error.to_string().starts_with(field), "{error}");
        }
        let expired = SnapshotError::Expired {
            expires_at: now,
            now,
        };
        assert_eq!(expired.code(), ErrorCode::FailedPrecondition);
        assert_eq!(expired.field(), "snapshot.expires_at");
        assert_eq!(ServiceError::field(&expired), None);
        assert_eq!(
            ServiceError::field(&SnapshotError::SignatureMismatch),
            Some("signature")
        );
    }
}
