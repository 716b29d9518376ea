//! Decoding any envelope by its schema registry id, including event types
//! this build has never seen: the payload becomes a
//! [`prost_reflect::DynamicMessage`] described by the registered schema.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use ecommerce_schema_compat::{
    SchemaError as DescriptorSetError, decode_descriptor_set, without_panic,
};
use prost_reflect::{DynamicMessage, MessageDescriptor};
use tokio::sync::OnceCell;

use crate::codec::{EnvelopeError, EnvelopeParts, parse_envelope, payload_message_name};
use crate::metadata::EventMetadata;
use crate::registry::{SchemaFetchError, SchemaSource};

/// A registered schema, parsed: the payload message's descriptor (which keeps
/// its whole descriptor pool alive) and where it was registered.
#[derive(Clone, Debug)]
pub struct RegisteredSchema {
    /// The schema registry id.
    pub id: i64,
    /// The subject it is registered under, e.g. `orders.order_placed.v1`.
    pub subject: String,
    /// Its version within the subject.
    pub version: i32,
    /// The payload message.
    pub descriptor: MessageDescriptor,
}

impl RegisteredSchema {
    /// Fully qualified name of the payload message.
    pub fn message_name(&self) -> &str {
        self.descriptor.full_name()
    }
}

/// Why a schema id could not be turned into a message descriptor.
/// Cloneable: every caller waiting on one fetch receives its outcome.
#[derive(Clone, Debug, thiserror::Error)]
pub enum SchemaError {
    #[error(transparent)]
    Fetch(#[from] SchemaFetchError),
    #[error("schema {id}'s file descriptor set is invalid")]
    InvalidDescriptorSet {
        id: i64,
        /// Why the set does not parse (or would make the parser panic).
        #[source]
        source: DescriptorSetError,
    },
    #[error("schema {id}'s file descriptor set has no message `{message_name}`")]
    MessageNotInSet { id: i64, message_name: String },
}

/// Every way an envelope can fail to decode dynamically.
#[derive(Debug, thiserror::Error)]
pub enum DynamicDecodeError {
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    #[error("event `{event_type}` has no schema registry id")]
    MissingSchemaId { event_type: String },
    #[error("event `{event_type}` names schema registry id {schema_id}; ids are positive")]
    InvalidSchemaId { event_type: String, schema_id: i64 },
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error(
        "event `{event_type}` carries a `{actual}` payload, but schema {schema_id} is `{expected}`"
    )]
    WrongPayloadType {
        event_type: String,
        schema_id: i64,
        expected: String,
        actual: String,
    },
    #[error(
        "event `{event_type}` names message `{in_envelope}`, but schema {schema_id} is `{in_registry}`"
    )]
    SchemaMismatch {
        event_type: String,
        schema_id: i64,
        in_registry: String,
        in_envelope: String,
    },
    #[error("the `{event_type}` payload does not decode as `{message_name}`: {source}")]
    MalformedPayload {
        event_type: String,
        message_name: String,
        #[source]
        source: prost::DecodeError,
    },
}

impl DynamicDecodeError {
    /// True when the same message may decode later (the registry could not
    /// be reached), so a consumer should retry rather than dead-letter it.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Schema(SchemaError::Fetch(fetch_error)) => match fetch_error {
                SchemaFetchError::Unavailable { .. } => true,
                SchemaFetchError::UnknownSchemaId(_) | SchemaFetchError::InvalidResponse { .. } => {
                    false
                }
            },
            Self::Schema(
                SchemaError::InvalidDescriptorSet { .. } | SchemaError::MessageNotInSet { .. },
            )
            | Self::Envelope(_)
            | Self::MissingSchemaId { .. }
            | Self::InvalidSchemaId { .. }
            | Self::WrongPayloadType { .. }
            | Self::SchemaMismatch { .. }
            | Self::MalformedPayload { .. } => false,
        }
    }
}

/// An event decoded without compile-time knowledge of its type.
#[derive(Clone, Debug)]
pub struct DynamicEvent {
    /// The envelope's event type string.
    pub event_type: String,
    /// The envelope's metadata; `schema_registry_id` is the schema's id.
    pub metadata: EventMetadata,
    /// The schema the payload was decoded with.
    pub schema: Arc<RegisteredSchema>,
    /// The payload.
    pub message: DynamicMessage,
}

impl DynamicEvent {
    /// The schema registry id the payload was decoded with.
    pub fn schema_id(&self) -> i64 {
        self.schema.id
    }

    /// Fully qualified name of the payload message.
    pub fn message_name(&self) -> &str {
        self.schema.message_name()
    }

    /// The payload in ProtoJSON (lowerCamelCase names, 64-bit integers as
    /// strings, well-known types in their JSON forms, default values left
    /// out). Fails only when the payload holds a `google.protobuf.Any` whose
    /// type is not in the schema's descriptor set.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        without_panic(|| serde_json::to_string(&self.message))
            .unwrap_or_else(|| Err(render_panicked()))
    }

    /// The payload in ProtoJSON as a [`serde_json::Value`]; see [`Self::to_json`].
    pub fn to_json_value(&self) -> Result<serde_json::Value, serde_json::Error> {
        without_panic(|| serde_json::to_value(&self.message))
            .unwrap_or_else(|| Err(render_panicked()))
    }
}

/// What one fetch of an id ends with, shared by every caller that waited for it.
type FetchOutcome = Result<Arc<RegisteredSchema>, SchemaError>;

