//! A cart priced by catalog's quotes: what GetCart shows and Checkout signs.

use std::collections::HashMap;

use uuid::Uuid;

use crate::domain::{Cart, CartError, CartLine, Sku, UnavailableReason};

/// Catalog's sellability of a SKU (`ecommerce.catalog.v1.QuoteStatus`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuoteStatus {
    Available,
    NotFound,
    NotPublished,
    Discontinued,
    NotPriced,
}

/// One SKU's quote, in the cart's currency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriceQuote {
    pub sku: String,
    pub status: QuoteStatus,
    pub variant_id: Option<Uuid>,
    pub product_id: Option<Uuid>,
    pub title: String,
    /// Set only when [`QuoteStatus::Available`].
    pub unit_price_minor: Option<i64>,
}

impl PriceQuote {
    /// Why the SKU cannot be bought, `None` when it can.
    pub fn unavailable_reason(&self) -> Option<UnavailableReason> {
        match self.status {
            QuoteStatus::Available if self.unit_price_minor.is_some() => None,
            QuoteStatus::Available | QuoteStatus::NotPriced => Some(UnavailableReason::NotPriced),
            QuoteStatus::NotFound => Some(UnavailableReason::NotFound),
            QuoteStatus::NotPublished => Some(UnavailableReason::NotPublished),
            QuoteStatus::Discontinued => Some(UnavailableReason::Discontinued),
        }
    }
}

/// A line with its current price.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PricedLine {
    pub line: CartLine,
    /// `None` when the line is unavailable.
    pub unit_price_minor: Option<i64>,
    pub line_total_minor: Option<i64>,
    pub unavailable: Option<UnavailableReason>,
    /// The price differs from the one the shopper last saw.
    pub price_changed: bool,
}

/// A cart with current prices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PricedCart {
    pub cart: Cart,
    pub lines: Vec<PricedLine>,
    /// Σ line totals of the available lines.
    pub subtotal_minor: i64,
}

/// A line whose price moved since the shopper last saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriceChange {
    pub sku: Sku,
    /// The unit price the shopper last saw.
    pub seen_unit_price_minor: i64,
    /// The unit price catalog quotes now.
    pub unit_price_minor: i64,
}

impl PricedCart {
    /// The lines whose price changed since the shopper last saw them, with
    /// both prices.
    pub fn price_changes(&self) -> Vec<PriceChange> {
        self.lines
            .iter()
            .filter(|line| line.price_changed)
            .filter_map(
                |line| match (line.line.seen_unit_price_minor, line.unit_price_minor) {
                    (Some(seen), Some(now)) => Some(PriceChange {
                        sku: line.line.sku.clone(),
                        seen_unit_price_minor: seen,
                        unit_price_minor: now,
                    }),
                    _ => None,
                },
            )
            .collect()
    }

    /// Checkout charges only prices the shopper saw:
    /// [`CartError::PricesChanged`] listing every line whose price moved
    /// since the cart was last read.
    pub fn check_prices_seen(&self) -> Result<(), CartError> {
        let changes = self.price_changes();
        if changes.is_empty() {
            return Ok(());
        }
        Err(CartError::PricesChanged {
            currency: self.cart.currency.clone(),
            changes,
        })
    }

    /// The lines to check out: all of them, all available, at least one.
    pub fn checkout_lines(&self) -> Result<&[PricedLine], CartError> {
        if self.lines.is_empty() {
            return Err(CartError::Empty);
        }
        let unavailable: Vec<String> = self
            .lines
            .iter()
            .filter(|line| line.unavailable.is_some())
            .map(|line| line.line.sku.as_str().to_owned())
            .collect();
        if !unavailable.is_empty() {
            return Err(CartError::UnavailableLines { skus: unavailable });
        }
        Ok(&self.lines)
    }
}

