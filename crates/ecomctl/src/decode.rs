//! Any message off the broker, decoded for people: with the generated codec
//! when its type is compiled in, else through the schema registry by the id
//! it carries, else from its AMQP properties alone with the reason.

use std::sync::{Arc, LazyLock};

use chrono::{DateTime, TimeZone as _, Utc};
use ecommerce_events::{
    DynamicDecodeError, MessageProperties, RegistrySchemaSource, SchemaCache, headers,
};
use prost_reflect::{DescriptorPool, DynamicMessage};
use serde_json::{Value, json};

use crate::format;

/// How a message was decoded.
#[derive(Clone, Debug, PartialEq)]
pub enum Decoding {
    /// With the codec compiled into ecomctl.
    Typed,
    /// Through the schema registry, by the envelope's registry id.
    Registry { schema_id: i64, subject: String },
    /// Not at all: what is shown comes from the AMQP properties.
    Failed { reason: String },
}

/// One event as the commands show it.
#[derive(Clone, Debug, PartialEq)]
pub struct EventView {
    pub message_id: String,
    pub event_type: String,
    pub occurred_at: Option<DateTime<Utc>>,
    /// `(type, id)`.
    pub aggregate: Option<(String, String)>,
    pub correlation_id: Option<String>,
    pub causation_id: Option<String>,
    pub schema_id: Option<i64>,
    pub decoding: Decoding,
    /// The payload in ProtoJSON, when decoded.
    pub payload: Option<Value>,
}

/// The descriptors compiled into this binary, parsed once.
static COMPILED: LazyLock<Option<DescriptorPool>> =
    LazyLock::new(|| DescriptorPool::decode(ecommerce_proto::FILE_DESCRIPTOR_SET).ok());

/// Decodes messages; holds the registry's schemas once fetched.
pub struct Decoder {
    schemas: Option<SchemaCache>,
    registry_url: Option<String>,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Decoder")
            .field("registry", &self.schemas.is_some())
            .finish()
    }
}

impl Decoder {
    /// A decoder asking the registry at `registry_url` (lazily: an
    /// unreachable registry only fails the messages that need it).
    pub fn new(registry_url: Option<&str>) -> anyhow::Result<Self> {
        let schemas = match registry_url {
            Some(url) => Some(SchemaCache::new(Arc::new(
                RegistrySchemaSource::connect_lazy(url)?,
            ))),
            None => None,
        };
        Ok(Self {
            schemas,
            registry_url: registry_url.map(str::to_owned),
        })
    }

    /// Decodes one message; never fails (a failure is in [`Decoding::Failed`]).
    pub async fn decode(&self, properties: &MessageProperties, body: &[u8]) -> EventView {
        let typed_error = match ecommerce_events::decode(properties, body) {
            Ok(received) => {
                let metadata = received.metadata;
                let payload = compiled_payload_json(
                    received.event.message_name(),
                    &received.event.encode_payload(),
                );
                return EventView {
                    message_id: metadata.id.to_string(),
                    event_type: received.event.event_type().to_owned(),
                    occurred_at: Some(metadata.occurred_at),
                    aggregate: Some((metadata.aggregate.aggregate_type, metadata.aggregate.id)),
                    correlation_id: metadata.correlation_id,
                    causation_id: metadata.causation_id,
                    schema_id: metadata.schema_registry_id,
                    decoding: Decoding::Typed,
                    payload,
                };
            }
            Err(error) => error.to_string(),
        };
        let reason = match &self.schemas {
            Some(schemas) => match schemas.decode_dynamic(body).await {
                Ok(event) => {
                    let metadata = event.metadata.clone();
                    return EventView {
                        message_id: metadata.id.to_string(),
                        event_type: event.event_type.clone(),
                        occurred_at: Some(metadata.occurred_at),
                        aggregate: Some((metadata.aggregate.aggregate_type, metadata.aggregate.id)),
                        correlation_id: metadata.correlation_id,
                        causation_id: metadata.causation_id,
                        schema_id: Some(event.schema_id()),
                        decoding: Decoding::Registry {
                            schema_id: event.schema_id(),
                            subject: event.schema.subject.clone(),
                        },
                        payload: event.to_json_value().ok(),
                    };
                }
                // Not in the registry either: the typed error says more.
                Err(DynamicDecodeError::MissingSchemaId { .. }) => typed_error,
                Err(error) if error.is_transient() => {
                    let cause = error_chain(&error);
                    let cause = if cause.to_ascii_lowercase().contains("connection refused") {
                        "connection refused".to_owned()
                    } else {
                        cause
                    };
                    format!(
                        "{typed_error}, and the schema registry at {} (SCHEMA_REGISTRY_URL) that \
                         could decode it by its id cannot be reached: {cause} — is it running?",
                        self.registry_url.as_deref().unwrap_or("?"),
                    )
                }
                Err(error) => format!("{typed_error}; by registry id: {}", error_chain(&error)),
            },
            None => typed_error,
        };
        from_properties(properties, reason)
    }
}

