//! The checkout snapshot: a priced cart frozen into what orders builds the
//! order from. Its wire form and signature belong to the orders adapter
//! (`crate::upstream`), which also runs `ecommerce_checkout`'s structural
//! checks before signing.

use std::fmt;

use chrono::{DateTime, Utc};
use ecommerce_checkout::DEFAULT_SNAPSHOT_TTL;
use uuid::Uuid;

use crate::domain::{CartError, CartId, PricedCart, Quantity, Redacted, Sku};

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
}
