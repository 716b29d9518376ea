//! The migrator of catalog-svc's schema (`catalog` unless `CATALOG_DB_SCHEMA`
//! says otherwise). Every step runs in the schema the pool's `search_path`
//! names, so tests migrate fresh schemas of their own.

use ecommerce_db::SqlMigration;
use ecommerce_outbox::{OutboxMigration, OutboxTable};
use sea_orm_migration::{MigrationTrait, MigratorTrait, async_trait};

/// catalog-svc's migrations, oldest first.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(OutboxMigration::in_current_schema(
                "m20261127_000001_create_catalog_outbox",
                OutboxTable::CATALOG,
            )),
            Box::new(SqlMigration::new(
                "m20261127_000002_create_catalog_tables",
                include_str!("../sql/0002_catalog_tables.up.sql"),
                include_str!("../sql/0002_catalog_tables.down.sql"),
            )),
        ]
    }
}
