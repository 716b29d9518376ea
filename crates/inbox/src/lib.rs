//! The idempotent consumer every service uses: the inbox.
//!
//! Delivery is at least once (a relay may publish twice, an ack may be
//! lost), so each consumer records the id of every message it applied in
//! `<schema>.processed_messages`, **in the same transaction as the effect**.
//! A redelivered message finds its record and is acknowledged without a
//! second effect; the broker is acknowledged only after the commit.
//!
//! - **Table**: one per service schema ([`InboxTable`] presets), created by
//!   [`create_inbox_table`] or the ready-made [`InboxMigration`]; old records
//!   go with [`prune_inbox`]. Primary key `(consumer, message_id)`, so
//!   several consumers of one service share the table.
//! - **Handler**: a service implements [`EventHandler`] and gets the decoded
//!   event plus a [`HandlerContext`]: the open transaction, the incoming
//!   metadata, and [`HandlerContext::emit`], which enqueues a follow-up event
//!   through the outbox in the same transaction with causation id = the
//!   incoming event id, the correlation id passed through and the trace
//!   continued. [`HandlerError::Transient`] is retried,
//!   [`HandlerError::Permanent`] dead-lettered.
//! - **Runtime**: [`InboxConsumer`] is the broker's
//!   [`MessageHandler`](ecommerce_broker::MessageHandler): decode (an
//!   undecodable message is dead-lettered), begin, record the id, handle,
//!   commit, ack. Each message gets a span with the consumer, event type,
//!   message id and correlation id, continuing the producer's trace.
//!
//! ```no_run
//! # use async_trait::async_trait;
//! # use ecommerce_events::DecodedEvent;
//! # use ecommerce_inbox::{EventHandler, HandlerContext, HandlerError, InboxConsumer, InboxTable};
//! # use ecommerce_outbox::{Outbox, OutboxTable};
//! # use ecommerce_proto::ecommerce::inventory::v1::StockReserved;
//! # async fn example(
//! #     db: sea_orm::DatabaseConnection,
//! #     broker: ecommerce_broker::Broker,
//! #     shutdown: impl std::future::Future<Output = ()> + Send,
//! # ) -> anyhow::Result<()> {
//! struct ReserveStock;
//!
//! #[async_trait]
//! impl EventHandler for ReserveStock {
//!     async fn handle(
//!         &self,
//!         context: &HandlerContext<'_>,
//!         event: DecodedEvent,
//!     ) -> Result<(), HandlerError> {
//!         let DecodedEvent::OrdersOrderPlacedV1(order) = event else {
//!             return Ok(()); // other events on the queue: nothing to do
//!         };
//!         // ... reserve through SeaORM on `context.transaction()` ...
//!         let reserved = StockReserved { order_id: order.order_id.clone(), ..Default::default() };
//!         context.emit(&reserved, "order", &order.order_id).await?;
//!         Ok(())
//!     }
//! }
//!
//! let inbox = InboxConsumer::new("inventory.order-events", db, InboxTable::INVENTORY, ReserveStock)
//!     .with_outbox(Outbox::new(OutboxTable::INVENTORY, "inventory.events"));
//! inbox
//!     .run(&broker.consumer(), "inventory.order-events", shutdown)
//!     .await?;
//! # Ok(()) }
//! ```

mod consumer;
mod error;
mod handler;
mod stream;
mod table;
mod trace;

pub use consumer::InboxConsumer;
pub use error::{HandlerError, InboxError};
pub use handler::{EventHandler, HandlerContext};
pub use stream::{
    ReadProgress, STREAM_CURSORS_TABLE, StreamInbox, StreamInboxError, reset_stream_in,
};
pub use table::{
    DEFAULT_TABLE_NAME, InboxMigration, InboxTable, create_inbox_table, drop_inbox_table,
    prune_inbox,
};
