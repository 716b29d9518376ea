//! The signed checkout snapshot shared by cart-svc and orders-svc.
//!
//! cart-svc prices a cart, builds an `ecommerce.orders.v1.CheckoutSnapshot`
//! and [`sign`]s it; orders-svc [`verify`]s the bytes it receives in
//! `PlaceOrderRequest` and builds the order from the [`VerifiedCheckout`].
//! The signature is HMAC-SHA256 over the snapshot's protobuf encoding, under
//! a key both services read from `CHECKOUT_SIGNING_KEY` ([`SnapshotKeys`];
//! further keys accepted during a rotation come from
//! `CHECKOUT_VERIFICATION_KEYS`).
//!
//! ```
//! use chrono::Utc;
//! use ecommerce_checkout::{SnapshotKey, SnapshotKeys, sign, verify};
//! # use ecommerce_checkout::{DEFAULT_SNAPSHOT_TTL};
//! # use ecommerce_proto::ecommerce::common::v1::Money;
//! # use ecommerce_proto::ecommerce::orders::v1::{CheckoutLine, CheckoutSnapshot};
//! # let eur = |amount_minor| Some(Money { amount_minor, currency: "EUR".to_owned() });
//! # let now = Utc::now();
//! # let snapshot = CheckoutSnapshot {
//! #     cart_id: "0190e0c6-8a8f-7b3e-9b5e-1a2b3c4d5e6f".to_owned(),
//! #     cart_version: 3,
//! #     user_id: "0190e0c6-8a8f-7b3e-9b5e-1a2b3c4d5e70".to_owned(),
//! #     lines: vec![CheckoutLine {
//! #         sku: "SHOE-42".to_owned(),
//! #         variant_id: "0190e0c6-8a8f-7b3e-9b5e-1a2b3c4d5e71".to_owned(),
//! #         product_id: "0190e0c6-8a8f-7b3e-9b5e-1a2b3c4d5e72".to_owned(),
//! #         title: "Trail shoe".to_owned(),
//! #         quantity: 2,
//! #         unit_price: eur(4_950),
//! #         line_total: eur(9_900),
//! #     }],
//! #     subtotal: eur(9_900),
//! #     shipping_option_id: "0190e0c6-8a8f-7b3e-9b5e-1a2b3c4d5e73".to_owned(),
//! #     shipping_price: eur(500),
//! #     total: eur(10_400),
//! #     currency: "EUR".to_owned(),
//! #     issued_at: Some(ecommerce_proto::timestamp(now)),
//! #     expires_at: Some(ecommerce_proto::timestamp(now + DEFAULT_SNAPSHOT_TTL)),
//! #     payment_method_token: "pm_card_visa".to_owned(),
//! #     checkout_key: "checkout-1".to_owned(),
//! # };
//! let keys = SnapshotKeys::from(SnapshotKey::from_bytes(&[42; 32])?);
//!
//! // cart-svc
//! let signed = sign(&snapshot, keys.signing_key());
//! let request = signed.into_place_order_request();
//!
//! // orders-svc
//! let checkout = verify(
//!     &request.snapshot,
//!     &request.signature,
//!     &request.idempotency_key,
//!     &keys,
//!     Utc::now(),
//! )?;
//! assert_eq!(checkout.total.amount_minor(), 10_400);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A retried checkout is the same checkout: cart-svc resends the bytes it
//! signed first, and orders-svc compares their [`SnapshotDigest`] with the
//! one stored with the order of that checkout key.
//!
//! Every refusal is a [`SnapshotError`] naming the request field
//! (`snapshot`, `signature`, `idempotency_key` or a path inside the
//! snapshot) with its intended status: `INVALID_ARGUMENT`, or
//! `FAILED_PRECONDITION` for an expired snapshot. It implements the
//! platform's `ServiceError`, so a handler can return it as is.

mod digest;
mod error;
mod key;
mod signature;
pub mod snapshot;

pub use digest::{SNAPSHOT_DIGEST_LEN, SnapshotDigest};
pub use error::SnapshotError;
pub use key::{
    CHECKOUT_SIGNING_KEY_VAR, CHECKOUT_VERIFICATION_KEYS_VAR, DEVELOPMENT_SIGNING_KEY, InvalidKey,
    KeyError, MIN_KEY_BYTES, SnapshotKey, SnapshotKeys, encode_key,
};
pub use signature::{
    MAX_CLOCK_SKEW, MAX_SNAPSHOT_BYTES, SIGNATURE_LEN, SignedSnapshot, sign, verify, verify_request,
};
pub use snapshot::{
    CheckoutKey, DEFAULT_SNAPSHOT_TTL, LineItem, MAX_LINES, MAX_SNAPSHOT_LIFETIME,
    PaymentMethodToken, VerifiedCheckout, check_snapshot,
};

#[cfg(test)]
mod tests;
