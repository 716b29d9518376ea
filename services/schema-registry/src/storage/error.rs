//! The one translation of database errors into storage's own errors.

use ecommerce_db::DbFailure;
use sea_orm::DbErr;

/// Why a storage call failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A serialization failure, deadlock, lock timeout or lost race on a
    /// unique key: run the whole transaction again.
    #[error("database conflict: {0}")]
    Conflict(String),
    /// No connection, or it was lost: retry later.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A stored row breaks an invariant the service relies on.
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// Anything else: a bug or a missing migration.
    #[error("database error: {0}")]
    Database(String),
}

impl StorageError {
    /// Whether running the same transaction again may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Conflict(_) | Self::Unavailable(_) => true,
            Self::Corrupt(_) | Self::Database(_) => false,
        }
    }
}

/// Translates a failed statement through the shared SQLSTATE table.
pub(crate) fn translate(error: DbErr) -> StorageError {
    match DbFailure::classify(&error) {
        DbFailure::Conflict => StorageError::Conflict(error.to_string()),
        DbFailure::Unavailable => StorageError::Unavailable(error.to_string()),
        DbFailure::UniqueViolation { constraint } => {
            // Two registrations of one subject raced past the subject lock
            // (it is taken first, so this should not happen): retry, and the
            // retry finds the winner's version.
            StorageError::Conflict(format!("unique violation of {constraint}: {error}"))
        }
        DbFailure::ForeignKeyViolation { constraint } => {
            StorageError::Database(format!("foreign key {constraint} violated: {error}"))
        }
        DbFailure::CheckViolation { constraint } => {
            StorageError::Database(format!("check constraint {constraint} violated: {error}"))
        }
        DbFailure::UndefinedTable => StorageError::Database(format!(
            "a registry table is missing; run registry-migration: {error}"
        )),
        DbFailure::Other => StorageError::Database(error.to_string()),
    }
}
