//! `{:?}` and `{:#?}` of every message holding a secret print `<redacted>`
//! in its place and every other field as usual, and every field of the
//! contracts that looks like a secret sits in one of those messages.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::fmt::Debug;

use ecommerce_proto::ecommerce::cart::v1::CheckoutRequest;
use ecommerce_proto::ecommerce::common::v1::Money;
use ecommerce_proto::ecommerce::events::v1::{EventEnvelope, SchemaRef};
use ecommerce_proto::ecommerce::iam::v1::{
    RefreshSessionRequest, RefreshSessionResponse, SessionTokens, SignInRequest, SignInResponse,
    SignOutRequest, SignUpRequest, User, VerifyEmailRequest,
};
use ecommerce_proto::ecommerce::orders::v1::{
    CheckoutLine, CheckoutSnapshot, OrderPlaced, PlaceOrderRequest,
};
use ecommerce_proto::{FILE_DESCRIPTOR_SET, REDACTED, REDACTED_MESSAGE_NAMES};
use prost::Message as _;

const PASSWORD: &str = "correct-horse-battery-staple";
const ACCESS_TOKEN: &str = "eyJhbGciOiJFZERTQSJ9.secret-claims.secret-signature";
const REFRESH_TOKEN: &str = "rt_5ecret_refresh_token";
const VERIFICATION_TOKEN: &str = "vt_5ecret_verification";
const PAYMENT_TOKEN: &str = "pm_card_secret_4242";

fn timestamp(seconds: i64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp { seconds, nanos: 0 })
}

fn money(amount_minor: i64) -> Option<Money> {
    Some(Money {
        amount_minor,
        currency: "EUR".to_owned(),
    })
}

fn session_tokens() -> SessionTokens {
    SessionTokens {
        access_token: ACCESS_TOKEN.to_owned(),
        access_token_expires_at: timestamp(1_700_000_900),
        refresh_token: REFRESH_TOKEN.to_owned(),
        refresh_token_expires_at: timestamp(1_702_592_000),
    }
}

fn user() -> User {
    User {
        id: "user-0197".to_owned(),
        email: "ada@example.com".to_owned(),
        name: "Ada".to_owned(),
        ..Default::default()
    }
}

fn snapshot() -> CheckoutSnapshot {
    CheckoutSnapshot {
        cart_id: "cart-0197".to_owned(),
        cart_version: 7,
        user_id: "user-0197".to_owned(),
        lines: vec![CheckoutLine {
            sku: "TEE-RED-M".to_owned(),
            quantity: 2,
            unit_price: money(1999),
            ..Default::default()
        }],
        subtotal: money(3998),
        shipping_option_id: "ship-0197".to_owned(),
        shipping_price: money(499),
        total: money(4497),
        currency: "EUR".to_owned(),
        issued_at: timestamp(1_700_000_000),
        expires_at: timestamp(1_700_000_300),
        payment_method_token: PAYMENT_TOKEN.to_owned(),
        checkout_key: "checkout-key-0197".to_owned(),
    }
}

fn order_placed() -> OrderPlaced {
    OrderPlaced {
        order_id: "order-0197".to_owned(),
        user_id: "user-0197".to_owned(),
        total: money(4497),
        currency: "EUR".to_owned(),
        payment_method_token: PAYMENT_TOKEN.to_owned(),
        shipping_option_id: "ship-0197".to_owned(),
        ..Default::default()
    }
}

/// `secret` as `{:?}` of its bytes prints it (`112, 109, ...`): a byte field
/// printed that way leaks as surely as the string.
fn as_byte_list(secret: &str) -> String {
    let printed = format!("{:?}", secret.as_bytes());
    printed
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned()
}

/// One message formatted both ways, with what must and must not appear.
struct Case {
    /// The fully qualified protobuf name, or `None` for a message that
    /// only holds a redacted one.
    name: Option<&'static str>,
    plain: String,
    pretty: String,
    secrets: Vec<String>,
    shown: Vec<&'static str>,
}

