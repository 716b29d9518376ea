//! The events inventory emits, as domain values.
//!
//! One struct per message of `proto/ecommerce/inventory/v1/events.proto`,
//! with the same fields; the `events` layer converts them to the generated
//! types and writes them to the outbox in the transaction that stores the
//! change. The event type strings are the proto's
//! `(ecommerce.events.v1.event_type)` options, repeated here so the domain
//! can name them without depending on generated code; a test in the events
//! layer should compare the two.

use chrono::{DateTime, Utc};

use crate::domain::reservation::{FailureReason, ReservationLine, ShortLine};
use crate::domain::values::{AdjustmentId, OrderId, ReservationId, Sku};

/// `inventory.stock.adjustment_applied.v1`.
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

/// `inventory.stock.reserved.v1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StockReserved {
    pub reservation_id: ReservationId,
    pub order_id: OrderId,
    pub lines: Vec<ReservationLine>,
    pub expires_at: DateTime<Utc>,
}

/// `inventory.stock.reservation_failed.v1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StockReservationFailed {
    pub order_id: OrderId,
    pub reason: FailureReason,
    pub short_lines: Vec<ShortLine>,
}

/// `inventory.stock.committed.v1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StockCommitted {
    pub reservation_id: ReservationId,
    pub order_id: OrderId,
    pub lines: Vec<ReservationLine>,
}

/// `inventory.stock.reservation_released.v1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StockReservationReleased {
    pub reservation_id: ReservationId,
    pub order_id: OrderId,
    pub lines: Vec<ReservationLine>,
    /// "payment_failed", "order_canceled" or the operator's text.
    pub reason: String,
}

/// `inventory.stock.reservation_expired.v1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StockReservationExpired {
    pub reservation_id: ReservationId,
    pub order_id: OrderId,
    pub lines: Vec<ReservationLine>,
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
    pub const ADJUSTMENT_APPLIED: &'static str = "inventory.stock.adjustment_applied.v1";
    pub const RESERVED: &'static str = "inventory.stock.reserved.v1";
    pub const RESERVATION_FAILED: &'static str = "inventory.stock.reservation_failed.v1";
    pub const COMMITTED: &'static str = "inventory.stock.committed.v1";
    pub const RELEASED: &'static str = "inventory.stock.reservation_released.v1";
    pub const EXPIRED: &'static str = "inventory.stock.reservation_expired.v1";

    pub const fn event_type(&self) -> &'static str {
        match self {
            Self::AdjustmentApplied(_) => Self::ADJUSTMENT_APPLIED,
            Self::Reserved(_) => Self::RESERVED,
            Self::ReservationFailed(_) => Self::RESERVATION_FAILED,
            Self::Committed(_) => Self::COMMITTED,
            Self::Released(_) => Self::RELEASED,
            Self::Expired(_) => Self::EXPIRED,
        }
    }

    pub fn aggregate(&self) -> Aggregate {
        let (aggregate_type, id) = match self {
            Self::AdjustmentApplied(event) => ("stock", event.sku.to_string()),
            Self::ReservationFailed(event) => ("order", event.order_id.to_string()),
            Self::Reserved(StockReserved { reservation_id, .. })
            | Self::Committed(StockCommitted { reservation_id, .. })
            | Self::Released(StockReservationReleased { reservation_id, .. })
            | Self::Expired(StockReservationExpired { reservation_id, .. }) => {
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
);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn types_and_aggregates_follow_the_proto() {
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
            adjustment.event_type(),
            "inventory.stock.adjustment_applied.v1"
        );
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
        assert_eq!(failed.event_type(), "inventory.stock.reservation_failed.v1");
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
                lines,
            }),
        ];
        let types: Vec<&str> = by_reservation
            .iter()
            .map(InventoryEvent::event_type)
            .collect();
        assert_eq!(
            types,
            [
                "inventory.stock.reserved.v1",
                "inventory.stock.committed.v1",
                "inventory.stock.reservation_released.v1",
                "inventory.stock.reservation_expired.v1",
            ]
        );
        for event in by_reservation {
            assert_eq!(event.aggregate().aggregate_type, "reservation");
            assert_eq!(event.aggregate().id, reservation_id.to_string());
        }
    }
}
