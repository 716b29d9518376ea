//! The crate's errors: building an inbox, and a handler's failure.

use ecommerce_broker::HandlerOutcome;
use ecommerce_db::{InvalidTableName, StoreError, TransactionError};
use ecommerce_outbox::OutboxError;
use sea_orm::DbErr;

/// Why an inbox could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    /// A schema or table name that is not a plain lowercase identifier.
    #[error("invalid inbox {kind} name {name:?}: {reason}")]
    InvalidName {
        kind: &'static str,
        name: String,
        reason: &'static str,
    },
}

/// Keeps the variant's fields (and its message naming the inbox) rather
/// than wrapping the shared error, so callers match it as before.
impl From<InvalidTableName> for InboxError {
    fn from(error: InvalidTableName) -> Self {
        let InvalidTableName { kind, name, reason } = error;
        Self::InvalidName { kind, name, reason }
    }
}

/// Why a handler did not apply an event. Either way its transaction is
/// rolled back, so the event is not recorded as processed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    /// May succeed later (a database hiccup, a lock conflict, a dependency
    /// down): the message is requeued after a backoff, and dead-lettered
    /// once the consumer's retry budget is spent.
    #[error("transient failure: {0}")]
    Transient(String),
    /// Will never succeed (an invalid event, a broken invariant): the message
    /// goes to the dead-letter queue at once, with this reason.
    #[error("permanent failure: {0}")]
    Permanent(String),
}

impl HandlerError {
    pub fn transient(reason: impl Into<String>) -> Self {
        Self::Transient(reason.into())
    }

    pub fn permanent(reason: impl Into<String>) -> Self {
        Self::Permanent(reason.into())
    }

    /// What a service's error means to a consumer: a storage failure of
    /// any kind, like a [`DbErr`], and whatever else the service's
    /// [`TransactionError::is_retryable`] says a retry may cure, come again
    /// (the consumer's retry budget dead-letters what keeps failing); the
    /// service's own refusals (an invalid event, a broken invariant) are
    /// dead-lettered at once.
    pub fn from_service_error<E>(error: E) -> Self
    where
        E: TransactionError + std::error::Error,
    {
        if error.store_error().is_some() || error.is_retryable() {
            Self::Transient(error_chain(&error))
        } else {
            Self::Permanent(error_chain(&error))
        }
    }

    /// The reason, without the kind.
    pub fn reason(&self) -> &str {
        match self {
            Self::Transient(reason) | Self::Permanent(reason) => reason,
        }
    }
}

/// Transient, like a [`DbErr`]: see [`HandlerError::from_service_error`].
impl From<StoreError> for HandlerError {
    fn from(error: StoreError) -> Self {
        Self::Transient(error_chain(&error))
    }
}

/// A database error is usually transient (a conflict, a restart, a full
/// pool); when it is not, the retry budget bounds the cost and the message
/// ends in the DLQ with the error as its reason.
impl From<DbErr> for HandlerError {
    fn from(error: DbErr) -> Self {
        Self::Transient(error_chain(&error))
    }
}

/// An event that can never be written (an invalid table name, an event id
/// written before) is permanent; anything else is retried like a [`DbErr`].
/// A missing table stays transient: a deploy may still be migrating.
impl From<OutboxError> for HandlerError {
    fn from(error: OutboxError) -> Self {
        let reason = error_chain(&error);
        match error {
            OutboxError::InvalidName { .. } | OutboxError::DuplicateEvent { .. } => {
                Self::Permanent(reason)
            }
            _ => Self::Transient(reason),
        }
    }
}

impl From<HandlerError> for HandlerOutcome {
    fn from(error: HandlerError) -> Self {
        match error {
            HandlerError::Transient(reason) => Self::Retry { reason },
            HandlerError::Permanent(reason) => Self::DeadLetter { reason },
        }
    }
}

pub(crate) use ecommerce_platform::error_chain;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_failures_are_retried_and_permanent_ones_dead_lettered() {
        assert_eq!(
            HandlerOutcome::from(HandlerError::transient("database unavailable")),
            HandlerOutcome::retry("database unavailable")
        );
        assert_eq!(
            HandlerOutcome::from(HandlerError::permanent("an order without lines")),
            HandlerOutcome::dead_letter("an order without lines")
        );
    }

    #[test]
    fn database_and_outbox_errors_are_transient_and_keep_their_cause() {
        let from_database = HandlerError::from(DbErr::Custom("connection reset".to_owned()));
        assert!(matches!(from_database, HandlerError::Transient(_)));
        assert!(
            from_database.reason().contains("connection reset"),
            "{from_database}"
        );

        let from_outbox = HandlerError::from(OutboxError::Database(DbErr::Custom(
            "relation does not exist".to_owned(),
        )));
        assert!(matches!(from_outbox, HandlerError::Transient(_)));
        assert_eq!(
            from_outbox.reason(),
            "database error: Custom Error: relation does not exist"
        );
    }

    #[test]
    fn an_outbox_write_that_can_never_succeed_is_permanent() {
        let duplicate = HandlerError::from(OutboxError::DuplicateEvent {
            event_id: uuid::Uuid::nil(),
        });
        assert!(
            matches!(duplicate, HandlerError::Permanent(_)),
            "{duplicate}"
        );
        let missing = HandlerError::from(OutboxError::MissingTable {
            table: "inventory.inventory_outbox_events".to_owned(),
        });
        assert!(matches!(missing, HandlerError::Transient(_)), "{missing}");
    }
}