fn case(
    name: Option<&'static str>,
    message: &impl Debug,
    secrets: &[&str],
    shown: &[&'static str],
) -> Case {
    let mut all_secrets = Vec::new();
    for secret in secrets {
        all_secrets.push((*secret).to_owned());
        all_secrets.push(as_byte_list(secret));
    }
    Case {
        name,
        plain: format!("{message:?}"),
        pretty: format!("{message:#?}"),
        secrets: all_secrets,
        shown: shown.to_vec(),
    }
}

fn cases() -> Vec<Case> {
    let signed_snapshot = snapshot().encode_to_vec();
    let signature = b"hmac-sha256-signature-bytes-0197".to_vec();
    vec![
        case(
            Some("ecommerce.iam.v1.SignUpRequest"),
            &SignUpRequest {
                email: "ada@example.com".to_owned(),
                password: PASSWORD.to_owned(),
                name: "Ada Lovelace".to_owned(),
                idempotency_key: "idem-signup-0197".to_owned(),
            },
            &[PASSWORD],
            &["ada@example.com", "Ada Lovelace", "idem-signup-0197"],
        ),
        case(
            Some("ecommerce.iam.v1.SignInRequest"),
            &SignInRequest {
                email: "ada@example.com".to_owned(),
                password: PASSWORD.to_owned(),
            },
            &[PASSWORD],
            &["ada@example.com"],
        ),
        case(
            Some("ecommerce.iam.v1.SessionTokens"),
            &session_tokens(),
            &[ACCESS_TOKEN, REFRESH_TOKEN],
            &[
                "access_token_expires_at",
                "1700000900",
                "refresh_token_expires_at",
                "1702592000",
            ],
        ),
        case(
            None,
            &SignInResponse {
                tokens: Some(session_tokens()),
                user: Some(user()),
            },
            &[ACCESS_TOKEN, REFRESH_TOKEN],
            &["user-0197", "ada@example.com", "1700000900"],
        ),
        case(
            None,
            &RefreshSessionResponse {
                tokens: Some(session_tokens()),
            },
            &[ACCESS_TOKEN, REFRESH_TOKEN],
            &["1702592000"],
        ),
        case(
            Some("ecommerce.iam.v1.SignOutRequest"),
            &SignOutRequest {
                refresh_token: REFRESH_TOKEN.to_owned(),
            },
            &[REFRESH_TOKEN],
            &["SignOutRequest", "refresh_token"],
        ),
        case(
            Some("ecommerce.iam.v1.RefreshSessionRequest"),
            &RefreshSessionRequest {
                refresh_token: REFRESH_TOKEN.to_owned(),
            },
            &[REFRESH_TOKEN],
            &["RefreshSessionRequest", "refresh_token"],
        ),
        case(
            Some("ecommerce.iam.v1.VerifyEmailRequest"),
            &VerifyEmailRequest {
                token: VERIFICATION_TOKEN.to_owned(),
            },
            &[VERIFICATION_TOKEN],
            &["VerifyEmailRequest", "token"],
        ),
        case(
            Some("ecommerce.cart.v1.CheckoutRequest"),
            &CheckoutRequest {
                cart_id: "cart-0197".to_owned(),
                shipping_option_id: "ship-0197".to_owned(),
                payment_method_token: PAYMENT_TOKEN.to_owned(),
                idempotency_key: "idem-checkout-0197".to_owned(),
                expected_version: Some(41),
            },
            &[PAYMENT_TOKEN],
            &["cart-0197", "ship-0197", "idem-checkout-0197", "41"],
        ),
        case(
            Some("ecommerce.orders.v1.CheckoutSnapshot"),
            &snapshot(),
            &[PAYMENT_TOKEN],
            &[
                "cart-0197",
                "user-0197",
                "TEE-RED-M",
                "ship-0197",
                "4497",
                "EUR",
                "1700000300",
                "checkout-key-0197",
            ],
        ),
        case(
            Some("ecommerce.orders.v1.PlaceOrderRequest"),
            &PlaceOrderRequest {
                snapshot: signed_snapshot,
                signature,
                idempotency_key: "checkout-key-0197".to_owned(),
            },
            &[PAYMENT_TOKEN, "hmac-sha256-signature-bytes-0197"],
            &["checkout-key-0197", "snapshot", "signature"],
        ),
        case(
            Some("ecommerce.orders.v1.OrderPlaced"),
            &order_placed(),
            &[PAYMENT_TOKEN],
            &["order-0197", "user-0197", "4497", "EUR", "ship-0197"],
        ),
        case(
            Some("ecommerce.events.v1.EventEnvelope"),
            &EventEnvelope {
                id: "event-0197".to_owned(),
                r#type: "orders.order_placed.v1".to_owned(),
                occurred_at: timestamp(1_700_000_001),
                correlation_id: Some("correlation-0197".to_owned()),
                schema: Some(SchemaRef {
                    message_name: "ecommerce.orders.v1.OrderPlaced".to_owned(),
                    version: 1,
                    registry_id: Some(12),
                }),
                payload: Some(prost_types::Any {
                    type_url: "type.googleapis.com/ecommerce.orders.v1.OrderPlaced".to_owned(),
                    value: order_placed().encode_to_vec(),
                }),
                ..Default::default()
            },
            &[PAYMENT_TOKEN],
            &[
                "event-0197",
                "orders.order_placed.v1",
                "correlation-0197",
                "type.googleapis.com/ecommerce.orders.v1.OrderPlaced",
                "bytes>",
            ],
        ),
    ]
}

#[test]
fn debug_output_never_shows_a_secret_and_shows_every_other_field() {
    for case in cases() {
        for printed in [&case.plain, &case.pretty] {
            for secret in &case.secrets {
                assert!(
                    !printed.contains(secret.as_str()),
                    "{secret:?} leaked: {printed}"
                );
            }
            assert!(
                printed.contains(REDACTED) || printed.contains("bytes>"),
                "{printed}"
            );
            for shown in &case.shown {
                assert!(printed.contains(shown), "{shown:?} missing: {printed}");
            }
        }
    }
}

#[test]
fn every_redacted_message_is_exercised_above() {
    let exercised: BTreeSet<&str> = cases().iter().filter_map(|case| case.name).collect();
    let listed: BTreeSet<&str> = REDACTED_MESSAGE_NAMES.iter().copied().collect();
    assert_eq!(exercised, listed);
}

/// Field names that are not secrets although they match a secret word.
const NOT_SECRETS: &[&str] = &[
    // Paging cursors.
    "page_token",
    "next_page_token",
    // When a token expires.
    "access_token_expires_at",
    "refresh_token_expires_at",
];

/// Words that make a field name look like it holds a secret.
const SECRET_WORDS: &[&str] = &[
    "password",
    "passphrase",
    "token",
    "secret",
    "signature",
    "credential",
    "private",
    "otp",
    "cvv",
    "card_number",
];

fn collect_messages(
    prefix: &str,
    messages: &[prost_types::DescriptorProto],
    found: &mut Vec<(String, Vec<String>)>,
) {
    for message in messages {
        let name = format!("{prefix}.{}", message.name());
        // A field holding a message prints through that message's own
        // Debug, whose fields are checked where it is declared.
        let fields = message
            .field
            .iter()
            .filter(|field| field.r#type() != prost_types::field_descriptor_proto::Type::Message)
            .map(|field| field.name().to_owned())
            .collect();
        collect_messages(&name, &message.nested_type, found);
        found.push((name, fields));
    }
}

fn contract_messages() -> Vec<(String, Vec<String>)> {
    let set = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).unwrap();
    let mut found = Vec::new();
    for file in set
        .file
        .iter()
        .filter(|file| file.package().starts_with("ecommerce."))
    {
        collect_messages(file.package(), &file.message_type, &mut found);
    }
    found
}

#[test]
fn every_field_that_looks_like_a_secret_is_in_a_redacted_message() {
    let messages = contract_messages();
    assert!(messages.len() > 50, "{} messages", messages.len());
    let mut unredacted = Vec::new();
    for (message, fields) in &messages {
        for field in fields {
            let looks_secret = SECRET_WORDS.iter().any(|word| field.contains(word));
            if looks_secret
                && !NOT_SECRETS.contains(&field.as_str())
                && !REDACTED_MESSAGE_NAMES.contains(&message.as_str())
            {
                unredacted.push(format!("{message}.{field}"));
            }
        }
    }
    assert!(
        unredacted.is_empty(),
        "fields that look like secrets in messages whose Debug is derived \
         (add the message to crates/proto/redacted_messages.rs and write its \
         Debug in src/redacted.rs, or list the field in NOT_SECRETS): {unredacted:?}"
    );
}

#[test]
fn every_redacted_message_exists_in_the_contracts() {
    let names: BTreeSet<String> = contract_messages()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    for listed in REDACTED_MESSAGE_NAMES {
        assert!(names.contains(*listed), "{listed} is not a message");
    }
}
