//! The payloads of `payments.payment_authorized.v1`,
//! `payments.payment_failed.v1`, `payments.payment_captured.v1` and
//! `payments.payment_voided.v1`.

use ecommerce_proto::ecommerce::payments::v1 as pb;

use crate::domain::PaymentEvent;
use crate::domain::events::{PaymentAuthorized, PaymentCaptured, PaymentFailed, PaymentVoided};
use crate::grpc::convert::pb_money;

/// The proto message a domain [`PaymentEvent`] is published as.
#[derive(Clone, Debug, PartialEq)]
pub enum PaymentPayload {
    Authorized(pb::PaymentAuthorized),
    Failed(pb::PaymentFailed),
    Captured(pb::PaymentCaptured),
    Voided(pb::PaymentVoided),
}

impl From<&PaymentEvent> for PaymentPayload {
    fn from(event: &PaymentEvent) -> Self {
        match event {
            PaymentEvent::Authorized(PaymentAuthorized {
                payment_id,
                order_id,
                amount,
                provider_reference,
            }) => Self::Authorized(pb::PaymentAuthorized {
                payment_id: payment_id.to_string(),
                order_id: order_id.to_string(),
                amount: Some(pb_money(*amount)),
                provider_reference: provider_reference.as_str().to_owned(),
            }),
            PaymentEvent::Failed(PaymentFailed {
                payment_id,
                order_id,
                amount,
                reason,
            }) => Self::Failed(pb::PaymentFailed {
                payment_id: payment_id.to_string(),
                order_id: order_id.to_string(),
                amount: Some(pb_money(*amount)),
                reason: reason.clone(),
            }),
            PaymentEvent::Captured(PaymentCaptured {
                payment_id,
                order_id,
                amount,
                provider_reference,
            }) => Self::Captured(pb::PaymentCaptured {
                payment_id: payment_id.to_string(),
                order_id: order_id.to_string(),
                amount: Some(pb_money(*amount)),
                provider_reference: provider_reference.as_str().to_owned(),
            }),
            PaymentEvent::Voided(PaymentVoided {
                payment_id,
                order_id,
                amount,
                reason,
            }) => Self::Voided(pb::PaymentVoided {
                payment_id: payment_id.to_string(),
                order_id: order_id.to_string(),
                amount: Some(pb_money(*amount)),
                reason: reason.as_str().to_owned(),
            }),
        }
    }
}
