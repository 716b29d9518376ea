//! The one place a database error's SQLSTATE becomes a meaning.

use sea_orm::{DbErr, RuntimeErr};

/// What a failed statement means to a caller, whatever the table.
///
/// Services map these to their own errors (a unique violation on
/// `users_email_key` is "email already in use"); [`StoreError`](crate::StoreError)
/// carries one and decides what is retried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DbFailure {
    /// 23505, with the violated constraint's (or unique index's) name.
    UniqueViolation { constraint: String },
    /// 23503, with the constraint's name.
    ForeignKeyViolation { constraint: String },
    /// 23514, with the constraint's name: input that validation should have
    /// caught, so a bug rather than a user error.
    CheckViolation { constraint: String },
    /// 40001, 40P01, 55P03: a serialization failure, deadlock or lock
    /// timeout. Retry the whole transaction.
    Conflict,
    /// No connection in time, connection lost, server shutting down
    /// (class 08, 57P) or a session terminated by an operator.
    Unavailable,
    /// 42P01: a table is missing, the migrations did not run.
    UndefinedTable,
    /// Anything else: a bug or an unexpected state.
    Other,
}

impl DbFailure {
    /// Classifies `error` by its SQLSTATE, or by its transport failure.
    pub fn classify(error: &DbErr) -> Self {
        if let DbErr::ConnectionAcquire(_) = error {
            return Self::Unavailable;
        }
        let Some(sqlx_error) = sqlx_error(error) else {
            return Self::Other;
        };
        let Some(database_error) = sqlx_error.as_database_error() else {
            // No SQLSTATE: the failure is in the transport, not the statement.
            return match sqlx_error {
                sea_orm::sqlx::Error::Io(_)
                | sea_orm::sqlx::Error::Tls(_)
                | sea_orm::sqlx::Error::PoolTimedOut
                | sea_orm::sqlx::Error::PoolClosed
                | sea_orm::sqlx::Error::WorkerCrashed => Self::Unavailable,
                _ => Self::Other,
            };
        };
        let constraint = || database_error.constraint().unwrap_or_default().to_owned();
        let code = database_error.code().map(|code| code.into_owned());
        match code.as_deref() {
            Some("23505") => Self::UniqueViolation {
                constraint: constraint(),
            },
            Some("23503") => Self::ForeignKeyViolation {
                constraint: constraint(),
            },
            Some("23514") => Self::CheckViolation {
                constraint: constraint(),
            },
            Some("40001" | "40P01" | "55P03") => Self::Conflict,
            Some("42P01") => Self::UndefinedTable,
            Some(other) if other.starts_with("08") || other.starts_with("57P") => Self::Unavailable,
            _ => Self::Other,
        }
    }

    /// Whether `error` is the pool giving up on finding a connection: an
    /// outage the pool has already waited out, so not worth a retry.
    pub fn is_pool_exhausted(error: &DbErr) -> bool {
        matches!(error, DbErr::ConnectionAcquire(_))
            || matches!(sqlx_error(error), Some(sea_orm::sqlx::Error::PoolTimedOut))
    }

    /// Whether this is a unique violation of `constraint`.
    pub fn is_unique_violation_of(&self, name: &str) -> bool {
        matches!(self, Self::UniqueViolation { constraint } if constraint == name)
    }
}

fn sqlx_error(error: &DbErr) -> Option<&sea_orm::sqlx::Error> {
    match error {
        DbErr::Conn(RuntimeErr::SqlxError(inner))
        | DbErr::Exec(RuntimeErr::SqlxError(inner))
        | DbErr::Query(RuntimeErr::SqlxError(inner)) => Some(inner.as_ref()),
        _ => None,
    }
}
