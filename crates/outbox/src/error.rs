//! The crate's error type and the one place SQLSTATEs are translated.

use ecommerce_db::{DbFailure, InvalidTableName, StoreError};
use sea_orm::{DbErr, RuntimeErr};
use uuid::Uuid;

use crate::table::OutboxTable;

/// Why an outbox operation failed.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// A schema or table name that is not a plain lowercase identifier.
    #[error("invalid outbox {kind} name {name:?}: {reason}")]
    InvalidName {
        kind: &'static str,
        name: String,
        reason: &'static str,
    },
    /// The event id is already in the outbox (an event enqueued twice).
    #[error("event {event_id} is already in the outbox")]
    DuplicateEvent { event_id: Uuid },
    /// The table was never created: the service's migration did not run.
    #[error("outbox table {table} does not exist; run the service's migrations")]
    MissingTable { table: String },
    /// A serialization failure, deadlock or lock timeout: retry the whole
    /// transaction.
    #[error("transient database conflict; retry the transaction")]
    Conflict(#[source] DbErr),
    /// The database cannot be reached right now.
    #[error("database unavailable")]
    Unavailable(#[source] DbErr),
    /// Any other database failure.
    #[error("database error")]
    Database(#[source] DbErr),
}

impl OutboxError {
    /// Whether the same work can succeed if tried again later.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Conflict(_) | Self::Unavailable(_) => true,
            Self::InvalidName { .. }
            | Self::DuplicateEvent { .. }
            | Self::MissingTable { .. }
            | Self::Database(_) => false,
        }
    }
}

/// The outbox's failures in the one classification services retry and
/// answer by: a duplicate event id or a bad name is a bug, never retried.
impl From<OutboxError> for StoreError {
    fn from(error: OutboxError) -> Self {
        let (failure, pool_exhausted) = match &error {
            OutboxError::Conflict(_) => (DbFailure::Conflict, false),
            OutboxError::Unavailable(source) => {
                (DbFailure::Unavailable, DbFailure::is_pool_exhausted(source))
            }
            OutboxError::MissingTable { .. } => (DbFailure::UndefinedTable, false),
            OutboxError::InvalidName { .. }
            | OutboxError::DuplicateEvent { .. }
            | OutboxError::Database(_) => (DbFailure::Other, false),
        };
        StoreError::classify(failure, pool_exhausted, Box::new(error))
    }
}

/// Keeps the variant's fields (and its message naming the outbox) rather
/// than wrapping the shared error, so callers match it as before.
impl From<InvalidTableName> for OutboxError {
    fn from(error: InvalidTableName) -> Self {
        let InvalidTableName { kind, name, reason } = error;
        Self::InvalidName { kind, name, reason }
    }
}

/// SQLSTATE `unique_violation`.
const UNIQUE_VIOLATION: &str = "23505";
/// SQLSTATE `undefined_table`.
const UNDEFINED_TABLE: &str = "42P01";
/// SQLSTATE `serialization_failure`.
const SERIALIZATION_FAILURE: &str = "40001";
/// SQLSTATE `deadlock_detected`.
const DEADLOCK_DETECTED: &str = "40P01";
/// SQLSTATE `lock_not_available` (`lock_timeout`, `NOWAIT`).
const LOCK_NOT_AVAILABLE: &str = "55P03";
/// SQLSTATE class 08: connection exceptions.
const CONNECTION_EXCEPTION_CLASS: &str = "08";
/// SQLSTATE class 57P: operator intervention (shutdown, terminated session).
const OPERATOR_INTERVENTION_CLASS: &str = "57P";

/// Translates a database error met while working on `table`. `event_id` is
/// the event being inserted, when a unique violation can only mean it.
pub(crate) fn translate(error: DbErr, table: &OutboxTable, event_id: Option<Uuid>) -> OutboxError {
    if let DbErr::ConnectionAcquire(_) = error {
        return OutboxError::Unavailable(error);
    }
    let Some(sqlx_error) = sqlx_error(&error) else {
        return OutboxError::Database(error);
    };
    let Some(code) = sqlx_error
        .as_database_error()
        .and_then(|database_error| database_error.code())
        .map(|code| code.into_owned())
    else {
        // No SQLSTATE: the failure is in the transport, not the statement.
        return match sqlx_error {
            sea_orm::sqlx::Error::Io(_)
            | sea_orm::sqlx::Error::Tls(_)
            | sea_orm::sqlx::Error::PoolTimedOut
            | sea_orm::sqlx::Error::PoolClosed
            | sea_orm::sqlx::Error::WorkerCrashed => OutboxError::Unavailable(error),
            _ => OutboxError::Database(error),
        };
    };
    match code.as_str() {
        UNIQUE_VIOLATION => match event_id {
            Some(event_id) => OutboxError::DuplicateEvent { event_id },
            None => OutboxError::Database(error),
        },
        UNDEFINED_TABLE => OutboxError::MissingTable {
            table: table.to_string(),
        },
        SERIALIZATION_FAILURE | DEADLOCK_DETECTED | LOCK_NOT_AVAILABLE => {
            OutboxError::Conflict(error)
        }
        other
            if other.starts_with(CONNECTION_EXCEPTION_CLASS)
                || other.starts_with(OPERATOR_INTERVENTION_CLASS) =>
        {
            OutboxError::Unavailable(error)
        }
        _ => OutboxError::Database(error),
    }
}

fn sqlx_error(error: &DbErr) -> Option<&sea_orm::sqlx::Error> {
    match error {
        DbErr::Conn(RuntimeErr::SqlxError(inner))
        | DbErr::Exec(RuntimeErr::SqlxError(inner))
        | DbErr::Query(RuntimeErr::SqlxError(inner)) => Some(inner),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_without_a_sqlstate_are_classified_by_kind() {
        let table = OutboxTable::ORDERS;
        let unavailable = translate(
            DbErr::Conn(RuntimeErr::SqlxError(std::sync::Arc::new(
                sea_orm::sqlx::Error::PoolTimedOut,
            ))),
            &table,
            None,
        );
        assert!(matches!(unavailable, OutboxError::Unavailable(_)));
        assert!(unavailable.is_retryable());

        let other = translate(DbErr::Custom("boom".to_owned()), &table, None);
        assert!(matches!(other, OutboxError::Database(_)));
        assert!(!other.is_retryable());
    }
}
