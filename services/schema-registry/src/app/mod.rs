//! The registry's use cases, independent of the transport.
//!
//! A write runs in one transaction that first locks the subject's row, so
//! every change under one subject serializes, across processes too; it runs
//! again when the shared policy says a retry may cure the failure (a
//! serialization failure, deadlock or lost connection: [`transaction!`]).
//! Reads are single statements on the pool (GetReferences: one read-only
//! transaction). Candidates are parsed and canonicalized before any
//! transaction opens: a bad schema never touches the database.

pub mod cache;
pub mod error;
pub mod settings;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ecommerce_db::{begin_snapshot, transaction};
use ecommerce_kernel::Clock;
use sea_orm::{DatabaseConnection, TransactionTrait as _};
use tracing::instrument;

use crate::app::cache::{KnownSubmissions, SchemaCache};
use crate::app::error::AppError;
use crate::app::settings::RegistrySettings;
use crate::domain::{
    Candidate, CompatibilityLevel, CompatibilityReport, Fingerprint, LevelInEffect, LevelTarget,
    MessageName, PageSize, References, RegisteredSchema, Registration, SchemaId, Subject, Version,
    VersionSummary, check_compatibility, level_name, next_version, register,
};
use crate::storage::{self, Lock, SubjectRow};

/// One page of ListSubjects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubjectPage {
    pub subjects: Vec<Subject>,
    /// The last subject of this page when another page follows.
    pub next_after: Option<Subject>,
}

/// One page of ListVersions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionPage {
    pub versions: Vec<VersionSummary>,
    /// The last version of this page when another page follows.
    pub next_after: Option<Version>,
}

/// A schema offered by RegisterSchema or CheckCompatibility, not parsed yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaSubmission {
    pub subject: Subject,
    pub message_name: MessageName,
    pub file_descriptor_set: Vec<u8>,
}

/// A SetCompatibility request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LevelChange {
    /// The global default; never unset.
    Global(CompatibilityLevel),
    /// A subject's own level; `None` removes it (the subject inherits).
    Subject {
        subject: Subject,
        level: Option<CompatibilityLevel>,
    },
}

/// Which version GetReferences is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionSelector {
    /// The newest live version.
    Latest,
    /// That version, deleted or not.
    Exact(Version),
}

/// The schema registry.
#[derive(Clone, Debug)]
pub struct RegistryApp {
    db: DatabaseConnection,
    settings: Arc<RegistrySettings>,
    /// GetSchema's answers, for `SCHEMA_REGISTRY_CACHE_TTL_MS`.
    schemas: Arc<SchemaCache>,
    /// Canonical fingerprints of descriptor sets seen before, by their bytes.
    known_submissions: Arc<KnownSubmissions>,
    clock: Arc<dyn Clock>,
}

/// The most schemas GetSchema's cache holds.
const CACHED_SCHEMAS: usize = 10_000;

