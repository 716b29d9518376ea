//! Candidates, registered versions and the two rules between them: a
//! candidate identical to a live version is that version (idempotent
//! registration), and anything else must pass the subject's compatibility
//! level against the live versions.

use chrono::{DateTime, Utc};
use ecommerce_schema_compat::{
    CompatibilityLevel, Incompatibility, MessageSchema, PreviousVersion, SchemaError, check,
};

use crate::domain::canonical::{CanonicalError, CanonicalSet, Fingerprint, canonicalize};
use crate::domain::error::{InvalidField, RegistryError};
use crate::domain::values::{MessageName, SchemaId, Subject, Version, level_name};

/// A schema offered for registration or a compatibility check: parsed,
/// validated and in canonical form.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub message_name: MessageName,
    pub canonical: CanonicalSet,
    /// The message's `(ecommerce.events.v1.event_type)`; empty if none.
    pub event_type: String,
    pub schema: MessageSchema,
}

impl Candidate {
    /// Canonicalizes `file_descriptor_set` (at most `max_bytes`) and parses
    /// `message_name` from it. Every refusal is INVALID_ARGUMENT naming
    /// `file_descriptor_set` or `message_name`.
    pub fn parse(
        file_descriptor_set: &[u8],
        message_name: MessageName,
        max_bytes: usize,
    ) -> Result<Self, RegistryError> {
        let canonical = canonicalize(file_descriptor_set, message_name.as_str(), max_bytes)
            .map_err(InvalidField::from)?;
        // Never panics, whatever the bytes (it refuses what would make
        // prost-reflect panic here or in a consumer, e.g. editions syntax).
        let schema = MessageSchema::from_descriptor_set(&canonical.bytes, message_name.as_str())
            .map_err(|error| InvalidField::from(CanonicalError::Schema(error)))?;
        let event_type = schema.event_type().unwrap_or_default();
        Ok(Self {
            message_name,
            canonical,
            event_type,
            schema,
        })
    }

    /// Whether `registered` is this very schema.
    pub fn is_identical_to(&self, registered: &RegisteredSchema) -> bool {
        registered.fingerprint == self.canonical.fingerprint
            && registered.message_name == self.message_name.as_str()
    }

    /// The row to store for this candidate as `version` of `subject`.
    pub fn to_new_schema(
        &self,
        subject: &Subject,
        version: Version,
        created_at: DateTime<Utc>,
    ) -> NewSchema {
        NewSchema {
            subject: subject.clone(),
            version,
            message_name: self.message_name.as_str().to_owned(),
            message_file: self.canonical.message_file.clone(),
            imports: self.canonical.imports.clone(),
            event_type: self.event_type.clone(),
            file_descriptor_set: self.canonical.bytes.clone(),
            fingerprint: self.canonical.fingerprint,
            created_at,
        }
    }
}

/// The message's event type option, or empty.
/// A version to insert; the database assigns its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSchema {
    pub subject: Subject,
    pub version: Version,
    pub message_name: String,
    pub message_file: String,
    pub imports: Vec<String>,
    pub event_type: String,
    pub file_descriptor_set: Vec<u8>,
    pub fingerprint: Fingerprint,
    pub created_at: DateTime<Utc>,
}

impl NewSchema {
    pub fn registered_as(self, id: SchemaId) -> RegisteredSchema {
        RegisteredSchema {
            id,
            subject: self.subject,
            version: self.version,
            message_name: self.message_name,
            message_file: self.message_file,
            imports: self.imports,
            event_type: self.event_type,
            file_descriptor_set: self.file_descriptor_set,
            fingerprint: self.fingerprint,
            created_at: self.created_at,
            deleted: false,
        }
    }
}

/// One registered version of a subject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisteredSchema {
    pub id: SchemaId,
    pub subject: Subject,
    pub version: Version,
    pub message_name: String,
    pub message_file: String,
    pub imports: Vec<String>,
    pub event_type: String,
    /// The canonical encoded `FileDescriptorSet`.
    pub file_descriptor_set: Vec<u8>,
    pub fingerprint: Fingerprint,
    pub created_at: DateTime<Utc>,
    pub deleted: bool,
}

impl RegisteredSchema {
    pub fn summary(&self) -> VersionSummary {
        VersionSummary {
            version: self.version,
            schema_id: self.id,
            created_at: self.created_at,
            deleted: self.deleted,
        }
    }

    fn parse(&self) -> Result<MessageSchema, RegistryError> {
        MessageSchema::from_descriptor_set(&self.file_descriptor_set, &self.message_name).map_err(
            |error: SchemaError| {
                RegistryError::Inconsistent(format!(
                    "stored schema {} (subject {} version {}) does not parse: {error}",
                    self.id, self.subject, self.version
                ))
            },
        )
    }
}

