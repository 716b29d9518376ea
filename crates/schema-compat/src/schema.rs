//! Parsing a descriptor set into the unit the checker compares.

use std::collections::HashSet;

use prost::Message as _;
use prost_reflect::{DescriptorPool, Kind, MessageDescriptor};

/// Why a descriptor set is not a usable schema. Each names what is wrong so
/// the registry can answer INVALID_ARGUMENT naming the request field.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum SchemaError {
    /// The bytes are not an encoded `google.protobuf.FileDescriptorSet`.
    #[error("not an encoded FileDescriptorSet: {0}")]
    Malformed(String),
    /// A file imports one the set does not contain.
    #[error("file `{file}` imports `{import}`, which the set does not contain")]
    MissingImport { file: String, import: String },
    /// The set parses but its descriptors are inconsistent (unknown type
    /// reference, duplicate name, ...).
    #[error("invalid descriptors: {0}")]
    Invalid(String),
    /// The message is not defined in the set.
    #[error("message `{0}` is not defined in the set")]
    MessageNotFound(String),
}

/// Decodes an encoded `FileDescriptorSet` (or a buf image, which is
/// wire-compatible with one) into a pool, returning an error, never
/// panicking, whatever the bytes: the registry parses what any caller sends,
/// and every consumer decodes with what the registry stored.
///
/// The checks run in order, so the error names the first problem: bytes that
/// do not decode are `Malformed`, an import no file of the set provides is
/// `MissingImport`, and descriptors the pool rejects (or that would make
/// prost-reflect panic later) are `Invalid`.
pub fn decode_descriptor_set(bytes: &[u8]) -> Result<DescriptorPool, SchemaError> {
    let set = prost_types::FileDescriptorSet::decode(bytes)
        .map_err(|error| SchemaError::Malformed(error.to_string()))?;
    // prost-reflect 0.16 panics (an out-of-bounds index while labelling the
    // error) on a file whose `syntax` is neither proto2 nor proto3, e.g.
    // "editions", so such files are refused first.
    if let Some(file) = set
        .file
        .iter()
        .find(|file| !matches!(file.syntax.as_deref(), None | Some("proto2" | "proto3")))
    {
        return Err(SchemaError::Invalid(format!(
            "file `{}` has syntax {:?}; only proto2 and proto3 are supported",
            file.name(),
            file.syntax()
        )));
    }
    let provided: HashSet<&str> = set.file.iter().map(|file| file.name()).collect();
    for file in &set.file {
        if let Some(import) = file
            .dependency
            .iter()
            .find(|import| !provided.contains(import.as_str()))
        {
            return Err(SchemaError::MissingImport {
                file: file.name().to_owned(),
                import: import.clone(),
            });
        }
    }
    // Built from the bytes again rather than from `set`: prost-types drops
    // unknown fields, and with them the custom options (extensions) the
    // event check reads; prost-reflect's own decoding keeps them.
    let pool = match without_panic(|| DescriptorPool::decode(bytes)) {
        Some(Ok(pool)) => pool,
        Some(Err(error)) => return Err(SchemaError::Invalid(error.to_string())),
        None => {
            return Err(SchemaError::Invalid(
                "the descriptor parser panicked on it".to_owned(),
            ));
        }
    };
    check_map_entries(&pool)?;
    Ok(pool)
}

/// Runs `work`, turning a panic into `None`.
///
/// prost-reflect trusts its descriptors: some malformed sets make its pool
/// builder, decoder or serializer panic rather than fail (the known cases are
/// refused by [`decode_descriptor_set`] before). Descriptors reach it from
/// any producer, so a panic is caught and reported as an invalid schema;
/// nothing outlives a caught panic but its error, so no broken state is seen.
pub fn without_panic<T>(work: impl FnOnce() -> T) -> Option<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).ok()
}

