//! schema-registry's tables through SeaORM.
//!
//! Every function takes `&impl ConnectionTrait`, so it runs inside the
//! transaction the caller opened (or on the pool for a single read), and
//! returns the shared [`StoreError`], which classifies the SQLSTATE once.
//! Rows are mapped to domain values here; nothing above this module sees a
//! SeaORM type, and a row that breaks an invariant is an internal
//! `StoreError` naming it.
//!
//! What the domain asks of storage:
//! - registrations under one subject serialize on the subject's row
//!   ([`create_subject_if_missing`] then [`find_subject`] with
//!   [`Lock::Update`]), from any number of processes: the second of two
//!   concurrent registrations of one schema waits, then reads the first
//!   one's version (READ COMMITTED: each statement sees what committed
//!   before it) and answers it; `schemas_subject_version_key` backs it up;
//! - deletes take the same lock, so a delete never interleaves with a
//!   compatibility check;
//! - version numbers come from the highest ever used, deleted rows
//!   included ([`highest_version`]): rows are never removed.

pub mod entities;

use chrono::{DateTime, Utc};
use ecommerce_db::StoreError;
use sea_orm::sea_query::{Expr, ExprTrait as _, OnConflict};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Statement,
};
use tracing::instrument;

use crate::domain::{
    CompatibilityLevel, Fingerprint, NewSchema, RegisteredSchema, SchemaId, SchemaReference,
    Subject, Version, VersionSummary, level_from_name, level_name,
};
use crate::storage::entities::{config, schema, subject};
fn level_from_row(owner: &str, stored: &str) -> Result<CompatibilityLevel, StoreError> {
    level_from_name(stored)
        .ok_or_else(|| StoreError::internal(format!("{owner} has compatibility level {stored:?}")))
}

// ------------------------------------------------------------------ config

/// The global default level.
#[instrument(skip_all, err(level = "debug"))]
pub async fn global_level<C: ConnectionTrait>(db: &C) -> Result<CompatibilityLevel, StoreError> {
    let row = config::Entity::find_by_id(true)
        .one(db)
        .await?
        .ok_or_else(|| StoreError::internal("the config row is missing"))?;
    level_from_row("the global config", &row.compatibility_level)
}

#[instrument(skip_all, fields(level = level_name(level)), err(level = "debug"))]
pub async fn set_global_level<C: ConnectionTrait>(
    db: &C,
    level: CompatibilityLevel,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let updated = config::Entity::update_many()
        .col_expr(
            config::Column::CompatibilityLevel,
            Expr::value(level_name(level)),
        )
        .col_expr(config::Column::UpdatedAt, Expr::value(now))
        .filter(config::Column::Id.eq(true))
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Err(StoreError::internal("the config row is missing"));
    }
    Ok(())
}

// ---------------------------------------------------------------- subjects

/// How a subject row is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lock {
    None,
    /// `FOR UPDATE`: serializes every change under the subject.
    Update,
}

/// A stored subject: its own level (`None`: inherits the global default).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubjectRow {
    pub subject: Subject,
    pub level: Option<CompatibilityLevel>,
}

#[instrument(skip_all, fields(%subject, ?lock), err(level = "debug"))]
pub async fn find_subject<C: ConnectionTrait>(
    db: &C,
    subject: &Subject,
    lock: Lock,
) -> Result<Option<SubjectRow>, StoreError> {
    let mut select = subject::Entity::find_by_id(subject.as_str().to_owned());
    if lock == Lock::Update {
        select = select.lock_exclusive();
    }
    let Some(row) = select.one(db).await? else {
        return Ok(None);
    };
    let level = row
        .compatibility_level
        .as_deref()
        .map(|stored| level_from_row(&format!("subject {subject}"), stored))
        .transpose()?;
    Ok(Some(SubjectRow {
        subject: subject.clone(),
        level,
    }))
}

