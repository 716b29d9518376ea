//! The example's outbox relay as a process of its own, for the fault tests:
//! relays the order desk's outbox (and the stock keeper's) until SIGTERM.
//!
//! With `EXAMPLE_CRASH_POINT=after-publish-before-mark` it parks right after
//! the broker confirmed its first non-empty batch, before marking the rows
//! published, and waits for the test's SIGKILL.

use std::sync::Arc;

use async_trait::async_trait;
use ecommerce_broker::{Broker, BrokerSettings, Publisher};
use ecommerce_messaging_example::{ExamplePlace, crash_point};
use ecommerce_outbox::{OutboxPublisher, PublishFailure, Relay, RelayMessage, RelaySettings};
use ecommerce_platform::ServiceInfo;
use sea_orm::Database;

const SERVICE: ServiceInfo = ServiceInfo {
    name: "example-relay",
    env_prefix: "EXAMPLE_RELAY",
    default_port: 0,
};

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
    let _telemetry = ecommerce_platform::telemetry::init(
        &SERVICE,
        &ecommerce_platform::TelemetrySettings::from_env()?,
    )?;
    let place = ExamplePlace::from_env()?;
    let settings = place.broker_settings(BrokerSettings::from_env()?);
    let broker = Broker::connect(settings.clone(), settings.topology()).await?;
    let publisher: Arc<dyn OutboxPublisher> = Arc::new(CrashablePublisher {
        inner: broker.publisher(),
        crash_after_publish: crash_point::is_armed(crash_point::AFTER_PUBLISH_BEFORE_MARK),
    });
    let db = Database::connect(ecommerce_messaging_example::database_url()).await?;
    let relay_settings = RelaySettings::from_env()?;
    let relays = [
        place.orders_outbox(&settings.names)?,
        place.inventory_outbox(&settings.names)?,
    ]
    .map(|outbox| {
        Relay::new(
            db.clone(),
            outbox,
            publisher.clone(),
            relay_settings.clone(),
        )
    });
    let shutdown = ecommerce_platform::shutdown::shutdown_signal();
    tokio::pin!(shutdown);
    let run_all =
        futures::future::join_all(relays.iter().map(|relay| relay.run(std::future::pending())));
    tokio::select! {
        _ = run_all => {}
        () = &mut shutdown => {}
    }
    broker.close().await;
    Ok(())
}
