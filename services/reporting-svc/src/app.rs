//! The use cases: applying an event's facts in the stream inbox's
//! transaction, the four reports, and the rebuild.

use ecommerce_db::{StoreError, TransactionError};
use ecommerce_events::{DecodedEvent, EventMetadata};
use ecommerce_inbox::HandlerError;
use ecommerce_platform::grpc::{ErrorCode, ServiceError};
use sea_orm::{ConnectionTrait, DatabaseConnection};

use crate::convert::{LowStockQuery, SalesQuery};
use crate::domain::{Range, ReportingError, facts_of};
use crate::storage::{self, Funnel, SalesRow, SkuSalesRow, StockRow};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Domain(#[from] ReportingError),
    /// A storage failure: retried, and its status, by the one policy.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl TransactionError for AppError {
    fn store_error(&self) -> Option<&StoreError> {
        match self {
            Self::Store(error) => Some(error),
            Self::Domain(_) => None,
        }
    }
}

impl ServiceError for AppError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Domain(error) => error.code(),
            Self::Store(error) => error.code(),
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            Self::Domain(ReportingError::InvalidArgument(invalid)) => Some(&invalid.field),
            Self::Store(_) => None,
        }
    }
}

/// For the stream inbox: storage failures come again, refusals are skipped.
impl From<AppError> for HandlerError {
    fn from(error: AppError) -> Self {
        Self::from_service_error(error)
    }
}

/// One page of a list and where the next starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The last item, when more follow it.
    pub more: bool,
}

fn page<T>(mut items: Vec<T>, page_size: u64) -> Page<T> {
    let size = usize::try_from(page_size).unwrap_or(usize::MAX);
    let more = items.len() > size;
    items.truncate(size);
    Page { items, more }
}

/// reporting-svc's application: cheap to clone.
#[derive(Clone, Debug)]
pub struct ReportingApp {
    db: DatabaseConnection,
}

impl ReportingApp {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Applies what `event` says to the read model, in `db` (the stream
    /// inbox's transaction). A malformed event is refused for good.
    pub async fn apply_in<C: ConnectionTrait>(
        &self,
        db: &C,
        event: &DecodedEvent,
        metadata: &EventMetadata,
    ) -> Result<(), HandlerError> {
        let facts = facts_of(event, metadata)
            .map_err(|invalid| HandlerError::permanent(invalid.to_string()))?;
        for fact in &facts {
            storage::apply(db, fact, metadata.occurred_at)
                .await
                .map_err(AppError::from)?;
        }
        Ok(())
    }

    pub async fn sales_summary(&self, query: &SalesQuery) -> Result<Page<SalesRow>, AppError> {
        let rows = storage::sales(
            &self.db,
            query.range,
            query.granularity,
            query.currency.as_deref(),
            query.after.as_ref(),
            query.page_size + 1,
        )
        .await?;
        Ok(page(rows, query.page_size))
    }

    pub async fn top_products(
        &self,
        range: Range,
        limit: u64,
    ) -> Result<Vec<SkuSalesRow>, AppError> {
        Ok(storage::top_products(&self.db, range, limit).await?)
    }

    pub async fn funnel(&self, range: Range) -> Result<Funnel, AppError> {
        Ok(storage::funnel(&self.db, range).await?)
    }

    pub async fn low_stock(&self, query: &LowStockQuery) -> Result<Page<StockRow>, AppError> {
        let rows = storage::low_stock(
            &self.db,
            query.threshold,
            query.after.as_ref(),
            query.page_size + 1,
        )
        .await?;
        Ok(page(rows, query.page_size))
    }
}
