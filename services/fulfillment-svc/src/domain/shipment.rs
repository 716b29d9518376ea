//! The shipment of an order and its lifecycle: PENDING -> SHIPPED ->
//! DELIVERED, or PENDING -> CANCELED.
//!
//! - [`open_shipment`]: on `inventory.stock.committed.v1`; one shipment per
//!   order, so a second commit of the same order (a re-publish) finds the
//!   first and changes nothing. It ships with the option the order was
//!   placed with ([`OrderNote`], from `orders.order_placed.v1`); a commit
//!   that overtook its order's `order_placed` waits for it (retried), and
//!   an order canceled before its commit arrived never gets a shipment.
//! - [`cancel_shipment`]: on `orders.order_canceled.v1`; PENDING only. A
//!   shipment that has left (SHIPPED, DELIVERED) cannot be called back: the
//!   cancel is reported, nothing changes.
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
use crate::domain::events::{
    ShipmentCanceled, ShipmentCreated, ShipmentDelivered, ShipmentShipped,
};
use crate::domain::shipping::ShippingOption;
use crate::domain::values::{
    Carrier, OrderId, Quantity, ReservationId, ShipmentId, ShippingOptionId, Sku, TrackingNumber,
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
    /// Its order was canceled before it shipped; it never ships. Terminal.
    Canceled,
}

impl ShipmentStatus {
    pub const ALL: [Self; 4] = [
        Self::Pending,
        Self::Shipped,
        Self::Delivered,
        Self::Canceled,
    ];

