//! Every proto <-> domain conversion of the registry, in one place. A
//! request that does not convert is INVALID_ARGUMENT naming its field.

use ecommerce_proto::ecommerce::registry::v1 as pb;

use crate::app::{LevelChange, SchemaSubmission, VersionSelector};
use crate::domain::page::{subjects_after, subjects_token, versions_after, versions_token};
use crate::domain::{
    CompatibilityLevel, InvalidField, InvalidValue, LevelTarget, MessageName, PageSize, References,
    RegisteredSchema, SchemaId, SchemaReference, Subject, Version, VersionSummary,
};

fn at(field: &str) -> impl FnOnce(InvalidValue) -> InvalidField + '_ {
    move |invalid| invalid.at(field)
}

pub fn subject(raw: &str) -> Result<Subject, InvalidField> {
    Subject::parse(raw).map_err(at("subject"))
}

pub fn version(raw: i32) -> Result<Version, InvalidField> {
    Version::parse(raw).map_err(at("version"))
}

pub fn schema_id(raw: i64) -> Result<SchemaId, InvalidField> {
    SchemaId::parse(raw).map_err(at("id"))
}

pub fn level_target(raw: &str) -> Result<LevelTarget, InvalidField> {
    LevelTarget::parse(raw).map_err(at("subject"))
}

fn submission(
    subject_raw: &str,
    message_name: &str,
    file_descriptor_set: Vec<u8>,
) -> Result<SchemaSubmission, InvalidField> {
    Ok(SchemaSubmission {
        subject: subject(subject_raw)?,
        message_name: MessageName::parse(message_name).map_err(at("message_name"))?,
        file_descriptor_set,
    })
}

impl TryFrom<pb::RegisterSchemaRequest> for SchemaSubmission {
    type Error = InvalidField;

    fn try_from(request: pb::RegisterSchemaRequest) -> Result<Self, InvalidField> {
        submission(
            &request.subject,
            &request.message_name,
            request.file_descriptor_set,
        )
    }
}

impl TryFrom<pb::CheckCompatibilityRequest> for SchemaSubmission {
    type Error = InvalidField;

    fn try_from(request: pb::CheckCompatibilityRequest) -> Result<Self, InvalidField> {
        submission(
            &request.subject,
            &request.message_name,
            request.file_descriptor_set,
        )
    }
}

// ------------------------------------------------------------------ levels

/// The level of a request; `None` for UNSPECIFIED.
pub fn level(raw: i32) -> Result<Option<CompatibilityLevel>, InvalidField> {
    let level = pb::CompatibilityLevel::try_from(raw).map_err(|_| {
        InvalidValue::new(format!("{raw} is not a compatibility level")).at("level")
    })?;
    Ok(match level {
        pb::CompatibilityLevel::Unspecified => None,
        pb::CompatibilityLevel::Backward => Some(CompatibilityLevel::Backward),
        pb::CompatibilityLevel::BackwardTransitive => Some(CompatibilityLevel::BackwardTransitive),
        pb::CompatibilityLevel::Forward => Some(CompatibilityLevel::Forward),
        pb::CompatibilityLevel::ForwardTransitive => Some(CompatibilityLevel::ForwardTransitive),
        pb::CompatibilityLevel::Full => Some(CompatibilityLevel::Full),
        pb::CompatibilityLevel::FullTransitive => Some(CompatibilityLevel::FullTransitive),
        pb::CompatibilityLevel::None => Some(CompatibilityLevel::None),
        pb::CompatibilityLevel::WireStrict => Some(CompatibilityLevel::WireStrict),
    })
}

pub fn pb_level(level: CompatibilityLevel) -> pb::CompatibilityLevel {
    match level {
        CompatibilityLevel::Backward => pb::CompatibilityLevel::Backward,
        CompatibilityLevel::BackwardTransitive => pb::CompatibilityLevel::BackwardTransitive,
        CompatibilityLevel::Forward => pb::CompatibilityLevel::Forward,
        CompatibilityLevel::ForwardTransitive => pb::CompatibilityLevel::ForwardTransitive,
        CompatibilityLevel::Full => pb::CompatibilityLevel::Full,
        CompatibilityLevel::FullTransitive => pb::CompatibilityLevel::FullTransitive,
        CompatibilityLevel::None => pb::CompatibilityLevel::None,
        CompatibilityLevel::WireStrict => pb::CompatibilityLevel::WireStrict,
    }
}

/// UNSPECIFIED when unset.
pub fn pb_optional_level(level: Option<CompatibilityLevel>) -> pb::CompatibilityLevel {
    level.map_or(pb::CompatibilityLevel::Unspecified, pb_level)
}

