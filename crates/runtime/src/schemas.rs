//! Start-up registration of the event schemas a service emits.
//!
//! Each event type is a subject in the schema registry (its type string, e.g.
//! `orders.order_placed.v1`), registered with the descriptors compiled into
//! this binary. The ids go into the shared [`SchemaIds`], which the outboxes
//! stamp into every envelope and `x-schema-id` header.
//!
//! - The registry refuses a schema (incompatible with what consumers read):
//!   start-up fails, naming the subject and the registry's reasons. A
//!   producer must never publish what its consumers cannot read.
//! - The registry cannot be reached: start-up goes on, registration retries
//!   in the background with backoff, and events go out without an id until
//!   it succeeds. The health entry [`REGISTRATION_HEALTH_SERVICE`] says which.

use std::sync::LazyLock;
use std::time::Duration;

use ecommerce_events::{EVENT_TYPES, EventTypeInfo};
use ecommerce_outbox::SchemaIds;
use ecommerce_platform::Backoff;
use ecommerce_platform::settings::{EnvSource, SettingsError};
use ecommerce_proto::ecommerce::registry::v1 as registry_pb;
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, FileDescriptor};
use registry_pb::schema_registry_service_client::SchemaRegistryServiceClient;
use tokio::sync::watch;
use tonic::transport::{Channel, Endpoint};

/// The variable naming the registry's gRPC URL; `off` disables registration.
pub const SCHEMA_REGISTRY_URL_VAR: &str = "SCHEMA_REGISTRY_URL";
/// How long start-up waits for the registry before it goes on without it.
pub const SCHEMA_REGISTRY_STARTUP_TIMEOUT_MS_VAR: &str = "SCHEMA_REGISTRY_STARTUP_TIMEOUT_MS";
/// schema-registry's default local address.
pub const DEFAULT_SCHEMA_REGISTRY_URL: &str = "http://127.0.0.1:50058";
/// The `grpc.health.v1` service name that is SERVING once every event
/// schema of the process is registered (NOT_SERVING while events still go
/// out without a registry id). The process itself stays SERVING either way.
pub const REGISTRATION_HEALTH_SERVICE: &str = "schema-registration";

/// Where and how patiently a producer registers its event schemas.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaRegistrySettings {
    /// `SCHEMA_REGISTRY_URL` (default `http://127.0.0.1:50058`); `None`
    /// (`SCHEMA_REGISTRY_URL=off`) publishes every event without an id.
    pub url: Option<String>,
    /// `SCHEMA_REGISTRY_STARTUP_TIMEOUT_MS` (default 5000): how long start-up
    /// waits for the registry before it registers in the background.
    pub startup_timeout: Duration,
}

impl Default for SchemaRegistrySettings {
    fn default() -> Self {
        Self {
            url: Some(DEFAULT_SCHEMA_REGISTRY_URL.to_owned()),
            startup_timeout: Duration::from_secs(5),
        }
    }
}

impl SchemaRegistrySettings {
    /// No registration (tests that run no registry).
    pub fn disabled() -> Self {
        Self {
            url: None,
            ..Self::default()
        }
    }

    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_source(&EnvSource::process())
    }

    pub fn from_source(source: &EnvSource) -> Result<Self, SettingsError> {
        let defaults = Self::default();
        let url = match source.string(SCHEMA_REGISTRY_URL_VAR)? {
            None => defaults.url,
            Some(value) if value.trim().eq_ignore_ascii_case("off") => None,
            Some(value) => {
                let value = value.trim().to_owned();
                if let Err(error) = Endpoint::from_shared(value.clone()) {
                    return Err(SettingsError::Invalid {
                        variable: SCHEMA_REGISTRY_URL_VAR.to_owned(),
                        value,
                        reason: format!("not a URL ({error}); use http://host:port or off"),
                    });
                }
                Some(value)
            }
        };
        let startup_timeout = source
            .opt::<u64>(SCHEMA_REGISTRY_STARTUP_TIMEOUT_MS_VAR)?
            .map_or(defaults.startup_timeout, Duration::from_millis);
        Ok(Self {
            url,
            startup_timeout,
        })
    }
}

