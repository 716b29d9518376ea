//! Every way a dynamic decode fails is its own typed error, and no input
//! (envelope or descriptor set) makes it panic.

use std::sync::Arc;

use ecommerce_events::{
    DecodeError, DynamicDecodeError, EnvelopeError, FetchedSchema, SchemaError, decode_envelope,
};
use ecommerce_proto::ecommerce::events::v1::EventEnvelope;
use prost::Message as _;
use rand::{Rng, SeedableRng, rngs::StdRng};

use crate::fixtures::*;

#[tokio::test]
async fn a_missing_or_invalid_registry_id_is_its_own_error_without_a_fetch() {
    let widget = compile_widget();
    let source = widget_source(widget);
    let cache = cache_over(&source);

    let without_schema = widget_body(widget, |envelope| envelope.schema = None);
    let without_id = widget_body(widget, |envelope| {
        if let Some(schema) = envelope.schema.as_mut() {
            schema.registry_id = None;
        }
    });
    for body in [without_schema, without_id] {
        match cache.decode_dynamic(&body).await {
            Err(DynamicDecodeError::MissingSchemaId { event_type }) => {
                assert_eq!(event_type, WIDGET_EVENT_TYPE)
            }
            other => panic!("unexpected: {other:?}"),
        }
    }
    for registry_id in [0, -1, i64::MIN] {
        let body = widget_body(widget, |envelope| {
            if let Some(schema) = envelope.schema.as_mut() {
                schema.registry_id = Some(registry_id);
            }
        });
        match cache.decode_dynamic(&body).await {
            Err(DynamicDecodeError::InvalidSchemaId { schema_id, .. }) => {
                assert_eq!(schema_id, registry_id)
            }
            other => panic!("unexpected: {other:?}"),
        }
    }
    assert_eq!(source.fetch_count(), 0);
}

#[tokio::test]
async fn a_descriptor_set_that_does_not_decode_is_its_own_error() {
    let widget = compile_widget();
    let mut truncated = widget.descriptor_set.clone();
    truncated.truncate(truncated.len() / 2);
    // Only the widget file, without the common file it imports.
    let mut without_imports =
        prost_types::FileDescriptorSet::decode(widget.descriptor_set.as_slice()).expect("set");
    without_imports
        .file
        .retain(|file| file.name() == "test/dynamic/v1/widget.proto");
    let cases = [
        b"\xff\xff not a descriptor set".to_vec(),
        truncated,
        without_imports.encode_to_vec(),
    ];
    for (index, descriptor_set) in cases.into_iter().enumerate() {
        let source = Arc::new(FakeSchemaSource::with([(
            WIDGET_SCHEMA_ID,
            widget_schema(descriptor_set),
        )]));
        let result = cache_over(&source)
            .decode_dynamic(&widget_body(widget, |_| {}))
            .await;
        assert!(
            matches!(
                result,
                Err(DynamicDecodeError::Schema(
                    SchemaError::InvalidDescriptorSet {
                        id: WIDGET_SCHEMA_ID,
                        ..
                    }
                ))
            ),
            "case {index}: {result:?}"
        );
    }
}

#[tokio::test]
async fn a_message_missing_from_the_set_is_its_own_error() {
    let widget = compile_widget();
    let source = Arc::new(FakeSchemaSource::with([(
        WIDGET_SCHEMA_ID,
        FetchedSchema {
            message_name: "test.dynamic.v1.WidgetSanded".into(),
            ..widget_schema(widget.descriptor_set.clone())
        },
    )]));
    match cache_over(&source)
        .decode_dynamic(&widget_body(widget, |_| {}))
        .await
    {
        Err(DynamicDecodeError::Schema(SchemaError::MessageNotInSet { id, message_name })) => {
            assert_eq!(id, WIDGET_SCHEMA_ID);
            assert_eq!(message_name, "test.dynamic.v1.WidgetSanded");
        }
        other => panic!("unexpected: {other:?}"),
    }
}

