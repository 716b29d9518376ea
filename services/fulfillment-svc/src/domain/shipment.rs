//! The shipment of an order and its lifecycle: PENDING -> SHIPPED ->
//! DELIVERED.
//!
//! - [`open_shipment`]: on `inventory.stock.committed.v1`; one shipment per
//!   order, so a second commit of the same order (a re-publish) finds the
//!   first and changes nothing.
//! - [`mark_shipped`]: PENDING only; a repeat with the same carrier and
//!   tracking number answers the shipment unchanged, another carrier or
//!   number is refused.
//! - [`mark_delivered`]: SHIPPED only; a repeat answers it unchanged.
//!
//! Each transition returns the new shipment and the event to emit; nothing
//! is emitted when nothing changed. What the database repeats:
//! `shipments_order_id_key` (one per order), `shipments_lifecycle_check`
//! (carrier, tracking number and timestamps set exactly when the status
//! says so), `shipment_lines_quantity_check`.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};

use crate::domain::error::{FulfillmentError, InvalidValue};
use crate::domain::events::{ShipmentCreated, ShipmentDelivered, ShipmentShipped};
use crate::domain::shipping::ShippingOption;
use crate::domain::values::{
    Carrier, OrderId, Quantity, ReservationId, ShipmentId, Sku, TrackingNumber,
};

/// Where a shipment is in its lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ShipmentStatus {
    /// Opened; being picked and packed.
    Pending,
    /// Handed to the carrier.
    Shipped,
    /// Received by the customer. Terminal.
    Delivered,
}

impl ShipmentStatus {
    pub const ALL: [Self; 3] = [Self::Pending, Self::Shipped, Self::Delivered];

    /// The stored form (`shipments_status_check`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Shipped => "shipped",
            Self::Delivered => "delivered",
        }
    }

    pub fn from_stored(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == value)
    }
}

/// The proto's name, as error messages show it.
impl fmt::Display for ShipmentStatus {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::Pending => "PENDING",
            Self::Shipped => "SHIPPED",
            Self::Delivered => "DELIVERED",
        })
    }
}

/// A quantity of one SKU in a shipment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShipmentLine {
    pub sku: Sku,
    pub quantity: Quantity,
}

/// The lines of a shipment: at least one, one per SKU, in SKU order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShipmentLines(Vec<ShipmentLine>);

impl ShipmentLines {
    /// Sums repeated SKUs (checked) and sorts by SKU.
    pub fn aggregate(
        lines: impl IntoIterator<Item = (Sku, Quantity)>,
    ) -> Result<Self, InvalidValue> {
        let mut by_sku: BTreeMap<Sku, Quantity> = BTreeMap::new();
        for (sku, quantity) in lines {
            match by_sku.get_mut(&sku) {
                Some(total) => {
                    *total = total.checked_add(quantity).ok_or_else(|| {
                        InvalidValue::new(format!("SKU {sku}: more than {} units", i32::MAX))
                    })?;
                }
                None => {
                    by_sku.insert(sku, quantity);
                }
            }
        }
        if by_sku.is_empty() {
            return Err(InvalidValue::new("a shipment needs at least one line"));
        }
        Ok(Self(
            by_sku
                .into_iter()
                .map(|(sku, quantity)| ShipmentLine { sku, quantity })
                .collect(),
        ))
    }

    pub fn as_slice(&self) -> &[ShipmentLine] {
        &self.0
    }
}

/// The carrier and tracking number of a shipped shipment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tracking {
    pub carrier: Carrier,
    pub tracking_number: TrackingNumber,
}

/// A shipment, valid by construction (see [`Shipment::from_stored`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shipment {
    id: ShipmentId,
    order_id: OrderId,
    reservation_id: ReservationId,
    status: ShipmentStatus,
    lines: ShipmentLines,
    shipping_option: ShippingOption,
    tracking: Option<Tracking>,
    created_at: DateTime<Utc>,
    shipped_at: Option<DateTime<Utc>>,
    delivered_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
}

