//! The relay process dies at the worst moment and nothing is lost.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use ecommerce_broker::EventsExchange;
use ecommerce_events::EventMetadata;
use ecommerce_messaging_example::crash_point;
use ecommerce_outbox::{Outbox, OutboxTable, Relay, RelaySettings, create_outbox_table};
use ecommerce_proto::ecommerce::iam::v1::UserSignedIn;
use support::{ExampleProcess, PATIENCE, World};
use uuid::Uuid;

const RELAY: &str = env!("CARGO_BIN_EXE_example-relay");

#[tokio::test]
async fn a_relay_killed_after_the_confirm_and_before_marking_publishes_the_event_again() {
    let world = World::create("relay_crash").await;
    let stock_keeper = world.start_stock_keeper();
    let event_ids = world.place_orders(3).await;

    // The relay publishes the batch, gets the confirms, and is killed
    // before it can mark the rows published.
    let mut command = world.command(RELAY, "relay-1");
    command.env(
        crash_point::CRASH_POINT_VAR,
        crash_point::AFTER_PUBLISH_BEFORE_MARK,
    );
    let mut relay = ExampleProcess::spawn("relay-1", command);
    relay.wait_for_line(crash_point::CRASH_POINT_LINE).await;
    relay.kill().await;

    assert_eq!(
        world.order_outbox_statuses().await,
        (3, 0, 0),
        "nothing was marked"
    );
    let first_copies = world.drain_tap().await;
    assert_eq!(
        first_copies.len(),
        3,
        "the batch reached the broker once: {first_copies:?}"
    );

    // A new relay finds the rows still pending and publishes them again.
    let relay = ExampleProcess::spawn("relay-2", world.command(RELAY, "relay-2"));
    world
        .wait_for("every row marked published", async |world: &World| {
            world.order_outbox_statuses().await == (0, 3, 0)
        })
        .await;
    relay.terminate().await;

    let mut second_copies = world.drain_tap().await;
    second_copies.sort();
    let mut expected: Vec<String> = event_ids.iter().map(ToString::to_string).collect();
    expected.sort();
    assert_eq!(
        second_copies, expected,
        "each event published a second time"
    );

    // Six deliveries, three effects: the inbox recognised the second copies.
    let stock_queue = world.stock_queue();
    world
        .wait_for("the stock queue drained", async |world: &World| {
            world.queue_depth(&stock_queue).await == (0, 0)
        })
        .await;
    assert_eq!(world.effects().await, (3, 3, 3), "each order applied once");
    stock_keeper.stop().await.unwrap();
    world.finish().await;
}

#[tokio::test]
async fn three_relay_processes_over_one_outbox_publish_every_row_exactly_once() {
    let world = World::create("three_relays").await;
    let stock_keeper = world.start_stock_keeper();
    let relays: Vec<ExampleProcess> = (1..=3)
        .map(|index| {
            let name = format!("relay-{index}");
            ExampleProcess::spawn(&name, world.command(RELAY, &name))
        })
        .collect();
    // Written while the relays run: none of them is woken in-process (the
    // rows come from this test's process), so all three race on the poll.
    let event_ids = world.place_orders(600).await;
    world
        .wait_for("every row marked published", async |world: &World| {
            world.order_outbox_statuses().await == (0, 600, 0)
        })
        .await;
    for relay in relays {
        relay.terminate().await;
    }

    let mut published = world.drain_tap().await;
    published.sort();
    let mut expected: Vec<String> = event_ids.iter().map(ToString::to_string).collect();
    expected.sort();
    assert_eq!(published.len(), 600, "no row published twice, none skipped");
    assert_eq!(published, expected);
    world
        .wait_for("every order applied", async |world: &World| {
            world.effects().await.2 == 600
        })
        .await;
    assert_eq!(
        world.effects().await,
        (600, 600, 600),
        "each order applied once"
    );
    stock_keeper.stop().await.unwrap();
    world.finish().await;
}

#[tokio::test]
async fn two_transactions_committing_in_reverse_order_are_both_published() {
    let world = World::create("reverse_commit").await;
    let relay = ExampleProcess::spawn("relay", world.command(RELAY, "relay"));

    let first = world.desk.outbox().begin(world.db()).await.unwrap();
    let first_order = world.desk.place_order_in(&first, 1).await.unwrap();
    let second = world.desk.outbox().begin(world.db()).await.unwrap();
    let second_order = world.desk.place_order_in(&second, 2).await.unwrap();
    assert!(
        first_order.event_id < second_order.event_id,
        "ids follow insert order"
    );

    // The later insert commits first and is published while the earlier
    // transaction is still open: a relay with an id cursor would now skip it.
    second.commit().await.unwrap();
    world
        .wait_for("the second event published", async |world: &World| {
            world.order_outbox_statuses().await == (0, 1, 0)
        })
        .await;
    first.commit().await.unwrap();
    world
        .wait_for("the first event published too", async |world: &World| {
            world.order_outbox_statuses().await == (0, 2, 0)
        })
        .await;
    relay.terminate().await;

    let published = world.drain_tap().await;
    assert_eq!(
        published,
        [
            second_order.event_id.to_string(),
            first_order.event_id.to_string()
        ],
        "both published, in commit order"
    );
    world.finish().await;
}

#[tokio::test]
async fn an_event_no_queue_is_bound_to_lands_in_the_unrouted_queue_and_its_row_is_published() {
    let world = World::create("unrouted").await;
    // Nobody consumes sign-ins: the alternate exchange takes the message.
    let names = world.broker.names().clone();
    let table = OutboxTable::IAM.in_schema(world.schema.name()).unwrap();
    create_outbox_table(world.db(), &table).await.unwrap();
    let outbox = Outbox::new(table, names.exchange(EventsExchange::Iam));
    let relay = Relay::new(
        world.db().clone(),
        outbox.clone(),
        Arc::new(world.broker.broker.publisher()),
        RelaySettings::default(),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(async move {
        relay
            .run(async move {
                let _ = stopped.await;
            })
            .await;
    });

    let transaction = outbox.begin(world.db()).await.unwrap();
    let event_id = outbox
        .enqueue(
            &transaction,
            &UserSignedIn {
                user_id: Uuid::now_v7().to_string(),
                ..UserSignedIn::default()
            },
            EventMetadata::new("user", "u-1"),
        )
        .await
        .unwrap();
    transaction.commit().await.unwrap();

    let unrouted = names.unrouted_queue().to_owned();
    let arrived = world
        .broker
        .admin
        .wait_for_message_count(&unrouted, 1, PATIENCE)
        .await;
    assert_eq!(arrived, 1, "the event waits in {unrouted}");
    world
        .wait_for("the row marked published", async |world: &World| {
            world
                .count("{schema}.iam_outbox_events WHERE status = 'published'")
                .await
                == 1
        })
        .await;
    let message = world.broker.admin.get(&unrouted).await.unwrap();
    assert_eq!(
        message
            .delivery
            .properties
            .message_id()
            .as_ref()
            .map(|id| id.as_str().to_owned()),
        Some(event_id.to_string())
    );
    assert_eq!(
        message.delivery.routing_key.as_str(),
        "iam.user.signed_in.v1"
    );

    stop.send(()).unwrap();
    running.await.unwrap();
    world.finish().await;
}
