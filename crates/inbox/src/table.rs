//! The inbox table: its name, its DDL, the migration helpers and pruning.
//!
//! Raw SQL for the same reason as the outbox's table: the name is chosen at
//! run time (one table per service schema, a fresh schema per test). Names
//! are validated as plain lowercase identifiers when an [`InboxTable`] is
//! built, so they are safe to splice into SQL; every value is a bind
//! parameter.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};
use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager};

use crate::error::InboxError;

/// The table name every preset uses.
pub const DEFAULT_TABLE_NAME: &str = "processed_messages";

/// Postgres truncates identifiers past 63 bytes.
const MAX_IDENTIFIER_LEN: usize = 63;
/// Leaves room for the longest derived name, `<table>_processed_at_idx`.
const MAX_TABLE_NAME_LEN: usize = MAX_IDENTIFIER_LEN - "_processed_at_idx".len();

/// Serializes concurrent DDL across processes: `CREATE ... IF NOT EXISTS` is
/// not race-free in Postgres. The same key as the outbox crate's ("outbox"
/// in ASCII), so a service creating its schema from both crates at once
/// never races on `CREATE SCHEMA` either.
const DDL_ADVISORY_LOCK: i64 = 0x6f75_7462_6f78;

/// Rows deleted per prune statement, so no delete holds locks for long.
const PRUNE_CHUNK: i64 = 5_000;

/// Where one service's consumers record what they processed: `<schema>.<table>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InboxTable {
    schema: Cow<'static, str>,
    table: Cow<'static, str>,
}

impl InboxTable {
    /// `catalog.processed_messages`.
    pub const CATALOG: Self = Self::preset("catalog");
    /// `auth.processed_messages` (iam-svc owns the `auth` schema).
    pub const IAM: Self = Self::preset("auth");
    /// `inventory.processed_messages`.
    pub const INVENTORY: Self = Self::preset("inventory");
    /// `orders.processed_messages`.
    pub const ORDERS: Self = Self::preset("orders");
    /// `payments.processed_messages`.
    pub const PAYMENTS: Self = Self::preset("payments");
    /// `fulfillment.processed_messages`.
    pub const FULFILLMENT: Self = Self::preset("fulfillment");
    /// `cart.processed_messages`.
    pub const CART: Self = Self::preset("cart");

    /// Every consuming service's inbox (schema-registry consumes nothing).
    pub const ALL: [Self; 7] = [
        Self::CATALOG,
        Self::IAM,
        Self::INVENTORY,
        Self::ORDERS,
        Self::PAYMENTS,
        Self::FULFILLMENT,
        Self::CART,
    ];

    /// Names checked by the unit tests below; only for the presets.
    const fn preset(schema: &'static str) -> Self {
        Self {
            schema: Cow::Borrowed(schema),
            table: Cow::Borrowed(DEFAULT_TABLE_NAME),
        }
    }

    /// `<schema>.processed_messages`. The schema must be a lowercase
    /// identifier (`[a-z_][a-z0-9_]*`, at most 63 bytes).
    pub fn new(schema: impl Into<String>) -> Result<Self, InboxError> {
        Self::with_table_name(schema, DEFAULT_TABLE_NAME)
    }

    /// `<schema>.<table>`, for a service that needs another table name. The
    /// table is at most 46 bytes so the index name derived from it fits.
    pub fn with_table_name(
        schema: impl Into<String>,
        table: impl Into<String>,
    ) -> Result<Self, InboxError> {
        let schema = schema.into();
        let table = table.into();
        validate_identifier("schema", &schema, MAX_IDENTIFIER_LEN)?;
        validate_identifier("table", &table, MAX_TABLE_NAME_LEN)?;
        Ok(Self {
            schema: Cow::Owned(schema),
            table: Cow::Owned(table),
        })
    }

