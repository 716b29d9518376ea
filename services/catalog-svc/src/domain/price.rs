//! Prices over time, and what a quote says about a SKU.
//!
//! A variant's prices are a history per currency: SetPrice only ever adds a
//! row. The price in effect at time `t` is the one with the latest
//! `effective_from <= t`; when two share that instant, the one recorded
//! later wins (price ids are UUID v7, so id order is recording order). A
//! price whose `effective_from` is still in the future is never in effect,
//! so QuotePrices never returns it. Storage runs the same rule in SQL for
//! the read paths (`storage::prices`).

use chrono::{DateTime, Duration, Utc};

use crate::domain::lifecycle::{ProductStatus, VariantStatus};
use crate::domain::model::{PriceId, VariantId};
use crate::domain::validation::InvalidValue;
use ecommerce_kernel::{Currency, Money};

/// One recorded price of a variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Price {
    pub id: PriceId,
    pub variant_id: VariantId,
    pub amount: Money,
    pub effective_from: DateTime<Utc>,
}

/// How far in the past a requested `effective_from` may lie and still be
/// accepted (as "now"): the caller's clock and the network delay make a
/// "now" computed by the client slightly past by the time it arrives.
pub const PAST_EFFECTIVE_FROM_TOLERANCE: Duration = Duration::seconds(60);

/// When a new price takes effect: `requested`, or `now` when unset.
///
/// The proto says the time "must not be in the past": a time more than
/// [`PAST_EFFECTIVE_FROM_TOLERANCE`] ago is refused, and one within it is
/// moved to `now`. Storing a past time would be wrong either way: it would
/// rewrite history, or, when older than the price in effect, never take
/// effect at all.
pub fn resolve_effective_from(
    requested: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, InvalidValue> {
    let Some(requested) = requested else {
        return Ok(now);
    };
    if requested < now - PAST_EFFECTIVE_FROM_TOLERANCE {
        return Err(InvalidValue::new(format!(
            "must not be in the past ({requested} is before {now}); leave it unset for now"
        )));
    }
    Ok(requested.max(now))
}

/// The price of `currency` in effect at `at` among `history` (which may mix
/// currencies and hold future prices).
pub fn select_in_effect<'a, I>(
    history: I,
    currency: Currency,
    at: DateTime<Utc>,
) -> Option<&'a Price>
where
    I: IntoIterator<Item = &'a Price>,
{
    history
        .into_iter()
        .filter(|price| price.amount.currency() == currency && price.effective_from <= at)
        .max_by_key(|price| (price.effective_from, price.id))
}

/// What SetPrice does with a new price.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PriceDecision {
    /// The price in effect at the new price's time already has this amount:
    /// recording it would change nothing a shopper sees, so nothing is
    /// stored and no `price.changed` event is emitted.
    Unchanged { in_effect: Price },
    /// Record it; `previous` is the amount it supersedes at its time (none
    /// when the variant had no price in this currency then).
    Record { previous: Option<Money> },
}

/// Decides a new price of `amount` effective at `effective_from` against the
/// variant's `history`.
pub fn decide_price(
    history: &[Price],
    amount: Money,
    effective_from: DateTime<Utc>,
) -> PriceDecision {
    match select_in_effect(history, amount.currency(), effective_from) {
        Some(in_effect) if in_effect.amount == amount => PriceDecision::Unchanged {
            in_effect: *in_effect,
        },
        Some(in_effect) => PriceDecision::Record {
            previous: Some(in_effect.amount),
        },
        None => PriceDecision::Record { previous: None },
    }
}

/// Whether a quoted SKU can be sold, and if not, why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuoteStatus {
    Available,
    NotFound,
    NotPublished,
    Discontinued,
    NotPriced,
}

