//! Signing (cart-svc) and verifying (orders-svc) a checkout snapshot.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use ecommerce_proto::ecommerce::orders::v1 as pb;
use hmac::Mac as _;
use prost::Message as _;

use crate::digest::SnapshotDigest;
use crate::error::SnapshotError;
use crate::key::{SnapshotKey, SnapshotKeys};
use crate::snapshot::{VerifiedCheckout, parse_snapshot};

/// Length of an HMAC-SHA256 tag.
pub const SIGNATURE_LEN: usize = 32;
/// Largest encoded snapshot accepted: [`crate::MAX_LINES`] lines with long
/// titles fit several times over. Checked before any hashing.
pub const MAX_SNAPSHOT_BYTES: usize = 256 * 1024;
/// How far in the future `issued_at` may be, for clock skew between
/// cart-svc and orders-svc (the access tokens tolerate as much).
pub const MAX_CLOCK_SKEW: Duration = Duration::seconds(30);

/// A snapshot's bytes, exactly as signed, and their HMAC-SHA256.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedSnapshot {
    /// `CheckoutSnapshot::encode_to_vec()`.
    pub bytes: Vec<u8>,
    /// HMAC-SHA256 of `bytes` ([`SIGNATURE_LEN`] bytes).
    pub signature: Vec<u8>,
    /// The snapshot's checkout key, which the request must repeat.
    pub checkout_key: String,
}

impl SignedSnapshot {
    /// The SHA-256 of [`Self::bytes`]: equal for a resent snapshot, unequal
    /// for any other.
    pub fn digest(&self) -> SnapshotDigest {
        SnapshotDigest::of(&self.bytes)
    }

    /// The PlaceOrder request carrying this snapshot.
    pub fn into_place_order_request(self) -> pb::PlaceOrderRequest {
        pb::PlaceOrderRequest {
            snapshot: self.bytes,
            signature: self.signature,
            idempotency_key: self.checkout_key,
        }
    }
}

impl fmt::Debug for SignedSnapshot {
    // The bytes hold the payment method token.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("SignedSnapshot")
            .field("bytes", &format_args!("<{} bytes>", self.bytes.len()))
            .field(
                "signature",
                &format_args!("<{} bytes>", self.signature.len()),
            )
            .field("checkout_key", &self.checkout_key)
            .finish()
    }
}

/// Signs `snapshot` with `key`: HMAC-SHA256 over its protobuf encoding.
///
/// The encoding is prost's, which writes fields in field-number order; the
/// snapshot has no map fields (a test keeps it so), the one place where
/// prost's output order is unspecified. Determinism matters little anyway:
/// orders verifies the bytes it received and only then decodes them, so it
/// never re-encodes. Call [`crate::check_snapshot`] first to refuse
/// what orders would refuse.
pub fn sign(snapshot: &pb::CheckoutSnapshot, key: &SnapshotKey) -> SignedSnapshot {
    let bytes = snapshot.encode_to_vec();
    let mut mac = key.mac();
    mac.update(&bytes);
    SignedSnapshot {
        signature: mac.finalize().into_bytes().to_vec(),
        bytes,
        checkout_key: snapshot.checkout_key.clone(),
    }
}

/// Verifies a PlaceOrder request's snapshot; see [`verify`].
pub fn verify_request(
    request: &pb::PlaceOrderRequest,
    keys: &SnapshotKeys,
    now: DateTime<Utc>,
) -> Result<VerifiedCheckout, SnapshotError> {
    verify(
        &request.snapshot,
        &request.signature,
        &request.idempotency_key,
        keys,
        now,
    )
}

/// Verifies and validates a signed snapshot, in this order:
/// 1. size (before any work) and signature length;
/// 2. the HMAC under each of `keys` (signing key first), each compared in
///    constant time, so nothing is decoded from unauthenticated bytes;
/// 3. decoding;
/// 4. the snapshot's checkout key against the request's
///    `request_checkout_key`;
/// 5. the contents (see [`crate::snapshot`]);
/// 6. `issued_at` no later than `now` + [`MAX_CLOCK_SKEW`];
/// 7. `expires_at` not before `now` — last, so that
///    [`SnapshotError::Expired`] is the only failure left to a genuine
///    snapshot, the one a fresh checkout cures.
pub fn verify(
    snapshot_bytes: &[u8],
    signature: &[u8],
    request_checkout_key: &str,
    keys: &SnapshotKeys,
    now: DateTime<Utc>,
) -> Result<VerifiedCheckout, SnapshotError> {
    if snapshot_bytes.len() > MAX_SNAPSHOT_BYTES {
        return Err(SnapshotError::TooLarge {
            length: snapshot_bytes.len(),
        });
    }
    if signature.len() != SIGNATURE_LEN {
        return Err(SnapshotError::SignatureLength {
            length: signature.len(),
        });
    }
    // Stopping at the first matching key reveals at most which configured
    // key matched, nothing about any key's bytes.
    let authentic = keys.verification_keys().any(|key| {
        let mut mac = key.mac();
        mac.update(snapshot_bytes);
        mac.verify_slice(signature).is_ok()
    });
    if !authentic {
        return Err(SnapshotError::SignatureMismatch);
    }
    let snapshot =
        pb::CheckoutSnapshot::decode(snapshot_bytes).map_err(|error| SnapshotError::Malformed {
            reason: error.to_string(),
        })?;
    if snapshot.checkout_key != request_checkout_key {
        return Err(SnapshotError::CheckoutKeyMismatch);
    }
    let checkout = parse_snapshot(&snapshot)?;
    if checkout.issued_at > now + MAX_CLOCK_SKEW {
        return Err(SnapshotError::IssuedInFuture {
            issued_at: checkout.issued_at,
            now,
        });
    }
    if checkout.expires_at < now {
        return Err(SnapshotError::Expired {
            expires_at: checkout.expires_at,
            now,
        });
    }
    Ok(checkout)
}