/// Creates `subject` with `level` unless it exists (then nothing changes).
#[instrument(skip_all, fields(%subject), err(level = "debug"))]
pub async fn create_subject_if_missing<C: ConnectionTrait>(
    db: &C,
    subject: &Subject,
    level: Option<CompatibilityLevel>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let row = subject::ActiveModel {
        name: Set(subject.as_str().to_owned()),
        compatibility_level: Set(level.map(|level| level_name(level).to_owned())),
        created_at: Set(now),
    };
    subject::Entity::insert(row)
        .on_conflict_do_nothing()
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Sets `subject`'s own level (`None`: inherit), creating the subject when
/// it does not exist yet.
#[instrument(skip_all, fields(%subject), err(level = "debug"))]
pub async fn set_subject_level<C: ConnectionTrait>(
    db: &C,
    subject: &Subject,
    level: Option<CompatibilityLevel>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let row = subject::ActiveModel {
        name: Set(subject.as_str().to_owned()),
        compatibility_level: Set(level.map(|level| level_name(level).to_owned())),
        created_at: Set(now),
    };
    subject::Entity::insert(row)
        .on_conflict(
            OnConflict::column(subject::Column::Name)
                .update_column(subject::Column::CompatibilityLevel)
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Up to `limit` subjects after `after` (bytewise), in lexical order, that
/// have a live version (or any version, with `include_deleted`).
#[instrument(skip_all, fields(include_deleted, limit), err(level = "debug"))]
pub async fn list_subjects<C: ConnectionTrait>(
    db: &C,
    after: Option<&str>,
    include_deleted: bool,
    limit: u64,
) -> Result<Vec<Subject>, StoreError> {
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT s.name FROM subjects s \
             WHERE ($1::text IS NULL OR s.name > $1::text) \
               AND EXISTS (SELECT 1 FROM schemas v \
                           WHERE v.subject = s.name AND ($2 OR v.deleted_at IS NULL)) \
             ORDER BY s.name \
             LIMIT $3",
            [
                after.map(str::to_owned).into(),
                include_deleted.into(),
                i64::try_from(limit).unwrap_or(i64::MAX).into(),
            ],
        ))
        .await?;
    rows.into_iter()
        .map(|row| {
            row.try_get::<String>("", "name")
                .map(Subject::from_stored)
                .map_err(StoreError::from)
        })
        .collect()
}

// ----------------------------------------------------------------- schemas

fn schema_from_row(row: schema::Model) -> Result<RegisteredSchema, StoreError> {
    let fingerprint = Fingerprint::from_stored(&row.fingerprint).ok_or_else(|| {
        StoreError::internal(format!(
            "schema {} has a fingerprint of {} bytes",
            row.id,
            row.fingerprint.len()
        ))
    })?;
    Ok(RegisteredSchema {
        id: SchemaId::from_stored(row.id),
        subject: Subject::from_stored(row.subject),
        version: Version::from_stored(row.version),
        message_name: row.message_name,
        message_file: row.message_file,
        imports: row.imports,
        event_type: row.event_type,
        file_descriptor_set: row.file_descriptor_set,
        fingerprint,
        created_at: row.created_at,
        deleted: row.deleted_at.is_some(),
    })
}

fn schemas_from_rows(rows: Vec<schema::Model>) -> Result<Vec<RegisteredSchema>, StoreError> {
    rows.into_iter().map(schema_from_row).collect()
}

/// The live (not deleted) versions of `subject`, oldest first.
#[instrument(skip_all, fields(%subject), err(level = "debug"))]
pub async fn live_schemas<C: ConnectionTrait>(
    db: &C,
    subject: &Subject,
) -> Result<Vec<RegisteredSchema>, StoreError> {
    let rows = schema::Entity::find()
        .filter(schema::Column::Subject.eq(subject.as_str()))
        .filter(schema::Column::DeletedAt.is_null())
        .order_by_asc(schema::Column::Version)
        .all(db)
        .await?;
    schemas_from_rows(rows)
}

/// The live version of `subject` whose canonical form is `fingerprint`
/// with `message_name`, if any: an identical registration's answer.
#[instrument(skip_all, fields(%subject), err(level = "debug"))]
pub async fn find_live_identical<C: ConnectionTrait>(
    db: &C,
    subject: &Subject,
    fingerprint: &Fingerprint,
    message_name: &str,
) -> Result<Option<RegisteredSchema>, StoreError> {
    let row = schema::Entity::find()
        .filter(schema::Column::Subject.eq(subject.as_str()))
        .filter(schema::Column::Fingerprint.eq(fingerprint.as_bytes().to_vec()))
        .filter(schema::Column::MessageName.eq(message_name))
        .filter(schema::Column::DeletedAt.is_null())
        .one(db)
        .await?;
    row.map(schema_from_row).transpose()
}

/// The highest version `subject` ever used, deleted ones included.
#[instrument(skip_all, fields(%subject), err(level = "debug"))]
pub async fn highest_version<C: ConnectionTrait>(
    db: &C,
    subject: &Subject,
) -> Result<Option<Version>, StoreError> {
    let highest = schema::Entity::find()
        .select_only()
        .column(schema::Column::Version)
        .filter(schema::Column::Subject.eq(subject.as_str()))
        .order_by_desc(schema::Column::Version)
        .limit(1)
        .into_tuple::<i32>()
        .one(db)
        .await?;
    Ok(highest.map(Version::from_stored))
}

/// Inserts a new version; returns its id.
#[instrument(skip_all, fields(subject = %new.subject, version = %new.version), err(level = "debug"))]
pub async fn insert_schema<C: ConnectionTrait>(
    db: &C,
    new: &NewSchema,
) -> Result<SchemaId, StoreError> {
    let row = schema::ActiveModel {
        id: NotSet,
        subject: Set(new.subject.as_str().to_owned()),
        version: Set(new.version.get()),
        message_name: Set(new.message_name.clone()),
        message_file: Set(new.message_file.clone()),
        imports: Set(new.imports.clone()),
        event_type: Set(new.event_type.clone()),
        file_descriptor_set: Set(new.file_descriptor_set.clone()),
        fingerprint: Set(new.fingerprint.as_bytes().to_vec()),
        created_at: Set(new.created_at),
        deleted_at: Set(None),
    };
    let inserted = schema::Entity::insert(row).exec(db).await?;
    Ok(SchemaId::from_stored(inserted.last_insert_id))
}

/// The schema `id`, deleted or not.
#[instrument(skip_all, fields(%id), err(level = "debug"))]
pub async fn find_schema<C: ConnectionTrait>(
    db: &C,
    id: SchemaId,
) -> Result<Option<RegisteredSchema>, StoreError> {
    schema::Entity::find_by_id(id.get())
        .one(db)
        .await?
        .map(schema_from_row)
        .transpose()
}

/// Version `version` of `subject`, deleted or not.
#[instrument(skip_all, fields(%subject, %version), err(level = "debug"))]
pub async fn find_version<C: ConnectionTrait>(
    db: &C,
    subject: &Subject,
    version: Version,
) -> Result<Option<RegisteredSchema>, StoreError> {
    schema::Entity::find()
        .filter(schema::Column::Subject.eq(subject.as_str()))
        .filter(schema::Column::Version.eq(version.get()))
        .one(db)
        .await?
        .map(schema_from_row)
        .transpose()
}

/// The newest live version of `subject`.
#[instrument(skip_all, fields(%subject), err(level = "debug"))]
pub async fn latest_live_schema<C: ConnectionTrait>(
    db: &C,
    subject: &Subject,
) -> Result<Option<RegisteredSchema>, StoreError> {
    schema::Entity::find()
        .filter(schema::Column::Subject.eq(subject.as_str()))
        .filter(schema::Column::DeletedAt.is_null())
        .order_by_desc(schema::Column::Version)
        .one(db)
        .await?
        .map(schema_from_row)
        .transpose()
}

type SummaryRow = (i32, i64, DateTime<Utc>, Option<DateTime<Utc>>);

fn summary_from_row((version, id, created_at, deleted_at): SummaryRow) -> VersionSummary {
    VersionSummary {
        version: Version::from_stored(version),
        schema_id: SchemaId::from_stored(id),
        created_at,
        deleted: deleted_at.is_some(),
    }
}

/// Up to `limit` versions of `subject` after `after`, oldest first; live
/// ones only unless `include_deleted`.
#[instrument(skip_all, fields(%subject, include_deleted, limit), err(level = "debug"))]
pub async fn list_versions<C: ConnectionTrait>(
    db: &C,
    subject: &Subject,
    after: Option<Version>,
    include_deleted: bool,
    limit: u64,
) -> Result<Vec<VersionSummary>, StoreError> {
    let mut select = schema::Entity::find()
        .select_only()
        .columns([
            schema::Column::Version,
            schema::Column::Id,
            schema::Column::CreatedAt,
            schema::Column::DeletedAt,
        ])
        .filter(schema::Column::Subject.eq(subject.as_str()));
    if !include_deleted {
        select = select.filter(schema::Column::DeletedAt.is_null());
    }
    if let Some(after) = after {
        select = select.filter(schema::Column::Version.gt(after.get()));
    }
    let rows = select
        .order_by_asc(schema::Column::Version)
        .limit(limit)
        .into_tuple::<SummaryRow>()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(summary_from_row).collect())
}

