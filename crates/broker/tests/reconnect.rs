//! Connection supervision on a real RabbitMQ: the broker closes this test's
//! connection (and only it); the `Broker` reconnects, redeclares the
//! topology, and the publisher and the consumer carry on by themselves.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use ecommerce_broker::{BrokerState, ConsumerQueue, Delivery, EventsExchange, HandlerOutcome};
use ecommerce_test_support::rabbitmq::{
    RunningConsumer, Seen, TestBroker, close_connection_named, eventually, test_message,
};

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_broker_closes_the_connection_everything_resumes_on_a_new_one() {
    let test = TestBroker::start().await;
    let queue = test
        .names()
        .queue(ConsumerQueue::InventoryOrderEvents)
        .to_owned();
    let orders = test.names().exchange(EventsExchange::Orders).to_owned();
    assert_eq!(test.broker.current_state(), BrokerState::Connected);
    let first_generation = test.broker.connection_generation().expect("connected");

    let handled: Seen<Vec<u8>> = Seen::default();
    let handler = {
        let handled = Arc::clone(&handled);
        move |delivery: Delivery| {
            handled.lock().unwrap().push(delivery.body.to_vec());
            async { HandlerOutcome::Ack }
        }
    };
    let consumer = RunningConsumer::spawn(test.broker.consumer(), &queue, handler);
    let publisher = test.broker.publisher();
    publisher
        .publish(&test_message(&orders, "orders.order_placed.v1", b"before"))
        .await
        .expect("published before the loss");
    assert!(eventually(WAIT, || handled.lock().unwrap().len() == 1).await);

    // Record every state the broker reports from here on.
    let states: Seen<BrokerState> = Seen::default();
    let mut state_changes = test.broker.state();
    state_changes.borrow_and_update();
    let recorder = tokio::spawn({
        let states = Arc::clone(&states);
        async move {
            while state_changes.changed().await.is_ok() {
                let state = *state_changes.borrow_and_update();
                states.lock().unwrap().push(state);
            }
        }
    });
    // Remove part of the topology: the reconnect must declare it again.
    let dead_letter_queue = test
        .names()
        .dead_letter_queue(ConsumerQueue::CartCatalogEvents);
    test.admin
        .channel()
        .await
        .queue_delete(dead_letter_queue.as_str().into(), Default::default())
        .await
        .expect("queue deleted");
    assert!(!test.admin.queue_exists(&dead_letter_queue).await);

    close_connection_named(&test.settings.connection_name).await;

    let broker = test.broker.clone();
    assert!(
        eventually(WAIT, || broker
            .connection_generation()
            .is_some_and(|generation| generation > first_generation))
        .await,
        "the broker reconnected"
    );
    assert_eq!(test.broker.current_state(), BrokerState::Connected);
    // The recorder runs on its own task: give it time to see the last change.
    assert!(
        eventually(WAIT, || states.lock().unwrap().last()
            == Some(&BrokerState::Connected))
        .await,
        "{:?}",
        states.lock().unwrap()
    );
    let seen_states = states.lock().unwrap().clone();
    assert!(
        seen_states
            .iter()
            .any(|state| *state != BrokerState::Connected),
        "the loss was reported: {seen_states:?}"
    );
    assert!(
        test.admin.queue_exists(&dead_letter_queue).await,
        "the topology was declared again"
    );

    // The same publisher and consumer work on the new connection.
    publisher
        .publish(&test_message(&orders, "orders.order_placed.v1", b"after"))
        .await
        .expect("published after the reconnect");
    assert!(
        eventually(WAIT, || handled.lock().unwrap().len() == 2).await,
        "handled: {:?}",
        handled.lock().unwrap()
    );
    assert_eq!(
        *handled.lock().unwrap(),
        [b"before".to_vec(), b"after".to_vec()]
    );

    consumer.stop().await.expect("clean stop");
    recorder.abort();
    test.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_broker_reports_disconnected_and_refuses_to_publish() {
    let test = TestBroker::start().await;
    let orders = test.names().exchange(EventsExchange::Orders).to_owned();
    let publisher = test.broker.publisher();
    test.broker.close().await;
    assert_eq!(test.broker.current_state(), BrokerState::Disconnected);
    assert_eq!(test.broker.connection_generation(), None);
    let result = publisher
        .publish(&test_message(&orders, "orders.order_placed.v1", b"late"))
        .await;
    assert!(
        matches!(result, Err(ecommerce_broker::PublishError::Closed)),
        "{result:?}"
    );
    test.finish().await;
}
