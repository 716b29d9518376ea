//! Encode/decode round trips for every event type, and every decode error.

// In tests a failed expectation is a test failure with its message.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use chrono::{TimeZone, Utc};
use ecommerce_events::{
    DecodeError, DecodedEvent, EVENT_TYPES, EncodedEvent, Event, EventMetadata, MessageProperties,
    TraceContext, decode, decode_envelope, encode, encode_decoded, headers,
};
use ecommerce_proto::ecommerce::events::v1::EventEnvelope;
use ecommerce_proto::ecommerce::orders::v1::OrderPlaced;
use prost::Message as _;
use prost_reflect::{DynamicMessage, ReflectMessage as _};
use rand::{Rng, SeedableRng, rngs::StdRng};

mod support;

fn full_metadata() -> EventMetadata {
    EventMetadata::new("order", "0190a3c4-5f6e-7a8b-9c0d-1e2f3a4b5c6d")
        .with_correlation_id("checkout-42")
        .with_causation_id("0190a3c4-0000-7000-8000-000000000001")
        .with_trace_context(TraceContext {
            traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
            tracestate: "vendor=value".into(),
        })
}

fn order_placed() -> OrderPlaced {
    OrderPlaced {
        order_id: "0190a3c4-5f6e-7a8b-9c0d-1e2f3a4b5c6d".into(),
        ..Default::default()
    }
}

fn encoded_order_placed() -> EncodedEvent {
    encode(&order_placed(), &full_metadata())
}

/// Re-encodes `body` after `edit` changed its envelope.
fn edited(body: &[u8], edit: impl FnOnce(&mut EventEnvelope)) -> Vec<u8> {
    let mut envelope = EventEnvelope::decode(body).expect("valid envelope");
    edit(&mut envelope);
    envelope.encode_to_vec()
}

#[test]
fn every_event_type_round_trips_with_all_fields_and_metadata() {
    let pool = support::descriptor_pool();
    for info in EVENT_TYPES {
        let (event, dynamic) = support::sample_event(&pool, info.event_type, info.message_name);
        // The typed payload kept every field the sample set.
        let reencoded =
            DynamicMessage::decode(dynamic.descriptor(), event.encode_payload().as_slice())
                .expect("re-encoded payload decodes");
        assert_eq!(reencoded, dynamic, "{} lost a field", info.event_type);

        let metadata = full_metadata();
        let encoded = encode_decoded(&event, &metadata);
        assert_eq!(encoded.properties.event_type, info.event_type);
        let received = decode(&encoded.properties, &encoded.body)
            .unwrap_or_else(|error| panic!("{} does not round trip: {error}", info.event_type));
        assert_eq!(received.event, event, "{}", info.event_type);
        assert_eq!(received.metadata, metadata, "{}", info.event_type);
        assert_eq!(received.event.event_type(), info.event_type);
        assert_eq!(received.event.message_name(), info.message_name);
    }
}

#[test]
fn typed_encode_matches_the_generated_constants() {
    let encoded = encoded_order_placed();
    assert_eq!(OrderPlaced::EVENT_TYPE, "orders.order_placed.v1");
    assert_eq!(OrderPlaced::MESSAGE_NAME, "ecommerce.orders.v1.OrderPlaced");
    let received = decode(&encoded.properties, &encoded.body).expect("decodes");
    assert_eq!(
        received.event,
        DecodedEvent::OrdersOrderPlacedV1(order_placed())
    );
}

#[test]
fn properties_mirror_the_envelope() {
    let metadata = full_metadata().with_causation_id("cause-1");
    let metadata = EventMetadata {
        schema_registry_id: Some(17),
        ..metadata
    };
    let EncodedEvent { properties, .. } = encode(&order_placed(), &metadata);
    assert_eq!(properties.message_id, metadata.id.to_string());
    assert_eq!(properties.event_type, "orders.order_placed.v1");
    assert_eq!(
        properties.timestamp,
        metadata.occurred_at.timestamp() as u64
    );
    assert_eq!(properties.correlation_id.as_deref(), Some("checkout-42"));
    assert_eq!(properties.content_type, "application/protobuf");
    assert_eq!(properties.delivery_mode, 2);
    let header = |name: &str| properties.headers.get(name).map(String::as_str);
    assert_eq!(header(headers::CAUSATION_ID), Some("cause-1"));
    assert_eq!(header(headers::AGGREGATE_TYPE), Some("order"));
    assert_eq!(
        header(headers::AGGREGATE_ID),
        Some(metadata.aggregate.id.as_str())
    );
    assert_eq!(
        header(headers::SCHEMA),
        Some("ecommerce.orders.v1.OrderPlaced@v1#17")
    );
    assert_eq!(header(headers::SCHEMA_ID), Some("17"));
    assert_eq!(
        header(headers::TRACEPARENT),
        Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    );
    assert_eq!(header(headers::TRACESTATE), Some("vendor=value"));
}

