//! The one translation of database errors into catalog errors.

use ecommerce_db::DbFailure;
use sea_orm::DbErr;

use crate::domain::error::CatalogError;
use crate::storage::{
    PRICES_IDEMPOTENCY_KEY, PRODUCTS_IDEMPOTENCY_KEY, VARIANTS_IDEMPOTENCY_KEY, VARIANTS_SKU_KEY,
};

/// Translates a failed statement. `subject` is the value a unique
/// violation would be about (the SKU being inserted), so ALREADY_EXISTS can
/// name it.
///
/// The SQLSTATE itself is classified by `ecommerce_db::DbFailure`, shared
/// by every service; this function decides what each class means here.
pub(crate) fn translate_naming(error: DbErr, subject: Option<&str>) -> CatalogError {
    let failure = DbFailure::classify(&error);
    match failure {
        DbFailure::UniqueViolation { constraint } => match constraint.as_str() {
            VARIANTS_SKU_KEY => CatalogError::AlreadyExists {
                what: match subject {
                    Some(sku) => format!("a variant with sku {sku:?}"),
                    None => "a variant with that sku".to_owned(),
                },
            },
            // Inserts with a key go through `ON CONFLICT (idempotency_key)
            // DO NOTHING`, so reaching this is a bug, not a retry.
            PRODUCTS_IDEMPOTENCY_KEY | VARIANTS_IDEMPOTENCY_KEY | PRICES_IDEMPOTENCY_KEY => {
                CatalogError::internal_from(
                    format!("idempotency key conflict on {constraint} outside ON CONFLICT"),
                    error,
                )
            }
            _ => CatalogError::internal_from(
                format!("unexpected unique violation of {constraint}"),
                error,
            ),
        },
        // Products and variants are never deleted, and every insert locks
        // its parent first: a dangling reference is a bug.
        DbFailure::ForeignKeyViolation { constraint } => {
            CatalogError::internal_from(format!("foreign key {constraint} violated"), error)
        }
        // Validation runs before any write; a CHECK failing means the two
        // disagree.
        DbFailure::CheckViolation { constraint } => {
            CatalogError::internal_from(format!("check constraint {constraint} violated"), error)
        }
        DbFailure::Conflict => CatalogError::Conflict(Box::new(error)),
        DbFailure::Unavailable => CatalogError::Unavailable(Box::new(error)),
        DbFailure::UndefinedTable => {
            CatalogError::internal_from("a catalog table is missing; run catalog-migration", error)
        }
        DbFailure::Other => CatalogError::internal_from("database error", error),
    }
}

/// [`translate_naming`] without a subject.
pub(crate) fn translate(error: DbErr) -> CatalogError {
    translate_naming(error, None)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sea_orm::RuntimeErr;

    use super::*;
    use crate::domain::error::ErrorKind;

    #[test]
    fn transport_failures_are_unavailable_and_the_rest_internal() {
        let timed_out = DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout);
        assert_eq!(translate(timed_out).kind(), ErrorKind::Unavailable);
        let closed = DbErr::Conn(RuntimeErr::SqlxError(Arc::new(
            sea_orm::sqlx::Error::PoolClosed,
        )));
        assert_eq!(translate(closed).kind(), ErrorKind::Unavailable);
        let custom = DbErr::Custom("boom".to_owned());
        let internal = translate(custom);
        assert_eq!(internal.kind(), ErrorKind::Internal);
        assert!(!internal.is_retryable());
    }
}
