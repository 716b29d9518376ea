//! The revocations stream on a real RabbitMQ: bound to exactly the revoking
//! IAM event types, read in full by every follower (nothing is consumed
//! away), replayed from the past on attach, and followed across a closed
//! connection.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ecommerce_broker::topology::{QueueKind, REVOCATION_EVENT_TYPES};
use ecommerce_broker::{Broker, EventsExchange, StreamItem};
use ecommerce_test_support::rabbitmq::{
    TestBroker, close_connection_named, eventually, test_message,
};
use tokio::sync::watch;

/// Follows `stream` in the background, collecting routing keys and catch-ups.
struct Follower {
    seen: Arc<Mutex<Vec<String>>>,
    caught_up: Arc<Mutex<usize>>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Follower {
    fn spawn(broker: &Broker, stream: &str, replay: Duration) -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let caught_up = Arc::new(Mutex::new(0));
        let (stop, mut stopped) = watch::channel(false);
        let (broker, stream) = (broker.clone(), stream.to_owned());
        let (seen_in, caught_up_in) = (Arc::clone(&seen), Arc::clone(&caught_up));
        let task = tokio::spawn(async move {
            let on_item = move |item| match item {
                StreamItem::Message(delivery) => {
                    seen_in.lock().unwrap().push(delivery.routing_key);
                }
                StreamItem::CaughtUp => *caught_up_in.lock().unwrap() += 1,
            };
            let shutdown = async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            broker
                .follow_stream(&stream, replay, on_item, shutdown)
                .await;
        });
        Self {
            seen,
            caught_up,
            stop,
            task,
        }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }

    fn caught_up(&self) -> usize {
        *self.caught_up.lock().unwrap()
    }

    async fn stop(self) {
        self.stop.send_replace(true);
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the follower stops at shutdown")
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_revocations_stream_replays_to_every_follower_and_survives_a_closed_connection() {
    let test = TestBroker::start().await;
    let stream = test.names().revocations_stream().to_owned();
    let declaration = test.topology.queue(&stream).unwrap();
    assert!(matches!(declaration.kind, QueueKind::Stream { .. }));
    let bound: Vec<_> = test
        .topology
        .bindings
        .iter()
        .filter(|binding| binding.queue == stream)
        .map(|binding| binding.routing_key.clone())
        .collect();
    assert_eq!(
        bound,
        REVOCATION_EVENT_TYPES.map(|(_, event_type)| event_type.to_owned())
    );

    // Published before anyone follows: one of each revoking type, and an
    // IAM event that revokes nothing, which the stream must not receive.
    let publisher = test.broker.publisher();
    let iam = test.names().exchange(EventsExchange::Iam).to_owned();
    for (exchange, event_type) in REVOCATION_EVENT_TYPES {
        let exchange = test.names().exchange(exchange).to_owned();
        publisher
            .publish(&test_message(&exchange, event_type, b"revocation"))
            .await
            .unwrap();
    }
    publisher
        .publish(&test_message(&iam, "iam.user.signed_in.v1", b"not one"))
        .await
        .unwrap();

    let expected: Vec<String> = REVOCATION_EVENT_TYPES
        .iter()
        .map(|(_, event_type)| (*event_type).to_owned())
        .collect();
    let first = Follower::spawn(&test.broker, &stream, Duration::from_secs(600));
    let second = Follower::spawn(&test.broker, &stream, Duration::from_secs(600));
    for follower in [&first, &second] {
        assert!(
            eventually(Duration::from_secs(10), || follower.caught_up() == 1).await,
            "the replay ends with a catch-up"
        );
        assert_eq!(
            follower.seen(),
            expected,
            "each follower reads the whole log"
        );
    }

    // A new message reaches both while they follow.
    publisher
        .publish(&test_message(&iam, REVOCATION_EVENT_TYPES[0].1, b"later"))
        .await
        .unwrap();
    for follower in [&first, &second] {
        assert!(eventually(Duration::from_secs(10), || follower.seen().len() == 4).await);
    }

    // A lost connection: the follower attaches again and replays the log.
    close_connection_named(&test.settings.connection_name).await;
    assert!(
        eventually(Duration::from_secs(20), || first.caught_up() == 2).await,
        "attached again after the connection was closed"
    );
    assert_eq!(first.seen().len(), 8, "the replay delivers the log again");

    first.stop().await;
    second.stop().await;
    test.finish().await;
}
