//! The events inventory emits, as domain values.
//!
//! One struct per message of `proto/ecommerce/inventory/v1/events.proto`,
//! with the same fields; `crate::convert::events` turns each into its
//! generated message, which carries the event type (the domain names
//! none), and the app or a consumer emits it in the transaction that
//! stores the change.

use chrono::{DateTime, Utc};

use crate::domain::reservation::{FailureReason, ReservationLine, ShortLine};
use crate::domain::values::{AdjustmentId, OrderId, ReservationId, Sku};

/// An adjustment changed a SKU's on-hand units.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StockAdjustmentApplied {
    pub adjustment_id: AdjustmentId,
    pub sku: Sku,
    /// Signed change of on-hand units; never 0.
    pub delta: i32,
    pub reason: String,
    pub on_hand: i32,
    pub available: i32,
    pub version: i64,
}

/// Every line of an order is held until `expires_at`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StockReserved {
    pub reservation_id: ReservationId,
    pub order_id: OrderId,
    pub lines: Vec<ReservationLine>,
    pub expires_at: DateTime<Utc>,
}

/// An order's lines could not all be reserved; none were.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StockReservationFailed {
    pub order_id: OrderId,
    pub reason: FailureReason,
    pub short_lines: Vec<ShortLine>,
}

/// A reservation's units left stock for good (the order is paid).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StockCommitted {
    pub reservation_id: ReservationId,
    pub order_id: OrderId,
    pub lines: Vec<ReservationLine>,
}

/// A reservation's units returned to available stock before its TTL ran out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StockReservationReleased {
    pub reservation_id: ReservationId,
    pub order_id: OrderId,
    pub lines: Vec<ReservationLine>,
    /// "payment_failed", "order_canceled" or the operator's text.
    pub reason: String,
}

/// A reservation's TTL ran out; its units returned to available stock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StockReservationExpired {
    pub reservation_id: ReservationId,
    pub order_id: OrderId,
    pub lines: Vec<ReservationLine>,
}

/// A committed reservation's units went back into on-hand stock: its order
/// was canceled before it shipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StockRestocked {
    pub reservation_id: ReservationId,
    pub order_id: OrderId,
    pub lines: Vec<ReservationLine>,
    /// "order_canceled".
    pub reason: String,
}

/// Any event inventory emits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InventoryEvent {
    AdjustmentApplied(StockAdjustmentApplied),
    Reserved(StockReserved),
    ReservationFailed(StockReservationFailed),
    Committed(StockCommitted),
    Released(StockReservationReleased),
    Expired(StockReservationExpired),
    Restocked(StockRestocked),
}

/// The envelope aggregate of an event, as the proto file's header states
/// it: the stock (id = SKU) for adjustments, the order for a failed
/// reservation (there is no reservation), the reservation otherwise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Aggregate {
    pub aggregate_type: &'static str,
    pub id: String,
}

impl InventoryEvent {
    pub fn aggregate(&self) -> Aggregate {
        let (aggregate_type, id) = match self {
            Self::AdjustmentApplied(event) => ("stock", event.sku.to_string()),
            Self::ReservationFailed(event) => ("order", event.order_id.to_string()),
            Self::Reserved(StockReserved { reservation_id, .. })
            | Self::Committed(StockCommitted { reservation_id, .. })
            | Self::Released(StockReservationReleased { reservation_id, .. })
            | Self::Expired(StockReservationExpired { reservation_id, .. })
            | Self::Restocked(StockRestocked { reservation_id, .. }) => {
                ("reservation", reservation_id.to_string())
            }
        };
        Aggregate { aggregate_type, id }
    }
}

macro_rules! into_event {
    ($($payload:ident => $variant:ident),* $(,)?) => {
        $(
            impl From<$payload> for InventoryEvent {
                fn from(event: $payload) -> Self {
                    Self::$variant(event)
                }
            }
        )*
    };
}

into_event!(
    StockAdjustmentApplied => AdjustmentApplied,
    StockReserved => Reserved,
    StockReservationFailed => ReservationFailed,
    StockCommitted => Committed,
    StockReservationReleased => Released,
    StockReservationExpired => Expired,
    StockRestocked => Restocked,
);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn aggregates_follow_the_proto() {
        let sku = Sku::parse("SKU-1").unwrap();
        let order_id = OrderId::generate();
        let reservation_id = ReservationId::generate();
        let adjustment = InventoryEvent::from(StockAdjustmentApplied {
            adjustment_id: AdjustmentId::generate(),
            sku: sku.clone(),
            delta: 3,
            reason: "receipt".to_owned(),
            on_hand: 3,
            available: 3,
            version: 2,
        });
        assert_eq!(
            adjustment.aggregate(),
            Aggregate {
                aggregate_type: "stock",
                id: "SKU-1".to_owned()
            }
        );

        let failed = InventoryEvent::from(StockReservationFailed {
            order_id,
            reason: FailureReason::UnknownSku,
            short_lines: Vec::new(),
        });
        assert_eq!(failed.aggregate().aggregate_type, "order");
        assert_eq!(failed.aggregate().id, order_id.to_string());

        let lines = Vec::new();
        let by_reservation = [
            InventoryEvent::from(StockReserved {
                reservation_id,
                order_id,
                lines: lines.clone(),
                expires_at: DateTime::<Utc>::UNIX_EPOCH,
            }),
            InventoryEvent::from(StockCommitted {
                reservation_id,
                order_id,
                lines: lines.clone(),
            }),
            InventoryEvent::from(StockReservationReleased {
                reservation_id,
                order_id,
                lines: lines.clone(),
                reason: "order_canceled".to_owned(),
            }),
            InventoryEvent::from(StockReservationExpired {
                reservation_id,
                order_id,
                lines: lines.clone(),
            }),
            InventoryEvent::from(StockRestocked {
                reservation_id,
                order_id,
                lines,
                reason: "order_canceled".to_owned(),
            }),
        ];
        for event in by_reservation {
            assert_eq!(event.aggregate().aggregate_type, "reservation");
            assert_eq!(event.aggregate().id, reservation_id.to_string());
        }
    }
}
