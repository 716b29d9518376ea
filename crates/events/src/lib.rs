//! The event codec shared by every producer and consumer.
//!
//! - [`EVENT_TYPES`], [`DecodedEvent`] and the [`Event`] impls are generated at
//!   build time from the `ecommerce.events.v1.event_type` option in `proto/`.
//! - [`encode`] turns a payload plus [`EventMetadata`] into an AMQP body (an
//!   `ecommerce.events.v1.EventEnvelope`) and [`MessageProperties`] that mirror it
//!   (with `x-schema-id` when the metadata carries a schema registry id).
//! - [`decode`] reverses that and returns a typed [`DecodeError`] for every way
//!   a message can be bad; it never panics on any input. This is the fast path
//!   for the event types compiled in; a known type decodes whatever registry id
//!   it carries, and the id is reported in [`EventMetadata::schema_registry_id`].
//!
//! # Any event, by its registry id
//!
//! An envelope whose `schema.registry_id` is set can be decoded without its
//! type being compiled in (a newer producer's event, a tool reading any
//! queue): [`SchemaCache::decode_dynamic`] checks the envelope exactly as the
//! typed path does ([`EnvelopeError`]), resolves the id through a
//! [`SchemaSource`] ([`RegistrySchemaSource`] asks the schema registry's
//! `GetSchema`), and decodes the payload into a
//! [`prost_reflect::DynamicMessage`] inside a [`DynamicEvent`], which renders
//! as ProtoJSON ([`DynamicEvent::to_json`]). Each id is fetched and parsed
//! once, even under concurrent requests; a failed fetch is retried by the next
//! request. Every failure is a [`DynamicDecodeError`], and
//! [`DynamicDecodeError::is_transient`] tells a registry outage (retry) from a
//! bad message (dead-letter).
//!
//! ```no_run
//! # async fn example(body: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use ecommerce_events::{RegistrySchemaSource, SchemaCache};
//!
//! let source = RegistrySchemaSource::connect_lazy("http://127.0.0.1:50058")?;
//! let schemas = SchemaCache::new(Arc::new(source));
//! let event = schemas.decode_dynamic(body).await?;
//! println!("{} {}", event.event_type, event.to_json()?);
//! # Ok(())
//! # }
//! ```
//!
//! Nothing here depends on the broker client: the broker crate maps
//! [`MessageProperties`] to and from its own types.

mod codec;
mod dynamic;
mod metadata;
mod properties;
mod registry;

pub use codec::{
    DecodeError, EncodedEvent, EnvelopeError, ReceivedEvent, decode, decode_envelope, encode,
    encode_decoded, encode_payload,
};
pub use dynamic::{DynamicDecodeError, DynamicEvent, RegisteredSchema, SchemaCache, SchemaError};
pub use metadata::{Aggregate, EventMetadata, TraceContext};
pub use properties::{CONTENT_TYPE_PROTOBUF, DELIVERY_MODE_PERSISTENT, MessageProperties, headers};
pub use registry::{
    FetchedSchema, RegistryConnectError, RegistrySchemaSource, SchemaFetchError, SchemaSource,
};

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
