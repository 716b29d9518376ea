//! The canonical form of a schema, so that registration is idempotent.
//!
//! Two descriptor sets of one message compare equal when they differ only in
//! what the compiler or the caller chose, not in the schema: protoc and buf
//! (and their versions) differ on `json_name`; `--include_source_info`
//! adds comments and spans; `syntax = "proto2"` may be written or left
//! unset; files come in any order; the set may hold files the message never
//! imports. [`canonicalize`] removes all of that:
//!
//! 1. refuse a set over the size limit or with more than [`MAX_SET_FILES`]
//!    files (counted on the wire, before any file is decoded), then decode
//!    it;
//! 2. keep only the file defining the message and its transitive imports
//!    (an import missing from the set is an error);
//! 3. clear `source_code_info` and every field's `json_name` (messages,
//!    nested messages, extensions); unset `syntax` when it says "proto2";
//! 4. sort the files by name and re-encode; the fingerprint is the SHA-256
//!    of those bytes.
//!
//! The set is decoded as a [`DynamicMessage`] of
//! `google.protobuf.FileDescriptorSet`, not as `prost_types`: prost drops
//! unknown fields, and custom options (`(ecommerce.events.v1.event_type)`
//! and any other extension of `*Options`) are unknown fields of the
//! descriptor messages, so a `prost_types` round trip would store every
//! schema without its options. A dynamic message keeps them and encodes
//! every message's fields in field-number order, which also makes the
//! encoding of options independent of the compiler's field order.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use ecommerce_schema_compat::SchemaError;
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, Value};
use sha2::{Digest as _, Sha256};

use crate::domain::error::{InvalidField, InvalidValue};

/// The SHA-256 of a canonical descriptor set.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    pub fn of(canonical_bytes: &[u8]) -> Self {
        Self(Sha256::digest(canonical_bytes).into())
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The stored bytes, if they are 32 long.
    pub fn from_stored(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(formatter, "{byte:02x}")?;
        }
        Ok(())
    }
}

/// A message's schema in canonical form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CanonicalSet {
    /// The encoded canonical `FileDescriptorSet`.
    pub bytes: Vec<u8>,
    pub fingerprint: Fingerprint,
    /// The name of the file that defines the message.
    pub message_file: String,
    /// Every file `message_file` imports, directly or not, sorted.
    pub imports: Vec<String>,
}

/// Why a descriptor set has no canonical form.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    #[error("is {size} bytes, over the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("holds more than {limit} files")]
    TooManyFiles { limit: usize },
    #[error("{0}")]
    Schema(SchemaError),
}

impl CanonicalError {
    /// The request field the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            Self::TooLarge { .. }
            | Self::TooManyFiles { .. }
            | Self::Schema(
                SchemaError::Malformed(_)
                | SchemaError::MissingImport { .. }
                | SchemaError::Invalid(_),
            ) => FILE_DESCRIPTOR_SET_FIELD,
            Self::Schema(SchemaError::MessageNotFound(_)) => MESSAGE_NAME_FIELD,
        }
    }
}

impl From<CanonicalError> for InvalidField {
    fn from(error: CanonicalError) -> Self {
        let field = error.field();
        InvalidValue::new(error.to_string()).at(field)
    }
}

impl From<SchemaError> for CanonicalError {
    fn from(error: SchemaError) -> Self {
        Self::Schema(error)
    }
}

/// The request fields a schema comes in.
pub const FILE_DESCRIPTOR_SET_FIELD: &str = "file_descriptor_set";
pub const MESSAGE_NAME_FIELD: &str = "message_name";

const FILE_DESCRIPTOR_SET: &str = "google.protobuf.FileDescriptorSet";

/// Most files one descriptor set may hold: a message with all its
/// transitive imports needs a handful (an event of this repository, under
/// ten); a whole large API with its dependencies a few hundred. Counted
/// before any file is decoded, so a set of many tiny files under the byte
/// limit cannot make the registry decode and compare them all.
pub const MAX_SET_FILES: usize = 1000;

