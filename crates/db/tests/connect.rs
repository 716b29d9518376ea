//! `connect` against the real Postgres: the schema is created on first use
//! and unqualified SQL lands in it.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use ecommerce_db::{DatabaseSettings, connect};
use ecommerce_platform::settings::{EnvSource, ServiceInfo};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

const SERVICE: ServiceInfo = ServiceInfo {
    name: "db-test",
    env_prefix: "DB_TEST",
    default_port: 0,
};

#[tokio::test]
async fn connect_creates_the_schema_and_makes_it_the_search_path() {
    let schema = format!("t_db_connect_{}", uuid::Uuid::now_v7().simple());
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| ecommerce_db::DEFAULT_DATABASE_URL.to_owned());
    let source = EnvSource::from_pairs([
        ("DATABASE_URL", url.as_str()),
        ("DB_TEST_DB_SCHEMA", schema.as_str()),
    ]);
    let settings = DatabaseSettings::from_source(&SERVICE, "unused", &source).unwrap();

    let db = connect(&settings).await.unwrap();
    // Twice is fine: replicas start together.
    let again = connect(&settings).await.unwrap();
    again.close().await.unwrap();
    db.execute_unprepared("CREATE TABLE widgets (id int PRIMARY KEY)")
        .await
        .unwrap();
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT count(*) AS n FROM information_schema.tables \
             WHERE table_schema = $1 AND table_name = 'widgets'",
            [schema.clone().into()],
        ))
        .await
        .unwrap()
        .unwrap();
    let tables: i64 = row.try_get("", "n").unwrap();
    assert_eq!(
        tables, 1,
        "the unqualified table is in the service's schema"
    );

    db.execute_unprepared(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .await
        .unwrap();
    db.close().await.unwrap();
}