/// Soft-deletes `version` of `subject` (a deleted one keeps its first
/// deletion time); `None` when there is no such version.
#[instrument(skip_all, fields(%subject, %version), err(level = "debug"))]
pub async fn delete_version<C: ConnectionTrait>(
    db: &C,
    subject: &Subject,
    version: Version,
    now: DateTime<Utc>,
) -> Result<Option<VersionSummary>, StoreError> {
    let rows = schema::Entity::update_many()
        .col_expr(
            schema::Column::DeletedAt,
            Expr::col(schema::Column::DeletedAt).if_null(now),
        )
        .filter(schema::Column::Subject.eq(subject.as_str()))
        .filter(schema::Column::Version.eq(version.get()))
        .exec_with_returning(db)
        .await?;
    Ok(rows
        .into_iter()
        .next()
        .map(|row| summary_from_row((row.version, row.id, row.created_at, row.deleted_at))))
}

/// Soft-deletes every live version of `subject`; returns the versions this
/// call deleted, oldest first.
#[instrument(skip_all, fields(%subject), err(level = "debug"))]
pub async fn delete_live_versions<C: ConnectionTrait>(
    db: &C,
    subject: &Subject,
    now: DateTime<Utc>,
) -> Result<Vec<Version>, StoreError> {
    let rows = schema::Entity::update_many()
        .col_expr(schema::Column::DeletedAt, Expr::value(now))
        .filter(schema::Column::Subject.eq(subject.as_str()))
        .filter(schema::Column::DeletedAt.is_null())
        .exec_with_returning(db)
        .await?;
    let mut versions: Vec<Version> = rows
        .into_iter()
        .map(|row| Version::from_stored(row.version))
        .collect();
    versions.sort_unstable();
    Ok(versions)
}

