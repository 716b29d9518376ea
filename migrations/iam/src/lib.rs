//! The migrator of iam-svc's schema (`auth` unless `IAM_DB_SCHEMA` says
//! otherwise). Every step runs in the schema the pool's `search_path`
//! names, so tests migrate fresh schemas of their own.

use ecommerce_db::SqlMigration;
use ecommerce_outbox::{OutboxMigration, OutboxTable};
use sea_orm_migration::{MigrationTrait, MigratorTrait, async_trait};

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(OutboxMigration::in_current_schema(
                "m20261127_000001_create_iam_outbox",
                OutboxTable::IAM,
            )),
            Box::new(SqlMigration::new(
                "m20261127_000002_create_iam_tables",
                include_str!("../sql/0002_iam_tables.up.sql"),
                include_str!("../sql/0002_iam_tables.down.sql"),
            )),
            Box::new(SqlMigration::new(
                "m20261201_000003_mark_bootstrap_admin",
                include_str!("../sql/0003_bootstrap_marker.up.sql"),
                include_str!("../sql/0003_bootstrap_marker.down.sql"),
            )),
        ]
    }
}