impl TryFrom<&pb::SetCompatibilityRequest> for LevelChange {
    type Error = InvalidField;

    fn try_from(request: &pb::SetCompatibilityRequest) -> Result<Self, InvalidField> {
        let new_level = level(request.level)?;
        match level_target(&request.subject)? {
            LevelTarget::Global => new_level.map(Self::Global).ok_or_else(|| {
                InvalidValue::new("the global default cannot be UNSPECIFIED").at("level")
            }),
            LevelTarget::Subject(subject) => Ok(Self::Subject {
                subject,
                level: new_level,
            }),
        }
    }
}

// ----------------------------------------------------------------- paging

/// ListSubjects: page size, where the page starts, deleted or not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListSubjectsQuery {
    pub page_size: PageSize,
    pub after: Option<String>,
    pub include_deleted: bool,
}

impl TryFrom<&pb::ListSubjectsRequest> for ListSubjectsQuery {
    type Error = InvalidField;

    fn try_from(request: &pb::ListSubjectsRequest) -> Result<Self, InvalidField> {
        Ok(Self {
            page_size: PageSize::from_request(request.page_size).map_err(at("page_size"))?,
            after: subjects_after(&request.page_token, request.include_deleted)
                .map_err(at("page_token"))?,
            include_deleted: request.include_deleted,
        })
    }
}

pub fn subjects_page_token(next_after: Option<&Subject>, include_deleted: bool) -> String {
    next_after
        .map(|last| subjects_token(last, include_deleted))
        .unwrap_or_default()
}

/// ListVersions: the subject, page size, where the page starts, deleted or not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListVersionsQuery {
    pub subject: Subject,
    pub page_size: PageSize,
    pub after: Option<Version>,
    pub include_deleted: bool,
}

impl TryFrom<&pb::ListVersionsRequest> for ListVersionsQuery {
    type Error = InvalidField;

    fn try_from(request: &pb::ListVersionsRequest) -> Result<Self, InvalidField> {
        let subject = subject(&request.subject)?;
        Ok(Self {
            page_size: PageSize::from_request(request.page_size).map_err(at("page_size"))?,
            after: versions_after(&request.page_token, &subject, request.include_deleted)
                .map_err(at("page_token"))?,
            include_deleted: request.include_deleted,
            subject,
        })
    }
}

pub fn versions_page_token(
    subject: &Subject,
    next_after: Option<Version>,
    include_deleted: bool,
) -> String {
    next_after
        .map(|last| versions_token(subject, last, include_deleted))
        .unwrap_or_default()
}

/// GetReferences' version: 0 is the newest live one.
pub fn version_selector(raw: i32) -> Result<VersionSelector, InvalidField> {
    if raw == 0 {
        return Ok(VersionSelector::Latest);
    }
    Version::parse(raw)
        .map(VersionSelector::Exact)
        .map_err(|_| {
            InvalidValue::new(format!(
                "must be 0 (the newest) or a version from 1, got {raw}"
            ))
            .at("version")
        })
}

// ---------------------------------------------------------------- answers

pub fn pb_schema(schema: RegisteredSchema) -> pb::Schema {
    pb::Schema {
        id: schema.id.get(),
        subject: schema.subject.as_str().to_owned(),
        version: schema.version.get(),
        message_name: schema.message_name,
        file_descriptor_set: schema.file_descriptor_set,
        event_type: schema.event_type,
        created_at: Some(ecommerce_proto::timestamp(schema.created_at)),
        deleted: schema.deleted,
    }
}

pub fn pb_version(summary: &VersionSummary) -> pb::SchemaVersion {
    pb::SchemaVersion {
        version: summary.version.get(),
        schema_id: summary.schema_id.get(),
        created_at: Some(ecommerce_proto::timestamp(summary.created_at)),
        deleted: summary.deleted,
    }
}

fn pb_reference(reference: SchemaReference) -> pb::SchemaReference {
    pb::SchemaReference {
        import: reference.import,
        subject: reference.subject.as_str().to_owned(),
        version: reference.version.get(),
        schema_id: reference.schema_id.get(),
    }
}