/// Prices `cart` with `quotes` (matched by SKU; a SKU without a quote is
/// NOT_FOUND). A line flagged by a catalog event stays unavailable whatever
/// its quote says, until it is added again.
pub fn price_cart(cart: Cart, quotes: &[PriceQuote]) -> Result<PricedCart, CartError> {
    let by_sku: HashMap<&str, &PriceQuote> = quotes
        .iter()
        .map(|quote| (quote.sku.as_str(), quote))
        .collect();
    let mut subtotal_minor: i64 = 0;
    let mut lines = Vec::with_capacity(cart.lines.len());
    for line in &cart.lines {
        let quote = by_sku.get(line.sku.as_str());
        let unavailable = line.flag.or_else(|| match quote {
            Some(quote) => quote.unavailable_reason(),
            None => Some(UnavailableReason::NotFound),
        });
        let unit_price_minor = match unavailable {
            Some(_) => None,
            None => quote.and_then(|quote| quote.unit_price_minor),
        };
        let line_total_minor = match unit_price_minor {
            Some(price) => Some(
                price
                    .checked_mul(i64::from(line.quantity.get()))
                    .ok_or_else(|| {
                        CartError::Pricing(format!(
                            "the total of {:?} overflows",
                            line.sku.as_str()
                        ))
                    })?,
            ),
            None => None,
        };
        if let Some(total) = line_total_minor {
            subtotal_minor = subtotal_minor
                .checked_add(total)
                .ok_or_else(|| CartError::Pricing("the subtotal overflows".to_owned()))?;
        }
        let price_changed = match (unit_price_minor, line.seen_unit_price_minor) {
            (Some(now), Some(seen)) => now != seen,
            _ => false,
        };
        lines.push(PricedLine {
            line: line.clone(),
            unit_price_minor,
            line_total_minor,
            unavailable,
            price_changed,
        });
    }
    Ok(PricedCart {
        cart,
        lines,
        subtotal_minor,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::DateTime;

    use super::*;
    use crate::domain::{CartId, CatalogItem, Owner, Quantity, Sku};

    fn quote(sku: &str, status: QuoteStatus, price: Option<i64>) -> PriceQuote {
        PriceQuote {
            sku: sku.to_owned(),
            status,
            variant_id: Some(Uuid::from_u128(1)),
            product_id: Some(Uuid::from_u128(2)),
            title: "T".to_owned(),
            unit_price_minor: price,
        }
    }

    fn cart(lines: &[(&str, i32, i64)]) -> Cart {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut cart = Cart::new(CartId::generate(), Owner::Anonymous, "EUR".to_owned(), now);
        for (sku, quantity, price) in lines {
            cart.add_item(
                Sku::parse(sku).unwrap(),
                Quantity::new(*quantity).unwrap(),
                CatalogItem {
                    variant_id: Uuid::from_u128(1),
                    product_id: Uuid::from_u128(2),
                    title: "T".to_owned(),
                    unit_price_minor: *price,
                },
                None,
                now,
            )
            .unwrap();
        }
        cart
    }

    #[test]
    fn prices_lines_and_marks_changes() {
        let priced = price_cart(
            cart(&[("A", 2, 100), ("B", 3, 50)]),
            &[
                quote("A", QuoteStatus::Available, Some(120)),
                quote("B", QuoteStatus::Available, Some(50)),
            ],
        )
        .unwrap();
        assert_eq!(priced.subtotal_minor, 240 + 150);
        assert!(priced.lines[0].price_changed);
        assert!(!priced.lines[1].price_changed);
        assert_eq!(priced.lines[0].line_total_minor, Some(240));
        assert_eq!(priced.checkout_lines().unwrap().len(), 2);
    }

    #[test]
    fn changed_prices_block_checkout_listing_sku_and_both_prices() {
        let priced = price_cart(
            cart(&[("A", 2, 100), ("B", 3, 50), ("C", 1, 70)]),
            &[
                quote("A", QuoteStatus::Available, Some(120)),
                quote("B", QuoteStatus::Available, Some(50)),
                quote("C", QuoteStatus::Available, Some(60)),
            ],
        )
        .unwrap();
        let error = priced.check_prices_seen().unwrap_err();
        assert_eq!(
            error,
            CartError::PricesChanged {
                currency: "EUR".to_owned(),
                changes: vec![
                    PriceChange {
                        sku: Sku::parse("A").unwrap(),
                        seen_unit_price_minor: 100,
                        unit_price_minor: 120,
                    },
                    PriceChange {
                        sku: Sku::parse("C").unwrap(),
                        seen_unit_price_minor: 70,
                        unit_price_minor: 60,
                    },
                ],
            }
        );
        let message = error.to_string();
        assert!(message.contains("A: 100 -> 120 EUR"), "{message}");
        assert!(message.contains("C: 70 -> 60 EUR"), "{message}");
        assert!(!message.contains("B:"), "{message}");
        let unchanged = price_cart(
            cart(&[("A", 2, 100)]),
            &[quote("A", QuoteStatus::Available, Some(100))],
        )
        .unwrap();
        assert_eq!(unchanged.check_prices_seen(), Ok(()));
    }

    #[test]
    fn unavailable_lines_are_excluded_and_block_checkout() {
        let mut flagged = cart(&[("A", 1, 100), ("B", 1, 100), ("C", 1, 100), ("D", 1, 100)]);
        flagged.flag_lines(UnavailableReason::Discontinued, |line| {
            line.sku.as_str() == "D"
        });
        let priced = price_cart(
            flagged,
            &[
                quote("A", QuoteStatus::Available, Some(100)),
                quote("B", QuoteStatus::NotPublished, None),
                quote("D", QuoteStatus::Available, Some(100)),
            ],
        )
        .unwrap();
        let reasons: Vec<_> = priced.lines.iter().map(|line| line.unavailable).collect();
        assert_eq!(
            reasons,
            [
                None,
                Some(UnavailableReason::NotPublished),
                Some(UnavailableReason::NotFound),
                Some(UnavailableReason::Discontinued)
            ]
        );
        assert_eq!(priced.subtotal_minor, 100);
        assert_eq!(
            priced.checkout_lines().unwrap_err(),
            CartError::UnavailableLines {
                skus: vec!["B".to_owned(), "C".to_owned(), "D".to_owned()]
            }
        );
        let empty = price_cart(cart(&[]), &[]).unwrap();
        assert_eq!(empty.checkout_lines().unwrap_err(), CartError::Empty);
    }

    #[test]
    fn overflow_is_an_error_not_a_wrap() {
        let priced = price_cart(
            cart(&[("A", 99, 1)]),
            &[quote("A", QuoteStatus::Available, Some(i64::MAX / 2))],
        );
        assert!(matches!(priced, Err(CartError::Pricing(_))));
        let available_without_price = quote("A", QuoteStatus::Available, None);
        assert_eq!(
            available_without_price.unavailable_reason(),
            Some(UnavailableReason::NotPriced)
        );
    }
}
