//! `Debug` for the messages that carry a secret, which must never reach a
//! log: build.rs tells prost not to derive it for the messages listed in
//! `redacted_messages.rs`, and these impls print every other field and
//! `<redacted>` for the secret ones.
//!
//! Each impl destructures the message without `..`, so a field added to
//! the `.proto` stops the build here until someone decides whether it is
//! printed or redacted.

use std::fmt;

use crate::ecommerce::cart::v1::CheckoutRequest;
use crate::ecommerce::events::v1::EventEnvelope;
use crate::ecommerce::iam::v1::{
    RefreshSessionRequest, SessionTokens, SignInRequest, SignOutRequest, SignUpRequest,
    VerifyEmailRequest,
};
use crate::ecommerce::orders::v1::{CheckoutSnapshot, OrderPlaced, PlaceOrderRequest};

include!("../redacted_messages.rs");

/// The fully qualified names of the messages whose `Debug` redacts a
/// secret field (the list build.rs hands to prost's `skip_debug`).
pub const REDACTED_MESSAGE_NAMES: &[&str] = REDACTED_MESSAGES;

/// What a redacted field prints, whatever its value (empty included).
pub const REDACTED: &str = "<redacted>";

/// Prints [`REDACTED`], unquoted.
struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(REDACTED)
    }
}

/// A `google.protobuf.Any` shown by its type and size: the payload of an
/// `orders.order_placed.v1` envelope is an encoded `OrderPlaced`, payment
/// method token included.
struct OpaquePayload<'a>(&'a prost_types::Any);

impl fmt::Debug for OpaquePayload<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prost_types::Any { type_url, value } = self.0;
        formatter
            .debug_struct("Any")
            .field("type_url", type_url)
            .field("value", &format_args!("<{} bytes>", value.len()))
            .finish()
    }
}

impl fmt::Debug for CheckoutSnapshot {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            cart_id,
            cart_version,
            user_id,
            lines,
            subtotal,
            shipping_option_id,
            shipping_price,
            total,
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
            .field("subtotal", subtotal)
            .field("shipping_option_id", shipping_option_id)
            .field("shipping_price", shipping_price)
            .field("total", total)
            .field("currency", currency)
            .field("issued_at", issued_at)
            .field("expires_at", expires_at)
            .field("payment_method_token", &Redacted)
            .field("checkout_key", checkout_key)
            .finish()
    }
}

impl fmt::Debug for PlaceOrderRequest {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The snapshot is an encoded CheckoutSnapshot, payment method token
        // included; the signature is a MAC under the shared checkout key.
        let Self {
            snapshot: _,
            signature: _,
            idempotency_key,
        } = self;
        formatter
            .debug_struct("PlaceOrderRequest")
            .field("snapshot", &Redacted)
            .field("signature", &Redacted)
            .field("idempotency_key", idempotency_key)
            .finish()
    }
}

impl fmt::Debug for OrderPlaced {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            order_id,
            user_id,
            lines,
            total,
            currency,
            payment_method_token: _,
            shipping_option_id,
        } = self;
        formatter
            .debug_struct("OrderPlaced")
            .field("order_id", order_id)
            .field("user_id", user_id)
            .field("lines", lines)
            .field("total", total)
            .field("currency", currency)
            .field("payment_method_token", &Redacted)
            .field("shipping_option_id", shipping_option_id)
            .finish()
    }
}

impl fmt::Debug for CheckoutRequest {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            cart_id,
            shipping_option_id,
            payment_method_token: _,
            idempotency_key,
            expected_version,
        } = self;
        formatter
            .debug_struct("CheckoutRequest")
            .field("cart_id", cart_id)
            .field("shipping_option_id", shipping_option_id)
            .field("payment_method_token", &Redacted)
            .field("idempotency_key", idempotency_key)
            .field("expected_version", expected_version)
            .finish()
    }
}

impl fmt::Debug for EventEnvelope {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            id,
            r#type,
            occurred_at,
            aggregate,
            correlation_id,
            causation_id,
            schema,
            payload,
            trace_context,
        } = self;
        formatter
            .debug_struct("EventEnvelope")
            .field("id", id)
            .field("type", r#type)
            .field("occurred_at", occurred_at)
            .field("aggregate", aggregate)
            .field("correlation_id", correlation_id)
            .field("causation_id", causation_id)
            .field("schema", schema)
            .field("payload", &payload.as_ref().map(OpaquePayload))
            .field("trace_context", trace_context)
            .finish()
    }
}

impl fmt::Debug for SessionTokens {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            access_token: _,
            access_token_expires_at,
            refresh_token: _,
            refresh_token_expires_at,
        } = self;
        formatter
            .debug_struct("SessionTokens")
            .field("access_token", &Redacted)
            .field("access_token_expires_at", access_token_expires_at)
            .field("refresh_token", &Redacted)
            .field("refresh_token_expires_at", refresh_token_expires_at)
            .finish()
    }
}

impl fmt::Debug for SignUpRequest {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            email,
            password: _,
            name,
            idempotency_key,
        } = self;
        formatter
            .debug_struct("SignUpRequest")
            .field("email", email)
            .field("password", &Redacted)
            .field("name", name)
            .field("idempotency_key", idempotency_key)
            .finish()
    }
}

impl fmt::Debug for SignInRequest {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self { email, password: _ } = self;
        formatter
            .debug_struct("SignInRequest")
            .field("email", email)
            .field("password", &Redacted)
            .finish()
    }
}

impl fmt::Debug for SignOutRequest {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self { refresh_token: _ } = self;
        formatter
            .debug_struct("SignOutRequest")
            .field("refresh_token", &Redacted)
            .finish()
    }
}

impl fmt::Debug for RefreshSessionRequest {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self { refresh_token: _ } = self;
        formatter
            .debug_struct("RefreshSessionRequest")
            .field("refresh_token", &Redacted)
            .finish()
    }
}

impl fmt::Debug for VerifyEmailRequest {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self { token: _ } = self;
        formatter
            .debug_struct("VerifyEmailRequest")
            .field("token", &Redacted)
            .finish()
    }
}
