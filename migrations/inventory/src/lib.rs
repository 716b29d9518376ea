//! The migrator of inventory-svc's schema (`inventory` unless
//! `INVENTORY_DB_SCHEMA` says otherwise). Every step runs in the schema the
//! pool's `search_path` names, so tests migrate fresh schemas of their own.

use ecommerce_db::SqlMigration;
use ecommerce_inbox::{InboxMigration, InboxTable};
use ecommerce_outbox::{OutboxMigration, OutboxTable};
use sea_orm_migration::{MigrationTrait, MigratorTrait, async_trait};

/// inventory-svc's migrations, oldest first.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(OutboxMigration::in_current_schema(
                "m20261127_000001_create_inventory_outbox",
                OutboxTable::INVENTORY,
            )),
            Box::new(InboxMigration::in_current_schema(
                "m20261127_000002_create_inventory_inbox",
                InboxTable::INVENTORY,
            )),
            Box::new(SqlMigration::new(
                "m20261127_000003_create_inventory_tables",
                include_str!("../sql/0003_inventory_tables.up.sql"),
                include_str!("../sql/0003_inventory_tables.down.sql"),
            )),
            Box::new(SqlMigration::new(
                "m20261201_000004_reservation_restocked",
                include_str!("../sql/0004_reservation_restocked.up.sql"),
                include_str!("../sql/0004_reservation_restocked.down.sql"),
            )),
        ]
    }
}
