//! The outbox table: its name, its DDL, and the migration helpers.
//!
//! Raw SQL rather than a SeaORM entity: an entity fixes its table name at
//! compile time, while this crate serves six schemas (and a fresh schema per
//! test). The names are validated as plain lowercase identifiers when an
//! [`OutboxTable`] is built, so they are safe to splice into SQL; every value
//! is still a bind parameter. The statements also use Postgres features that
//! the query builder would only obscure (`FOR UPDATE SKIP LOCKED`, `unnest`,
//! partial indexes, a `DO` block under an advisory lock).

use std::borrow::Cow;
use std::fmt;

use async_trait::async_trait;
use sea_orm::{ConnectionTrait, DbErr};
use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager};

use crate::error::OutboxError;

/// Postgres truncates identifiers past 63 bytes.
const MAX_IDENTIFIER_LEN: usize = 63;
/// Leaves room for the longest derived name, `<table>_published_at_check`.
const MAX_TABLE_NAME_LEN: usize = MAX_IDENTIFIER_LEN - "_published_at_check".len();

/// Serializes concurrent outbox DDL across processes (replicas starting at
/// once): `CREATE ... IF NOT EXISTS` is not race-free in Postgres. The value
/// is "outbox" in ASCII.
const DDL_ADVISORY_LOCK: i64 = 0x6f75_7462_6f78;

/// Where one service's outbox lives: `<schema>.<table>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OutboxTable {
    schema: Cow<'static, str>,
    table: Cow<'static, str>,
}

impl OutboxTable {
    /// `catalog.catalog_outbox_events`.
    pub const CATALOG: Self = Self::preset("catalog", "catalog_outbox_events");
    /// `auth.iam_outbox_events` (iam-svc owns the `auth` schema).
    pub const IAM: Self = Self::preset("auth", "iam_outbox_events");
    /// `inventory.inventory_outbox_events`.
    pub const INVENTORY: Self = Self::preset("inventory", "inventory_outbox_events");
    /// `orders.orders_outbox_events`.
    pub const ORDERS: Self = Self::preset("orders", "orders_outbox_events");
    /// `payments.payments_outbox_events`.
    pub const PAYMENTS: Self = Self::preset("payments", "payments_outbox_events");
    /// `fulfillment.fulfillment_outbox_events`.
    pub const FULFILLMENT: Self = Self::preset("fulfillment", "fulfillment_outbox_events");

    /// Every service's outbox (cart-svc and schema-registry emit no events).
    pub const ALL: [Self; 6] = [
        Self::CATALOG,
        Self::IAM,
        Self::INVENTORY,
        Self::ORDERS,
        Self::PAYMENTS,
        Self::FULFILLMENT,
    ];

    /// Names checked by the unit tests below; only for the presets.
    const fn preset(schema: &'static str, table: &'static str) -> Self {
        Self {
            schema: Cow::Borrowed(schema),
            table: Cow::Borrowed(table),
        }
    }

    /// Any outbox table. Both names must be lowercase identifiers
    /// (`[a-z_][a-z0-9_]*`), the table at most 44 bytes so the names derived
    /// from it still fit Postgres' 63.
    pub fn new(schema: impl Into<String>, table: impl Into<String>) -> Result<Self, OutboxError> {
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
    pub fn in_schema(&self, schema: impl Into<String>) -> Result<Self, OutboxError> {
        Self::new(schema, self.table.clone().into_owned())
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

    /// An index or constraint name derived from the table's.
    fn derived(&self, suffix: &str) -> String {
        format!("\"{}_{suffix}\"", self.table)
    }

    /// Idempotent DDL for the schema, the table and its indexes, as one
    /// statement so it runs atomically under the advisory lock.
    pub(crate) fn create_sql(&self) -> String {
        let schema = format!("\"{}\"", self.schema);
        let table = self.qualified();
        let status_check = self.derived("status_check");
        let attempts_check = self.derived("attempts_check");
        let published_at_check = self.derived("published_at_check");
        let pending_index = self.derived("pending_idx");
        let published_index = self.derived("published_idx");
        let failed_index = self.derived("failed_idx");
        format!(
            r#"DO $outbox$
BEGIN
    PERFORM pg_advisory_xact_lock({DDL_ADVISORY_LOCK});
    CREATE SCHEMA IF NOT EXISTS {schema};
    CREATE TABLE IF NOT EXISTS {table} (
        id              uuid        PRIMARY KEY,
        event_type      text        NOT NULL,
        exchange        text        NOT NULL,
        aggregate_type  text        NOT NULL,
        aggregate_id    text        NOT NULL,
        payload         bytea       NOT NULL,
        schema_ref      text        NOT NULL,
        occurred_at     timestamptz NOT NULL,
        correlation_id  text,
        causation_id    text,
        traceparent     text,
        tracestate      text,
        status          text        NOT NULL DEFAULT 'pending',
        attempts        integer     NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        last_error      text,
        published_at    timestamptz,
        created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
        CONSTRAINT {status_check} CHECK (status IN ('pending', 'published', 'failed')),
        CONSTRAINT {attempts_check} CHECK (attempts >= 0),
        CONSTRAINT {published_at_check} CHECK ((status = 'published') = (published_at IS NOT NULL))
    ) WITH (
        -- Every row is inserted, updated once and deleted: vacuum early so
        -- the pending index does not fill with dead entries the relay walks.
        autovacuum_vacuum_scale_factor = 0.02,
        autovacuum_analyze_scale_factor = 0.02
    );
    -- The relay's claim: pending rows that are due, oldest first.
    CREATE INDEX IF NOT EXISTS {pending_index}
        ON {table} (next_attempt_at, id) WHERE status = 'pending';
    -- Pruning by age without scanning the retained history.
    CREATE INDEX IF NOT EXISTS {published_index}
        ON {table} (published_at) WHERE status = 'published';
    -- Counting dead letters; empty in normal operation, so free to keep.
    CREATE INDEX IF NOT EXISTS {failed_index}
        ON {table} (id) WHERE status = 'failed';
END
$outbox$"#
        )
    }
}

impl fmt::Display for OutboxTable {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}.{}", self.schema, self.table)
    }
}

