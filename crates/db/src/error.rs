//! The one error every service's storage failures become, with the one
//! retry policy and the one gRPC status table for them.
//!
//! | failure (SQLSTATE)                        | retried in [`transaction!`](crate::transaction) | status once out of attempts |
//! |-------------------------------------------|-------------------------|-------------|
//! | conflict (40001, 40P01, 55P03), or a versioned write that found the row moved on ([`StoreError::conflict`]) | yes | ABORTED |
//! | connection lost (class 08, 57P, I/O, TLS) | yes, but not at COMMIT (it may have committed) | UNAVAILABLE |
//! | no pooled connection in time              | no (the pool has already waited) | UNAVAILABLE |
//! | unique violation (23505) the service did not claim | yes: a concurrent insert won, the retry reads its row | INTERNAL |
//! | foreign key (23503), check (23514), missing table (42P01), anything else | no | INTERNAL |
//!
//! A service claims the failures that mean something to its callers (a
//! unique violation of `users_email_key` is "email already in use") by
//! matching [`StoreError::failure`] *inside* the transaction, so the retry
//! loop sees the service's own error and does not retry it.

use std::error::Error as StdError;

use ecommerce_platform::grpc::{ErrorCode, ServiceError};
use sea_orm::DbErr;

use crate::DbFailure;

type BoxError = Box<dyn StdError + Send + Sync>;

/// A storage failure, classified once: what a service's error wraps as its
/// `Store` case.
#[derive(Debug)]
pub struct StoreError {
    failure: DbFailure,
    retryable: bool,
    /// The statement's error (or the outbox's), for the log.
    source: Option<BoxError>,
    /// What the service knew when it raised this itself.
    reason: Option<String>,
}

impl StoreError {
    /// Classifies a failure of `source`; see the table in the module docs.
    pub fn classify(failure: DbFailure, pool_exhausted: bool, source: BoxError) -> Self {
        let retryable = match &failure {
            DbFailure::Conflict | DbFailure::UniqueViolation { .. } => true,
            DbFailure::Unavailable => !pool_exhausted,
            DbFailure::ForeignKeyViolation { .. }
            | DbFailure::CheckViolation { .. }
            | DbFailure::UndefinedTable
            | DbFailure::Other => false,
        };
        Self {
            failure,
            retryable,
            source: Some(source),
            reason: None,
        }
    }

    /// A versioned write found the row moved on (or a lost race the service
    /// detected itself): run the whole transaction again.
    pub fn conflict(reason: impl Into<String>) -> Self {
        Self {
            failure: DbFailure::Conflict,
            retryable: true,
            source: None,
            reason: Some(reason.into()),
        }
    }

    /// Storage holds what the service's rules forbid (a row vanished, a
    /// stored value no longer parses): a bug, never retried.
    pub fn internal(reason: impl Into<String>) -> Self {
        Self {
            failure: DbFailure::Other,
            retryable: false,
            source: None,
            reason: Some(reason.into()),
        }
    }

    /// The same failure raised by COMMIT: a lost connection there may have
    /// committed, so only a conflict (which certainly rolled back) is
    /// retried.
    pub fn at_commit(mut self) -> Self {
        self.retryable = self.failure == DbFailure::Conflict;
        self
    }

    /// What the database said, for a service to claim the cases that mean
    /// something to it.
    pub fn failure(&self) -> &DbFailure {
        &self.failure
    }

    /// Whether running the whole transaction again may succeed.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }

    /// Whether this is a unique violation of `constraint`.
    pub fn is_unique_violation_of(&self, constraint: &str) -> bool {
        self.failure.is_unique_violation_of(constraint)
    }
}

