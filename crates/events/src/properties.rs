//! Broker-independent message properties that mirror the envelope, in AMQP
//! terms. The broker crate maps them onto `BasicProperties`.

use std::collections::BTreeMap;

/// The only content type the codec produces and accepts.
pub const CONTENT_TYPE_PROTOBUF: &str = "application/protobuf";

/// AMQP delivery mode 2: the broker writes the message to disk.
pub const DELIVERY_MODE_PERSISTENT: u8 = 2;

/// Header names. AMQP has no property for these, so they travel as headers.
pub mod headers {
    pub const CAUSATION_ID: &str = "x-causation-id";
    pub const AGGREGATE_TYPE: &str = "x-aggregate-type";
    pub const AGGREGATE_ID: &str = "x-aggregate-id";
    /// `<message name>@v<major>`, plus `#<registry id>` when registered.
    pub const SCHEMA: &str = "x-schema";
    /// The schema registry id of the payload's schema, in decimal; present
    /// only when registered (the same id `x-schema` ends with after `#`).
    pub const SCHEMA_ID: &str = "x-schema-id";
    pub const TRACEPARENT: &str = "traceparent";
    pub const TRACESTATE: &str = "tracestate";

    /// The registry id an `x-schema` value ends with (`...@v1#42` gives 42),
    /// for code that rebuilds headers from a stored `x-schema` value and
    /// must add `x-schema-id` as `encode` does.
    pub fn registry_id_of_schema(schema: &str) -> Option<i64> {
        let (_, registry_id) = schema.rsplit_once('#')?;
        registry_id.parse().ok()
    }
}

/// The AMQP properties of one event message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageProperties {
    /// AMQP `message_id`: the event id.
    pub message_id: String,
    /// AMQP `type`: the event type string.
    pub event_type: String,
    /// AMQP `timestamp`: seconds since the Unix epoch of `occurred_at`.
    pub timestamp: u64,
    pub correlation_id: Option<String>,
    pub content_type: String,
    pub delivery_mode: u8,
    /// String headers, names in [`headers`].
    pub headers: BTreeMap<String, String>,
}
