//! Every proto <-> domain conversion of cart: the requests and carts of
//! its own API (each refusal INVALID_ARGUMENT naming its field), catalog's
//! quotes, the checkout snapshot and the order orders answers with.

use ecommerce_proto::ecommerce::cart::v1 as pb;
use ecommerce_proto::ecommerce::catalog::v1 as catalog_pb;
use ecommerce_proto::ecommerce::common::v1::Money;
use ecommerce_proto::ecommerce::orders::v1 as orders_pb;
use uuid::Uuid;

use crate::app::{AddItem, AppError, CartRef, Checkout, PlacedCheckout, RemoveItem, UpdateItem};
use crate::domain::{
    CartId, CheckoutSnapshot, MAX_PAYMENT_METHOD_TOKEN_LEN, Owner, PriceQuote, PricedCart,
    QuoteStatus, UnavailableReason, parse_cart_id, parse_quantity, parse_sku,
};

fn invalid(field: &str, reason: impl Into<String>) -> AppError {
    AppError::InvalidArgument {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

/// An empty id is the caller's own cart.
pub fn cart_ref(raw: &str, field: &'static str) -> Result<CartRef, AppError> {
    if raw.is_empty() {
        return Ok(CartRef::Own);
    }
    Ok(CartRef::Id(parse_cart_id(raw, field)?))
}

pub fn cart_id(raw: &str, field: &'static str) -> Result<CartId, AppError> {
    if raw.is_empty() {
        return Err(invalid(field, "is required"));
    }
    Ok(parse_cart_id(raw, field)?)
}

fn version(raw: Option<i64>, field: &str) -> Result<Option<i64>, AppError> {
    match raw {
        Some(version) if version < 0 => Err(invalid(field, "must not be negative")),
        other => Ok(other),
    }
}

fn key(raw: &str, field: &str) -> Result<Option<String>, AppError> {
    if raw.is_empty() {
        return Ok(None);
    }
    if raw.len() > 128 || !raw.bytes().all(|byte| byte.is_ascii_graphic()) {
        return Err(invalid(
            field,
            "must be at most 128 printable ASCII characters without spaces",
        ));
    }
    Ok(Some(raw.to_owned()))
}

impl TryFrom<pb::AddItemRequest> for AddItem {
    type Error = AppError;

    fn try_from(request: pb::AddItemRequest) -> Result<Self, Self::Error> {
        Ok(Self {
            cart: cart_ref(&request.cart_id, "cart_id")?,
            sku: parse_sku(&request.sku)?,
            quantity: parse_quantity(request.quantity)?,
            idempotency_key: key(&request.idempotency_key, "idempotency_key")?,
            expected_version: version(request.expected_version, "expected_version")?,
        })
    }
}

impl TryFrom<pb::UpdateItemRequest> for UpdateItem {
    type Error = AppError;

    fn try_from(request: pb::UpdateItemRequest) -> Result<Self, Self::Error> {
        Ok(Self {
            cart: cart_ref(&request.cart_id, "cart_id")?,
            sku: parse_sku(&request.sku)?,
            quantity: parse_quantity(request.quantity)?,
            expected_version: version(request.expected_version, "expected_version")?,
        })
    }
}

impl TryFrom<pb::RemoveItemRequest> for RemoveItem {
    type Error = AppError;

    fn try_from(request: pb::RemoveItemRequest) -> Result<Self, Self::Error> {
        Ok(Self {
            cart: cart_ref(&request.cart_id, "cart_id")?,
            sku: parse_sku(&request.sku)?,
            expected_version: version(request.expected_version, "expected_version")?,
        })
    }
}

impl TryFrom<pb::CheckoutRequest> for Checkout {
    type Error = AppError;

    fn try_from(request: pb::CheckoutRequest) -> Result<Self, Self::Error> {
        let shipping_option_id = Uuid::parse_str(&request.shipping_option_id)
            .map_err(|_| invalid("shipping_option_id", "must be a UUID"))?;
        if request.payment_method_token.is_empty() {
            return Err(invalid("payment_method_token", "is required"));
        }
        if request.payment_method_token.len() > MAX_PAYMENT_METHOD_TOKEN_LEN
            || !request
                .payment_method_token
                .bytes()
                .all(|byte| byte.is_ascii_graphic())
        {
            return Err(invalid(
                "payment_method_token",
                format!(
                    "must be at most {MAX_PAYMENT_METHOD_TOKEN_LEN} printable ASCII characters without spaces"
                ),
            ));
        }
        Ok(Self {
            cart: cart_ref(&request.cart_id, "cart_id")?,
            shipping_option_id,
            payment_method_token: request.payment_method_token,
            idempotency_key: key(&request.idempotency_key, "idempotency_key")?,
            expected_version: version(request.expected_version, "expected_version")?,
        })
    }
}

fn pb_reason(reason: Option<UnavailableReason>) -> pb::UnavailableReason {
    match reason {
        None => pb::UnavailableReason::Unspecified,
        Some(UnavailableReason::NotFound) => pb::UnavailableReason::NotFound,
        Some(UnavailableReason::NotPublished) => pb::UnavailableReason::NotPublished,
        Some(UnavailableReason::Discontinued) => pb::UnavailableReason::Discontinued,
        Some(UnavailableReason::NotPriced) => pb::UnavailableReason::NotPriced,
    }
}

/// The priced cart as the proto `Cart`.
pub fn pb_cart(priced: &PricedCart) -> pb::Cart {
    let currency = priced.cart.currency.as_str();
    let money = |amount_minor: i64| Money {
        amount_minor,
        currency: currency.to_owned(),
    };
    pb::Cart {
        id: priced.cart.id.to_string(),
        user_id: match priced.cart.owner {
            Owner::Anonymous => None,
            Owner::User(user_id) => Some(user_id.to_string()),
        },
        lines: priced
            .lines
            .iter()
            .map(|line| pb::CartLine {
                sku: line.line.sku.as_str().to_owned(),
                variant_id: line.line.variant_id.to_string(),
                product_id: line.line.product_id.to_string(),
                title: line.line.title.clone(),
                quantity: line.line.quantity.get(),
                unit_price: line.unit_price_minor.map(money),
                line_total: line.line_total_minor.map(money),
                unavailable_reason: pb_reason(line.unavailable).into(),
                price_changed: line.price_changed,
            })
            .collect(),
        subtotal: Some(money(priced.subtotal_minor)),
        version: priced.cart.version,
        updated_at: Some(ecommerce_proto::timestamp(priced.cart.updated_at)),
    }
}

/// A catalog quote as the domain's; a price in another currency, or a
/// negative one, is no price.
pub fn quote_from_pb(quote: catalog_pb::PriceQuote, currency: &str) -> PriceQuote {
    let status = match catalog_pb::QuoteStatus::try_from(quote.status) {
        Ok(catalog_pb::QuoteStatus::Available) => QuoteStatus::Available,
        Ok(catalog_pb::QuoteStatus::NotPublished) => QuoteStatus::NotPublished,
        Ok(catalog_pb::QuoteStatus::Discontinued) => QuoteStatus::Discontinued,
        Ok(catalog_pb::QuoteStatus::NotPriced) => QuoteStatus::NotPriced,
        Ok(catalog_pb::QuoteStatus::NotFound | catalog_pb::QuoteStatus::Unspecified) | Err(_) => {
            QuoteStatus::NotFound
        }
    };
    let unit_price_minor = quote
        .unit_price
        .filter(|price| price.currency == currency && price.amount_minor >= 0)
        .map(|price| price.amount_minor);
    PriceQuote {
        sku: quote.sku,
        status,
        variant_id: Uuid::parse_str(&quote.variant_id).ok(),
        product_id: Uuid::parse_str(&quote.product_id).ok(),
        title: quote.title,
        unit_price_minor,
    }
}

/// The snapshot as orders reads it (and as it is signed).
pub fn pb_snapshot(snapshot: &CheckoutSnapshot) -> orders_pb::CheckoutSnapshot {
    let currency = snapshot.currency.as_str();
    let money = |amount_minor: i64| {
        Some(Money {
            amount_minor,
            currency: currency.to_owned(),
        })
    };
    orders_pb::CheckoutSnapshot {
        cart_id: snapshot.cart_id.to_string(),
        cart_version: snapshot.cart_version,
        user_id: snapshot.user_id.to_string(),
        lines: snapshot
            .lines
            .iter()
            .map(|line| orders_pb::CheckoutLine {
                sku: line.sku.as_str().to_owned(),
                variant_id: line.variant_id.to_string(),
                product_id: line.product_id.to_string(),
                title: line.title.clone(),
                quantity: line.quantity.get(),
                unit_price: money(line.unit_price_minor),
                line_total: money(line.line_total_minor),
            })
            .collect(),
        subtotal: money(snapshot.subtotal_minor),
        shipping_option_id: snapshot.shipping_option_id.to_string(),
        shipping_price: money(snapshot.shipping_price_minor),
        total: money(snapshot.total_minor),
        currency: currency.to_owned(),
        issued_at: Some(ecommerce_proto::timestamp(snapshot.issued_at)),
        expires_at: Some(ecommerce_proto::timestamp(snapshot.expires_at)),
        payment_method_token: snapshot.payment_method_token.clone(),
        checkout_key: snapshot.checkout_key.clone(),
    }
}

/// The order PlaceOrder answered, as Checkout answers it.
pub fn placed_from_pb(order: &orders_pb::Order) -> Result<PlacedCheckout, AppError> {
    let order_id = Uuid::parse_str(&order.id).map_err(|_| {
        AppError::internal(anyhow::anyhow!("orders returned order id {:?}", order.id))
    })?;
    Ok(PlacedCheckout {
        order_id,
        order_status: order.status,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn requests_convert_and_refusals_name_the_field() {
        let field = |error: AppError| match error {
            AppError::InvalidArgument { field, .. } => field,
            other => panic!("not invalid: {other}"),
        };
        assert_eq!(cart_ref("", "cart_id").unwrap(), CartRef::Own);
        assert_eq!(field(cart_ref("x", "cart_id").unwrap_err()), "cart_id");
        assert_eq!(
            field(cart_id("", "anonymous_cart_id").unwrap_err()),
            "anonymous_cart_id"
        );
        let add = AddItem::try_from(pb::AddItemRequest {
            cart_id: String::new(),
            sku: "SHOE-42".to_owned(),
            quantity: 2,
            idempotency_key: "k-1".to_owned(),
            expected_version: Some(3),
        })
        .unwrap();
        assert_eq!(add.idempotency_key.as_deref(), Some("k-1"));
        assert_eq!(add.expected_version, Some(3));
        let bad = |request: pb::AddItemRequest| field(AddItem::try_from(request).unwrap_err());
        let valid = pb::AddItemRequest {
            sku: "S".to_owned(),
            quantity: 1,
            ..Default::default()
        };
        assert_eq!(
            bad(pb::AddItemRequest {
                sku: String::new(),
                ..valid.clone()
            }),
            "sku"
        );
        assert_eq!(
            bad(pb::AddItemRequest {
                quantity: 0,
                ..valid.clone()
            }),
            "quantity"
        );
        assert_eq!(
            bad(pb::AddItemRequest {
                idempotency_key: "has space".to_owned(),
                ..valid.clone()
            }),
            "idempotency_key"
        );
        assert_eq!(
            bad(pb::AddItemRequest {
                expected_version: Some(-1),
                ..valid
            }),
            "expected_version"
        );
        let checkout = pb::CheckoutRequest {
            shipping_option_id: "nope".to_owned(),
            payment_method_token: "pm_card_visa".to_owned(),
            ..Default::default()
        };
        assert_eq!(
            field(Checkout::try_from(checkout.clone()).unwrap_err()),
            "shipping_option_id"
        );
        assert_eq!(
            field(
                Checkout::try_from(pb::CheckoutRequest {
                    shipping_option_id: Uuid::now_v7().to_string(),
                    payment_method_token: String::new(),
                    ..checkout.clone()
                })
                .unwrap_err()
            ),
            "payment_method_token"
        );
        let valid = pb::CheckoutRequest {
            shipping_option_id: Uuid::now_v7().to_string(),
            payment_method_token: "t".repeat(MAX_PAYMENT_METHOD_TOKEN_LEN),
            ..checkout
        };
        assert!(Checkout::try_from(valid.clone()).is_ok());
        for token in [
            "t".repeat(MAX_PAYMENT_METHOD_TOKEN_LEN + 1),
            "pm card".to_owned(),
            "pm_\u{e9}".to_owned(),
        ] {
            let error = Checkout::try_from(pb::CheckoutRequest {
                payment_method_token: token,
                ..valid.clone()
            })
            .unwrap_err();
            assert_eq!(field(error), "payment_method_token");
        }
    }
}
