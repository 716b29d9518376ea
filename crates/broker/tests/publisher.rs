//! The publisher on a real RabbitMQ: pipelined confirms, properties on the
//! wire, the alternate exchange, returned and failed messages.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use ecommerce_broker::lapin::types::{AMQPValue, ShortString};
use ecommerce_broker::topology::{ExchangeDeclaration, ExchangeType};
use ecommerce_broker::{
    ConsumerQueue, EventsExchange, HandlerOutcome, OutgoingMessage, PublishError,
};
use ecommerce_events::{CONTENT_TYPE_PROTOBUF, EventMetadata, decode, encode};
use ecommerce_proto::ecommerce::orders::v1::OrderPlaced;
use ecommerce_test_support::rabbitmq::{TestBroker, test_message};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_1000_is_confirmed_and_every_message_arrives_on_the_bound_queues() {
    let test = TestBroker::start().await;
    let exchange = test.names().exchange(EventsExchange::Orders).to_owned();
    let messages: Vec<OutgoingMessage> = (0..1000)
        .map(|index| {
            test_message(
                &exchange,
                "orders.order_placed.v1",
                format!("m{index}").as_bytes(),
            )
        })
        .collect();

    let publisher = test.broker.publisher();
    let started = Instant::now();
    let results = publisher.publish_batch(&messages).await;
    let elapsed = started.elapsed();
    eprintln!(
        "1000 confirmed publishes in {elapsed:?} ({:.0}/s)",
        1000.0 / elapsed.as_secs_f64()
    );

    assert_eq!(results.len(), 1000);
    for (index, result) in results.iter().enumerate() {
        assert!(result.is_ok(), "message {index}: {result:?}");
    }
    // A confirm means enqueued: both queues bound with `orders.#` hold all of them.
    for queue in [
        ConsumerQueue::InventoryOrderEvents,
        ConsumerQueue::PaymentsOrderEvents,
    ] {
        let name = test.names().queue(queue);
        assert_eq!(
            test.admin
                .wait_for_message_count(name, 1000, Duration::from_secs(5))
                .await,
            1000,
            "{name}"
        );
    }
    // Nothing fell through to the alternate exchange.
    assert_eq!(
        test.admin
            .message_count(test.names().unrouted_queue())
            .await,
        0
    );

    // In publish order, with the event's properties on the wire.
    let queue = test.names().queue(ConsumerQueue::InventoryOrderEvents);
    let first = test.admin.get(queue).await.expect("a message");
    assert_eq!(first.delivery.data, b"m0");
    let properties = &first.delivery.properties;
    assert_eq!(
        properties.message_id().as_ref().map(ShortString::as_str),
        Some(messages[0].properties.message_id.as_str())
    );
    assert_eq!(
        properties.kind().as_ref().map(ShortString::as_str),
        Some("orders.order_placed.v1")
    );
    assert_eq!(*properties.delivery_mode(), Some(2));
    assert_eq!(*properties.timestamp(), Some(1_720_000_000));
    assert_eq!(
        properties.content_type().as_ref().map(ShortString::as_str),
        Some(CONTENT_TYPE_PROTOBUF)
    );
    assert_eq!(
        properties
            .correlation_id()
            .as_ref()
            .map(ShortString::as_str),
        Some("correlation-1")
    );
    assert_eq!(
        properties.headers().as_ref().unwrap().inner().get("x-test"),
        Some(&AMQPValue::LongString("yes".into()))
    );
    let second = test.admin.get(queue).await.expect("a second message");
    assert_eq!(second.delivery.data, b"m1");

    test.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_routing_key_nobody_binds_lands_in_the_unrouted_queue() {
    let test = TestBroker::start().await;
    // No consumer queue binds sign-ins.
    let exchange = test.names().exchange(EventsExchange::Iam).to_owned();
    let publisher = test.broker.publisher();

    let message = test_message(&exchange, "iam.user.signed_in.v1", b"lost?");
    publisher
        .publish(&message)
        .await
        .expect("the alternate exchange takes it, so it is confirmed, not returned");

    let unrouted = test.names().unrouted_queue();
    assert_eq!(
        test.admin
            .wait_for_message_count(unrouted, 1, Duration::from_secs(5))
            .await,
        1
    );
    let kept = test
        .admin
        .get(unrouted)
        .await
        .expect("the unrouted message");
    assert_eq!(kept.delivery.data, b"lost?");
    assert_eq!(kept.delivery.routing_key.as_str(), "iam.user.signed_in.v1");
    assert_eq!(kept.delivery.exchange.as_str(), exchange);

    test.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unroutable_message_on_an_exchange_without_alternate_is_returned_as_an_error() {
    let mut bare_exchange = String::new();
    let test = TestBroker::start_with(|settings, topology| {
        // A topic exchange with no alternate exchange and no binding.
        bare_exchange = format!("{}.bare", settings.names.unrouted_exchange());
        topology.exchanges.push(ExchangeDeclaration {
            name: bare_exchange.clone(),
            exchange_type: ExchangeType::Topic,
            alternate_exchange: None,
        });
    })
    .await;
    let orders = test.names().exchange(EventsExchange::Orders).to_owned();
    let publisher = test.broker.publisher();

    // Returns interleaved with good messages: each result belongs to its message.
    let batch: Vec<OutgoingMessage> = (0..40)
        .map(|index| {
            if index % 4 == 1 {
                test_message(&bare_exchange, "nobody.binds.this", b"returned")
            } else {
                test_message(&orders, "orders.order_placed.v1", b"routed")
            }
        })
        .collect();
    let results = publisher.publish_batch(&batch).await;
    for (index, result) in results.iter().enumerate() {
        if index % 4 == 1 {
            assert!(
                matches!(
                    result,
                    Err(PublishError::Returned { reply_code: 312, reply_text }) if reply_text == "NO_ROUTE"
                ),
                "message {index}: {result:?}"
            );
        } else {
            assert!(result.is_ok(), "message {index}: {result:?}");
        }
    }
    let queue = test.names().queue(ConsumerQueue::InventoryOrderEvents);
    assert_eq!(
        test.admin
            .wait_for_message_count(queue, 30, Duration::from_secs(5))
            .await,
        30
    );

    // The channel is still good afterwards.
    publisher
        .publish(&test_message(&orders, "orders.order_placed.v1", b"after"))
        .await
        .expect("publishing goes on");

    test.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_channel_fails_its_batch_and_the_next_batch_uses_a_new_channel() {
    let test = TestBroker::start().await;
    let publisher = test.broker.publisher();
    let missing_exchange = format!("{}missing", test.prefix);

    // Publishing to a missing exchange makes the broker close the channel.
    let results = publisher
        .publish_batch(&[test_message(&missing_exchange, "any", b"nowhere")])
        .await;
    assert!(
        matches!(&results[0], Err(PublishError::Channel(error)) if error.to_string().contains("NOT_FOUND")),
        "{results:?}"
    );

    let orders = test.names().exchange(EventsExchange::Orders).to_owned();
    let results = publisher
        .publish_batch(&[
            test_message(&orders, "orders.order_placed.v1", b"a"),
            test_message(&orders, "orders.order_placed.v1", b"b"),
        ])
        .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");

    test.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_message_fails_alone() {
    let test = TestBroker::start().await;
    let orders = test.names().exchange(EventsExchange::Orders).to_owned();
    let mut invalid = test_message(&orders, "orders.order_placed.v1", b"x");
    invalid.properties.message_id = "x".repeat(300);
    let results = test
        .broker
        .publisher()
        .publish_batch(&[
            test_message(&orders, "orders.order_placed.v1", b"a"),
            invalid,
            test_message(&orders, "orders.order_placed.v1", b"b"),
        ])
        .await;
    assert!(results[0].is_ok(), "{results:?}");
    assert!(
        matches!(&results[1], Err(PublishError::InvalidMessage(_))),
        "{results:?}"
    );
    assert!(results[2].is_ok(), "{results:?}");
    test.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encoded_event_travels_to_its_exchange_and_decodes_on_the_other_side() {
    let test = TestBroker::start().await;
    let metadata = EventMetadata::new("order", "0190a3c4-5f6e-7a8b-9c0d-1e2f3a4b5c6d")
        .with_correlation_id("checkout-7")
        .with_causation_id("0190a3c4-0000-7000-8000-000000000001");
    let payload = OrderPlaced {
        order_id: "0190a3c4-5f6e-7a8b-9c0d-1e2f3a4b5c6d".into(),
        currency: "EUR".into(),
        ..OrderPlaced::default()
    };
    let encoded = encode(&payload, &metadata);
    let message = OutgoingMessage::for_event(encoded.clone(), test.names()).expect("an exchange");
    assert_eq!(
        message.exchange,
        test.names().exchange(EventsExchange::Orders)
    );
    assert_eq!(message.routing_key, "orders.order_placed.v1");
    test.broker
        .publisher()
        .publish(&message)
        .await
        .expect("confirmed");

    let (received_sender, mut received) = tokio::sync::mpsc::unbounded_channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let consumer = test.broker.consumer();
    let queue = test
        .names()
        .queue(ConsumerQueue::PaymentsOrderEvents)
        .to_owned();
    let running = tokio::spawn(async move {
        consumer
            .run(
                &queue,
                move |delivery: ecommerce_broker::Delivery| {
                    let received_sender = received_sender.clone();
                    async move {
                        let _ = received_sender.send(delivery);
                        HandlerOutcome::Ack
                    }
                },
                async move {
                    let _ = stopped.await;
                },
            )
            .await
    });
    let delivery = tokio::time::timeout(Duration::from_secs(10), received.recv())
        .await
        .expect("delivered in time")
        .expect("a delivery");
    // The properties come back exactly as the codec made them.
    assert_eq!(delivery.properties, encoded.properties);
    let decoded = decode(&delivery.properties, &delivery.body).expect("decodes");
    assert_eq!(decoded.metadata, metadata);
    assert_eq!(delivery.delivery_count, 0);
    assert!(!delivery.redelivered);

    stop.send(()).unwrap();
    running.await.unwrap().expect("consumer stops cleanly");
    test.finish().await;
}
