//! The checkout snapshot: a priced cart frozen into what orders builds the
//! order from. Its wire form and signature belong to the orders adapter
//! (`crate::upstream`), which also runs `ecommerce_checkout`'s structural
//! checks before signing.
//!
//! A retried checkout is the same checkout: a [`CheckoutAttempt`] is stored
//! with the exact signed bytes before orders is called, under the shopper's
//! idempotency key, and a retry of the same cart resends those bytes
//! ([`CheckoutAttempt::replay`]) instead of pricing and signing again.

use std::fmt;

use chrono::{DateTime, Utc};
use ecommerce_checkout::snapshot::MAX_CHECKOUT_KEY_LEN;
use ecommerce_checkout::{DEFAULT_SNAPSHOT_TTL, SignedSnapshot};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use crate::domain::{Cart, CartError, CartId, PricedCart, Quantity, Redacted, Sku};

/// Longest `CheckoutRequest.payment_method_token`, in bytes (printable
/// ASCII): providers' tokens are a few dozen characters; the snapshot
/// carries it to orders and payments, so it stays small.
pub const MAX_PAYMENT_METHOD_TOKEN_LEN: usize = 255;

/// One priced line of a snapshot; amounts in the snapshot's currency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotLine {
    pub sku: Sku,
    pub variant_id: Uuid,
    pub product_id: Uuid,
    pub title: String,
    pub quantity: Quantity,
    pub unit_price_minor: i64,
    /// `unit_price_minor × quantity`.
    pub line_total_minor: i64,
}

/// What the shopper checks out: the priced cart, the shipping option and
/// its price, the payment method, for [`DEFAULT_SNAPSHOT_TTL`]. Its
/// `Debug` hides the payment method token.
#[derive(Clone, PartialEq, Eq)]
pub struct CheckoutSnapshot {
    pub cart_id: CartId,
    pub cart_version: i64,
    pub user_id: Uuid,
    pub lines: Vec<SnapshotLine>,
    /// Σ `line_total_minor`.
    pub subtotal_minor: i64,
    pub shipping_option_id: Uuid,
    pub shipping_price_minor: i64,
    /// `subtotal_minor + shipping_price_minor`.
    pub total_minor: i64,
    /// The ISO 4217 code of every amount above.
    pub currency: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub payment_method_token: String,
    pub checkout_key: String,
}

impl fmt::Debug for CheckoutSnapshot {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Destructured so a new field cannot be left out (or leak) silently.
        let Self {
            cart_id,
            cart_version,
            user_id,
            lines,
            subtotal_minor,
            shipping_option_id,
            shipping_price_minor,
            total_minor,
            currency,
            issued_at,
            expires_at,
            payment_method_token: _,
            checkout_key,
        } = self;
        formatter
            .debug_struct("CheckoutSnapshot")
            .field("cart_id", cart_id)
            .field("cart_version", cart_version)
            .field("user_id", user_id)
            .field("lines", lines)
            .field("subtotal_minor", subtotal_minor)
            .field("shipping_option_id", shipping_option_id)
            .field("shipping_price_minor", shipping_price_minor)
            .field("total_minor", total_minor)
            .field("currency", currency)
            .field("issued_at", issued_at)
            .field("expires_at", expires_at)
            .field("payment_method_token", &Redacted)
            .field("checkout_key", checkout_key)
            .finish()
    }
}

