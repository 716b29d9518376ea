//! The migrator runs up, down and up again on a fresh schema, and seeds
//! exactly one default shipping option.
#![allow(clippy::unwrap_used)]

use ecommerce_test_support::TestSchema;
use fulfillment_migration::Migrator;
use sea_orm_migration::MigratorTrait;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

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
async fn migrates_up_down_and_up_again_with_the_seeded_options() {
    let schema = TestSchema::create("fulfillment_migration").await.unwrap();
    Migrator::up(schema.db(), None).await.unwrap();
    assert_eq!(
        count(&schema, "SELECT count(*) AS n FROM shipping_options").await,
        2
    );
    assert_eq!(
        count(
            &schema,
            "SELECT count(*) AS n FROM shipping_options WHERE is_default"
        )
        .await,
        1
    );
    Migrator::down(schema.db(), None).await.unwrap();
    let tables = count(
        &schema,
        "SELECT count(*) AS n FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_name <> 'seaql_migrations'",
    )
    .await;
    assert_eq!(tables, 0);
    Migrator::up(schema.db(), None).await.unwrap();
    assert_eq!(
        count(&schema, "SELECT count(*) AS n FROM shipping_options").await,
        2
    );
    schema.drop_schema().await.unwrap();
}
