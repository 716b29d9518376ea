//! The migrator runs up, down and up again on a fresh schema.
#![allow(clippy::unwrap_used)]

use ecommerce_test_support::TestSchema;
use reporting_migration::Migrator;
use sea_orm_migration::MigratorTrait;

const TABLES: &str = "SELECT count(*) AS n FROM information_schema.tables \
     WHERE table_schema = current_schema() AND table_name <> 'seaql_migrations'";

#[tokio::test]
async fn migrates_up_down_and_up_again() {
    let schema = TestSchema::create("reporting_migration").await.unwrap();
    Migrator::up(schema.db(), None).await.unwrap();
    // products, variants, orders, order_lines, captures, stock_levels,
    // stream_cursors, processed_messages.
    assert_eq!(schema.count(TABLES).await, 8);
    Migrator::down(schema.db(), None).await.unwrap();
    assert_eq!(schema.count(TABLES).await, 0);
    Migrator::up(schema.db(), None).await.unwrap();
    assert_eq!(schema.count(TABLES).await, 8);
    schema.drop_schema().await.unwrap();
}
