//! RabbitMQ for every service, over lapin.
//!
//! - [`topology`]: the whole system's exchanges, queues and bindings as data
//!   ([`Topology::system`]), names overridable by env vars, declared
//!   idempotently ([`topology::declare`]).
//! - [`connection`]: [`Broker`], a supervised connection that reconnects with
//!   capped exponential backoff and full jitter after any loss, redeclares the
//!   topology before anyone uses the new connection, and reports its
//!   [`BrokerState`] for health checks.
//! - [`publisher`]: [`Publisher::publish_batch`], pipelined publisher
//!   confirms, `mandatory` and persistent; a nack, a return, a timeout or a
//!   channel failure is an error for that message. It is also the outbox
//!   relay's [`ecommerce_outbox::OutboxPublisher`].
//! - [`consumer`]: [`Consumer::run`], manual ack after the handler, bounded
//!   retries, dead-lettering with the reason in a header, reconnects and
//!   graceful shutdown.
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! use ecommerce_broker::{Broker, BrokerSettings, HandlerOutcome, OutgoingMessage};
//! use ecommerce_broker::topology::ConsumerQueue;
//!
//! let settings = BrokerSettings::from_env()?;
//! let broker = Broker::connect(settings.clone(), settings.topology()).await?;
//!
//! let publisher = broker.publisher();
//! # let event: ecommerce_events::EncodedEvent = unimplemented!();
//! if let Some(message) = OutgoingMessage::for_event(event, &settings.names) {
//!     publisher.publish(&message).await?;
//! }
//!
//! let queue = settings.names.queue(ConsumerQueue::InventoryOrderEvents);
//! broker
//!     .consumer()
//!     .run(queue, |_delivery| async { HandlerOutcome::Ack }, std::future::pending())
//!     .await?;
//! # Ok(()) }
//! ```

pub mod connection;
pub mod consumer;
pub mod origin;
pub mod permissions;
pub mod properties;
pub mod publisher;
mod relay_publisher;
pub mod settings;
mod stream;
pub mod topology;

/// The AMQP client underneath, for the types that appear in this API.
pub use lapin;

pub use connection::{Broker, BrokerError, BrokerState};
pub use consumer::{Consumer, ConsumerError, Delivery, HandlerOutcome, MessageHandler};
pub use ecommerce_platform::Backoff;
pub use origin::EventOrigin;
pub use publisher::{OutgoingMessage, PublishError, Publisher};
pub use settings::{BrokerSettings, ConsumerSettings};
pub use stream::{StreamError, StreamItem, StreamMessage, StreamOffset, StreamReader};
pub use topology::{ConsumerQueue, EventsExchange, QueueKind, Topology, TopologyNames};