    /// The same table name in another schema, e.g. a test's fresh schema.
    pub fn in_schema(&self, schema: impl Into<String>) -> Result<Self, InboxError> {
        Self::with_table_name(schema, self.table.clone().into_owned())
    }

    pub fn schema(&self) -> &str {
        &self.schema
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// `"schema"."table"`, ready for SQL.
    pub(crate) fn qualified(&self) -> String {
        format!("\"{}\".\"{}\"", self.schema, self.table)
    }

    /// Records one message for one consumer unless it is already there; one
    /// affected row means "first time".
    pub(crate) fn record_sql(&self) -> String {
        format!(
            "INSERT INTO {} (consumer, message_id, event_type, correlation_id) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (consumer, message_id) DO NOTHING",
            self.qualified()
        )
    }

    /// Idempotent DDL for the schema, the table and its index, as one
    /// statement so it runs atomically under the advisory lock.
    pub(crate) fn create_sql(&self) -> String {
        let schema = format!("\"{}\"", self.schema);
        let table = self.qualified();
        let primary_key = format!("\"{}_pkey\"", self.table);
        let processed_at_index = format!("\"{}_processed_at_idx\"", self.table);
        format!(
            r#"DO $inbox$
BEGIN
    PERFORM pg_advisory_xact_lock({DDL_ADVISORY_LOCK});
    CREATE SCHEMA IF NOT EXISTS {schema};
    CREATE TABLE IF NOT EXISTS {table} (
        consumer       text        NOT NULL,
        message_id     uuid        NOT NULL,
        event_type     text        NOT NULL,
        correlation_id text,
        processed_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
        CONSTRAINT {primary_key} PRIMARY KEY (consumer, message_id)
    );
    -- Pruning by age.
    CREATE INDEX IF NOT EXISTS {processed_at_index} ON {table} (processed_at);
END
$inbox$"#
        )
    }

    /// Deletes up to one chunk of records older than `older_than_secs`.
    fn prune_sql(&self) -> String {
        let table = self.qualified();
        format!(
            "DELETE FROM {table} WHERE (consumer, message_id) IN (\
             SELECT consumer, message_id FROM {table} \
             WHERE processed_at < clock_timestamp() - $1::float8 * interval '1 second' \
             LIMIT $2 FOR UPDATE SKIP LOCKED)"
        )
    }
}

impl fmt::Display for InboxTable {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}.{}", self.schema, self.table)
    }
}

fn validate_identifier(kind: &'static str, name: &str, max_len: usize) -> Result<(), InboxError> {
    let invalid = |reason| InboxError::InvalidName {
        kind,
        name: name.to_owned(),
        reason,
    };
    let Some(first) = name.bytes().next() else {
        return Err(invalid("it is empty"));
    };
    if name.len() > max_len {
        return Err(invalid("it is too long"));
    }
    if !(first.is_ascii_lowercase() || first == b'_') {
        return Err(invalid("it must start with a lowercase letter or `_`"));
    }
    let plain = name
        .bytes()
        .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_');
    if !plain {
        return Err(invalid(
            "only lowercase ASCII letters, digits and `_` are allowed",
        ));
    }
    Ok(())
}

/// Creates `table` (and its schema) if missing; safe to run any number of
/// times, from several processes at once.
pub async fn create_inbox_table<C>(db: &C, table: &InboxTable) -> Result<(), DbErr>
where
    C: ConnectionTrait,
{
    db.execute_unprepared(&table.create_sql()).await?;
    Ok(())
}

/// Drops `table` if it exists (its schema stays: the service owns it).
pub async fn drop_inbox_table<C>(db: &C, table: &InboxTable) -> Result<(), DbErr>
where
    C: ConnectionTrait,
{
    db.execute_unprepared(&format!("DROP TABLE IF EXISTS {}", table.qualified()))
        .await?;
    Ok(())
}