/// The schema of one event type as this binary was compiled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventSchema {
    /// The event type, which is also the registry subject.
    pub event_type: &'static str,
    pub message_name: &'static str,
    /// Encoded `FileDescriptorSet`: the message's file and every file it
    /// imports (imports first), without source info.
    pub file_descriptor_set: Vec<u8>,
}

/// Every compiled descriptor, parsed once.
static COMPILED: LazyLock<Result<DescriptorPool, String>> = LazyLock::new(|| {
    DescriptorPool::decode(ecommerce_proto::FILE_DESCRIPTOR_SET).map_err(|error| error.to_string())
});

impl EventSchema {
    /// The compiled schema of `info`'s message.
    pub fn compiled(info: &EventTypeInfo) -> anyhow::Result<Self> {
        let pool = COMPILED
            .as_ref()
            .map_err(|error| anyhow::anyhow!("the compiled descriptors do not parse: {error}"))?;
        let message = pool.get_message_by_name(info.message_name).ok_or_else(|| {
            anyhow::anyhow!("{} is not in the compiled descriptors", info.message_name)
        })?;
        let mut files = Vec::new();
        collect_with_imports(&message.parent_file(), &mut files);
        let mut file_descriptor_set = Vec::new();
        for file in &files {
            let stripped = without_source_info(pool, file)?;
            // FileDescriptorSet { repeated FileDescriptorProto file = 1; }
            prost::encoding::bytes::encode(1, &stripped, &mut file_descriptor_set);
        }
        Ok(Self {
            event_type: info.event_type,
            message_name: info.message_name,
            file_descriptor_set,
        })
    }

    /// The event types whose type string starts with `<domain>.` (the
    /// events of the proto package `ecommerce.<domain>.v1`), e.g. every
    /// `payments.*` event for payments-svc.
    pub fn of_domain(domain: &str) -> anyhow::Result<Vec<Self>> {
        let prefix = format!("{domain}.");
        EVENT_TYPES
            .iter()
            .filter(|info| info.event_type.starts_with(&prefix))
            .map(Self::compiled)
            .collect()
    }
}

/// Depth first, imports before the files that import them, each file once.
fn collect_with_imports(file: &FileDescriptor, files: &mut Vec<FileDescriptor>) {
    if files.iter().any(|known| known.name() == file.name()) {
        return;
    }
    for import in file.dependencies() {
        collect_with_imports(&import, files);
    }
    files.push(file.clone());
}

/// `file` encoded with its custom options (the `event_type` option the
/// registry reads; prost-types' `FileDescriptorProto` would drop them) but
/// without source info: comments and positions are not part of the schema.
fn without_source_info(pool: &DescriptorPool, file: &FileDescriptor) -> anyhow::Result<Vec<u8>> {
    const SOURCE_CODE_INFO: u32 = 9;
    let file_descriptor_proto = pool
        .get_message_by_name("google.protobuf.FileDescriptorProto")
        .ok_or_else(|| anyhow::anyhow!("descriptor.proto is not in the compiled descriptors"))?;
    let mut raw = DynamicMessage::decode(file_descriptor_proto, file.encode_to_vec().as_slice())?;
    raw.clear_field_by_number(SOURCE_CODE_INFO);
    Ok(raw.encode_to_vec())
}

/// Retries while start-up waits for a registry that is starting too.
const STARTUP_RETRY: Backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
/// Retries once the service runs without ids.
const BACKGROUND_RETRY: Backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));

/// Why a schema did not get an id.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    /// The registry answered and will not take the schema: fatal at start-up.
    #[error(
        "the schema registry refuses the schema of {subject} ({message_name}): {reason}; \
         a producer must never publish what its consumers cannot read"
    )]
    Refused {
        subject: &'static str,
        message_name: &'static str,
        reason: String,
    },
    /// The registry could not be asked (down, unreachable, overloaded): retried.
    #[error("the schema registry is unavailable while registering {subject}: {reason}")]
    Unavailable {
        subject: &'static str,
        reason: String,
    },
}