#[tokio::test]
async fn a_payload_of_another_message_is_its_own_error() {
    let widget = compile_widget();
    let cache = cache_over(&widget_source(widget));
    let body = widget_body(widget, |envelope| {
        if let Some(payload) = envelope.payload.as_mut() {
            payload.type_url = "type.googleapis.com/test.dynamic.v1.Nested".into();
        }
    });
    match cache.decode_dynamic(&body).await {
        Err(DynamicDecodeError::WrongPayloadType {
            schema_id,
            expected,
            actual,
            ..
        }) => {
            assert_eq!(schema_id, WIDGET_SCHEMA_ID);
            assert_eq!(expected, WIDGET_MESSAGE);
            assert_eq!(actual, "type.googleapis.com/test.dynamic.v1.Nested");
        }
        other => panic!("unexpected: {other:?}"),
    }
}

#[tokio::test]
async fn a_schema_reference_naming_another_message_is_its_own_error() {
    let widget = compile_widget();
    let cache = cache_over(&widget_source(widget));
    let body = widget_body(widget, |envelope| {
        if let Some(schema) = envelope.schema.as_mut() {
            schema.message_name = "test.dynamic.v1.Nested".into();
        }
    });
    match cache.decode_dynamic(&body).await {
        Err(DynamicDecodeError::SchemaMismatch {
            in_registry,
            in_envelope,
            ..
        }) => {
            assert_eq!(in_registry, WIDGET_MESSAGE);
            assert_eq!(in_envelope, "test.dynamic.v1.Nested");
        }
        other => panic!("unexpected: {other:?}"),
    }
    // An empty name in the reference says nothing, so it contradicts nothing.
    let unnamed = widget_body(widget, |envelope| {
        if let Some(schema) = envelope.schema.as_mut() {
            schema.message_name.clear();
        }
    });
    cache.decode_dynamic(&unnamed).await.expect("decodes");
}

#[tokio::test]
async fn payload_bytes_that_do_not_decode_are_their_own_error() {
    let widget = compile_widget();
    let cache = cache_over(&widget_source(widget));
    // Field 1, length-delimited, claiming 100 bytes that are not there; then
    // field 2 (an int64) sent length-delimited.
    for value in [vec![0x0a, 100, 1, 2], vec![0x12, 1, 0]] {
        let body = widget_body(widget, |envelope| {
            if let Some(payload) = envelope.payload.as_mut() {
                payload.value = value;
            }
        });
        match cache.decode_dynamic(&body).await {
            Err(DynamicDecodeError::MalformedPayload {
                event_type,
                message_name,
                ..
            }) => {
                assert_eq!(event_type, WIDGET_EVENT_TYPE);
                assert_eq!(message_name, WIDGET_MESSAGE);
            }
            other => panic!("unexpected: {other:?}"),
        }
    }
}

#[tokio::test]
async fn envelope_errors_are_the_typed_paths() {
    let widget = compile_widget();
    let source = widget_source(widget);
    let cache = cache_over(&source);
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
        let body = widget_body(widget, edit);
        match cache.decode_dynamic(&body).await {
            Err(DynamicDecodeError::Envelope(EnvelopeError::MissingField(missing))) => {
                assert_eq!(missing, field)
            }
            other => panic!("clearing {field} gave {other:?}"),
        }
        match decode_envelope(&body) {
            Err(DecodeError::MissingField(missing)) => assert_eq!(missing, field),
            other => panic!("typed: clearing {field} gave {other:?}"),
        }
    }
    let not_a_uuid = widget_body(widget, |envelope| envelope.id = "not-a-uuid".into());
    assert!(matches!(
        cache.decode_dynamic(&not_a_uuid).await,
        Err(DynamicDecodeError::Envelope(EnvelopeError::InvalidField {
            field: "id",
            ..
        }))
    ));
    let bad_time = widget_body(widget, |envelope| {
        envelope.occurred_at = Some(prost_types::Timestamp {
            seconds: i64::MAX,
            nanos: -5,
        });
    });
    assert!(matches!(
        cache.decode_dynamic(&bad_time).await,
        Err(DynamicDecodeError::Envelope(EnvelopeError::InvalidField {
            field: "occurred_at",
            ..
        }))
    ));
    assert!(matches!(
        cache.decode_dynamic(b"\xff\xff\xff\xff not protobuf").await,
        Err(DynamicDecodeError::Envelope(EnvelopeError::Malformed(_)))
    ));
    assert_eq!(
        source.fetch_count(),
        0,
        "bad envelopes never reach the registry"
    );
}

