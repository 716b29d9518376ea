//! `ecomctl dlq` against the real broker: messages dead-lettered by the
//! real consumer runtime in a private topology, then listed, shown,
//! replayed (and accepted by the consumer's origin check) and purged.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{closed_port, ecomctl, ecomctl_on_terminal, env, metadata};
use ecommerce_broker::{ConsumerQueue, Delivery, EventsExchange, HandlerOutcome, OutgoingMessage};
use ecommerce_proto::ecommerce::common::v1::Money;
use ecommerce_proto::ecommerce::orders::v1::{OrderLine, OrderPlaced};
use ecommerce_test_support::rabbitmq::{RunningConsumer, TestBroker};

const QUEUE: ConsumerQueue = ConsumerQueue::InventoryOrderEvents;
const WAIT: Duration = Duration::from_secs(15);

/// Publishes `count` order_placed events (orders exchange, as orders-svc's
/// relay would) and returns their ids.
async fn publish_orders(broker: &TestBroker, count: usize, correlation: &str) -> Vec<String> {
    let exchange = broker.names().exchange(EventsExchange::Orders).to_owned();
    let mut ids = Vec::new();
    for index in 0..count {
        let metadata = metadata("order", &format!("order-{index}"), 0, correlation, None);
        ids.push(metadata.id.to_string());
        let eur = |amount_minor| {
            Some(Money {
                amount_minor,
                currency: "EUR".to_owned(),
            })
        };
        let payload = OrderPlaced {
            order_id: format!("order-{index}"),
            user_id: "user-1".to_owned(),
            lines: vec![OrderLine {
                sku: "TEE-RED-M".to_owned(),
                quantity: 2,
                unit_price: eur(1_999),
                line_total: eur(3_998),
                ..OrderLine::default()
            }],
            total: eur(4_497),
            currency: "EUR".to_owned(),
            payment_method_token: "pm_card_visa".to_owned(),
            ..OrderPlaced::default()
        };
        let event = ecommerce_events::encode(&payload, &metadata);
        broker
            .broker
            .publisher()
            .publish(&OutgoingMessage::from_event(event, exchange.clone()))
            .await
            .unwrap();
    }
    ids
}

/// Runs the queue's consumer with `outcome` until `dlq_depth` messages are
/// in the DLQ, then stops it.
async fn dead_letter(broker: &TestBroker, outcome: HandlerOutcome, dlq_depth: u32) {
    let queue = broker.names().queue(QUEUE).to_owned();
    let consumer = RunningConsumer::spawn(broker.broker.consumer(), &queue, move |_delivery| {
        let outcome = outcome.clone();
        async move { outcome }
    });
    let dlq = broker.names().dead_letter_queue(QUEUE);
    assert_eq!(
        broker
            .admin
            .wait_for_message_count(&dlq, dlq_depth, WAIT)
            .await,
        dlq_depth
    );
    consumer.stop().await.unwrap();
}

fn broker_env(broker: &TestBroker) -> Vec<(String, String)> {
    env(&[
        ("AMQP_TOPOLOGY_PREFIX", &broker.prefix),
        ("SCHEMA_REGISTRY_URL", "off"),
    ])
}