/// The status of a SKU that exists; the checks go from the product down,
/// so a discontinued variant of an unpublished product is NOT_PUBLISHED.
pub fn quote_status(
    product: ProductStatus,
    variant: VariantStatus,
    price_in_effect: bool,
) -> QuoteStatus {
    if !product.is_visible_to_shoppers() {
        return QuoteStatus::NotPublished;
    }
    match variant {
        VariantStatus::Discontinued => QuoteStatus::Discontinued,
        VariantStatus::Active if !price_in_effect => QuoteStatus::NotPriced,
        VariantStatus::Active => QuoteStatus::Available,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::TimeZone as _;

    use super::*;

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, hour, 0, 0).unwrap()
    }

    fn money(amount: i64, code: &str) -> Money {
        Money::new(amount, Currency::parse(code).unwrap()).unwrap()
    }

    fn price(amount: i64, code: &str, hour: u32) -> Price {
        Price {
            id: PriceId::generate(),
            variant_id: VariantId::from_uuid(uuid::Uuid::nil()),
            amount: money(amount, code),
            effective_from: at(hour),
        }
    }

    fn eur() -> Currency {
        Currency::parse("EUR").unwrap()
    }

    #[test]
    fn the_latest_price_not_in_the_future_is_in_effect() {
        let history = [
            price(100, "EUR", 1),
            price(120, "EUR", 5),
            price(90, "EUR", 9),
            price(7, "USD", 6),
        ];
        assert_eq!(select_in_effect(&history, eur(), at(0)), None);
        assert_eq!(
            select_in_effect(&history, eur(), at(1)).unwrap().amount,
            money(100, "EUR")
        );
        assert_eq!(
            select_in_effect(&history, eur(), at(4)).unwrap().amount,
            money(100, "EUR")
        );
        assert_eq!(
            select_in_effect(&history, eur(), at(5)).unwrap().amount,
            money(120, "EUR")
        );
        assert_eq!(
            select_in_effect(&history, eur(), at(8)).unwrap().amount,
            money(120, "EUR")
        );
        assert_eq!(
            select_in_effect(&history, eur(), at(23)).unwrap().amount,
            money(90, "EUR")
        );
        let usd = Currency::parse("USD").unwrap();
        assert_eq!(select_in_effect(&history, usd, at(5)), None);
        assert_eq!(
            select_in_effect(&history, usd, at(6)).unwrap().amount,
            money(7, "USD")
        );
        assert_eq!(select_in_effect(&[], eur(), at(6)), None);
    }

    #[test]
    fn the_order_of_the_history_does_not_matter_and_ties_go_to_the_later_record() {
        let first = price(100, "EUR", 3);
        let second = price(110, "EUR", 3);
        assert!(first.id < second.id);
        for history in [[first, second], [second, first]] {
            assert_eq!(select_in_effect(&history, eur(), at(3)), Some(&second));
        }
    }

    #[test]
    fn an_unset_effective_from_means_now_and_the_past_is_refused() {
        let now = at(12);
        assert_eq!(resolve_effective_from(None, now).unwrap(), now);
        assert_eq!(resolve_effective_from(Some(at(13)), now).unwrap(), at(13));
        let slightly_past = now - Duration::seconds(30);
        assert_eq!(
            resolve_effective_from(Some(slightly_past), now).unwrap(),
            now
        );
        assert!(resolve_effective_from(Some(at(11)), now).is_err());
    }

    #[test]
    fn a_new_price_records_what_it_supersedes_at_its_own_time() {
        let history = [price(100, "EUR", 1), price(120, "EUR", 10)];
        // In effect now (hour 5): 100.
        assert_eq!(
            decide_price(&history, money(90, "EUR"), at(5)),
            PriceDecision::Record {
                previous: Some(money(100, "EUR"))
            }
        );
        // From hour 11 on, it supersedes the scheduled 120.
        assert_eq!(
            decide_price(&history, money(90, "EUR"), at(11)),
            PriceDecision::Record {
                previous: Some(money(120, "EUR"))
            }
        );
        // First price in a currency.
        assert_eq!(
            decide_price(&history, money(90, "USD"), at(5)),
            PriceDecision::Record { previous: None }
        );
        // The same amount as the one in effect then changes nothing.
        assert_eq!(
            decide_price(&history, money(100, "EUR"), at(5)),
            PriceDecision::Unchanged {
                in_effect: history[0]
            }
        );
        assert_eq!(
            decide_price(&history, money(120, "EUR"), at(12)),
            PriceDecision::Unchanged {
                in_effect: history[1]
            }
        );
        // 120 before hour 10 is a change even though 120 is scheduled.
        assert_eq!(
            decide_price(&history, money(120, "EUR"), at(5)),
            PriceDecision::Record {
                previous: Some(money(100, "EUR"))
            }
        );
    }

    #[test]
    fn every_quote_status_combination() {
        for product in ProductStatus::ALL {
            for variant in VariantStatus::ALL {
                for priced in [false, true] {
                    let expected = match (product, variant, priced) {
                        (ProductStatus::Published, VariantStatus::Active, true) => {
                            QuoteStatus::Available
                        }
                        (ProductStatus::Published, VariantStatus::Active, false) => {
                            QuoteStatus::NotPriced
                        }
                        (ProductStatus::Published, VariantStatus::Discontinued, _) => {
                            QuoteStatus::Discontinued
                        }
                        (
                            ProductStatus::Draft
                            | ProductStatus::Unpublished
                            | ProductStatus::Archived,
                            _,
                            _,
                        ) => QuoteStatus::NotPublished,
                    };
                    assert_eq!(
                        quote_status(product, variant, priced),
                        expected,
                        "{product} {variant} priced={priced}"
                    );
                }
            }
        }
    }
}
