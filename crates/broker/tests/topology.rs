//! The system topology on a real RabbitMQ: declared idempotently, with
//! quorum queues carrying the right arguments, and deleted without a trace.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use ecommerce_broker::lapin::options::QueueDeclareOptions;
use ecommerce_broker::lapin::types::{AMQPValue, FieldTable};
use ecommerce_broker::topology::{self, ConsumerQueue};
use ecommerce_test_support::rabbitmq::{TestBroker, queue_listing};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declaring_the_topology_twice_is_idempotent_and_queues_are_quorum_with_their_arguments() {
    let test = TestBroker::start().await;

    // The broker declared it on connect; twice more on one channel changes nothing.
    let channel = test.admin.channel().await;
    topology::declare(&channel, &test.topology)
        .await
        .expect("second declaration");
    topology::declare(&channel, &test.topology)
        .await
        .expect("third declaration");

    for queue in &test.topology.queues {
        assert!(test.admin.queue_exists(&queue.name).await, "{}", queue.name);
    }
    for exchange in &test.topology.exchanges {
        assert!(
            test.admin.exchange_exists(&exchange.name).await,
            "{}",
            exchange.name
        );
    }

    // The broker refuses a declaration that differs from what exists, so
    // these refusals prove the queue is a quorum queue with limit 10.
    let queue = test
        .names()
        .queue(ConsumerQueue::InventoryOrderEvents)
        .to_owned();
    let declaration = test.topology.queue(&queue).unwrap().clone();
    let mut as_classic = declaration.arguments();
    as_classic.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("classic".into()),
    );
    let mut other_limit = declaration.arguments();
    other_limit.insert("x-delivery-limit".into(), AMQPValue::LongLongInt(11));
    for arguments in [as_classic, other_limit] {
        let channel = test.admin.channel().await;
        let error = channel
            .queue_declare(
                queue.as_str().into(),
                QueueDeclareOptions {
                    durable: true,
                    ..QueueDeclareOptions::default()
                },
                arguments,
            )
            .await
            .expect_err("an inequivalent redeclaration is refused");
        assert!(error.to_string().contains("PRECONDITION_FAILED"), "{error}");
    }
    // Passive declaration works against the live queue.
    let channel = test.admin.channel().await;
    channel
        .queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("passive declare");

    // What the broker itself says about a consumer queue and its DLQ.
    let columns = queue_listing(&queue).await;
    assert_eq!(columns[1], "quorum", "{columns:?}");
    let arguments = &columns[4];
    assert!(arguments.contains("x-delivery-limit"), "{arguments}");
    assert!(arguments.contains("10"), "{arguments}");
    assert!(
        arguments.contains(&format!("{}dead-letter", test.prefix)),
        "{arguments}"
    );
    assert!(arguments.contains(&format!("{queue}.dlq")), "{arguments}");
    let dlq_columns = queue_listing(&format!("{queue}.dlq")).await;
    assert_eq!(dlq_columns[1], "quorum", "{dlq_columns:?}");
    let unrouted_columns = queue_listing(test.names().unrouted_queue()).await;
    assert_eq!(unrouted_columns[1], "quorum", "{unrouted_columns:?}");

    // `finish` deletes everything and asserts that nothing is left.
    test.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_topology_twice_is_harmless() {
    let test = TestBroker::start().await;
    let channel = test.admin.channel().await;
    topology::delete(&channel, &test.topology)
        .await
        .expect("first deletion");
    topology::delete(&channel, &test.topology)
        .await
        .expect("deleting what is gone is not an error");
    test.finish().await;
}