#[tokio::test]
async fn dead_lettered_messages_are_listed_shown_replayed_to_their_queue_and_purged() {
    let broker = TestBroker::start().await;
    let variables = broker_env(&broker);
    let queue = broker.names().queue(QUEUE).to_owned();
    let dlq = broker.names().dead_letter_queue(QUEUE);
    let ids = publish_orders(&broker, 3, "checkout-dlq").await;
    dead_letter(
        &broker,
        HandlerOutcome::dead_letter("poison: unknown SKU"),
        3,
    )
    .await;

    let list = ecomctl(&["dlq", "list"], &variables).await.ok();
    let lines = list.lines();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["DEAD-LETTER", "QUEUE", "MESSAGES", "CONSUMER"]
    );
    let at = lines
        .iter()
        .position(|line| line.starts_with(&format!("{dlq} ")))
        .unwrap();
    assert_eq!(
        lines[at].split_whitespace().collect::<Vec<_>>(),
        [dlq.as_str(), "3", "inventory-svc"]
    );
    assert_eq!(lines[at + 1], "    3 × poison: unknown SKU");
    let others: Vec<&str> = lines[1..lines.len() - 1]
        .iter()
        .filter(|line| !line.starts_with(' ') && !line.starts_with(&format!("{dlq} ")))
        .map(|line| line.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(others, vec!["0"; 13]);
    assert_eq!(
        lines.last().unwrap(),
        &format!(
            "14 dead-letter queues, 3 messages; the `{}unrouted` queue (events no queue is bound to): 0",
            broker.prefix
        )
    );
    // Looking took nothing.
    assert_eq!(broker.admin.message_count(&dlq).await, 3);

    let show = ecomctl(
        &["dlq", "show", "inventory.order-events", "--id", &ids[1]],
        &variables,
    )
    .await
    .ok();
    let lines = show.lines();
    assert_eq!(lines[0], format!("message {} in {dlq} (2 of 3)", ids[1]));
    for expected in [
        "  type:            orders.order_placed.v1".to_owned(),
        "  reason:          poison: unknown SKU".to_owned(),
        format!("  dead-lettered:   by the consumer of {queue} (broker user guest)"),
        "          \"sku\": \"TEE-RED-M\",".to_owned(),
        format!(
            "  first published: exchange {}orders.events, routing key orders.order_placed.v1, by broker user guest",
            broker.prefix
        ),
        "  aggregate:       order:order-1".to_owned(),
        "  correlation:     checkout-dlq".to_owned(),
        "  decoded:         with the compiled codec".to_owned(),
        "    x-death-reason: poison: unknown SKU".to_owned(),
    ] {
        assert!(
            lines.contains(&expected.as_str()),
            "no `{expected}` in {lines:#?}"
        );
    }
    assert_eq!(broker.admin.message_count(&dlq).await, 3);
    let json = ecomctl(&["dlq", "show", &dlq, "--json"], &variables)
        .await
        .ok();
    let value: serde_json::Value = serde_json::from_str(json.stdout.trim()).unwrap();
    assert_eq!(value["event"]["type"], "orders.order_placed.v1");
    assert_eq!(value["reason"], "poison: unknown SKU");

    // Replay: exactly the three back on the queue, the DLQ empty.
    let replay = ecomctl(
        &["dlq", "replay", "inventory.order-events", "--all"],
        &variables,
    )
    .await
    .ok();
    assert_eq!(
        replay.lines(),
        [format!(
            "replayed 3 of 3 messages from {dlq} to {queue} (through {queue}.retry)"
        )]
    );
    assert_eq!(broker.admin.message_count(&queue).await, 3);
    assert_eq!(broker.admin.message_count(&dlq).await, 0);

    // The consumer takes them as events from the orders exchange, first
    // published by their producer: its origin check passes.
    let seen: Arc<Mutex<Vec<Delivery>>> = Arc::default();
    let recorded = Arc::clone(&seen);
    let consumer = RunningConsumer::spawn(broker.broker.consumer(), &queue, move |delivery| {
        recorded.lock().unwrap().push(delivery);
        async { HandlerOutcome::Ack }
    });
    assert!(
        ecommerce_test_support::rabbitmq::eventually(WAIT, || seen.lock().unwrap().len() == 3)
            .await
    );
    consumer.stop().await.unwrap();
    let seen = seen.lock().unwrap().clone();
    let mut replayed_ids: Vec<String> = seen
        .iter()
        .map(|delivery| delivery.properties.message_id.clone())
        .collect();
    replayed_ids.sort();
    let mut sorted_ids = ids.clone();
    sorted_ids.sort();
    assert_eq!(replayed_ids, sorted_ids);
    for delivery in &seen {
        assert_eq!(
            delivery.exchange,
            broker.names().exchange(EventsExchange::Orders)
        );
        assert_eq!(delivery.routing_key, "orders.order_placed.v1");
        assert_eq!(delivery.user_id.as_deref(), Some("guest"));
        assert_eq!(delivery.delayed_retries, 0);
        assert_eq!(delivery.properties.headers["x-replayed-from"], dlq);
        assert!(!delivery.properties.headers.contains_key("x-death-reason"));
        ecommerce_events::decode(&delivery.properties, &delivery.body).unwrap();
    }
    assert_eq!(broker.admin.message_count(&dlq).await, 0);
    assert_eq!(broker.admin.message_count(&queue).await, 0);

    // One by id; the other stays.
    let ids = publish_orders(&broker, 2, "checkout-dlq-2").await;
    dead_letter(&broker, HandlerOutcome::dead_letter("still poison"), 2).await;
    let replay = ecomctl(&["dlq", "replay", &queue, "--id", &ids[1]], &variables)
        .await
        .ok();
    assert_eq!(
        replay.lines(),
        [format!(
            "replayed 1 of 2 messages from {dlq} to {queue} (through {queue}.retry)"
        )]
    );
    assert_eq!(broker.admin.message_count(&queue).await, 1);
    assert_eq!(broker.admin.message_count(&dlq).await, 1);
    let missing = ecomctl(&["dlq", "replay", &queue, "--id", "nope"], &variables)
        .await
        .error();
    assert_eq!(
        missing,
        format!("error: no message with id nope among the 1 messages in {dlq}")
    );

    // Purge only when asked twice (standard input is not a terminal here).
    let refused = ecomctl(&["dlq", "purge", &dlq], &variables).await.error();
    assert_eq!(
        refused,
        format!("error: purging deletes the 1 message in {dlq} for good: add --yes to purge it")
    );
    let refused = ecomctl(&["dlq", "purge", &dlq, "--yes"], &variables)
        .await
        .error();
    assert_eq!(
        refused,
        format!(
            "error: standard input is not a terminal, so nobody can confirm: give --yes twice \
             (--yes --yes) to purge {dlq} without asking"
        )
    );
    assert_eq!(broker.admin.message_count(&dlq).await, 1);
    let purged = ecomctl(&["dlq", "purge", &dlq, "--yes", "--yes"], &variables)
        .await
        .ok();
    assert_eq!(purged.lines(), [format!("purged 1 message from {dlq}")]);
    assert_eq!(broker.admin.message_count(&dlq).await, 0);
    assert_eq!(
        broker.admin.message_count(&queue).await,
        1,
        "the consumer queue is untouched"
    );
    // On a terminal, --yes and then the queue's name typed.
    // (The message still in the consumer queue goes to the DLQ first.)
    dead_letter(&broker, HandlerOutcome::dead_letter("poison again"), 1).await;
    if let Some(run) = ecomctl_on_terminal(
        &["dlq", "purge", &dlq, "--yes"],
        &variables,
        "not-the-name\n",
    )
    .await
    {
        let text = format!("{}{}", run.stdout, run.stderr);
        assert!(
            text.contains(&format!(
                "Purge the 1 message in {dlq} for good? Type the queue name to confirm: "
            )),
            "{text}"
        );
        assert!(
            text.contains("error: not confirmed: nothing purged"),
            "{text}"
        );
        assert_eq!(broker.admin.message_count(&dlq).await, 1);
        let run = ecomctl_on_terminal(
            &["dlq", "purge", &dlq, "--yes"],
            &variables,
            &format!("{dlq}\n"),
        )
        .await
        .unwrap();
        assert!(
            run.stdout.contains(&format!("purged 1 message from {dlq}")),
            "{}",
            run.stdout
        );
        assert_eq!(broker.admin.message_count(&dlq).await, 0);
    } else {
        ecomctl(&["dlq", "purge", &dlq, "--yes", "--yes"], &variables)
            .await
            .ok();
    }

    let empty = ecomctl(&["dlq", "replay", &dlq, "--all"], &variables)
        .await
        .ok();
    assert_eq!(
        empty.lines(),
        [format!("{dlq} is empty: nothing to replay")]
    );
    broker.finish().await;
}

