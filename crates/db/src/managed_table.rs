//! A table a crate creates and drops itself, and its ready-made migration.

use async_trait::async_trait;
use sea_orm::{ConnectionTrait, DbErr};
use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager};

use crate::ddl::idempotent_ddl;
use crate::table_name::QualifiedTableName;

/// A table whose DDL a crate owns, e.g. the outbox's or the inbox's in each
/// service schema.
pub trait ManagedTable {
    /// Where the table lives.
    fn qualified_name(&self) -> &QualifiedTableName;

    /// The statements creating the table and its indexes, each
    /// `IF NOT EXISTS`; [`create_table`] runs them through
    /// [`idempotent_ddl`], under the lock and after creating the schema.
    fn create_statements(&self) -> String;
}

/// Creates `table` (and its schema) if missing; safe to run any number of
/// times, from several processes at once.
///
/// Works on anything SeaORM can run SQL on: a pool, a transaction, or, in a
/// migration, `manager.get_connection()`.
pub async fn create_table<C, T>(db: &C, table: &T) -> Result<(), DbErr>
where
    C: ConnectionTrait,
    T: ManagedTable + ?Sized,
{
    let sql = idempotent_ddl(table.qualified_name(), &table.create_statements());
    db.execute_unprepared(&sql).await?;
    Ok(())
}

/// Drops `table` if it exists; its schema stays, since the service owns it.
pub async fn drop_table<C, T>(db: &C, table: &T) -> Result<(), DbErr>
where
    C: ConnectionTrait,
    T: ManagedTable + ?Sized,
{
    let sql = format!(
        "DROP TABLE IF EXISTS {}",
        table.qualified_name().qualified()
    );
    db.execute_unprepared(&sql).await?;
    Ok(())
}

/// A migration creating one managed table (down drops it), for a service's
/// migrator. Crates name it for their table, e.g.
/// `type OutboxMigration = TableMigration<OutboxTable>`:
///
/// ```
/// use ecommerce_db::{ManagedTable, QualifiedTableName, TableMigration};
/// use sea_orm_migration::MigrationTrait;
///
/// struct AuditTable(QualifiedTableName);
///
/// impl ManagedTable for AuditTable {
///     fn qualified_name(&self) -> &QualifiedTableName {
///         &self.0
///     }
///
///     fn create_statements(&self) -> String {
///         format!("CREATE TABLE IF NOT EXISTS {} (id uuid PRIMARY KEY);", self.0.qualified())
///     }
/// }
///
/// let table = AuditTable(QualifiedTableName::preset("orders", "audit"));
/// let migrations: Vec<Box<dyn MigrationTrait>> = vec![Box::new(TableMigration::new(
///     "m20250601_000003_create_orders_audit",
///     table,
/// ))];
/// ```
#[derive(Clone, Debug)]
pub struct TableMigration<T> {
    name: &'static str,
    table: T,
}

impl<T> TableMigration<T> {
    /// `name` is the migration's stable name in the service's migrator.
    pub fn new(name: &'static str, table: T) -> Self {
        Self { name, table }
    }

    pub fn table(&self) -> &T {
        &self.table
    }
}

impl<T> MigrationName for TableMigration<T> {
    fn name(&self) -> &str {
        self.name
    }
}

#[async_trait]
impl<T> MigrationTrait for TableMigration<T>
where
    T: ManagedTable + Send + Sync,
{
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_table(manager.get_connection(), &self.table).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_table(manager.get_connection(), &self.table).await
    }
}
