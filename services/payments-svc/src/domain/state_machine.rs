//! The payment state machine: every (state, input) pair decided in one
//! table, [`decide`], and the transitions it leads to.
//!
//! | state \ input | order_placed | stock.reserved | reservation_failed / _released / _expired, order_canceled | shipment.shipped | CapturePayment (admin) |
//! |---|---|---|---|---|---|
//! | none       | record intent (PENDING) | retry later | retry later | retry later | NOT_FOUND |
//! | PENDING    | ignored | authorize at the provider -> AUTHORIZED or FAILED | VOIDED, no provider call | contradiction | FAILED_PRECONDITION |
//! | AUTHORIZED | ignored | ignored | void at the provider -> VOIDED | capture -> CAPTURED | capture -> CAPTURED |
//! | FAILED     | ignored | ignored | ignored (nothing to void) | contradiction | FAILED_PRECONDITION |
//! | CAPTURED   | ignored | ignored | contradiction (a refund) | ignored | ignored (answers it unchanged) |
//! | VOIDED     | ignored | ignored (never authorize after a void) | ignored | contradiction | FAILED_PRECONDITION |
//!
//! Decisions, and why:
//! - **Void of a PENDING intent** (cancel, expiry or a failed reservation
//!   before authorization): it becomes VOIDED and `payment_voided` is
//!   emitted, but the provider is not called, since nothing is held there.
//!   VOIDED rather than left PENDING so that a `stock.reserved` arriving
//!   afterwards (the queues are not ordered with each other) can never
//!   authorize an order that is already over.
//! - **Void after authorization** releases the hold at the provider, then
//!   VOIDED; the authorization stays on record.
//! - **Every "this order will not complete" signal voids**: `order_canceled`
//!   and `reservation_expired` as the design says, `reservation_failed` as
//!   the proto's void reasons list, and also `reservation_released`: an
//!   operator's ReleaseReservation otherwise leaves an authorization
//!   nobody voids. When the saga itself released (after `payment_failed`
//!   or `order_canceled`), the payment is FAILED or VOIDED already and the
//!   release is ignored.
//! - **No payment yet**: payments reads `orders.*` and `inventory.*` from
//!   two queues, so `stock.reserved` may overtake `order_placed`. The
//!   consumer requeues (a retryable error) until the intent is recorded;
//!   the queue's delivery limit bounds it.
//! - **Contradictions** (goods shipped for a payment never authorized or
//!   voided, a cancel after capture, which needs a refund) are errors that
//!   no retry fixes: the message is dead-lettered for an operator, never
//!   dropped.
//! - **Repeats** of an input whose effect has happened, or been overtaken
//!   by a terminal state, are ignored (and recorded as processed).

use std::fmt;

use chrono::{DateTime, Utc};

use crate::domain::error::PaymentError;
use crate::domain::events::{
    PaymentAuthorized, PaymentCaptured, PaymentEvent, PaymentFailed, PaymentVoided,
};
use crate::domain::model::{
    AuthorizationRecord, DeclineCode, Payment, PaymentState, PaymentStatus, ProviderReference,
    VoidReason,
};

/// What reaches a payment: an event it consumes, or the admin RPC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PaymentTrigger {
    /// `orders.order_placed.v1`.
    OrderPlaced,
    /// `inventory.stock.reserved.v1`.
    StockReserved,
    /// `inventory.stock.reservation_failed.v1`.
    ReservationFailed,
    /// `inventory.stock.reservation_released.v1`.
    ReservationReleased,
    /// `inventory.stock.reservation_expired.v1`.
    ReservationExpired,
    /// `orders.order_canceled.v1`.
    OrderCanceled,
    /// `fulfillment.shipment.shipped.v1`.
    ShipmentShipped,
    /// `PaymentService.CapturePayment`.
    CaptureRequested,
}

impl PaymentTrigger {
    pub const ALL: [Self; 8] = [
        Self::OrderPlaced,
        Self::StockReserved,
        Self::ReservationFailed,
        Self::ReservationReleased,
        Self::ReservationExpired,
        Self::OrderCanceled,
        Self::ShipmentShipped,
        Self::CaptureRequested,
    ];
}