/// Resolves schema registry ids to parsed schemas, each fetched and parsed
/// once, and decodes envelopes with them ([`Self::decode_dynamic`]).
///
/// Concurrent requests for an id not yet cached share one fetch and its
/// outcome, failure included; a failure is not cached, so the next request
/// after it fetches again. Cached schemas are kept for the cache's lifetime
/// (registry ids are immutable).
pub struct SchemaCache {
    source: Arc<dyn SchemaSource>,
    ready: RwLock<HashMap<i64, Arc<RegisteredSchema>>>,
    in_flight: Mutex<HashMap<i64, Arc<OnceCell<FetchOutcome>>>>,
}

impl std::fmt::Debug for SchemaCache {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SchemaCache")
            .field("cached", &self.cached_count())
            .finish_non_exhaustive()
    }
}

impl SchemaCache {
    pub fn new(source: Arc<dyn SchemaSource>) -> Self {
        Self {
            source,
            ready: RwLock::new(HashMap::new()),
            in_flight: Mutex::new(HashMap::new()),
        }
    }

    /// How many schemas are cached.
    pub fn cached_count(&self) -> usize {
        self.ready
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// The schema registered with `id`: from the cache, or fetched and parsed
    /// once however many callers ask at the same time.
    pub async fn schema(&self, id: i64) -> Result<Arc<RegisteredSchema>, SchemaError> {
        if let Some(schema) = self.cached(id) {
            return Ok(schema);
        }
        let cell = {
            let mut in_flight = self
                .in_flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            // Re-checked under the lock: a fetch that finished since the
            // check above published its schema before leaving `in_flight`.
            if let Some(schema) = self.cached(id) {
                return Ok(schema);
            }
            Arc::clone(in_flight.entry(id).or_default())
        };
        // Whoever gets here first fetches; the others wait for its outcome
        // (and take over should it be cancelled).
        let outcome = cell.get_or_init(|| self.load(id)).await.clone();
        if let Ok(schema) = &outcome {
            self.ready
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(id, Arc::clone(schema));
        }
        // Every waiter retires the finished fetch (idempotent), so a failure
        // is retried by the next request rather than cached.
        let mut in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if in_flight
            .get(&id)
            .is_some_and(|current| Arc::ptr_eq(current, &cell))
        {
            in_flight.remove(&id);
        }
        outcome
    }

    fn cached(&self, id: i64) -> Option<Arc<RegisteredSchema>> {
        self.ready
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .cloned()
    }

    async fn load(&self, id: i64) -> FetchOutcome {
        let fetched = self.source.fetch_schema(id).await?;
        let pool = decode_descriptor_set(&fetched.file_descriptor_set)
            .map_err(|source| SchemaError::InvalidDescriptorSet { id, source })?;
        let descriptor = pool.get_message_by_name(&fetched.message_name).ok_or(
            SchemaError::MessageNotInSet {
                id,
                message_name: fetched.message_name,
            },
        )?;
        Ok(Arc::new(RegisteredSchema {
            id,
            subject: fetched.subject,
            version: fetched.version,
            descriptor,
        }))
    }

    /// Decodes envelope bytes whatever their event type, with the schema
    /// their `schema.registry_id` names. The envelope is checked as the typed
    /// [`decode_envelope`](crate::decode_envelope) checks it; the payload's
    /// type URL (and the envelope's `schema.message_name`, when set) must name
    /// the registered message. Never panics on any input.
    pub async fn decode_dynamic(&self, body: &[u8]) -> Result<DynamicEvent, DynamicDecodeError> {
        let EnvelopeParts {
            event_type,
            metadata,
            schema: schema_ref,
            payload,
        } = parse_envelope(body)?;
        let Some(schema_id) = metadata.schema_registry_id else {
            return Err(DynamicDecodeError::MissingSchemaId { event_type });
        };
        if schema_id <= 0 {
            return Err(DynamicDecodeError::InvalidSchemaId {
                event_type,
                schema_id,
            });
        }
        let schema = self.schema(schema_id).await?;
        let message_name = schema.message_name();
        if payload_message_name(&payload.type_url) != message_name {
            return Err(DynamicDecodeError::WrongPayloadType {
                event_type,
                schema_id,
                expected: message_name.to_owned(),
                actual: payload.type_url,
            });
        }
        if let Some(schema_ref) = schema_ref {
            if !schema_ref.message_name.is_empty() && schema_ref.message_name != message_name {
                return Err(DynamicDecodeError::SchemaMismatch {
                    event_type,
                    schema_id,
                    in_registry: message_name.to_owned(),
                    in_envelope: schema_ref.message_name,
                });
            }
        }
        let decoded = without_panic(|| {
            DynamicMessage::decode(schema.descriptor.clone(), payload.value.as_slice())
        });
        let message = match decoded {
            Some(Ok(message)) => message,
            Some(Err(source)) => {
                return Err(DynamicDecodeError::MalformedPayload {
                    event_type,
                    message_name: message_name.to_owned(),
                    source,
                });
            }
            // The descriptors broke an invariant the checks at load time
            // do not know about: the schema, not the payload, is at fault.
            None => {
                return Err(SchemaError::InvalidDescriptorSet {
                    id: schema_id,
                    source: DescriptorSetError::Invalid(
                        "the payload decoder panicked on its descriptors".to_owned(),
                    ),
                }
                .into());
            }
        };
        Ok(DynamicEvent {
            event_type,
            metadata,
            schema,
            message,
        })
    }
}

fn render_panicked() -> serde_json::Error {
    <serde_json::Error as serde::ser::Error>::custom(
        "the JSON serializer panicked on the payload's descriptors",
    )
}
