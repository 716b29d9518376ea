//! The relay against a real outbox table and an in-memory publisher.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use ecommerce_events::{EventMetadata, TraceContext, encode};
use ecommerce_outbox::{BatchOutcome, Outbox, Relay, RelaySettings};
use sea_orm::TransactionTrait;
use uuid::Uuid;

use crate::support::{
    FakePublisher, Fixture, Mode, PATIENCE, sample_event, shutdown_signal, test_settings,
};

async fn relay(
    fixture: &Fixture,
    publisher: &Arc<FakePublisher>,
    settings: RelaySettings,
) -> Relay {
    // Its own pool, as in a service: a batch holds a connection while the
    // broker confirms.
    let db = fixture.schema.connect(4).await.unwrap();
    Relay::new(db, fixture.outbox.clone(), publisher.clone(), settings)
}

/// Polls the outbox until nothing is pending; panics after [`PATIENCE`].
async fn wait_until_nothing_pending(fixture: &Fixture) {
    tokio::time::timeout(PATIENCE, async {
        while fixture.count("pending").await > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("every row is published in time");
}

#[tokio::test]
async fn pending_rows_are_published_with_their_envelope_and_marked_published() {
    let fixture = Fixture::new("outbox_relay_publish").await;
    let publisher = FakePublisher::new(Mode::Confirm);
    let relay = relay(&fixture, &publisher, test_settings()).await;
    // Every optional piece of metadata present, then absent.
    let (first_payload, first_metadata) = sample_event(0);
    let first_metadata = first_metadata
        .with_causation_id("cause-1")
        .with_trace_context(TraceContext {
            traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
            tracestate: "vendor=value".into(),
        });
    let (second_payload, _) = sample_event(1);
    let second_metadata = EventMetadata {
        schema_registry_id: Some(42),
        ..EventMetadata::new("order", "order-2")
    };
    let mut expected = HashMap::new();
    let transaction = fixture.outbox.begin(fixture.db()).await.unwrap();
    for (payload, metadata) in [
        (first_payload, first_metadata),
        (second_payload, second_metadata),
    ] {
        let id = transaction
            .enqueue(&payload, metadata.clone())
            .await
            .unwrap();
        expected.insert(id, encode(&payload, &metadata));
    }
    transaction.commit().await.unwrap();

    let outcome = relay.relay_once().await.unwrap();

    assert_eq!(
        outcome,
        BatchOutcome {
            claimed: 2,
            published: 2,
            retried: 0,
            failed: 0,
            broker_unavailable: 0,
        }
    );
    let accepted = publisher.accepted();
    assert_eq!(accepted.len(), 2);
    for message in &accepted {
        let encoded = &expected[&message.id];
        assert_eq!(message.exchange, "orders.events");
        assert_eq!(message.routing_key, "orders.order_placed.v1");
        assert_eq!(message.body, encoded.body);
        assert_eq!(message.properties, encoded.properties);
    }
    for row in fixture.rows().await {
        assert_eq!(row.status, "published");
        assert!(row.has_published_at);
        assert_eq!(row.attempts, 1);
        assert_eq!(row.last_error, None);
    }
    // Nothing left to claim.
    assert_eq!(relay.relay_once().await.unwrap(), BatchOutcome::default());
    assert_eq!(publisher.calls(), 1);
    fixture.cleanup().await;
}

#[tokio::test]
async fn a_failed_publish_backs_off_keeps_the_error_and_ends_failed() {
    let fixture = Fixture::new("outbox_relay_failure").await;
    let publisher = FakePublisher::new(Mode::Fail("channel closed: 320 CONNECTION_FORCED".into()));
    let settings = RelaySettings {
        max_attempts: 3,
        backoff_base: Duration::from_secs(3600),
        backoff_cap: Duration::from_secs(4 * 3600),
        ..test_settings()
    };
    let relay = relay(&fixture, &publisher, settings).await;
    let id = fixture.enqueue_committed(1).await[0];

    // Attempt 1: retried after base/2..base (equal jitter).
    let outcome = relay.relay_once().await.unwrap();
    assert_eq!(
        (outcome.claimed, outcome.retried, outcome.failed),
        (1, 1, 0)
    );
    let row = fixture.row(id).await;
    assert_eq!(row.status, "pending");
    assert_eq!(row.attempts, 1);
    assert_eq!(
        row.last_error.as_deref(),
        Some("channel closed: 320 CONNECTION_FORCED")
    );
    assert!(
        (1799.0..=3600.0).contains(&row.due_in_secs),
        "due in {}s",
        row.due_in_secs
    );
    // Not due yet: the relay leaves it alone.
    assert_eq!(relay.relay_once().await.unwrap(), BatchOutcome::default());

    // Attempt 2, once due: the delay doubles.
    fixture
        .execute("UPDATE {table} SET next_attempt_at = clock_timestamp() - interval '1 second'")
        .await;
    publisher.set_mode(Mode::Fail("nack".into()));
    relay.relay_once().await.unwrap();
    let row = fixture.row(id).await;
    assert_eq!((row.status.as_str(), row.attempts), ("pending", 2));
    assert_eq!(row.last_error.as_deref(), Some("nack"));
    assert!(
        (3599.0..=7200.0).contains(&row.due_in_secs),
        "due in {}s",
        row.due_in_secs
    );

    // Attempt 3 is the last.
    fixture
        .execute("UPDATE {table} SET next_attempt_at = clock_timestamp() - interval '1 second'")
        .await;
    let outcome = relay.relay_once().await.unwrap();
    assert_eq!(
        (outcome.claimed, outcome.retried, outcome.failed),
        (1, 0, 1)
    );
    let row = fixture.row(id).await;
    assert_eq!((row.status.as_str(), row.attempts), ("failed", 3));
    assert_eq!(row.last_error.as_deref(), Some("nack"));
    assert!(!row.has_published_at);
    // Failed rows are never claimed again, even when due.
    fixture
        .execute("UPDATE {table} SET next_attempt_at = clock_timestamp() - interval '1 second'")
        .await;
    assert_eq!(relay.relay_once().await.unwrap(), BatchOutcome::default());
    assert_eq!(publisher.calls(), 3);
    assert_eq!(relay.stats().await.unwrap().failed, 1);

    // An operator requeues it once the cause is fixed.
    publisher.set_mode(Mode::Confirm);
    assert_eq!(
        fixture
            .outbox
            .requeue_failed(fixture.db(), &[id])
            .await
            .unwrap(),
        1
    );
    assert_eq!(relay.relay_once().await.unwrap().published, 1);
    assert_eq!(fixture.row(id).await.status, "published");
    assert_eq!(publisher.accepted_ids(), [id]);
    fixture.cleanup().await;
}

#[tokio::test]
async fn each_row_of_a_batch_gets_its_own_outcome() {
    let fixture = Fixture::new("outbox_relay_partial").await;
    let publisher = FakePublisher::new(Mode::Confirm);
    let relay = relay(&fixture, &publisher, test_settings()).await;
    let ids = fixture.enqueue_committed(3).await;
    publisher.fail_ids([ids[1]]);

    let outcome = relay.relay_once().await.unwrap();

    assert_eq!((outcome.published, outcome.retried), (2, 1));
    assert_eq!(fixture.row(ids[0]).await.status, "published");
    assert_eq!(fixture.row(ids[2]).await.status, "published");
    let unroutable = fixture.row(ids[1]).await;
    assert_eq!(
        (unroutable.status.as_str(), unroutable.attempts),
        ("pending", 1)
    );
    assert_eq!(unroutable.last_error.as_deref(), Some("returned: NO_ROUTE"));
    fixture.cleanup().await;
}

#[tokio::test]
async fn a_publisher_slower_than_the_timeout_leaves_the_batch_pending_with_its_attempts() {
    let fixture = Fixture::new("outbox_relay_timeout").await;
    let publisher = FakePublisher::new(Mode::Lag(Duration::from_secs(3600)));
    let settings = RelaySettings {
        publish_timeout: Duration::from_millis(50),
        ..test_settings()
    };
    let relay = relay(&fixture, &publisher, settings).await;
    let ids = fixture.enqueue_committed(2).await;

    let outcome = relay.relay_once().await.unwrap();

    // No confirm in time: the broker is in trouble, not the rows.
    assert_eq!(
        (outcome.claimed, outcome.retried, outcome.broker_unavailable),
        (2, 0, 2)
    );
    for id in ids {
        let row = fixture.row(id).await;
        assert_eq!((row.status.as_str(), row.attempts), ("pending", 0));
        assert!(row.due_in_secs <= 0.0, "still due: {}s", row.due_in_secs);
    }
    fixture.cleanup().await;
}

#[tokio::test]
async fn a_broker_outage_uses_up_no_attempts_and_every_row_is_published_after_it() {
    let fixture = Fixture::new("outbox_relay_outage").await;
    let publisher = FakePublisher::new(Mode::Unavailable("not connected".into()));
    // One attempt only: a row that counted the outage would end `failed`.
    let settings = RelaySettings {
        max_attempts: 1,
        ..test_settings()
    };
    let relay = relay(&fixture, &publisher, settings).await;
    let (stop, shutdown) = shutdown_signal();
    let running = tokio::spawn({
        let relay = relay.clone();
        async move { relay.run(shutdown()).await }
    });
    let ids = fixture.enqueue_committed(20).await;

    // The relay keeps trying through the outage, backing off as a whole.
    tokio::time::timeout(PATIENCE, async {
        while publisher.calls() < 3 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the relay retries during the outage");
    for row in fixture.rows().await {
        assert_eq!((row.status.as_str(), row.attempts), ("pending", 0));
    }

    publisher.set_mode(Mode::Confirm);
    publisher.wait_for_accepted(ids.len()).await;
    tokio::time::timeout(PATIENCE, async {
        while fixture.count("published").await < ids.len() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("every row published once the broker is back");
    assert_eq!(fixture.count("failed").await, 0);
    for row in fixture.rows().await {
        assert_eq!(row.attempts, 1, "the successful attempt only");
    }
    stop.send(true).unwrap();
    running.await.unwrap();
    fixture.cleanup().await;
}

#[tokio::test]
async fn a_transaction_that_commits_late_is_still_published() {
    let fixture = Fixture::new("outbox_relay_late_commit").await;
    let publisher = FakePublisher::new(Mode::Confirm);
    let relay = relay(&fixture, &publisher, test_settings()).await;

    // The first transaction inserts first (smaller UUID v7, earlier
    // next_attempt_at) but commits last.
    let (first_payload, first_metadata) = sample_event(0);
    let first = fixture.outbox.begin(fixture.db()).await.unwrap();
    let first_id = first.enqueue(&first_payload, first_metadata).await.unwrap();
    let (second_payload, second_metadata) = sample_event(1);
    let second = fixture.outbox.begin(fixture.db()).await.unwrap();
    let second_id = second
        .enqueue(&second_payload, second_metadata)
        .await
        .unwrap();
    assert!(first_id < second_id);
    second.commit().await.unwrap();

    assert_eq!(relay.relay_once().await.unwrap().published, 1);
    assert_eq!(publisher.accepted_ids(), [second_id]);

    first.commit().await.unwrap();
    assert_eq!(relay.relay_once().await.unwrap().published, 1);
    assert_eq!(publisher.accepted_ids(), [second_id, first_id]);
    assert_eq!(fixture.count("published").await, 2);
    fixture.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_relays_publish_every_row_exactly_once() {
    const ROWS: usize = 600;
    let fixture = Fixture::new("outbox_relay_three").await;
    let publisher = FakePublisher::new(Mode::Lag(Duration::from_millis(2)));
    let settings = RelaySettings {
        batch_size: 7,
        ..test_settings()
    };
    let (stop, shutdown) = shutdown_signal();
    let mut handles = Vec::new();
    let mut relays = Vec::new();
    for index in 0..3 {
        // Relays 1 and 2 stand for other processes: their own pool and their
        // own outbox handle, so only the poll tells them about new rows.
        let outbox = if index == 0 {
            fixture.outbox.clone()
        } else {
            Outbox::new(fixture.table.clone(), "orders.events")
        };
        let db = fixture.schema.connect(3).await.unwrap();
        let relay = Relay::new(db, outbox, publisher.clone(), settings.clone());
        relays.push(relay.clone());
        let shutdown = shutdown();
        handles.push(tokio::spawn(async move { relay.run(shutdown).await }));
    }

    // Produced while the relays run, by concurrent writers.
    let writers = (0..6).map(|writer| {
        let outbox = fixture.outbox.clone();
        let db = fixture.db().clone();
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for index in 0..ROWS / 6 {
                let (payload, metadata) = sample_event(writer * 1000 + index);
                let transaction = outbox.begin(&db).await.unwrap();
                ids.push(transaction.enqueue(&payload, metadata).await.unwrap());
                transaction.commit().await.unwrap();
            }
            ids
        })
    });
    let mut written = HashSet::new();
    for writer in futures::future::join_all(writers).await {
        written.extend(writer.unwrap());
    }
    assert_eq!(written.len(), ROWS);
    publisher.wait_for_accepted(ROWS).await;
    wait_until_nothing_pending(&fixture).await;
    stop.send(true).unwrap();
    for handle in handles {
        tokio::time::timeout(PATIENCE, handle)
            .await
            .expect("the relay stops on shutdown")
            .unwrap();
    }

    let accepted = publisher.accepted_ids();
    let unique: HashSet<Uuid> = accepted.iter().copied().collect();
    assert_eq!(accepted.len(), ROWS, "some rows were published twice");
    assert_eq!(unique, written);
    assert_eq!(fixture.count("published").await, ROWS);
    // Each relay's own count adds up: none counted a row another published.
    let mut per_relay = Vec::new();
    for relay in &relays {
        per_relay.push(relay.stats().await.unwrap().published_total);
    }
    eprintln!("rows published per relay: {per_relay:?}");
    assert_eq!(per_relay.iter().sum::<u64>(), ROWS as u64);
    fixture.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_wakes_the_relay_without_waiting_for_the_poll() {
    let fixture = Fixture::new("outbox_relay_wake").await;
    let publisher = FakePublisher::new(Mode::Confirm);
    let settings = RelaySettings {
        poll_interval: Duration::from_secs(3600),
        stats_interval: Duration::from_secs(3600),
        prune_interval: Duration::from_secs(3600),
        ..test_settings()
    };
    let relay = relay(&fixture, &publisher, settings).await;
    // Written before the relay starts and without a wake-up: its first batch
    // publishes it, so the relay is known to be past that batch afterwards.
    let before = fixture.enqueue_committed(1).await[0];
    let (stop, shutdown) = shutdown_signal();
    let running = {
        let relay = relay.clone();
        let shutdown = shutdown();
        tokio::spawn(async move { relay.run(shutdown).await })
    };
    publisher.wait_for_accepted(1).await;

    let (payload, metadata) = sample_event(1);
    let transaction = fixture.outbox.begin(fixture.db()).await.unwrap();
    let woken = transaction.enqueue(&payload, metadata).await.unwrap();
    transaction.commit().await.unwrap();

    // With an hour-long poll, only the wake-up can publish it in time.
    publisher.wait_for_accepted(2).await;
    assert_eq!(publisher.accepted_ids(), [before, woken]);
    stop.send(true).unwrap();
    tokio::time::timeout(PATIENCE, running)
        .await
        .expect("the relay stops on shutdown")
        .unwrap();
    wait_until_nothing_pending(&fixture).await;
    fixture.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_that_dies_after_publishing_leaves_the_row_to_be_published_again() {
    let fixture = Fixture::new("outbox_relay_crash").await;
    let crashing = FakePublisher::new(Mode::CrashAfterPublish);
    let crashing_db = fixture.schema.connect(2).await.unwrap();
    let crashing_relay = Relay::new(
        crashing_db.clone(),
        fixture.outbox.clone(),
        crashing.clone(),
        test_settings(),
    );
    let id = fixture.enqueue_committed(1).await[0];
    let running = tokio::spawn(async move { crashing_relay.relay_once().await });
    crashing.wait_for_accepted(1).await;

    // The crash: the task dies between the publish and the marking, and its
    // sessions end, as when the process is killed.
    running.abort();
    assert!(running.await.unwrap_err().is_cancelled());
    crashing_db.close().await.unwrap();

    let healthy = FakePublisher::new(Mode::Confirm);
    let relay = relay(&fixture, &healthy, test_settings()).await;
    tokio::time::timeout(PATIENCE, async {
        while relay.relay_once().await.unwrap().published == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the row is claimed again once the dead relay's locks are gone");

    // At least once: the broker saw it twice; consumers deduplicate on the id.
    assert_eq!(crashing.accepted_ids(), [id]);
    assert_eq!(healthy.accepted_ids(), [id]);
    let row = fixture.row(id).await;
    assert_eq!((row.status.as_str(), row.attempts), ("published", 1));
    fixture.cleanup().await;
}

#[tokio::test]
async fn prune_deletes_only_published_rows_past_the_retention() {
    let fixture = Fixture::new("outbox_relay_prune").await;
    let publisher = FakePublisher::new(Mode::Confirm);
    let settings = RelaySettings {
        retention: Duration::from_secs(7 * 24 * 3600),
        ..test_settings()
    };
    let relay = relay(&fixture, &publisher, settings).await;
    let published = fixture.enqueue_committed(3).await;
    assert_eq!(relay.relay_once().await.unwrap().published, 3);
    let pending = fixture.enqueue_committed(1).await[0];
    let failed = fixture.enqueue_committed(1).await[0];
    // Two published rows are eight days old, one is six days old; the
    // unpublished rows are older still and must stay.
    for (id, age) in [
        (published[0], "8 days"),
        (published[1], "8 days"),
        (published[2], "6 days"),
    ] {
        fixture
            .execute(&format!(
                "UPDATE {{table}} SET published_at = clock_timestamp() - interval '{age}' \
                 WHERE id = '{id}'"
            ))
            .await;
    }
    fixture
        .execute(&format!(
            "UPDATE {{table}} SET created_at = clock_timestamp() - interval '30 days', \
             next_attempt_at = clock_timestamp() + interval '1 day' WHERE id = '{pending}'"
        ))
        .await;
    fixture
        .execute(&format!(
            "UPDATE {{table}} SET status = 'failed', created_at = clock_timestamp() - interval \
             '30 days' WHERE id = '{failed}'"
        ))
        .await;

    assert_eq!(relay.prune().await.unwrap(), 2);

    let remaining: Vec<Uuid> = fixture.rows().await.iter().map(|row| row.id).collect();
    assert_eq!(remaining, [published[2], pending, failed]);
    assert_eq!(relay.prune().await.unwrap(), 0);
    fixture.cleanup().await;
}

#[tokio::test]
async fn stats_report_the_backlog_its_age_and_the_publish_rate() {
    let fixture = Fixture::new("outbox_relay_stats").await;
    let publisher = FakePublisher::new(Mode::Confirm);
    let relay = relay(&fixture, &publisher, test_settings()).await;

    let empty = relay.stats().await.unwrap();
    assert_eq!(
        (empty.pending, empty.failed, empty.oldest_pending_age),
        (0, 0, None)
    );

    let ids = fixture.enqueue_committed(3).await;
    fixture
        .execute(&format!(
            "UPDATE {{table}} SET created_at = clock_timestamp() - interval '1 hour' \
             WHERE id = '{}'",
            ids[1]
        ))
        .await;
    let backlog = relay.stats().await.unwrap();
    assert_eq!(backlog.pending, 3);
    assert_eq!(backlog.failed, 0);
    let age = backlog.oldest_pending_age.expect("rows are pending");
    assert!(
        (3600.0..3660.0).contains(&age.as_secs_f64()),
        "oldest pending age {age:?}"
    );
    assert_eq!(backlog.published_total, 0);

    relay.relay_once().await.unwrap();
    let drained = relay.stats().await.unwrap();
    assert_eq!((drained.pending, drained.oldest_pending_age), (0, None));
    assert_eq!(drained.published_total, 3);
    assert_eq!(drained.publish_failures_total, 0);
    assert!(drained.published_per_second > 0.0);
    // The outbox alone reports the same backlog.
    let outbox_backlog = fixture.outbox.backlog(fixture.db()).await.unwrap();
    assert_eq!((outbox_backlog.pending, outbox_backlog.failed), (0, 0));
    fixture.cleanup().await;
}

#[tokio::test]
async fn rows_from_other_processes_are_found_by_the_poll() {
    let fixture = Fixture::new("outbox_relay_poll").await;
    let publisher = FakePublisher::new(Mode::Confirm);
    let relay = relay(&fixture, &publisher, test_settings()).await;
    let (stop, shutdown) = shutdown_signal();
    let running = {
        let relay = relay.clone();
        let shutdown = shutdown();
        tokio::spawn(async move { relay.run(shutdown).await })
    };

    // Another process's outbox: its commit wakes nothing here.
    let elsewhere = Outbox::new(fixture.table.clone(), "orders.events");
    let transaction = fixture.db().begin().await.unwrap();
    let (payload, metadata) = sample_event(0);
    let id = elsewhere
        .enqueue(&transaction, &payload, metadata)
        .await
        .unwrap();
    elsewhere.commit(transaction).await.unwrap();

    publisher.wait_for_accepted(1).await;
    assert_eq!(publisher.accepted_ids(), [id]);
    stop.send(true).unwrap();
    tokio::time::timeout(PATIENCE, running)
        .await
        .expect("the relay stops on shutdown")
        .unwrap();
    fixture.cleanup().await;
}

#[tokio::test]
async fn only_a_commit_that_enqueued_something_wakes_the_relay() {
    let fixture = Fixture::new("outbox_relay_wake_only_on_enqueue").await;
    let outbox = &fixture.outbox;

    // Nothing enqueued: a consumer's transaction for an event it only records.
    let transaction = outbox.begin(fixture.db()).await.unwrap();
    transaction.commit().await.unwrap();
    assert_eq!(outbox.wake_count(), 0);

    // Enqueued through the transaction, and through the plain transaction it
    // derefs to (as `Outbox::emit(&*transaction, ..)` does): each wakes once.
    let (payload, metadata) = sample_event(1);
    let transaction = outbox.begin(fixture.db()).await.unwrap();
    transaction.enqueue(&payload, metadata).await.unwrap();
    transaction.commit().await.unwrap();
    assert_eq!(outbox.wake_count(), 1);
    let (payload, metadata) = sample_event(2);
    let transaction = outbox.begin(fixture.db()).await.unwrap();
    outbox
        .enqueue(&*transaction, &payload, metadata)
        .await
        .unwrap();
    transaction.commit().await.unwrap();
    assert_eq!(outbox.wake_count(), 2);

    // A rolled-back enqueue wakes nobody.
    let (payload, metadata) = sample_event(3);
    let transaction = outbox.begin(fixture.db()).await.unwrap();
    transaction.enqueue(&payload, metadata).await.unwrap();
    transaction.rollback().await.unwrap();
    assert_eq!(outbox.wake_count(), 2);
    assert_eq!(fixture.count("pending").await, 2);
    fixture.cleanup().await;
}