/// A short name, for errors and logs; which event type brought it is the
/// events adapter's business (`crate::convert::events`).
impl fmt::Display for PaymentTrigger {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::OrderPlaced => "order placed",
            Self::StockReserved => "stock reserved",
            Self::ReservationFailed => "reservation failed",
            Self::ReservationReleased => "reservation released",
            Self::ReservationExpired => "reservation expired",
            Self::OrderCanceled => "order canceled",
            Self::ShipmentShipped => "shipment shipped",
            Self::CaptureRequested => "CapturePayment",
        })
    }
}

/// Why an input changed nothing: the payment is already past it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IgnoredBecause {
    AlreadyRecorded,
    AlreadyAuthorized,
    AlreadyFailed,
    AlreadyCaptured,
    AlreadyVoided,
}

/// Why an input is refused (see [`PaymentError`] for each).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// Retry later: the intent is not recorded yet.
    IntentNotRecorded,
    NotFound,
    NotCapturable,
    Contradiction,
}

/// What to do with an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    /// Record a PENDING payment.
    RecordIntent,
    /// Ask the provider to authorize; AUTHORIZED or FAILED by its answer.
    Authorize,
    /// Ask the provider to capture; CAPTURED.
    Capture,
    /// Ask the provider to release the hold; VOIDED.
    VoidAuthorization(VoidReason),
    /// VOIDED without calling the provider: nothing is held.
    VoidIntent(VoidReason),
    Ignore(IgnoredBecause),
    Refuse(Refusal),
}

/// The whole state machine. `status` is `None` when the order has no
/// payment yet.
pub fn decide(status: Option<PaymentStatus>, trigger: PaymentTrigger) -> Step {
    use IgnoredBecause::{
        AlreadyAuthorized, AlreadyCaptured, AlreadyFailed, AlreadyRecorded, AlreadyVoided,
    };
    use PaymentStatus::{Authorized, Captured, Failed, Pending, Voided};
    use PaymentTrigger::{
        CaptureRequested, OrderCanceled, OrderPlaced, ReservationExpired, ReservationFailed,
        ReservationReleased, ShipmentShipped, StockReserved,
    };

    let Some(status) = status else {
        return match trigger {
            OrderPlaced => Step::RecordIntent,
            StockReserved | ReservationFailed | ReservationReleased | ReservationExpired
            | OrderCanceled | ShipmentShipped => Step::Refuse(Refusal::IntentNotRecorded),
            CaptureRequested => Step::Refuse(Refusal::NotFound),
        };
    };
    match (status, trigger) {
        (Pending | Authorized | Failed | Captured | Voided, OrderPlaced) => {
            Step::Ignore(AlreadyRecorded)
        }

        (Pending, StockReserved) => Step::Authorize,
        (Pending, ReservationFailed) => Step::VoidIntent(VoidReason::ReservationFailed),
        (Pending, ReservationReleased) => Step::VoidIntent(VoidReason::ReservationReleased),
        (Pending, ReservationExpired) => Step::VoidIntent(VoidReason::ReservationExpired),
        (Pending, OrderCanceled) => Step::VoidIntent(VoidReason::OrderCanceled),
        (Pending, ShipmentShipped) => Step::Refuse(Refusal::Contradiction),
        (Pending, CaptureRequested) => Step::Refuse(Refusal::NotCapturable),

        (Authorized, StockReserved) => Step::Ignore(AlreadyAuthorized),
        (Authorized, ReservationFailed) => Step::VoidAuthorization(VoidReason::ReservationFailed),
        (Authorized, ReservationReleased) => {
            Step::VoidAuthorization(VoidReason::ReservationReleased)
        }
        (Authorized, ReservationExpired) => Step::VoidAuthorization(VoidReason::ReservationExpired),
        (Authorized, OrderCanceled) => Step::VoidAuthorization(VoidReason::OrderCanceled),
        (Authorized, ShipmentShipped | CaptureRequested) => Step::Capture,

        (Failed, StockReserved) => Step::Ignore(AlreadyFailed),
        (Failed, ReservationFailed | ReservationReleased | ReservationExpired | OrderCanceled) => {
            Step::Ignore(AlreadyFailed)
        }
        (Failed, ShipmentShipped) => Step::Refuse(Refusal::Contradiction),
        (Failed, CaptureRequested) => Step::Refuse(Refusal::NotCapturable),

        (Captured, StockReserved | ShipmentShipped | CaptureRequested) => {
            Step::Ignore(AlreadyCaptured)
        }
        (
            Captured,
            ReservationFailed | ReservationReleased | ReservationExpired | OrderCanceled,
        ) => Step::Refuse(Refusal::Contradiction),

        (
            Voided,
            StockReserved | ReservationFailed | ReservationReleased | ReservationExpired
            | OrderCanceled,
        ) => Step::Ignore(AlreadyVoided),
        (Voided, ShipmentShipped) => Step::Refuse(Refusal::Contradiction),
        (Voided, CaptureRequested) => Step::Refuse(Refusal::NotCapturable),
    }
}

