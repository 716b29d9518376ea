//! Build-time generator of the event codec.
//!
//! Reads an encoded `FileDescriptorSet`, finds every message marked with
//! `option (ecommerce.events.v1.event_type) = "..."` and produces Rust source
//! for the event table, the `Event` impls and the `DecodedEvent` enum. The
//! table is therefore derived from the contracts, never kept by hand, and the
//! rules that keep it sound are enforced here, where breaking them fails the
//! build:
//!
//! - every event type string is unique;
//! - its `.vN` suffix equals the major version of the message's package
//!   (`ecommerce.orders.v1` carries only `*.v1` types);
//! - the type string is lowercase dot-separated segments ending in `.vN`;
//! - event payloads are top-level messages (they need a stable Rust path).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use heck::{ToSnakeCase, ToUpperCamelCase};
use prost_reflect::{DescriptorPool, MessageDescriptor, Value};

/// Full name of the custom message option that marks an event payload.
pub const EVENT_TYPE_OPTION: &str = "ecommerce.events.v1.event_type";

/// One event type found in the descriptors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventDefinition {
    /// The event type string, e.g. `orders.order_placed.v1`.
    pub event_type: String,
    /// Fully qualified protobuf message name, e.g. `ecommerce.orders.v1.OrderPlaced`.
    pub message_name: String,
    /// Major schema version, from both the package and the type suffix.
    pub version: u32,
}

impl EventDefinition {
    /// Name of the `DecodedEvent` variant: the type string in UpperCamelCase
    /// (`orders.order_placed.v1` -> `OrdersOrderPlacedV1`), unique because the
    /// type strings are.
    pub fn variant_name(&self) -> String {
        self.event_type.replace('.', "_").to_upper_camel_case()
    }

    /// Rust path of the prost-generated type below `proto_crate`, following
    /// prost's naming (package segments snake_case, message UpperCamelCase).
    pub fn rust_path(&self, proto_crate: &str) -> String {
        let mut path = String::from(proto_crate);
        let (package, message) = self
            .message_name
            .rsplit_once('.')
            .unwrap_or(("", self.message_name.as_str()));
        for segment in package.split('.').filter(|segment| !segment.is_empty()) {
            path.push_str("::");
            path.push_str(&segment.to_snake_case());
        }
        path.push_str("::");
        path.push_str(&message.to_upper_camel_case());
        path
    }
}

/// Why the descriptors do not make a sound event table.
#[derive(Debug, thiserror::Error)]
pub enum CodegenError {
    #[error("the descriptor set does not decode: {0}")]
    Descriptor(#[from] prost_reflect::DescriptorError),
    #[error("the descriptor set does not define the option `{EVENT_TYPE_OPTION}`")]
    OptionNotDefined,
    #[error("event type `{event_type}` is declared twice: by `{first}` and by `{second}`")]
    DuplicateEventType {
        event_type: String,
        first: String,
        second: String,
    },
    #[error(
        "event type `{event_type}` on `{message_name}` has version v{type_version} \
         but its package `{package}` is v{package_version}; a breaking change needs a new package version"
    )]
    VersionMismatch {
        event_type: String,
        message_name: String,
        package: String,
        type_version: u32,
        package_version: u32,
    },
    #[error(
        "event message `{message_name}` is in package `{package}`, which has no `.vN` version suffix"
    )]
    UnversionedPackage {
        message_name: String,
        package: String,
    },
    #[error("event type `{event_type}` on `{message_name}` is malformed: {reason}")]
    MalformedEventType {
        event_type: String,
        message_name: String,
        reason: &'static str,
    },
    #[error("event message `{message_name}` is nested; event payloads must be top-level messages")]
    NestedEventMessage { message_name: String },
}

/// Finds every event payload in an encoded `FileDescriptorSet`, sorted by
/// event type, and checks the rules in the crate docs.
pub fn collect_events(descriptor_set: &[u8]) -> Result<Vec<EventDefinition>, CodegenError> {
    let pool = DescriptorPool::decode(descriptor_set)?;
    let option = pool
        .get_extension_by_name(EVENT_TYPE_OPTION)
        .ok_or(CodegenError::OptionNotDefined)?;

    let mut by_type: BTreeMap<String, EventDefinition> = BTreeMap::new();
    for message in pool.all_messages() {
        let options = message.options();
        if !options.has_extension(&option) {
            continue;
        }
        let Value::String(event_type) = options.get_extension(&option).into_owned() else {
            // The option is declared as a string; anything else is a corrupt set.
            return Err(malformed(&message, "", "the option value is not a string"));
        };
        let definition = check_event(&message, event_type)?;
        if let Some(first) = by_type.get(&definition.event_type) {
            return Err(CodegenError::DuplicateEventType {
                event_type: definition.event_type,
                first: first.message_name.clone(),
                second: message.full_name().to_owned(),
            });
        }
        by_type.insert(definition.event_type.clone(), definition);
    }
    Ok(by_type.into_values().collect())
}

