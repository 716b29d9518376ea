//! Postgres helpers every service shares.
//!
//! Crates such as the outbox and the inbox own one table per service schema,
//! named at run time (six service schemas, a fresh schema per test), so they
//! write raw SQL rather than SeaORM entities, whose table names are fixed at
//! compile time. This crate holds what such a table needs whatever its
//! columns:
//!
//! - [`QualifiedTableName`]: `<schema>.<table>`, validated as plain lowercase
//!   identifiers so it is safe to splice into SQL, with the quoted
//!   [`qualified`](QualifiedTableName::qualified) form and the index and
//!   constraint names [`derived`](QualifiedTableName::derived) from it.
//! - [`idempotent_ddl`]: wraps `CREATE ... IF NOT EXISTS` statements in one
//!   `DO` block under a cluster-wide advisory lock, creating the schema
//!   first, so replicas starting together never race.
//! - [`ManagedTable`]: a table a crate can create and drop, with the generic
//!   [`create_table`], [`drop_table`] and the ready-made [`TableMigration`].
//! - [`DatabaseSettings`] and [`connect`]: a service's pool on its own schema
//!   (`search_path`), created when missing; [`connect_and_migrate`] also runs
//!   the service's migrator.
//! - [`SqlMigration`]: a migration step as SQL text on unqualified table
//!   names, and [`TableMigration::in_current_schema`]: a managed table in
//!   whatever schema the migrator runs in; together they make a service's
//!   migrator under `migrations/`.
//! - [`DbFailure`]: the one translation of SQLSTATEs (unique violation and
//!   its constraint, conflict to retry, unavailable, ...) every service uses.
//! - [`StoreError`]: a storage failure classified once, with the one retry
//!   policy and status table (see its module); a service's error wraps it.
//! - [`transaction!`]: the one way to run a transaction: begin, run a block
//!   borrowing it, commit, and again on a retryable failure.

mod connect;
mod ddl;
mod error;
mod managed_table;
mod sql_migration;
mod sqlstate;
mod table_name;
#[doc(hidden)]
pub mod transaction;

pub use connect::{
    DATABASE_URL_VAR, DEFAULT_DATABASE_URL, DEFAULT_MAX_CONNECTIONS, DatabaseSettings, connect,
    connect_and_migrate, connect_pool,
};
pub use ddl::{DDL_ADVISORY_LOCK, idempotent_ddl, schema_ddl};
pub use error::{StoreError, TransactionError};
pub use managed_table::{ManagedTable, TableMigration, create_table, current_schema, drop_table};
pub use sql_migration::SqlMigration;
pub use sqlstate::DbFailure;
pub use table_name::{
    InvalidTableName, MAX_IDENTIFIER_LEN, QualifiedTableName, validate_schema_name,
};
pub use transaction::{Commit, TRANSACTION_ATTEMPTS, begin_snapshot};