pub fn pb_references(references: References) -> pb::GetReferencesResponse {
    pb::GetReferencesResponse {
        imports: references.imports,
        references: references
            .references
            .into_iter()
            .map(pb_reference)
            .collect(),
        referenced_by: references
            .referenced_by
            .into_iter()
            .map(SchemaId::get)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::domain::values::LEVELS;

    #[test]
    fn schema_requests_name_the_bad_field() {
        let good = pb::RegisterSchemaRequest {
            subject: "orders.order_placed.v1".to_owned(),
            file_descriptor_set: vec![1, 2, 3],
            message_name: "ecommerce.orders.v1.OrderPlaced".to_owned(),
        };
        let submission = SchemaSubmission::try_from(good.clone()).unwrap();
        assert_eq!(submission.file_descriptor_set, [1, 2, 3]);
        for (request, field) in [
            (
                pb::RegisterSchemaRequest {
                    subject: String::new(),
                    ..good.clone()
                },
                "subject",
            ),
            (
                pb::RegisterSchemaRequest {
                    subject: "a b".to_owned(),
                    ..good.clone()
                },
                "subject",
            ),
            (
                pb::RegisterSchemaRequest {
                    message_name: String::new(),
                    ..good.clone()
                },
                "message_name",
            ),
        ] {
            assert_eq!(
                SchemaSubmission::try_from(request).unwrap_err().field,
                field
            );
        }
        let check = SchemaSubmission::try_from(pb::CheckCompatibilityRequest {
            subject: "x".to_owned(),
            file_descriptor_set: Vec::new(),
            message_name: String::new(),
        })
        .unwrap_err();
        assert_eq!(check.field, "message_name");
    }

    #[test]
    fn levels_round_trip_and_unknown_numbers_are_refused() {
        for domain_level in LEVELS {
            let proto = pb_level(domain_level);
            assert_eq!(level(proto as i32).unwrap(), Some(domain_level));
        }
        assert_eq!(level(0).unwrap(), None);
        assert_eq!(level(99).unwrap_err().field, "level");
        assert_eq!(pb_optional_level(None), pb::CompatibilityLevel::Unspecified);
    }

    #[test]
    fn the_global_default_cannot_be_unset() {
        let global_unset = pb::SetCompatibilityRequest {
            subject: String::new(),
            level: 0,
        };
        assert_eq!(
            LevelChange::try_from(&global_unset).unwrap_err().field,
            "level"
        );
        let subject_unset = pb::SetCompatibilityRequest {
            subject: "s".to_owned(),
            level: 0,
        };
        assert_eq!(
            LevelChange::try_from(&subject_unset).unwrap(),
            LevelChange::Subject {
                subject: Subject::parse("s").unwrap(),
                level: None
            }
        );
        let global = pb::SetCompatibilityRequest {
            subject: String::new(),
            level: pb::CompatibilityLevel::Full as i32,
        };
        assert_eq!(
            LevelChange::try_from(&global).unwrap(),
            LevelChange::Global(CompatibilityLevel::Full)
        );
        let bad_subject = pb::SetCompatibilityRequest {
            subject: "a\tb".to_owned(),
            level: 1,
        };
        assert_eq!(
            LevelChange::try_from(&bad_subject).unwrap_err().field,
            "subject"
        );
    }

    #[test]
    fn list_queries_check_page_size_and_token() {
        let query = ListSubjectsQuery::try_from(&pb::ListSubjectsRequest::default()).unwrap();
        assert_eq!(query.page_size.get(), 100);
        assert_eq!(query.after, None);
        let bad_token = pb::ListSubjectsRequest {
            page_token: "garbage".to_owned(),
            ..Default::default()
        };
        assert_eq!(
            ListSubjectsQuery::try_from(&bad_token).unwrap_err().field,
            "page_token"
        );
        let negative = pb::ListVersionsRequest {
            subject: "s".to_owned(),
            page_size: -5,
            ..Default::default()
        };
        assert_eq!(
            ListVersionsQuery::try_from(&negative).unwrap_err().field,
            "page_size"
        );
        let subject = Subject::parse("s").unwrap();
        let token = versions_page_token(&subject, Some(Version::from_stored(3)), false);
        let next = ListVersionsQuery::try_from(&pb::ListVersionsRequest {
            subject: "s".to_owned(),
            page_token: token,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(next.after, Some(Version::from_stored(3)));
        assert_eq!(versions_page_token(&subject, None, false), "");
        assert_eq!(subjects_page_token(None, true), "");
    }

    #[test]
    fn reference_versions_are_zero_or_positive() {
        assert_eq!(version_selector(0).unwrap(), VersionSelector::Latest);
        assert_eq!(
            version_selector(2).unwrap(),
            VersionSelector::Exact(Version::from_stored(2))
        );
        assert_eq!(version_selector(-1).unwrap_err().field, "version");
        assert_eq!(version(0).unwrap_err().field, "version");
        assert_eq!(schema_id(0).unwrap_err().field, "id");
    }
}