fn check_event(
    message: &MessageDescriptor,
    event_type: String,
) -> Result<EventDefinition, CodegenError> {
    if message.parent_message().is_some() {
        return Err(CodegenError::NestedEventMessage {
            message_name: message.full_name().to_owned(),
        });
    }
    let type_version = parse_event_type_version(&event_type)
        .map_err(|reason| malformed(message, &event_type, reason))?;
    let package = message.package_name();
    let package_version = package
        .rsplit('.')
        .next()
        .and_then(parse_version_segment)
        .ok_or_else(|| CodegenError::UnversionedPackage {
            message_name: message.full_name().to_owned(),
            package: package.to_owned(),
        })?;
    if type_version != package_version {
        return Err(CodegenError::VersionMismatch {
            event_type,
            message_name: message.full_name().to_owned(),
            package: package.to_owned(),
            type_version,
            package_version,
        });
    }
    Ok(EventDefinition {
        event_type,
        message_name: message.full_name().to_owned(),
        version: type_version,
    })
}

fn malformed(message: &MessageDescriptor, event_type: &str, reason: &'static str) -> CodegenError {
    CodegenError::MalformedEventType {
        event_type: event_type.to_owned(),
        message_name: message.full_name().to_owned(),
        reason,
    }
}

/// `orders.order_placed.v1` -> 1. Segments are `[a-z][a-z0-9_]*`, at least
/// two before the version, so the string is safe as a routing key.
fn parse_event_type_version(event_type: &str) -> Result<u32, &'static str> {
    let segments: Vec<&str> = event_type.split('.').collect();
    let Some((version_segment, name_segments)) = segments.split_last() else {
        return Err("it is empty");
    };
    if name_segments.len() < 2 {
        return Err("it needs at least a domain, a name and a `.vN` suffix");
    }
    let well_formed = |segment: &&str| {
        let mut chars = segment.chars();
        chars.next().is_some_and(|first| first.is_ascii_lowercase())
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    if !name_segments.iter().all(well_formed) {
        return Err("segments must match [a-z][a-z0-9_]*");
    }
    parse_version_segment(version_segment).ok_or("it must end in `.vN` with N >= 1")
}

