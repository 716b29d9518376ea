//! The consumer process dies at the worst moment and nothing is applied twice.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use ecommerce_messaging_example::crash_point;
use support::{ExampleProcess, World};

const RELAY: &str = env!("CARGO_BIN_EXE_example-relay");
const CONSUMER: &str = env!("CARGO_BIN_EXE_example-consumer");

#[tokio::test]
async fn a_consumer_killed_after_commit_and_before_ack_recognises_the_redelivery() {
    let world = World::create("consumer_crash").await;
    let relay = ExampleProcess::spawn("relay", world.command(RELAY, "relay"));

    let mut command = world.command(CONSUMER, "consumer-1");
    command.env(
        crash_point::CRASH_POINT_VAR,
        crash_point::AFTER_COMMIT_BEFORE_ACK,
    );
    let mut consumer = ExampleProcess::spawn("consumer-1", command);
    let placed = world.desk.place_order(world.db(), 2).await.unwrap();
    consumer.wait_for_line(crash_point::CRASH_POINT_LINE).await;
    consumer.kill().await;

    // Committed, never acknowledged: the broker still holds the message.
    assert_eq!(
        world.effects().await,
        (1, 1, 1),
        "applied once before the crash"
    );
    let stock_queue = world.stock_queue();
    world
        .wait_for(
            "the unacked message back in the queue",
            async |world: &World| world.queue_depth(&stock_queue).await == (1, 0),
        )
        .await;

    let mut consumer = ExampleProcess::spawn("consumer-2", world.command(CONSUMER, "consumer-2"));
    consumer.wait_for_line("already processed").await;
    world
        .wait_for("the redelivery acknowledged", async |world: &World| {
            world.queue_depth(&stock_queue).await == (0, 0)
        })
        .await;
    assert_eq!(world.effects().await, (1, 1, 1), "no second effect");
    let follow_ups = world
        .count(&format!(
            "{{schema}}.inventory_outbox_events WHERE causation_id = '{}'",
            placed.event_id
        ))
        .await;
    assert_eq!(
        follow_ups, 1,
        "one stock.reserved event, caused by the order event"
    );

    consumer.terminate().await;
    relay.terminate().await;
    world.finish().await;
}
