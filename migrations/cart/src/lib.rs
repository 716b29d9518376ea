//! The migrator of cart-svc's schema (`cart` unless `CART_DB_SCHEMA` says
//! otherwise). Every step runs in the schema the pool's `search_path` names,
//! so tests migrate fresh schemas of their own. Cart publishes no events, so
//! there is no outbox; the inbox records the catalog events it consumed.

use ecommerce_db::SqlMigration;
use ecommerce_inbox::{InboxMigration, InboxTable};
use sea_orm_migration::{MigrationTrait, MigratorTrait, async_trait};

/// cart-svc's migrations, oldest first.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(InboxMigration::in_current_schema(
                "m20261127_000001_create_cart_inbox",
                InboxTable::CART,
            )),
            Box::new(SqlMigration::new(
                "m20261127_000002_create_cart_tables",
                include_str!("../sql/0002_cart_tables.up.sql"),
                include_str!("../sql/0002_cart_tables.down.sql"),
            )),
            Box::new(SqlMigration::new(
                "m20261201_000003_store_checkout_attempts",
                include_str!("../sql/0003_checkout_attempts.up.sql"),
                include_str!("../sql/0003_checkout_attempts.down.sql"),
            )),
            Box::new(SqlMigration::new(
                "m20261210_000004_limit_anonymous_carts",
                include_str!("../sql/0004_anonymous_cart_limits.up.sql"),
                include_str!("../sql/0004_anonymous_cart_limits.down.sql"),
            )),
        ]
    }
}
