//! The payment provider: the one port to the outside world payments has.
//!
//! Every call carries an idempotency key derived from the payment id and
//! the operation ([`IdempotencyKey::for_operation`]), so a call repeated
//! after a crash, a redelivery or a retry asks the provider the same
//! question and gets the same answer, never a second charge. That is what
//! lets the consumer call the provider inside its transaction (with the
//! payment row locked, so two triggers of one payment never race to the
//! provider) without a separate "calling" state: if the process dies after
//! the provider answered and before the commit, the message is redelivered
//! and the same call repeats harmlessly.

use std::fmt;

use async_trait::async_trait;
use ecommerce_kernel::Money;

use crate::domain::model::{
    DeclineCode, OrderId, PaymentId, PaymentMethodToken, ProviderReference,
};

/// The three provider calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProviderOperation {
    Authorize,
    Capture,
    Void,
}

impl ProviderOperation {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Authorize => "authorize",
            Self::Capture => "capture",
            Self::Void => "void",
        }
    }
}

impl fmt::Display for ProviderOperation {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// The key a provider deduplicates a call by.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// `payment:<payment id>:<operation>`: one key per operation of a
    /// payment, the same on every retry. The payment id rather than the
    /// order id, so that a second payment of one order (not made by the
    /// saga today, but allowed by `ListPayments`) gets its own keys.
    pub fn for_operation(payment_id: PaymentId, operation: ProviderOperation) -> Self {
        Self(format!("payment:{payment_id}:{operation}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Authorize `amount` on the payment method.
#[derive(Clone, Debug)]
pub struct AuthorizeRequest<'a> {
    pub idempotency_key: IdempotencyKey,
    pub payment_id: PaymentId,
    pub order_id: OrderId,
    pub amount: Money,
    pub payment_method: &'a PaymentMethodToken,
}

/// Capture (collect) an authorization in full, or void (release) it.
#[derive(Clone, Debug)]
pub struct SettleRequest<'a> {
    pub idempotency_key: IdempotencyKey,
    pub payment_id: PaymentId,
    pub order_id: OrderId,
    pub amount: Money,
    pub provider_reference: &'a ProviderReference,
}

/// How a provider call failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The provider answered no; asking again gives the same answer.
    #[error("declined: {0}")]
    Declined(DeclineCode),
    /// No answer (network, timeout, provider error): retry later with the
    /// same idempotency key.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

/// A payment provider.
#[async_trait]
pub trait PaymentProvider: Send + Sync + fmt::Debug {
    /// Holds the amount; answers the authorization's reference.
    async fn authorize(
        &self,
        request: AuthorizeRequest<'_>,
    ) -> Result<ProviderReference, ProviderError>;

    /// Collects a held amount.
    async fn capture(&self, request: SettleRequest<'_>) -> Result<(), ProviderError>;

    /// Releases a held amount.
    async fn void(&self, request: SettleRequest<'_>) -> Result<(), ProviderError>;
}

/// The default provider: deterministic, in memory, stateless.
///
/// - `pm_card_visa` is authorized up to the limit (inclusive);
/// - above the limit it is declined with `amount_over_limit`;
/// - `pm_card_declined` is declined with `card_declined`, whatever the
///   amount;
/// - any other token is declined with `unknown_payment_method`.
///
/// The authorization reference is `sim_auth_<order id>`, so a repeated
/// authorization of one order answers the same reference, as a real
/// provider does for a repeated idempotency key. Capture and void accept
/// exactly the reference it would have issued for the order, and are
/// declined with `unknown_authorization` otherwise. Being stateless, it
/// does not notice a capture after a void: the state machine never asks
/// for one.
///
/// The limit is one number of minor units for every currency (a test
/// knob, not a risk rule).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimulatedProvider {
    limit_minor: i64,
}

impl SimulatedProvider {
    pub const APPROVED_TOKEN: &'static str = "pm_card_visa";
    pub const DECLINED_TOKEN: &'static str = "pm_card_declined";
    /// 10 000.00 in a currency with two decimals.
    pub const DEFAULT_LIMIT_MINOR: i64 = 1_000_000;
    pub const CARD_DECLINED: &'static str = "card_declined";
    pub const AMOUNT_OVER_LIMIT: &'static str = "amount_over_limit";
    pub const UNKNOWN_PAYMENT_METHOD: &'static str = "unknown_payment_method";
    pub const UNKNOWN_AUTHORIZATION: &'static str = "unknown_authorization";

    pub const fn with_limit(limit_minor: i64) -> Self {
        Self { limit_minor }
    }

    pub const fn limit_minor(&self) -> i64 {
        self.limit_minor
    }

    /// The reference an authorization of `order_id` gets.
    pub fn reference_for(order_id: OrderId) -> ProviderReference {
        ProviderReference::from_trusted(format!("sim_auth_{order_id}"))
    }

    fn declined(code: &'static str) -> ProviderError {
        ProviderError::Declined(DeclineCode::from_trusted(code.to_owned()))
    }

    fn settle(&self, request: &SettleRequest<'_>) -> Result<(), ProviderError> {
        if *request.provider_reference != Self::reference_for(request.order_id) {
            return Err(Self::declined(Self::UNKNOWN_AUTHORIZATION));
        }
        Ok(())
    }
}

impl Default for SimulatedProvider {
    fn default() -> Self {
        Self::with_limit(Self::DEFAULT_LIMIT_MINOR)
    }
}

#[async_trait]
impl PaymentProvider for SimulatedProvider {
    async fn authorize(
        &self,
        request: AuthorizeRequest<'_>,
    ) -> Result<ProviderReference, ProviderError> {
        match request.payment_method.expose() {
            Self::DECLINED_TOKEN => Err(Self::declined(Self::CARD_DECLINED)),
            Self::APPROVED_TOKEN if request.amount.amount_minor() > self.limit_minor => {
                Err(Self::declined(Self::AMOUNT_OVER_LIMIT))
            }
            Self::APPROVED_TOKEN => Ok(Self::reference_for(request.order_id)),
            _ => Err(Self::declined(Self::UNKNOWN_PAYMENT_METHOD)),
        }
    }

    async fn capture(&self, request: SettleRequest<'_>) -> Result<(), ProviderError> {
        self.settle(&request)
    }

    async fn void(&self, request: SettleRequest<'_>) -> Result<(), ProviderError> {
        self.settle(&request)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::domain::model::tests::eur;

    fn token(raw: &str) -> PaymentMethodToken {
        PaymentMethodToken::parse(raw).unwrap()
    }

    fn authorize_request(
        token: &PaymentMethodToken,
        order_id: OrderId,
        amount_minor: i64,
    ) -> AuthorizeRequest<'_> {
        let payment_id = PaymentId::generate();
        AuthorizeRequest {
            idempotency_key: IdempotencyKey::for_operation(
                payment_id,
                ProviderOperation::Authorize,
            ),
            payment_id,
            order_id,
            amount: eur(amount_minor),
            payment_method: token,
        }
    }

    fn code(result: Result<ProviderReference, ProviderError>) -> String {
        match result {
            Err(ProviderError::Declined(code)) => code.as_str().to_owned(),
            other => panic!("expected a decline, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn visa_is_authorized_up_to_the_limit() {
        let provider = SimulatedProvider::with_limit(5_000);
        let visa = token("pm_card_visa");
        let order_id = OrderId::generate();
        let reference = provider
            .authorize(authorize_request(&visa, order_id, 5_000))
            .await
            .unwrap();
        assert_eq!(reference.as_str(), format!("sim_auth_{order_id}"));
        assert_eq!(reference, SimulatedProvider::reference_for(order_id));
        assert_eq!(
            provider
                .authorize(authorize_request(&visa, order_id, 0))
                .await
                .unwrap(),
            reference,
            "a retry of the same order answers the same reference"
        );
        assert_eq!(
            code(
                provider
                    .authorize(authorize_request(&visa, order_id, 5_001))
                    .await
            ),
            "amount_over_limit"
        );
        assert_ne!(
            provider
                .authorize(authorize_request(&visa, OrderId::generate(), 1))
                .await
                .unwrap(),
            reference
        );
    }

    #[tokio::test]
    async fn declined_and_unknown_tokens_fail_with_a_reason() {
        let provider = SimulatedProvider::default();
        assert_eq!(provider.limit_minor(), 1_000_000);
        let order_id = OrderId::generate();
        let declined = token("pm_card_declined");
        assert_eq!(
            code(
                provider
                    .authorize(authorize_request(&declined, order_id, 1))
                    .await
            ),
            "card_declined"
        );
        assert_eq!(
            code(
                provider
                    .authorize(authorize_request(&declined, order_id, 10_000_000))
                    .await
            ),
            "card_declined",
            "the card's answer comes before the limit"
        );
        for unknown in ["pm_card_mastercard", "PM_CARD_VISA", "pm_card_visa_"] {
            assert_eq!(
                code(
                    provider
                        .authorize(authorize_request(&token(unknown), order_id, 1))
                        .await
                ),
                "unknown_payment_method",
                "{unknown}"
            );
        }
    }

    #[tokio::test]
    async fn capture_and_void_accept_only_the_issued_reference() {
        let provider = SimulatedProvider::default();
        let order_id = OrderId::generate();
        let payment_id = PaymentId::generate();
        let issued = SimulatedProvider::reference_for(order_id);
        let other = SimulatedProvider::reference_for(OrderId::generate());
        let request = |operation, reference| SettleRequest {
            idempotency_key: IdempotencyKey::for_operation(payment_id, operation),
            payment_id,
            order_id,
            amount: eur(100),
            provider_reference: reference,
        };
        assert_eq!(
            provider
                .capture(request(ProviderOperation::Capture, &issued))
                .await,
            Ok(())
        );
        assert_eq!(
            provider
                .capture(request(ProviderOperation::Capture, &issued))
                .await,
            Ok(())
        );
        assert_eq!(
            provider
                .void(request(ProviderOperation::Void, &issued))
                .await,
            Ok(())
        );
        for result in [
            provider
                .capture(request(ProviderOperation::Capture, &other))
                .await,
            provider
                .void(request(ProviderOperation::Void, &other))
                .await,
        ] {
            assert_eq!(
                result,
                Err(ProviderError::Declined(
                    DeclineCode::parse("unknown_authorization").unwrap()
                ))
            );
        }
    }

    #[test]
    fn the_simulated_decline_codes_are_valid_codes() {
        for code in [
            SimulatedProvider::CARD_DECLINED,
            SimulatedProvider::AMOUNT_OVER_LIMIT,
            SimulatedProvider::UNKNOWN_PAYMENT_METHOD,
            SimulatedProvider::UNKNOWN_AUTHORIZATION,
        ] {
            assert_eq!(DeclineCode::parse(code).unwrap().as_str(), code);
        }
        let reference = SimulatedProvider::reference_for(OrderId::generate());
        assert_eq!(
            ProviderReference::parse(reference.as_str()).unwrap(),
            reference
        );
    }

    #[test]
    fn idempotency_keys_are_per_payment_and_operation() {
        let payment_id = PaymentId::generate();
        let authorize = IdempotencyKey::for_operation(payment_id, ProviderOperation::Authorize);
        assert_eq!(
            authorize.as_str(),
            format!("payment:{payment_id}:authorize")
        );
        assert_eq!(
            authorize,
            IdempotencyKey::for_operation(payment_id, ProviderOperation::Authorize)
        );
        assert_ne!(
            authorize,
            IdempotencyKey::for_operation(payment_id, ProviderOperation::Capture)
        );
        assert_ne!(
            authorize,
            IdempotencyKey::for_operation(PaymentId::generate(), ProviderOperation::Authorize)
        );
    }

    #[test]
    fn debug_of_a_request_hides_the_token() {
        let visa = token("pm_card_visa");
        let debug = format!("{:?}", authorize_request(&visa, OrderId::generate(), 1));
        assert!(!debug.contains("pm_card_visa"), "{debug}");
    }
}