/// Deletes the records of messages processed more than `older_than` ago, in
/// chunks, and returns how many went.
///
/// A pruned id no longer deduplicates: keep `older_than` far above the
/// longest time a message can still be redelivered (a publisher's retries,
/// a DLQ replay), e.g. a few weeks.
pub async fn prune_inbox<C>(db: &C, table: &InboxTable, older_than: Duration) -> Result<u64, DbErr>
where
    C: ConnectionTrait,
{
    let sql = table.prune_sql();
    let mut deleted = 0_u64;
    loop {
        let result = db
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                sql.as_str(),
                [
                    Value::from(older_than.as_secs_f64()),
                    Value::from(PRUNE_CHUNK),
                ],
            ))
            .await?;
        deleted += result.rows_affected();
        if result.rows_affected() < PRUNE_CHUNK as u64 {
            break;
        }
    }
    if deleted > 0 {
        tracing::info!(inbox = %table, deleted, "pruned processed messages");
    }
    Ok(deleted)
}

/// A ready-made migration creating one inbox table, for a service's migrator:
///
/// ```
/// use ecommerce_inbox::{InboxMigration, InboxTable};
/// use sea_orm_migration::MigrationTrait;
///
/// let migrations: Vec<Box<dyn MigrationTrait>> = vec![Box::new(InboxMigration::new(
///     "m20250601_000002_create_inventory_inbox",
///     InboxTable::INVENTORY,
/// ))];
/// ```
#[derive(Clone, Debug)]
pub struct InboxMigration {
    name: &'static str,
    table: InboxTable,
}

impl InboxMigration {
    /// `name` is the migration's stable name in the service's migrator.
    pub fn new(name: &'static str, table: InboxTable) -> Self {
        Self { name, table }
    }
}

impl MigrationName for InboxMigration {
    fn name(&self) -> &str {
        self.name
    }
}

#[async_trait]
impl MigrationTrait for InboxMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_inbox_table(manager.get_connection(), &self.table).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_inbox_table(manager.get_connection(), &self.table).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn presets_are_the_consuming_schemas_and_are_valid() {
        let names: Vec<String> = InboxTable::ALL.iter().map(ToString::to_string).collect();
        assert_eq!(
            names,
            [
                "catalog.processed_messages",
                "auth.processed_messages",
                "inventory.processed_messages",
                "orders.processed_messages",
                "payments.processed_messages",
                "fulfillment.processed_messages",
                "cart.processed_messages",
            ]
        );
        for preset in InboxTable::ALL {
            assert_eq!(InboxTable::new(preset.schema()).unwrap(), preset);
        }
    }

    #[test]
    fn names_that_could_break_the_sql_are_refused() {
        for bad in [
            "",
            "Orders",
            "orders;drop",
            "or\"ders",
            "9orders",
            "orders-events",
            "ordérs",
        ] {
            let error = InboxTable::new(bad).unwrap_err();
            assert!(
                matches!(error, InboxError::InvalidName { kind: "schema", .. }),
                "{bad}: {error}"
            );
            let error = InboxTable::with_table_name("orders", bad).unwrap_err();
            assert!(
                matches!(error, InboxError::InvalidName { kind: "table", .. }),
                "{bad}: {error}"
            );
        }
        let longest_table = "t".repeat(MAX_TABLE_NAME_LEN);
        assert!(InboxTable::with_table_name("s", &longest_table).is_ok());
        assert!(InboxTable::with_table_name("s", format!("{longest_table}t")).is_err());
        assert!(InboxTable::new("s".repeat(63)).is_ok());
        assert!(InboxTable::new("s".repeat(64)).is_err());
    }

    #[test]
    fn in_schema_keeps_the_table_name() {
        let moved = InboxTable::with_table_name("orders", "seen")
            .unwrap()
            .in_schema("t_test_1")
            .unwrap();
        assert_eq!(moved.to_string(), "t_test_1.seen");
        assert_eq!(moved.qualified(), "\"t_test_1\".\"seen\"");
        assert!(InboxTable::IAM.in_schema("Bad").is_err());
    }
}