/// What [`Shipment::from_stored`] reads back.
#[derive(Clone, Debug)]
pub struct StoredShipment {
    pub id: ShipmentId,
    pub order_id: OrderId,
    pub reservation_id: ReservationId,
    pub status: ShipmentStatus,
    pub lines: ShipmentLines,
    pub shipping_option: ShippingOption,
    pub tracking: Option<Tracking>,
    pub created_at: DateTime<Utc>,
    pub shipped_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl Shipment {
    /// A stored shipment, checked against the lifecycle rules (the
    /// database's `shipments_lifecycle_check` says the same).
    pub fn from_stored(stored: StoredShipment) -> Result<Self, FulfillmentError> {
        let consistent = match stored.status {
            ShipmentStatus::Pending => {
                stored.tracking.is_none()
                    && stored.shipped_at.is_none()
                    && stored.delivered_at.is_none()
            }
            ShipmentStatus::Shipped => {
                stored.tracking.is_some()
                    && stored.shipped_at.is_some()
                    && stored.delivered_at.is_none()
            }
            ShipmentStatus::Delivered => {
                stored.tracking.is_some()
                    && stored.shipped_at.is_some()
                    && stored.delivered_at.is_some()
            }
        };
        if !consistent {
            return Err(FulfillmentError::Inconsistent(format!(
                "shipment {} is {} but its tracking or timestamps say otherwise",
                stored.id, stored.status
            )));
        }
        Ok(Self {
            id: stored.id,
            order_id: stored.order_id,
            reservation_id: stored.reservation_id,
            status: stored.status,
            lines: stored.lines,
            shipping_option: stored.shipping_option,
            tracking: stored.tracking,
            created_at: stored.created_at,
            shipped_at: stored.shipped_at,
            delivered_at: stored.delivered_at,
            updated_at: stored.updated_at,
        })
    }

    pub fn id(&self) -> ShipmentId {
        self.id
    }

    pub fn order_id(&self) -> OrderId {
        self.order_id
    }

    pub fn reservation_id(&self) -> ReservationId {
        self.reservation_id
    }

    pub fn status(&self) -> ShipmentStatus {
        self.status
    }

    pub fn lines(&self) -> &ShipmentLines {
        &self.lines
    }

    pub fn shipping_option(&self) -> &ShippingOption {
        &self.shipping_option
    }

    pub fn tracking(&self) -> Option<&Tracking> {
        self.tracking.as_ref()
    }

    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    pub fn shipped_at(&self) -> Option<DateTime<Utc>> {
        self.shipped_at
    }

    pub fn delivered_at(&self) -> Option<DateTime<Utc>> {
        self.delivered_at
    }

    pub fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }

    /// `now`, but never before the last change: a clock step back must not
    /// break `shipments_timestamps_check`.
    fn after_last_change(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now.max(self.updated_at)
    }
}

/// A shipment to open for a committed reservation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenShipment {
    pub shipment_id: ShipmentId,
    pub order_id: OrderId,
    pub reservation_id: ReservationId,
    pub lines: ShipmentLines,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpenOutcome {
    /// A new PENDING shipment to insert, and its event.
    Opened {
        shipment: Box<Shipment>,
        event: ShipmentCreated,
    },
    /// The order has a shipment already (a duplicate commit): nothing to do.
    AlreadyOpen,
}

