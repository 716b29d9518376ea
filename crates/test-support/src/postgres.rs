//! A fresh Postgres schema per test.
//!
//! [`TestSchema::create`] makes a uniquely named schema in the database named
//! by `DATABASE_URL` (default [`DEFAULT_DATABASE_URL`], created when missing)
//! and opens a pool whose connections carry the schema name as their
//! `application_name` and first `search_path` entry. The schema is dropped by
//! [`TestSchema::drop_schema`] at the end of the test, or, when the test
//! panics first, by `Drop`: it terminates the test's own sessions (a spawned
//! task may still hold a transaction, which would block `DROP SCHEMA`) and
//! drops the schema from a helper thread with its own runtime and connection.
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! use ecommerce_test_support::TestSchema;
//!
//! let schema = TestSchema::create("outbox").await?;
//! // ... use schema.db() and schema.name() ...
//! schema.drop_schema().await?;
//! # Ok(()) }
//! ```

use std::time::Duration;

use anyhow::Context as _;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr, RuntimeErr};
use uuid::Uuid;

/// Variable holding the Postgres URL tests connect to.
pub const DATABASE_URL_VAR: &str = "DATABASE_URL";
/// The local default: trust auth on loopback, database `ecommerce`.
pub const DEFAULT_DATABASE_URL: &str =
    "postgres://postgres@127.0.0.1:5432/ecommerce?sslmode=disable";

/// SQLSTATE `invalid_catalog_name`: the database does not exist.
const INVALID_CATALOG_NAME: &str = "3D000";
/// SQLSTATE `duplicate_database`: another test created it first.
const DUPLICATE_DATABASE: &str = "42P04";
/// SQLSTATE `unique_violation`: the same race, caught by `pg_database`'s index.
const UNIQUE_VIOLATION: &str = "23505";

/// `DATABASE_URL`, or [`DEFAULT_DATABASE_URL`] when unset or blank.
pub fn database_url() -> String {
    std::env::var(DATABASE_URL_VAR)
        .ok()
        .filter(|url| !url.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned())
}

/// Connects to `url`, creating its database first when it does not exist.
pub async fn connect_creating_database(url: &str) -> anyhow::Result<DatabaseConnection> {
    match connect(url, 5).await {
        Ok(db) => return Ok(db),
        Err(error) if sqlstate(&error).as_deref() == Some(INVALID_CATALOG_NAME) => {}
        Err(error) => return Err(error).with_context(|| format!("cannot connect to {url}")),
    }
    let (server_url, database) =
        split_database(url).with_context(|| format!("{url} does not name a database to create"))?;
    let maintenance_url = with_database(url, "postgres")
        .with_context(|| format!("cannot derive the maintenance database URL from {url}"))?;
    let maintenance = connect(&maintenance_url, 1)
        .await
        .with_context(|| format!("cannot connect to {server_url} to create {database}"))?;
    let created = maintenance
        .execute_unprepared(&format!("CREATE DATABASE {}", quote_identifier(&database)))
        .await;
    maintenance.close().await.ok();
    match created {
        Ok(_) => {}
        Err(error)
            if matches!(
                sqlstate(&error).as_deref(),
                Some(DUPLICATE_DATABASE | UNIQUE_VIOLATION)
            ) => {}
        Err(error) => {
            return Err(error).with_context(|| format!("cannot create database {database}"));
        }
    }
    connect(url, 5)
        .await
        .with_context(|| format!("cannot connect to {url} after creating it"))
}

/// A uniquely named schema that lives as long as one test.
pub struct TestSchema {
    name: String,
    url: String,
    db: DatabaseConnection,
    dropped: bool,
}

impl std::fmt::Debug for TestSchema {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("TestSchema")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl TestSchema {
    /// Creates `t_<prefix>_<uuid>` and a pool of connections tagged with it.
    pub async fn create(prefix: &str) -> anyhow::Result<Self> {
        let name = schema_name(prefix);
        let base_url = database_url();
        let admin = connect_creating_database(&base_url).await?;
        admin
            .execute_unprepared(&format!("CREATE SCHEMA {}", quote_identifier(&name)))
            .await
            .with_context(|| format!("cannot create schema {name}"))?;
        admin.close().await.ok();
        let url = tagged_url(&base_url, &name);
        let db = connect(&url, 10)
            .await
            .with_context(|| format!("cannot connect to {base_url} for schema {name}"))?;
        Ok(Self {
            name,
            url,
            db,
            dropped: false,
        })
    }

    /// `DATABASE_URL` with `application_name` set to the schema's name, for
    /// the pool of a service under test: the cleanup on a panic can then end
    /// its sessions too (they would block `DROP SCHEMA`).
    pub fn application_url(&self) -> String {
        let base = database_url();
        let separator = if base.contains('?') { '&' } else { '?' };
        format!("{base}{separator}application_name={}", self.name)
    }

    /// The schema's name, already a valid unquoted identifier.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The test's pool.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Another, independent pool on the same schema, e.g. to stand for a
    /// second process. Its sessions are terminated with the schema too.
    pub async fn connect(&self, max_connections: u32) -> anyhow::Result<DatabaseConnection> {
        connect(&self.url, max_connections)
            .await
            .with_context(|| format!("cannot open another pool for schema {}", self.name))
    }

