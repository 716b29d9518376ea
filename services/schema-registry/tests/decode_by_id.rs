//! Decoding by registry id, end to end: an event of a type that exists only
//! in this test's .proto (compiled here, never compiled into any crate) is
//! registered, published through RabbitMQ with its registry id, read back
//! off a queue and decoded through the registry by a consumer that has
//! never seen the type.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use ecommerce_broker::{EventsExchange, OutgoingMessage};
use ecommerce_events::{
    DecodeError, EventMetadata, RegistrySchemaSource, SchemaCache, encode_payload, headers,
};
use ecommerce_test_support::TestService;
use ecommerce_test_support::rabbitmq::header_text;
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, Value};
use serde_json::json;

use crate::support::{SourceInfo, protoc};

const WIDGET_PROTO: &str = r#"syntax = "proto3";
package test.widgets.v1;

message WidgetPainted {
  string widget_id = 1;
  int64 coats = 2;
  repeated string colours = 3;
  Finish finish = 4;
}

enum Finish {
  FINISH_UNSPECIFIED = 0;
  FINISH_MATTE = 1;
  FINISH_GLOSS = 2;
}
"#;
const EVENT_TYPE: &str = "widgets.widget_painted.v1";
const MESSAGE: &str = "test.widgets.v1.WidgetPainted";

#[tokio::test]
async fn an_event_of_a_type_no_crate_compiles_is_read_back_through_its_registry_id() {
    ecommerce_test_support::init_test_tracing();
    // The registry, with a tap on the catalog exchange to publish through.
    let mut service = TestService::start::<registry_migration::Migrator>(
        &schema_registry::SERVICE,
        &[EventsExchange::Catalog],
    )
    .await
    .unwrap();
    let app = schema_registry::start(&service.runtime).unwrap();
    let auth = ecommerce_test_support::TestAuth::new();
    let layer = auth.layer();
    service
        .serve(&schema_registry::SERVICE, move |server| {
            schema_registry::register(server, &layer, app)
        })
        .await
        .unwrap();

    // The producer registers its schema and encodes a payload with it.
    let set = protoc(
        &[("widgets/v1/widget.proto", WIDGET_PROTO)],
        &["widgets/v1/widget.proto"],
        SourceInfo::Left,
    );
    let mut registry = ecommerce_proto::ecommerce::registry::v1::schema_registry_service_client::SchemaRegistryServiceClient::new(service.channel());
    let registered = registry
        .register_schema(
            ecommerce_proto::ecommerce::registry::v1::RegisterSchemaRequest {
                subject: EVENT_TYPE.to_owned(),
                file_descriptor_set: set.clone(),
                message_name: MESSAGE.to_owned(),
            },
        )
        .await
        .unwrap()
        .into_inner()
        .schema
        .unwrap();
    let pool = DescriptorPool::decode(set.as_slice()).unwrap();
    let mut payload = DynamicMessage::new(pool.get_message_by_name(MESSAGE).unwrap());
    payload.set_field_by_name("widget_id", Value::String("w-42".to_owned()));
    payload.set_field_by_name("coats", Value::I64(3));
    payload.set_field_by_name(
        "colours",
        Value::List(vec![
            Value::String("red".to_owned()),
            Value::String("teal".to_owned()),
        ]),
    );
    payload.set_field_by_name("finish", Value::EnumNumber(2));
    let metadata = EventMetadata {
        schema_registry_id: Some(registered.id),
        ..EventMetadata::new("widget", "w-42").with_correlation_id("paint-1")
    };
    let encoded = encode_payload(EVENT_TYPE, MESSAGE, 1, payload.encode_to_vec(), &metadata);

    // Through RabbitMQ.
    let exchange = service
        .broker
        .names()
        .exchange(EventsExchange::Catalog)
        .to_owned();
    service
        .broker
        .broker
        .publisher()
        .publish(&OutgoingMessage::new(
            exchange,
            EVENT_TYPE,
            encoded.body,
            encoded.properties,
        ))
        .await
        .unwrap();
    let mut message = None;
    for _ in 0..100 {
        message = service.broker.admin.get(&service.tap_queue).await;
        if message.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let message = message.expect("the event reaches the queue");
    assert_eq!(
        header_text(&message, headers::SCHEMA_ID),
        Some(registered.id.to_string())
    );
    let body = &message.delivery.data;

    // The typed codec does not know the type; the registry path does.
    assert!(matches!(
        ecommerce_events::decode_envelope(body),
        Err(DecodeError::UnknownEventType(_))
    ));
    let cache = SchemaCache::new(Arc::new(RegistrySchemaSource::from_channel(
        service.channel(),
    )));
    let event = cache.decode_dynamic(body).await.unwrap();
    assert_eq!(event.event_type, EVENT_TYPE);
    assert_eq!(event.schema_id(), registered.id);
    assert_eq!(event.message_name(), MESSAGE);
    assert_eq!(event.metadata.correlation_id.as_deref(), Some("paint-1"));
    assert_eq!(
        event.to_json_value().unwrap(),
        json!({
            "widgetId": "w-42",
            "coats": "3",
            "colours": ["red", "teal"],
            "finish": "FINISH_GLOSS",
        })
    );
    service.finish().await.unwrap();
}