/// Opens the order's shipment unless `existing` (the order's shipment, if
/// any) is there already.
pub fn open_shipment(
    existing: Option<&Shipment>,
    request: OpenShipment,
    option: &ShippingOption,
    now: DateTime<Utc>,
) -> OpenOutcome {
    if existing.is_some() {
        return OpenOutcome::AlreadyOpen;
    }
    let event = ShipmentCreated {
        shipment_id: request.shipment_id,
        order_id: request.order_id,
        lines: request.lines.as_slice().to_vec(),
        shipping_option_id: option.id(),
    };
    let shipment = Shipment {
        id: request.shipment_id,
        order_id: request.order_id,
        reservation_id: request.reservation_id,
        status: ShipmentStatus::Pending,
        lines: request.lines,
        shipping_option: option.clone(),
        tracking: None,
        created_at: now,
        shipped_at: None,
        delivered_at: None,
        updated_at: now,
    };
    OpenOutcome::Opened {
        shipment: Box::new(shipment),
        event,
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShipOutcome {
    /// PENDING -> SHIPPED: store it, emit the event.
    Shipped {
        shipment: Box<Shipment>,
        event: ShipmentShipped,
    },
    /// Shipped already with the same carrier and tracking number.
    Unchanged,
}

/// MarkShipped.
pub fn mark_shipped(
    shipment: &Shipment,
    tracking: Tracking,
    now: DateTime<Utc>,
) -> Result<ShipOutcome, FulfillmentError> {
    match shipment.status {
        ShipmentStatus::Pending => {
            let at = shipment.after_last_change(now);
            let event = ShipmentShipped {
                shipment_id: shipment.id,
                order_id: shipment.order_id,
                carrier: tracking.carrier.clone(),
                tracking_number: tracking.tracking_number.clone(),
            };
            let shipped = Shipment {
                status: ShipmentStatus::Shipped,
                tracking: Some(tracking),
                shipped_at: Some(at),
                updated_at: at,
                ..shipment.clone()
            };
            Ok(ShipOutcome::Shipped {
                shipment: Box::new(shipped),
                event,
            })
        }
        ShipmentStatus::Shipped => match &shipment.tracking {
            Some(recorded) if *recorded == tracking => Ok(ShipOutcome::Unchanged),
            Some(recorded) => Err(FulfillmentError::ShippedDifferently {
                shipment_id: shipment.id,
                carrier: recorded.carrier.to_string(),
                tracking_number: recorded.tracking_number.to_string(),
            }),
            None => Err(FulfillmentError::Inconsistent(format!(
                "shipment {} is SHIPPED without tracking",
                shipment.id
            ))),
        },
        ShipmentStatus::Delivered => Err(FulfillmentError::IllegalTransition {
            shipment_id: shipment.id,
            status: shipment.status,
            reason: "it cannot be shipped again",
        }),
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeliverOutcome {
    /// SHIPPED -> DELIVERED: store it, emit the event.
    Delivered {
        shipment: Box<Shipment>,
        event: ShipmentDelivered,
    },
    /// Delivered already.
    Unchanged,
}

/// MarkDelivered.
pub fn mark_delivered(
    shipment: &Shipment,
    now: DateTime<Utc>,
) -> Result<DeliverOutcome, FulfillmentError> {
    match shipment.status {
        ShipmentStatus::Pending => Err(FulfillmentError::IllegalTransition {
            shipment_id: shipment.id,
            status: shipment.status,
            reason: "mark it shipped first",
        }),
        ShipmentStatus::Shipped => {
            let at = shipment.after_last_change(now);
            let delivered = Shipment {
                status: ShipmentStatus::Delivered,
                delivered_at: Some(at),
                updated_at: at,
                ..shipment.clone()
            };
            Ok(DeliverOutcome::Delivered {
                shipment: Box::new(delivered),
                event: ShipmentDelivered {
                    shipment_id: shipment.id,
                    order_id: shipment.order_id,
                },
            })
        }
        ShipmentStatus::Delivered => Ok(DeliverOutcome::Unchanged),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use chrono::Duration;
    use ecommerce_kernel::{Currency, Money};

    use super::*;
    use crate::domain::values::ShippingOptionId;

    fn sku(raw: &str) -> Sku {
        Sku::parse(raw).unwrap()
    }

    fn quantity(units: i32) -> Quantity {
        Quantity::new(units).unwrap()
    }

    fn standard() -> ShippingOption {
        ShippingOption::new(
            ShippingOptionId::generate(),
            "Standard".to_owned(),
            Money::new(499, Currency::parse("EUR").unwrap()).unwrap(),
            3,
            5,
        )
        .unwrap()
    }

    fn tracking(carrier: &str, number: &str) -> Tracking {
        Tracking {
            carrier: Carrier::parse(carrier).unwrap(),
            tracking_number: TrackingNumber::parse(number).unwrap(),
        }
    }

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn request() -> OpenShipment {
        OpenShipment {
            shipment_id: ShipmentId::generate(),
            order_id: OrderId::generate(),
            reservation_id: ReservationId::generate(),
            lines: ShipmentLines::aggregate([(sku("B"), quantity(1)), (sku("A"), quantity(2))])
                .unwrap(),
        }
    }

    fn pending() -> Shipment {
        match open_shipment(None, request(), &standard(), t0()) {
            OpenOutcome::Opened { shipment, .. } => *shipment,
            OpenOutcome::AlreadyOpen => panic!("not opened"),
        }
    }

    fn shipped() -> Shipment {
        match mark_shipped(
            &pending(),
            tracking("DHL", "JJD1"),
            t0() + Duration::hours(1),
        )
        .unwrap()
        {
            ShipOutcome::Shipped { shipment, .. } => *shipment,
            ShipOutcome::Unchanged => panic!("not shipped"),
        }
    }

    fn delivered() -> Shipment {
        match mark_delivered(&shipped(), t0() + Duration::days(2)).unwrap() {
            DeliverOutcome::Delivered { shipment, .. } => *shipment,
            DeliverOutcome::Unchanged => panic!("not delivered"),
        }
    }

    fn in_state(status: ShipmentStatus) -> Shipment {
        match status {
            ShipmentStatus::Pending => pending(),
            ShipmentStatus::Shipped => shipped(),
            ShipmentStatus::Delivered => delivered(),
        }
    }

    #[test]
    fn statuses_round_trip_their_stored_form() {
        for status in ShipmentStatus::ALL {
            assert_eq!(ShipmentStatus::from_stored(status.as_str()), Some(status));
        }
        assert_eq!(ShipmentStatus::from_stored("PENDING"), None);
        assert_eq!(ShipmentStatus::Shipped.to_string(), "SHIPPED");
    }

    #[test]
    fn lines_are_summed_per_sku_in_sku_order() {
        let lines = ShipmentLines::aggregate([
            (sku("B"), quantity(1)),
            (sku("A"), quantity(2)),
            (sku("B"), quantity(3)),
        ])
        .unwrap();
        let flat: Vec<(&str, i32)> = lines
            .as_slice()
            .iter()
            .map(|line| (line.sku.as_str(), line.quantity.get()))
            .collect();
        assert_eq!(flat, [("A", 2), ("B", 4)]);
        assert!(ShipmentLines::aggregate([]).is_err());
        assert!(
            ShipmentLines::aggregate([(sku("A"), quantity(i32::MAX)), (sku("A"), quantity(1))])
                .is_err()
        );
    }

    #[test]
    fn a_commit_opens_one_pending_shipment_with_its_event() {
        let request = request();
        let option = standard();
        let OpenOutcome::Opened { shipment, event } =
            open_shipment(None, request.clone(), &option, t0())
        else {
            panic!("not opened");
        };
        assert_eq!(shipment.status(), ShipmentStatus::Pending);
        assert_eq!(shipment.id(), request.shipment_id);
        assert_eq!(shipment.order_id(), request.order_id);
        assert_eq!(shipment.reservation_id(), request.reservation_id);
        assert_eq!(shipment.shipping_option(), &option);
        assert_eq!(shipment.tracking(), None);
        assert_eq!((shipment.created_at(), shipment.updated_at()), (t0(), t0()));
        assert_eq!(
            (shipment.shipped_at(), shipment.delivered_at()),
            (None, None)
        );
        assert_eq!(event.shipment_id, request.shipment_id);
        assert_eq!(event.order_id, request.order_id);
        assert_eq!(event.shipping_option_id, option.id());
        assert_eq!(event.lines, request.lines.as_slice());

        // The same order again (any state): nothing.
        for status in ShipmentStatus::ALL {
            let existing = in_state(status);
            assert_eq!(
                open_shipment(Some(&existing), request.clone(), &option, t0()),
                OpenOutcome::AlreadyOpen
            );
        }
    }

    #[test]
    fn every_state_and_mark_shipped() {
        for status in ShipmentStatus::ALL {
            let shipment = in_state(status);
            let outcome =
                mark_shipped(&shipment, tracking("DHL", "JJD1"), t0() + Duration::days(3));
            match status {
                ShipmentStatus::Pending => {
                    let Ok(ShipOutcome::Shipped {
                        shipment: after,
                        event,
                    }) = outcome
                    else {
                        panic!("pending was not shipped: {outcome:?}");
                    };
                    assert_eq!(after.status(), ShipmentStatus::Shipped);
                    assert_eq!(after.tracking(), Some(&tracking("DHL", "JJD1")));
                    assert_eq!(after.shipped_at(), Some(t0() + Duration::days(3)));
                    assert_eq!(after.updated_at(), t0() + Duration::days(3));
                    assert_eq!(after.delivered_at(), None);
                    assert_eq!(event.carrier.as_str(), "DHL");
                    assert_eq!(event.tracking_number.as_str(), "JJD1");
                    assert_eq!(event.shipment_id, shipment.id());
                    assert_eq!(event.order_id, shipment.order_id());
                }
                ShipmentStatus::Shipped => {
                    assert_eq!(outcome, Ok(ShipOutcome::Unchanged));
                    let other = mark_shipped(&shipment, tracking("UPS", "JJD1"), t0());
                    assert!(matches!(
                        other,
                        Err(FulfillmentError::ShippedDifferently { .. })
                    ));
                    let other = mark_shipped(&shipment, tracking("DHL", "JJD2"), t0());
                    assert!(matches!(
                        other,
                        Err(FulfillmentError::ShippedDifferently { .. })
                    ));
                }
                ShipmentStatus::Delivered => {
                    let error = outcome.unwrap_err();
                    assert!(matches!(
                        error,
                        FulfillmentError::IllegalTransition {
                            status: ShipmentStatus::Delivered,
                            ..
                        }
                    ));
                    assert!(error.to_string().contains("DELIVERED"), "{error}");
                }
            }
        }
    }

    #[test]
    fn every_state_and_mark_delivered() {
        for status in ShipmentStatus::ALL {
            let shipment = in_state(status);
            let outcome = mark_delivered(&shipment, t0() + Duration::days(4));
            match status {
                ShipmentStatus::Pending => {
                    let error = outcome.unwrap_err();
                    assert!(error.to_string().contains("PENDING"), "{error}");
                    assert!(matches!(error, FulfillmentError::IllegalTransition { .. }));
                }
                ShipmentStatus::Shipped => {
                    let Ok(DeliverOutcome::Delivered {
                        shipment: after,
                        event,
                    }) = outcome
                    else {
                        panic!("shipped was not delivered: {outcome:?}");
                    };
                    assert_eq!(after.status(), ShipmentStatus::Delivered);
                    assert_eq!(after.delivered_at(), Some(t0() + Duration::days(4)));
                    assert_eq!(after.shipped_at(), shipment.shipped_at());
                    assert_eq!(after.tracking(), shipment.tracking());
                    assert_eq!(event.shipment_id, shipment.id());
                }
                ShipmentStatus::Delivered => assert_eq!(outcome, Ok(DeliverOutcome::Unchanged)),
            }
        }
    }

    #[test]
    fn a_clock_step_back_never_orders_timestamps_backwards() {
        let shipment = pending();
        let ShipOutcome::Shipped {
            shipment: after, ..
        } = mark_shipped(&shipment, tracking("DHL", "1"), t0() - Duration::hours(1)).unwrap()
        else {
            panic!("not shipped");
        };
        assert_eq!(after.shipped_at(), Some(t0()));
        let DeliverOutcome::Delivered { shipment: done, .. } =
            mark_delivered(&after, t0() - Duration::hours(2)).unwrap()
        else {
            panic!("not delivered");
        };
        assert_eq!(done.delivered_at(), Some(t0()));
    }

    #[test]
    fn stored_shipments_must_agree_with_their_status() {
        let base = shipped();
        let stored =
            |status, tracking: Option<Tracking>, shipped_at, delivered_at| StoredShipment {
                id: base.id(),
                order_id: base.order_id(),
                reservation_id: base.reservation_id(),
                status,
                lines: base.lines().clone(),
                shipping_option: base.shipping_option().clone(),
                tracking,
                created_at: t0(),
                shipped_at,
                delivered_at,
                updated_at: t0(),
            };
        let some_tracking = Some(tracking("DHL", "1"));
        let at = Some(t0());
        assert!(Shipment::from_stored(stored(ShipmentStatus::Pending, None, None, None)).is_ok());
        assert!(
            Shipment::from_stored(stored(
                ShipmentStatus::Shipped,
                some_tracking.clone(),
                at,
                None
            ))
            .is_ok()
        );
        assert!(
            Shipment::from_stored(stored(
                ShipmentStatus::Delivered,
                some_tracking.clone(),
                at,
                at
            ))
            .is_ok()
        );
        let broken = [
            stored(ShipmentStatus::Pending, some_tracking.clone(), None, None),
            stored(ShipmentStatus::Pending, None, at, None),
            stored(ShipmentStatus::Shipped, None, at, None),
            stored(ShipmentStatus::Shipped, some_tracking.clone(), None, None),
            stored(ShipmentStatus::Shipped, some_tracking.clone(), at, at),
            stored(ShipmentStatus::Delivered, some_tracking.clone(), at, None),
            stored(ShipmentStatus::Delivered, None, at, at),
        ];
        for row in broken {
            let error = Shipment::from_stored(row).unwrap_err();
            assert_eq!(error.code(), ecommerce_kernel::ErrorCode::Internal);
        }
    }
}
