//! The transactional outbox every event-emitting service uses.
//!
//! - **Table**: one per service schema ([`OutboxTable`] presets with the seed
//!   names), created by [`create_outbox_table`] or the ready-made
//!   [`OutboxMigration`].
//! - **Write**: [`Outbox::enqueue`] stores the encoded envelope in the
//!   caller's transaction, with correlation id, causation id and W3C trace
//!   context, and the event type's schema registry id once registered
//!   ([`SchemaIds`]). Commit through [`OutboxTransaction::commit`] (from
//!   [`Outbox::begin`]) to wake this process's relay at once; there is no
//!   Postgres `NOTIFY`, which would serialize every writer on a global lock.
//! - **Relay**: [`Relay::run`] claims due rows with `FOR UPDATE SKIP LOCKED`
//!   (any number of relays, in any number of processes, share the work),
//!   publishes them through an [`OutboxPublisher`] (the broker crate's
//!   adapter in services, an in-memory fake in tests), marks them published
//!   only after the confirm, retries failures with exponential backoff and
//!   jitter, marks a row `failed` after `max_attempts`, and prunes published
//!   rows past the retention. [`Relay::stats`] reports the backlog, the
//!   outbox lag and the publish rate.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use ecommerce_events::EventMetadata;
//! # use ecommerce_outbox::{Outbox, OutboxPublisher, OutboxTable, Relay, RelaySettings};
//! # async fn example(
//! #     db: sea_orm::DatabaseConnection,
//! #     relay_db: sea_orm::DatabaseConnection,
//! #     publisher: Arc<dyn OutboxPublisher>,
//! #     payload: ecommerce_proto::ecommerce::orders::v1::OrderPlaced,
//! #     shutdown: impl std::future::Future<Output = ()> + Send + 'static,
//! # ) -> anyhow::Result<()> {
//! let outbox = Outbox::new(OutboxTable::ORDERS, "orders.events");
//! let relay = Relay::new(relay_db, outbox.clone(), publisher, RelaySettings::from_env()?);
//! tokio::spawn(async move { relay.run(shutdown).await });
//!
//! let transaction = outbox.begin(&db).await?;
//! // ... change the order through SeaORM on `&transaction` ...
//! outbox
//!     .enqueue(&transaction, &payload, EventMetadata::new("order", "42"))
//!     .await?;
//! transaction.commit().await?; // commits, then wakes the relay
//! # Ok(()) }
//! ```

mod error;
mod outbox;
mod publisher;
mod relay;
mod schema_ids;
pub mod settings;
mod table;

pub use error::OutboxError;
pub use outbox::{Outbox, OutboxBacklog, OutboxTransaction, current_trace_context};
pub use publisher::{OutboxPublisher, PublishFailure, RelayMessage};
pub use relay::{BatchOutcome, Relay, RelayStats};
pub use schema_ids::SchemaIds;
pub use settings::RelaySettings;
pub use table::{
    OutboxMigration, OutboxTable, create_outbox_table, create_outbox_table_in, drop_outbox_table,
};
