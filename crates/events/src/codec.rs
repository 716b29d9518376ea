//! Envelope encoding and decoding.

use chrono::DateTime;
use ecommerce_proto::ecommerce::events::v1 as envelope_pb;
use prost::Message as _;
use uuid::Uuid;

use crate::metadata::{Aggregate, EventMetadata, TraceContext};
use crate::properties::{
    CONTENT_TYPE_PROTOBUF, DELIVERY_MODE_PERSISTENT, MessageProperties, headers,
};
use crate::{DecodedEvent, Event, event_type_info};

/// Prefix of `google.protobuf.Any` type URLs.
const TYPE_URL_PREFIX: &str = "type.googleapis.com/";

/// An event ready for the broker: the envelope bytes and the properties that mirror it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedEvent {
    pub body: Vec<u8>,
    pub properties: MessageProperties,
}

/// A decoded event with its metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct ReceivedEvent {
    pub event: DecodedEvent,
    pub metadata: EventMetadata,
}

/// Every way an incoming message can fail to be a known event.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("content type `{0}` is not {CONTENT_TYPE_PROTOBUF}")]
    UnsupportedContentType(String),
    #[error("the body is not an event envelope: {0}")]
    MalformedEnvelope(#[source] prost::DecodeError),
    #[error("the envelope has no `{0}`")]
    MissingField(&'static str),
    #[error("the envelope's `{field}` is invalid: {reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error(
        "message property `{property}` is `{in_properties}` but the envelope says `{in_envelope}`"
    )]
    PropertiesMismatch {
        property: &'static str,
        in_properties: String,
        in_envelope: String,
    },
    #[error("unknown event type `{0}`")]
    UnknownEventType(String),
    #[error("event `{event_type}` carries a `{actual}` payload, expected `{expected}`")]
    WrongPayloadType {
        event_type: String,
        expected: &'static str,
        actual: String,
    },
    #[error("event `{event_type}` references schema `{actual}`, expected `{expected}`")]
    SchemaMismatch {
        event_type: String,
        expected: String,
        actual: String,
    },
    #[error("the `{event_type}` payload does not decode: {source}")]
    MalformedPayload {
        event_type: String,
        #[source]
        source: prost::DecodeError,
    },
}

/// Encodes a typed payload with its metadata.
pub fn encode<E: Event>(payload: &E, metadata: &EventMetadata) -> EncodedEvent {
    encode_parts(
        E::EVENT_TYPE,
        E::MESSAGE_NAME,
        E::SCHEMA_VERSION,
        payload.encode_to_vec(),
        metadata,
    )
}

/// Encodes an already decoded event (e.g. one read back from storage).
pub fn encode_decoded(event: &DecodedEvent, metadata: &EventMetadata) -> EncodedEvent {
    encode_parts(
        event.event_type(),
        event.message_name(),
        event.schema_version(),
        event.encode_payload(),
        metadata,
    )
}

/// Encodes an already encoded payload of any message, also one this build
/// does not know (a generic producer, a replay tool): `message_name` goes
/// into the type URL and the schema reference, `version` is the major schema
/// version. Prefer [`encode`] for the generated event types.
pub fn encode_payload(
    event_type: &str,
    message_name: &str,
    version: u32,
    payload: Vec<u8>,
    metadata: &EventMetadata,
) -> EncodedEvent {
    encode_parts(event_type, message_name, version, payload, metadata)
}

