//! `ecommerce_events::MessageProperties` <-> lapin `BasicProperties`.

use std::collections::BTreeMap;

use ecommerce_events::{DELIVERY_MODE_PERSISTENT, MessageProperties};
use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};

/// Header RabbitMQ quorum queues set on redelivered messages: how many times
/// the message was returned to the queue before this delivery.
pub const DELIVERY_COUNT_HEADER: &str = "x-delivery-count";

/// Why a message could not be turned into an AMQP publish.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field} is not a valid AMQP short string (at most 255 bytes)")]
pub struct InvalidProperty {
    pub field: String,
}

pub(crate) fn short_string(value: &str, field: &str) -> Result<ShortString, InvalidProperty> {
    ShortString::try_new(value).map_err(|_| InvalidProperty {
        field: field.to_owned(),
    })
}

/// The AMQP properties of an outgoing event. Delivery mode is always
/// persistent, whatever `properties` says: events must survive a broker restart.
pub(crate) fn to_basic_properties(
    properties: &MessageProperties,
) -> Result<BasicProperties, InvalidProperty> {
    let mut basic = BasicProperties::default().with_delivery_mode(DELIVERY_MODE_PERSISTENT);
    if !properties.message_id.is_empty() {
        basic = basic.with_message_id(short_string(&properties.message_id, "message_id")?);
    }
    if !properties.event_type.is_empty() {
        basic = basic.with_type(short_string(&properties.event_type, "type")?);
    }
    if properties.timestamp != 0 {
        basic = basic.with_timestamp(properties.timestamp);
    }
    if let Some(correlation_id) = &properties.correlation_id {
        basic = basic.with_correlation_id(short_string(correlation_id, "correlation_id")?);
    }
    if !properties.content_type.is_empty() {
        basic = basic.with_content_type(short_string(&properties.content_type, "content_type")?);
    }
    if !properties.headers.is_empty() {
        let mut headers = FieldTable::default();
        for (name, value) in &properties.headers {
            headers.insert(
                short_string(name, &format!("header name `{name}`"))?,
                AMQPValue::LongString(LongString::from(value.as_str())),
            );
        }
        basic = basic.with_headers(headers);
    }
    Ok(basic)
}

/// The event view of received AMQP properties. Scalar headers become
/// strings; nested ones (arrays and tables such as `x-death`) are left out.
pub fn from_basic_properties(basic: &BasicProperties) -> MessageProperties {
    let short = |value: &Option<ShortString>| {
        value
            .as_ref()
            .map(|value| value.as_str().to_owned())
            .unwrap_or_default()
    };
    let mut headers = BTreeMap::new();
    if let Some(table) = basic.headers() {
        for (name, value) in table.inner() {
            if let Some(text) = header_text(value) {
                headers.insert(name.as_str().to_owned(), text);
            }
        }
    }
    MessageProperties {
        message_id: short(basic.message_id()),
        event_type: short(basic.kind()),
        timestamp: basic.timestamp().unwrap_or(0),
        correlation_id: basic
            .correlation_id()
            .as_ref()
            .map(|value| value.as_str().to_owned()),
        content_type: short(basic.content_type()),
        delivery_mode: basic.delivery_mode().unwrap_or(0),
        headers,
    }
}

/// A scalar header as text; `None` for arrays, tables, byte arrays and void.
pub(crate) fn header_text(value: &AMQPValue) -> Option<String> {
    match value {
        AMQPValue::LongString(text) => Some(String::from_utf8_lossy(text.as_bytes()).into_owned()),
        AMQPValue::ShortString(text) => Some(text.as_str().to_owned()),
        AMQPValue::Boolean(flag) => Some(flag.to_string()),
        AMQPValue::Float(number) => Some(number.to_string()),
        AMQPValue::Double(number) => Some(number.to_string()),
        AMQPValue::Timestamp(seconds) => Some(seconds.to_string()),
        other => header_integer(other).map(|number| number.to_string()),
    }
}

fn header_integer(value: &AMQPValue) -> Option<i128> {
    match value {
        AMQPValue::ShortShortInt(number) => Some(i128::from(*number)),
        AMQPValue::ShortShortUInt(number) => Some(i128::from(*number)),
        AMQPValue::ShortInt(number) => Some(i128::from(*number)),
        AMQPValue::ShortUInt(number) => Some(i128::from(*number)),
        AMQPValue::LongInt(number) => Some(i128::from(*number)),
        AMQPValue::LongUInt(number) => Some(i128::from(*number)),
        AMQPValue::LongLongInt(number) => Some(i128::from(*number)),
        AMQPValue::Timestamp(number) => Some(i128::from(*number)),
        _ => None,
    }
}

/// `x-delivery-count` (0 on a first delivery, when the header is absent).
pub(crate) fn delivery_count(basic: &BasicProperties) -> u32 {
    header_count(basic, DELIVERY_COUNT_HEADER)
}

