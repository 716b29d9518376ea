//! What a dynamic decode returns: a type the codec has never seen, and a
//! known type decoded both ways alike.

use std::sync::Arc;

use ecommerce_events::{
    DecodeError, DecodedEvent, Event, EventMetadata, FetchedSchema, decode, decode_envelope, encode,
};
use ecommerce_proto::ecommerce::orders::v1::OrderPlaced;
use prost::Message as _;
use prost_reflect::DynamicMessage;
use serde_json::json;

use crate::fixtures::*;
use crate::support;

#[tokio::test]
async fn a_type_unknown_to_the_codec_decodes_dynamically_to_proto_json() {
    let widget = compile_widget();
    let source = widget_source(widget);
    let cache = cache_over(&source);
    let body = widget_body(widget, |_| {});

    let event = cache.decode_dynamic(&body).await.expect("decodes");

    assert_eq!(event.event_type, WIDGET_EVENT_TYPE);
    assert_eq!(event.schema_id(), WIDGET_SCHEMA_ID);
    assert_eq!(event.message_name(), WIDGET_MESSAGE);
    assert_eq!(event.schema.subject, WIDGET_EVENT_TYPE);
    assert_eq!(event.schema.version, 2);
    assert_eq!(event.metadata.id.to_string(), WIDGET_EVENT_ID);
    assert_eq!(event.metadata.occurred_at.timestamp(), 1_767_225_600);
    assert_eq!(event.metadata.occurred_at.timestamp_subsec_micros(), 123);
    assert_eq!(event.metadata.aggregate.aggregate_type, "widget");
    assert_eq!(event.metadata.aggregate.id, "w-1");
    assert_eq!(
        event.metadata.correlation_id.as_deref(),
        Some("paint-run-9")
    );
    assert_eq!(event.metadata.schema_registry_id, Some(WIDGET_SCHEMA_ID));
    assert_eq!(event.metadata.trace_context, None);

    let expected = json!({
        "widgetId": "w-1",
        "coats": "3",
        "n": {"color": "teal", "layers": [1, 2]},
        "finish": "FINISH_GLOSS",
        "tags": ["a", "b"],
        "dryingMinutes": {"first": 30},
        "paintedAt": "2026-01-01T00:00:00.500Z",
        "signature": "AQI=",
        "touchedUp": false,
        "extra": {"@type": "type.googleapis.com/test.dynamic.v1.Nested", "color": "pink"},
    });
    assert_eq!(event.to_json_value().expect("renders"), expected);
    let text: serde_json::Value =
        serde_json::from_str(&event.to_json().expect("renders")).expect("valid JSON");
    assert_eq!(text, expected);
    assert_eq!(source.fetch_count(), 1);
}

#[test]
fn the_typed_path_does_not_know_that_type() {
    let widget = compile_widget();
    let body = widget_body(widget, |_| {});
    match decode_envelope(&body) {
        Err(DecodeError::UnknownEventType(event_type)) => assert_eq!(event_type, WIDGET_EVENT_TYPE),
        other => panic!("unexpected: {other:?}"),
    }
}

#[tokio::test]
async fn an_any_of_a_type_outside_the_set_fails_to_render_without_panicking() {
    let widget = compile_widget();
    let cache = cache_over(&widget_source(widget));
    let any_field_key = (10 << 3) | 2;
    let unknown_any = prost_types::Any {
        type_url: "type.googleapis.com/nowhere.v1.Unknown".into(),
        value: vec![0x08, 0x01],
    }
    .encode_to_vec();
    let mut payload = vec![any_field_key, unknown_any.len() as u8];
    payload.extend_from_slice(&unknown_any);
    let body = widget_body(widget, |envelope| {
        if let Some(any) = envelope.payload.as_mut() {
            any.value = payload;
        }
    });
    let event = cache
        .decode_dynamic(&body)
        .await
        .expect("the payload decodes");
    assert!(event.to_json().is_err());
    assert!(event.to_json_value().is_err());
}

#[tokio::test]
async fn a_known_type_decodes_both_typed_and_dynamically_alike() {
    let pool = support::descriptor_pool();
    let descriptor = pool
        .get_message_by_name(OrderPlaced::MESSAGE_NAME)
        .expect("known message");
    let filled = support::filled_message(&descriptor, 3);
    let order_placed = OrderPlaced::decode(filled.encode_to_vec().as_slice()).expect("typed");
    let metadata = EventMetadata {
        schema_registry_id: Some(7),
        ..EventMetadata::new("order", order_placed.order_id.clone()).with_correlation_id("c-1")
    };
    let encoded = encode(&order_placed, &metadata);

    let typed = decode(&encoded.properties, &encoded.body).expect("typed decode");
    assert_eq!(typed.metadata.schema_registry_id, Some(7));
    assert_eq!(
        typed.event,
        DecodedEvent::OrdersOrderPlacedV1(order_placed.clone())
    );

    let source = Arc::new(FakeSchemaSource::with([(
        7,
        FetchedSchema {
            subject: OrderPlaced::EVENT_TYPE.into(),
            version: 1,
            message_name: OrderPlaced::MESSAGE_NAME.into(),
            file_descriptor_set: descriptor_set_for(OrderPlaced::MESSAGE_NAME),
        },
    )]));
    let dynamic = cache_over(&source)
        .decode_dynamic(&encoded.body)
        .await
        .expect("dynamic decode");
    assert_eq!(dynamic.event_type, OrderPlaced::EVENT_TYPE);
    assert_eq!(dynamic.metadata, typed.metadata);
    assert_eq!(dynamic.schema_id(), 7);

    let json = dynamic.to_json_value().expect("renders");
    // Field for field against the typed payload.
    let money = |money: &Option<ecommerce_proto::ecommerce::common::v1::Money>| {
        let money = money.as_ref().expect("money set");
        json!({"amountMinor": money.amount_minor.to_string(), "currency": money.currency})
    };
    let lines: Vec<serde_json::Value> = order_placed
        .lines
        .iter()
        .map(|line| {
            json!({
                "sku": line.sku,
                "variantId": line.variant_id,
                "productId": line.product_id,
                "title": line.title,
                "quantity": line.quantity,
                "unitPrice": money(&line.unit_price),
                "lineTotal": money(&line.line_total),
            })
        })
        .collect();
    assert_eq!(lines.len(), 2, "the sample fills repeated fields twice");
    let expected = json!({
        "orderId": order_placed.order_id,
        "userId": order_placed.user_id,
        "lines": lines,
        "total": money(&order_placed.total),
        "currency": order_placed.currency,
        "paymentMethodToken": order_placed.payment_method_token,
        "shippingOptionId": order_placed.shipping_option_id,
    });
    assert_eq!(json, expected);
    // And the registered subset renders exactly as the full descriptor set does.
    let with_full_set = DynamicMessage::decode(descriptor, order_placed.encode_to_vec().as_slice())
        .expect("decodes with the full set");
    assert_eq!(json, serde_json::to_value(&with_full_set).expect("renders"));
}
