//! The event codec shared by every producer and consumer.
//!
//! - [`EVENT_TYPES`], [`DecodedEvent`] and the [`Event`] impls are generated at
//!   build time from the `ecommerce.events.v1.event_type` option in `proto/`.
//! - [`encode`] turns a payload plus [`EventMetadata`] into an AMQP body (an
//!   `ecommerce.events.v1.EventEnvelope`) and [`MessageProperties`] that mirror it.
//! - [`decode`] reverses that and returns a typed [`DecodeError`] for every way
//!   a message can be bad; it never panics on any input.
//!
//! Nothing here depends on the broker client: the broker crate maps
//! [`MessageProperties`] to and from its own types.

mod codec;
mod metadata;
mod properties;

pub use codec::{
    DecodeError, EncodedEvent, ReceivedEvent, decode, decode_envelope, encode, encode_decoded,
};
pub use metadata::{Aggregate, EventMetadata, TraceContext};
pub use properties::{CONTENT_TYPE_PROTOBUF, DELIVERY_MODE_PERSISTENT, MessageProperties, headers};

/// A protobuf message that is the payload of one event type.
///
/// Implemented by generated code for every message that carries the
/// `event_type` option; never implement it by hand.
pub trait Event: prost::Message + Default + Clone + Into<DecodedEvent> {
    /// The event type string, also the AMQP `type` and routing key.
    const EVENT_TYPE: &'static str;
    /// Fully qualified protobuf message name.
    const MESSAGE_NAME: &'static str;
    /// Major schema version (package version and `.vN` suffix).
    const SCHEMA_VERSION: u32;
}

/// One row of the generated event table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventTypeInfo {
    pub event_type: &'static str,
    pub message_name: &'static str,
    pub version: u32,
}

mod generated {
    #![allow(clippy::all, missing_docs)]
    use super::{Event, EventTypeInfo};
    // `Event` is unused only in a build without events.
    include!(concat!(env!("OUT_DIR"), "/event_table.rs"));
}

pub use generated::{DecodedEvent, EVENT_TYPES};

/// Looks up an event type in the generated table.
pub fn event_type_info(event_type: &str) -> Option<&'static EventTypeInfo> {
    EVENT_TYPES
        .binary_search_by(|info| info.event_type.cmp(event_type))
        .ok()
        .map(|index| &EVENT_TYPES[index])
}
