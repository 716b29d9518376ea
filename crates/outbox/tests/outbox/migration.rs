//! The table and its migration helper, for every service's table name.

use ecommerce_outbox::{
    OutboxMigration, OutboxTable, create_outbox_table, create_outbox_table_in, drop_outbox_table,
};
use ecommerce_test_support::TestSchema;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};
use sea_orm_migration::{MigrationTrait, SchemaManager};

use crate::support::qualified;

const EXPECTED_COLUMNS: [(&str, &str, &str); 18] = [
    ("id", "uuid", "NO"),
    ("event_type", "text", "NO"),
    ("exchange", "text", "NO"),
    ("aggregate_type", "text", "NO"),
    ("aggregate_id", "text", "NO"),
    ("payload", "bytea", "NO"),
    ("schema_ref", "text", "NO"),
    ("occurred_at", "timestamp with time zone", "NO"),
    ("correlation_id", "text", "YES"),
    ("causation_id", "text", "YES"),
    ("traceparent", "text", "YES"),
    ("tracestate", "text", "YES"),
    ("status", "text", "NO"),
    ("attempts", "integer", "NO"),
    ("next_attempt_at", "timestamp with time zone", "NO"),
    ("last_error", "text", "YES"),
    ("published_at", "timestamp with time zone", "YES"),
    ("created_at", "timestamp with time zone", "NO"),
];

async fn strings(db: &impl ConnectionTrait, sql: &str, values: Vec<sea_orm::Value>) -> Vec<String> {
    db.query_all_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
    .await
    .unwrap()
    .iter()
    .map(|row| row.try_get_by_index::<String>(0).unwrap())
    .collect()
}

fn sqlstate(error: &DbErr) -> Option<String> {
    let (DbErr::Exec(sea_orm::RuntimeErr::SqlxError(inner))
    | DbErr::Query(sea_orm::RuntimeErr::SqlxError(inner))) = error
    else {
        return None;
    };
    Some(inner.as_database_error()?.code()?.into_owned())
}

async fn assert_complete(db: &impl ConnectionTrait, table: &OutboxTable) {
    let columns = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT column_name::text, data_type::text, is_nullable::text \
             FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 \
             ORDER BY ordinal_position",
            [table.schema().into(), table.table().into()],
        ))
        .await
        .unwrap()
        .iter()
        .map(|row| {
            (
                row.try_get_by_index::<String>(0).unwrap(),
                row.try_get_by_index::<String>(1).unwrap(),
                row.try_get_by_index::<String>(2).unwrap(),
            )
        })
        .collect::<Vec<_>>();
    let expected: Vec<(String, String, String)> = EXPECTED_COLUMNS
        .iter()
        .map(|(name, kind, nullable)| {
            (
                (*name).to_owned(),
                (*kind).to_owned(),
                (*nullable).to_owned(),
            )
        })
        .collect();
    assert_eq!(columns, expected, "{table}");

    let primary_key = strings(
        db,
        "SELECT a.attname::text FROM pg_index i \
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
         WHERE i.indrelid = $1::regclass AND i.indisprimary",
        vec![qualified(table).into()],
    )
    .await;
    assert_eq!(primary_key, ["id"], "{table}");

    let checks = strings(
        db,
        "SELECT conname::text FROM pg_constraint \
         WHERE conrelid = $1::regclass AND contype = 'c' ORDER BY conname",
        vec![qualified(table).into()],
    )
    .await;
    let name = table.table();
    assert_eq!(
        checks,
        [
            format!("{name}_attempts_check"),
            format!("{name}_published_at_check"),
            format!("{name}_status_check"),
        ],
        "{table}"
    );

    let indexes = strings(
        db,
        "SELECT indexname || ': ' || indexdef FROM pg_indexes \
         WHERE schemaname = $1 AND tablename = $2 ORDER BY indexname",
        vec![table.schema().into(), table.table().into()],
    )
    .await;
    assert_eq!(indexes.len(), 4, "{indexes:?}");
    let find = |suffix: &str| {
        indexes
            .iter()
            .find(|index| index.starts_with(&format!("{name}_{suffix}:")))
            .unwrap_or_else(|| panic!("no {suffix} index in {indexes:?}"))
            .clone()
    };
    let pending = find("pending_idx");
    assert!(
        pending.contains("(next_attempt_at, id) WHERE (status = 'pending'::text)"),
        "{pending}"
    );
    let published = find("published_idx");
    assert!(
        published.contains("(published_at) WHERE (status = 'published'::text)"),
        "{published}"
    );
    let failed = find("failed_idx");
    assert!(
        failed.contains("WHERE (status = 'failed'::text)"),
        "{failed}"
    );
}

