//! The AMQP body of one event type as a self-contained `.proto` text, for
//! AsyncAPI's protobuf schema format.
//!
//! On the wire an event is an `ecommerce.events.v1.EventEnvelope` whose
//! `payload` is a `google.protobuf.Any` holding the event's message. The
//! schema says exactly that: the envelope as declared, except that its
//! `payload` field is typed with a message shaped like `Any` whose `value`
//! is the event message itself (an embedded message and `bytes` are both
//! length-delimited, so this reads the same bytes), followed by every message
//! and enum the event needs.
//!
//! Why one file rendered from the descriptors rather than the `.proto` files
//! themselves: AsyncAPI's protobuf parser (`@asyncapi/protobuf-schema-parser`)
//! resolves no `import` but `google/protobuf/*`, and the event files import
//! `options.proto`, `money.proto` and their service's API file. So every type
//! is rendered into the event's package under its simple name (its full name
//! and file are in its comment), custom options are left out (the event type
//! option is in the comment), and the parser's root is the envelope
//! (`@RootNode`).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::LazyLock;

use ecommerce_events::EventTypeInfo;
use prost_reflect::{
    Cardinality, DescriptorPool, EnumDescriptor, FieldDescriptor, FileDescriptor, Kind,
    MessageDescriptor, Syntax,
};

use crate::AsyncApiError;

/// The AsyncAPI `schemaFormat` of a protobuf 3 schema.
pub const SCHEMA_FORMAT: &str = "application/vnd.google.protobuf;version=3";

/// The message every event travels in.
pub const ENVELOPE_MESSAGE: &str = "ecommerce.events.v1.EventEnvelope";

/// The envelope field that holds the event's message, as a `google.protobuf.Any`.
const ENVELOPE_PAYLOAD_FIELD: &str = "payload";

/// What the codec puts in front of a message name in the `Any` type URL.
pub const TYPE_URL_PREFIX: &str = "type.googleapis.com/";

/// Types the parser ships (`google/protobuf/*`): imported, never rendered.
const WELL_KNOWN_PACKAGE: &str = "google.protobuf";

/// Where the `.proto` files live, relative to the repository root.
pub const PROTO_ROOT: &str = "proto";

/// Every compiled descriptor, with source info (comments), parsed once.
static COMPILED: LazyLock<Result<DescriptorPool, String>> = LazyLock::new(|| {
    DescriptorPool::decode(ecommerce_proto::FILE_DESCRIPTOR_SET).map_err(|error| error.to_string())
});

/// The compiled descriptors of `proto/`.
pub fn descriptors() -> Result<&'static DescriptorPool, AsyncApiError> {
    COMPILED
        .as_ref()
        .map_err(|error| AsyncApiError::Descriptors(error.clone()))
}

/// The event message of `info`.
pub fn event_message(info: &EventTypeInfo) -> Result<MessageDescriptor, AsyncApiError> {
    message(info.message_name)
}

fn message(name: &str) -> Result<MessageDescriptor, AsyncApiError> {
    descriptors()?
        .get_message_by_name(name)
        .ok_or_else(|| AsyncApiError::Descriptors(format!("{name} is not compiled in")))
}

/// `proto/<file>`: the `.proto` file that declares `message`.
pub fn source_file(message: &MessageDescriptor) -> String {
    format!("{PROTO_ROOT}/{}", message.parent_file().name())
}

/// The leading comment of `message` in its `.proto` file, lines joined
/// with `\n`, without the comment markers.
pub fn message_comment(message: &MessageDescriptor) -> Option<String> {
    comment(&message.parent_file(), message.path())
}

