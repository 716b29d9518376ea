//! The registry's rules, without I/O: validated values, the canonical form
//! of a schema and its fingerprint, idempotent registration and the
//! compatibility check (through `ecommerce-schema-compat`), paging.
//!
//! Nothing here imports tonic or sea_orm: `grpc` converts requests into the
//! values defined here, `app` reads the rows these functions decide on
//! (through `storage`) and writes back what they return.

pub mod canonical;
pub mod error;
pub mod page;
pub mod schema;
pub mod values;

pub use canonical::{CanonicalError, CanonicalSet, Fingerprint, canonicalize};
pub use ecommerce_schema_compat::CompatibilityLevel;
pub use error::{InvalidField, InvalidValue, RegistryError};
pub use page::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PageSize};
pub use schema::{
    Candidate, CompatibilityReport, NewSchema, References, RegisteredSchema, Registration,
    SchemaReference, VersionSummary, check_compatibility, incompatibilities, next_version,
    register,
};
pub use values::{
    LevelInEffect, LevelTarget, MessageName, SUBJECT_MAX_BYTES, SchemaId, StrictPrefixes, Subject,
    Version, level_from_name, level_name,
};