/// The number of `file` entries (field 1) at the top level of an encoded
/// `FileDescriptorSet`, counting no further than `limit + 1`; `None` when
/// the bytes are not a well-formed message (decoding reports why).
fn count_files(mut bytes: &[u8], limit: usize) -> Option<usize> {
    const FILE_FIELD: u64 = 1;
    let mut files = 0;
    while !bytes.is_empty() && files <= limit {
        let key = read_varint(&mut bytes)?;
        let skip = match key & 0b111 {
            0 => {
                read_varint(&mut bytes)?;
                0
            }
            1 => 8,
            2 => usize::try_from(read_varint(&mut bytes)?).ok()?,
            5 => 4,
            // Groups (3, 4) and anything else: not in a descriptor set.
            _ => return None,
        };
        bytes = bytes.get(skip..)?;
        if key >> 3 == FILE_FIELD {
            files += 1;
        }
    }
    Some(files)
}

/// A base-128 varint off the front of `bytes`.
fn read_varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0_u64;
    for (index, byte) in bytes.iter().take(10).enumerate() {
        value |= u64::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            *bytes = bytes.get(index + 1..)?;
            return Some(value);
        }
    }
    None
}

fn file_descriptor_set_descriptor() -> Result<MessageDescriptor, SchemaError> {
    // The global pool always holds descriptor.proto (prost-reflect builds it
    // in); the error is for completeness, never expected.
    DescriptorPool::global()
        .get_message_by_name(FILE_DESCRIPTOR_SET)
        .ok_or_else(|| SchemaError::Malformed(format!("{FILE_DESCRIPTOR_SET} is not known")))
}

/// The canonical form of the schema of `message_name` (fully qualified,
/// without a leading dot) in the encoded `FileDescriptorSet` `bytes`.
pub fn canonicalize(
    bytes: &[u8],
    message_name: &str,
    max_bytes: usize,
) -> Result<CanonicalSet, CanonicalError> {
    if bytes.len() > max_bytes {
        return Err(CanonicalError::TooLarge {
            size: bytes.len(),
            limit: max_bytes,
        });
    }
    if count_files(bytes, MAX_SET_FILES).is_some_and(|files| files > MAX_SET_FILES) {
        return Err(CanonicalError::TooManyFiles {
            limit: MAX_SET_FILES,
        });
    }
    let set_descriptor = file_descriptor_set_descriptor()?;
    let set = DynamicMessage::decode(set_descriptor.clone(), bytes)
        .map_err(|error| SchemaError::Malformed(error.to_string()))?;

    let mut files_by_name: BTreeMap<String, DynamicMessage> = BTreeMap::new();
    for file in messages(&set, "file") {
        let mut file = file.clone();
        normalise_file(&mut file);
        let name = string(&file, "name");
        if name.is_empty() {
            return Err(SchemaError::Invalid("a file of the set has no name".to_owned()).into());
        }
        match files_by_name.get(&name) {
            // The same file twice (e.g. two sets concatenated): harmless.
            Some(existing) if *existing == file => {}
            Some(_) => {
                return Err(SchemaError::Invalid(format!(
                    "file `{name}` appears twice with different contents"
                ))
                .into());
            }
            None => {
                files_by_name.insert(name, file);
            }
        }
    }

    let message_file = files_by_name
        .iter()
        .find(|(_, file)| defines_message(file, message_name))
        .map(|(name, _)| name.clone())
        .ok_or_else(|| SchemaError::MessageNotFound(message_name.to_owned()))?;

    let mut kept: BTreeSet<String> = BTreeSet::new();
    let mut pending = vec![message_file.clone()];
    while let Some(name) = pending.pop() {
        if !kept.insert(name.clone()) {
            continue;
        }
        let Some(file) = files_by_name.get(&name) else {
            continue;
        };
        for import in strings(file, "dependency") {
            if !files_by_name.contains_key(&import) {
                return Err(SchemaError::MissingImport { file: name, import }.into());
            }
            pending.push(import);
        }
    }

    // BTreeSet order: sorted by name.
    let files: Vec<Value> = kept
        .iter()
        .filter_map(|name| files_by_name.remove(name))
        .map(Value::Message)
        .collect();
    let mut canonical = DynamicMessage::new(set_descriptor);
    canonical.set_field_by_name("file", Value::List(files));
    let canonical_bytes = canonical.encode_to_vec();
    let imports = kept
        .into_iter()
        .filter(|name| *name != message_file)
        .collect();
    Ok(CanonicalSet {
        fingerprint: Fingerprint::of(&canonical_bytes),
        bytes: canonical_bytes,
        message_file,
        imports,
    })
}

