//! The migrator of payments-svc's schema (`payments` unless
//! `PAYMENTS_DB_SCHEMA` says otherwise). Every step runs in the schema the
//! pool's `search_path` names, so tests migrate fresh schemas of their own.
//!
//! 1. the outbox (`payments_outbox_events`), which the relay publishes to
//!    `orders.events`;
//! 2. the inbox (`processed_messages`), shared by the three consumers
//!    (`payments.order-events`, `payments.inventory-events`,
//!    `payments.fulfillment-events`);
//! 3. `payments`, one row per order, with the CHECK constraints of the
//!    payment state machine (see `payments_svc::domain::PaymentColumns`).

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
                "m20261127_000001_create_payments_outbox",
                OutboxTable::PAYMENTS,
            )),
            Box::new(InboxMigration::in_current_schema(
                "m20261127_000002_create_payments_inbox",
                InboxTable::PAYMENTS,
            )),
            Box::new(SqlMigration::new(
                "m20261127_000003_create_payments_tables",
                include_str!("../sql/0003_payments_tables.up.sql"),
                include_str!("../sql/0003_payments_tables.down.sql"),
            )),
        ]
    }
}
