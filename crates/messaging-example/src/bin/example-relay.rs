//! The example's outbox relay as a process of its own, for the fault tests:
//! relays the order desk's outbox (and the stock keeper's) until SIGTERM.
//!
//! With `EXAMPLE_CRASH_POINT=after-publish-before-mark` it parks right after
//! the broker confirmed its first non-empty batch, before marking the rows
//! published, and waits for the test's SIGKILL.

use std::sync::Arc;

use async_trait::async_trait;
use ecommerce_broker::Publisher;
use ecommerce_messaging_example::{ProcessContext, crash_point, shutdown_on_signal};
use ecommerce_outbox::{OutboxPublisher, PublishFailure, Relay, RelayMessage, RelaySettings};

/// The broker's publisher, with the relay-side crash point in between.
struct CrashablePublisher {
    inner: Publisher,
    crash_after_publish: bool,
}

#[async_trait]
impl OutboxPublisher for CrashablePublisher {
    async fn publish_batch(&self, batch: &[RelayMessage]) -> Vec<Result<(), PublishFailure>> {
        let results = OutboxPublisher::publish_batch(&self.inner, batch).await;
        if self.crash_after_publish && results.iter().any(Result::is_ok) {
            crash_point::park(crash_point::AFTER_PUBLISH_BEFORE_MARK).await;
        }
        results
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let process = ProcessContext::start("example-relay").await?;
    let publisher: Arc<dyn OutboxPublisher> = Arc::new(CrashablePublisher {
        inner: process.broker.publisher(),
        crash_after_publish: crash_point::is_armed(crash_point::AFTER_PUBLISH_BEFORE_MARK),
    });
    let names = &process.settings.names;
    let relay_settings = RelaySettings::from_env()?;
    let relays = [
        process.place.orders_outbox(names)?,
        process.place.inventory_outbox(names)?,
    ]
    .map(|outbox| {
        Relay::new(
            process.db.clone(),
            outbox,
            publisher.clone(),
            relay_settings.clone(),
        )
    });
    // Each relay finishes the batch in flight, then returns.
    let stopping = shutdown_on_signal();
    futures::future::join_all(relays.iter().map(|relay| relay.run(stopping()))).await;
    process.broker.close().await;
    Ok(())
}
