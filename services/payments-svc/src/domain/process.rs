//! Handling one input end to end: decide, call the provider when the step
//! needs it, and return the new payment and its event.
//!
//! The storage layer runs [`handle`] inside the consumer's (or the RPC's)
//! transaction: `SELECT ... FROM payments WHERE order_id = $1 FOR UPDATE`,
//! `handle`, then write the payment (an `INSERT` for a recorded intent, an
//! `UPDATE ... WHERE id = $1 AND status = $read_status` otherwise) and the
//! outbox row, and commit. See `provider` for why calling the provider with
//! the row locked is safe to repeat.

use chrono::{DateTime, Utc};

use crate::domain::error::PaymentError;
use crate::domain::model::{OrderId, Payment, PaymentIntent};
use crate::domain::provider::{
    AuthorizeRequest, IdempotencyKey, PaymentProvider, ProviderError, ProviderOperation,
    SettleRequest,
};
use crate::domain::state_machine::{
    self, Change, IgnoredBecause, PaymentTrigger, Refusal, Step, decide,
};

/// An input with the data it carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PaymentInput {
    OrderPlaced(PaymentIntent),
    StockReserved,
    ReservationFailed,
    ReservationReleased,
    ReservationExpired,
    OrderCanceled,
    ShipmentShipped,
    CaptureRequested,
}

impl PaymentInput {
    pub fn trigger(&self) -> PaymentTrigger {
        match self {
            Self::OrderPlaced(_) => PaymentTrigger::OrderPlaced,
            Self::StockReserved => PaymentTrigger::StockReserved,
            Self::ReservationFailed => PaymentTrigger::ReservationFailed,
            Self::ReservationReleased => PaymentTrigger::ReservationReleased,
            Self::ReservationExpired => PaymentTrigger::ReservationExpired,
            Self::OrderCanceled => PaymentTrigger::OrderCanceled,
            Self::ShipmentShipped => PaymentTrigger::ShipmentShipped,
            Self::CaptureRequested => PaymentTrigger::CaptureRequested,
        }
    }
}

/// What handling an input produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PaymentOutcome {
    /// Insert this PENDING payment; there is no event for an intent.
    Recorded(Payment),
    /// Store the payment, emit the event.
    Changed(Change),
    /// Nothing to store or emit; record the message as processed.
    Ignored(IgnoredBecause),
}

/// Applies `input` to the payment of `order_id` (`None` when there is none
/// yet).
pub async fn handle(
    order_id: OrderId,
    payment: Option<&Payment>,
    input: PaymentInput,
    provider: &dyn PaymentProvider,
    now: DateTime<Utc>,
) -> Result<PaymentOutcome, PaymentError> {
    if let Some(payment) = payment {
        if payment.order_id() != order_id {
            return Err(PaymentError::inconsistent(format!(
                "payment {} of order {} was given for order {order_id}",
                payment.id(),
                payment.order_id()
            )));
        }
    }
    let step = decide(payment.map(Payment::status), input.trigger());
    match step {
        Step::RecordIntent => {
            let PaymentInput::OrderPlaced(intent) = input else {
                return Err(PaymentError::inconsistent(
                    "only order_placed records an intent",
                ));
            };
            if intent.order_id != order_id {
                return Err(PaymentError::inconsistent(format!(
                    "the intent of order {} was given for order {order_id}",
                    intent.order_id
                )));
            }
            Ok(PaymentOutcome::Recorded(Payment::record(intent, now)))
        }
        Step::Authorize => {
            let payment = required(payment, step)?;
            let request = AuthorizeRequest {
                idempotency_key: IdempotencyKey::for_operation(
                    payment.id(),
                    ProviderOperation::Authorize,
                ),
                payment_id: payment.id(),
                order_id,
                amount: payment.amount(),
                payment_method: payment.payment_method(),
            };
            let change = match provider.authorize(request).await {
                Ok(reference) => state_machine::authorize(payment, reference, now)?,
                Err(ProviderError::Declined(code)) => state_machine::fail(payment, code, now)?,
                Err(ProviderError::Unavailable(message)) => {
                    return Err(PaymentError::ProviderUnavailable {
                        operation: ProviderOperation::Authorize,
                        message,
                    });
                }
            };
            Ok(PaymentOutcome::Changed(change))
        }
        Step::Capture => {
            let payment = required(payment, step)?;
            settle(payment, ProviderOperation::Capture, provider).await?;
            state_machine::capture(payment, now).map(PaymentOutcome::Changed)
        }
        Step::VoidAuthorization(reason) => {
            let payment = required(payment, step)?;
            settle(payment, ProviderOperation::Void, provider).await?;
            state_machine::void(payment, reason, now).map(PaymentOutcome::Changed)
        }
        Step::VoidIntent(reason) => {
            let payment = required(payment, step)?;
            state_machine::void(payment, reason, now).map(PaymentOutcome::Changed)
        }
        Step::Ignore(because) => Ok(PaymentOutcome::Ignored(because)),
        Step::Refuse(refusal) => Err(refused(order_id, payment, input.trigger(), refusal)),
    }
}