impl CheckoutSnapshot {
    /// `priced` at `issued_at`, for `user_id`: every line available and
    /// priced (FAILED_PRECONDITION otherwise), the total without overflow.
    pub fn of(
        priced: &PricedCart,
        user_id: Uuid,
        shipping_option_id: Uuid,
        shipping_price_minor: i64,
        payment_method_token: String,
        checkout_key: String,
        issued_at: DateTime<Utc>,
    ) -> Result<Self, CartError> {
        let mut lines = Vec::with_capacity(priced.lines.len());
        for line in priced.checkout_lines()? {
            let (Some(unit_price_minor), Some(line_total_minor)) =
                (line.unit_price_minor, line.line_total_minor)
            else {
                return Err(CartError::UnavailableLines {
                    skus: vec![line.line.sku.as_str().to_owned()],
                });
            };
            lines.push(SnapshotLine {
                sku: line.line.sku.clone(),
                variant_id: line.line.variant_id,
                product_id: line.line.product_id,
                title: line.line.title.clone(),
                quantity: line.line.quantity,
                unit_price_minor,
                line_total_minor,
            });
        }
        let total_minor = priced
            .subtotal_minor
            .checked_add(shipping_price_minor)
            .ok_or_else(|| CartError::Pricing("the total overflows".to_owned()))?;
        Ok(Self {
            cart_id: priced.cart.id,
            cart_version: priced.cart.version,
            user_id,
            lines,
            subtotal_minor: priced.subtotal_minor,
            shipping_option_id,
            shipping_price_minor,
            total_minor,
            currency: priced.cart.currency.clone(),
            issued_at,
            expires_at: issued_at + DEFAULT_SNAPSHOT_TTL,
            payment_method_token,
            checkout_key,
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The checkout key orders stores for `user_id`'s checkout under the
/// shopper's `idempotency_key`: the key scoped to the user, so the same
/// key from two shoppers is two checkouts at orders too. A key too long to
/// carry whole is carried as its SHA-256.
pub fn scoped_checkout_key(user_id: Uuid, idempotency_key: &str) -> String {
    let scoped = format!("{user_id}:{idempotency_key}");
    if scoped.len() <= MAX_CHECKOUT_KEY_LEN {
        return scoped;
    }
    format!(
        "{user_id}:sha256:{}",
        hex(&Sha256::digest(idempotency_key.as_bytes()))
    )
}

/// The SHA-256 of what a checkout covers: the cart, its lines (SKU and
/// quantity, in SKU order) and the shipping option. Prices are left out:
/// a retry must not depend on what catalog says now. So is the payment
/// method token: a retry's token is ignored, the first one stands.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CheckoutContent([u8; 32]);

impl CheckoutContent {
    pub fn of(cart: &Cart, shipping_option_id: Uuid) -> Self {
        let mut lines: Vec<(&str, i32)> = cart
            .lines
            .iter()
            .map(|line| (line.sku.as_str(), line.quantity.get()))
            .collect();
        lines.sort_unstable();
        let mut hasher = Sha256::new();
        hasher.update(cart.id.as_uuid().as_bytes());
        hasher.update(shipping_option_id.as_bytes());
        for (sku, quantity) in lines {
            // Length-prefixed, so no two line lists encode alike.
            hasher.update((sku.len() as u64).to_be_bytes());
            hasher.update(sku.as_bytes());
            hasher.update(quantity.to_be_bytes());
        }
        Self(hasher.finalize().into())
    }

    /// A stored digest; `None` unless 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(Self)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for CheckoutContent {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "CheckoutContent({})", hex(&self.0))
    }
}

/// One line a checkout orders: what it takes out of the cart once placed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderedLine {
    pub sku: Sku,
    pub quantity: Quantity,
}

/// Where a checkout attempt stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptState {
    /// Signed and stored, not known to be placed: a retry resends exactly
    /// these bytes (its `Debug` hides them: they hold the payment token).
    Pending {
        signed: SignedSnapshot,
        expires_at: DateTime<Utc>,
    },
    /// Orders answered with this order.
    Placed { order_id: Uuid, order_status: i32 },
}

/// A Checkout under one shopper's idempotency key, stored before orders
/// is called.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckoutAttempt {
    pub user_id: Uuid,
    /// The shopper's key (or the cart's default one).
    pub idempotency_key: String,
    /// The key orders stores ([`scoped_checkout_key`]).
    pub checkout_key: String,
    pub cart_id: CartId,
    pub cart_version: i64,
    /// `None` only for checkouts recorded before attempts were stored.
    pub content: Option<CheckoutContent>,
    pub ordered_lines: Vec<OrderedLine>,
    pub state: AttemptState,
}

/// What a Checkout with a stored attempt's key does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Replay<'a> {
    /// Answer with the order already placed.
    Placed { order_id: Uuid, order_status: i32 },
    /// Send these bytes to orders (again).
    Resend(&'a SignedSnapshot),
}

impl CheckoutAttempt {
    /// The attempt of `snapshot`, signed as `signed`, under the shopper's
    /// `idempotency_key` for a cart of `content`.
    pub fn new(
        snapshot: &CheckoutSnapshot,
        idempotency_key: String,
        content: CheckoutContent,
        signed: SignedSnapshot,
    ) -> Self {
        Self {
            user_id: snapshot.user_id,
            idempotency_key,
            checkout_key: snapshot.checkout_key.clone(),
            cart_id: snapshot.cart_id,
            cart_version: snapshot.cart_version,
            content: Some(content),
            ordered_lines: snapshot
                .lines
                .iter()
                .map(|line| OrderedLine {
                    sku: line.sku.clone(),
                    quantity: line.quantity,
                })
                .collect(),
            state: AttemptState::Pending {
                signed,
                expires_at: snapshot.expires_at,
            },
        }
    }

