//! The inbox table: its name, its DDL, the migration helpers and pruning.
//!
//! Raw SQL for the same reason as the outbox's table: the name is chosen at
//! run time (one table per service schema, a fresh schema per test). The
//! name checks, the locked idempotent DDL and the migration come from
//! `ecommerce-db`; this module holds what is the inbox's own: the presets,
//! the columns, recording and pruning. Every value is a bind parameter.

use std::fmt;
use std::ops::Deref;
use std::time::Duration;

use ecommerce_db::{
    InvalidTableName, ManagedTable, QualifiedTableName, TableMigration, create_table, drop_table,
};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};

use crate::error::InboxError;

/// The table name every preset uses.
pub const DEFAULT_TABLE_NAME: &str = "processed_messages";

/// Every index and constraint name derived from the table's, so a table
/// name is refused when `<table>_<suffix>` would not fit in Postgres' 63
/// bytes.
const DERIVED_SUFFIXES: [&str; 2] = ["pkey", "processed_at_idx"];

/// Rows deleted per prune statement, so no delete holds locks for long.
const PRUNE_CHUNK: i64 = 5_000;

/// Where one service's consumers record what they processed: `<schema>.<table>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InboxTable {
    name: QualifiedTableName,
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
            name: QualifiedTableName::preset(schema, DEFAULT_TABLE_NAME),
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
        let name = QualifiedTableName::new(schema, table, &DERIVED_SUFFIXES)?;
        Ok(Self { name })
    }

    /// The same table name in another schema, e.g. a test's fresh schema.
    pub fn in_schema(&self, schema: impl Into<String>) -> Result<Self, InboxError> {
        let name = self.name.in_schema(schema)?;
        Ok(Self { name })
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

    /// Records a batch of messages for one consumer (`$2`, `$3`, `$4`: arrays
    /// of ids, types and correlation ids, in step; '' for no correlation id) and returns the ids
    /// recorded now; an id missing from the answer was already there. One
    /// statement whatever the batch size, so it is prepared once.
    pub(crate) fn record_batch_sql(&self) -> String {
        format!(
            "INSERT INTO {} (consumer, message_id, event_type, correlation_id) \
             SELECT $1, message_id, event_type, NULLIF(correlation_id, '') \
             FROM unnest($2::uuid[], $3::text[], $4::text[]) \
             AS batch (message_id, event_type, correlation_id) \
             ON CONFLICT (consumer, message_id) DO NOTHING RETURNING message_id",
            self.qualified()
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

impl ManagedTable for InboxTable {
    fn qualified_name(&self) -> &QualifiedTableName {
        &self.name
    }

    /// The table and its index; `ecommerce-db` wraps them in the locked `DO`
    /// block that also creates the schema.
    fn relocated(&self, schema: &str) -> Result<Self, InvalidTableName> {
        Ok(Self {
            name: self.name.in_schema(schema)?,
        })
    }

    fn create_statements(&self) -> String {
        let table = self.name.qualified();
        let primary_key = self.name.derived("pkey");
        let processed_at_index = self.name.derived("processed_at_idx");
        format!(
            r#"    CREATE TABLE IF NOT EXISTS {table} (
        consumer       text        NOT NULL,
        message_id     uuid        NOT NULL,
        event_type     text        NOT NULL,
        correlation_id text,
        processed_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
        CONSTRAINT {primary_key} PRIMARY KEY (consumer, message_id)
    );
    -- Pruning by age.
    CREATE INDEX IF NOT EXISTS {processed_at_index} ON {table} (processed_at);"#
        )
    }
}

impl fmt::Display for InboxTable {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.name.fmt(formatter)
    }
}

/// The name's `schema()`, `table()` and `qualified()` (which recording and
/// pruning splice into their SQL).
impl Deref for InboxTable {
    type Target = QualifiedTableName;

    fn deref(&self) -> &QualifiedTableName {
        &self.name
    }
}

/// Creates `table` (and its schema) if missing: [`create_table`], safe to
/// run from several processes at once.
pub async fn create_inbox_table<C>(db: &C, table: &InboxTable) -> Result<(), DbErr>
where
    C: ConnectionTrait,
{
    create_table(db, table).await
}

/// Drops `table` if it exists ([`drop_table`]; the schema stays).
pub async fn drop_inbox_table<C>(db: &C, table: &InboxTable) -> Result<(), DbErr>
where
    C: ConnectionTrait,
{
    drop_table(db, table).await
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

/// The ready-made migration creating one inbox table (down drops it), for
/// a service's migrator: `InboxMigration::new("m…_create_inbox", table)`.
pub type InboxMigration = TableMigration<InboxTable>;

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
    fn invalid_names_are_inbox_errors() {
        let error = InboxTable::new("Orders").unwrap_err();
        assert!(
            matches!(error, InboxError::InvalidName { kind: "schema", .. }),
            "{error}"
        );
        let error = InboxTable::with_table_name("orders", "seen;drop").unwrap_err();
        assert!(
            matches!(error, InboxError::InvalidName { kind: "table", .. }),
            "{error}"
        );
        assert!(InboxTable::IAM.in_schema("Bad").is_err());
    }

    #[test]
    fn the_longest_table_name_still_fits_every_derived_name() {
        let longest_table = "t".repeat(46);
        let longest = InboxTable::with_table_name("s", &longest_table).unwrap();
        assert!(InboxTable::with_table_name("s", format!("{longest_table}t")).is_err());
        // Building the DDL checks every derived name (see `derived`).
        assert!(longest.create_statements().contains(&longest.qualified()));
    }

    #[test]
    fn in_schema_keeps_the_table_name() {
        let moved = InboxTable::with_table_name("orders", "seen")
            .unwrap()
            .in_schema("t_test_1")
            .unwrap();
        assert_eq!(moved.to_string(), "t_test_1.seen");
        assert_eq!(moved.qualified(), "\"t_test_1\".\"seen\"");
    }
}
