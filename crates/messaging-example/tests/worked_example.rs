//! The worked example of the messaging backbone, end to end on a real
//! Postgres and RabbitMQ, with the example's own domain code: the
//! [`OrderDesk`](ecommerce_messaging_example::OrderDesk) places orders, the
//! [`StockKeeper`] reserves stock through the inbox. Written to be read as
//! documentation.
//!
//! ```text
//!  OrderDesk (orders side)                 RabbitMQ                         StockKeeper (inventory side)
//!  ───────────────────────                 ────────                         ────────────────────────────
//!  place_order, one transaction:
//!    INSERT example_orders
//!    enqueue(OrderPlaced)
//!  commit ── wakes ──▶ orders relay ──▶ orders.events ── orders.# ──▶ inventory.order-events
//!                                             │                                    │
//!                                             └── orders.# ──▶ tap.orders    InboxConsumer "inventory.order-events",
//!                                                 (test only: every          one transaction per message:
//!                                                  copy published)             INSERT processed_messages (dedup key)
//!                                                                              StockKeeper: INSERT example_reservations
//!                                                                                           emit(StockReserved)
//!                                                                            commit, then ack
//!                                                                                          │
//!  orders.inventory-events ◀── inventory.stock.# ── inventory.events ◀── inventory relay ◀──┘
//! ```
//!
//! What each test shows:
//! - a committed order is reserved exactly once, and the follow-up event
//!   names the order event as its cause and keeps its correlation id;
//! - a rolled-back order publishes nothing and reserves nothing;
//! - the same message delivered again is acknowledged with no second effect;
//! - a message that does not decode lands in the dead-letter queue with the
//!   reason, and the queue goes on;
//! - a handler that keeps failing transiently is retried, then dead-lettered;
//!   a permanent failure is dead-lettered at once;
//! - a poison message among deliveries handled as one batch is dead-lettered
//!   alone, and the others are applied exactly once.
//!
//! Both sides share one Postgres schema: the desk writes `example_orders`
//! and `orders_outbox_events`, the stock keeper `example_reservations`,
//! `processed_messages` and `inventory_outbox_events`. Neither side reads
//! the other's tables, and everything between them goes through RabbitMQ,
//! so a second schema would show nothing more; one schema is also what the
//! `example-relay` and `example-consumer` processes of the fault tests use.
//!
//! Every test has its own schema and its own prefixed copy of the RabbitMQ
//! topology, deleted at its end, so the tests run in parallel.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use ecommerce_broker::EventsExchange;
use ecommerce_broker::consumer::{DEATH_REASON_HEADER, ORIGINAL_QUEUE_HEADER};
use ecommerce_events::DecodedEvent;
use ecommerce_inbox::{EventHandler, HandlerContext, HandlerError};
use ecommerce_messaging_example::StockKeeper;
use ecommerce_test_support::rabbitmq::{header_text, test_message};
use support::{PATIENCE, World, copy_of, decode_message};