    /// The bigint `n` of the one row `sql` returns (`SELECT count(*) AS n
    /// FROM ...`); panics on a failed query, as a test should.
    pub async fn count(&self, sql: &str) -> i64 {
        let row = self
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                sql.to_owned(),
            ))
            .await
            .unwrap_or_else(|error| panic!("{sql}: {error}"))
            .unwrap_or_else(|| panic!("{sql}: no row"));
        row.try_get::<i64>("", "n")
            .unwrap_or_else(|error| panic!("{sql}: column n: {error}"))
    }

    /// Drops the schema and everything in it, ending the test's sessions first.
    pub async fn drop_schema(mut self) -> anyhow::Result<()> {
        self.dropped = true;
        drop_schema_now(&self.url, &self.name).await
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        // The test panicked (or forgot): its runtime may be the current thread,
        // so the drop runs on a helper thread with a runtime of its own.
        let url = self.url.clone();
        let name = self.name.clone();
        let helper = std::thread::spawn(move || -> anyhow::Result<()> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(drop_schema_now(&url, &name))
        });
        match helper.join() {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!("could not drop test schema {}: {error:#}", self.name),
            Err(_) => eprintln!("dropping test schema {} panicked", self.name),
        }
    }
}

async fn drop_schema_now(url: &str, name: &str) -> anyhow::Result<()> {
    let base_url = strip_tags(url);
    let admin = connect(&base_url, 1).await?;
    // Sessions of the test (its pools, a relay's open transaction) would
    // block DROP SCHEMA on their locks.
    admin
        .execute_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = $1 AND pid <> pg_backend_pid()",
            [name.into()],
        ))
        .await
        .with_context(|| format!("cannot end the sessions of schema {name}"))?;
    admin
        .execute_unprepared(&format!(
            "DROP SCHEMA IF EXISTS {} CASCADE",
            quote_identifier(name)
        ))
        .await
        .with_context(|| format!("cannot drop schema {name}"))?;
    admin.close().await.ok();
    Ok(())
}

async fn connect(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(max_connections)
        .min_connections(0)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30))
        .sqlx_logging(false);
    Database::connect(options).await
}

fn sqlstate(error: &DbErr) -> Option<String> {
    let (DbErr::Conn(RuntimeErr::SqlxError(sqlx_error))
    | DbErr::Exec(RuntimeErr::SqlxError(sqlx_error))
    | DbErr::Query(RuntimeErr::SqlxError(sqlx_error))) = error
    else {
        return None;
    };
    let code = sqlx_error.as_database_error()?.code()?;
    Some(code.into_owned())
}

/// `t_<prefix>_<uuid>`, lowercase and at most 63 bytes so Postgres keeps it whole.
fn schema_name(prefix: &str) -> String {
    let prefix: String = prefix
        .chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() {
                character.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(24)
        .collect();
    format!("t_{prefix}_{}", Uuid::now_v7().simple())
}

fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The URL with the schema as `application_name` (to find the test's
/// sessions) and first on the `search_path`.
fn tagged_url(url: &str, schema: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}application_name={schema}&options[search_path]={schema},public")
}

fn strip_tags(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            !pair.starts_with("application_name=") && !pair.starts_with("options[search_path]=")
        })
        .collect();
    if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    }
}

/// Splits `scheme://authority/database?query` into the URL without the
/// database and the database name.
fn split_database(url: &str) -> Option<(String, String)> {
    let (without_query, _) = url.split_once('?').unwrap_or((url, ""));
    let after_scheme = without_query.find("://")? + 3;
    let slash = without_query[after_scheme..].find('/')? + after_scheme;
    let database = &without_query[slash + 1..];
    if database.is_empty() {
        return None;
    }
    Some((without_query[..slash].to_owned(), database.to_owned()))
}

fn with_database(url: &str, database: &str) -> Option<String> {
    let (server, _) = split_database(url)?;
    let query = url.split_once('?').map(|(_, query)| query);
    Some(match query {
        Some(query) => format!("{server}/{database}?{query}"),
        None => format!("{server}/{database}"),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_database_is_split_off_with_or_without_a_query() {
        assert_eq!(
            split_database("postgres://postgres@127.0.0.1:5432/ecommerce").unwrap(),
            (
                "postgres://postgres@127.0.0.1:5432".to_owned(),
                "ecommerce".to_owned()
            )
        );
        assert_eq!(
            with_database("postgres://u:p@db/shop?sslmode=disable", "postgres").unwrap(),
            "postgres://u:p@db/postgres?sslmode=disable"
        );
        assert_eq!(split_database("postgres://db:5432"), None);
        assert_eq!(split_database("postgres://db:5432/"), None);
    }

    #[test]
    fn schema_names_are_unique_lowercase_identifiers() {
        let first = schema_name("Outbox Relay-Test");
        let second = schema_name("Outbox Relay-Test");
        assert_ne!(first, second);
        assert!(first.starts_with("t_outbox_relay_test_"), "{first}");
        assert!(first.len() <= 63);
        assert!(first.chars().all(|character| character.is_ascii_lowercase()
            || character.is_ascii_digit()
            || character == '_'));
    }

    #[test]
    fn tags_are_added_and_removed() {
        let url = "postgres://db/shop?sslmode=disable";
        let tagged = tagged_url(url, "t_x");
        assert_eq!(
            tagged,
            "postgres://db/shop?sslmode=disable&application_name=t_x&options[search_path]=t_x,public"
        );
        assert_eq!(strip_tags(&tagged), url);
        assert_eq!(
            strip_tags(&tagged_url("postgres://db/shop", "t_x")),
            "postgres://db/shop"
        );
    }
}