/// The CHECK constraints refuse rows the relay could never handle.
async fn assert_constraints_hold(db: &impl ConnectionTrait, table: &OutboxTable) {
    let insert = |status: &str, attempts: i32, published: bool| {
        format!(
            "INSERT INTO {} (id, event_type, exchange, aggregate_type, aggregate_id, payload, \
             schema_ref, occurred_at, status, attempts, published_at) VALUES \
             (gen_random_uuid(), 't', 'x', 'a', '1', '\\x00', 's', now(), '{status}', {attempts}, {})",
            qualified(table),
            if published { "now()" } else { "NULL" }
        )
    };
    for (status, attempts, published) in [
        ("bogus", 0, false),
        ("pending", -1, false),
        ("published", 1, false),
        ("pending", 0, true),
    ] {
        let error = db
            .execute_unprepared(&insert(status, attempts, published))
            .await
            .unwrap_err();
        assert_eq!(
            sqlstate(&error).as_deref(),
            Some("23514"),
            "{status}/{attempts}/{published}: {error}"
        );
    }
    for (status, published) in [("pending", false), ("published", true), ("failed", false)] {
        db.execute_unprepared(&insert(status, 0, published))
            .await
            .unwrap();
    }
    // Defaults fill everything the writer leaves out.
    let defaults = strings(
        db,
        &format!(
            "SELECT status || '/' || attempts || '/' || (next_attempt_at IS NOT NULL) || '/' || \
             (created_at IS NOT NULL) FROM {} WHERE status = 'pending'",
            qualified(table)
        ),
        Vec::new(),
    )
    .await;
    assert_eq!(defaults, ["pending/0/true/true"]);
}

#[tokio::test]
async fn the_helper_creates_a_complete_table_idempotently_for_every_service() {
    for preset in OutboxTable::ALL {
        let schema = TestSchema::create("outbox_migration").await.unwrap();
        let db = schema.db();
        // The helper creates the schema too.
        db.execute_unprepared(&format!("DROP SCHEMA \"{}\"", schema.name()))
            .await
            .unwrap();
        let table = preset.in_schema(schema.name()).unwrap();

        create_outbox_table(db, &table).await.unwrap();
        create_outbox_table(db, &table).await.unwrap();
        let manager = SchemaManager::new(db);
        create_outbox_table_in(&manager, &table).await.unwrap();

        assert_complete(db, &table).await;
        assert_constraints_hold(db, &table).await;
        // Still idempotent with rows in the table.
        create_outbox_table(db, &table).await.unwrap();
        schema.drop_schema().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creations_do_not_race() {
    let schema = TestSchema::create("outbox_migration_race").await.unwrap();
    let table = OutboxTable::PAYMENTS.in_schema(schema.name()).unwrap();
    // Replicas starting together: CREATE ... IF NOT EXISTS alone can fail
    // with a unique violation; the advisory lock serializes them.
    let pools = futures::future::join_all((0..4).map(|_| schema.connect(1)))
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let results =
        futures::future::join_all(pools.iter().map(|pool| create_outbox_table(pool, &table))).await;
    for result in results {
        result.unwrap();
    }
    assert_complete(schema.db(), &table).await;
    for pool in pools {
        pool.close().await.unwrap();
    }
    schema.drop_schema().await.unwrap();
}

#[tokio::test]
async fn the_ready_made_migration_goes_up_and_down() {
    let schema = TestSchema::create("outbox_migration_updown").await.unwrap();
    let table = OutboxTable::CATALOG.in_schema(schema.name()).unwrap();
    let migration = OutboxMigration::new("m20250601_000001_create_catalog_outbox", table.clone());
    assert_eq!(
        sea_orm_migration::MigrationName::name(&migration),
        "m20250601_000001_create_catalog_outbox"
    );
    let manager = SchemaManager::new(schema.db());

    migration.up(&manager).await.unwrap();
    migration.up(&manager).await.unwrap();
    assert_complete(schema.db(), &table).await;

    migration.down(&manager).await.unwrap();
    let remaining = strings(
        schema.db(),
        "SELECT coalesce(to_regclass($1)::text, 'gone')",
        vec![qualified(&table).into()],
    )
    .await;
    assert_eq!(remaining, ["gone"]);
    drop_outbox_table(schema.db(), &table).await.unwrap();
    schema.drop_schema().await.unwrap();
}