/// The self-contained `.proto` text of the AMQP body of `info`'s events.
pub fn envelope_schema(info: &EventTypeInfo) -> Result<String, AsyncApiError> {
    let envelope = message(ENVELOPE_MESSAGE)?;
    let payload = event_message(info)?;
    let payload_field = envelope
        .get_field_by_name(ENVELOPE_PAYLOAD_FIELD)
        .ok_or_else(|| {
            AsyncApiError::Descriptors(format!(
                "{ENVELOPE_MESSAGE} has no `{ENVELOPE_PAYLOAD_FIELD}` field"
            ))
        })?;

    let mut closure = Closure {
        skipped_field: payload_field.full_name().to_owned(),
        ..Closure::default()
    };
    closure.include_message(&envelope)?;
    let envelope_types = closure.order.len();
    closure.include_message(&payload)?;

    let names = rendered_names(&closure.order);
    let wrapper = format!("{}Any", payload.name());
    if names.values().any(|name| *name == wrapper) {
        return Err(AsyncApiError::Unsupported(format!(
            "{wrapper}, the name of the payload wrapper of {}, is taken",
            info.event_type
        )));
    }
    let renderer = Renderer {
        names: &names,
        payload_field: payload_field.full_name(),
        wrapper: &wrapper,
    };

    let mut text = String::new();
    header(&mut text, info, &payload);
    for import in &closure.imports {
        let _ = writeln!(text, "import \"{import}\";");
    }
    if !closure.imports.is_empty() {
        text.push('\n');
    }
    for (index, item) in closure.order.iter().enumerate() {
        if index == envelope_types {
            renderer.wrapper(&mut text, info, &payload);
        }
        let root = index == 0;
        match item {
            TopLevel::Message(message) => renderer.message(&mut text, message, 0, root)?,
            TopLevel::Enum(enumeration) => renderer.enumeration(&mut text, enumeration, 0)?,
        }
        if index + 1 < closure.order.len() {
            text.push('\n');
        }
    }
    Ok(text)
}

fn header(text: &mut String, info: &EventTypeInfo, payload: &MessageDescriptor) {
    let _ = write!(
        text,
        "// The AMQP body of `{event_type}` events: an {ENVELOPE_MESSAGE}\n\
         // whose `payload` (a google.protobuf.Any) holds the {message}\n\
         // ({file}).\n\
         //\n\
         // Generated by ecommerce-asyncapi from the compiled descriptors of proto/,\n\
         // self-contained: every type under its simple name in one package, its\n\
         // full name and file in its comment, custom options left out.\n\
         \n\
         syntax = \"proto3\";\n\
         \n\
         package {package};\n\
         \n",
        event_type = info.event_type,
        message = info.message_name,
        file = source_file(payload),
        package = payload.package_name(),
    );
}

/// A message or enum declared at the top of its file.
#[derive(Clone, Debug)]
enum TopLevel {
    Message(MessageDescriptor),
    Enum(EnumDescriptor),
}

impl TopLevel {
    fn full_name(&self) -> &str {
        match self {
            Self::Message(message) => message.full_name(),
            Self::Enum(enumeration) => enumeration.full_name(),
        }
    }

    fn name(&self) -> &str {
        match self {
            Self::Message(message) => message.name(),
            Self::Enum(enumeration) => enumeration.name(),
        }
    }
}

/// The top-level types a schema needs, in the order they are met, and the
/// well-known files it imports.
#[derive(Debug, Default)]
struct Closure {
    order: Vec<TopLevel>,
    seen: HashSet<String>,
    imports: BTreeSet<String>,
    /// The envelope's `payload`: rendered as the wrapper, not as `Any`.
    skipped_field: String,
}

impl Closure {
    fn include_message(&mut self, message: &MessageDescriptor) -> Result<(), AsyncApiError> {
        let mut top = message.clone();
        while let Some(parent) = top.parent_message() {
            top = parent;
        }
        if !self.seen.insert(top.full_name().to_owned()) {
            return Ok(());
        }
        check_syntax(&top.parent_file())?;
        self.order.push(TopLevel::Message(top.clone()));
        self.visit_fields(&top)
    }

    fn include_enum(&mut self, enumeration: &EnumDescriptor) -> Result<(), AsyncApiError> {
        if let Some(parent) = enumeration.parent_message() {
            return self.include_message(&parent);
        }
        if self.seen.insert(enumeration.full_name().to_owned()) {
            check_syntax(&enumeration.parent_file())?;
            self.order.push(TopLevel::Enum(enumeration.clone()));
        }
        Ok(())
    }

    /// The types the fields of `message` and of its nested messages use.
    fn visit_fields(&mut self, message: &MessageDescriptor) -> Result<(), AsyncApiError> {
        for field in message.fields() {
            if field.full_name() == self.skipped_field {
                continue;
            }
            self.visit_kind(&field.kind())?;
        }
        for nested in message.child_messages() {
            self.visit_fields(&nested)?;
        }
        Ok(())
    }

