//! Where schemas come from: the schema registry over gRPC, or anything else
//! that can answer "which schema has this id" (an in-memory map in tests).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ecommerce_proto::ecommerce::registry::v1 as registry_pb;
use registry_pb::schema_registry_service_client::SchemaRegistryServiceClient;
use tonic::transport::{Channel, Endpoint};

/// One registered schema as the registry returns it, not parsed yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchedSchema {
    /// The subject it is registered under, e.g. `orders.order_placed.v1`.
    pub subject: String,
    /// Its version within the subject, from 1.
    pub version: i32,
    /// Fully qualified name of the payload message in the set.
    pub message_name: String,
    /// Encoded `google.protobuf.FileDescriptorSet`: the message's file and
    /// all its imports.
    pub file_descriptor_set: Vec<u8>,
}

/// Why a schema could not be fetched. Cloneable, so one failed fetch can be
/// handed to every caller that waited for it.
#[derive(Clone, Debug, thiserror::Error)]
pub enum SchemaFetchError {
    /// The registry has no schema with this id; asking again will not help.
    #[error("schema registry id {0} is unknown")]
    UnknownSchemaId(i64),
    /// The registry could not be asked or failed to answer; a later attempt
    /// may succeed.
    #[error("schema {id} could not be fetched from the registry")]
    Unavailable {
        id: i64,
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
    /// The registry answered something that is not the schema asked for.
    #[error("the registry's answer for schema {id} is invalid: {reason}")]
    InvalidResponse { id: i64, reason: String },
}

/// Anything that resolves a schema registry id to its schema.
#[async_trait]
pub trait SchemaSource: Send + Sync {
    /// The schema registered with `id`.
    async fn fetch_schema(&self, id: i64) -> Result<FetchedSchema, SchemaFetchError>;
}

/// Why a [`RegistrySchemaSource`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum RegistryConnectError {
    #[error("invalid schema registry URL {url:?}")]
    InvalidUrl {
        url: String,
        #[source]
        source: tonic::transport::Error,
    },
    /// The lazily connecting channel runs a background task, so it can only
    /// be built inside a tokio runtime.
    #[error("the schema registry channel must be built inside a tokio runtime")]
    NoRuntime,
}

/// How long connecting to the registry may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one GetSchema call may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Fetches schemas with `ecommerce.registry.v1.SchemaRegistryService/GetSchema`
/// over a lazily connected channel: building one never fails because the
/// registry is down, and the channel reconnects by itself. Reads are open to
/// every service, so no credentials are attached.
#[derive(Debug, Clone)]
pub struct RegistrySchemaSource {
    client: SchemaRegistryServiceClient<Channel>,
}

impl RegistrySchemaSource {
    /// A source for the registry at `url`, e.g. `http://127.0.0.1:50058`,
    /// with a 3 s connect and 5 s request timeout. Must be called inside a
    /// tokio runtime (an error otherwise, not a panic).
    pub fn connect_lazy(url: &str) -> Result<Self, RegistryConnectError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(RegistryConnectError::NoRuntime);
        }
        let endpoint = Endpoint::from_shared(url.to_owned())
            .map_err(|source| RegistryConnectError::InvalidUrl {
                url: url.to_owned(),
                source,
            })?
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT);
        Ok(Self::from_channel(endpoint.connect_lazy()))
    }

    /// A source over an existing channel (shared with other registry calls,
    /// or configured differently).
    pub fn from_channel(channel: Channel) -> Self {
        Self {
            client: SchemaRegistryServiceClient::new(channel),
        }
    }
}

#[async_trait]
impl SchemaSource for RegistrySchemaSource {
    async fn fetch_schema(&self, id: i64) -> Result<FetchedSchema, SchemaFetchError> {
        let response = self
            .client
            .clone()
            .get_schema(registry_pb::GetSchemaRequest { id })
            .await
            .map_err(|status| fetch_error_of_status(id, status))?;
        fetched_schema_of_response(id, response.into_inner())
    }
}

