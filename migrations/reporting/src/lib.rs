//! The migrator of reporting-svc's schema (`reporting` unless
//! `REPORTING_DB_SCHEMA` says otherwise). Every step runs in the schema the
//! pool's `search_path` names, so tests migrate fresh schemas of their own.
//! reporting-svc emits no events, so it has no outbox table.

use ecommerce_db::SqlMigration;
use ecommerce_inbox::{InboxMigration, InboxTable};
use sea_orm_migration::{MigrationTrait, MigratorTrait, async_trait};

/// The inbox table's preset schema; the migration creates it in whichever
/// schema it runs in.
const INBOX_SCHEMA: &str = "reporting";

/// reporting-svc's migrations, oldest first.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        // A valid literal schema name: `new` only refuses invalid names.
        #[allow(clippy::expect_used)]
        let inbox = InboxTable::new(INBOX_SCHEMA).expect("a valid schema name");
        vec![
            Box::new(InboxMigration::in_current_schema(
                "m20261207_000001_create_reporting_inbox",
                inbox,
            )),
            Box::new(SqlMigration::new(
                "m20261207_000002_create_reporting_tables",
                include_str!("../sql/0002_reporting_tables.up.sql"),
                include_str!("../sql/0002_reporting_tables.down.sql"),
            )),
        ]
    }
}