/// prost-reflect 0.16 accepts any message marked `map_entry`, but its decoder
/// and serializer unwrap a singular key field 1 of a map key type and a
/// singular value field 2 (what protoc always generates).
fn check_map_entries(pool: &DescriptorPool) -> Result<(), SchemaError> {
    for entry in pool.all_messages().filter(MessageDescriptor::is_map_entry) {
        let well_formed = match (entry.get_field(1), entry.get_field(2)) {
            (Some(key), Some(value)) => {
                !key.is_list() && !value.is_list() && is_map_key_kind(&key.kind())
            }
            _ => false,
        };
        if !well_formed {
            return Err(SchemaError::Invalid(format!(
                "map entry {} does not have a singular key field 1 of a map key type and a \
                 singular value field 2",
                entry.full_name()
            )));
        }
    }
    Ok(())
}

fn is_map_key_kind(kind: &Kind) -> bool {
    match kind {
        Kind::Int32
        | Kind::Int64
        | Kind::Uint32
        | Kind::Uint64
        | Kind::Sint32
        | Kind::Sint64
        | Kind::Fixed32
        | Kind::Fixed64
        | Kind::Sfixed32
        | Kind::Sfixed64
        | Kind::Bool
        | Kind::String => true,
        Kind::Double | Kind::Float | Kind::Bytes | Kind::Message(_) | Kind::Enum(_) => false,
    }
}

/// One message of a parsed descriptor set: the unit the checker compares.
///
/// The comparison covers the message, its nested types, and every message and
/// enum its fields reach, across imports.
#[derive(Clone, Debug)]
pub struct MessageSchema {
    pool: DescriptorPool,
    message: MessageDescriptor,
}

impl MessageSchema {
    /// Parses an encoded `FileDescriptorSet` and finds `message_name` (fully
    /// qualified, without a leading dot) in it.
    pub fn from_descriptor_set(bytes: &[u8], message_name: &str) -> Result<Self, SchemaError> {
        let pool = decode_descriptor_set(bytes)?;
        Self::from_pool(&pool, message_name)
    }

    /// Finds `message_name` (fully qualified, a leading dot allowed) in an
    /// already parsed pool; cheap, the pool is shared.
    pub fn from_pool(pool: &DescriptorPool, message_name: &str) -> Result<Self, SchemaError> {
        let unqualified = message_name.strip_prefix('.').unwrap_or(message_name);
        let message = pool
            .get_message_by_name(unqualified)
            .ok_or_else(|| SchemaError::MessageNotFound(message_name.to_owned()))?;
        Ok(Self {
            pool: pool.clone(),
            message,
        })
    }

    pub fn pool(&self) -> &DescriptorPool {
        &self.pool
    }

    pub fn message(&self) -> &MessageDescriptor {
        &self.message
    }