// Single-threaded: every decode runs on this thread, where panics are counted.
#[tokio::test(flavor = "current_thread")]
async fn random_and_mutated_input_never_panics() {
    let panics_before = panics_on_this_thread();
    let widget = compile_widget();
    let mut rng = StdRng::seed_from_u64(0xd1_5eed);
    let valid_body = widget_body(widget, |_| {});
    let cache = cache_over(&widget_source(widget));
    for round in 0..5_000 {
        let body: Vec<u8> = if round % 2 == 0 {
            let length = rng.random_range(0..256);
            (0..length).map(|_| rng.random()).collect()
        } else {
            mutated(&mut rng, &valid_body)
        };
        if let Ok(event) = cache.decode_dynamic(&body).await {
            // Rendering may fail (e.g. a mutated Any), but must not panic.
            let _ = event.to_json();
        }
    }

    // Mutated descriptor sets, each under an id of its own.
    let schemas = (1..=2_000).map(|registry_id| {
        (
            registry_id,
            widget_schema(mutated(&mut rng, &widget.descriptor_set)),
        )
    });
    let cache = cache_over(&Arc::new(FakeSchemaSource::with(schemas)));
    let (mut decoded, mut rejected) = (0, 0);
    for registry_id in 1..=2_000 {
        let body = widget_body(widget, |envelope| {
            if let Some(schema) = envelope.schema.as_mut() {
                schema.registry_id = Some(registry_id);
            }
        });
        match cache.decode_dynamic(&body).await {
            Ok(event) => {
                decoded += 1;
                let _ = event.to_json();
            }
            Err(_) => rejected += 1,
        }
    }
    assert!(
        decoded > 0 && rejected > 0,
        "{decoded} decoded, {rejected} rejected"
    );
    assert_eq!(
        panics_on_this_thread(),
        panics_before,
        "the up-front checks should leave no panic for the backstop to catch"
    );
}

#[tokio::test]
async fn descriptor_sets_that_would_make_prost_reflect_panic_are_refused() {
    let widget = compile_widget();
    let set = prost_types::FileDescriptorSet::decode(widget.descriptor_set.as_slice())
        .expect("descriptor set");
    let mut editions = set.clone();
    for file in &mut editions.file {
        if file.name() == "test/dynamic/v1/widget.proto" {
            file.syntax = Some("editions".into());
        }
    }
    // The map entry message protoc generated for `drying_minutes`, without
    // its key field.
    let mut keyless_map = set.clone();
    let mut removed = 0;
    for file in &mut keyless_map.file {
        for message in &mut file.message_type {
            for entry in &mut message.nested_type {
                let before = entry.field.len();
                entry.field.retain(|field| field.number() != 1);
                removed += before - entry.field.len();
            }
        }
    }
    assert_eq!(removed, 1, "only DryingMinutesEntry is nested");
    for (case, descriptor_set) in [("editions", editions), ("keyless map", keyless_map)] {
        let source = Arc::new(FakeSchemaSource::with([(
            WIDGET_SCHEMA_ID,
            widget_schema(descriptor_set.encode_to_vec()),
        )]));
        let result = cache_over(&source)
            .decode_dynamic(&widget_body(widget, |_| {}))
            .await;
        match result {
            Err(DynamicDecodeError::Schema(SchemaError::InvalidDescriptorSet {
                source, ..
            })) => {
                let reason = source.to_string();
                assert!(!reason.contains("panicked"), "{case}: {reason}");
            }
            other => panic!("{case}: unexpected {other:?}"),
        }
    }
}