/// `v3` -> 3; `v0`, `v1beta1` and `x` are not versions of a released schema.
fn parse_version_segment(segment: &str) -> Option<u32> {
    let digits = segment.strip_prefix('v')?;
    if digits.is_empty() || digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Rust source for the event table, `Event` impls and `DecodedEvent`, to be
/// `include!`d by the events crate. `proto_crate` is the path of the crate
/// holding the prost types (e.g. `::ecommerce_proto`); the including module
/// must have `Event`, `EventTypeInfo` and `prost` in scope.
pub fn generate(descriptor_set: &[u8], proto_crate: &str) -> Result<String, CodegenError> {
    let events = collect_events(descriptor_set)?;
    Ok(render(&events, proto_crate))
}

fn render(events: &[EventDefinition], proto_crate: &str) -> String {
    let mut code = String::new();
    // `write!` into a String cannot fail; the results are ignored on purpose.
    let _ = writeln!(
        code,
        "// Generated by ecommerce-event-codegen from the proto descriptors. Do not edit.\n"
    );

    let _ = writeln!(
        code,
        "/// Every event type this build knows, sorted by type string."
    );
    let _ = writeln!(code, "pub static EVENT_TYPES: &[EventTypeInfo] = &[");
    for event in events {
        let _ = writeln!(
            code,
            "    EventTypeInfo {{ event_type: {:?}, message_name: {:?}, version: {} }},",
            event.event_type, event.message_name, event.version
        );
    }
    let _ = writeln!(code, "];\n");

    let _ = writeln!(code, "/// A decoded payload of any known event type.");
    let _ = writeln!(code, "#[derive(Clone, Debug, PartialEq)]");
    let _ = writeln!(code, "pub enum DecodedEvent {{");
    for event in events {
        let _ = writeln!(code, "    /// `{}`", event.event_type);
        let _ = writeln!(
            code,
            "    {}({}),",
            event.variant_name(),
            event.rust_path(proto_crate)
        );
    }
    let _ = writeln!(code, "}}\n");

    for event in events {
        let rust_path = event.rust_path(proto_crate);
        let variant = event.variant_name();
        let _ = writeln!(
            code,
            "impl Event for {rust_path} {{\n    \
                 const EVENT_TYPE: &'static str = {:?};\n    \
                 const MESSAGE_NAME: &'static str = {:?};\n    \
                 const SCHEMA_VERSION: u32 = {};\n\
             }}\n\n\
             impl From<{rust_path}> for DecodedEvent {{\n    \
                 fn from(payload: {rust_path}) -> Self {{\n        \
                     Self::{variant}(payload)\n    \
                 }}\n\
             }}\n\n\
             impl From<&{rust_path}> for DecodedEvent {{\n    \
                 fn from(payload: &{rust_path}) -> Self {{\n        \
                     Self::{variant}(payload.clone())\n    \
                 }}\n\
             }}\n",
            event.event_type, event.message_name, event.version
        );
    }

    let _ = writeln!(code, "impl DecodedEvent {{");
    render_match(&mut code, events, "event_type", "&'static str", |event| {
        format!("{:?}", event.event_type)
    });
    render_match(&mut code, events, "message_name", "&'static str", |event| {
        format!("{:?}", event.message_name)
    });
    render_match(&mut code, events, "schema_version", "u32", |event| {
        event.version.to_string()
    });
    render_match(&mut code, events, "encode_payload", "Vec<u8>", |_| {
        "prost::Message::encode_to_vec(payload)".to_owned()
    });
    let _ = writeln!(
        code,
        "    /// Decodes a payload of the given event type; `None` when the type is unknown.\n    \
         pub fn decode_payload(event_type: &str, payload: &[u8]) -> Option<Result<Self, prost::DecodeError>> {{\n        \
             match event_type {{"
    );
    for event in events {
        let _ = writeln!(
            code,
            "            {:?} => Some(<{} as prost::Message>::decode(payload).map(Self::{})),",
            event.event_type,
            event.rust_path(proto_crate),
            event.variant_name()
        );
    }
    let _ = writeln!(code, "            _ => None,\n        }}\n    }}\n}}");
    code
}

fn render_match(
    code: &mut String,
    events: &[EventDefinition],
    method: &str,
    return_type: &str,
    arm: impl Fn(&EventDefinition) -> String,
) {
    let _ = writeln!(
        code,
        "    pub fn {method}(&self) -> {return_type} {{\n        match self {{"
    );
    for event in events {
        let binding = if method == "encode_payload" {
            "payload"
        } else {
            "_"
        };
        let _ = writeln!(
            code,
            "            Self::{}({binding}) => {},",
            event.variant_name(),
            arm(event)
        );
    }
    let _ = writeln!(code, "        }}\n    }}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_type_versions_parse_only_when_well_formed() {
        assert_eq!(parse_event_type_version("orders.order_placed.v1"), Ok(1));
        assert_eq!(
            parse_event_type_version("inventory.stock.reserved.v12"),
            Ok(12)
        );
        for bad in [
            "",
            "orders.v1",
            "orders.order_placed",
            "orders.order_placed.v0",
            "orders.order_placed.v01",
            "orders.order_placed.V1",
            "Orders.order_placed.v1",
            "orders..v1",
            "orders.order-placed.v1",
            "orders.order_placed.v1beta1",
        ] {
            assert!(
                parse_event_type_version(bad).is_err(),
                "{bad:?} was accepted"
            );
        }
    }

    #[test]
    fn names_follow_prost_and_type_strings() {
        let event = EventDefinition {
            event_type: "payments.payment_authorized.v1".into(),
            message_name: "ecommerce.payments.v1.PaymentAuthorized".into(),
            version: 1,
        };
        assert_eq!(event.variant_name(), "PaymentsPaymentAuthorizedV1");
        assert_eq!(
            event.rust_path("::ecommerce_proto"),
            "::ecommerce_proto::ecommerce::payments::v1::PaymentAuthorized"
        );
    }
}
