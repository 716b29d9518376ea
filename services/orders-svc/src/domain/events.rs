//! The events orders emits, as domain values: each carries what its
//! payload needs, and `crate::convert` turns it into the generated event
//! (one `From<&OrderEvent>`), so the outbox takes it as it is. The envelope
//! aggregate is the order.

use uuid::Uuid;

use crate::domain::machine::OrderEffect;
use crate::domain::model::{Order, OrderId};
use crate::domain::status::{Cancellation, Rejection};

/// Any event orders emits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderEvent {
    /// The order was placed. It goes out whole: inventory reserves its
    /// lines, payments authorizes its total with its payment method token
    /// (the one place the token leaves the service).
    Placed(Box<Order>),
    /// The first transition that reached or passed CONFIRMED.
    Confirmed { order_id: OrderId, user_id: Uuid },
    /// Into REJECTED: stock could not be reserved.
    Rejected {
        order_id: OrderId,
        user_id: Uuid,
        rejection: Rejection,
    },
    /// Into CANCELED: on request, or because the payment failed or the
    /// reservation ended first.
    Canceled {
        order_id: OrderId,
        user_id: Uuid,
        cancellation: Cancellation,
    },
}

impl OrderEvent {
    /// The envelope aggregate type; the aggregate id is the order id.
    pub const AGGREGATE_TYPE: &'static str = "order";

    /// The event announcing that `order` was placed.
    pub fn placed(order: &Order) -> Self {
        Self::Placed(Box::new(order.clone()))
    }

    /// The event a transition's `effect` on `order` stands for.
    pub fn of(order: &Order, effect: OrderEffect) -> Self {
        let (order_id, user_id) = (order.id, order.user_id);
        match effect {
            OrderEffect::Confirmed => Self::Confirmed { order_id, user_id },
            OrderEffect::Rejected(rejection) => Self::Rejected {
                order_id,
                user_id,
                rejection,
            },
            OrderEffect::Canceled(cancellation) => Self::Canceled {
                order_id,
                user_id,
                cancellation,
            },
        }
    }
}
