//! A migration written as plain SQL, for a service's own tables.

use async_trait::async_trait;
use sea_orm::{ConnectionTrait, DbErr};
use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager};

/// One step of a service's migrator as SQL text (usually `include_str!` of
/// a `.sql` file beside the migrator), run in one transaction.
///
/// Table names are left unqualified on purpose: the service's pool has its
/// schema as `search_path` (see [`connect`](crate::connect)), so the same
/// migration builds `catalog.products` in production and
/// `t_catalog_1234.products` in a test's fresh schema. Plain SQL rather
/// than SeaORM's schema builder because constraints, partial indexes and
/// generated columns read best, and are reviewed best, as the SQL they are.
#[derive(Clone, Copy, Debug)]
pub struct SqlMigration {
    name: &'static str,
    up: &'static str,
    down: &'static str,
}

impl SqlMigration {
    pub const fn new(name: &'static str, up: &'static str, down: &'static str) -> Self {
        Self { name, up, down }
    }
}

impl MigrationName for SqlMigration {
    fn name(&self) -> &str {
        self.name
    }
}

#[async_trait]
impl MigrationTrait for SqlMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared(self.up).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(self.down)
            .await?;
        Ok(())
    }
}