    fn visit_kind(&mut self, kind: &Kind) -> Result<(), AsyncApiError> {
        match kind {
            Kind::Message(used) if used.is_map_entry() => {
                self.visit_kind(&used.map_entry_value_field().kind())
            }
            Kind::Message(used) if used.package_name() == WELL_KNOWN_PACKAGE => {
                self.imports.insert(used.parent_file().name().to_owned());
                Ok(())
            }
            Kind::Enum(used) if used.package_name() == WELL_KNOWN_PACKAGE => {
                self.imports.insert(used.parent_file().name().to_owned());
                Ok(())
            }
            Kind::Message(used) => self.include_message(used),
            Kind::Enum(used) => self.include_enum(used),
            _ => Ok(()),
        }
    }
}

fn check_syntax(file: &FileDescriptor) -> Result<(), AsyncApiError> {
    match file.syntax() {
        Syntax::Proto3 => Ok(()),
        Syntax::Proto2 => Err(AsyncApiError::Unsupported(format!(
            "{} is proto2; the schemas are rendered as proto3",
            file.name()
        ))),
    }
}

/// Each top-level type's name in the rendered file: its simple name, or its
/// full name with `_` for `.` when two types share a simple name.
fn rendered_names(order: &[TopLevel]) -> HashMap<String, String> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for item in order {
        *counts.entry(item.name()).or_default() += 1;
    }
    order
        .iter()
        .map(|item| {
            let name = if counts.get(item.name()).copied().unwrap_or(0) > 1 {
                item.full_name().replace('.', "_")
            } else {
                item.name().to_owned()
            };
            (item.full_name().to_owned(), name)
        })
        .collect()
}

struct Renderer<'a> {
    names: &'a HashMap<String, String>,
    payload_field: &'a str,
    wrapper: &'a str,
}

