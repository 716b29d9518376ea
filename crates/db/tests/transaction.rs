//! `transaction!` against the real Postgres: what it commits, rolls back and
//! runs again, counted.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use ecommerce_db::{
    DatabaseSettings, DbFailure, StoreError, TRANSACTION_ATTEMPTS, TransactionError, connect,
    transaction,
};
use ecommerce_platform::grpc::{ErrorCode, ServiceError};
use ecommerce_platform::settings::{EnvSource, ServiceInfo};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait as _, Value,
};

const SERVICE: ServiceInfo = ServiceInfo {
    name: "db-test",
    env_prefix: "DB_TEST",
    default_port: 0,
};

/// A service's error: one refusal of its own plus the storage case.
#[derive(Debug, thiserror::Error)]
enum WidgetError {
    #[error("widget {0} is sold out")]
    SoldOut(i32),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl TransactionError for WidgetError {
    fn store_error(&self) -> Option<&StoreError> {
        match self {
            Self::Store(error) => Some(error),
            Self::SoldOut(_) => None,
        }
    }
}

struct Widgets {
    db: DatabaseConnection,
    schema: String,
}

impl Widgets {
    async fn new() -> Self {
        let schema = format!("t_db_tx_{}", uuid::Uuid::now_v7().simple());
        let url = std::env::var("DATABASE_URL")
            .unwrap_or_else(|_| ecommerce_db::DEFAULT_DATABASE_URL.to_owned());
        let source = EnvSource::from_pairs([
            ("DATABASE_URL", url.as_str()),
            ("DB_TEST_DB_SCHEMA", schema.as_str()),
        ]);
        let settings = DatabaseSettings::from_source(&SERVICE, "unused", &source).unwrap();
        let db = connect(&settings).await.unwrap();
        db.execute_unprepared("CREATE TABLE widgets (id int PRIMARY KEY, stock int NOT NULL)")
            .await
            .unwrap();
        Self { db, schema }
    }

    async fn count(&self) -> i64 {
        let row = self
            .db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT count(*) AS n FROM widgets",
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get("", "n").unwrap()
    }

    async fn drop(self) {
        self.db
            .execute_unprepared(&format!("DROP SCHEMA \"{}\" CASCADE", self.schema))
            .await
            .unwrap();
        self.db.close().await.unwrap();
    }
}

async fn insert<C: ConnectionTrait>(db: &C, id: i32) -> Result<(), StoreError> {
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO widgets (id, stock) VALUES ($1, 1)",
        [Value::from(id)],
    ))
    .await?;
    Ok(())
}

#[tokio::test]
async fn commits_what_the_block_wrote_and_returns_its_value() {
    let widgets = Widgets::new().await;
    let db = &widgets.db;
    let id = 7;
    let value = transaction!(WidgetError, "insert", db.begin(), |tx| {
        insert(tx, id).await?;
        Ok(id * 2)
    })
    .unwrap();
    assert_eq!(value, 14);
    assert_eq!(widgets.count().await, 1);
    widgets.drop().await;
}

#[tokio::test]
async fn a_refusal_of_the_service_rolls_back_and_is_not_retried() {
    let widgets = Widgets::new().await;
    let db = &widgets.db;
    let attempts = AtomicU32::new(0);
    let outcome: Result<(), WidgetError> = transaction!(WidgetError, "sell", db.begin(), |tx| {
        attempts.fetch_add(1, Ordering::SeqCst);
        insert(tx, 1).await?;
        Err(WidgetError::SoldOut(1))
    });
    assert!(matches!(outcome, Err(WidgetError::SoldOut(1))));
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
    assert_eq!(
        widgets.count().await,
        0,
        "the attempt's insert is rolled back"
    );
    widgets.drop().await;
}

#[tokio::test]
async fn a_conflict_runs_the_whole_block_again_on_a_fresh_transaction() {
    let widgets = Widgets::new().await;
    let db = &widgets.db;
    let attempts = AtomicU32::new(0);
    transaction!(WidgetError, "insert", db.begin(), |tx| {
        let attempt = attempts.fetch_add(1, Ordering::SeqCst) + 1;
        insert(tx, 1).await?;
        if attempt == 1 {
            return Err(StoreError::conflict("version 1 moved on").into());
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    assert_eq!(
        widgets.count().await,
        1,
        "the first attempt's insert is gone"
    );
    widgets.drop().await;
}

#[tokio::test]
async fn a_lock_timeout_is_retried_until_the_lock_is_free() {
    let widgets = Widgets::new().await;
    let db = &widgets.db;
    insert(db, 1).await.unwrap();
    let holder = db.begin().await.unwrap();
    holder
        .execute_unprepared("SELECT * FROM widgets WHERE id = 1 FOR UPDATE")
        .await
        .unwrap();
    let holder = Mutex::new(Some(holder));
    let attempts = AtomicU32::new(0);
    transaction!(WidgetError, "restock", db.begin(), |tx| {
        if attempts.fetch_add(1, Ordering::SeqCst) == 1 {
            // The second attempt: the competing transaction finishes.
            let held = holder.lock().unwrap().take();
            held.unwrap().commit().await.map_err(StoreError::from)?;
        }
        tx.execute_unprepared("SET LOCAL lock_timeout = '50ms'")
            .await
            .map_err(StoreError::from)?;
        tx.execute_unprepared("UPDATE widgets SET stock = stock + 1 WHERE id = 1")
            .await
            .map_err(StoreError::from)?;
        Ok(())
    })
    .unwrap();
    assert_eq!(attempts.load(Ordering::SeqCst), 2, "55P03 once, then done");
    widgets.drop().await;
}

#[tokio::test]
async fn an_unclaimed_unique_violation_is_retried_then_internal() {
    let widgets = Widgets::new().await;
    let db = &widgets.db;
    insert(db, 1).await.unwrap();
    let attempts = AtomicU32::new(0);
    let outcome: Result<(), WidgetError> = transaction!(WidgetError, "insert", db.begin(), |tx| {
        attempts.fetch_add(1, Ordering::SeqCst);
        insert(tx, 1).await?;
        Ok(())
    });
    let error = outcome.unwrap_err();
    let store = error.store_error().unwrap();
    assert!(matches!(
        store.failure(),
        DbFailure::UniqueViolation { constraint } if constraint == "widgets_pkey"
    ));
    assert_eq!(store.code(), ErrorCode::Internal);
    assert_eq!(attempts.load(Ordering::SeqCst), TRANSACTION_ATTEMPTS);
    widgets.drop().await;
}

#[tokio::test]
async fn a_claimed_unique_violation_is_the_services_answer_at_once() {
    let widgets = Widgets::new().await;
    let db = &widgets.db;
    insert(db, 1).await.unwrap();
    let attempts = AtomicU32::new(0);
    let outcome: Result<(), WidgetError> = transaction!(WidgetError, "insert", db.begin(), |tx| {
        attempts.fetch_add(1, Ordering::SeqCst);
        match insert(tx, 1).await {
            Err(error) if error.is_unique_violation_of("widgets_pkey") => {
                Err(WidgetError::SoldOut(1))
            }
            other => Ok(other?),
        }
    });
    assert!(matches!(outcome, Err(WidgetError::SoldOut(1))));
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
    widgets.drop().await;
}