// ───────────────────────── the happy path ─────────────────────────

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committed_order_is_reserved_once_and_its_follow_up_event_is_caused_by_it() {
    let world = World::create("worked_reserved_once").await;
    let example = world.run_example().await;

    let placed = world.desk.place_order(world.db(), 2).await.unwrap();

    world
        .wait_for("the order reserved", async |world: &World| {
            world.effects().await == (1, 1, 1)
        })
        .await;
    assert_eq!(world.reservations_for(placed.order_id).await, 1);
    assert_eq!(world.times_processed(placed.event_id).await, 1);

    // The order event as the relay published it: its correlation id is the
    // one every event of this checkout carries.
    let order_message = world
        .broker
        .admin
        .get(&world.tap_queue)
        .await
        .expect("the OrderPlaced copy on the tap");
    let order_event = decode_message(&order_message).metadata;
    assert_eq!(order_event.id, placed.event_id);
    let correlation_id = order_event
        .correlation_id
        .clone()
        .expect("the desk sets a correlation id");

    // The follow-up event was written in the handler's transaction, linked
    // to its cause.
    assert_eq!(
        world.inventory_outbox_events().await,
        [(
            "inventory.stock.reserved.v1".to_owned(),
            Some(placed.event_id.to_string()),
            Some(correlation_id.clone()),
        )]
    );

    // The inventory relay publishes it; orders-svc's queue for inventory
    // events receives it, and it decodes as a consumer there would see it.
    let inventory_events_queue = world.inventory_events_queue();
    let admin = &world.broker.admin;
    assert_eq!(
        admin
            .wait_for_message_count(&inventory_events_queue, 1, PATIENCE)
            .await,
        1
    );
    let reserved_message = admin
        .get(&inventory_events_queue)
        .await
        .expect("the StockReserved message");
    let reserved = decode_message(&reserved_message);
    assert_eq!(
        reserved.metadata.causation_id,
        Some(placed.event_id.to_string())
    );
    assert_eq!(reserved.metadata.correlation_id, Some(correlation_id));
    let DecodedEvent::InventoryStockReservedV1(reserved_payload) = reserved.event else {
        panic!("expected StockReserved, got {:?}", reserved.event);
    };
    assert_eq!(reserved_payload.order_id, placed.order_id.to_string());
    let reserved_quantity: i32 = reserved_payload
        .lines
        .iter()
        .map(|line| line.quantity)
        .sum();
    assert_eq!(reserved_quantity, 2);

    // Everything settled: each outbox row published once, the stock queue
    // acknowledged, and still exactly one effect.
    world
        .wait_for(
            "both outbox rows marked published",
            async |world: &World| {
                world.order_outbox_statuses().await == (0, 1, 0)
                    && world
                        .count("{schema}.inventory_outbox_events WHERE status = 'published'")
                        .await
                        == 1
            },
        )
        .await;
    world.wait_for_stock_queue_drained().await;
    assert_eq!(world.effects().await, (1, 1, 1));
    assert_eq!(world.drain_tap().await, Vec::<String>::new());

    example.stop().await;
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_back_order_publishes_nothing_and_reserves_nothing() {
    let world = World::create("worked_rolled_back").await;
    let example = world.run_example().await;

    // The desk writes into the caller's transaction, which then rolls back
    // (say, a later step of the checkout failed).
    let transaction = world.desk.outbox().begin(world.db()).await.unwrap();
    let rolled_back = world.desk.place_order_in(&transaction, 1).await.unwrap();
    transaction.rollback().await.unwrap();
    // A later committed order: once it is reserved the pipeline has run.
    let committed = world.desk.place_order(world.db(), 1).await.unwrap();
    world
        .wait_for("the committed order reserved", async |world: &World| {
            world.effects().await == (1, 1, 1)
        })
        .await;

    assert_eq!(world.reservations_for(rolled_back.order_id).await, 0);
    assert_eq!(world.times_processed(rolled_back.event_id).await, 0);
    assert_eq!(world.count("{schema}.example_orders").await, 1);
    assert_eq!(world.count("{schema}.orders_outbox_events").await, 1);
    // The tap saw every order event the relay published: only the committed one.
    assert_eq!(world.drain_tap().await, [committed.event_id.to_string()]);

    example.stop().await;
    world.finish().await;
}

// ───────────────────────── at-least-once delivery ─────────────────────────

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_message_delivered_again_is_acknowledged_without_a_second_effect() {
    let world = World::create("worked_duplicate").await;
    let example = world.run_example().await;
    let first = world.desk.place_order(world.db(), 1).await.unwrap();
    world
        .wait_for("the order reserved", async |world: &World| {
            world.effects().await == (1, 1, 1)
        })
        .await;

    // A second copy, byte for byte and with the same message id, as a relay
    // that crashed before marking the row published would send it.
    let published = world
        .broker
        .admin
        .get(&world.tap_queue)
        .await
        .expect("the published copy on the tap");
    world
        .broker
        .broker
        .publisher()
        .publish(&copy_of(&published))
        .await
        .unwrap();
    // One handler at a time on a FIFO queue: once a later order is
    // reserved, the duplicate before it has been dealt with.
    let later = world.desk.place_order(world.db(), 1).await.unwrap();
    world
        .wait_for("the later order reserved", async |world: &World| {
            world.reservations_for(later.order_id).await == 1
        })
        .await;

    // Both copies of the first order reached the exchange...
    assert_eq!(
        world.drain_tap().await,
        [first.event_id.to_string(), later.event_id.to_string()]
    );
    // ...and it was applied once: two orders, two effects, two follow-ups.
    assert_eq!(world.reservations_for(first.order_id).await, 1);
    assert_eq!(world.times_processed(first.event_id).await, 1);
    assert_eq!(world.effects().await, (2, 2, 2));
    assert_eq!(world.inventory_outbox_events().await.len(), 2);
    // Acknowledged, not dead-lettered.
    world.wait_for_stock_queue_drained().await;
    assert_eq!(
        world
            .broker
            .admin
            .message_count(&world.stock_dead_letter_queue())
            .await,
        0
    );

    example.stop().await;
    world.finish().await;
}

/// Deliveries that arrive together are applied in one transaction; a poison
/// message among them is isolated (the batch is rolled back and handled one
/// message at a time), so it alone is dead-lettered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_poison_order_among_20_published_together_is_dead_lettered_and_the_19_others_apply_once()
 {
    let world = World::create("worked_batch_poison").await;
    // All 20 in one transaction, so the relay publishes them as one batch;
    // the 8th has nothing to reserve, which the stock keeper calls permanent.
    let transaction = world.desk.outbox().begin(world.db()).await.unwrap();
    let mut placed = Vec::new();
    for position in 0..20 {
        let quantity = if position == 7 { 0 } else { 1 };
        placed.push(
            world
                .desk
                .place_order_in(&transaction, quantity)
                .await
                .unwrap(),
        );
    }
    transaction.commit().await.unwrap();
    let example = world.run_example().await;

    let dead_letter_queue = world.stock_dead_letter_queue();
    let admin = &world.broker.admin;
    assert_eq!(
        admin
            .wait_for_message_count(&dead_letter_queue, 1, PATIENCE)
            .await,
        1
    );
    world
        .wait_for("the 19 others reserved", async |world: &World| {
            world.effects().await == (19, 19, 19)
        })
        .await;
    world.wait_for_stock_queue_drained().await;
    let dead = admin.get(&dead_letter_queue).await.expect("the DLQ copy");
    assert_eq!(decode_message(&dead).metadata.id, placed[7].event_id);
    assert_eq!(
        header_text(&dead, DEATH_REASON_HEADER),
        Some(format!(
            "order {} has nothing to reserve",
            placed[7].order_id
        ))
    );
    for (position, order) in placed.iter().enumerate() {
        let expected = i64::from(position != 7);
        assert_eq!(world.times_processed(order.event_id).await, expected);
        assert_eq!(world.reservations_for(order.order_id).await, expected);
    }
    assert_eq!(world.inventory_outbox_events().await.len(), 19);
    assert_eq!(admin.message_count(&dead_letter_queue).await, 0);

    example.stop().await;
    world.finish().await;
}

// ───────────────────────── failures ─────────────────────────

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_does_not_decode_is_dead_lettered_and_the_next_one_is_handled() {
    let world = World::create("worked_undecodable").await;
    let example = world.run_example().await;
    let orders_exchange = world
        .broker
        .names()
        .exchange(EventsExchange::Orders)
        .to_owned();

    // Properties that look right, a body that is not an envelope.
    let garbage = test_message(&orders_exchange, "orders.order_placed.v1", b"garbage");
    world
        .broker
        .broker
        .publisher()
        .publish(&garbage)
        .await
        .unwrap();
    let placed = world.desk.place_order(world.db(), 1).await.unwrap();

    let dead_letter_queue = world.stock_dead_letter_queue();
    let admin = &world.broker.admin;
    assert_eq!(
        admin
            .wait_for_message_count(&dead_letter_queue, 1, PATIENCE)
            .await,
        1
    );
    let dead = admin.get(&dead_letter_queue).await.expect("the DLQ copy");
    assert_eq!(dead.delivery.data, b"garbage");
    let reason = header_text(&dead, DEATH_REASON_HEADER).unwrap();
    assert!(
        reason.starts_with("undecodable: the body is not an event envelope"),
        "{reason}"
    );
    assert_eq!(
        header_text(&dead, ORIGINAL_QUEUE_HEADER),
        Some(world.stock_queue())
    );

    // The queue went on: the good order behind it is applied, once.
    world
        .wait_for("the good order reserved", async |world: &World| {
            world.effects().await == (1, 1, 1)
        })
        .await;
    assert_eq!(world.times_processed(placed.event_id).await, 1);
    assert_eq!(admin.message_count(&dead_letter_queue).await, 0);

    example.stop().await;
    world.finish().await;
}

/// The real [`StockKeeper`], watched: counts its calls and, when the
/// database is "down", fails transiently after it wrote, as a lost
/// connection would. Whatever it wrote is rolled back with the inbox record.
#[derive(Clone)]
struct WatchedStockKeeper {
    stock_keeper: StockKeeper,
    calls: Arc<AtomicUsize>,
    database_down: bool,
}

impl WatchedStockKeeper {
    fn new(world: &World, database_down: bool) -> Self {
        Self {
            stock_keeper: StockKeeper::new(world.schema.name()),
            calls: Arc::default(),
            database_down,
        }
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl EventHandler for WatchedStockKeeper {
    async fn handle(
        &self,
        context: &HandlerContext<'_>,
        event: DecodedEvent,
    ) -> Result<(), HandlerError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.stock_keeper.handle(context, event).await?;
        if self.database_down {
            return Err(HandlerError::transient("inventory database unavailable"));
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_that_keeps_failing_is_retried_then_dead_lettered_with_the_reason() {
    let world = World::create("worked_transient").await;
    let handler = WatchedStockKeeper::new(&world, true);
    let example = world.run_example_with(handler.clone()).await;
    let retry_budget = world.broker.settings.consumer.retry_budget;

    let placed = world.desk.place_order(world.db(), 1).await.unwrap();

    let dead_letter_queue = world.stock_dead_letter_queue();
    let admin = &world.broker.admin;
    assert_eq!(
        admin
            .wait_for_message_count(&dead_letter_queue, 1, PATIENCE)
            .await,
        1
    );
    let dead = admin.get(&dead_letter_queue).await.expect("the DLQ copy");
    assert_eq!(
        header_text(&dead, DEATH_REASON_HEADER),
        Some(format!(
            "retry budget of {retry_budget} exhausted: inventory database unavailable"
        ))
    );
    assert_eq!(decode_message(&dead).metadata.id, placed.event_id);
    // The first delivery and one per requeue, each rolled back: no
    // reservation, no inbox record, no follow-up event.
    assert_eq!(handler.calls(), retry_budget as usize + 1);
    assert_eq!(world.effects().await, (0, 0, 0));
    assert!(world.inventory_outbox_events().await.is_empty());
    world.wait_for_stock_queue_drained().await;

    example.stop().await;
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_failure_is_dead_lettered_at_once_with_the_reason() {
    let world = World::create("worked_permanent").await;
    let handler = WatchedStockKeeper::new(&world, false);
    let example = world.run_example_with(handler.clone()).await;

    // Nothing to reserve: the stock keeper calls that permanent.
    let empty = world.desk.place_order(world.db(), 0).await.unwrap();

    let dead_letter_queue = world.stock_dead_letter_queue();
    let admin = &world.broker.admin;
    assert_eq!(
        admin
            .wait_for_message_count(&dead_letter_queue, 1, PATIENCE)
            .await,
        1
    );
    let dead = admin.get(&dead_letter_queue).await.expect("the DLQ copy");
    // Not "retry budget ... exhausted": it was never retried.
    assert_eq!(
        header_text(&dead, DEATH_REASON_HEADER),
        Some(format!("order {} has nothing to reserve", empty.order_id))
    );
    assert_eq!(handler.calls(), 1);
    assert_eq!(world.effects().await, (0, 0, 0));
    assert!(world.inventory_outbox_events().await.is_empty());
    world.wait_for_stock_queue_drained().await;

    example.stop().await;
    world.finish().await;
}
