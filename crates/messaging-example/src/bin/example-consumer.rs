//! The example's stock keeper as a process of its own, for the fault tests:
//! consumes the (prefixed) `inventory.order-events` queue through the inbox
//! until SIGTERM.
//!
//! With `EXAMPLE_CRASH_POINT=after-commit-before-ack` it parks right after
//! its first transaction committed, before the ack, and waits for the
//! test's SIGKILL.

use ecommerce_broker::{Broker, BrokerSettings, ConsumerQueue};
use ecommerce_messaging_example::{ExamplePlace, StockKeeper, crash_point};
use ecommerce_platform::ServiceInfo;
use sea_orm::Database;

const SERVICE: ServiceInfo = ServiceInfo {
    name: "example-consumer",
    env_prefix: "EXAMPLE_CONSUMER",
    default_port: 0,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = ecommerce_platform::telemetry::init(
        &SERVICE,
        &ecommerce_platform::TelemetrySettings::from_env()?,
    )?;
    let place = ExamplePlace::from_env()?;
    let settings = place.broker_settings(BrokerSettings::from_env()?);
    let broker = Broker::connect(settings.clone(), settings.topology()).await?;
    let db = Database::connect(ecommerce_messaging_example::database_url()).await?;

    let mut consumer = StockKeeper::new(&place.schema).into_consumer(
        db,
        place.inbox()?,
        place.inventory_outbox(&settings.names)?,
    );
    if crash_point::is_armed(crash_point::AFTER_COMMIT_BEFORE_ACK) {
        consumer = consumer
            .on_committed(|_| crash_point::park_thread(crash_point::AFTER_COMMIT_BEFORE_ACK));
    }
    let queue = settings.names.queue(ConsumerQueue::InventoryOrderEvents);
    consumer
        .run(
            &broker.consumer(),
            queue,
            ecommerce_platform::shutdown::shutdown_signal(),
        )
        .await?;
    broker.close().await;
    Ok(())
}
