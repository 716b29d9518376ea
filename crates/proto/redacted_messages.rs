// The messages whose `Debug` is written by hand in src/redacted.rs because
// a field holds a secret (a password, a token, a payment method token, a
// signature, or bytes that encode one). Included by build.rs, which tells
// prost not to derive `Debug` for them, and by src/redacted.rs, whose tests
// check the list against the descriptor set.
//
// A message added here without an impl in src/redacted.rs fails to compile
// (prost::Message requires Debug); one left out that still has an impl
// fails too (two Debug impls).
#[allow(dead_code)]
const REDACTED_MESSAGES: &[&str] = &[
    "ecommerce.cart.v1.CheckoutRequest",
    "ecommerce.events.v1.EventEnvelope",
    "ecommerce.iam.v1.RefreshSessionRequest",
    "ecommerce.iam.v1.SessionTokens",
    "ecommerce.iam.v1.SignInRequest",
    "ecommerce.iam.v1.SignOutRequest",
    "ecommerce.iam.v1.SignUpRequest",
    "ecommerce.iam.v1.VerifyEmailRequest",
    "ecommerce.orders.v1.CheckoutSnapshot",
    "ecommerce.orders.v1.OrderPlaced",
    "ecommerce.orders.v1.PlaceOrderRequest",
];
