//! The migrator of fulfillment-svc's schema (`fulfillment` unless
//! `FULFILLMENT_DB_SCHEMA` says otherwise). Every step runs in the schema the
//! pool's `search_path` names, so tests migrate fresh schemas of their own.

use ecommerce_db::SqlMigration;
use ecommerce_inbox::{InboxMigration, InboxTable};
use ecommerce_outbox::{OutboxMigration, OutboxTable};
use sea_orm_migration::{MigrationTrait, MigratorTrait, async_trait};

/// fulfillment-svc's migrations, oldest first.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(OutboxMigration::in_current_schema(
                "m20261127_000001_create_fulfillment_outbox",
                OutboxTable::FULFILLMENT,
            )),
            Box::new(InboxMigration::in_current_schema(
                "m20261127_000002_create_fulfillment_inbox",
                InboxTable::FULFILLMENT,
            )),
            Box::new(SqlMigration::new(
                "m20261127_000003_create_fulfillment_tables",
                include_str!("../sql/0003_fulfillment_tables.up.sql"),
                include_str!("../sql/0003_fulfillment_tables.down.sql"),
            )),
            Box::new(SqlMigration::new(
                "m20261201_000004_order_notes_and_canceled_shipments",
                include_str!("../sql/0004_order_notes_and_canceled_shipments.up.sql"),
                include_str!("../sql/0004_order_notes_and_canceled_shipments.down.sql"),
            )),
        ]
    }
}
