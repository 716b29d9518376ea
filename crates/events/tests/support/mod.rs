//! Builds a sample payload for any event type with every field set, so round
//! trips prove that no field is lost.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use ecommerce_events::DecodedEvent;
use prost::Message as _;
use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, Value,
};

pub fn descriptor_pool() -> DescriptorPool {
    DescriptorPool::decode(ecommerce_proto::FILE_DESCRIPTOR_SET).expect("descriptor set decodes")
}

/// A dynamic message with every field of `descriptor` set to a non-default
/// value (one member per oneof), nested messages filled up to `depth`.
pub fn filled_message(descriptor: &MessageDescriptor, depth: usize) -> DynamicMessage {
    let mut message = DynamicMessage::new(descriptor.clone());
    for (index, field) in descriptor.fields().enumerate() {
        if let Some(oneof) = field.containing_oneof() {
            let is_first_member = oneof
                .fields()
                .next()
                .is_some_and(|first| first.number() == field.number());
            if !is_first_member && !oneof.is_synthetic() {
                continue;
            }
        }
        if let Some(value) = sample_value(&field, index, depth) {
            message.set_field(&field, value);
        }
    }
    message
}

fn sample_value(field: &FieldDescriptor, index: usize, depth: usize) -> Option<Value> {
    if field.is_map() {
        let Kind::Message(entry) = field.kind() else {
            return None;
        };
        let key_field = entry.map_entry_key_field();
        let value_field = entry.map_entry_value_field();
        let key = match scalar(&key_field.kind(), index, depth)? {
            Value::String(text) => MapKey::String(text),
            Value::I32(number) => MapKey::I32(number),
            Value::I64(number) => MapKey::I64(number),
            Value::U32(number) => MapKey::U32(number),
            Value::U64(number) => MapKey::U64(number),
            Value::Bool(flag) => MapKey::Bool(flag),
            _ => return None,
        };
        let value = scalar(&value_field.kind(), index, depth)?;
        return Some(Value::Map([(key, value)].into_iter().collect()));
    }
    let value = scalar(&field.kind(), index, depth)?;
    if field.is_list() {
        return Some(Value::List(vec![value.clone(), value]));
    }
    Some(value)
}

fn scalar(kind: &Kind, index: usize, depth: usize) -> Option<Value> {
    let number = index as i64 + 7;
    Some(match kind {
        Kind::Double => Value::F64(number as f64 + 0.5),
        Kind::Float => Value::F32(number as f32 + 0.5),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(-(number as i32)),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(-number * 1_000_003),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(number as u32),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(number as u64 * 1_000_003),
        Kind::Bool => Value::Bool(true),
        Kind::String => Value::String(format!("sample-{number}")),
        Kind::Bytes => Value::Bytes(vec![0, 1, 2, number as u8].into()),
        Kind::Enum(enum_descriptor) => {
            let value = enum_descriptor.values().find(|value| value.number() != 0)?;
            Value::EnumNumber(value.number())
        }
        Kind::Message(message) => {
            if depth == 0 {
                return None;
            }
            Value::Message(filled_message(message, depth - 1))
        }
    })
}

/// A typed sample payload of `event_type`, and its dynamic twin.
pub fn sample_event(
    pool: &DescriptorPool,
    event_type: &str,
    message_name: &str,
) -> (DecodedEvent, DynamicMessage) {
    let descriptor = pool
        .get_message_by_name(message_name)
        .unwrap_or_else(|| panic!("{message_name} is not in the descriptor set"));
    let dynamic = filled_message(&descriptor, 3);
    let event = DecodedEvent::decode_payload(event_type, &dynamic.encode_to_vec())
        .expect("known event type")
        .expect("sample payload decodes");
    (event, dynamic)
}
