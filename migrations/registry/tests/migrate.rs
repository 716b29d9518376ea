//! The migrator runs up, down and up again on a fresh schema, and seeds the
//! global compatibility level BACKWARD.
#![allow(clippy::unwrap_used)]

use ecommerce_test_support::TestSchema;
use registry_migration::Migrator;
use sea_orm_migration::MigratorTrait;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

async fn global_level(schema: &TestSchema) -> String {
    schema
        .db()
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT compatibility_level FROM config",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<String>("", "compatibility_level")
        .unwrap()
}

async fn count(schema: &TestSchema, sql: &str) -> i64 {
    schema
        .db()
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap()
}

#[tokio::test]
async fn migrates_up_down_and_up_again_with_the_global_default() {
    let schema = TestSchema::create("registry_migration").await.unwrap();
    Migrator::up(schema.db(), None).await.unwrap();
    assert_eq!(global_level(&schema).await, "BACKWARD");
    Migrator::down(schema.db(), None).await.unwrap();
    let tables = count(
        &schema,
        "SELECT count(*) AS n FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_name <> 'seaql_migrations'",
    )
    .await;
    assert_eq!(tables, 0);
    Migrator::up(schema.db(), None).await.unwrap();
    assert_eq!(global_level(&schema).await, "BACKWARD");
    schema.drop_schema().await.unwrap();
}