#[test]
fn headers_are_exactly_these_and_the_schema_id_only_when_registered() {
    let unregistered = encode(&order_placed(), &full_metadata()).properties;
    let names: Vec<&str> = unregistered.headers.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            headers::TRACEPARENT,
            headers::TRACESTATE,
            headers::AGGREGATE_ID,
            headers::AGGREGATE_TYPE,
            headers::CAUSATION_ID,
            headers::SCHEMA,
        ]
    );
    let metadata = EventMetadata {
        schema_registry_id: Some(9_007_199_254_740_993),
        ..full_metadata()
    };
    let registered = encode(&order_placed(), &metadata).properties;
    let schema_id = registered.headers.get(headers::SCHEMA_ID);
    assert_eq!(schema_id.map(String::as_str), Some("9007199254740993"));
    assert_eq!(registered.headers.len(), unregistered.headers.len() + 1);
    let schema = registered.headers.get(headers::SCHEMA).expect("x-schema");
    assert_eq!(
        headers::registry_id_of_schema(schema),
        Some(9_007_199_254_740_993)
    );
    let schema = unregistered.headers.get(headers::SCHEMA).expect("x-schema");
    assert_eq!(headers::registry_id_of_schema(schema), None);
    assert_eq!(headers::registry_id_of_schema("a.B@v1#x"), None);
}

#[test]
fn a_known_type_decodes_whatever_registry_id_it_carries_and_reports_it() {
    for registry_id in [Some(1), Some(7), Some(123_456_789), Some(-3), None] {
        let metadata = EventMetadata {
            schema_registry_id: registry_id,
            ..full_metadata()
        };
        let encoded = encode(&order_placed(), &metadata);
        let received = decode(&encoded.properties, &encoded.body).expect("decodes");
        assert_eq!(received.metadata.schema_registry_id, registry_id);
        assert_eq!(received.metadata, metadata);
        assert_eq!(
            received.event,
            DecodedEvent::OrdersOrderPlacedV1(order_placed())
        );
        let from_envelope = decode_envelope(&encoded.body).expect("decodes");
        assert_eq!(from_envelope.metadata.schema_registry_id, registry_id);
    }
}

#[test]
fn caused_by_links_causation_and_passes_correlation_through() {
    let cause = full_metadata();
    let effect = EventMetadata::new("payment", "p-1").caused_by(&cause);
    assert_eq!(effect.causation_id, Some(cause.id.to_string()));
    assert_eq!(effect.correlation_id.as_deref(), Some("checkout-42"));
    assert_eq!(
        effect.trace_context, cause.trace_context,
        "the trace goes on"
    );
    assert!(effect.trace_context.is_some());
    let first = EventMetadata::new("order", "o-1");
    let second = EventMetadata::new("payment", "p-1").caused_by(&first);
    assert_eq!(
        second.correlation_id,
        Some(first.id.to_string()),
        "a flow starts at its first event"
    );
}

#[test]
fn unknown_event_type_is_its_own_error() {
    let body = edited(&encoded_order_placed().body, |envelope| {
        envelope.r#type = "orders.order_teleported.v1".into();
    });
    match decode_envelope(&body) {
        Err(DecodeError::UnknownEventType(event_type)) => {
            assert_eq!(event_type, "orders.order_teleported.v1")
        }
        other => panic!("unexpected: {other:?}"),
    }
}

#[test]
fn payload_of_the_wrong_message_type_is_its_own_error() {
    let body = edited(&encoded_order_placed().body, |envelope| {
        if let Some(payload) = envelope.payload.as_mut() {
            payload.type_url = "type.googleapis.com/ecommerce.orders.v1.OrderCanceled".into();
        }
    });
    match decode_envelope(&body) {
        Err(DecodeError::WrongPayloadType {
            expected, actual, ..
        }) => {
            assert_eq!(expected, "ecommerce.orders.v1.OrderPlaced");
            assert!(actual.ends_with("OrderCanceled"));
        }
        other => panic!("unexpected: {other:?}"),
    }
}

#[test]
fn schema_reference_of_another_version_is_its_own_error() {
    let body = edited(&encoded_order_placed().body, |envelope| {
        if let Some(schema) = envelope.schema.as_mut() {
            schema.version = 2;
        }
    });
    assert!(matches!(
        decode_envelope(&body),
        Err(DecodeError::SchemaMismatch { .. })
    ));
}

#[test]
fn payload_bytes_that_do_not_decode_are_their_own_error() {
    let body = edited(&encoded_order_placed().body, |envelope| {
        if let Some(payload) = envelope.payload.as_mut() {
            // Field 1, length-delimited, claiming 100 bytes that are not there.
            payload.value = vec![0x0a, 100, 1, 2];
        }
    });
    match decode_envelope(&body) {
        Err(DecodeError::MalformedPayload { event_type, .. }) => {
            assert_eq!(event_type, "orders.order_placed.v1")
        }
        other => panic!("unexpected: {other:?}"),
    }
}

