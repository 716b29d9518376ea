//! The example's stock keeper as a process of its own, for the fault tests:
//! consumes the (prefixed) `inventory.order-events` queue through the inbox
//! until SIGTERM.
//!
//! With `EXAMPLE_CRASH_POINT=after-commit-before-ack` it parks right after
//! its first transaction committed, before the ack, and waits for the
//! test's SIGKILL.

use ecommerce_broker::ConsumerQueue;
use ecommerce_messaging_example::{ProcessContext, StockKeeper, crash_point, shutdown_on_signal};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let process = ProcessContext::start("example-consumer").await?;
    let names = &process.settings.names;
    let mut consumer = StockKeeper::new(&process.place.schema).into_consumer(
        process.db.clone(),
        process.place.inbox()?,
        process.place.inventory_outbox(names)?,
    );
    if crash_point::is_armed(crash_point::AFTER_COMMIT_BEFORE_ACK) {
        consumer = consumer
            .on_committed(|_| crash_point::park_thread(crash_point::AFTER_COMMIT_BEFORE_ACK));
    }
    let queue = names.queue(ConsumerQueue::InventoryOrderEvents);
    let stopping = shutdown_on_signal();
    consumer
        .run(&process.broker.consumer(), queue, stopping())
        .await?;
    process.broker.close().await;
    Ok(())
}
