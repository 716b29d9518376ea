//! Fulfillment's rules, without I/O: validated values, shipping options and
//! the shipment state machine (PENDING -> SHIPPED -> DELIVERED, or
//! PENDING -> CANCELED), each
//! transition returning the new state to store and the event to emit.
//!
//! Nothing here imports tonic, sea_orm or the generated messages:
//! `crate::convert` turns requests and the consumed event into the values
//! defined here (and the events defined here into messages), storage locks the row
//! and writes back what these functions return, in one transaction with the
//! outbox row.

pub mod error;
pub mod events;
pub mod shipment;
pub mod shipping;
pub mod values;

pub use error::{FulfillmentError, InvalidField, InvalidValue};
pub use events::{
    FulfillmentEvent, ShipmentCanceled, ShipmentCreated, ShipmentDelivered, ShipmentShipped,
};
pub use shipment::{
    CancelOutcome, DeliverOutcome, NoteOutcome, OpenOutcome, OpenShipment, OrderNote, ShipOutcome,
    Shipment, ShipmentLine, ShipmentLines, ShipmentStatus, StoredShipment, Tracking,
    cancel_shipment, mark_delivered, mark_shipped, note_canceled, note_placed, open_shipment,
};
pub use shipping::{ShippingOption, cheapest_first};
pub use values::{
    Carrier, CountryCode, OrderId, PageSize, Quantity, ReservationId, ShipmentId, ShippingOptionId,
    Sku, TrackingNumber,
};