#[tokio::test]
async fn a_forged_event_replayed_is_refused_again_and_only_the_consumers_copies_are_replayed() {
    // Consumers expect each event from its producer's broker user; the test
    // publishes as guest, so every event is refused as forged.
    let broker = TestBroker::start_with(|settings, _| {
        settings.producer_user_template = Some("{service}".to_owned());
    })
    .await;
    let variables = broker_env(&broker);
    let queue = broker.names().queue(QUEUE).to_owned();
    let dlq = broker.names().dead_letter_queue(QUEUE);
    publish_orders(&broker, 1, "checkout-forged").await;
    dead_letter(&broker, HandlerOutcome::Ack, 1).await;
    let show = ecomctl(&["dlq", "show", &dlq], &variables).await.ok();
    let reason = "refused as forged or misrouted: event `orders.order_placed.v1` is published by broker user `orders-svc`, but this one by `guest`";
    assert!(
        show.lines()
            .contains(&format!("  reason:          {reason}").as_str()),
        "{}",
        show.stdout
    );

    // With producer users checked, ecomctl replays only what the consumer's
    // own user put in the DLQ; guest is not inventory-svc.
    let mut checked = variables.clone();
    checked.push((
        "AMQP_EVENT_PRODUCER_USER".to_owned(),
        "{service}".to_owned(),
    ));
    let skipped = ecomctl(&["dlq", "replay", &dlq, "--all"], &checked)
        .await
        .ok();
    assert_eq!(
        skipped.lines(),
        [format!(
            "replayed 0 of 1 message from {dlq} to {queue} (through {queue}.retry); 1 skipped and left in the DLQ"
        )]
    );
    assert!(
        skipped.stderr.contains(
            "put in the DLQ by `guest`, not by the consumer's broker user `inventory-svc`"
        ),
        "{}",
        skipped.stderr
    );
    assert_eq!(broker.admin.message_count(&dlq).await, 1);

    // Without that check it goes back, and the consumer refuses it again
    // for the same reason: a replay launders nothing.
    ecomctl(&["dlq", "replay", &dlq, "--all"], &variables)
        .await
        .ok();
    assert_eq!(broker.admin.message_count(&dlq).await, 0);
    dead_letter(&broker, HandlerOutcome::Ack, 1).await;
    let show = ecomctl(&["dlq", "show", &dlq], &variables).await.ok();
    assert!(
        show.lines()
            .contains(&format!("  reason:          {reason}").as_str()),
        "{}",
        show.stdout
    );
    broker.finish().await;
}

