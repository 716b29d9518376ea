//! The outbox table: its name, its DDL, and the migration helpers.
//!
//! Raw SQL rather than a SeaORM entity: an entity fixes its table name at
//! compile time, while this crate serves six schemas (and a fresh schema per
//! test). The name checks, the locked idempotent DDL and the migration come
//! from `ecommerce-db`; this module holds what is the outbox's own: the
//! presets, the columns and the indexes. The statements also use Postgres
//! features that the query builder would only obscure (`FOR UPDATE SKIP
//! LOCKED`, `unnest`, partial indexes).

use std::fmt;
use std::ops::Deref;

use ecommerce_db::{
    InvalidTableName, ManagedTable, QualifiedTableName, TableMigration, create_table, drop_table,
};
use sea_orm::{ConnectionTrait, DbErr};
use sea_orm_migration::SchemaManager;

use crate::error::OutboxError;

/// Every index and constraint name derived from the table's, so a table
/// name is refused when `<table>_<suffix>` would not fit in Postgres' 63
/// bytes.
const DERIVED_SUFFIXES: [&str; 6] = [
    "status_check",
    "attempts_check",
    "published_at_check",
    "pending_idx",
    "published_idx",
    "failed_idx",
];

/// Where one service's outbox lives: `<schema>.<table>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OutboxTable {
    name: QualifiedTableName,
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
            name: QualifiedTableName::preset(schema, table),
        }
    }

    /// Any outbox table. Both names must be lowercase identifiers
    /// (`[a-z_][a-z0-9_]*`), the table at most 44 bytes so the names derived
    /// from it still fit Postgres' 63.
    pub fn new(schema: impl Into<String>, table: impl Into<String>) -> Result<Self, OutboxError> {
        let name = QualifiedTableName::new(schema, table, &DERIVED_SUFFIXES)?;
        Ok(Self { name })
    }

    /// The same table name in another schema, e.g. a test's fresh schema.
    pub fn in_schema(&self, schema: impl Into<String>) -> Result<Self, OutboxError> {
        let name = self.name.in_schema(schema)?;
        Ok(Self { name })
    }
}

impl ManagedTable for OutboxTable {
    fn qualified_name(&self) -> &QualifiedTableName {
        &self.name
    }

    /// The table and its indexes; `ecommerce-db` wraps them in the locked
    /// `DO` block that also creates the schema.
    fn relocated(&self, schema: &str) -> Result<Self, InvalidTableName> {
        Ok(Self {
            name: self.name.in_schema(schema)?,
        })
    }

    fn create_statements(&self) -> String {
        let table = self.name.qualified();
        let status_check = self.name.derived("status_check");
        let attempts_check = self.name.derived("attempts_check");
        let published_at_check = self.name.derived("published_at_check");
        let pending_index = self.name.derived("pending_idx");
        let published_index = self.name.derived("published_idx");
        let failed_index = self.name.derived("failed_idx");
        format!(
            r#"    CREATE TABLE IF NOT EXISTS {table} (
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
        ON {table} (id) WHERE status = 'failed';"#
        )
    }
}

impl fmt::Display for OutboxTable {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.name.fmt(formatter)
    }
}

/// `schema()`, `table()` and the quoted `qualified()` the statements use
/// come from the name.
impl Deref for OutboxTable {
    type Target = QualifiedTableName;

    fn deref(&self) -> &QualifiedTableName {
        &self.name
    }
}

/// Creates `table` (and its schema) if missing: [`create_table`], safe to
/// run from several processes at once, on a pool, a transaction or a
/// migration's connection (see [`create_outbox_table_in`]).
pub async fn create_outbox_table<C>(db: &C, table: &OutboxTable) -> Result<(), DbErr>
where
    C: ConnectionTrait,
{
    create_table(db, table).await
}

/// [`create_outbox_table`] from a migration's [`SchemaManager`].
pub async fn create_outbox_table_in(
    manager: &SchemaManager<'_>,
    table: &OutboxTable,
) -> Result<(), DbErr> {
    create_outbox_table(manager.get_connection(), table).await
}

/// Drops `table` if it exists ([`drop_table`]; the schema stays).
pub async fn drop_outbox_table<C>(db: &C, table: &OutboxTable) -> Result<(), DbErr>
where
    C: ConnectionTrait,
{
    drop_table(db, table).await
}

/// The ready-made migration creating one outbox table (down drops it), for
/// a service's migrator: `OutboxMigration::new("m…_create_outbox", table)`.
pub type OutboxMigration = TableMigration<OutboxTable>;

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
    fn invalid_names_are_outbox_errors() {
        let error = OutboxTable::new("orders", "Orders").unwrap_err();
        assert!(
            matches!(error, OutboxError::InvalidName { kind: "table", .. }),
            "{error}"
        );
        let error = OutboxTable::IAM.in_schema("t-test").unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid outbox schema name \"t-test\": \
             only lowercase ASCII letters, digits and `_` are allowed"
        );
    }

    #[test]
    fn the_longest_table_name_still_fits_every_derived_name() {
        let longest_table = "t".repeat(44);
        let longest = OutboxTable::new("s", &longest_table).unwrap();
        assert!(OutboxTable::new("s", format!("{longest_table}t")).is_err());
        // Building the DDL checks every derived name (see `derived`).
        assert!(longest.create_statements().contains(&longest.qualified()));
    }

    #[test]
    fn in_schema_keeps_the_table_name() {
        let moved = OutboxTable::IAM.in_schema("t_test_1").unwrap();
        assert_eq!(moved.to_string(), "t_test_1.iam_outbox_events");
        assert_eq!(moved.qualified(), "\"t_test_1\".\"iam_outbox_events\"");
    }
}