fn encode_parts(
    event_type: &str,
    message_name: &str,
    version: u32,
    payload: Vec<u8>,
    metadata: &EventMetadata,
) -> EncodedEvent {
    let envelope = envelope_pb::EventEnvelope {
        id: metadata.id.to_string(),
        r#type: event_type.to_owned(),
        occurred_at: Some(prost_types::Timestamp {
            seconds: metadata.occurred_at.timestamp(),
            nanos: metadata.occurred_at.timestamp_subsec_nanos() as i32,
        }),
        aggregate: Some(envelope_pb::AggregateRef {
            r#type: metadata.aggregate.aggregate_type.clone(),
            id: metadata.aggregate.id.clone(),
        }),
        correlation_id: metadata.correlation_id.clone(),
        causation_id: metadata.causation_id.clone(),
        schema: Some(envelope_pb::SchemaRef {
            message_name: message_name.to_owned(),
            version,
            registry_id: metadata.schema_registry_id,
        }),
        payload: Some(prost_types::Any {
            type_url: format!("{TYPE_URL_PREFIX}{message_name}"),
            value: payload,
        }),
        trace_context: metadata
            .trace_context
            .as_ref()
            .map(|trace| envelope_pb::TraceContext {
                traceparent: trace.traceparent.clone(),
                tracestate: trace.tracestate.clone(),
            }),
    };

    let mut message_headers = std::collections::BTreeMap::new();
    message_headers.insert(
        headers::AGGREGATE_TYPE.to_owned(),
        metadata.aggregate.aggregate_type.clone(),
    );
    message_headers.insert(
        headers::AGGREGATE_ID.to_owned(),
        metadata.aggregate.id.clone(),
    );
    let schema = match metadata.schema_registry_id {
        Some(registry_id) => {
            message_headers.insert(headers::SCHEMA_ID.to_owned(), registry_id.to_string());
            format!("{message_name}@v{version}#{registry_id}")
        }
        None => format!("{message_name}@v{version}"),
    };
    message_headers.insert(headers::SCHEMA.to_owned(), schema);
    if let Some(causation_id) = &metadata.causation_id {
        message_headers.insert(headers::CAUSATION_ID.to_owned(), causation_id.clone());
    }
    if let Some(trace) = &metadata.trace_context {
        if !trace.traceparent.is_empty() {
            message_headers.insert(headers::TRACEPARENT.to_owned(), trace.traceparent.clone());
        }
        if !trace.tracestate.is_empty() {
            message_headers.insert(headers::TRACESTATE.to_owned(), trace.tracestate.clone());
        }
    }

    EncodedEvent {
        body: envelope.encode_to_vec(),
        properties: MessageProperties {
            message_id: metadata.id.to_string(),
            event_type: event_type.to_owned(),
            // Pre-1970 times cannot be expressed in an AMQP timestamp; 0 marks "unknown".
            timestamp: u64::try_from(metadata.occurred_at.timestamp()).unwrap_or(0),
            correlation_id: metadata.correlation_id.clone(),
            content_type: CONTENT_TYPE_PROTOBUF.to_owned(),
            delivery_mode: DELIVERY_MODE_PERSISTENT,
            headers: message_headers,
        },
    }
}

/// Decodes a message received from the broker. The properties are checked
/// against the envelope when present; the envelope is the source of truth.
pub fn decode(properties: &MessageProperties, body: &[u8]) -> Result<ReceivedEvent, DecodeError> {
    if !properties.content_type.is_empty() && properties.content_type != CONTENT_TYPE_PROTOBUF {
        return Err(DecodeError::UnsupportedContentType(
            properties.content_type.clone(),
        ));
    }
    let received = decode_envelope(body)?;
    check_property("type", &properties.event_type, received.event.event_type())?;
    check_property(
        "message_id",
        &properties.message_id,
        &received.metadata.id.to_string(),
    )?;
    Ok(received)
}

fn check_property(
    property: &'static str,
    in_properties: &str,
    in_envelope: &str,
) -> Result<(), DecodeError> {
    if in_properties.is_empty() || in_properties == in_envelope {
        return Ok(());
    }
    Err(DecodeError::PropertiesMismatch {
        property,
        in_properties: in_properties.to_owned(),
        in_envelope: in_envelope.to_owned(),
    })
}

/// Decodes envelope bytes alone (e.g. an outbox row's stored body).
pub fn decode_envelope(body: &[u8]) -> Result<ReceivedEvent, DecodeError> {
    let EnvelopeParts {
        event_type,
        metadata,
        schema,
        payload,
    } = parse_envelope(body)?;

    let info = event_type_info(&event_type)
        .ok_or_else(|| DecodeError::UnknownEventType(event_type.clone()))?;
    if payload_message_name(&payload.type_url) != info.message_name {
        return Err(DecodeError::WrongPayloadType {
            event_type,
            expected: info.message_name,
            actual: payload.type_url,
        });
    }
    if let Some(schema) = &schema {
        let names_other_message =
            !schema.message_name.is_empty() && schema.message_name != info.message_name;
        let names_other_version = schema.version != 0 && schema.version != info.version;
        if names_other_message || names_other_version {
            return Err(DecodeError::SchemaMismatch {
                event_type,
                expected: format!("{}@v{}", info.message_name, info.version),
                actual: format!("{}@v{}", schema.message_name, schema.version),
            });
        }
    }
    let event = match DecodedEvent::decode_payload(&event_type, &payload.value) {
        Some(Ok(event)) => event,
        Some(Err(source)) => return Err(DecodeError::MalformedPayload { event_type, source }),
        None => return Err(DecodeError::UnknownEventType(event_type)),
    };
    Ok(ReceivedEvent { event, metadata })
}