/// NOT_FOUND is an unknown id; every other status may pass (the registry
/// down, overloaded, a proxy in the way), so it is `Unavailable`.
fn fetch_error_of_status(id: i64, status: tonic::Status) -> SchemaFetchError {
    if status.code() == tonic::Code::NotFound {
        return SchemaFetchError::UnknownSchemaId(id);
    }
    SchemaFetchError::Unavailable {
        id,
        source: Arc::new(status),
    }
}

fn fetched_schema_of_response(
    id: i64,
    response: registry_pb::GetSchemaResponse,
) -> Result<FetchedSchema, SchemaFetchError> {
    let invalid = |reason: String| SchemaFetchError::InvalidResponse { id, reason };
    let schema = response
        .schema
        .ok_or_else(|| invalid("the response has no `schema`".to_owned()))?;
    if schema.id != id {
        return Err(invalid(format!("it is schema {}", schema.id)));
    }
    if schema.message_name.is_empty() {
        return Err(invalid("the schema has no `message_name`".to_owned()));
    }
    Ok(FetchedSchema {
        subject: schema.subject,
        version: schema.version,
        message_name: schema.message_name,
        file_descriptor_set: schema.file_descriptor_set,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(id: i64) -> registry_pb::Schema {
        registry_pb::Schema {
            id,
            subject: "orders.order_placed.v1".into(),
            version: 3,
            message_name: "ecommerce.orders.v1.OrderPlaced".into(),
            file_descriptor_set: vec![1, 2, 3],
            ..Default::default()
        }
    }

    #[test]
    fn not_found_is_an_unknown_id_and_other_statuses_are_unavailable() {
        assert!(matches!(
            fetch_error_of_status(7, tonic::Status::not_found("no schema 7")),
            SchemaFetchError::UnknownSchemaId(7)
        ));
        for status in [
            tonic::Status::unavailable("connection refused"),
            tonic::Status::deadline_exceeded("timeout"),
            tonic::Status::internal("boom"),
            tonic::Status::unauthenticated("token expired"),
        ] {
            let code = status.code();
            match fetch_error_of_status(7, status) {
                SchemaFetchError::Unavailable { id: 7, source } => {
                    let status = source.downcast_ref::<tonic::Status>();
                    assert_eq!(status.map(tonic::Status::code), Some(code));
                }
                other => panic!("{code:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn a_response_becomes_the_fetched_schema() {
        let response = registry_pb::GetSchemaResponse {
            schema: Some(schema(7)),
        };
        assert_eq!(
            fetched_schema_of_response(7, response).ok(),
            Some(FetchedSchema {
                subject: "orders.order_placed.v1".into(),
                version: 3,
                message_name: "ecommerce.orders.v1.OrderPlaced".into(),
                file_descriptor_set: vec![1, 2, 3],
            })
        );
    }

    #[test]
    fn a_response_for_another_id_or_without_a_schema_is_invalid() {
        let empty = registry_pb::GetSchemaResponse { schema: None };
        let other_id = registry_pb::GetSchemaResponse {
            schema: Some(schema(8)),
        };
        let nameless = registry_pb::GetSchemaResponse {
            schema: Some(registry_pb::Schema {
                message_name: String::new(),
                ..schema(7)
            }),
        };
        for response in [empty, other_id, nameless] {
            assert!(matches!(
                fetched_schema_of_response(7, response),
                Err(SchemaFetchError::InvalidResponse { id: 7, .. })
            ));
        }
    }

    #[test]
    fn building_outside_a_runtime_is_an_error_not_a_panic() {
        assert!(matches!(
            RegistrySchemaSource::connect_lazy("http://127.0.0.1:1"),
            Err(RegistryConnectError::NoRuntime)
        ));
    }

    #[tokio::test]
    async fn an_invalid_url_is_named() {
        match RegistrySchemaSource::connect_lazy("not a url") {
            Err(RegistryConnectError::InvalidUrl { url, .. }) => assert_eq!(url, "not a url"),
            other => panic!("unexpected: {other:?}"),
        }
        assert!(RegistrySchemaSource::connect_lazy("http://127.0.0.1:1").is_ok());
    }
}