#[tokio::test]
async fn an_unreachable_broker_is_named_with_how_to_fix_it() {
    let port = closed_port();
    let url = format!("amqp://guest:secret@127.0.0.1:{port}/%2f");
    let expected = format!(
        "error: cannot connect to RabbitMQ at amqp://127.0.0.1:{port} (AMQP_URL): connection refused — is it running? (scripts/up starts it)"
    );
    let variables = env(&[("AMQP_URL", &url)]);
    for args in [
        vec!["dlq", "list"],
        vec!["dlq", "show", "inventory.order-events"],
        vec!["dlq", "replay", "inventory.order-events", "--all"],
        vec!["dlq", "purge", "inventory.order-events", "--yes"],
        vec!["events", "tail"],
    ] {
        assert_eq!(
            ecomctl(&args, &variables).await.error(),
            expected,
            "{args:?}"
        );
    }
    let flagged = ecomctl(&["dlq", "list", "--amqp-url", &url], &[])
        .await
        .error();
    assert_eq!(flagged, expected.replace("(AMQP_URL)", "(--amqp-url)"));
    let unknown = ecomctl(&["dlq", "show", "shipping.events"], &variables)
        .await
        .error();
    assert!(
        unknown.starts_with(
            "error: no dead-letter queue `shipping.events`; one of: inventory.order-events.dlq, "
        ),
        "{unknown}"
    );
}