/// A version without its descriptors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VersionSummary {
    pub version: Version,
    pub schema_id: SchemaId,
    pub created_at: DateTime<Utc>,
    pub deleted: bool,
}

/// What registering a candidate comes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Registration {
    /// An identical live version exists: it is the answer, nothing is stored.
    Existing(Box<RegisteredSchema>),
    /// The candidate is compatible: store it as the next version.
    New,
}

/// The incompatibilities of `candidate` with the `live` versions of a
/// subject (oldest first) at `level`.
pub fn incompatibilities(
    level: CompatibilityLevel,
    candidate: &Candidate,
    live: &[RegisteredSchema],
) -> Result<Vec<Incompatibility>, RegistryError> {
    if level == CompatibilityLevel::None || live.is_empty() {
        return Ok(Vec::new());
    }
    let parsed = live
        .iter()
        .map(|registered| Ok((registered.version, registered.parse()?)))
        .collect::<Result<Vec<_>, RegistryError>>()?;
    let previous: Vec<PreviousVersion<'_>> = parsed
        .iter()
        .map(|(version, schema)| PreviousVersion {
            version: version.get(),
            schema,
        })
        .collect();
    // The checker walks descriptors any caller sent: should it ever panic,
    // the caller gets INTERNAL rather than a dropped connection. Nothing
    // outlives the caught panic but this error.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        check(level, &candidate.schema, &previous)
    }))
    .map_err(|_| {
        RegistryError::Inconsistent(format!(
            "the compatibility checker panicked on {} at level {}",
            candidate.message_name,
            level_name(level)
        ))
    })
}

/// RegisterSchema's rule: an identical live version is the answer;
/// otherwise the candidate must be compatible at `level` with the `live`
/// versions (oldest first) of `subject`.
pub fn register(
    subject: &Subject,
    level: CompatibilityLevel,
    candidate: &Candidate,
    live: &[RegisteredSchema],
) -> Result<Registration, RegistryError> {
    if let Some(identical) = live
        .iter()
        .find(|registered| candidate.is_identical_to(registered))
    {
        return Ok(Registration::Existing(Box::new(identical.clone())));
    }
    let problems = incompatibilities(level, candidate, live)?;
    if !problems.is_empty() {
        return Err(RegistryError::Incompatible {
            subject: subject.clone(),
            level,
            incompatibilities: problems,
        });
    }
    Ok(Registration::New)
}

/// The version a new registration gets: one after the highest ever used
/// (deleted versions included), so a number is never handed out twice.
pub fn next_version(
    subject: &Subject,
    highest_used: Option<Version>,
) -> Result<Version, RegistryError> {
    match highest_used {
        None => Ok(Version::FIRST),
        Some(highest) => highest
            .next()
            .ok_or_else(|| RegistryError::VersionsExhausted(subject.clone())),
    }
}

/// CheckCompatibility's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompatibilityReport {
    pub level: CompatibilityLevel,
    /// One line per incompatibility; empty when compatible.
    pub messages: Vec<String>,
}

impl CompatibilityReport {
    pub fn is_compatible(&self) -> bool {
        self.messages.is_empty()
    }
}

/// CheckCompatibility's rule: whatever RegisterSchema would accept
/// (an identical live version, or a compatible candidate) is compatible.
pub fn check_compatibility(
    level: CompatibilityLevel,
    candidate: &Candidate,
    live: &[RegisteredSchema],
) -> Result<CompatibilityReport, RegistryError> {
    let identical = live
        .iter()
        .any(|registered| candidate.is_identical_to(registered));
    let messages = if identical {
        Vec::new()
    } else {
        incompatibilities(level, candidate, live)?
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    Ok(CompatibilityReport { level, messages })
}

/// A registered subject whose newest live version's message lives in a
/// file another schema imports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaReference {
    pub import: String,
    pub subject: Subject,
    pub version: Version,
    pub schema_id: SchemaId,
}