fn validate_identifier(kind: &'static str, name: &str, max_len: usize) -> Result<(), OutboxError> {
    let invalid = |reason| OutboxError::InvalidName {
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
///
/// Works on anything SeaORM can run SQL on: a pool, a transaction, or, in a
/// migration, `manager.get_connection()` (see [`create_outbox_table_in`]).
pub async fn create_outbox_table<C>(db: &C, table: &OutboxTable) -> Result<(), DbErr>
where
    C: ConnectionTrait,
{
    db.execute_unprepared(&table.create_sql()).await?;
    Ok(())
}

/// [`create_outbox_table`] from a migration's [`SchemaManager`].
pub async fn create_outbox_table_in(
    manager: &SchemaManager<'_>,
    table: &OutboxTable,
) -> Result<(), DbErr> {
    create_outbox_table(manager.get_connection(), table).await
}

/// Drops `table` if it exists (its schema stays: the service owns it).
pub async fn drop_outbox_table<C>(db: &C, table: &OutboxTable) -> Result<(), DbErr>
where
    C: ConnectionTrait,
{
    db.execute_unprepared(&format!("DROP TABLE IF EXISTS {}", table.qualified()))
        .await?;
    Ok(())
}

/// A ready-made migration creating one outbox table, for a service's migrator:
///
/// ```
/// use ecommerce_outbox::{OutboxMigration, OutboxTable};
/// use sea_orm_migration::MigrationTrait;
///
/// let migrations: Vec<Box<dyn MigrationTrait>> = vec![Box::new(OutboxMigration::new(
///     "m20250601_000001_create_orders_outbox",
///     OutboxTable::ORDERS,
/// ))];
/// ```
#[derive(Clone, Debug)]
pub struct OutboxMigration {
    name: &'static str,
    table: OutboxTable,
}

impl OutboxMigration {
    /// `name` is the migration's stable name in the service's migrator.
    pub fn new(name: &'static str, table: OutboxTable) -> Self {
        Self { name, table }
    }
}

impl MigrationName for OutboxMigration {
    fn name(&self) -> &str {
        self.name
    }
}

#[async_trait]
impl MigrationTrait for OutboxMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_outbox_table_in(manager, &self.table).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_outbox_table(manager.get_connection(), &self.table).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn presets_have_the_seed_names_and_are_valid() {
        let names: Vec<String> = OutboxTable::ALL.iter().map(ToString::to_string).collect();
        assert_eq!(
            names,
            [
                "catalog.catalog_outbox_events",
                "auth.iam_outbox_events",
                "inventory.inventory_outbox_events",
                "orders.orders_outbox_events",
                "payments.payments_outbox_events",
                "fulfillment.fulfillment_outbox_events",
            ]
        );
        for preset in OutboxTable::ALL {
            assert_eq!(
                OutboxTable::new(preset.schema(), preset.table()).unwrap(),
                preset
            );
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
        ] {
            let error = OutboxTable::new("orders", bad).unwrap_err();
            assert!(
                matches!(error, OutboxError::InvalidName { kind: "table", .. }),
                "{bad}: {error}"
            );
            assert!(OutboxTable::new(bad, "outbox").is_err(), "{bad}");
        }
        let longest_table = "t".repeat(MAX_TABLE_NAME_LEN);
        assert!(OutboxTable::new("s", &longest_table).is_ok());
        assert!(OutboxTable::new("s", format!("{longest_table}t")).is_err());
        assert!(OutboxTable::new("s".repeat(63), "t").is_ok());
        assert!(OutboxTable::new("s".repeat(64), "t").is_err());
    }

    #[test]
    fn in_schema_keeps_the_table_name() {
        let moved = OutboxTable::IAM.in_schema("t_test_1").unwrap();
        assert_eq!(moved.to_string(), "t_test_1.iam_outbox_events");
        assert_eq!(moved.qualified(), "\"t_test_1\".\"iam_outbox_events\"");
    }
}