/// The messages of repeated message field `field`.
fn messages<'a>(message: &'a DynamicMessage, field: &str) -> Vec<&'a DynamicMessage> {
    match message.get_field_by_name(field) {
        Some(std::borrow::Cow::Borrowed(Value::List(values))) => {
            values.iter().filter_map(Value::as_message).collect()
        }
        _ => Vec::new(),
    }
}

/// String field `field`, empty when unset.
fn string(message: &DynamicMessage, field: &str) -> String {
    message
        .get_field_by_name(field)
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Repeated string field `field`.
fn strings(message: &DynamicMessage, field: &str) -> Vec<String> {
    message
        .get_field_by_name(field)
        .and_then(|value| {
            value.as_list().map(|values| {
                values
                    .iter()
                    .filter_map(|value| value.as_str().map(str::to_owned))
                    .collect()
            })
        })
        .unwrap_or_default()
}

/// Applies `change` to every message of repeated message field `field`.
fn each_message_mut(
    message: &mut DynamicMessage,
    field: &str,
    mut change: impl FnMut(&mut DynamicMessage),
) {
    if !message.has_field_by_name(field) {
        return;
    }
    if let Some(Value::List(values)) = message.get_field_by_name_mut(field) {
        values
            .iter_mut()
            .filter_map(Value::as_message_mut)
            .for_each(&mut change);
    }
}

fn clear_json_name(field: &mut DynamicMessage) {
    field.clear_field_by_name("json_name");
}

fn normalise_file(file: &mut DynamicMessage) {
    file.clear_field_by_name("source_code_info");
    if string(file, "syntax") == "proto2" {
        file.clear_field_by_name("syntax");
    }
    each_message_mut(file, "message_type", normalise_message);
    each_message_mut(file, "extension", clear_json_name);
}

fn normalise_message(message: &mut DynamicMessage) {
    each_message_mut(message, "field", clear_json_name);
    each_message_mut(message, "extension", clear_json_name);
    each_message_mut(message, "nested_type", normalise_message);
}

/// Whether `file` defines the message `full_name` (top level or nested).
fn defines_message(file: &DynamicMessage, full_name: &str) -> bool {
    let package = string(file, "package");
    let relative = if package.is_empty() {
        Some(full_name)
    } else {
        full_name
            .strip_prefix(package.as_str())
            .and_then(|rest| rest.strip_prefix('.'))
    };
    let Some(relative) = relative else {
        return false;
    };
    let mut scope = messages(file, "message_type");
    let mut segments = relative.split('.').peekable();
    while let Some(segment) = segments.next() {
        let Some(found) = scope
            .into_iter()
            .find(|message| string(message, "name") == segment)
        else {
            return false;
        };
        if segments.peek().is_none() {
            return true;
        }
        scope = messages(found, "nested_type");
    }
    false
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use prost_types::{
        DescriptorProto, FieldDescriptorProto, FileDescriptorProto, FileDescriptorSet,
        SourceCodeInfo, field_descriptor_proto,
    };

    use super::*;

    const LIMIT: usize = 1024 * 1024;

    fn field(name: &str, number: i32, kind: field_descriptor_proto::Type) -> FieldDescriptorProto {
        FieldDescriptorProto {
            name: Some(name.to_owned()),
            number: Some(number),
            label: Some(field_descriptor_proto::Label::Optional as i32),
            r#type: Some(kind as i32),
            json_name: Some(name.to_owned()),
            ..Default::default()
        }
    }

    fn message_field(name: &str, number: i32, type_name: &str) -> FieldDescriptorProto {
        FieldDescriptorProto {
            type_name: Some(type_name.to_owned()),
            ..field(name, number, field_descriptor_proto::Type::Message)
        }
    }

    /// `money.proto` (Money), `order.proto` (Order with a nested Line,
    /// importing money.proto) and an unrelated `other.proto`.
    fn files() -> (
        FileDescriptorProto,
        FileDescriptorProto,
        FileDescriptorProto,
    ) {
        let money = FileDescriptorProto {
            name: Some("shop/money.proto".to_owned()),
            package: Some("shop".to_owned()),
            syntax: Some("proto3".to_owned()),
            message_type: vec![DescriptorProto {
                name: Some("Money".to_owned()),
                field: vec![field("minor", 1, field_descriptor_proto::Type::Int64)],
                ..Default::default()
            }],
            ..Default::default()
        };
        let order = FileDescriptorProto {
            name: Some("shop/order.proto".to_owned()),
            package: Some("shop".to_owned()),
            syntax: Some("proto3".to_owned()),
            dependency: vec!["shop/money.proto".to_owned()],
            message_type: vec![DescriptorProto {
                name: Some("Order".to_owned()),
                field: vec![
                    field("order_id", 1, field_descriptor_proto::Type::String),
                    message_field("total", 2, ".shop.Money"),
                    message_field("lines", 3, ".shop.Order.Line"),
                ],
                nested_type: vec![DescriptorProto {
                    name: Some("Line".to_owned()),
                    field: vec![field("sku", 1, field_descriptor_proto::Type::String)],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let other = FileDescriptorProto {
            name: Some("elsewhere/other.proto".to_owned()),
            package: Some("elsewhere".to_owned()),
            syntax: Some("proto3".to_owned()),
            message_type: vec![DescriptorProto {
                name: Some("Other".to_owned()),
                ..Default::default()
            }],
            ..Default::default()
        };
        (money, order, other)
    }

    fn encode(files: Vec<FileDescriptorProto>) -> Vec<u8> {
        FileDescriptorSet { file: files }.encode_to_vec()
    }

    fn canonical(files: Vec<FileDescriptorProto>, message: &str) -> CanonicalSet {
        canonicalize(&encode(files), message, LIMIT).unwrap()
    }

    fn without_json_names(mut file: FileDescriptorProto) -> FileDescriptorProto {
        for message in &mut file.message_type {
            strip_message(message);
        }
        file
    }

    fn strip_message(message: &mut DescriptorProto) {
        for field in &mut message.field {
            field.json_name = None;
        }
        for nested in &mut message.nested_type {
            strip_message(nested);
        }
    }

    #[test]
    fn keeps_the_message_file_and_its_imports_sorted() {
        let (money, order, other) = files();
        let set = canonical(vec![other, order, money], "shop.Order");
        assert_eq!(set.message_file, "shop/order.proto");
        assert_eq!(set.imports, ["shop/money.proto"]);
        let decoded = FileDescriptorSet::decode(set.bytes.as_slice()).unwrap();
        let names: Vec<&str> = decoded.file.iter().map(|file| file.name()).collect();
        assert_eq!(names, ["shop/money.proto", "shop/order.proto"]);
        // json_name is gone everywhere, nested messages included.
        for file in &decoded.file {
            for message in &file.message_type {
                assert!(message.field.iter().all(|field| field.json_name.is_none()));
                for nested in &message.nested_type {
                    assert!(nested.field.iter().all(|field| field.json_name.is_none()));
                }
            }
        }
    }

    #[test]
    fn differences_a_compiler_or_caller_chose_do_not_change_the_form() {
        let (money, order, other) = files();
        let reference = canonical(vec![money.clone(), order.clone()], "shop.Order");

        // Another file order, an unrelated file, a duplicate of a file.
        let reordered = canonical(
            vec![order.clone(), other.clone(), money.clone(), order.clone()],
            "shop.Order",
        );
        assert_eq!(reordered, reference);

        // Source info.
        let with_source_info = |mut file: FileDescriptorProto| {
            file.source_code_info = Some(SourceCodeInfo {
                location: vec![prost_types::source_code_info::Location {
                    path: vec![4, 0],
                    span: vec![1, 2, 3],
                    leading_comments: Some(" An order.\n".to_owned()),
                    ..Default::default()
                }],
            });
            file
        };
        let with_info = canonical(
            vec![
                with_source_info(money.clone()),
                with_source_info(order.clone()),
            ],
            "shop.Order",
        );
        assert_eq!(with_info, reference);

        // json_name left out (as another compiler does).
        let without_json = canonical(
            vec![
                without_json_names(money.clone()),
                without_json_names(order.clone()),
            ],
            "shop.Order",
        );
        assert_eq!(without_json, reference);

        // syntax = "proto2" written out or left unset.
        let proto2 = |syntax: Option<&str>| {
            let mut file = money.clone();
            file.syntax = syntax.map(str::to_owned);
            canonical(vec![file, order.clone()], "shop.Order")
        };
        assert_eq!(proto2(Some("proto2")), proto2(None));
        assert_ne!(proto2(None), reference);

        // The canonical form is a fixed point.
        let again = canonicalize(&reference.bytes, "shop.Order", LIMIT).unwrap();
        assert_eq!(again, reference);
    }

    #[test]
    fn a_changed_schema_changes_the_fingerprint() {
        let (money, order, _) = files();
        let reference = canonical(vec![money.clone(), order.clone()], "shop.Order");
        let mut changed = order.clone();
        changed.message_type[0].field[0].r#type = Some(field_descriptor_proto::Type::Int32 as i32);
        let changed = canonical(vec![money.clone(), changed], "shop.Order");
        assert_ne!(changed.fingerprint, reference.fingerprint);

        // Also a change in an imported file.
        let mut money_changed = money;
        money_changed.message_type[0].field[0].name = Some("amount_minor".to_owned());
        let changed = canonical(vec![money_changed, order], "shop.Order");
        assert_ne!(changed.fingerprint, reference.fingerprint);
        assert_eq!(
            reference.fingerprint,
            Fingerprint::of(&reference.bytes),
            "the fingerprint is the SHA-256 of the canonical bytes"
        );
    }

    #[test]
    fn finds_nested_and_package_less_messages() {
        let (money, order, _) = files();
        let nested = canonical(vec![money.clone(), order.clone()], "shop.Order.Line");
        assert_eq!(nested.message_file, "shop/order.proto");
        let only_money = canonical(vec![money, order], "shop.Money");
        assert_eq!(only_money.message_file, "shop/money.proto");
        assert!(only_money.imports.is_empty());

        let bare = FileDescriptorProto {
            name: Some("bare.proto".to_owned()),
            message_type: vec![DescriptorProto {
                name: Some("Bare".to_owned()),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(canonical(vec![bare], "Bare").message_file, "bare.proto");
    }

    #[test]
    fn bad_sets_name_the_field_they_came_in() {
        let (money, order, _) = files();
        let error = canonicalize(b"\xff\xff\xff", "shop.Order", LIMIT).unwrap_err();
        assert!(matches!(
            error,
            CanonicalError::Schema(SchemaError::Malformed(_))
        ));
        assert_eq!(error.field(), FILE_DESCRIPTOR_SET_FIELD);

        let error = canonicalize(&encode(vec![money.clone()]), "shop.Order", LIMIT).unwrap_err();
        assert_eq!(
            error,
            CanonicalError::Schema(SchemaError::MessageNotFound("shop.Order".to_owned()))
        );
        assert_eq!(error.field(), MESSAGE_NAME_FIELD);
        // A package prefix is not a package.
        let error = canonicalize(&encode(vec![money.clone()]), "sho.Money", LIMIT).unwrap_err();
        assert_eq!(error.field(), MESSAGE_NAME_FIELD);
        let error =
            canonicalize(&encode(vec![money.clone()]), "shop.Money.Nope", LIMIT).unwrap_err();
        assert_eq!(error.field(), MESSAGE_NAME_FIELD);

        let error = canonicalize(&encode(vec![order.clone()]), "shop.Order", LIMIT).unwrap_err();
        assert_eq!(
            error,
            CanonicalError::Schema(SchemaError::MissingImport {
                file: "shop/order.proto".to_owned(),
                import: "shop/money.proto".to_owned(),
            })
        );
        assert_eq!(error.field(), FILE_DESCRIPTOR_SET_FIELD);

        let mut other_money = money.clone();
        other_money.package = Some("other".to_owned());
        let error = canonicalize(
            &encode(vec![money.clone(), other_money, order]),
            "shop.Order",
            LIMIT,
        )
        .unwrap_err();
        assert!(matches!(
            error,
            CanonicalError::Schema(SchemaError::Invalid(_))
        ));

        let bytes = encode(files_vec());
        let error = canonicalize(&bytes, "shop.Order", bytes.len() - 1).unwrap_err();
        assert_eq!(
            error,
            CanonicalError::TooLarge {
                size: bytes.len(),
                limit: bytes.len() - 1
            }
        );
        let invalid = InvalidField::from(error);
        assert_eq!(invalid.field, FILE_DESCRIPTOR_SET_FIELD);
        assert!(canonicalize(&bytes, "shop.Order", bytes.len()).is_ok());
    }

    #[test]
    fn files_are_counted_before_any_is_decoded() {
        let (money, order, _) = files();
        let exact = encode(vec![money.clone(), order.clone()]);
        assert_eq!(count_files(&exact, MAX_SET_FILES), Some(2));
        assert!(canonicalize(&exact, "shop.Order", LIMIT).is_ok());

        // MAX_SET_FILES files besides the two real ones: refused, though
        // every extra file is garbage that decoding would refuse anyway.
        let mut too_many = exact.clone();
        for _ in 0..MAX_SET_FILES {
            // Field 1, length 2, bytes that are no FileDescriptorProto.
            too_many.extend_from_slice(&[0x0a, 0x02, 0xff, 0xff]);
        }
        let error = canonicalize(&too_many, "shop.Order", LIMIT).unwrap_err();
        assert_eq!(
            error,
            CanonicalError::TooManyFiles {
                limit: MAX_SET_FILES
            }
        );
        assert_eq!(InvalidField::from(error).field, FILE_DESCRIPTOR_SET_FIELD);

        // Exactly the limit passes the count (decoding then judges them).
        let many: Vec<FileDescriptorProto> = (0..MAX_SET_FILES - 2)
            .map(|index| FileDescriptorProto {
                name: Some(format!("unused/{index}.proto")),
                ..Default::default()
            })
            .chain([money, order])
            .collect();
        let at_limit = encode(many);
        assert_eq!(count_files(&at_limit, MAX_SET_FILES), Some(MAX_SET_FILES));
        let canonical = canonicalize(&at_limit, "shop.Order", LIMIT).unwrap();
        let reference = canonicalize(&exact, "shop.Order", LIMIT).unwrap();
        assert_eq!(canonical, reference, "unused files are dropped");

        // Malformed bytes are left to the decoder, which names the problem.
        assert_eq!(count_files(b"\xff\xff\xff", MAX_SET_FILES), None);
        assert_eq!(count_files(&[0x0a, 0x05, 0x00], MAX_SET_FILES), None);
    }

    fn files_vec() -> Vec<FileDescriptorProto> {
        let (money, order, _) = files();
        vec![money, order]
    }

    #[test]
    fn a_prost_types_round_trip_would_lose_custom_options() {
        // Why the set is decoded dynamically: prost drops unknown fields.
        let round_trip = FileDescriptorSet::decode(ecommerce_proto::FILE_DESCRIPTOR_SET)
            .unwrap()
            .encode_to_vec();
        let pool = DescriptorPool::decode(round_trip.as_slice()).unwrap();
        let option = pool
            .get_extension_by_name("ecommerce.events.v1.event_type")
            .unwrap();
        let message = pool
            .get_message_by_name("ecommerce.orders.v1.OrderPlaced")
            .unwrap();
        assert!(!message.options().has_extension(&option));
    }

    #[test]
    fn custom_options_survive() {
        // The workspace's own descriptors, as protoc wrote them: events carry
        // (ecommerce.events.v1.event_type), an extension prost_types drops.
        let set = canonicalize(
            ecommerce_proto::FILE_DESCRIPTOR_SET,
            "ecommerce.orders.v1.OrderPlaced",
            LIMIT,
        )
        .unwrap();
        assert_eq!(set.message_file, "ecommerce/orders/v1/events.proto");
        assert!(
            set.imports
                .contains(&"ecommerce/events/v1/options.proto".to_owned())
        );
        assert!(
            set.imports
                .contains(&"google/protobuf/descriptor.proto".to_owned())
        );
        let pool = DescriptorPool::decode(set.bytes.as_slice()).unwrap();
        let option = pool
            .get_extension_by_name("ecommerce.events.v1.event_type")
            .unwrap();
        let message = pool
            .get_message_by_name("ecommerce.orders.v1.OrderPlaced")
            .unwrap();
        let value = message.options().get_extension(&option).into_owned();
        assert_eq!(value.as_str(), Some("orders.order_placed.v1"));
        // Only the message's file and its imports: no service definitions
        // of other packages came along.
        assert!(
            pool.get_service_by_name("ecommerce.catalog.v1.CatalogService")
                .is_none()
        );
    }
}
