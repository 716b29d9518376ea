//! What makes a retried checkout the same checkout: the SHA-256 of the
//! snapshot bytes exactly as signed.
//!
//! cart-svc stores the signed bytes of a checkout attempt before it calls
//! PlaceOrder and resends those same bytes on a retry; orders-svc stores
//! this digest with the order, so a replayed checkout key with the same
//! bytes is the same order and one with other bytes is another checkout
//! that reuses the key (ALREADY_EXISTS).

use std::fmt;

use sha2::{Digest as _, Sha256};

/// Length of a [`SnapshotDigest`].
pub const SNAPSHOT_DIGEST_LEN: usize = 32;

/// SHA-256 of a signed snapshot's bytes. Not secret (the bytes it covers
/// are), so it prints as hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SnapshotDigest([u8; SNAPSHOT_DIGEST_LEN]);

impl SnapshotDigest {
    /// The digest of `snapshot_bytes` (a `PlaceOrderRequest.snapshot`).
    pub fn of(snapshot_bytes: &[u8]) -> Self {
        Self(Sha256::digest(snapshot_bytes).into())
    }

    /// A stored digest; `None` unless exactly [`SNAPSHOT_DIGEST_LEN`] bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; SNAPSHOT_DIGEST_LEN]>::try_from(bytes).ok().map(Self)
    }

    pub fn as_bytes(&self) -> &[u8; SNAPSHOT_DIGEST_LEN] {
        &self.0
    }
}

impl fmt::Display for SnapshotDigest {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(formatter, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for SnapshotDigest {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "SnapshotDigest({self})")
    }
}
