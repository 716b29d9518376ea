//! `Debug` for the messages that carry a payment method token, which must
//! never reach a log: build.rs tells prost not to derive it for them, and
//! these print every field but the token.

use std::fmt;

use crate::ecommerce::cart::v1::CheckoutRequest;
use crate::ecommerce::orders::v1::{CheckoutSnapshot, OrderPlaced};

/// What a redacted field prints.
const REDACTED: &str = "<redacted>";

impl fmt::Debug for CheckoutSnapshot {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("CheckoutSnapshot")
            .field("cart_id", &self.cart_id)
            .field("cart_version", &self.cart_version)
            .field("user_id", &self.user_id)
            .field("lines", &self.lines)
            .field("subtotal", &self.subtotal)
            .field("shipping_option_id", &self.shipping_option_id)
            .field("shipping_price", &self.shipping_price)
            .field("total", &self.total)
            .field("currency", &self.currency)
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .field("payment_method_token", &REDACTED)
            .field("checkout_key", &self.checkout_key)
            .finish()
    }
}

impl fmt::Debug for OrderPlaced {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("OrderPlaced")
            .field("order_id", &self.order_id)
            .field("user_id", &self.user_id)
            .field("lines", &self.lines)
            .field("total", &self.total)
            .field("currency", &self.currency)
            .field("payment_method_token", &REDACTED)
            .field("shipping_option_id", &self.shipping_option_id)
            .finish()
    }
}

impl fmt::Debug for CheckoutRequest {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("CheckoutRequest")
            .field("cart_id", &self.cart_id)
            .field("shipping_option_id", &self.shipping_option_id)
            .field("payment_method_token", &REDACTED)
            .field("idempotency_key", &self.idempotency_key)
            .field("expected_version", &self.expected_version)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_payment_method_token() {
        let token = "pm_card_secret_4242";
        let snapshot = CheckoutSnapshot {
            payment_method_token: token.to_owned(),
            checkout_key: "key-1".to_owned(),
            ..Default::default()
        };
        let placed = OrderPlaced {
            payment_method_token: token.to_owned(),
            order_id: "order-1".to_owned(),
            ..Default::default()
        };
        let request = CheckoutRequest {
            payment_method_token: token.to_owned(),
            idempotency_key: "idem-1".to_owned(),
            ..Default::default()
        };
        for (printed, other_field) in [
            (format!("{snapshot:?}"), "key-1"),
            (format!("{placed:?}"), "order-1"),
            (format!("{request:?}"), "idem-1"),
        ] {
            assert!(!printed.contains(token), "{printed}");
            assert!(printed.contains(REDACTED), "{printed}");
            assert!(printed.contains(other_field), "{printed}");
        }
    }
}
