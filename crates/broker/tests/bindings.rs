//! Exact bindings on a real RabbitMQ: a consumer queue receives exactly the
//! event types DESIGN's table gives it and nothing else, and a broker that
//! still has the old broad patterns (and an uncapped `unrouted` queue) is
//! brought in line at start-up without refusing to start.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Duration;

use ecommerce_broker::topology::{self, ConsumerQueue, UNROUTED_MAX_LENGTH};
use ecommerce_broker::{EventsExchange, Topology};
use ecommerce_events::EVENT_TYPES;
use ecommerce_test_support::rabbitmq::{
    Admin, TestBroker, test_message, test_settings, unique_prefix,
};

const SETTLE: Duration = Duration::from_secs(5);

/// Publishes one message of every event type of the system to its exchange.
async fn publish_every_event_type(test: &TestBroker) {
    let messages: Vec<_> = EVENT_TYPES
        .iter()
        .map(|info| {
            let exchange = test.names().exchange_for(info.event_type).unwrap();
            test_message(exchange, info.event_type, b"any")
        })
        .collect();
    let results = test.broker.publisher().publish_batch(&messages).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_consumer_queue_receives_exactly_the_event_types_it_handles() {
    let test = TestBroker::start().await;
    publish_every_event_type(&test).await;
    for queue in ConsumerQueue::ALL {
        let name = test.names().queue(queue);
        let expected = u32::try_from(queue.binding_keys().len()).unwrap();
        assert_eq!(
            test.admin
                .wait_for_message_count(name, expected, SETTLE)
                .await,
            expected,
            "{name}"
        );
        let mut received = Vec::new();
        while let Some(message) = test.admin.get(name).await {
            received.push(message.delivery.routing_key.as_str().to_owned());
        }
        received.sort();
        let mut handled: Vec<String> = queue
            .binding_keys()
            .iter()
            .map(|key| (*key).to_owned())
            .collect();
        handled.sort();
        assert_eq!(received, handled, "{name}");
    }
    // Types no consumer acts on (e.g. iam.user.signed_in.v1) are routed
    // nowhere and kept in `unrouted`, never dropped.
    let bound: std::collections::BTreeSet<&str> = ConsumerQueue::ALL
        .iter()
        .flat_map(|queue| queue.binding_keys().iter().copied())
        .chain(topology::REVOCATION_EVENT_TYPES.map(|(_, event_type)| event_type))
        .chain(topology::REPORTING_EVENT_TYPES.map(|(_, event_type)| event_type))
        .collect();
    let unbound = EVENT_TYPES
        .iter()
        .filter(|info| !bound.contains(info.event_type))
        .count();
    let unbound = u32::try_from(unbound).unwrap();
    assert!(unbound > 0);
    assert_eq!(
        test.admin
            .wait_for_message_count(test.names().unrouted_queue(), unbound, SETTLE)
            .await,
        unbound
    );
    test.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_with_the_old_patterns_is_unbound_and_an_uncapped_unrouted_queue_is_kept() {
    // The broker as an earlier version left it: broad patterns, and an
    // `unrouted` queue without the length limit.
    let prefix = unique_prefix();
    let settings = test_settings(&prefix);
    let mut old = settings.topology();
    for queue in &mut old.queues {
        queue.max_length = None;
    }
    old.bindings.append(&mut old.obsolete_bindings);
    let admin = Admin::connect(&settings, &format!("{prefix}old-version")).await;
    topology::declare(&admin.channel().await, &old)
        .await
        .unwrap();

    // This version starts on it (the old queue's arguments differ: kept).
    let test = TestBroker::start_under(prefix, |_, _| {}).await;
    let orders = test.names().exchange(EventsExchange::Orders).to_owned();
    let inventory_queue = test
        .names()
        .queue(ConsumerQueue::InventoryOrderEvents)
        .to_owned();
    test.broker
        .publisher()
        .publish_batch(&[
            // Matched only by the old `orders.#` binding (a key no event
            // type has, so no consumer added later binds it).
            test_message(&orders, "orders.nobody_binds_this.v1", b"ignored"),
            test_message(&orders, "orders.order_placed.v1", b"handled"),
        ])
        .await
        .into_iter()
        .for_each(|result| result.unwrap());
    assert_eq!(
        test.admin
            .wait_for_message_count(&inventory_queue, 1, SETTLE)
            .await,
        1
    );
    let message = test.admin.get(&inventory_queue).await.unwrap();
    assert_eq!(
        message.delivery.routing_key.as_str(),
        "orders.order_placed.v1"
    );
    assert_eq!(
        test.admin
            .wait_for_message_count(test.names().unrouted_queue(), 1, SETTLE)
            .await,
        1,
        "what nobody binds now lands in the kept `unrouted` queue"
    );
    admin.close().await;
    test.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_unrouted_queue_is_capped() {
    let test = TestBroker::start().await;
    let declaration = test.topology.queue(test.names().unrouted_queue()).unwrap();
    assert_eq!(declaration.max_length, Some(UNROUTED_MAX_LENGTH));
    // The broker created it with the cap: the same declaration is accepted
    // (a different one would be refused).
    let channel = test.admin.channel().await;
    let mut same = Topology::default();
    same.queues.push(declaration.clone());
    topology::declare(&channel, &same).await.unwrap();
    test.finish().await;
}