    /// The stored form (`shipments_status_check`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Shipped => "shipped",
            Self::Delivered => "delivered",
            Self::Canceled => "canceled",
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
            Self::Canceled => "CANCELED",
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
    canceled_at: Option<DateTime<Utc>>,
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
    pub canceled_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl Shipment {
    /// A stored shipment, checked against the lifecycle rules (the
    /// database's `shipments_lifecycle_check` says the same).
    pub fn from_stored(stored: StoredShipment) -> Result<Self, FulfillmentError> {
        let never_left = stored.tracking.is_none()
            && stored.shipped_at.is_none()
            && stored.delivered_at.is_none();
        let consistent = match stored.status {
            ShipmentStatus::Pending => never_left && stored.canceled_at.is_none(),
            ShipmentStatus::Shipped => {
                stored.tracking.is_some()
                    && stored.shipped_at.is_some()
                    && stored.delivered_at.is_none()
                    && stored.canceled_at.is_none()
            }
            ShipmentStatus::Delivered => {
                stored.tracking.is_some()
                    && stored.shipped_at.is_some()
                    && stored.delivered_at.is_some()
                    && stored.canceled_at.is_none()
            }
            ShipmentStatus::Canceled => never_left && stored.canceled_at.is_some(),
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
            canceled_at: stored.canceled_at,
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

    /// When it was canceled; set exactly when CANCELED.
    pub fn canceled_at(&self) -> Option<DateTime<Utc>> {
        self.canceled_at
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
    /// The order was canceled before its stock was committed (the cancel
    /// overtook the commit): no shipment, ever.
    OrderCanceled,
}

/// What fulfillment knows of an order from orders' events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderNote {
    pub order_id: OrderId,
    /// From `orders.order_placed.v1`; `None` while only the cancel was seen.
    pub shipping_option_id: Option<ShippingOptionId>,
    /// From `orders.order_canceled.v1`: when, and the order's reason.
    pub canceled: Option<(DateTime<Utc>, String)>,
}

/// What an order event changes in the order's [`OrderNote`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NoteOutcome {
    /// Store this note (insert or update).
    Store(OrderNote),
    /// A repeat: the note says it already.
    Unchanged,
}

/// On `orders.order_placed.v1`: remembers the chosen option. A re-published
/// order keeps the first option (an order's option never changes).
pub fn note_placed(
    existing: Option<&OrderNote>,
    order_id: OrderId,
    option_id: ShippingOptionId,
) -> NoteOutcome {
    match existing {
        Some(note) if note.shipping_option_id.is_some() => NoteOutcome::Unchanged,
        Some(note) => NoteOutcome::Store(OrderNote {
            shipping_option_id: Some(option_id),
            ..note.clone()
        }),
        None => NoteOutcome::Store(OrderNote {
            order_id,
            shipping_option_id: Some(option_id),
            canceled: None,
        }),
    }
}

/// On `orders.order_canceled.v1`: remembers the cancel (the first one).
pub fn note_canceled(
    existing: Option<&OrderNote>,
    order_id: OrderId,
    reason: &str,
    now: DateTime<Utc>,
) -> NoteOutcome {
    let canceled = Some((now, reason.to_owned()));
    match existing {
        Some(note) if note.canceled.is_some() => NoteOutcome::Unchanged,
        Some(note) => NoteOutcome::Store(OrderNote {
            canceled,
            ..note.clone()
        }),
        None => NoteOutcome::Store(OrderNote {
            order_id,
            shipping_option_id: None,
            canceled,
        }),
    }
}

/// Opens the order's shipment unless `existing` (the order's shipment, if
/// any) is there already or the order was canceled. `note` is what
/// orders' events said of the order; `option` the shipping option its note
/// names, as stored (`None` when the note names none or an unknown one).
pub fn open_shipment(
    existing: Option<&Shipment>,
    note: Option<&OrderNote>,
    request: OpenShipment,
    option: Option<&ShippingOption>,
    now: DateTime<Utc>,
) -> Result<OpenOutcome, FulfillmentError> {
    if existing.is_some() {
        return Ok(OpenOutcome::AlreadyOpen);
    }
    let Some(note) = note else {
        return Err(FulfillmentError::OrderNotPlaced {
            order_id: request.order_id,
        });
    };
    if note.canceled.is_some() {
        return Ok(OpenOutcome::OrderCanceled);
    }
    let Some(option_id) = note.shipping_option_id else {
        return Err(FulfillmentError::OrderNotPlaced {
            order_id: request.order_id,
        });
    };
    let option = match option {
        Some(option) if option.id() == option_id => option,
        Some(_) | None => {
            return Err(FulfillmentError::Inconsistent(format!(
                "order {} ships with option {option_id}, which is not on offer",
                request.order_id
            )));
        }
    };
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
        canceled_at: None,
        updated_at: now,
    };
    Ok(OpenOutcome::Opened {
        shipment: Box::new(shipment),
        event,
    })
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CancelOutcome {
    /// PENDING -> CANCELED: store it, emit the event.
    Canceled {
        shipment: Box<Shipment>,
        event: ShipmentCanceled,
    },
    /// Canceled already (a re-published cancel).
    Unchanged,
    /// The shipment left before the cancel arrived (a MarkShipped raced
    /// the cancel): it cannot be called back. Nothing changes; the service
    /// reports it.
    AlreadyLeft { status: ShipmentStatus },
}

/// On `orders.order_canceled.v1`, for the order's shipment.
pub fn cancel_shipment(shipment: &Shipment, reason: &str, now: DateTime<Utc>) -> CancelOutcome {
    match shipment.status {
        ShipmentStatus::Pending => {
            let at = shipment.after_last_change(now);
            let canceled = Shipment {
                status: ShipmentStatus::Canceled,
                canceled_at: Some(at),
                updated_at: at,
                ..shipment.clone()
            };
            CancelOutcome::Canceled {
                shipment: Box::new(canceled),
                event: ShipmentCanceled {
                    shipment_id: shipment.id,
                    order_id: shipment.order_id,
                    reason: reason.to_owned(),
                },
            }
        }
        ShipmentStatus::Canceled => CancelOutcome::Unchanged,
        status @ (ShipmentStatus::Shipped | ShipmentStatus::Delivered) => {
            CancelOutcome::AlreadyLeft { status }
        }
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
        ShipmentStatus::Canceled => Err(FulfillmentError::IllegalTransition {
            shipment_id: shipment.id,
            status: shipment.status,
            reason: "its order was canceled; it never ships",
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
        ShipmentStatus::Canceled => Err(FulfillmentError::IllegalTransition {
            shipment_id: shipment.id,
            status: shipment.status,
            reason: "its order was canceled; it never ships",
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

    /// The note of an order placed with `option`.
    fn placed(request: &OpenShipment, option: &ShippingOption) -> OrderNote {
        OrderNote {
            order_id: request.order_id,
            shipping_option_id: Some(option.id()),
            canceled: None,
        }
    }

    fn pending() -> Shipment {
        let (request, option) = (request(), standard());
        let note = placed(&request, &option);
        match open_shipment(None, Some(&note), request, Some(&option), t0()) {
            Ok(OpenOutcome::Opened { shipment, .. }) => *shipment,
            other => panic!("not opened: {other:?}"),
        }
    }

    fn canceled() -> Shipment {
        match cancel_shipment(&pending(), "changed my mind", t0() + Duration::hours(1)) {
            CancelOutcome::Canceled { shipment, .. } => *shipment,
            other => panic!("not canceled: {other:?}"),
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
            ShipmentStatus::Canceled => canceled(),
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
        let note = placed(&request, &option);
        let Ok(OpenOutcome::Opened { shipment, event }) =
            open_shipment(None, Some(&note), request.clone(), Some(&option), t0())
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
                open_shipment(
                    Some(&existing),
                    Some(&note),
                    request.clone(),
                    Some(&option),
                    t0()
                ),
                Ok(OpenOutcome::AlreadyOpen)
            );
        }
    }

    #[test]
    fn a_commit_ships_with_the_option_the_order_was_placed_with() {
        let request = request();
        let express = ShippingOption::new(
            ShippingOptionId::generate(),
            "Express".to_owned(),
            Money::new(1299, Currency::parse("EUR").unwrap()).unwrap(),
            1,
            2,
        )
        .unwrap();
        let note = placed(&request, &express);
        let Ok(OpenOutcome::Opened { shipment, event }) =
            open_shipment(None, Some(&note), request.clone(), Some(&express), t0())
        else {
            panic!("not opened");
        };
        assert_eq!(shipment.shipping_option(), &express);
        assert_eq!(event.shipping_option_id, express.id());

        // The order's option read back as another (a bug): refused.
        let error =
            open_shipment(None, Some(&note), request.clone(), Some(&standard()), t0()).unwrap_err();
        assert_eq!(error.code(), ecommerce_kernel::ErrorCode::Internal);
        let error = open_shipment(None, Some(&note), request.clone(), None, t0()).unwrap_err();
        assert_eq!(error.code(), ecommerce_kernel::ErrorCode::Internal);
    }

    #[test]
    fn a_commit_before_its_order_waits_and_after_a_cancel_opens_nothing() {
        let request = request();
        let option = standard();
        // Not noted at all: wait (UNAVAILABLE, the consumer retries).
        let error = open_shipment(None, None, request.clone(), None, t0()).unwrap_err();
        assert_eq!(
            error,
            FulfillmentError::OrderNotPlaced {
                order_id: request.order_id
            }
        );
        assert_eq!(error.code(), ecommerce_kernel::ErrorCode::Unavailable);

        // Canceled, whether or not its order_placed was seen: no shipment.
        let NoteOutcome::Store(canceled_only) =
            note_canceled(None, request.order_id, "changed my mind", t0())
        else {
            panic!("noted");
        };
        assert_eq!(canceled_only.shipping_option_id, None);
        assert_eq!(
            open_shipment(None, Some(&canceled_only), request.clone(), None, t0()),
            Ok(OpenOutcome::OrderCanceled)
        );
        let NoteOutcome::Store(both) =
            note_placed(Some(&canceled_only), request.order_id, option.id())
        else {
            panic!("noted");
        };
        assert_eq!(both.shipping_option_id, Some(option.id()));
        assert!(both.canceled.is_some());
        assert_eq!(
            open_shipment(None, Some(&both), request.clone(), Some(&option), t0()),
            Ok(OpenOutcome::OrderCanceled)
        );
    }

    #[test]
    fn notes_keep_the_first_option_and_the_first_cancel() {
        let order_id = OrderId::generate();
        let (first, second) = (ShippingOptionId::generate(), ShippingOptionId::generate());
        let NoteOutcome::Store(note) = note_placed(None, order_id, first) else {
            panic!("noted");
        };
        assert_eq!(
            note_placed(Some(&note), order_id, second),
            NoteOutcome::Unchanged
        );
        let NoteOutcome::Store(canceled) = note_canceled(Some(&note), order_id, "first", t0())
        else {
            panic!("noted");
        };
        assert_eq!(canceled.shipping_option_id, Some(first));
        assert_eq!(canceled.canceled, Some((t0(), "first".to_owned())));
        assert_eq!(
            note_canceled(Some(&canceled), order_id, "second", t0()),
            NoteOutcome::Unchanged
        );
    }

    #[test]
    fn every_state_and_cancel() {
        let at = t0() + Duration::days(5);
        for status in ShipmentStatus::ALL {
            let shipment = in_state(status);
            let outcome = cancel_shipment(&shipment, "changed my mind", at);
            match status {
                ShipmentStatus::Pending => {
                    let CancelOutcome::Canceled {
                        shipment: after,
                        event,
                    } = outcome
                    else {
                        panic!("pending was not canceled: {outcome:?}");
                    };
                    assert_eq!(after.status(), ShipmentStatus::Canceled);
                    assert_eq!(after.canceled_at(), Some(at));
                    assert_eq!(after.updated_at(), at);
                    assert_eq!(after.tracking(), None);
                    assert_eq!(
                        event,
                        ShipmentCanceled {
                            shipment_id: shipment.id(),
                            order_id: shipment.order_id(),
                            reason: "changed my mind".to_owned(),
                        }
                    );
                }
                ShipmentStatus::Canceled => assert_eq!(outcome, CancelOutcome::Unchanged),
                ShipmentStatus::Shipped | ShipmentStatus::Delivered => {
                    assert_eq!(outcome, CancelOutcome::AlreadyLeft { status });
                }
            }
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
                ShipmentStatus::Canceled => {
                    let error = outcome.unwrap_err();
                    assert!(matches!(
                        error,
                        FulfillmentError::IllegalTransition {
                            status: ShipmentStatus::Canceled,
                            ..
                        }
                    ));
                    assert_eq!(
                        error.code(),
                        ecommerce_kernel::ErrorCode::FailedPrecondition
                    );
                    assert!(error.to_string().contains("CANCELED"), "{error}");
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
                ShipmentStatus::Canceled => {
                    let error = outcome.unwrap_err();
                    assert!(error.to_string().contains("CANCELED"), "{error}");
                }
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
                canceled_at: (status == ShipmentStatus::Canceled).then(t0),
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
        assert!(Shipment::from_stored(stored(ShipmentStatus::Canceled, None, None, None)).is_ok());
        let shipped_then_canceled = StoredShipment {
            canceled_at: at,
            ..stored(ShipmentStatus::Shipped, some_tracking.clone(), at, None)
        };
        let canceled_without_when = StoredShipment {
            canceled_at: None,
            ..stored(ShipmentStatus::Canceled, None, None, None)
        };
        let broken = [
            shipped_then_canceled,
            canceled_without_when,
            stored(ShipmentStatus::Canceled, some_tracking.clone(), at, None),
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
