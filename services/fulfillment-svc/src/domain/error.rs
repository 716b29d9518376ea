//! The errors of the fulfillment rules, and the [`ErrorCode`] each one is.
//!
//! Outcomes that are not failures (a repeated MarkShipped, a duplicate
//! stock.committed) are variants of the outcome enums in `shipment`, because
//! the service still answers them.

use ecommerce_kernel::ErrorCode;
pub use ecommerce_kernel::{InvalidField, InvalidValue};

use crate::domain::shipment::ShipmentStatus;
use crate::domain::values::{OrderId, ShipmentId};

/// Every way a fulfillment rule can refuse to act.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FulfillmentError {
    /// A request or event field is missing or malformed; names the field.
    #[error(transparent)]
    InvalidArgument(#[from] InvalidField),

    /// The shipment's state does not allow the requested step.
    #[error("shipment {shipment_id} is {status}; {reason}")]
    IllegalTransition {
        shipment_id: ShipmentId,
        status: ShipmentStatus,
        reason: &'static str,
    },

    /// MarkShipped again with another carrier or tracking number.
    #[error(
        "shipment {shipment_id} is SHIPPED already with carrier {carrier:?} and tracking number {tracking_number:?}"
    )]
    ShippedDifferently {
        shipment_id: ShipmentId,
        carrier: String,
        tracking_number: String,
    },

    /// A committed reservation of an order whose `orders.order_placed.v1`
    /// fulfillment has not seen yet (the two come on different queues):
    /// the shipping option is unknown, so the commit comes again later.
    #[error("order {order_id} was not placed yet as far as fulfillment knows; retry later")]
    OrderNotPlaced { order_id: OrderId },

    /// Stored state contradicts the rules; details for the log only.
    #[error("fulfillment state is inconsistent: {0}")]
    Inconsistent(String),
}

impl FulfillmentError {
    /// Exhaustive, so a new variant forces a decision here. An order not
    /// placed yet is UNAVAILABLE: the same input succeeds later. An
    /// inconsistency is INTERNAL: stored state broke an invariant, a bug
    /// and never the caller's fault.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidArgument(_) => ErrorCode::InvalidArgument,
            Self::IllegalTransition { .. } | Self::ShippedDifferently { .. } => {
                ErrorCode::FailedPrecondition
            }
            Self::OrderNotPlaced { .. } => ErrorCode::Unavailable,
            Self::Inconsistent(_) => ErrorCode::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_variant() {
        let invalid = FulfillmentError::from(InvalidValue::new("must not be empty").at("carrier"));
        assert_eq!(invalid.code(), ErrorCode::InvalidArgument);
        assert_eq!(invalid.to_string(), "carrier: must not be empty");
        let illegal = FulfillmentError::IllegalTransition {
            shipment_id: ShipmentId::generate(),
            status: ShipmentStatus::Pending,
            reason: "mark it shipped first",
        };
        assert_eq!(illegal.code(), ErrorCode::FailedPrecondition);
        assert!(illegal.to_string().contains("is PENDING"));
        let different = FulfillmentError::ShippedDifferently {
            shipment_id: ShipmentId::generate(),
            carrier: "DHL".to_owned(),
            tracking_number: "1".to_owned(),
        };
        assert_eq!(different.code(), ErrorCode::FailedPrecondition);
        assert_eq!(
            FulfillmentError::Inconsistent("x".to_owned()).code(),
            ErrorCode::Internal
        );
    }
}