/// A payment that changed and the event announcing it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub payment: Payment,
    pub event: PaymentEvent,
}

/// PENDING -> AUTHORIZED, on the provider's approval.
pub fn authorize(
    payment: &Payment,
    provider_reference: ProviderReference,
    now: DateTime<Utc>,
) -> Result<Change, PaymentError> {
    let authorized = payment.moved_to(
        PaymentState::Authorized(AuthorizationRecord {
            provider_reference: provider_reference.clone(),
            authorized_at: now,
        }),
        now,
    )?;
    let event = PaymentEvent::Authorized(PaymentAuthorized {
        payment_id: authorized.id(),
        order_id: authorized.order_id(),
        amount: authorized.amount(),
        provider_reference,
    });
    Ok(Change {
        payment: authorized,
        event,
    })
}

/// PENDING -> FAILED, on the provider's decline.
pub fn fail(
    payment: &Payment,
    failure_reason: DeclineCode,
    now: DateTime<Utc>,
) -> Result<Change, PaymentError> {
    let reason = failure_reason.as_str().to_owned();
    let failed = payment.moved_to(
        PaymentState::Failed {
            failure_reason,
            failed_at: now,
        },
        now,
    )?;
    let event = PaymentEvent::Failed(PaymentFailed {
        payment_id: failed.id(),
        order_id: failed.order_id(),
        amount: failed.amount(),
        reason,
    });
    Ok(Change {
        payment: failed,
        event,
    })
}

/// AUTHORIZED -> CAPTURED, once the provider collected.
pub fn capture(payment: &Payment, now: DateTime<Utc>) -> Result<Change, PaymentError> {
    let PaymentState::Authorized(authorization) = payment.state() else {
        return Err(PaymentError::inconsistent(format!(
            "payment {} is {}, not AUTHORIZED: nothing to capture",
            payment.id(),
            payment.status()
        )));
    };
    let provider_reference = authorization.provider_reference.clone();
    let captured = payment.moved_to(
        PaymentState::Captured {
            authorization: authorization.clone(),
            captured_at: now,
        },
        now,
    )?;
    let event = PaymentEvent::Captured(PaymentCaptured {
        payment_id: captured.id(),
        order_id: captured.order_id(),
        amount: captured.amount(),
        provider_reference,
    });
    Ok(Change {
        payment: captured,
        event,
    })
}

