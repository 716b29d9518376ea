//! The migrator of schema-registry's schema (`registry` unless
//! `SCHEMA_REGISTRY_DB_SCHEMA` says otherwise). Every step runs in the schema
//! the pool's `search_path` names, so tests migrate fresh schemas of their
//! own.
//!
//! The registry publishes and consumes no events, so unlike the other
//! services' migrators this one creates no outbox and no inbox.

use ecommerce_db::SqlMigration;
use sea_orm_migration::{MigrationTrait, MigratorTrait, async_trait};

/// schema-registry's migrations, oldest first.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(SqlMigration::new(
            "m20261206_000001_create_registry_tables",
            include_str!("../sql/0001_registry_tables.up.sql"),
            include_str!("../sql/0001_registry_tables.down.sql"),
        ))]
    }
}