/// GetReferences' answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct References {
    pub imports: Vec<String>,
    pub references: Vec<SchemaReference>,
    pub referenced_by: Vec<SchemaId>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use prost::Message as _;
    use prost_types::{
        DescriptorProto, FieldDescriptorProto, FileDescriptorProto, FileDescriptorSet,
        field_descriptor_proto,
    };

    use super::*;
    use ecommerce_kernel::ErrorCode;

    fn set(field_type: field_descriptor_proto::Type) -> Vec<u8> {
        FileDescriptorSet {
            file: vec![FileDescriptorProto {
                name: Some("t.proto".to_owned()),
                package: Some("t".to_owned()),
                syntax: Some("proto3".to_owned()),
                message_type: vec![DescriptorProto {
                    name: Some("M".to_owned()),
                    field: vec![FieldDescriptorProto {
                        name: Some("f".to_owned()),
                        number: Some(1),
                        label: Some(field_descriptor_proto::Label::Optional as i32),
                        r#type: Some(field_type as i32),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
        .encode_to_vec()
    }

    fn candidate(bytes: &[u8], name: &str) -> Result<Candidate, RegistryError> {
        Candidate::parse(bytes, MessageName::parse(name).unwrap(), 1 << 20)
    }

    fn registered(candidate: &Candidate, version: i32) -> RegisteredSchema {
        candidate
            .to_new_schema(
                &Subject::parse("s").unwrap(),
                Version::from_stored(version),
                DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap(),
            )
            .registered_as(SchemaId::from_stored(i64::from(version)))
    }

    #[test]
    fn an_identical_live_version_is_the_answer() {
        let subject = Subject::parse("s").unwrap();
        let first = candidate(&set(field_descriptor_proto::Type::String), "t.M").unwrap();
        assert_eq!(first.event_type, "");
        assert_eq!(
            register(&subject, CompatibilityLevel::Backward, &first, &[]).unwrap(),
            Registration::New
        );
        let stored = registered(&first, 1);
        let again = candidate(&set(field_descriptor_proto::Type::String), ".t.M").unwrap();
        assert_eq!(
            register(
                &subject,
                CompatibilityLevel::Backward,
                &again,
                std::slice::from_ref(&stored)
            )
            .unwrap(),
            Registration::Existing(Box::new(stored.clone()))
        );
        let other = candidate(&set(field_descriptor_proto::Type::Int32), "t.M").unwrap();
        assert_eq!(
            register(
                &subject,
                CompatibilityLevel::None,
                &other,
                std::slice::from_ref(&stored)
            )
            .unwrap(),
            Registration::New
        );
        let report =
            check_compatibility(CompatibilityLevel::WireStrict, &again, &[stored]).unwrap();
        assert!(report.is_compatible());
    }

    #[test]
    fn version_numbers_continue_after_the_highest_ever_used() {
        let subject = Subject::parse("s").unwrap();
        assert_eq!(next_version(&subject, None).unwrap(), Version::FIRST);
        assert_eq!(
            next_version(&subject, Some(Version::from_stored(7)))
                .unwrap()
                .get(),
            8
        );
        let error = next_version(&subject, Some(Version::from_stored(i32::MAX))).unwrap_err();
        assert_eq!(error.code(), ErrorCode::FailedPrecondition);
    }

    #[test]
    fn bad_candidates_name_their_field() {
        let error = candidate(b"\x0a\x05garbage", "t.M").unwrap_err();
        assert_eq!(error.field(), Some("file_descriptor_set"));
        let error = candidate(&set(field_descriptor_proto::Type::String), "t.N").unwrap_err();
        assert_eq!(error.field(), Some("message_name"));
        // Parses as a set, but a field refers to a type nobody defines.
        let broken = FileDescriptorSet {
            file: vec![FileDescriptorProto {
                name: Some("b.proto".to_owned()),
                package: Some("b".to_owned()),
                message_type: vec![DescriptorProto {
                    name: Some("B".to_owned()),
                    field: vec![FieldDescriptorProto {
                        name: Some("x".to_owned()),
                        number: Some(1),
                        label: Some(field_descriptor_proto::Label::Optional as i32),
                        r#type: Some(field_descriptor_proto::Type::Message as i32),
                        type_name: Some(".b.Missing".to_owned()),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
        .encode_to_vec();
        let error = candidate(&broken, "b.B").unwrap_err();
        assert_eq!(error.field(), Some("file_descriptor_set"));
    }

    #[test]
    fn sets_prost_reflect_would_panic_on_are_refused() {
        let editions = FileDescriptorSet {
            file: vec![FileDescriptorProto {
                name: Some("e.proto".to_owned()),
                package: Some("e".to_owned()),
                syntax: Some("editions".to_owned()),
                message_type: vec![DescriptorProto {
                    name: Some("E".to_owned()),
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
        .encode_to_vec();
        let error = candidate(&editions, "e.E").unwrap_err();
        assert_eq!(error.field(), Some("file_descriptor_set"));
    }

    #[test]
    fn the_event_type_option_is_read_from_the_descriptors() {
        let candidate = Candidate::parse(
            ecommerce_proto::FILE_DESCRIPTOR_SET,
            MessageName::parse("ecommerce.inventory.v1.StockReserved").unwrap(),
            1 << 20,
        )
        .unwrap();
        assert_eq!(candidate.event_type, "inventory.stock.reserved.v1");
        assert_eq!(
            candidate.canonical.message_file,
            "ecommerce/inventory/v1/events.proto"
        );
    }
}
