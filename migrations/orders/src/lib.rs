//! The migrator of orders-svc's schema (`orders` unless `ORDERS_DB_SCHEMA`
//! says otherwise). Every step runs in the schema the pool's `search_path`
//! names, so tests migrate fresh schemas of their own.
//!
//! 1. the outbox (`orders_outbox_events`), which the relay publishes to
//!    `orders.events`;
//! 2. the inbox (`processed_messages`), shared by the three consumers
//!    (`orders.inventory-events`, `orders.payment-events`,
//!    `orders.fulfillment-events`);
//! 3. `orders`, `order_lines` and `order_status_history`;
//! 4. `orders.snapshot_digest`, what tells a retried checkout from another
//!    one reusing its key.

use ecommerce_db::SqlMigration;
use ecommerce_inbox::{InboxMigration, InboxTable};
use ecommerce_outbox::{OutboxMigration, OutboxTable};
use sea_orm_migration::{MigrationTrait, MigratorTrait, async_trait};

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(OutboxMigration::in_current_schema(
                "m20261127_000001_create_orders_outbox",
                OutboxTable::ORDERS,
            )),
            Box::new(InboxMigration::in_current_schema(
                "m20261127_000002_create_orders_inbox",
                InboxTable::ORDERS,
            )),
            Box::new(SqlMigration::new(
                "m20261127_000003_create_orders_tables",
                include_str!("../sql/0003_orders_tables.up.sql"),
                include_str!("../sql/0003_orders_tables.down.sql"),
            )),
            Box::new(SqlMigration::new(
                "m20261201_000004_add_orders_snapshot_digest",
                include_str!("../sql/0004_orders_snapshot_digest.up.sql"),
                include_str!("../sql/0004_orders_snapshot_digest.down.sql"),
            )),
        ]
    }
}