impl Renderer<'_> {
    fn message(
        &self,
        text: &mut String,
        message: &MessageDescriptor,
        depth: usize,
        root: bool,
    ) -> Result<(), AsyncApiError> {
        let indent = "  ".repeat(depth);
        let mut lines = comment_lines(&message.parent_file(), message.path());
        if depth == 0 {
            if !lines.is_empty() {
                lines.push(String::new());
            }
            lines.push(format!(
                "{} ({}).",
                message.full_name(),
                source_file(message)
            ));
        }
        if let Some(event_type) = event_type_of(message) {
            lines.push(format!(
                "Event type `{event_type}` (its ecommerce.events.v1.event_type option)."
            ));
        }
        write_comment(text, &indent, &lines);
        if root {
            // The parser's root: the message nothing else uses.
            let _ = writeln!(text, "{indent}// @RootNode");
        }
        let _ = writeln!(text, "{indent}message {} {{", self.declared_name(message));

        let mut oneofs_written = HashSet::new();
        for field in message.fields() {
            match field.containing_oneof() {
                Some(oneof) if !oneof.is_synthetic() => {
                    if !oneofs_written.insert(oneof.name().to_owned()) {
                        continue;
                    }
                    write_comment(
                        text,
                        &format!("{indent}  "),
                        &comment_lines(&message.parent_file(), oneof.path()),
                    );
                    let _ = writeln!(text, "{indent}  oneof {} {{", oneof.name());
                    for member in oneof.fields() {
                        self.field(text, &member, depth + 2, false)?;
                    }
                    let _ = writeln!(text, "{indent}  }}");
                }
                _ => self.field(text, &field, depth + 1, true)?,
            }
        }
        for nested in message.child_messages() {
            if nested.is_map_entry() {
                continue;
            }
            text.push('\n');
            self.message(text, &nested, depth + 1, false)?;
        }
        for nested in message.child_enums() {
            text.push('\n');
            self.enumeration(text, &nested, depth + 1)?;
        }
        let _ = writeln!(text, "{indent}}}");
        Ok(())
    }

    fn field(
        &self,
        text: &mut String,
        field: &FieldDescriptor,
        depth: usize,
        outside_oneof: bool,
    ) -> Result<(), AsyncApiError> {
        let indent = "  ".repeat(depth);
        write_comment(
            text,
            &indent,
            &comment_lines(&field.parent_file(), field.path()),
        );
        let label = if field.is_map() || !outside_oneof {
            ""
        } else {
            match field.cardinality() {
                Cardinality::Repeated => "repeated ",
                Cardinality::Optional if field.field_descriptor_proto().proto3_optional() => {
                    "optional "
                }
                Cardinality::Optional => "",
                Cardinality::Required => {
                    return Err(AsyncApiError::Unsupported(format!(
                        "{} is a proto2 required field",
                        field.full_name()
                    )));
                }
            }
        };
        let field_type = if field.full_name() == self.payload_field {
            self.wrapper.to_owned()
        } else if field.is_map() {
            let Kind::Message(entry) = field.kind() else {
                return Err(AsyncApiError::Unsupported(format!(
                    "map field {} without an entry message",
                    field.full_name()
                )));
            };
            format!(
                "map<{}, {}>",
                self.type_name(&entry.map_entry_key_field().kind()),
                self.type_name(&entry.map_entry_value_field().kind())
            )
        } else {
            self.type_name(&field.kind())
        };
        let deprecated = field
            .field_descriptor_proto()
            .options
            .as_ref()
            .is_some_and(|options| options.deprecated());
        let options = if deprecated {
            " [deprecated = true]"
        } else {
            ""
        };
        let _ = writeln!(
            text,
            "{indent}{label}{field_type} {} = {}{options};",
            field.name(),
            field.number()
        );
        Ok(())
    }

    fn enumeration(
        &self,
        text: &mut String,
        enumeration: &EnumDescriptor,
        depth: usize,
    ) -> Result<(), AsyncApiError> {
        let indent = "  ".repeat(depth);
        let mut lines = comment_lines(&enumeration.parent_file(), enumeration.path());
        if depth == 0 {
            if !lines.is_empty() {
                lines.push(String::new());
            }
            lines.push(format!(
                "{} ({PROTO_ROOT}/{}).",
                enumeration.full_name(),
                enumeration.parent_file().name()
            ));
        }
        write_comment(text, &indent, &lines);
        let name = if depth == 0 {
            self.names
                .get(enumeration.full_name())
                .cloned()
                .unwrap_or_else(|| enumeration.name().to_owned())
        } else {
            enumeration.name().to_owned()
        };
        let _ = writeln!(text, "{indent}enum {name} {{");
        let allows_alias = enumeration
            .enum_descriptor_proto()
            .options
            .as_ref()
            .is_some_and(|options| options.allow_alias());
        if allows_alias {
            let _ = writeln!(text, "{indent}  option allow_alias = true;");
        }
        for value in enumeration.values() {
            write_comment(
                text,
                &format!("{indent}  "),
                &comment_lines(&value.parent_file(), value.path()),
            );
            let _ = writeln!(text, "{indent}  {} = {};", value.name(), value.number());
        }
        let _ = writeln!(text, "{indent}}}");
        Ok(())
    }

    /// The wrapper that stands for `google.protobuf.Any` in the envelope.
    fn wrapper(&self, text: &mut String, info: &EventTypeInfo, payload: &MessageDescriptor) {
        let type_url = format!("{TYPE_URL_PREFIX}{}", info.message_name);
        let lines = [
            "google.protobuf.Any as this event type fills it: `type_url` names".to_owned(),
            format!(
                "{}, `value` is its encoding (an embedded",
                info.message_name
            ),
            "message and `bytes` are both length-delimited: the same bytes).".to_owned(),
        ];
        write_comment(text, "", &lines);
        let _ = writeln!(text, "message {} {{", self.wrapper);
        write_comment(text, "  ", &[format!("Always \"{type_url}\".")]);
        let _ = writeln!(text, "  // @Pattern ^{}$", type_url.replace('.', "\\."));
        let _ = writeln!(text, "  string type_url = 1;");
        write_comment(text, "  ", &["The event's payload.".to_owned()]);
        let _ = writeln!(text, "  {} value = 2;", self.declared_name(payload));
        let _ = writeln!(text, "}}\n");
    }

    /// The name a message is declared under: a top-level one's rendered
    /// name, a nested one's own.
    fn declared_name(&self, message: &MessageDescriptor) -> String {
        if message.parent_message().is_some() {
            return message.name().to_owned();
        }
        self.names
            .get(message.full_name())
            .cloned()
            .unwrap_or_else(|| message.name().to_owned())
    }

    /// How a field refers to `kind` in the rendered file.
    fn type_name(&self, kind: &Kind) -> String {
        match kind {
            Kind::Double => "double".to_owned(),
            Kind::Float => "float".to_owned(),
            Kind::Int32 => "int32".to_owned(),
            Kind::Int64 => "int64".to_owned(),
            Kind::Uint32 => "uint32".to_owned(),
            Kind::Uint64 => "uint64".to_owned(),
            Kind::Sint32 => "sint32".to_owned(),
            Kind::Sint64 => "sint64".to_owned(),
            Kind::Fixed32 => "fixed32".to_owned(),
            Kind::Fixed64 => "fixed64".to_owned(),
            Kind::Sfixed32 => "sfixed32".to_owned(),
            Kind::Sfixed64 => "sfixed64".to_owned(),
            Kind::Bool => "bool".to_owned(),
            Kind::String => "string".to_owned(),
            Kind::Bytes => "bytes".to_owned(),
            Kind::Message(message) => {
                let chain = message_chain(message);
                self.scoped_name(message.package_name(), message.full_name(), &chain)
            }
            Kind::Enum(enumeration) => {
                let mut chain = enumeration
                    .parent_message()
                    .map(|parent| message_chain(&parent))
                    .unwrap_or_default();
                chain.push(enumeration.name().to_owned());
                self.scoped_name(enumeration.package_name(), enumeration.full_name(), &chain)
            }
        }
    }

    /// `chain` is the type's name from its top-level ancestor down.
    fn scoped_name(&self, package: &str, full_name: &str, chain: &[String]) -> String {
        if package == WELL_KNOWN_PACKAGE {
            return full_name.to_owned();
        }
        let top_full_name = match package {
            "" => chain.first().cloned().unwrap_or_default(),
            package => format!("{package}.{}", chain.first().cloned().unwrap_or_default()),
        };
        let mut scoped = self
            .names
            .get(&top_full_name)
            .cloned()
            .unwrap_or_else(|| chain.first().cloned().unwrap_or_default());
        for nested in chain.iter().skip(1) {
            scoped.push('.');
            scoped.push_str(nested);
        }
        scoped
    }
}