impl RegistryApp {
    /// `db` must be migrated with `registry_migration::Migrator`; `clock`
    /// stamps registrations, deletes and level changes (`SystemClock` in
    /// the service).
    pub fn new(db: DatabaseConnection, settings: RegistrySettings, clock: Arc<dyn Clock>) -> Self {
        Self {
            db,
            schemas: Arc::new(SchemaCache::new(settings.schema_cache_ttl, CACHED_SCHEMAS)),
            known_submissions: Arc::new(KnownSubmissions::new(CACHED_SCHEMAS)),
            settings: Arc::new(settings),
            clock,
        }
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    pub fn settings(&self) -> &RegistrySettings {
        &self.settings
    }

    /// Now at the database's precision (microseconds, as every kernel
    /// clock gives it), so an answer built from the new state equals the
    /// state read back later.
    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn parse(&self, submission: &SchemaSubmission) -> Result<Candidate, AppError> {
        Ok(Candidate::parse(
            &submission.file_descriptor_set,
            submission.message_name.clone(),
            self.settings.max_schema_bytes,
        )?)
    }

    /// The level a subject is checked at: its own, else the global default.
    async fn level_of<C: sea_orm::ConnectionTrait>(
        &self,
        db: &C,
        row: &SubjectRow,
    ) -> Result<LevelInEffect, AppError> {
        Ok(match row.level {
            Some(own) => LevelInEffect {
                level: own,
                inherited: false,
            },
            None => LevelInEffect {
                level: storage::global_level(db).await?,
                inherited: true,
            },
        })
    }

    // ------------------------------------------------------------ writes

    /// RegisterSchema: the identical live version if there is one, else a
    /// new version if the candidate is compatible with the live ones.
    #[instrument(skip_all, fields(subject = %submission.subject, message_name = %submission.message_name), err(level = "info"))]
    pub async fn register_schema(
        &self,
        submission: SchemaSubmission,
    ) -> Result<RegisteredSchema, AppError> {
        // A producer re-registering at start-up sends the bytes it sent
        // before: answer from the live identical version without parsing.
        let sent = Fingerprint::of(&submission.file_descriptor_set);
        let message_name = submission.message_name.as_str();
        if let Some(canonical) = self.known_submissions.canonical_of(sent, message_name)
            && let Some(existing) = storage::find_live_identical(
                &self.db,
                &submission.subject,
                &canonical,
                message_name,
            )
            .await?
        {
            return Ok(existing);
        }
        let candidate = self.parse(&submission)?;
        self.known_submissions
            .remember(sent, message_name, candidate.canonical.fingerprint);
        let subject = &submission.subject;
        let initial_level = self.settings.strict_prefixes.initial_level(subject);
        transaction!(AppError, "register_schema", self.db.begin(), |tx| {
            let now = self.now();
            storage::create_subject_if_missing(tx, subject, initial_level, now).await?;
            let row = storage::find_subject(tx, subject, Lock::Update)
                .await?
                .ok_or_else(|| {
                    AppError::Internal(format!("subject {subject} vanished after its insert"))
                })?;
            let level = self.level_of(tx, &row).await?.level;
            let live = storage::live_schemas(tx, subject).await?;
            let registered = match register(subject, level, &candidate, &live)? {
                Registration::Existing(existing) => {
                    tracing::info!(id = %existing.id, version = %existing.version, "identical schema already registered");
                    *existing
                }
                Registration::New => {
                    let highest = storage::highest_version(tx, subject).await?;
                    let version = next_version(subject, highest)?;
                    let new = candidate.to_new_schema(subject, version, now);
                    let id = storage::insert_schema(tx, &new).await?;
                    tracing::info!(%id, %version, level = level_name(level), "schema registered");
                    new.registered_as(id)
                }
            };
            Ok(registered)
        })
    }

    /// SetCompatibility. A subject that does not exist yet is created with
    /// the level, so an admin can set it before the first registration (the
    /// strict-prefix default then no longer applies: the admin's choice wins).
    #[instrument(skip_all, fields(?change), err(level = "info"))]
    pub async fn set_compatibility(&self, change: &LevelChange) -> Result<(), AppError> {
        match change {
            LevelChange::Global(level) => {
                storage::set_global_level(&self.db, *level, self.now()).await?;
            }
            LevelChange::Subject { subject, level } => {
                storage::set_subject_level(&self.db, subject, *level, self.now()).await?;
            }
        }
        tracing::info!("compatibility level set");
        Ok(())
    }

    /// DeleteSchemaVersion: soft-deletes one version (again: unchanged).
    #[instrument(skip_all, fields(%subject, %version), err(level = "info"))]
    pub async fn delete_version(
        &self,
        subject: &Subject,
        version: Version,
    ) -> Result<VersionSummary, AppError> {
        let deleted = transaction!(AppError, "delete_schema_version", self.db.begin(), |tx| {
            self.lock_subject(tx, subject).await?;
            storage::delete_version(tx, subject, version, self.now())
                .await?
                .ok_or_else(|| {
                    AppError::NotFound(format!("version {version} of subject {subject}"))
                })
        })?;
        // Once committed, so a reader in between cannot cache the old state.
        self.schemas.forget_subject(subject);
        Ok(deleted)
    }

    /// DeleteSubject: soft-deletes every live version; returns those.
    #[instrument(skip_all, fields(%subject), err(level = "info"))]
    pub async fn delete_subject(&self, subject: &Subject) -> Result<Vec<Version>, AppError> {
        let deleted = transaction!(AppError, "delete_subject", self.db.begin(), |tx| {
            self.lock_subject(tx, subject).await?;
            Ok(storage::delete_live_versions(tx, subject, self.now()).await?)
        })?;
        self.schemas.forget_subject(subject);
        Ok(deleted)
    }

    async fn lock_subject<C: sea_orm::ConnectionTrait>(
        &self,
        db: &C,
        subject: &Subject,
    ) -> Result<SubjectRow, AppError> {
        storage::find_subject(db, subject, Lock::Update)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("subject {subject}")))
    }

    // ------------------------------------------------------------- reads

    /// CheckCompatibility: RegisterSchema's check, without storing. An
    /// unknown subject is compatible, at the level it would start with.
    #[instrument(skip_all, fields(subject = %submission.subject, message_name = %submission.message_name), err(level = "info"))]
    pub async fn check_compatibility(
        &self,
        submission: SchemaSubmission,
    ) -> Result<CompatibilityReport, AppError> {
        let candidate = self.parse(&submission)?;
        let subject = &submission.subject;
        let Some(row) = storage::find_subject(&self.db, subject, Lock::None).await? else {
            let level = self.level_of_unknown(subject).await?.level;
            return Ok(CompatibilityReport {
                level,
                messages: Vec::new(),
            });
        };
        let level = self.level_of(&self.db, &row).await?.level;
        let live = storage::live_schemas(&self.db, subject).await?;
        Ok(check_compatibility(level, &candidate, &live)?)
    }

    /// The level a subject that does not exist yet would be checked at: a
    /// strict prefix's WIRE_STRICT, else the global default.
    async fn level_of_unknown(&self, subject: &Subject) -> Result<LevelInEffect, AppError> {
        let own = self.settings.strict_prefixes.initial_level(subject);
        let row = SubjectRow {
            subject: subject.clone(),
            level: own,
        };
        self.level_of(&self.db, &row).await
    }

    /// GetCompatibility: the subject's own level, else the global default.
    #[instrument(skip_all, fields(?target), err(level = "info"))]
    pub async fn compatibility(&self, target: &LevelTarget) -> Result<LevelInEffect, AppError> {
        match target {
            LevelTarget::Global => Ok(LevelInEffect::of(
                None,
                storage::global_level(&self.db).await?,
            )),
            LevelTarget::Subject(subject) => {
                match storage::find_subject(&self.db, subject, Lock::None).await? {
                    Some(row) => self.level_of(&self.db, &row).await,
                    None => self.level_of_unknown(subject).await,
                }
            }
        }
    }

    /// GetSchema: by id, deleted or not.
    #[instrument(skip_all, fields(%id), err(level = "info"))]
    pub async fn schema(&self, id: SchemaId) -> Result<RegisteredSchema, AppError> {
        if let Some(cached) = self.schemas.get(id) {
            return Ok(RegisteredSchema::clone(&cached));
        }
        let schema = storage::find_schema(&self.db, id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("schema {id}")))?;
        self.schemas.insert(Arc::new(schema.clone()));
        Ok(schema)
    }

    /// GetLatestSchema: the newest live version.
    #[instrument(skip_all, fields(%subject), err(level = "info"))]
    pub async fn latest_schema(&self, subject: &Subject) -> Result<RegisteredSchema, AppError> {
        self.latest_live(&self.db, subject).await
    }

    async fn latest_live<C: sea_orm::ConnectionTrait>(
        &self,
        db: &C,
        subject: &Subject,
    ) -> Result<RegisteredSchema, AppError> {
        storage::latest_live_schema(db, subject)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("a live version of subject {subject}")))
    }

    /// GetSchemaByVersion: a deleted version only with `include_deleted`.
    #[instrument(skip_all, fields(%subject, %version, include_deleted), err(level = "info"))]
    pub async fn schema_by_version(
        &self,
        subject: &Subject,
        version: Version,
        include_deleted: bool,
    ) -> Result<RegisteredSchema, AppError> {
        self.version_of(&self.db, subject, version, include_deleted)
            .await
    }

    async fn version_of<C: sea_orm::ConnectionTrait>(
        &self,
        db: &C,
        subject: &Subject,
        version: Version,
        include_deleted: bool,
    ) -> Result<RegisteredSchema, AppError> {
        match storage::find_version(db, subject, version).await? {
            Some(schema) if include_deleted || !schema.deleted => Ok(schema),
            _ => {
                if storage::find_subject(db, subject, Lock::None)
                    .await?
                    .is_none()
                {
                    return Err(AppError::NotFound(format!("subject {subject}")));
                }
                Err(AppError::NotFound(format!(
                    "version {version} of subject {subject}"
                )))
            }
        }
    }

    /// ListSubjects: subjects after `after`, in lexical order.
    #[instrument(skip_all, fields(page_size = page_size.get(), include_deleted), err(level = "info"))]
    pub async fn list_subjects(
        &self,
        page_size: PageSize,
        after: Option<&str>,
        include_deleted: bool,
    ) -> Result<SubjectPage, AppError> {
        let size = u64::from(page_size.get());
        // One more than asked tells whether another page follows.
        let mut subjects =
            storage::list_subjects(&self.db, after, include_deleted, size + 1).await?;
        let next_after = next_after(&mut subjects, size).cloned();
        Ok(SubjectPage {
            subjects,
            next_after,
        })
    }

    /// ListVersions: versions of a known subject after `after`, oldest first.
    #[instrument(skip_all, fields(%subject, page_size = page_size.get(), include_deleted), err(level = "info"))]
    pub async fn list_versions(
        &self,
        subject: &Subject,
        page_size: PageSize,
        after: Option<Version>,
        include_deleted: bool,
    ) -> Result<VersionPage, AppError> {
        if storage::find_subject(&self.db, subject, Lock::None)
            .await?
            .is_none()
        {
            return Err(AppError::NotFound(format!("subject {subject}")));
        }
        let size = u64::from(page_size.get());
        let mut versions =
            storage::list_versions(&self.db, subject, after, include_deleted, size + 1).await?;
        let next_after = next_after(&mut versions, size).map(|last| last.version);
        Ok(VersionPage {
            versions,
            next_after,
        })
    }

    /// GetReferences: the schema's imports, the registered subjects among
    /// them, and the live versions importing its message's file.
    #[instrument(skip_all, fields(%subject, ?selector), err(level = "info"))]
    pub async fn references(
        &self,
        subject: &Subject,
        selector: VersionSelector,
    ) -> Result<References, AppError> {
        // One snapshot for the three reads.
        transaction!(AppError, "get_references", begin_snapshot(&self.db), |tx| {
            let schema = match selector {
                VersionSelector::Latest => self.latest_live(tx, subject).await?,
                VersionSelector::Exact(version) => {
                    self.version_of(tx, subject, version, true).await?
                }
            };
            let references = storage::subjects_defined_in(tx, &schema.imports).await?;
            let referenced_by = storage::live_importers_of(tx, &schema.message_file).await?;
            Ok(References {
                imports: schema.imports,
                references,
                referenced_by,
            })
        })
    }
}

/// Drops the probe row (the one past `size`) and says where the next page
/// starts, if one follows.
fn next_after<T>(rows: &mut Vec<T>, size: u64) -> Option<&T> {
    let has_more = u64::try_from(rows.len()).unwrap_or(u64::MAX) > size;
    if has_more {
        rows.pop();
        rows.last()
    } else {
        None
    }
}
