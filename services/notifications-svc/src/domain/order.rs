//! An order as `orders.order_placed.v1` carried it: what the order mails
//! show, and whose order it is (the shipment events name no customer).

use chrono::{DateTime, Utc};
use ecommerce_kernel::{Currency, Money, Quantity, Sku};
use uuid::Uuid;

use crate::domain::error::{InvalidField, InvalidValue};
use crate::domain::values::{OrderId, UserId};

/// One ordered line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderLine {
    pub sku: Sku,
    /// Product title at checkout.
    pub title: String,
    pub quantity: Quantity,
    pub unit_price: Money,
    pub line_total: Money,
}

/// The copy of a placed order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderCopy {
    pub order_id: OrderId,
    pub user_id: UserId,
    pub currency: Currency,
    pub lines: Vec<OrderLine>,
    /// Sum of the line totals.
    pub subtotal: Money,
    /// What the shipping option costs: `total - subtotal` (the placed event
    /// carries the total the customer is charged, lines plus shipping).
    pub shipping: Money,
    pub total: Money,
    /// The shipping option chosen (fulfillment's id; its name is not in
    /// any event notifications reads).
    pub shipping_option_id: Option<Uuid>,
    pub placed_at: DateTime<Utc>,
}

impl OrderCopy {
    /// Checks what the mails rely on: every amount in the order's
    /// currency, at least one line, and a total no smaller than the lines.
    pub fn new(
        order_id: OrderId,
        user_id: UserId,
        currency: Currency,
        lines: Vec<OrderLine>,
        total: Money,
        shipping_option_id: Option<Uuid>,
        placed_at: DateTime<Utc>,
    ) -> Result<Self, InvalidField> {
        if lines.is_empty() {
            return Err(InvalidValue::new("an order has at least one line").at("lines"));
        }
        let mut subtotal = Money::zero(currency);
        for (index, line) in lines.iter().enumerate() {
            for (money, field) in [
                (line.unit_price, "unit_price"),
                (line.line_total, "line_total"),
            ] {
                if money.currency() != currency {
                    return Err(InvalidValue::new(format!(
                        "is {}, the order is in {currency}",
                        money.currency()
                    ))
                    .at(format!("lines[{index}].{field}.currency")));
                }
            }
            subtotal = subtotal.checked_add(line.line_total).map_err(|error| {
                InvalidValue::new(error.to_string()).at(format!("lines[{index}].line_total"))
            })?;
        }
        if total.currency() != currency {
            return Err(InvalidValue::new(format!(
                "is {}, the order is in {currency}",
                total.currency()
            ))
            .at("total.currency"));
        }
        let shipping = total.checked_sub(subtotal).map_err(|_| {
            InvalidValue::new(format!("{total} is less than the lines' {subtotal}")).at("total")
        })?;
        Ok(Self {
            order_id,
            user_id,
            currency,
            lines,
            subtotal,
            shipping,
            total,
            shipping_option_id,
            placed_at,
        })
    }

    /// The title of `sku` in this order, when it has that line.
    pub fn title_of(&self, sku: &str) -> Option<&str> {
        self.lines
            .iter()
            .find(|line| line.sku.as_str() == sku)
            .map(|line| line.title.as_str())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn eur(amount_minor: i64) -> Money {
        Money::new(amount_minor, Currency::parse("EUR").unwrap()).unwrap()
    }

    fn line(sku: &str, quantity: i32, unit: i64) -> OrderLine {
        OrderLine {
            sku: Sku::parse(sku).unwrap(),
            title: format!("{sku} title"),
            quantity: Quantity::new(quantity).unwrap(),
            unit_price: eur(unit),
            line_total: eur(unit * i64::from(quantity)),
        }
    }

    fn copy(lines: Vec<OrderLine>, total: Money) -> Result<OrderCopy, InvalidField> {
        OrderCopy::new(
            OrderId::generate(),
            UserId::generate(),
            Currency::parse("EUR").unwrap(),
            lines,
            total,
            None,
            Utc::now(),
        )
    }

    #[test]
    fn shipping_is_what_the_total_adds_to_the_lines() {
        let order = copy(vec![line("A", 2, 1000), line("B", 1, 500)], eur(2999)).unwrap();
        assert_eq!(order.subtotal, eur(2500));
        assert_eq!(order.shipping, eur(499));
        assert_eq!(order.title_of("B"), Some("B title"));
        assert_eq!(order.title_of("C"), None);
    }

    #[test]
    fn inconsistent_orders_name_the_field() {
        assert_eq!(copy(vec![], eur(0)).unwrap_err().field, "lines");
        assert_eq!(
            copy(vec![line("A", 1, 1000)], eur(999)).unwrap_err().field,
            "total"
        );
        let mut dollars = line("A", 1, 1000);
        dollars.unit_price = Money::new(1000, Currency::parse("USD").unwrap()).unwrap();
        assert_eq!(
            copy(vec![dollars], eur(1000)).unwrap_err().field,
            "lines[0].unit_price.currency"
        );
    }
}
