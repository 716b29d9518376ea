//! The runtime end to end: an event written through one outbox is relayed,
//! consumed through the inbox by a spawned consumer whose follow-up event is
//! relayed in turn; shutdown stops everything.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use async_trait::async_trait;
use ecommerce_broker::{ConsumerQueue, EventsExchange};
use ecommerce_events::{DecodedEvent, EventMetadata};
use ecommerce_inbox::{EventHandler, HandlerContext, HandlerError, InboxMigration, InboxTable};
use ecommerce_outbox::{OutboxMigration, OutboxTable};
use ecommerce_proto::ecommerce::inventory::v1::StockReserved;
use ecommerce_proto::ecommerce::orders::v1::OrderPlaced;
use ecommerce_test_support::TestService;
use sea_orm_migration::{MigrationTrait, MigratorTrait};

/// Both outboxes and the inbox, in whatever schema the test runs in.
struct Migrator;

#[async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(OutboxMigration::in_current_schema(
                "m1_orders_outbox",
                OutboxTable::ORDERS,
            )),
            Box::new(OutboxMigration::in_current_schema(
                "m2_inventory_outbox",
                OutboxTable::INVENTORY,
            )),
            Box::new(InboxMigration::in_current_schema(
                "m3_inbox",
                InboxTable::INVENTORY,
            )),
        ]
    }
}

/// Answers every placed order with a reservation.
struct Reserve;

#[async_trait]
impl EventHandler for Reserve {
    async fn handle(
        &self,
        context: &HandlerContext<'_>,
        event: DecodedEvent,
    ) -> Result<(), HandlerError> {
        let DecodedEvent::OrdersOrderPlacedV1(order) = event else {
            return Ok(());
        };
        let reserved = StockReserved {
            order_id: order.order_id.clone(),
            ..Default::default()
        };
        context.emit(&reserved, "order", &order.order_id).await?;
        Ok(())
    }
}

#[tokio::test]
async fn a_spawned_consumer_handles_relayed_events_and_its_follow_ups_are_relayed() {
    let service = TestService::start::<Migrator>(
        &ecommerce_platform::ServiceInfo {
            name: "runtime-test",
            env_prefix: "RUNTIME_TEST",
            default_port: 0,
        },
        &[EventsExchange::Inventory],
    )
    .await
    .unwrap();
    let runtime = &service.runtime;
    let orders = runtime
        .outbox(&OutboxTable::ORDERS, EventsExchange::Orders)
        .unwrap();
    let inventory = runtime
        .outbox(&OutboxTable::INVENTORY, EventsExchange::Inventory)
        .unwrap();
    runtime.spawn_relay(&orders);
    runtime.spawn_relay(&inventory);
    runtime
        .spawn_consumer(
            ConsumerQueue::InventoryOrderEvents,
            Reserve,
            Some(&inventory),
        )
        .unwrap();

    let transaction = orders.begin(runtime.db()).await.unwrap();
    let placed = OrderPlaced {
        order_id: "order-1".to_owned(),
        ..Default::default()
    };
    let metadata = EventMetadata::new("order", "order-1").with_correlation_id("corr-runtime");
    let placed_id = transaction.enqueue(&placed, metadata).await.unwrap();
    transaction.commit().await.unwrap();

    let reserved = service
        .expect_event("inventory.stock.reserved.v1", Duration::from_secs(10))
        .await;
    assert_eq!(
        reserved.metadata.correlation_id.as_deref(),
        Some("corr-runtime")
    );
    assert_eq!(
        reserved.metadata.causation_id.as_deref(),
        Some(placed_id.to_string().as_str())
    );
    service.finish().await.unwrap();
}

#[tokio::test]
async fn the_relay_publishes_while_every_connection_of_the_service_pool_is_taken() {
    let service = TestService::start_configured::<Migrator>(
        &ecommerce_platform::ServiceInfo {
            name: "runtime-relay-pool",
            env_prefix: "RUNTIME_RELAY_POOL",
            default_port: 0,
        },
        &[EventsExchange::Orders],
        |settings| {
            settings.database.max_connections = 1;
            settings.database.acquire_timeout = Duration::from_secs(30);
        },
    )
    .await
    .unwrap();
    let runtime = &service.runtime;
    let orders = runtime
        .outbox(&OutboxTable::ORDERS, EventsExchange::Orders)
        .unwrap();
    runtime.spawn_relay(&orders);

    // The handlers' only connection is busy (a long transaction)...
    let busy = sea_orm::TransactionTrait::begin(runtime.db())
        .await
        .unwrap();
    // ...while an order commits through another connection.
    let elsewhere = service.schema.connect(1).await.unwrap();
    let transaction = orders.begin(&elsewhere).await.unwrap();
    let placed = OrderPlaced {
        order_id: "order-2".to_owned(),
        ..Default::default()
    };
    let placed_id = transaction
        .enqueue(&placed, EventMetadata::new("order", "order-2"))
        .await
        .unwrap();
    transaction.commit().await.unwrap();

    // The relay has its own connection: it publishes without waiting for
    // the busy one (the pool would make it wait 30 s).
    let published = service
        .expect_event("orders.order_placed.v1", Duration::from_secs(10))
        .await;
    assert_eq!(published.metadata.id, placed_id);
    busy.rollback().await.unwrap();
    elsewhere.close().await.unwrap();
    service.finish().await.unwrap();
}