/// Registers `schemas` and records their ids in `ids`.
#[derive(Clone, Debug)]
pub struct SchemaRegistration {
    client: SchemaRegistryServiceClient<Channel>,
    schemas: Vec<EventSchema>,
    ids: SchemaIds,
}

impl SchemaRegistration {
    /// A registration against `url` (connected lazily, so an unreachable
    /// registry is only noticed by [`register_pending`](Self::register_pending)).
    pub fn new(url: &str, schemas: Vec<EventSchema>, ids: SchemaIds) -> anyhow::Result<Self> {
        let channel = Endpoint::from_shared(url.to_owned())?
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(10))
            .connect_lazy();
        Ok(Self {
            client: SchemaRegistryServiceClient::new(channel),
            schemas,
            ids,
        })
    }

    /// Whether every schema has its id.
    pub fn is_complete(&self) -> bool {
        self.schemas
            .iter()
            .all(|schema| self.ids.get(schema.event_type).is_some())
    }

    /// Registers every schema that has no id yet (registration is
    /// idempotent on the registry's side, so a retry after a lost answer is
    /// harmless), stopping at the first failure.
    pub async fn register_pending(&self) -> Result<(), RegistrationError> {
        for schema in &self.schemas {
            if self.ids.get(schema.event_type).is_some() {
                continue;
            }
            let request = registry_pb::RegisterSchemaRequest {
                subject: schema.event_type.to_owned(),
                file_descriptor_set: schema.file_descriptor_set.clone(),
                message_name: schema.message_name.to_owned(),
            };
            let response = self.client.clone().register_schema(request).await;
            let registered = response.map_err(|status| failure(schema, &status))?;
            let registry_id = registered
                .into_inner()
                .schema
                .map_or(0, |registered| registered.id);
            if !self.ids.set(schema.event_type, registry_id) {
                return Err(RegistrationError::Unavailable {
                    subject: schema.event_type,
                    reason: format!("the registry answered an invalid id {registry_id}"),
                });
            }
            tracing::debug!(
                subject = schema.event_type,
                registry_id,
                "event schema registered"
            );
        }
        Ok(())
    }

    /// Start-up: registers, retrying an unavailable registry (one starting
    /// beside this service) until `startup_timeout`. A refusal is returned
    /// (the caller stops); after the timeout, registration goes on in the
    /// background until `stopping` completes. The receiver turns true once
    /// every schema has its id.
    pub async fn start(
        self,
        startup_timeout: Duration,
        stopping: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<watch::Receiver<bool>, RegistrationError> {
        let deadline = tokio::time::Instant::now() + startup_timeout;
        let mut attempt = 0_u32;
        let pending_reason = loop {
            let outcome = tokio::time::timeout_at(deadline, self.register_pending()).await;
            let reason = match outcome {
                Ok(Ok(())) => {
                    tracing::info!(subjects = self.schemas.len(), "event schemas registered");
                    return Ok(watch::channel(true).1);
                }
                Ok(Err(refused @ RegistrationError::Refused { .. })) => return Err(refused),
                Ok(Err(unavailable)) => unavailable.to_string(),
                Err(_) => format!("no answer within {startup_timeout:?}"),
            };
            let retry_at = tokio::time::Instant::now() + STARTUP_RETRY.delay(attempt);
            if retry_at >= deadline {
                break reason;
            }
            attempt = attempt.saturating_add(1);
            tokio::time::sleep_until(retry_at).await;
        };
        tracing::warn!(
            reason = %pending_reason,
            "event schemas not registered yet; publishing without registry ids and retrying in the background"
        );
        let (registered, receiver) = watch::channel(false);
        tokio::spawn(async move {
            tokio::select! {
                () = self.retry_until_registered() => { registered.send_replace(true); }
                () = stopping => {}
            }
        });
        Ok(receiver)
    }

    async fn retry_until_registered(&self) {
        let mut attempt = 0_u32;
        loop {
            tokio::time::sleep(BACKGROUND_RETRY.equal_jitter_delay(attempt)).await;
            attempt = attempt.saturating_add(1);
            match self.register_pending().await {
                Ok(()) => {
                    tracing::info!(
                        subjects = self.schemas.len(),
                        attempt,
                        "event schemas registered"
                    );
                    return;
                }
                // Running already: stopping now would not unpublish anything,
                // so say it loudly and keep the health entry NOT_SERVING.
                Err(error @ RegistrationError::Refused { .. }) => {
                    tracing::error!(error = %error, attempt, "event schema refused by the registry");
                }
                Err(error) => {
                    tracing::warn!(error = %error, attempt, "event schema registration failed; retrying");
                }
            }
        }
    }
}

