//! Shipping options: a way to ship an order, at a flat price per order.

use ecommerce_kernel::Money;

use crate::domain::error::InvalidValue;
use crate::domain::values::ShippingOptionId;

/// One shipping option, valid by construction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShippingOption {
    id: ShippingOptionId,
    name: String,
    price: Money,
    min_delivery_days: i32,
    max_delivery_days: i32,
}

impl ShippingOption {
    pub fn new(
        id: ShippingOptionId,
        name: String,
        price: Money,
        min_delivery_days: i32,
        max_delivery_days: i32,
    ) -> Result<Self, InvalidValue> {
        if name.trim().is_empty() {
            return Err(InvalidValue::new("a shipping option needs a name"));
        }
        if min_delivery_days < 0 || max_delivery_days < min_delivery_days {
            return Err(InvalidValue::new(format!(
                "delivery days {min_delivery_days}..{max_delivery_days} are not a range of whole days"
            )));
        }
        Ok(Self {
            id,
            name,
            price,
            min_delivery_days,
            max_delivery_days,
        })
    }

    pub fn id(&self) -> ShippingOptionId {
        self.id
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn price(&self) -> Money {
        self.price
    }

    pub fn min_delivery_days(&self) -> i32 {
        self.min_delivery_days
    }

    pub fn max_delivery_days(&self) -> i32 {
        self.max_delivery_days
    }
}

/// Orders options cheapest first (ties: fastest, then by id, so the order
/// is total and stable). Prices of different currencies are compared by
/// amount within their currency code's order.
pub fn cheapest_first(options: &mut [ShippingOption]) {
    options.sort_by(|left, right| {
        (left.price.currency().code(), left.price.amount_minor())
            .cmp(&(right.price.currency().code(), right.price.amount_minor()))
            .then(left.max_delivery_days.cmp(&right.max_delivery_days))
            .then(left.id.cmp(&right.id))
    });
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use ecommerce_kernel::Currency;

    use super::*;

    fn option(name: &str, cents: i64, min: i32, max: i32) -> ShippingOption {
        let eur = Currency::parse("EUR").unwrap();
        ShippingOption::new(
            ShippingOptionId::generate(),
            name.to_owned(),
            Money::new(cents, eur).unwrap(),
            min,
            max,
        )
        .unwrap()
    }

    #[test]
    fn options_need_a_name_and_a_day_range() {
        let eur = Currency::parse("EUR").unwrap();
        let price = Money::new(499, eur).unwrap();
        let id = ShippingOptionId::generate();
        assert!(ShippingOption::new(id, " ".to_owned(), price, 1, 2).is_err());
        assert!(ShippingOption::new(id, "x".to_owned(), price, -1, 2).is_err());
        assert!(ShippingOption::new(id, "x".to_owned(), price, 3, 2).is_err());
        let same_day = ShippingOption::new(id, "x".to_owned(), price, 0, 0).unwrap();
        assert_eq!(same_day.min_delivery_days(), 0);
        assert_eq!(same_day.price().amount_minor(), 499);
    }

    #[test]
    fn cheapest_comes_first_then_fastest() {
        let mut options = vec![
            option("express", 1299, 1, 2),
            option("standard", 499, 3, 5),
            option("economy-fast", 499, 2, 3),
        ];
        cheapest_first(&mut options);
        let names: Vec<&str> = options.iter().map(ShippingOption::name).collect();
        assert_eq!(names, ["economy-fast", "standard", "express"]);
    }
}
