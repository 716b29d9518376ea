//! Every proto ⇄ domain conversion of payments-svc, so neither adapter
//! imports the other: requests into validated inputs (INVALID_ARGUMENT
//! naming the field) and payments into messages here, for `grpc/`;
//! consumed events into [`PaymentInput`](crate::domain::PaymentInput)s and
//! [`PaymentEvent`](crate::domain::PaymentEvent)s into the generated events
//! in [`events`], for `events/` and the outbox.

pub mod events;

use ecommerce_kernel::{InvalidField, Money};
use ecommerce_proto::ecommerce::common::v1 as common_pb;
use ecommerce_proto::ecommerce::payments::v1 as pb;

use crate::app::{DEFAULT_PAGE_SIZE, ListPayments};
use crate::domain::{OrderId, PaymentId, PaymentState, PaymentStatus, StoredPayment};

/// The longest CapturePayment idempotency key accepted.
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 128;

/// GetPayment / CapturePayment `payment_id`.
pub fn payment_id(raw: &str) -> Result<PaymentId, InvalidField> {
    PaymentId::parse(raw).map_err(|invalid| invalid.at("payment_id"))
}

/// CapturePayment, converted: the payment. The key is checked but not
/// needed: the provider's idempotency key is derived from the payment and
/// the operation, so every retry is safe whatever key it carries.
pub fn capture_request(request: &pb::CapturePaymentRequest) -> Result<PaymentId, InvalidField> {
    if request.idempotency_key.chars().count() > MAX_IDEMPOTENCY_KEY_CHARS {
        return Err(InvalidField::new(
            "idempotency_key",
            format!("must be at most {MAX_IDEMPOTENCY_KEY_CHARS} characters"),
        ));
    }
    payment_id(&request.payment_id)
}

impl TryFrom<pb::ListPaymentsRequest> for ListPayments {
    type Error = InvalidField;

    fn try_from(request: pb::ListPaymentsRequest) -> Result<Self, Self::Error> {
        let order_id =
            OrderId::parse(&request.order_id).map_err(|invalid| invalid.at("order_id"))?;
        let page_size = match request.page_size {
            0 => DEFAULT_PAGE_SIZE,
            size if size < 0 => {
                return Err(InvalidField::new("page_size", "must not be negative"));
            }
            size => u64::try_from(size).unwrap_or(DEFAULT_PAGE_SIZE),
        };
        // The page token is the last payment id of the previous page: ids
        // are UUID v7, so "after" is "newer than".
        let after = match request.page_token.as_str() {
            "" => None,
            raw => Some(PaymentId::parse(raw).map_err(|_| {
                InvalidField::new("page_token", "is not a token this service issued")
            })?),
        };
        Ok(Self {
            order_id,
            page_size,
            after,
        })
    }
}

pub fn pb_money(money: Money) -> common_pb::Money {
    common_pb::Money {
        amount_minor: money.amount_minor(),
        currency: money.currency().code().to_owned(),
    }
}

fn pb_status(status: PaymentStatus) -> pb::PaymentStatus {
    match status {
        PaymentStatus::Pending => pb::PaymentStatus::Pending,
        PaymentStatus::Authorized => pb::PaymentStatus::Authorized,
        PaymentStatus::Failed => pb::PaymentStatus::Failed,
        PaymentStatus::Captured => pb::PaymentStatus::Captured,
        PaymentStatus::Voided => pb::PaymentStatus::Voided,
    }
}

/// The payment as the API shows it (never with its payment method token).
pub fn pb_payment(stored: &StoredPayment) -> pb::Payment {
    let payment = &stored.payment;
    let state = payment.state();
    let authorization = state.authorization();
    let (failure_reason, captured_at) = match state {
        PaymentState::Failed { failure_reason, .. } => (failure_reason.as_str().to_owned(), None),
        PaymentState::Captured { captured_at, .. } => (String::new(), Some(*captured_at)),
        PaymentState::Pending | PaymentState::Authorized(_) | PaymentState::Voided { .. } => {
            (String::new(), None)
        }
    };
    pb::Payment {
        id: payment.id().to_string(),
        order_id: payment.order_id().to_string(),
        amount: Some(pb_money(payment.amount())),
        status: pb_status(payment.status()) as i32,
        provider_reference: authorization
            .map(|authorization| authorization.provider_reference.as_str().to_owned())
            .unwrap_or_default(),
        failure_reason,
        created_at: Some(ecommerce_proto::timestamp(payment.created_at())),
        updated_at: Some(ecommerce_proto::timestamp(payment.updated_at())),
        authorized_at: authorization
            .map(|authorization| ecommerce_proto::timestamp(authorization.authorized_at)),
        captured_at: captured_at.map(ecommerce_proto::timestamp),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn requests_name_the_invalid_field() {
        assert_eq!(payment_id("nope").unwrap_err().field, "payment_id");
        let request = pb::CapturePaymentRequest {
            payment_id: PaymentId::generate().to_string(),
            idempotency_key: "k".repeat(MAX_IDEMPOTENCY_KEY_CHARS + 1),
        };
        assert_eq!(
            capture_request(&request).unwrap_err().field,
            "idempotency_key"
        );
        let list = pb::ListPaymentsRequest {
            order_id: String::new(),
            ..Default::default()
        };
        assert_eq!(ListPayments::try_from(list).unwrap_err().field, "order_id");
        let list = pb::ListPaymentsRequest {
            order_id: OrderId::generate().to_string(),
            page_size: -1,
            ..Default::default()
        };
        assert_eq!(ListPayments::try_from(list).unwrap_err().field, "page_size");
        let list = pb::ListPaymentsRequest {
            order_id: OrderId::generate().to_string(),
            page_token: "zzz".to_owned(),
            ..Default::default()
        };
        assert_eq!(
            ListPayments::try_from(list).unwrap_err().field,
            "page_token"
        );
    }

    #[test]
    fn a_default_page_size_is_applied() {
        let list = pb::ListPaymentsRequest {
            order_id: OrderId::generate().to_string(),
            ..Default::default()
        };
        assert_eq!(
            ListPayments::try_from(list).unwrap().page_size,
            DEFAULT_PAGE_SIZE
        );
    }
}