    /// The message's `(ecommerce.events.v1.event_type)` option, when the set
    /// defines that option and the message carries it.
    pub fn event_type(&self) -> Option<String> {
        let option = self
            .pool
            .get_extension_by_name(crate::events::EVENT_TYPE_OPTION)?;
        crate::events::event_type(&self.message, &option)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use prost_types::{DescriptorProto, FileDescriptorProto, FileDescriptorSet};

    use super::*;

    fn file(name: &str, package: &str, imports: &[&str], messages: &[&str]) -> FileDescriptorProto {
        FileDescriptorProto {
            name: Some(name.to_owned()),
            package: Some(package.to_owned()),
            dependency: imports.iter().map(|import| (*import).to_owned()).collect(),
            message_type: messages
                .iter()
                .map(|message| DescriptorProto {
                    name: Some((*message).to_owned()),
                    ..DescriptorProto::default()
                })
                .collect(),
            syntax: Some("proto3".to_owned()),
            ..FileDescriptorProto::default()
        }
    }

    fn encode(files: Vec<FileDescriptorProto>) -> Vec<u8> {
        FileDescriptorSet { file: files }.encode_to_vec()
    }

    #[test]
    fn finds_a_message_of_a_valid_set() {
        let bytes = encode(vec![file("a.proto", "shop.v1", &[], &["Order"])]);
        let schema = MessageSchema::from_descriptor_set(&bytes, "shop.v1.Order").unwrap();
        assert_eq!(schema.message().full_name(), "shop.v1.Order");
        assert!(schema.pool().get_file_by_name("a.proto").is_some());
        let dotted = MessageSchema::from_pool(schema.pool(), ".shop.v1.Order").unwrap();
        assert_eq!(dotted.message().full_name(), "shop.v1.Order");
    }

    #[test]
    fn garbage_bytes_are_malformed() {
        let error = MessageSchema::from_descriptor_set(&[0xff, 0xff, 0xff], "x.Y").unwrap_err();
        assert!(matches!(error, SchemaError::Malformed(_)), "{error:?}");
    }

    #[test]
    fn a_truncated_set_is_malformed() {
        let bytes = encode(vec![file("a.proto", "shop.v1", &[], &["Order"])]);
        let error = MessageSchema::from_descriptor_set(&bytes[..bytes.len() - 3], "shop.v1.Order")
            .unwrap_err();
        assert!(matches!(error, SchemaError::Malformed(_)), "{error:?}");
    }

    #[test]
    fn an_import_outside_the_set_is_a_missing_import() {
        let bytes = encode(vec![
            file("a.proto", "shop.v1", &[], &["Order"]),
            file("b.proto", "shop.v1", &["a.proto", "money.proto"], &["Line"]),
        ]);
        let error = MessageSchema::from_descriptor_set(&bytes, "shop.v1.Line").unwrap_err();
        assert_eq!(
            error,
            SchemaError::MissingImport {
                file: "b.proto".to_owned(),
                import: "money.proto".to_owned(),
            }
        );
        assert_eq!(
            error.to_string(),
            "file `b.proto` imports `money.proto`, which the set does not contain"
        );
    }

    #[test]
    fn inconsistent_descriptors_are_invalid() {
        let duplicate = encode(vec![
            file("a.proto", "shop.v1", &[], &["Order"]),
            file("b.proto", "shop.v1", &[], &["Order"]),
        ]);
        let error = MessageSchema::from_descriptor_set(&duplicate, "shop.v1.Order").unwrap_err();
        assert!(matches!(error, SchemaError::Invalid(_)), "{error:?}");
    }

    #[test]
    fn sets_that_would_make_the_parser_panic_are_invalid() {
        let mut editions = file("a.proto", "shop.v1", &[], &["Order"]);
        editions.syntax = Some("editions".to_owned());
        let error = decode_descriptor_set(&encode(vec![editions])).unwrap_err();
        assert!(
            matches!(&error, SchemaError::Invalid(reason) if reason.contains("editions")),
            "{error:?}"
        );

        // A map entry without a key field: the pool takes it, the payload
        // decoder would panic.
        let mut broken_map = file("b.proto", "shop.v1", &[], &["Order"]);
        broken_map.message_type[0]
            .nested_type
            .push(DescriptorProto {
                name: Some("LinesEntry".to_owned()),
                options: Some(prost_types::MessageOptions {
                    map_entry: Some(true),
                    ..Default::default()
                }),
                ..DescriptorProto::default()
            });
        let error = decode_descriptor_set(&encode(vec![broken_map])).unwrap_err();
        assert!(
            matches!(&error, SchemaError::Invalid(reason) if reason.contains("LinesEntry")),
            "{error:?}"
        );
    }

    #[test]
    fn an_unknown_message_is_not_found() {
        let bytes = encode(vec![file("a.proto", "shop.v1", &[], &["Order"])]);
        let error = MessageSchema::from_descriptor_set(&bytes, "shop.v1.Cart").unwrap_err();
        assert_eq!(
            error,
            SchemaError::MessageNotFound("shop.v1.Cart".to_owned())
        );
    }
}
