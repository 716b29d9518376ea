//! The events payments emits, as domain values: one struct per message of
//! `proto/ecommerce/payments/v1/events.proto`, with its fields;
//! `crate::convert` turns a [`PaymentEvent`] into the generated event (one
//! `From`), so the outbox takes it as it is. They go to the shared
//! `orders.events` exchange; the envelope aggregate is the payment.

use ecommerce_kernel::Money;

use crate::domain::model::{OrderId, PaymentId, ProviderReference, VoidReason};

/// `payments.payment_authorized.v1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentAuthorized {
    pub payment_id: PaymentId,
    pub order_id: OrderId,
    pub amount: Money,
    pub provider_reference: ProviderReference,
}

/// `payments.payment_failed.v1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentFailed {
    pub payment_id: PaymentId,
    pub order_id: OrderId,
    pub amount: Money,
    /// The provider's decline code, e.g. "card_declined".
    pub reason: String,
}

/// `payments.payment_captured.v1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentCaptured {
    pub payment_id: PaymentId,
    pub order_id: OrderId,
    pub amount: Money,
    pub provider_reference: ProviderReference,
}

/// `payments.payment_voided.v1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentVoided {
    pub payment_id: PaymentId,
    pub order_id: OrderId,
    pub amount: Money,
    pub reason: VoidReason,
}

/// Any event payments emits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PaymentEvent {
    Authorized(PaymentAuthorized),
    Failed(PaymentFailed),
    Captured(PaymentCaptured),
    Voided(PaymentVoided),
}

impl PaymentEvent {
    pub const AGGREGATE_TYPE: &'static str = "payment";

    /// The envelope aggregate id (type [`Self::AGGREGATE_TYPE`]).
    pub fn payment_id(&self) -> PaymentId {
        match self {
            Self::Authorized(PaymentAuthorized { payment_id, .. })
            | Self::Failed(PaymentFailed { payment_id, .. })
            | Self::Captured(PaymentCaptured { payment_id, .. })
            | Self::Voided(PaymentVoided { payment_id, .. }) => *payment_id,
        }
    }

    pub fn order_id(&self) -> OrderId {
        match self {
            Self::Authorized(PaymentAuthorized { order_id, .. })
            | Self::Failed(PaymentFailed { order_id, .. })
            | Self::Captured(PaymentCaptured { order_id, .. })
            | Self::Voided(PaymentVoided { order_id, .. }) => *order_id,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::domain::model::tests::eur;

    #[test]
    fn ids_are_exposed() {
        let payment_id = PaymentId::generate();
        let order_id = OrderId::generate();
        let reference = ProviderReference::parse("sim_auth_1").unwrap();
        let events = [
            PaymentEvent::Authorized(PaymentAuthorized {
                payment_id,
                order_id,
                amount: eur(1),
                provider_reference: reference.clone(),
            }),
            PaymentEvent::Failed(PaymentFailed {
                payment_id,
                order_id,
                amount: eur(1),
                reason: "card_declined".to_owned(),
            }),
            PaymentEvent::Captured(PaymentCaptured {
                payment_id,
                order_id,
                amount: eur(1),
                provider_reference: reference,
            }),
            PaymentEvent::Voided(PaymentVoided {
                payment_id,
                order_id,
                amount: eur(1),
                reason: VoidReason::OrderCanceled,
            }),
        ];
        for event in events {
            assert_eq!(event.payment_id(), payment_id);
            assert_eq!(event.order_id(), order_id);
        }
    }
}