impl std::fmt::Display for StoreError {
    /// The first two are what callers read (ABORTED, UNAVAILABLE); the rest
    /// are INTERNAL and reach the log only.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.failure {
            DbFailure::Conflict => {
                formatter.write_str("the change conflicted with a concurrent one; retry")
            }
            DbFailure::Unavailable => {
                formatter.write_str("the database is unavailable; retry later")
            }
            DbFailure::UniqueViolation { constraint } => {
                write!(formatter, "unique constraint {constraint} violated")
            }
            DbFailure::ForeignKeyViolation { constraint } => {
                write!(formatter, "foreign key {constraint} violated")
            }
            DbFailure::CheckViolation { constraint } => {
                write!(formatter, "check constraint {constraint} violated")
            }
            DbFailure::UndefinedTable => {
                formatter.write_str("a table is missing; run the service's migrations")
            }
            DbFailure::Other => formatter.write_str("database error"),
        }?;
        if let Some(reason) = &self.reason {
            write!(formatter, " ({reason})")?;
        }
        Ok(())
    }
}

impl StdError for StoreError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn StdError + 'static))
    }
}

impl From<DbErr> for StoreError {
    fn from(error: DbErr) -> Self {
        let failure = DbFailure::classify(&error);
        let pool_exhausted = DbFailure::is_pool_exhausted(&error);
        Self::classify(failure, pool_exhausted, Box::new(error))
    }
}

/// The one status table for storage failures (see the module docs).
impl ServiceError for StoreError {
    fn code(&self) -> ErrorCode {
        match self.failure {
            DbFailure::Conflict => ErrorCode::Aborted,
            DbFailure::Unavailable => ErrorCode::Unavailable,
            DbFailure::UniqueViolation { .. }
            | DbFailure::ForeignKeyViolation { .. }
            | DbFailure::CheckViolation { .. }
            | DbFailure::UndefinedTable
            | DbFailure::Other => ErrorCode::Internal,
        }
    }
}

/// A service's error: its own cases plus a [`StoreError`] case, which
/// [`transaction!`](crate::transaction) retries by the one policy.
pub trait TransactionError: From<StoreError> {
    /// The storage failure this error is, if it is one.
    fn store_error(&self) -> Option<&StoreError>;

    /// Whether running the whole transaction again may succeed.
    fn is_retryable(&self) -> bool {
        self.store_error().is_some_and(StoreError::is_retryable)
    }
}

impl TransactionError for StoreError {
    fn store_error(&self) -> Option<&StoreError> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use ecommerce_platform::grpc::{INTERNAL_MESSAGE, status_of};

    use super::*;

    fn failed(failure: DbFailure) -> StoreError {
        StoreError::classify(failure, false, "statement failed".into())
    }

    #[test]
    fn the_table_retries_and_codes_each_failure() {
        let unique = DbFailure::UniqueViolation {
            constraint: "orders_key".to_owned(),
        };
        let cases = [
            (failed(DbFailure::Conflict), true, ErrorCode::Aborted),
            (
                StoreError::conflict("version 3 moved on"),
                true,
                ErrorCode::Aborted,
            ),
            (failed(DbFailure::Unavailable), true, ErrorCode::Unavailable),
            (
                StoreError::classify(DbFailure::Unavailable, true, "pool timed out".into()),
                false,
                ErrorCode::Unavailable,
            ),
            (failed(unique.clone()), true, ErrorCode::Internal),
            (
                failed(DbFailure::UndefinedTable),
                false,
                ErrorCode::Internal,
            ),
            (failed(DbFailure::Other), false, ErrorCode::Internal),
            (
                StoreError::internal("row vanished"),
                false,
                ErrorCode::Internal,
            ),
        ];
        for (error, retryable, code) in cases {
            assert_eq!(error.is_retryable(), retryable, "{error}");
            assert_eq!(error.code(), code, "{error}");
        }
        assert!(failed(unique).is_unique_violation_of("orders_key"));
    }

    #[test]
    fn only_a_conflict_at_commit_is_retried() {
        assert!(failed(DbFailure::Conflict).at_commit().is_retryable());
        assert!(!failed(DbFailure::Unavailable).at_commit().is_retryable());
    }

    #[test]
    fn callers_read_conflicts_and_outages_but_never_internals() {
        let status = status_of(&failed(DbFailure::Conflict));
        assert_eq!(status.code(), tonic::Code::Aborted);
        assert!(status.message().contains("retry"), "{}", status.message());
        let status = status_of(&StoreError::classify(
            DbFailure::Other,
            false,
            "password=hunter2".into(),
        ));
        assert_eq!(status.message(), INTERNAL_MESSAGE);
    }
}
