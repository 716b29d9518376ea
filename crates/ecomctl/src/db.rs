//! The services' databases, one pool per distinct URL, and the SQL the
//! commands run on the outbox tables (named, so never on a `search_path`).

use std::collections::BTreeMap;

use ecommerce_db::DbFailure;
use sea_orm::{
    ConnectionTrait as _, DatabaseConnection, DbBackend, DbErr, QueryResult, Statement, Value,
};
use secrecy::ExposeSecret as _;

use crate::connect::connect_database;
use crate::settings::ServiceDatabase;

/// Pools by URL: services sharing a database share a pool.
#[derive(Debug, Default)]
pub struct Pools {
    pools: BTreeMap<String, DatabaseConnection>,
}

impl Pools {
    /// The pool of `database`'s URL, connected on first use.
    pub async fn get(&mut self, database: &ServiceDatabase) -> anyhow::Result<DatabaseConnection> {
        let url = database.settings.url.expose_secret().to_owned();
        if let Some(pool) = self.pools.get(&url) {
            return Ok(pool.clone());
        }
        let pool = connect_database(&database.settings.url, &database.variables()).await?;
        self.pools.insert(url, pool.clone());
        Ok(pool)
    }

    /// Closes every pool.
    pub async fn close(self) {
        for pool in self.pools.into_values() {
            pool.close().await.ok();
        }
    }
}

/// Runs `sql` with `values`, every row.
pub async fn query(
    pool: &DatabaseConnection,
    sql: &str,
    values: Vec<Value>,
) -> Result<Vec<QueryResult>, DbErr> {
    pool.query_all_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
    .await
}

/// Whether `error` says the table does not exist (the service never ran
/// its migrations on that schema).
pub fn is_missing_table(error: &DbErr) -> bool {
    DbFailure::classify(error) == DbFailure::UndefinedTable
}

/// The note printed for a service whose outbox table is missing.
pub fn missing_table_note(database: &ServiceDatabase) -> String {
    format!(
        "note: {}'s outbox {} does not exist (has {} run on schema {}? {})",
        database.service.name,
        database.outbox,
        database.service.name,
        database.outbox.schema(),
        database.service.variable("DB_SCHEMA")
    )
}