fn failure(schema: &EventSchema, status: &tonic::Status) -> RegistrationError {
    use tonic::Code;
    let reason = format!("{:?}: {}", status.code(), status.message());
    match status.code() {
        // The registry judged the schema itself.
        Code::FailedPrecondition
        | Code::InvalidArgument
        | Code::AlreadyExists
        | Code::PermissionDenied
        | Code::Unauthenticated => RegistrationError::Refused {
            subject: schema.event_type,
            message_name: schema.message_name,
            reason,
        },
        _ => RegistrationError::Unavailable {
            subject: schema.event_type,
            reason,
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn settings_default_to_the_local_registry_and_off_disables() {
        let defaults = SchemaRegistrySettings::from_source(&EnvSource::from_pairs([])).unwrap();
        assert_eq!(defaults, SchemaRegistrySettings::default());
        let off = SchemaRegistrySettings::from_source(&EnvSource::from_pairs([(
            "SCHEMA_REGISTRY_URL",
            "off",
        )]))
        .unwrap();
        assert_eq!(off.url, None);
        let error = SchemaRegistrySettings::from_source(&EnvSource::from_pairs([(
            "SCHEMA_REGISTRY_URL",
            "not a url",
        )]))
        .unwrap_err();
        assert!(error.to_string().contains("SCHEMA_REGISTRY_URL"), "{error}");
        let timeout = SchemaRegistrySettings::from_source(&EnvSource::from_pairs([(
            "SCHEMA_REGISTRY_STARTUP_TIMEOUT_MS",
            "250",
        )]))
        .unwrap();
        assert_eq!(timeout.startup_timeout, Duration::from_millis(250));
    }

    #[test]
    fn a_compiled_schema_holds_its_file_and_every_import_first() {
        let schemas = EventSchema::of_domain("orders").unwrap();
        let placed = schemas
            .iter()
            .find(|schema| schema.event_type == "orders.order_placed.v1")
            .unwrap();
        assert_eq!(placed.message_name, "ecommerce.orders.v1.OrderPlaced");
        let set =
            prost_types::FileDescriptorSet::decode(placed.file_descriptor_set.as_slice()).unwrap();
        let names: Vec<&str> = set.file.iter().map(|file| file.name()).collect();
        assert_eq!(names.last(), Some(&"ecommerce/orders/v1/events.proto"));
        for (position, file) in set.file.iter().enumerate() {
            assert!(file.source_code_info.is_none());
            for import in &file.dependency {
                let imported_at = names.iter().position(|name| name == import).unwrap();
                assert!(
                    imported_at < position,
                    "{import} comes before {}",
                    file.name()
                );
            }
        }
        // It parses on its own: nothing missing.
        let pool = DescriptorPool::decode(placed.file_descriptor_set.as_slice()).unwrap();
        assert!(
            pool.get_message_by_name("ecommerce.orders.v1.OrderPlaced")
                .is_some()
        );
    }

    #[test]
    fn every_event_type_belongs_to_one_domain() {
        let domains = [
            "catalog",
            "iam",
            "inventory",
            "orders",
            "payments",
            "fulfillment",
        ];
        let total: usize = domains
            .iter()
            .map(|domain| EventSchema::of_domain(domain).unwrap().len())
            .sum();
        assert_eq!(total, EVENT_TYPES.len());
        assert_eq!(EVENT_TYPES.len(), 36);
    }
}