/// Captures or voids the payment's authorization at the provider.
async fn settle(
    payment: &Payment,
    operation: ProviderOperation,
    provider: &dyn PaymentProvider,
) -> Result<(), PaymentError> {
    let authorization = payment.state().authorization().ok_or_else(|| {
        PaymentError::inconsistent(format!(
            "payment {} is {} without an authorization to {operation}",
            payment.id(),
            payment.status()
        ))
    })?;
    let request = SettleRequest {
        idempotency_key: IdempotencyKey::for_operation(payment.id(), operation),
        payment_id: payment.id(),
        order_id: payment.order_id(),
        amount: payment.amount(),
        provider_reference: &authorization.provider_reference,
    };
    let answer = match operation {
        ProviderOperation::Capture => provider.capture(request).await,
        ProviderOperation::Void => provider.void(request).await,
        ProviderOperation::Authorize => {
            return Err(PaymentError::inconsistent("authorize is not a settlement"));
        }
    };
    answer.map_err(|error| match error {
        ProviderError::Declined(code) => PaymentError::ProviderRefused {
            payment_id: payment.id(),
            operation,
            code: code.as_str().to_owned(),
        },
        ProviderError::Unavailable(message) => {
            PaymentError::ProviderUnavailable { operation, message }
        }
    })
}

fn required(payment: Option<&Payment>, step: Step) -> Result<&Payment, PaymentError> {
    payment.ok_or_else(|| PaymentError::inconsistent(format!("{step:?} without a payment")))
}