/// Why envelope bytes are not a well-formed envelope, whatever the payload:
/// the checks both the typed ([`decode_envelope`]) and the dynamic
/// ([`SchemaCache::decode_dynamic`](crate::SchemaCache::decode_dynamic))
/// paths make before looking at the payload.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the body is not an event envelope: {0}")]
    Malformed(#[source] prost::DecodeError),
    #[error("the envelope has no `{0}`")]
    MissingField(&'static str),
    #[error("the envelope's `{field}` is invalid: {reason}")]
    InvalidField { field: &'static str, reason: String },
}

impl From<EnvelopeError> for DecodeError {
    fn from(error: EnvelopeError) -> Self {
        match error {
            EnvelopeError::Malformed(source) => Self::MalformedEnvelope(source),
            EnvelopeError::MissingField(field) => Self::MissingField(field),
            EnvelopeError::InvalidField { field, reason } => Self::InvalidField { field, reason },
        }
    }
}

/// A well-formed envelope taken apart: everything but the payload's meaning.
pub(crate) struct EnvelopeParts {
    pub(crate) event_type: String,
    /// Carries the envelope's `schema.registry_id`, when present.
    pub(crate) metadata: EventMetadata,
    pub(crate) schema: Option<envelope_pb::SchemaRef>,
    pub(crate) payload: prost_types::Any,
}

/// Decodes the envelope and checks its required fields, in the order the
/// typed path has always reported them: id, type, occurred_at, aggregate
/// (type, id), payload.
pub(crate) fn parse_envelope(body: &[u8]) -> Result<EnvelopeParts, EnvelopeError> {
    let envelope = envelope_pb::EventEnvelope::decode(body).map_err(EnvelopeError::Malformed)?;

    let id = Uuid::parse_str(required_string(&envelope.id, "id")?).map_err(|error| {
        EnvelopeError::InvalidField {
            field: "id",
            reason: error.to_string(),
        }
    })?;
    required_string(&envelope.r#type, "type")?;
    let occurred_at = envelope
        .occurred_at
        .ok_or(EnvelopeError::MissingField("occurred_at"))?;
    let occurred_at = u32::try_from(occurred_at.nanos)
        .ok()
        .and_then(|nanos| DateTime::from_timestamp(occurred_at.seconds, nanos))
        .ok_or_else(|| EnvelopeError::InvalidField {
            field: "occurred_at",
            reason: format!(
                "{}s {}ns is out of range",
                occurred_at.seconds, occurred_at.nanos
            ),
        })?;
    let aggregate = envelope
        .aggregate
        .ok_or(EnvelopeError::MissingField("aggregate"))?;
    required_string(&aggregate.r#type, "aggregate.type")?;
    required_string(&aggregate.id, "aggregate.id")?;
    let payload = envelope
        .payload
        .ok_or(EnvelopeError::MissingField("payload"))?;

    let schema_registry_id = envelope
        .schema
        .as_ref()
        .and_then(|schema| schema.registry_id);
    let metadata = EventMetadata {
        id,
        occurred_at,
        aggregate: Aggregate {
            aggregate_type: aggregate.r#type,
            id: aggregate.id,
        },
        correlation_id: envelope.correlation_id,
        causation_id: envelope.causation_id,
        trace_context: envelope.trace_context.and_then(|trace| {
            TraceContext {
                traceparent: trace.traceparent,
                tracestate: trace.tracestate,
            }
            .non_empty()
        }),
        schema_registry_id,
    };
    Ok(EnvelopeParts {
        event_type: envelope.r#type,
        metadata,
        schema: envelope.schema,
        payload,
    })
}

/// The message name a `google.protobuf.Any` type URL names: everything after
/// the last `/`, or the whole URL when it has none.
pub(crate) fn payload_message_name(type_url: &str) -> &str {
    type_url
        .rsplit_once('/')
        .map_or(type_url, |(_, message_name)| message_name)
}

fn required_string<'a>(value: &'a str, field: &'static str) -> Result<&'a str, EnvelopeError> {
    if value.is_empty() {
        return Err(EnvelopeError::MissingField(field));
    }
    Ok(value)
}