/// The subjects whose newest live version's message is defined in one of
/// `imports`, by import then subject.
#[instrument(skip_all, fields(imports = imports.len()), err(level = "debug"))]
pub async fn subjects_defined_in<C: ConnectionTrait>(
    db: &C,
    imports: &[String],
) -> Result<Vec<SchemaReference>, StoreError> {
    if imports.is_empty() {
        return Ok(Vec::new());
    }
    // The newest live version of every subject that has one in these
    // files; whether the newest is still in one is checked after.
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT DISTINCT ON (s.subject) s.subject, s.version, s.id, s.message_file \
             FROM schemas s \
             WHERE s.deleted_at IS NULL \
               AND s.subject IN (SELECT subject FROM schemas \
                                 WHERE deleted_at IS NULL AND message_file = ANY($1)) \
             ORDER BY s.subject, s.version DESC",
            [imports.to_vec().into()],
        ))
        .await?;
    let mut references = Vec::new();
    for row in rows {
        let message_file: String = row.try_get("", "message_file")?;
        if !imports.contains(&message_file) {
            continue;
        }
        references.push(SchemaReference {
            import: message_file,
            subject: Subject::from_stored(row.try_get("", "subject")?),
            version: Version::from_stored(row.try_get("", "version")?),
            schema_id: SchemaId::from_stored(row.try_get("", "id")?),
        });
    }
    references
        .sort_by(|left, right| (&left.import, &left.subject).cmp(&(&right.import, &right.subject)));
    Ok(references)
}

/// The ids of the live versions (of any subject) that import `file`,
/// ascending.
#[instrument(skip_all, fields(%file), err(level = "debug"))]
pub async fn live_importers_of<C: ConnectionTrait>(
    db: &C,
    file: &str,
) -> Result<Vec<SchemaId>, StoreError> {
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT id FROM schemas \
             WHERE deleted_at IS NULL AND imports @> ARRAY[$1::text] \
             ORDER BY id",
            [file.into()],
        ))
        .await?;
    rows.into_iter()
        .map(|row| {
            row.try_get::<i64>("", "id")
                .map(SchemaId::from_stored)
                .map_err(StoreError::from)
        })
        .collect()
}
