//! A table a crate creates and drops itself, and its ready-made migration.

use async_trait::async_trait;
use sea_orm::{ConnectionTrait, DbErr, Statement};
use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager};

use crate::ddl::idempotent_ddl;
use crate::table_name::{InvalidTableName, QualifiedTableName};

/// A table whose DDL a crate owns, e.g. the outbox's or the inbox's in each
/// service schema.
pub trait ManagedTable {
    /// Where the table lives.
    fn qualified_name(&self) -> &QualifiedTableName;

    /// The statements creating the table and its indexes, each
    /// `IF NOT EXISTS`; [`create_table`] runs them through
    /// [`idempotent_ddl`], under the lock and after creating the schema.
    fn create_statements(&self) -> String;

    /// The same table in `schema`. Lets a service's migrator create the
    /// table in whatever schema it runs in (see
    /// [`TableMigration::in_current_schema`]).
    fn relocated(&self, schema: &str) -> Result<Self, InvalidTableName>
    where
        Self: Sized;
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
/// use ecommerce_db::{InvalidTableName, ManagedTable, QualifiedTableName, TableMigration};
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
///
///     fn relocated(&self, schema: &str) -> Result<Self, InvalidTableName> {
///         Ok(Self(self.0.in_schema(schema)?))
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
    in_current_schema: bool,
}

impl<T> TableMigration<T> {
    /// `name` is the migration's stable name in the service's migrator.
    pub fn new(name: &'static str, table: T) -> Self {
        Self {
            name,
            table,
            in_current_schema: false,
        }
    }

    /// Creates `table`'s name in the schema the migration runs in (the
    /// pool's `search_path`, see [`connect`](crate::connect)) rather than in
    /// the schema `table` names. A service's migrator lists its migrations
    /// in a `fn` without arguments, yet runs against the schema its settings
    /// (or a test) chose: `OutboxMigration::in_current_schema("m…", OutboxTable::CATALOG)`.
    pub fn in_current_schema(name: &'static str, table: T) -> Self {
        Self {
            name,
            table,
            in_current_schema: true,
        }
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
        let connection = manager.get_connection();
        match self.table_here(connection).await? {
            Some(table) => create_table(connection, &table).await,
            None => create_table(connection, &self.table).await,
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let connection = manager.get_connection();
        match self.table_here(connection).await? {
            Some(table) => drop_table(connection, &table).await,
            None => drop_table(connection, &self.table).await,
        }
    }
}

impl<T: ManagedTable> TableMigration<T> {
    /// The table relocated to the connection's current schema, when asked for.
    async fn table_here<C: ConnectionTrait>(&self, connection: &C) -> Result<Option<T>, DbErr> {
        if !self.in_current_schema {
            return Ok(None);
        }
        let schema = current_schema(connection).await?;
        let table = self
            .table
            .relocated(&schema)
            .map_err(|error| DbErr::Custom(error.to_string()))?;
        Ok(Some(table))
    }
}

/// The first schema of the connection's `search_path`.
pub async fn current_schema<C: ConnectionTrait>(connection: &C) -> Result<String, DbErr> {
    let row = connection
        .query_one_raw(Statement::from_string(
            connection.get_database_backend(),
            "SELECT current_schema()::text AS schema",
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("SELECT current_schema() returned no row".to_owned()))?;
    row.try_get::<Option<String>>("", "schema")?
        .ok_or_else(|| DbErr::Custom("no schema of the search_path exists".to_owned()))
}
