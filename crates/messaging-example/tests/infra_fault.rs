//! Faults of the shared broker: it stops, it drops every connection. These
//! tests disturb every other test's connections, so they run one at a time
//! in their own nextest invocation (`scripts/test` step `faults`; the
//! `infra_fault::` filter), and restore the broker even when they fail.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

mod infra_fault {
    use std::collections::HashSet;
    use std::time::Duration;

    use ecommerce_test_support::rabbitmq::rabbitmqctl;

    use crate::support::{ExampleProcess, World, produce_orders};

    const RELAY: &str = env!("CARGO_BIN_EXE_example-relay");
    const CONSUMER: &str = env!("CARGO_BIN_EXE_example-consumer");

    /// `rabbitmqctl stop_app` until dropped or started again: the broker
    /// comes back even when the test panics half-way.
    struct StoppedBroker {
        running: bool,
    }

    impl StoppedBroker {
        async fn stop() -> Self {
            rabbitmqctl(&["stop_app"]).await;
            Self { running: false }
        }

        async fn start(mut self) {
            rabbitmqctl(&["start_app"]).await;
            rabbitmqctl(&["await_startup"]).await;
            self.running = true;
        }
    }

    impl Drop for StoppedBroker {
        fn drop(&mut self) {
            if self.running {
                return;
            }
            for arguments in [["start_app"], ["await_startup"]] {
                let status = std::process::Command::new("rabbitmqctl")
                    .args(arguments)
                    .status();
                if !matches!(status, Ok(status) if status.success()) {
                    eprintln!("could not restart RabbitMQ: rabbitmqctl {arguments:?}: {status:?}");
                }
            }
        }
    }

    const ORDERS: usize = 1_000;

    /// Places 1,000 orders at `per_second` with the relay and the consumer
    /// running as processes, runs `inject` meanwhile, then checks that every
    /// order reached the broker and was applied exactly once.
    async fn orders_survive(name: &str, per_second: u32, inject: impl AsyncFnOnce()) {
        let mut world = World::create(name).await;
        let relay = ExampleProcess::spawn("relay", world.command(RELAY, "relay"));
        let consumer = ExampleProcess::spawn("consumer", world.command(CONSUMER, "consumer"));
        let producing = produce_orders(&world, ORDERS, per_second);

        inject().await;
        let placed = producing.await.unwrap();
        assert_eq!(placed.len(), ORDERS);

        world.reconnect_admin().await;
        world.assert_everything_applied_once(ORDERS as i64).await;
        let published = world.drain_tap().await;
        let distinct = published.iter().collect::<HashSet<_>>().len();
        assert_eq!(distinct, ORDERS, "every order event reached the broker");

        consumer.terminate().await;
        relay.terminate().await;
        world.finish().await;
    }

    #[tokio::test]
    async fn a_broker_stopped_for_20_s_while_1000_orders_are_placed_loses_nothing_and_applies_each_once()
     {
        orders_survive("broker_stop", 100, async || {
            tokio::time::sleep(Duration::from_secs(3)).await;
            let broker = StoppedBroker::stop().await;
            eprintln!("broker stopped; orders keep coming");
            tokio::time::sleep(Duration::from_secs(20)).await;
            broker.start().await;
            eprintln!("broker started again");
        })
        .await;
    }

    #[tokio::test]
    async fn relay_and_consumer_recover_on_their_own_when_the_broker_closes_every_connection() {
        orders_survive("close_all", 200, async || {
            for _ in 0..2 {
                tokio::time::sleep(Duration::from_millis(1_500)).await;
                rabbitmqctl(&["close_all_connections", "fault test: close_all_connections"]).await;
                eprintln!("every connection closed by the broker");
            }
        })
        .await;
    }
}