    /// A Checkout with this attempt's key, of a cart of `content` now.
    /// A placed checkout answers with its order whatever the cart holds
    /// now (its lines left the cart when it was recorded); a pending one
    /// is resent only for the same cart, and is
    /// [`CartError::IdempotencyKeyReused`] for another.
    pub fn replay(&self, content: &CheckoutContent) -> Result<Replay<'_>, CartError> {
        match &self.state {
            AttemptState::Placed {
                order_id,
                order_status,
            } => Ok(Replay::Placed {
                order_id: *order_id,
                order_status: *order_status,
            }),
            AttemptState::Pending { signed, .. } if self.content.as_ref() == Some(content) => {
                Ok(Replay::Resend(signed))
            }
            AttemptState::Pending { .. } => Err(CartError::IdempotencyKeyReused {
                key: self.idempotency_key.clone(),
            }),
        }
    }

    /// Whether the attempt is pending with a snapshot expired at `now`
    /// (orders refuses it unless it placed it already).
    pub fn has_expired(&self, now: DateTime<Utc>) -> bool {
        matches!(&self.state, AttemptState::Pending { expires_at, .. } if *expires_at < now)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::domain::{Cart, CatalogItem, Owner, PriceQuote, QuoteStatus, price_cart};

    fn priced(price: i64) -> PricedCart {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut cart = Cart::new(CartId::generate(), Owner::Anonymous, "EUR".to_owned(), now);
        cart.add_item(
            Sku::parse("A").unwrap(),
            Quantity::new(2).unwrap(),
            CatalogItem {
                variant_id: Uuid::from_u128(1),
                product_id: Uuid::from_u128(2),
                title: "T".to_owned(),
                unit_price_minor: price,
            },
            None,
            now,
        )
        .unwrap();
        let quote = PriceQuote {
            sku: "A".to_owned(),
            status: QuoteStatus::Available,
            variant_id: Some(Uuid::from_u128(1)),
            product_id: Some(Uuid::from_u128(2)),
            title: "T".to_owned(),
            unit_price_minor: Some(price),
        };
        price_cart(cart, &[quote]).unwrap()
    }

    fn snapshot(priced: &PricedCart, shipping: i64) -> Result<CheckoutSnapshot, CartError> {
        let issued_at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        CheckoutSnapshot::of(
            priced,
            Uuid::from_u128(9),
            Uuid::from_u128(7),
            shipping,
            "pm_card_visa".to_owned(),
            "k-1".to_owned(),
            issued_at,
        )
    }

    #[test]
    fn a_snapshot_carries_the_priced_lines_and_the_total() {
        let priced = priced(100);
        let snapshot = snapshot(&priced, 500).unwrap();
        assert_eq!(snapshot.cart_id, priced.cart.id);
        assert_eq!(snapshot.lines.len(), 1);
        assert_eq!(snapshot.lines[0].line_total_minor, 200);
        assert_eq!(snapshot.subtotal_minor, 200);
        assert_eq!(snapshot.total_minor, 700);
        assert_eq!(
            snapshot.expires_at - snapshot.issued_at,
            DEFAULT_SNAPSHOT_TTL
        );
    }

    #[test]
    fn an_overflowing_total_is_refused() {
        assert!(matches!(
            snapshot(&priced(100), i64::MAX),
            Err(CartError::Pricing(_))
        ));
    }

    #[test]
    fn debug_hides_the_payment_method_token() {
        let snapshot = snapshot(&priced(100), 500).unwrap();
        for debug in [format!("{snapshot:?}"), format!("{snapshot:#?}")] {
            assert!(!debug.contains("pm_card_visa"), "{debug}");
            assert!(debug.contains("<redacted>"), "{debug}");
            assert!(debug.contains("k-1"), "{debug}");
            assert!(debug.contains("\"EUR\""), "{debug}");
        }
    }

    fn signed(bytes: &[u8]) -> SignedSnapshot {
        SignedSnapshot {
            bytes: bytes.to_vec(),
            signature: vec![7; 32],
            checkout_key: "k-1".to_owned(),
        }
    }

    #[test]
    fn checkout_keys_are_scoped_to_the_user_and_always_fit_orders() {
        let (alice, bob) = (Uuid::from_u128(1), Uuid::from_u128(2));
        assert_eq!(
            scoped_checkout_key(alice, "key-1"),
            format!("{alice}:key-1")
        );
        assert_ne!(
            scoped_checkout_key(alice, "key-1"),
            scoped_checkout_key(bob, "key-1")
        );
        let longest = "k".repeat(128);
        let hashed = scoped_checkout_key(alice, &longest);
        assert!(hashed.len() <= MAX_CHECKOUT_KEY_LEN, "{hashed}");
        assert!(hashed.starts_with(&format!("{alice}:sha256:")), "{hashed}");
        assert_ne!(hashed, scoped_checkout_key(alice, &"j".repeat(128)));
        assert_eq!(hashed, scoped_checkout_key(alice, &longest));
        assert!(ecommerce_checkout::CheckoutKey::parse(&hashed).is_ok());
    }

    #[test]
    fn the_content_covers_cart_lines_and_shipping_but_not_prices_or_order() {
        let cheap = priced(100).cart;
        let shipping = Uuid::from_u128(7);
        let content = CheckoutContent::of(&cheap, shipping);
        assert_eq!(content, CheckoutContent::of(&cheap.clone(), shipping));
        assert_ne!(content, CheckoutContent::of(&cheap, Uuid::from_u128(8)));
        // The price the line was added at is not what the shopper orders.
        let mut repriced = cheap.clone();
        repriced.lines[0].seen_unit_price_minor = Some(999);
        repriced.version += 1;
        assert_eq!(content, CheckoutContent::of(&repriced, shipping));
        // One more unit, another SKU: other contents.
        let mut more = cheap.clone();
        more.lines[0].quantity = Quantity::new(3).unwrap();
        assert_ne!(content, CheckoutContent::of(&more, shipping));
        let mut other_line = cheap.clone();
        let mut second = other_line.lines[0].clone();
        second.sku = Sku::parse("B").unwrap();
        other_line.lines.push(second);
        let with_b = CheckoutContent::of(&other_line, shipping);
        assert_ne!(content, with_b);
        // Lines in another order are the same contents.
        other_line.lines.reverse();
        assert_eq!(with_b, CheckoutContent::of(&other_line, shipping));
        assert_eq!(
            CheckoutContent::from_slice(content.as_bytes()),
            Some(content)
        );
        assert_eq!(CheckoutContent::from_slice(&[0; 3]), None);
    }

    #[test]
    fn a_pending_attempt_resends_its_bytes_for_the_same_cart_only() {
        let priced = priced(100);
        let shipping = Uuid::from_u128(7);
        let content = CheckoutContent::of(&priced.cart, shipping);
        let snapshot = snapshot(&priced, 500).unwrap();
        let attempt =
            CheckoutAttempt::new(&snapshot, "key-1".to_owned(), content, signed(b"first"));
        assert_eq!(attempt.checkout_key, "k-1");
        assert_eq!(
            attempt.ordered_lines,
            [OrderedLine {
                sku: Sku::parse("A").unwrap(),
                quantity: Quantity::new(2).unwrap()
            }]
        );
        assert_eq!(
            attempt.replay(&content).unwrap(),
            Replay::Resend(&signed(b"first"))
        );
        let mut changed = priced.cart.clone();
        changed.lines[0].quantity = Quantity::new(1).unwrap();
        assert_eq!(
            attempt
                .replay(&CheckoutContent::of(&changed, shipping))
                .unwrap_err(),
            CartError::IdempotencyKeyReused {
                key: "key-1".to_owned()
            }
        );
        assert!(!attempt.has_expired(snapshot.issued_at));
        assert!(attempt.has_expired(snapshot.expires_at + chrono::Duration::seconds(1)));
        // Debug never shows the bytes (they hold the payment method token).
        assert!(!format!("{attempt:?}").contains("102, 105, 114"));

        // Placed: the order, whatever the cart holds now.
        let placed = CheckoutAttempt {
            state: AttemptState::Placed {
                order_id: Uuid::from_u128(9),
                order_status: 1,
            },
            ..attempt
        };
        let emptied = CheckoutContent::of(
            &Cart {
                lines: Vec::new(),
                ..changed
            },
            shipping,
        );
        assert_eq!(
            placed.replay(&emptied).unwrap(),
            Replay::Placed {
                order_id: Uuid::from_u128(9),
                order_status: 1
            }
        );
        assert!(!placed.has_expired(snapshot.expires_at + chrono::Duration::days(1)));
    }
}