fn refused(
    order_id: OrderId,
    payment: Option<&Payment>,
    trigger: PaymentTrigger,
    refusal: Refusal,
) -> PaymentError {
    match (refusal, payment) {
        (Refusal::IntentNotRecorded, _) => PaymentError::IntentNotRecorded { order_id },
        (Refusal::NotFound, _) => PaymentError::NotFound { order_id },
        (Refusal::NotCapturable, Some(payment)) => PaymentError::NotCapturable {
            payment_id: payment.id(),
            status: payment.status(),
        },
        (Refusal::Contradiction, Some(payment)) => PaymentError::Contradiction {
            payment_id: payment.id(),
            status: payment.status(),
            trigger,
        },
        (Refusal::NotCapturable | Refusal::Contradiction, None) => {
            PaymentError::inconsistent(format!("{refusal:?} without a payment"))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::{Mutex, PoisonError};

    use async_trait::async_trait;
    use chrono::Duration;

    use super::*;
    use crate::domain::events::PaymentEvent;
    use crate::domain::model::tests::{eur, intent, t0};
    use crate::domain::model::{
        DeclineCode, PaymentId, PaymentMethodToken, PaymentState, PaymentStatus, ProviderReference,
        VoidReason,
    };
    use crate::domain::provider::SimulatedProvider;
    use ecommerce_kernel::ErrorCode;

    /// The simulated provider, recording every call, and failing the next
    /// calls with a scripted error when told to.
    #[derive(Debug, Default)]
    struct Recording {
        inner: SimulatedProvider,
        calls: Mutex<Vec<(ProviderOperation, String)>>,
        next_errors: Mutex<Vec<ProviderError>>,
    }

    impl Recording {
        fn calls(&self) -> Vec<(ProviderOperation, String)> {
            self.calls
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
        }

        fn operations(&self) -> Vec<ProviderOperation> {
            self.calls()
                .into_iter()
                .map(|(operation, _)| operation)
                .collect()
        }

        fn fail_next(&self, error: ProviderError) {
            self.next_errors
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(error);
        }

        fn record(
            &self,
            operation: ProviderOperation,
            key: &IdempotencyKey,
        ) -> Result<(), ProviderError> {
            self.calls
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((operation, key.as_str().to_owned()));
            match self
                .next_errors
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop()
            {
                Some(error) => Err(error),
                None => Ok(()),
            }
        }
    }

    #[async_trait]
    impl PaymentProvider for Recording {
        async fn authorize(
            &self,
            request: AuthorizeRequest<'_>,
        ) -> Result<ProviderReference, ProviderError> {
            self.record(ProviderOperation::Authorize, &request.idempotency_key)?;
            self.inner.authorize(request).await
        }

        async fn capture(&self, request: SettleRequest<'_>) -> Result<(), ProviderError> {
            self.record(ProviderOperation::Capture, &request.idempotency_key)?;
            self.inner.capture(request).await
        }

        async fn void(&self, request: SettleRequest<'_>) -> Result<(), ProviderError> {
            self.record(ProviderOperation::Void, &request.idempotency_key)?;
            self.inner.void(request).await
        }
    }

    fn later(minutes: i64) -> DateTime<Utc> {
        t0() + Duration::minutes(minutes)
    }

    async fn recorded(provider: &Recording, token: &str, amount_minor: i64) -> Payment {
        let intent = intent(token, amount_minor);
        let order_id = intent.order_id;
        match handle(
            order_id,
            None,
            PaymentInput::OrderPlaced(intent),
            provider,
            t0(),
        )
        .await
        .unwrap()
        {
            PaymentOutcome::Recorded(payment) => payment,
            other => panic!("expected a recorded intent, got {other:?}"),
        }
    }

    async fn changed(
        payment: &Payment,
        input: PaymentInput,
        provider: &Recording,
        now: DateTime<Utc>,
    ) -> Change {
        match handle(payment.order_id(), Some(payment), input, provider, now)
            .await
            .unwrap()
        {
            PaymentOutcome::Changed(change) => change,
            other => panic!("expected a change, got {other:?}"),
        }
    }

    async fn ignored(
        payment: &Payment,
        input: PaymentInput,
        provider: &Recording,
    ) -> IgnoredBecause {
        match handle(
            payment.order_id(),
            Some(payment),
            input,
            provider,
            later(99),
        )
        .await
        .unwrap()
        {
            PaymentOutcome::Ignored(because) => because,
            other => panic!("expected the input to be ignored, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn happy_path_authorizes_then_captures_once() {
        let provider = Recording::default();
        let pending = recorded(&provider, "pm_card_visa", 2_500).await;
        assert_eq!(pending.status(), PaymentStatus::Pending);
        assert_eq!(pending.amount(), eur(2_500));
        assert!(
            provider.calls().is_empty(),
            "recording an intent calls nobody"
        );

        let authorized = changed(&pending, PaymentInput::StockReserved, &provider, later(1)).await;
        let reference = SimulatedProvider::reference_for(pending.order_id());
        assert_eq!(
            authorized.payment.state(),
            &PaymentState::Authorized(crate::domain::model::AuthorizationRecord {
                provider_reference: reference.clone(),
                authorized_at: later(1),
            })
        );
        assert!(matches!(authorized.event, PaymentEvent::Authorized(_)));

        assert_eq!(
            ignored(&authorized.payment, PaymentInput::StockReserved, &provider).await,
            IgnoredBecause::AlreadyAuthorized
        );

        let captured = changed(
            &authorized.payment,
            PaymentInput::ShipmentShipped,
            &provider,
            later(2),
        )
        .await;
        assert_eq!(captured.payment.status(), PaymentStatus::Captured);
        let PaymentEvent::Captured(event) = &captured.event else {
            panic!("captured event");
        };
        assert_eq!(event.provider_reference, reference);
        assert_eq!(event.amount, eur(2_500));

        for input in [
            PaymentInput::ShipmentShipped,
            PaymentInput::CaptureRequested,
            PaymentInput::StockReserved,
        ] {
            assert_eq!(
                ignored(&captured.payment, input, &provider).await,
                IgnoredBecause::AlreadyCaptured
            );
        }
        let payment_id = pending.id();
        assert_eq!(
            provider.calls(),
            [
                (
                    ProviderOperation::Authorize,
                    format!("payment:{payment_id}:authorize")
                ),
                (
                    ProviderOperation::Capture,
                    format!("payment:{payment_id}:capture")
                ),
            ]
        );
    }

    #[tokio::test]
    async fn declines_fail_the_payment_with_the_reason() {
        let provider = Recording::default();
        for (token, amount, code) in [
            ("pm_card_declined", 100, "card_declined"),
            (
                "pm_card_visa",
                SimulatedProvider::DEFAULT_LIMIT_MINOR + 1,
                "amount_over_limit",
            ),
            ("pm_card_amex", 100, "unknown_payment_method"),
        ] {
            let pending = recorded(&provider, token, amount).await;
            let failed = changed(&pending, PaymentInput::StockReserved, &provider, later(1)).await;
            assert_eq!(
                failed.payment.state(),
                &PaymentState::Failed {
                    failure_reason: DeclineCode::parse(code).unwrap(),
                    failed_at: later(1),
                }
            );
            let PaymentEvent::Failed(event) = &failed.event else {
                panic!("failed event");
            };
            assert_eq!(event.reason, code);
            assert_eq!(event.amount.amount_minor(), amount);
            for input in [
                PaymentInput::StockReserved,
                PaymentInput::OrderCanceled,
                PaymentInput::ReservationReleased,
                PaymentInput::ReservationExpired,
            ] {
                assert_eq!(
                    ignored(&failed.payment, input, &provider).await,
                    IgnoredBecause::AlreadyFailed
                );
            }
        }
        assert_eq!(provider.operations(), [ProviderOperation::Authorize; 3]);
    }

    #[tokio::test]
    async fn a_void_after_authorization_releases_the_hold() {
        for (input, reason) in [
            (PaymentInput::OrderCanceled, VoidReason::OrderCanceled),
            (
                PaymentInput::ReservationExpired,
                VoidReason::ReservationExpired,
            ),
            (
                PaymentInput::ReservationReleased,
                VoidReason::ReservationReleased,
            ),
            (
                PaymentInput::ReservationFailed,
                VoidReason::ReservationFailed,
            ),
        ] {
            let provider = Recording::default();
            let pending = recorded(&provider, "pm_card_visa", 100).await;
            let authorized =
                changed(&pending, PaymentInput::StockReserved, &provider, later(1)).await;
            let voided = changed(&authorized.payment, input.clone(), &provider, later(2)).await;
            let PaymentState::Voided {
                authorization,
                reason: stored,
                voided_at,
            } = voided.payment.state()
            else {
                panic!("voided");
            };
            assert_eq!(*stored, reason);
            assert_eq!(*voided_at, later(2));
            assert_eq!(
                authorization
                    .as_ref()
                    .map(|record| record.provider_reference.clone()),
                Some(SimulatedProvider::reference_for(pending.order_id()))
            );
            let PaymentEvent::Voided(event) = &voided.event else {
                panic!("voided event");
            };
            assert_eq!(event.reason, reason);
            assert_eq!(
                provider.operations(),
                [ProviderOperation::Authorize, ProviderOperation::Void]
            );
            assert_eq!(
                ignored(&voided.payment, input, &provider).await,
                IgnoredBecause::AlreadyVoided
            );
            assert_eq!(
                handle(
                    pending.order_id(),
                    Some(&voided.payment),
                    PaymentInput::ShipmentShipped,
                    &provider,
                    later(3)
                )
                .await
                .unwrap_err()
                .code(),
                ErrorCode::FailedPrecondition
            );
            assert_eq!(
                provider.operations().len(),
                2,
                "no provider call after the void"
            );
        }
    }

    #[tokio::test]
    async fn a_void_before_authorization_calls_nobody_and_blocks_a_late_reservation() {
        let provider = Recording::default();
        let pending = recorded(&provider, "pm_card_visa", 100).await;
        let voided = changed(
            &pending,
            PaymentInput::ReservationExpired,
            &provider,
            later(1),
        )
        .await;
        assert_eq!(
            voided.payment.state(),
            &PaymentState::Voided {
                authorization: None,
                reason: VoidReason::ReservationExpired,
                voided_at: later(1),
            }
        );
        assert!(matches!(voided.event, PaymentEvent::Voided(_)));
        assert_eq!(
            ignored(&voided.payment, PaymentInput::StockReserved, &provider).await,
            IgnoredBecause::AlreadyVoided
        );
        assert!(provider.calls().is_empty());
    }

    #[tokio::test]
    async fn an_unavailable_provider_changes_nothing_and_the_retry_succeeds() {
        let provider = Recording::default();
        let pending = recorded(&provider, "pm_card_visa", 100).await;
        provider.fail_next(ProviderError::Unavailable("timeout".to_owned()));
        let error = handle(
            pending.order_id(),
            Some(&pending),
            PaymentInput::StockReserved,
            &provider,
            later(1),
        )
        .await
        .unwrap_err();
        assert!(error.is_retryable(), "{error}");
        assert_eq!(
            error,
            PaymentError::ProviderUnavailable {
                operation: ProviderOperation::Authorize,
                message: "timeout".to_owned()
            }
        );
        // The redelivery asks the same question with the same key.
        let authorized = changed(&pending, PaymentInput::StockReserved, &provider, later(2)).await;
        let calls = provider.calls();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0], calls[1]);

        provider.fail_next(ProviderError::Unavailable("503".to_owned()));
        let error = handle(
            pending.order_id(),
            Some(&authorized.payment),
            PaymentInput::ShipmentShipped,
            &provider,
            later(3),
        )
        .await
        .unwrap_err();
        assert!(error.is_retryable());
        provider.fail_next(ProviderError::Unavailable("503".to_owned()));
        let error = handle(
            pending.order_id(),
            Some(&authorized.payment),
            PaymentInput::OrderCanceled,
            &provider,
            later(3),
        )
        .await
        .unwrap_err();
        assert!(error.is_retryable());
    }

    #[tokio::test]
    async fn a_refused_settlement_is_permanent() {
        let provider = Recording::default();
        let pending = recorded(&provider, "pm_card_visa", 100).await;
        let authorized = changed(&pending, PaymentInput::StockReserved, &provider, later(1)).await;
        for input in [PaymentInput::ShipmentShipped, PaymentInput::OrderCanceled] {
            provider.fail_next(ProviderError::Declined(
                DeclineCode::parse("authorization_expired").unwrap(),
            ));
            let error = handle(
                pending.order_id(),
                Some(&authorized.payment),
                input,
                &provider,
                later(2),
            )
            .await
            .unwrap_err();
            assert!(!error.is_retryable(), "{error}");
            assert!(
                matches!(error, PaymentError::ProviderRefused { ref code, .. } if code == "authorization_expired")
            );
        }
        // A stored authorization the provider never issued is refused too.
        let foreign = Payment::from_stored(
            PaymentId::generate(),
            pending.order_id(),
            pending.amount(),
            PaymentMethodToken::parse("pm_card_visa").unwrap(),
            PaymentState::Authorized(crate::domain::model::AuthorizationRecord {
                provider_reference: ProviderReference::parse("elsewhere_1").unwrap(),
                authorized_at: t0(),
            }),
            t0(),
            t0(),
        );
        assert!(matches!(
            handle(
                pending.order_id(),
                Some(&foreign),
                PaymentInput::ShipmentShipped,
                &provider,
                later(2)
            )
            .await,
            Err(PaymentError::ProviderRefused {
                operation: ProviderOperation::Capture,
                ..
            })
        ));
    }

    #[tokio::test]
    async fn inputs_before_the_intent_are_retried_and_capture_needs_a_payment() {
        let provider = Recording::default();
        let order_id = OrderId::generate();
        for trigger in PaymentTrigger::ALL {
            let input = match trigger {
                PaymentTrigger::OrderPlaced => continue,
                PaymentTrigger::StockReserved => PaymentInput::StockReserved,
                PaymentTrigger::ReservationFailed => PaymentInput::ReservationFailed,
                PaymentTrigger::ReservationReleased => PaymentInput::ReservationReleased,
                PaymentTrigger::ReservationExpired => PaymentInput::ReservationExpired,
                PaymentTrigger::OrderCanceled => PaymentInput::OrderCanceled,
                PaymentTrigger::ShipmentShipped => PaymentInput::ShipmentShipped,
                PaymentTrigger::CaptureRequested => PaymentInput::CaptureRequested,
            };
            let error = handle(order_id, None, input, &provider, t0())
                .await
                .unwrap_err();
            if trigger == PaymentTrigger::CaptureRequested {
                assert_eq!(error, PaymentError::NotFound { order_id });
            } else {
                assert_eq!(error, PaymentError::IntentNotRecorded { order_id });
                assert!(error.is_retryable());
            }
        }
        assert!(provider.calls().is_empty());
    }

    #[tokio::test]
    async fn admin_capture_follows_the_proto() {
        let provider = Recording::default();
        let pending = recorded(&provider, "pm_card_visa", 100).await;
        let error = handle(
            pending.order_id(),
            Some(&pending),
            PaymentInput::CaptureRequested,
            &provider,
            later(1),
        )
        .await
        .unwrap_err();
        assert_eq!(
            error,
            PaymentError::NotCapturable {
                payment_id: pending.id(),
                status: PaymentStatus::Pending
            }
        );
        let authorized = changed(&pending, PaymentInput::StockReserved, &provider, later(1)).await;
        let captured = changed(
            &authorized.payment,
            PaymentInput::CaptureRequested,
            &provider,
            later(2),
        )
        .await;
        assert_eq!(captured.payment.status(), PaymentStatus::Captured);
        // The shipment that follows an early capture is a repeat; a cancel
        // after it needs a refund, which is an operator's job.
        assert_eq!(
            ignored(&captured.payment, PaymentInput::ShipmentShipped, &provider).await,
            IgnoredBecause::AlreadyCaptured
        );
        let error = handle(
            pending.order_id(),
            Some(&captured.payment),
            PaymentInput::OrderCanceled,
            &provider,
            later(3),
        )
        .await
        .unwrap_err();
        assert!(matches!(
            error,
            PaymentError::Contradiction {
                status: PaymentStatus::Captured,
                ..
            }
        ));
        assert!(!error.is_retryable());
    }

    #[tokio::test]
    async fn a_repeated_order_placed_keeps_the_first_intent() {
        let provider = Recording::default();
        let pending = recorded(&provider, "pm_card_visa", 100).await;
        let again = PaymentIntent {
            order_id: pending.order_id(),
            ..intent("pm_card_declined", 999)
        };
        assert_eq!(
            ignored(&pending, PaymentInput::OrderPlaced(again), &provider).await,
            IgnoredBecause::AlreadyRecorded
        );
    }

    #[tokio::test]
    async fn mismatched_orders_are_bugs() {
        let provider = Recording::default();
        let pending = recorded(&provider, "pm_card_visa", 100).await;
        let error = handle(
            OrderId::generate(),
            Some(&pending),
            PaymentInput::StockReserved,
            &provider,
            t0(),
        )
        .await
        .unwrap_err();
        assert_eq!(error.code(), ErrorCode::Internal);
        let stray = intent("pm_card_visa", 1);
        let error = handle(
            OrderId::generate(),
            None,
            PaymentInput::OrderPlaced(stray),
            &provider,
            t0(),
        )
        .await
        .unwrap_err();
        assert_eq!(error.code(), ErrorCode::Internal);
        assert!(provider.calls().is_empty());
    }

    /// Property-style: random sequences of every input (duplicates and
    /// reorderings included) against one payment. Whatever the order, the
    /// payment only moves along the lifecycle, each event type is emitted
    /// at most once, the provider is asked to authorize only while PENDING
    /// and to capture or void only while AUTHORIZED, and nothing is
    /// authorized after a void.
    #[tokio::test]
    async fn random_input_sequences_keep_the_lifecycle() {
        let inputs = |intent: &PaymentIntent| {
            vec![
                PaymentInput::OrderPlaced(intent.clone()),
                PaymentInput::StockReserved,
                PaymentInput::ReservationFailed,
                PaymentInput::ReservationReleased,
                PaymentInput::ReservationExpired,
                PaymentInput::OrderCanceled,
                PaymentInput::ShipmentShipped,
                PaymentInput::CaptureRequested,
            ]
        };
        let mut state: u64 = 0x5EED;
        let mut next = move |bound: usize| {
            // xorshift64*: deterministic, no crate needed.
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % bound
        };
        let mut finals = std::collections::BTreeSet::new();
        for round in 0..400 {
            let provider = Recording::default();
            let token = ["pm_card_visa", "pm_card_visa", "pm_card_declined"][next(3)];
            let intent = intent(token, 100);
            let order_id = intent.order_id;
            let candidates = inputs(&intent);
            let mut payment: Option<Payment> = None;
            let mut emitted: Vec<std::mem::Discriminant<PaymentEvent>> = Vec::new();
            let mut was_voided = false;
            for step in 0..12 {
                let input = candidates[next(candidates.len())].clone();
                let before = payment.as_ref().map(Payment::status);
                let calls_before = provider.calls().len();
                let now = t0() + Duration::seconds(step);
                match handle(order_id, payment.as_ref(), input.clone(), &provider, now).await {
                    Ok(PaymentOutcome::Recorded(recorded)) => {
                        assert_eq!(before, None);
                        payment = Some(recorded);
                    }
                    Ok(PaymentOutcome::Changed(change)) => {
                        let from = before.unwrap();
                        let to = change.payment.status();
                        assert!(
                            from.can_become(to),
                            "round {round}: {from} -> {to} on {input:?}"
                        );
                        let kind = std::mem::discriminant(&change.event);
                        assert!(!emitted.contains(&kind), "round {round}");
                        emitted.push(kind);
                        if to == PaymentStatus::Authorized {
                            assert!(!was_voided, "round {round}: authorized after a void");
                        }
                        was_voided |= to == PaymentStatus::Voided;
                        payment = Some(change.payment);
                    }
                    Ok(PaymentOutcome::Ignored(_)) | Err(_) => {
                        assert_eq!(payment.as_ref().map(Payment::status), before);
                    }
                }
                for (operation, _) in &provider.calls()[calls_before..] {
                    let allowed = match operation {
                        ProviderOperation::Authorize => before == Some(PaymentStatus::Pending),
                        ProviderOperation::Capture | ProviderOperation::Void => {
                            before == Some(PaymentStatus::Authorized)
                        }
                    };
                    assert!(allowed, "round {round}: {operation} while {before:?}");
                }
            }
            if let Some(payment) = payment {
                finals.insert(payment.status().as_str());
            }
        }
        assert_eq!(
            finals.len(),
            PaymentStatus::ALL.len(),
            "every status reached: {finals:?}"
        );
    }
}
