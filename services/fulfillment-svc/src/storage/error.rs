//! The one translation of database errors into the service's errors.

use ecommerce_db::DbFailure;
use sea_orm::DbErr;

use crate::app::error::AppError;

/// Translates a failed statement: conflicts and lost connections are
/// retried (by the gRPC transaction loop, or by the broker for a consumer),
/// everything else is internal, since the domain checks every rule before a
/// write and a violated constraint means the two disagree.
pub(crate) fn translate(error: DbErr) -> AppError {
    match DbFailure::classify(&error) {
        DbFailure::Conflict => AppError::Conflict(error.to_string()),
        DbFailure::Unavailable => AppError::Unavailable(error.to_string()),
        DbFailure::UniqueViolation { constraint } => {
            // Two commits of one order raced past the order lock's absence
            // (it is taken first, so this should not happen): retry, and the
            // retry finds the winner's shipment.
            AppError::Conflict(format!("unique violation of {constraint}: {error}"))
        }
        DbFailure::ForeignKeyViolation { constraint } => {
            AppError::Internal(format!("foreign key {constraint} violated: {error}"))
        }
        DbFailure::CheckViolation { constraint } => {
            AppError::Internal(format!("check constraint {constraint} violated: {error}"))
        }
        DbFailure::UndefinedTable => AppError::Internal(format!(
            "a fulfillment table is missing; run fulfillment-migration: {error}"
        )),
        DbFailure::Other => AppError::Internal(format!("database error: {error}")),
    }
}