/// What the AMQP properties say about an undecodable message.
pub fn from_properties(properties: &MessageProperties, reason: String) -> EventView {
    let header = |name: &str| properties.headers.get(name).cloned();
    let aggregate = match (
        header(headers::AGGREGATE_TYPE),
        header(headers::AGGREGATE_ID),
    ) {
        (Some(aggregate_type), Some(id)) => Some((aggregate_type, id)),
        _ => None,
    };
    let occurred_at = i64::try_from(properties.timestamp)
        .ok()
        .filter(|seconds| *seconds > 0)
        .and_then(|seconds| Utc.timestamp_opt(seconds, 0).single());
    EventView {
        message_id: properties.message_id.clone(),
        event_type: properties.event_type.clone(),
        occurred_at,
        aggregate,
        correlation_id: properties.correlation_id.clone(),
        causation_id: header(headers::CAUSATION_ID),
        schema_id: header(headers::SCHEMA_ID).and_then(|id| id.parse().ok()),
        decoding: Decoding::Failed { reason },
        payload: None,
    }
}

/// A compiled message's payload in ProtoJSON.
fn compiled_payload_json(message_name: &str, payload: &[u8]) -> Option<Value> {
    let descriptor = COMPILED.as_ref()?.get_message_by_name(message_name)?;
    let message = DynamicMessage::decode(descriptor, payload).ok()?;
    serde_json::to_value(&message).ok()
}

use ecommerce_platform::error_chain;

impl EventView {
    /// `order:0190…`, or `-`.
    pub fn aggregate_text(&self) -> String {
        match &self.aggregate {
            Some((aggregate_type, id)) => format!("{aggregate_type}:{id}"),
            None => "-".to_owned(),
        }
    }

    /// The line `events tail` prints: time, type, aggregate, correlation,
    /// causation, and how it was decoded when not by the compiled codec.
    pub fn line(&self) -> String {
        let time = self
            .occurred_at
            .as_ref()
            .map_or_else(|| "-".repeat(24), format::timestamp);
        let event_type = if self.event_type.is_empty() {
            "(no type)"
        } else {
            &self.event_type
        };
        let mut line = format!(
            "{time}  {event_type:<40}  {:<48}  correlation={}  causation={}",
            self.aggregate_text(),
            self.correlation_id.as_deref().unwrap_or("-"),
            self.causation_id.as_deref().unwrap_or("-"),
        );
        match &self.decoding {
            Decoding::Typed => {}
            Decoding::Registry { schema_id, .. } => {
                line.push_str(&format!("  (decoded by registry id {schema_id})"));
            }
            Decoding::Failed { reason } => {
                line.push_str(&format!("  (undecodable: {})", format::one_line(reason)));
            }
        }
        line
    }

    /// The event as one JSON object (`--json`).
    pub fn json(&self) -> Value {
        let decoding = match &self.decoding {
            Decoding::Typed => json!({"by": "codec"}),
            Decoding::Registry { schema_id, subject } => {
                json!({"by": "registry", "schema_id": schema_id, "subject": subject})
            }
            Decoding::Failed { reason } => json!({"by": "none", "error": reason}),
        };
        json!({
            "id": self.message_id,
            "type": self.event_type,
            "occurred_at": self.occurred_at.as_ref().map(format::timestamp),
            "aggregate": self.aggregate.as_ref().map(|(aggregate_type, id)| {
                json!({"type": aggregate_type, "id": id})
            }),
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "schema_id": self.schema_id,
            "decoding": decoding,
            "payload": self.payload,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::TimeZone as _;
    use ecommerce_events::{EventMetadata, encode};
    use ecommerce_proto::ecommerce::orders::v1::OrderPlaced;

    use super::*;

    fn order_placed() -> (ecommerce_events::EncodedEvent, EventMetadata) {
        let mut metadata = EventMetadata::new("order", "order-1")
            .with_correlation_id("checkout-1")
            .with_causation_id("request-1");
        metadata.occurred_at = Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap();
        metadata.schema_registry_id = Some(7);
        let payload = OrderPlaced {
            order_id: "order-1".to_owned(),
            currency: "EUR".to_owned(),
            ..OrderPlaced::default()
        };
        (encode(&payload, &metadata), metadata)
    }

    #[tokio::test]
    async fn a_compiled_event_decodes_with_its_payload() {
        let (encoded, metadata) = order_placed();
        let view = Decoder::new(None)
            .unwrap()
            .decode(&encoded.properties, &encoded.body)
            .await;
        assert_eq!(view.decoding, Decoding::Typed);
        assert_eq!(view.message_id, metadata.id.to_string());
        assert_eq!(view.schema_id, Some(7));
        assert_eq!(
            view.payload.as_ref().unwrap()["orderId"],
            Value::from("order-1")
        );
        assert_eq!(
            view.line(),
            format!(
                "2026-03-01T10:00:00.000Z  {:<40}  {:<48}  correlation=checkout-1  causation=request-1",
                "orders.order_placed.v1", "order:order-1"
            )
        );
        let json = view.json();
        assert_eq!(json["decoding"]["by"], "codec");
        assert_eq!(json["aggregate"]["id"], "order-1");
    }

    #[tokio::test]
    async fn an_undecodable_message_is_shown_from_its_properties() {
        let (encoded, _) = order_placed();
        let view = Decoder::new(None)
            .unwrap()
            .decode(&encoded.properties, b"not an envelope")
            .await;
        assert_eq!(view.event_type, "orders.order_placed.v1");
        assert_eq!(view.correlation_id.as_deref(), Some("checkout-1"));
        assert_eq!(view.causation_id.as_deref(), Some("request-1"));
        assert_eq!(
            view.aggregate,
            Some(("order".to_owned(), "order-1".to_owned()))
        );
        let Decoding::Failed { reason } = &view.decoding else {
            panic!("{view:?}");
        };
        assert!(reason.contains("not an event envelope"), "{reason}");
        assert!(view.line().ends_with(&format!("(undecodable: {reason})")));
    }
}