#[test]
fn every_truncation_of_a_valid_body_is_an_error() {
    // Without a trace context the payload is the last field, so every proper
    // prefix cuts into or drops something required.
    let metadata = EventMetadata::new("order", "o-1");
    let body = encode(&order_placed(), &metadata).body;
    for length in 0..body.len() {
        assert!(
            decode_envelope(&body[..length]).is_err(),
            "prefix of {length} bytes decoded"
        );
    }
    assert!(decode_envelope(&body).is_ok());
}

#[test]
fn garbage_body_is_a_malformed_envelope() {
    let result = decode_envelope(b"\xff\xff\xff\xff this is not protobuf");
    assert!(
        matches!(result, Err(DecodeError::MalformedEnvelope(_))),
        "{result:?}"
    );
}

#[test]
fn each_missing_envelope_field_is_named() {
    let body = encoded_order_placed().body;
    type Edit = fn(&mut EventEnvelope);
    let cases: [(&str, Edit); 7] = [
        ("id", |envelope| envelope.id.clear()),
        ("type", |envelope| envelope.r#type.clear()),
        ("occurred_at", |envelope| envelope.occurred_at = None),
        ("aggregate", |envelope| envelope.aggregate = None),
        ("aggregate.type", |envelope| {
            if let Some(aggregate) = envelope.aggregate.as_mut() {
                aggregate.r#type.clear();
            }
        }),
        ("aggregate.id", |envelope| {
            if let Some(aggregate) = envelope.aggregate.as_mut() {
                aggregate.id.clear();
            }
        }),
        ("payload", |envelope| envelope.payload = None),
    ];
    for (field, edit) in cases {
        match decode_envelope(&edited(&body, edit)) {
            Err(DecodeError::MissingField(missing)) => assert_eq!(missing, field),
            other => panic!("clearing {field} gave {other:?}"),
        }
    }
}

#[test]
fn invalid_envelope_fields_are_named() {
    let body = encoded_order_placed().body;
    let not_a_uuid = edited(&body, |envelope| envelope.id = "not-a-uuid".into());
    assert!(matches!(
        decode_envelope(&not_a_uuid),
        Err(DecodeError::InvalidField { field: "id", .. })
    ));
    let bad_time = edited(&body, |envelope| {
        envelope.occurred_at = Some(prost_types::Timestamp {
            seconds: i64::MAX,
            nanos: -5,
        });
    });
    assert!(matches!(
        decode_envelope(&bad_time),
        Err(DecodeError::InvalidField {
            field: "occurred_at",
            ..
        })
    ));
}

#[test]
fn properties_that_contradict_the_envelope_are_rejected() {
    let encoded = encoded_order_placed();
    let wrong_type = MessageProperties {
        event_type: "orders.order_canceled.v1".into(),
        ..encoded.properties.clone()
    };
    assert!(matches!(
        decode(&wrong_type, &encoded.body),
        Err(DecodeError::PropertiesMismatch {
            property: "type",
            ..
        })
    ));
    let wrong_content = MessageProperties {
        content_type: "application/json".into(),
        ..encoded.properties.clone()
    };
    assert!(matches!(
        decode(&wrong_content, &encoded.body),
        Err(DecodeError::UnsupportedContentType(_))
    ));
    // Properties stripped by some intermediary: the envelope alone suffices.
    assert!(decode(&MessageProperties::default(), &encoded.body).is_ok());
}

#[test]
fn random_and_mutated_bytes_never_panic() {
    let mut rng = StdRng::seed_from_u64(0x5eed_cafe);
    let valid = encoded_order_placed();
    let mut errors = 0usize;
    for round in 0..20_000 {
        let body: Vec<u8> = if round % 2 == 0 {
            let length = rng.random_range(0..256);
            (0..length).map(|_| rng.random()).collect()
        } else {
            let mut mutated = valid.body.clone();
            for _ in 0..rng.random_range(1..8) {
                let index = rng.random_range(0..mutated.len());
                mutated[index] ^= 1 << rng.random_range(0..8);
            }
            mutated
        };
        // Decoding must return, never panic; random bytes must not pass as an event.
        let result = decode(&valid.properties, &body);
        if round % 2 == 0 {
            assert!(result.is_err(), "random bytes decoded: {body:?}");
        }
        errors += usize::from(result.is_err());
    }
    assert!(errors >= 10_000);
}

#[test]
fn occurred_at_keeps_microseconds() {
    let occurred_at = Utc
        .with_ymd_and_hms(2026, 11, 26, 12, 0, 0)
        .single()
        .expect("valid date")
        + chrono::Duration::microseconds(123_456);
    let metadata = EventMetadata {
        occurred_at,
        ..full_metadata()
    };
    let encoded = encode(&order_placed(), &metadata);
    let received = decode(&encoded.properties, &encoded.body).expect("decodes");
    assert_eq!(received.metadata.occurred_at, occurred_at);
}
