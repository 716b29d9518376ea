//! Idempotent DDL that concurrent processes can run at once.

use crate::table_name::QualifiedTableName;

/// The advisory lock every crate's DDL takes.
///
/// `CREATE ... IF NOT EXISTS` is not race-free in Postgres: two sessions can
/// both see the object missing and one then fails with a unique violation.
/// Replicas starting together run the same DDL, and one service creates its
/// schema from several crates (outbox, inbox), so every crate takes this one
/// key: concurrent creators of one schema never race on `CREATE SCHEMA`.
///
/// The value is "outbox" in ASCII, the crate that introduced it; it stays so
/// processes still running an older build serialize with this one.
pub const DDL_ADVISORY_LOCK: i64 = 0x6f75_7462_6f78;

/// Wraps `body` (`CREATE ... IF NOT EXISTS` statements, each ending in `;`)
/// in one `DO` block that first takes [`DDL_ADVISORY_LOCK`] and creates the
/// table's schema.
///
/// One statement, so it runs in one transaction: the transaction-scoped
/// lock is held until everything exists and is released even if the
/// connection is reused or the DDL fails. `body` must not contain the
/// `$ddl$` quote tag.
pub fn idempotent_ddl(table: &QualifiedTableName, body: &str) -> String {
    schema_ddl(table.schema(), body)
}

/// [`idempotent_ddl`] for a bare schema (validated by the caller, see
/// [`validate_schema_name`](crate::validate_schema_name)) and optional
/// further statements.
pub fn schema_ddl(schema: &str, body: &str) -> String {
    format!(
        r#"DO $ddl$
BEGIN
    PERFORM pg_advisory_xact_lock({DDL_ADVISORY_LOCK});
    CREATE SCHEMA IF NOT EXISTS "{schema}";
{body}
END
$ddl$"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_runs_after_the_lock_and_the_schema() {
        let table = QualifiedTableName::preset("orders", "events");
        let body = format!(
            "    CREATE TABLE IF NOT EXISTS {} (id uuid);",
            table.qualified()
        );
        let sql = idempotent_ddl(&table, &body);

        let lock = sql.find(&format!("pg_advisory_xact_lock({DDL_ADVISORY_LOCK});"));
        let schema = sql.find("CREATE SCHEMA IF NOT EXISTS \"orders\";");
        let create = sql.find("CREATE TABLE IF NOT EXISTS \"orders\".\"events\"");
        assert!(lock.is_some() && lock < schema && schema < create, "{sql}");
        assert!(
            sql.starts_with("DO $ddl$") && sql.ends_with("END\n$ddl$"),
            "{sql}"
        );
    }
}