/// PENDING or AUTHORIZED -> VOIDED (after the provider released the hold,
/// when there was one).
pub fn void(
    payment: &Payment,
    reason: VoidReason,
    now: DateTime<Utc>,
) -> Result<Change, PaymentError> {
    let voided = payment.moved_to(
        PaymentState::Voided {
            authorization: payment.state().authorization().cloned(),
            reason,
            voided_at: now,
        },
        now,
    )?;
    let event = PaymentEvent::Voided(PaymentVoided {
        payment_id: voided.id(),
        order_id: voided.order_id(),
        amount: voided.amount(),
        reason,
    });
    Ok(Change {
        payment: voided,
        event,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::domain::model::tests::{intent, t0};
    use ecommerce_kernel::ErrorCode;

    /// Every (state, trigger) pair with the expected step: 6 x 8 rows.
    #[test]
    fn every_state_and_trigger() {
        use IgnoredBecause::*;
        use PaymentStatus::{Authorized, Captured, Failed, Pending, Voided};
        use PaymentTrigger::*;
        use Refusal::*;
        use Step::{
            Authorize, Capture, Ignore, RecordIntent, Refuse, VoidAuthorization, VoidIntent,
        };
        let table: [(Option<PaymentStatus>, [Step; 8]); 6] = [
            // OrderPlaced, StockReserved, ReservationFailed, ReservationReleased,
            // ReservationExpired, OrderCanceled, ShipmentShipped, CaptureRequested
            (
                None,
                [
                    RecordIntent,
                    Refuse(IntentNotRecorded),
                    Refuse(IntentNotRecorded),
                    Refuse(IntentNotRecorded),
                    Refuse(IntentNotRecorded),
                    Refuse(IntentNotRecorded),
                    Refuse(IntentNotRecorded),
                    Refuse(NotFound),
                ],
            ),
            (
                Some(Pending),
                [
                    Ignore(AlreadyRecorded),
                    Authorize,
                    VoidIntent(VoidReason::ReservationFailed),
                    VoidIntent(VoidReason::ReservationReleased),
                    VoidIntent(VoidReason::ReservationExpired),
                    VoidIntent(VoidReason::OrderCanceled),
                    Refuse(Contradiction),
                    Refuse(NotCapturable),
                ],
            ),
            (
                Some(Authorized),
                [
                    Ignore(AlreadyRecorded),
                    Ignore(AlreadyAuthorized),
                    VoidAuthorization(VoidReason::ReservationFailed),
                    VoidAuthorization(VoidReason::ReservationReleased),
                    VoidAuthorization(VoidReason::ReservationExpired),
                    VoidAuthorization(VoidReason::OrderCanceled),
                    Capture,
                    Capture,
                ],
            ),
            (
                Some(Failed),
                [
                    Ignore(AlreadyRecorded),
                    Ignore(AlreadyFailed),
                    Ignore(AlreadyFailed),
                    Ignore(AlreadyFailed),
                    Ignore(AlreadyFailed),
                    Ignore(AlreadyFailed),
                    Refuse(Contradiction),
                    Refuse(NotCapturable),
                ],
            ),
            (
                Some(Captured),
                [
                    Ignore(AlreadyRecorded),
                    Ignore(AlreadyCaptured),
                    Refuse(Contradiction),
                    Refuse(Contradiction),
                    Refuse(Contradiction),
                    Refuse(Contradiction),
                    Ignore(AlreadyCaptured),
                    Ignore(AlreadyCaptured),
                ],
            ),
            (
                Some(Voided),
                [
                    Ignore(AlreadyRecorded),
                    Ignore(AlreadyVoided),
                    Ignore(AlreadyVoided),
                    Ignore(AlreadyVoided),
                    Ignore(AlreadyVoided),
                    Ignore(AlreadyVoided),
                    Refuse(Contradiction),
                    Refuse(NotCapturable),
                ],
            ),
        ];
        assert_eq!(
            PaymentTrigger::ALL,
            [
                OrderPlaced,
                StockReserved,
                ReservationFailed,
                ReservationReleased,
                ReservationExpired,
                OrderCanceled,
                ShipmentShipped,
                CaptureRequested
            ]
        );
        assert_eq!(table.len(), PaymentStatus::ALL.len() + 1);
        for (status, steps) in table {
            for (trigger, expected) in PaymentTrigger::ALL.into_iter().zip(steps) {
                assert_eq!(decide(status, trigger), expected, "{status:?} + {trigger}");
            }
        }
    }

    /// A step only ever moves a payment along an edge of the lifecycle.
    #[test]
    fn steps_follow_the_lifecycle() {
        for status in PaymentStatus::ALL {
            for trigger in PaymentTrigger::ALL {
                let targets: &[PaymentStatus] = match decide(Some(status), trigger) {
                    Step::RecordIntent => panic!("{status} + {trigger} records twice"),
                    Step::Authorize => &[PaymentStatus::Authorized, PaymentStatus::Failed],
                    Step::Capture => &[PaymentStatus::Captured],
                    Step::VoidAuthorization(_) | Step::VoidIntent(_) => &[PaymentStatus::Voided],
                    Step::Ignore(_) | Step::Refuse(_) => &[],
                };
                for target in targets {
                    assert!(
                        status.can_become(*target),
                        "{status} + {trigger} -> {target}"
                    );
                }
                if status.is_terminal() {
                    assert!(
                        matches!(
                            decide(Some(status), trigger),
                            Step::Ignore(_) | Step::Refuse(_)
                        ),
                        "{status} is terminal"
                    );
                }
            }
            match decide(Some(status), PaymentTrigger::StockReserved) {
                Step::Authorize => assert_eq!(status, PaymentStatus::Pending),
                _ => assert_ne!(status, PaymentStatus::Pending),
            }
        }
        // The provider's hold is released exactly when there is one.
        for trigger in PaymentTrigger::ALL {
            assert!(!matches!(
                decide(Some(PaymentStatus::Pending), trigger),
                Step::VoidAuthorization(_)
            ));
            assert!(!matches!(
                decide(Some(PaymentStatus::Authorized), trigger),
                Step::VoidIntent(_)
            ));
        }
    }

    #[test]
    fn triggers_read_as_their_names() {
        assert_eq!(
            PaymentTrigger::ShipmentShipped.to_string(),
            "shipment shipped"
        );
        assert_eq!(
            PaymentTrigger::CaptureRequested.to_string(),
            "CapturePayment"
        );
    }

    #[test]
    fn transitions_carry_their_data_and_events() {
        let pending = Payment::record(intent("pm_card_visa", 1234), t0());
        let reference = ProviderReference::parse("sim_auth_x").unwrap();
        let later = t0() + chrono::Duration::minutes(1);

        let authorized = authorize(&pending, reference.clone(), later).unwrap();
        assert_eq!(
            authorized.payment.state(),
            &PaymentState::Authorized(AuthorizationRecord {
                provider_reference: reference.clone(),
                authorized_at: later,
            })
        );
        assert_eq!(authorized.payment.updated_at(), later);
        assert_eq!(authorized.payment.created_at(), t0());
        assert_eq!(
            authorized.event,
            PaymentEvent::Authorized(PaymentAuthorized {
                payment_id: pending.id(),
                order_id: pending.order_id(),
                amount: pending.amount(),
                provider_reference: reference.clone(),
            })
        );

        let captured = capture(&authorized.payment, later).unwrap();
        assert_eq!(captured.payment.status(), PaymentStatus::Captured);
        assert_eq!(
            captured
                .payment
                .state()
                .authorization()
                .unwrap()
                .provider_reference,
            reference
        );
        let PaymentEvent::Captured(event) = &captured.event else {
            panic!("captured event");
        };
        assert_eq!(event.provider_reference, reference);

        let voided = void(&authorized.payment, VoidReason::OrderCanceled, later).unwrap();
        assert!(
            voided.payment.state().authorization().is_some(),
            "the authorization stays on record"
        );
        assert_eq!(
            voided.event,
            PaymentEvent::Voided(PaymentVoided {
                payment_id: pending.id(),
                order_id: pending.order_id(),
                amount: pending.amount(),
                reason: VoidReason::OrderCanceled,
            })
        );
        let voided_intent = void(&pending, VoidReason::ReservationExpired, later).unwrap();
        assert!(voided_intent.payment.state().authorization().is_none());

        let failed = fail(
            &pending,
            DeclineCode::parse("card_declined").unwrap(),
            later,
        )
        .unwrap();
        let PaymentEvent::Failed(event) = &failed.event else {
            panic!("failed event");
        };
        assert_eq!(event.reason, "card_declined");
        assert_eq!(event.amount, pending.amount());
    }

    #[test]
    fn transitions_off_the_lifecycle_are_bugs() {
        let pending = Payment::record(intent("pm_card_visa", 1), t0());
        let reference = ProviderReference::parse("r").unwrap();
        let authorized = authorize(&pending, reference.clone(), t0())
            .unwrap()
            .payment;
        let captured = capture(&authorized, t0()).unwrap().payment;
        let code = DeclineCode::parse("card_declined").unwrap();
        let errors = [
            capture(&pending, t0()).unwrap_err(),
            authorize(&authorized, reference.clone(), t0()).unwrap_err(),
            fail(&authorized, code.clone(), t0()).unwrap_err(),
            void(&captured, VoidReason::OrderCanceled, t0()).unwrap_err(),
            capture(&captured, t0()).unwrap_err(),
            authorize(&captured, reference, t0()).unwrap_err(),
            fail(&captured, code, t0()).unwrap_err(),
        ];
        for error in errors {
            assert_eq!(error.code(), ErrorCode::Internal, "{error}");
        }
    }
}