/// A message's name from its top-level ancestor down: `["Order", "Line"]`.
fn message_chain(message: &MessageDescriptor) -> Vec<String> {
    let mut chain = vec![message.name().to_owned()];
    let mut current = message.clone();
    while let Some(parent) = current.parent_message() {
        chain.push(parent.name().to_owned());
        current = parent;
    }
    chain.reverse();
    chain
}

/// The event type a message carries in its `event_type` option.
fn event_type_of(message: &MessageDescriptor) -> Option<&'static str> {
    ecommerce_events::EVENT_TYPES
        .iter()
        .find(|info| info.message_name == message.full_name())
        .map(|info| info.event_type)
}

/// The leading comment at `path` of `file`, as trimmed lines.
fn comment_lines(file: &FileDescriptor, path: &[i32]) -> Vec<String> {
    comment(file, path)
        .map(|comment| comment.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

fn comment(file: &FileDescriptor, path: &[i32]) -> Option<String> {
    let source_info = file.file_descriptor_proto().source_code_info.as_ref()?;
    let location = source_info
        .location
        .iter()
        .find(|location| location.path == path)?;
    let comment = location.leading_comments.as_deref()?;
    let lines: Vec<&str> = comment
        .trim_end()
        .lines()
        .map(|line| line.strip_prefix(' ').unwrap_or(line).trim_end())
        .collect();
    let joined = lines.join("\n");
    let trimmed = joined.trim_matches('\n');
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// `//` lines. An `@` in a comment reads as an annotation to the schema
/// parser (`@Min`, `@Example`, …), so one the authors wrote becomes `(at)`;
/// the renderer writes its own annotations separately.
fn write_comment(text: &mut String, indent: &str, lines: &[String]) {
    for line in lines {
        let line = line.replace('@', "(at)");
        if line.is_empty() {
            let _ = writeln!(text, "{indent}//");
        } else {
            let _ = writeln!(text, "{indent}// {line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use ecommerce_events::{EVENT_TYPES, event_type_info};

    use super::*;

    fn schema(event_type: &str) -> String {
        envelope_schema(event_type_info(event_type).unwrap()).unwrap()
    }

    /// The names declared at the top of a rendered file.
    fn top_level_names(text: &str) -> Vec<&str> {
        text.lines()
            .filter_map(|line| {
                line.strip_prefix("message ")
                    .or_else(|| line.strip_prefix("enum "))
            })
            .filter_map(|rest| rest.split_whitespace().next())
            .collect()
    }

    #[test]
    fn every_event_renders_one_self_contained_file_rooted_at_the_envelope() {
        for info in EVENT_TYPES {
            let text = envelope_schema(info).unwrap();
            let payload = event_message(info).unwrap();
            let context = info.event_type;
            assert_eq!(text.matches("// @RootNode").count(), 1, "{context}");
            let names = top_level_names(&text);
            assert_eq!(names.first(), Some(&"EventEnvelope"), "{context}");
            let mut unique = names.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(unique.len(), names.len(), "{context}: {names:?}");
            let wrapper = format!("{}Any", payload.name());
            assert!(names.contains(&wrapper.as_str()), "{context}");
            assert!(names.contains(&payload.name()), "{context}");
            assert!(
                text.contains(&format!("  {wrapper} payload = 8;\n")),
                "{context}"
            );
            assert!(
                text.contains(&format!("\npackage {};\n", payload.package_name())),
                "{context}"
            );
            for line in text.lines().filter(|line| line.starts_with("import ")) {
                assert!(
                    line.starts_with("import \"google/protobuf/"),
                    "{context}: {line}"
                );
            }
            assert!(
                !text.contains("option ("),
                "{context}: a custom option is left"
            );
            assert!(
                !text
                    .lines()
                    .any(|line| line.trim_start().starts_with("google.protobuf.Any ")),
                "{context}: a field is still an Any"
            );
        }
    }

    #[test]
    fn the_envelope_keeps_its_fields_and_the_payload_its_types() {
        let text = schema("orders.order_placed.v1");
        for line in [
            "  string id = 1;",
            "  google.protobuf.Timestamp occurred_at = 3;",
            "  AggregateRef aggregate = 4;",
            "  optional string correlation_id = 5;",
            "  SchemaRef schema = 7;",
            "  OrderPlacedAny payload = 8;",
            "  OrderPlaced value = 2;",
            "  repeated OrderLine lines = 3;",
            "  Money total = 4;",
            "import \"google/protobuf/timestamp.proto\";",
        ] {
            assert!(
                text.contains(&format!("{line}\n")),
                "{line} missing in:\n{text}"
            );
        }
        assert!(
            text.contains(
                "// ecommerce.common.v1.Money (proto/ecommerce/common/v1/money.proto).\n"
            )
        );
        assert!(text.contains(
            "// @Pattern ^type\\.googleapis\\.com/ecommerce\\.orders\\.v1\\.OrderPlaced$\n"
        ));
    }

    #[test]
    fn maps_and_enums_are_rendered() {
        let variant = schema("catalog.variant.created.v1");
        assert!(
            variant.contains("  map<string, string> attributes = "),
            "{variant}"
        );
        let canceled = schema("orders.order_canceled.v1");
        assert!(
            canceled.contains("\nenum OrderCancellationCause {\n"),
            "{canceled}"
        );
        assert!(
            canceled.contains("  OrderCancellationCause cause = 4;\n"),
            "{canceled}"
        );
    }

    #[test]
    fn an_at_sign_in_a_comment_is_not_an_annotation() {
        let mut text = String::new();
        write_comment(
            &mut text,
            "  ",
            &["@Min 3 mail@example.com".to_owned(), String::new()],
        );
        assert_eq!(text, "  // (at)Min 3 mail(at)example.com\n  //\n");
    }

    #[test]
    fn types_sharing_a_simple_name_keep_their_full_names() {
        let pool = descriptors().unwrap();
        let order: Vec<TopLevel> = ["ecommerce.orders.v1.OrderLine", "ecommerce.common.v1.Money"]
            .into_iter()
            .map(|name| TopLevel::Message(pool.get_message_by_name(name).unwrap()))
            .collect();
        let names = rendered_names(&order);
        assert_eq!(names["ecommerce.common.v1.Money"], "Money");
        let twice = [order[1].clone(), order[1].clone()];
        let names = rendered_names(&twice);
        assert_eq!(
            names["ecommerce.common.v1.Money"],
            "ecommerce_common_v1_Money"
        );
    }
}
