//! The consumer runtime on a real RabbitMQ: ack after the handler, retries,
//! dead-lettering with a reason, concurrency and graceful shutdown.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ecommerce_broker::consumer::{
    DEATH_REASON_HEADER, ORIGINAL_EXCHANGE_HEADER, ORIGINAL_QUEUE_HEADER,
    ORIGINAL_ROUTING_KEY_HEADER,
};
use ecommerce_broker::lapin::types::ShortString;
use ecommerce_broker::{ConsumerQueue, Delivery, EventsExchange, HandlerOutcome};
use ecommerce_test_support::rabbitmq::{
    RunningConsumer, Seen, TestBroker, eventually, header_text, test_message,
};
use tokio::sync::Semaphore;

const WAIT: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_is_acknowledged_only_after_its_handler_returned() {
    let test = TestBroker::start().await;
    let queue = test
        .names()
        .queue(ConsumerQueue::InventoryOrderEvents)
        .to_owned();
    let orders = test.names().exchange(EventsExchange::Orders).to_owned();

    let release = Arc::new(Semaphore::new(0));
    let handled: Seen<Vec<u8>> = Seen::default();
    let handler = {
        let release = Arc::clone(&release);
        let handled = Arc::clone(&handled);
        move |delivery: Delivery| {
            let release = Arc::clone(&release);
            let handled = Arc::clone(&handled);
            async move {
                // Blocks until the test lets go, like a slow database commit.
                release.acquire().await.unwrap().forget();
                handled.lock().unwrap().push(delivery.body.to_vec());
                HandlerOutcome::Ack
            }
        }
    };
    // With a prefetch of one, the broker sends the second message only once
    // the first is acknowledged: its place in the queue shows when the ack went.
    let mut settings = *test.broker.consumer().settings();
    settings.prefetch = 1;
    let consumer = RunningConsumer::spawn(
        test.broker.consumer().with_settings(settings),
        &queue,
        handler,
    );

    let publisher = test.broker.publisher();
    for body in [b"first", b"other"] {
        publisher
            .publish(&test_message(&orders, "orders.order_placed.v1", body))
            .await
            .unwrap();
    }
    assert_eq!(test.admin.wait_for_message_count(&queue, 1, WAIT).await, 1);
    // The handler is running and has not returned: the first message is not
    // acknowledged, so the second stays in the queue.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(test.admin.message_count(&queue).await, 1);
    assert!(handled.lock().unwrap().is_empty());

    release.add_permits(1);
    assert_eq!(test.admin.wait_for_message_count(&queue, 0, WAIT).await, 0);
    release.add_permits(1);
    assert!(eventually(WAIT, || handled.lock().unwrap().len() == 2).await);
    assert_eq!(
        *handled.lock().unwrap(),
        [b"first".to_vec(), b"other".to_vec()]
    );

    consumer.stop().await.expect("clean stop");
    // Both acknowledged: nothing came back when the channel closed.
    assert_eq!(test.admin.message_count(&queue).await, 0);
    test.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_message_is_redelivered_then_dead_lettered_past_the_budget_with_the_reason() {
    let test = TestBroker::start().await;
    let queue = test
        .names()
        .queue(ConsumerQueue::InventoryOrderEvents)
        .to_owned();
    let dead_letter_queue = test
        .names()
        .dead_letter_queue(ConsumerQueue::InventoryOrderEvents);
    let orders = test.names().exchange(EventsExchange::Orders).to_owned();
    assert_eq!(test.broker.consumer().settings().retry_budget, 2);

    let seen: Seen<(u32, bool)> = Seen::default();
    let handler = {
        let seen = Arc::clone(&seen);
        move |delivery: Delivery| {
            seen.lock()
                .unwrap()
                .push((delivery.delivery_count, delivery.redelivered));
            async { HandlerOutcome::retry("database unavailable") }
        }
    };
    let consumer = RunningConsumer::spawn(test.broker.consumer(), &queue, handler);
    let message = test_message(&orders, "payments.payment_authorized.v1", b"always fails");
    test.broker.publisher().publish(&message).await.unwrap();

    assert_eq!(
        test.admin
            .wait_for_message_count(&dead_letter_queue, 1, WAIT)
            .await,
        1
    );
    // Delivered, requeued twice (the budget), then dead-lettered on the third delivery.
    assert_eq!(*seen.lock().unwrap(), [(0, false), (1, true), (2, true)]);
    consumer.stop().await.expect("clean stop");
    assert_eq!(test.admin.message_count(&queue).await, 0);

    let dead = test
        .admin
        .get(&dead_letter_queue)
        .await
        .expect("the DLQ copy");
    assert_eq!(dead.delivery.data, b"always fails");
    assert_eq!(
        header_text(&dead, DEATH_REASON_HEADER).as_deref(),
        Some("retry budget of 2 exhausted: database unavailable")
    );
    assert_eq!(
        header_text(&dead, ORIGINAL_QUEUE_HEADER),
        Some(queue.clone())
    );
    assert_eq!(
        header_text(&dead, ORIGINAL_EXCHANGE_HEADER),
        Some(orders.clone())
    );
    assert_eq!(
        header_text(&dead, ORIGINAL_ROUTING_KEY_HEADER).as_deref(),
        Some("payments.payment_authorized.v1")
    );
    // The original properties travel with it; the broker did not dead-letter it itself.
    assert_eq!(
        dead.delivery
            .properties
            .message_id()
            .as_ref()
            .map(ShortString::as_str),
        Some(message.properties.message_id.as_str())
    );
    assert_eq!(header_text(&dead, "x-test").as_deref(), Some("yes"));
    assert_eq!(header_text(&dead, "x-death"), None);
    assert_eq!(*dead.delivery.properties.delivery_mode(), Some(2));

    test.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_lettered_message_lands_in_the_dlq_with_its_reason_and_the_next_one_is_handled() {
    let test = TestBroker::start().await;
    let queue = test
        .names()
        .queue(ConsumerQueue::OrdersInventoryEvents)
        .to_owned();
    let dead_letter_queue = test
        .names()
        .dead_letter_queue(ConsumerQueue::OrdersInventoryEvents);
    let inventory = test.names().exchange(EventsExchange::Inventory).to_owned();

    let handled: Seen<Vec<u8>> = Seen::default();
    let handler = {
        let handled = Arc::clone(&handled);
        move |delivery: Delivery| {
            let outcome = if &*delivery.body == b"malformed" {
                HandlerOutcome::dead_letter("the payload does not decode")
            } else {
                handled.lock().unwrap().push(delivery.body.to_vec());
                HandlerOutcome::Ack
            };
            async move { outcome }
        }
    };
    let consumer = RunningConsumer::spawn(test.broker.consumer(), &queue, handler);
    let results = test
        .broker
        .publisher()
        .publish_batch(&[
            test_message(&inventory, "inventory.stock.reserved.v1", b"malformed"),
            test_message(&inventory, "inventory.stock.reserved.v1", b"good"),
        ])
        .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");

    assert!(eventually(WAIT, || handled.lock().unwrap().len() == 1).await);
    assert_eq!(*handled.lock().unwrap(), [b"good".to_vec()]);
    assert_eq!(
        test.admin
            .wait_for_message_count(&dead_letter_queue, 1, WAIT)
            .await,
        1
    );
    consumer.stop().await.expect("clean stop");
    assert_eq!(test.admin.message_count(&queue).await, 0);

    let dead = test
        .admin
        .get(&dead_letter_queue)
        .await
        .expect("the DLQ copy");
    assert_eq!(dead.delivery.data, b"malformed");
    assert_eq!(
        header_text(&dead, DEATH_REASON_HEADER).as_deref(),
        Some("the payload does not decode")
    );
    assert_eq!(
        header_text(&dead, ORIGINAL_QUEUE_HEADER),
        Some(queue.clone())
    );
    assert_eq!(
        header_text(&dead, ORIGINAL_ROUTING_KEY_HEADER).as_deref(),
        Some("inventory.stock.reserved.v1")
    );
    test.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_the_in_flight_handler_and_takes_nothing_new() {
    let test = TestBroker::start().await;
    let queue = test
        .names()
        .queue(ConsumerQueue::CartCatalogEvents)
        .to_owned();
    let catalog = test.names().exchange(EventsExchange::Catalog).to_owned();

    let started = Arc::new(Semaphore::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let handler = {
        let started = Arc::clone(&started);
        let finished = Arc::clone(&finished);
        move |_delivery: Delivery| {
            let started = Arc::clone(&started);
            let finished = Arc::clone(&finished);
            async move {
                started.add_permits(1);
                tokio::time::sleep(Duration::from_millis(1500)).await;
                finished.fetch_add(1, Ordering::SeqCst);
                HandlerOutcome::Ack
            }
        }
    };
    let consumer = RunningConsumer::spawn(test.broker.consumer(), &queue, handler);
    let batch: Vec<_> = (0..3)
        .map(|_| test_message(&catalog, "catalog.product.archived.v1", b"archived"))
        .collect();
    let results = test.broker.publisher().publish_batch(&batch).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");

    tokio::time::timeout(WAIT, started.acquire())
        .await
        .expect("the first handler started")
        .unwrap()
        .forget();
    consumer.stop().await.expect("clean stop");

    // `run` returned only after the running handler finished (and acked)...
    assert_eq!(finished.load(Ordering::SeqCst), 1);
    // ...and started no other: the two prefetched ones went back to the queue.
    assert_eq!(test.admin.wait_for_message_count(&queue, 2, WAIT).await, 2);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(finished.load(Ordering::SeqCst), 1);
    test.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_counts_as_a_retry() {
    let test = TestBroker::start().await;
    let queue = test
        .names()
        .queue(ConsumerQueue::PaymentsInventoryEvents)
        .to_owned();
    let inventory = test.names().exchange(EventsExchange::Inventory).to_owned();

    let seen: Seen<u32> = Seen::default();
    let handler = {
        let seen = Arc::clone(&seen);
        move |delivery: Delivery| {
            seen.lock().unwrap().push(delivery.delivery_count);
            async move {
                assert!(delivery.delivery_count > 0, "first delivery panics");
                HandlerOutcome::Ack
            }
        }
    };
    let consumer = RunningConsumer::spawn(test.broker.consumer(), &queue, handler);
    test.broker
        .publisher()
        .publish(&test_message(
            &inventory,
            "inventory.stock.reserved.v1",
            b"x",
        ))
        .await
        .unwrap();
    assert!(eventually(WAIT, || seen.lock().unwrap().len() == 2).await);
    assert_eq!(*seen.lock().unwrap(), [0, 1]);
    consumer.stop().await.expect("clean stop");
    assert_eq!(test.admin.message_count(&queue).await, 0);
    assert_eq!(
        test.admin
            .message_count(
                &test
                    .names()
                    .dead_letter_queue(ConsumerQueue::PaymentsInventoryEvents)
            )
            .await,
        0
    );
    test.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handlers_run_concurrently_up_to_the_configured_limit() {
    let test = TestBroker::start().await;
    let queue = test
        .names()
        .queue(ConsumerQueue::OrdersPaymentEvents)
        .to_owned();
    let orders = test.names().exchange(EventsExchange::Orders).to_owned();

    let running = Arc::new(AtomicUsize::new(0));
    let most_running = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let handler = {
        let running = Arc::clone(&running);
        let most_running = Arc::clone(&most_running);
        let done = Arc::clone(&done);
        move |_delivery: Delivery| {
            let running = Arc::clone(&running);
            let most_running = Arc::clone(&most_running);
            let done = Arc::clone(&done);
            async move {
                let now_running = running.fetch_add(1, Ordering::SeqCst) + 1;
                most_running.fetch_max(now_running, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(200)).await;
                running.fetch_sub(1, Ordering::SeqCst);
                done.fetch_add(1, Ordering::SeqCst);
                HandlerOutcome::Ack
            }
        }
    };
    let mut settings = *test.broker.consumer().settings();
    settings.concurrency = 4;
    let consumer = RunningConsumer::spawn(
        test.broker.consumer().with_settings(settings),
        &queue,
        handler,
    );
    let batch: Vec<_> = (0..12)
        .map(|_| test_message(&orders, "payments.payment_authorized.v1", b"p"))
        .collect();
    let results = test.broker.publisher().publish_batch(&batch).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");

    assert!(eventually(WAIT, || done.load(Ordering::SeqCst) == 12).await);
    assert_eq!(most_running.load(Ordering::SeqCst), 4);
    consumer.stop().await.expect("clean stop");
    assert_eq!(test.admin.message_count(&queue).await, 0);
    test.finish().await;
}

/// What the handler saw of each delivery: (exchange, delayed retries, delivery count).
type Attempts = Seen<(String, u32, u32)>;

fn failing_then_acking(
    attempts: &Attempts,
    failures: usize,
) -> impl Fn(Delivery) -> std::future::Ready<HandlerOutcome> + Send + Sync + 'static {
    let attempts = Arc::clone(attempts);
    move |delivery: Delivery| {
        let mut attempts = attempts.lock().unwrap();
        attempts.push((
            delivery.exchange.clone(),
            delivery.delayed_retries,
            delivery.delivery_count,
        ));
        std::future::ready(if attempts.len() <= failures {
            HandlerOutcome::retry("payment provider unavailable")
        } else {
            HandlerOutcome::Ack
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_immediate_retries_a_message_waits_in_the_wait_queue_and_is_applied_when_it_comes_back()
 {
    let test = TestBroker::start().await;
    let queue = test
        .names()
        .queue(ConsumerQueue::PaymentsInventoryEvents)
        .to_owned();
    let wait_queue = ecommerce_broker::topology::retry_wait_queue_name(&queue);
    let inventory = test.names().exchange(EventsExchange::Inventory).to_owned();
    let mut settings = *test.broker.consumer().settings();
    settings.delayed_retries = 3;
    settings.retry_delay = Duration::from_millis(1500);
    assert_eq!(settings.retry_budget, 2);

    // Fails on the first delivery, its two immediate retries and the first
    // delayed retry; the second delayed retry succeeds.
    let attempts = Attempts::default();
    let consumer = RunningConsumer::spawn(
        test.broker.consumer().with_settings(settings),
        &queue,
        failing_then_acking(&attempts, 4),
    );
    let message = test_message(&inventory, "inventory.stock.reserved.v1", b"reserved");
    test.broker.publisher().publish(&message).await.unwrap();

    // After three failures it waits out the delay in the wait queue.
    assert!(eventually(WAIT, || attempts.lock().unwrap().len() == 3).await);
    assert_eq!(
        test.admin
            .wait_for_message_count(&wait_queue, 1, WAIT)
            .await,
        1
    );
    assert!(eventually(WAIT, || attempts.lock().unwrap().len() == 5).await);
    assert_eq!(test.admin.wait_for_message_count(&queue, 0, WAIT).await, 0);
    // The handler saw the original exchange every time, never the retry path.
    assert_eq!(
        *attempts.lock().unwrap(),
        [
            (inventory.clone(), 0, 0),
            (inventory.clone(), 0, 1),
            (inventory.clone(), 0, 2),
            (inventory.clone(), 1, 0),
            (inventory.clone(), 2, 0),
        ]
    );
    consumer.stop().await.expect("clean stop");
    assert_eq!(test.admin.message_count(&wait_queue).await, 0);
    assert_eq!(
        test.admin
            .message_count(
                &test
                    .names()
                    .dead_letter_queue(ConsumerQueue::PaymentsInventoryEvents)
            )
            .await,
        0
    );
    test.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_failing_past_the_delayed_retries_is_dead_lettered_with_its_original_exchange() {
    let test = TestBroker::start().await;
    let queue = test
        .names()
        .queue(ConsumerQueue::PaymentsInventoryEvents)
        .to_owned();
    let dead_letter_queue = test
        .names()
        .dead_letter_queue(ConsumerQueue::PaymentsInventoryEvents);
    let inventory = test.names().exchange(EventsExchange::Inventory).to_owned();
    let mut settings = *test.broker.consumer().settings();
    settings.delayed_retries = 2;
    settings.retry_delay = Duration::from_millis(200);

    let attempts = Attempts::default();
    let consumer = RunningConsumer::spawn(
        test.broker.consumer().with_settings(settings),
        &queue,
        failing_then_acking(&attempts, usize::MAX),
    );
    let message = test_message(&inventory, "inventory.stock.reserved.v1", b"reserved");
    test.broker.publisher().publish(&message).await.unwrap();

    assert_eq!(
        test.admin
            .wait_for_message_count(&dead_letter_queue, 1, WAIT)
            .await,
        1
    );
    // First delivery, 2 immediate and 2 delayed retries.
    assert_eq!(attempts.lock().unwrap().len(), 5);
    consumer.stop().await.expect("clean stop");
    let dead = test
        .admin
        .get(&dead_letter_queue)
        .await
        .expect("the DLQ copy");
    assert_eq!(
        header_text(&dead, DEATH_REASON_HEADER).as_deref(),
        Some(
            "retry budget of 2 immediate and 2 delayed retries (0.2 s apart) exhausted: \
             payment provider unavailable"
        )
    );
    assert_eq!(
        header_text(&dead, ORIGINAL_EXCHANGE_HEADER),
        Some(inventory)
    );
    assert_eq!(
        header_text(&dead, ORIGINAL_ROUTING_KEY_HEADER).as_deref(),
        Some("inventory.stock.reserved.v1")
    );
    test.finish().await;
}