/// A counting header as a `u32` (0 when absent or not a number).
pub(crate) fn header_count(basic: &BasicProperties, name: &str) -> u32 {
    basic
        .headers()
        .as_ref()
        .and_then(|headers| headers.inner().get(name))
        .and_then(header_integer)
        .map(|count| u32::try_from(count.max(0)).unwrap_or(u32::MAX))
        .unwrap_or(0)
}

/// A header as text (see [`header_text`]), when present.
pub(crate) fn header_string(basic: &BasicProperties, name: &str) -> Option<String> {
    header_text(basic.headers().as_ref()?.inner().get(name)?)
}

#[cfg(test)]
mod tests {
    use ecommerce_events::{CONTENT_TYPE_PROTOBUF, headers};

    use super::*;

    fn event_properties() -> MessageProperties {
        MessageProperties {
            message_id: "0190b3c4-0000-7000-8000-000000000001".to_owned(),
            event_type: "orders.order_placed.v1".to_owned(),
            timestamp: 1_720_000_000,
            correlation_id: Some("checkout-1".to_owned()),
            content_type: CONTENT_TYPE_PROTOBUF.to_owned(),
            delivery_mode: DELIVERY_MODE_PERSISTENT,
            headers: BTreeMap::from([
                (headers::CAUSATION_ID.to_owned(), "cause-1".to_owned()),
                (headers::TRACEPARENT.to_owned(), "00-abc-def-01".to_owned()),
            ]),
        }
    }

    #[test]
    fn event_properties_round_trip() {
        let properties = event_properties();
        let basic = to_basic_properties(&properties).unwrap();
        assert_eq!(
            basic.message_id().as_ref().map(ShortString::as_str),
            Some(properties.message_id.as_str())
        );
        assert_eq!(
            basic.kind().as_ref().map(ShortString::as_str),
            Some("orders.order_placed.v1")
        );
        assert_eq!(*basic.delivery_mode(), Some(2));
        let header = basic
            .headers()
            .as_ref()
            .unwrap()
            .inner()
            .get(headers::CAUSATION_ID)
            .unwrap();
        // Headers travel as AMQP long strings.
        assert_eq!(header, &AMQPValue::LongString("cause-1".into()));
        assert_eq!(from_basic_properties(&basic), properties);
    }

    #[test]
    fn delivery_is_persistent_even_when_the_properties_leave_it_unset() {
        let properties = MessageProperties::default();
        let basic = to_basic_properties(&properties).unwrap();
        assert_eq!(*basic.delivery_mode(), Some(DELIVERY_MODE_PERSISTENT));
        assert_eq!(*basic.message_id(), None);
        assert_eq!(*basic.headers(), None);
    }

    #[test]
    fn an_overlong_message_id_is_refused_not_a_panic() {
        let properties = MessageProperties {
            message_id: "x".repeat(300),
            ..MessageProperties::default()
        };
        let error = to_basic_properties(&properties).unwrap_err();
        assert_eq!(error.field, "message_id");
    }

    #[test]
    fn scalar_headers_become_text_and_nested_ones_are_skipped() {
        let mut table = FieldTable::default();
        table.insert("x-delivery-count".into(), AMQPValue::LongLongInt(3));
        table.insert("flag".into(), AMQPValue::Boolean(true));
        table.insert("short".into(), AMQPValue::ShortString("s".into()));
        table.insert(
            "x-death".into(),
            AMQPValue::FieldArray(vec![AMQPValue::FieldTable(FieldTable::default())].into()),
        );
        let basic = BasicProperties::default().with_headers(table);
        let properties = from_basic_properties(&basic);
        assert_eq!(
            properties.headers,
            BTreeMap::from([
                ("flag".to_owned(), "true".to_owned()),
                ("short".to_owned(), "s".to_owned()),
                ("x-delivery-count".to_owned(), "3".to_owned()),
            ])
        );
        assert_eq!(delivery_count(&basic), 3);
    }

    #[test]
    fn delivery_count_accepts_any_integer_width_and_defaults_to_zero() {
        assert_eq!(delivery_count(&BasicProperties::default()), 0);
        for value in [
            AMQPValue::LongInt(4),
            AMQPValue::LongUInt(4),
            AMQPValue::ShortInt(4),
            AMQPValue::ShortShortUInt(4),
        ] {
            let mut table = FieldTable::default();
            table.insert(DELIVERY_COUNT_HEADER.into(), value);
            assert_eq!(
                delivery_count(&BasicProperties::default().with_headers(table)),
                4
            );
        }
        let mut negative = FieldTable::default();
        negative.insert(DELIVERY_COUNT_HEADER.into(), AMQPValue::LongInt(-1));
        assert_eq!(
            delivery_count(&BasicProperties::default().with_headers(negative)),
            0
        );
    }
}
