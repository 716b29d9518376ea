//! Limits on anonymous carts: creations per client address per minute
//! (RESOURCE_EXHAUSTED with a retry delay beyond the limit, exact under
//! concurrency), and the cleanup of anonymous carts nobody changed for the
//! TTL, with their lines.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use cart_svc::app::cleanup;
use cart_svc::app::settings::CartSettings;
use cart_svc::domain::{AnonymousCartPolicy, QuoteStatus};
use chrono::TimeDelta;
use ecommerce_kernel::ManualClock;
use ecommerce_test_support::{EVENT_WAIT, TestAuth};
use tonic::Code;
use tonic_types::StatusExt as _;
use uuid::Uuid;

use support::World;

/// A world on `clock` whose anonymous carts follow `policy`, selling
/// SHOE-42 and SOCK-1.
async fn world_with(
    clock: Arc<ManualClock>,
    policy: AnonymousCartPolicy,
    configure: impl FnOnce(&mut CartSettings),
) -> World {
    let mut settings = CartSettings {
        anonymous: policy,
        ..CartSettings::default()
    };
    configure(&mut settings);
    let world = World::start_with_settings(TestAuth::new(), None, clock, settings).await;
    for sku in ["SHOE-42", "SOCK-1"] {
        world
            .catalog
            .set(sku, QuoteStatus::Available, Some(1_000), Uuid::now_v7());
    }
    world
}

fn limit_of(creates_per_minute: u32) -> AnonymousCartPolicy {
    AnonymousCartPolicy {
        creates_per_minute,
        ..AnonymousCartPolicy::default()
    }
}

/// An anonymous AddItem without a cart id: a new cart, or the refusal.
async fn create(world: &World) -> Result<String, tonic::Status> {
    let key = Uuid::now_v7().to_string();
    let cart = world.add(None, "", "SHOE-42", 1, &key, None).await?;
    Ok(cart.id)
}

fn retry_delay(status: &tonic::Status) -> Duration {
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    status
        .get_error_details()
        .retry_info()
        .and_then(|info| info.retry_delay)
        .expect("RetryInfo with a delay")
}

async fn count(world: &World, table: &str) -> i64 {
    world
        .service
        .count(&format!("SELECT count(*) AS n FROM {table}"))
        .await
}

#[tokio::test]
async fn an_address_creates_at_most_the_limit_per_minute_and_nothing_else_counts() {
    let clock = Arc::new(ManualClock::starting_now());
    let world = world_with(clock.clone(), limit_of(3), |_| {}).await;

    let first_key = "first-cart-key";
    let first = world
        .add(None, "", "SHOE-42", 1, first_key, None)
        .await
        .unwrap();
    create(&world).await.unwrap();
    create(&world).await.unwrap();
    let refused = create(&world).await.unwrap_err();
    assert_eq!(retry_delay(&refused), Duration::from_secs(60));
    assert!(
        refused.message().contains("at most 3 a minute"),
        "{refused:?}"
    );
    // The refused call wrote nothing.
    assert_eq!(count(&world, "carts").await, 3);
    assert_eq!(count(&world, "cart_lines").await, 3);
    assert_eq!(count(&world, "anonymous_cart_creations").await, 3);
    assert_eq!(
        world
            .service
            .count(
                "SELECT count(*) AS n FROM anonymous_cart_creations \
                 WHERE client_address = '127.0.0.1'"
            )
            .await,
        3,
        "counted by the gRPC peer's address"
    );

    // What creates no anonymous cart is not limited: a replayed key, an
    // anonymous AddItem naming its cart, a signed-in caller's first AddItem.
    let replayed = world
        .add(None, "", "SHOE-42", 1, first_key, None)
        .await
        .unwrap();
    assert_eq!(replayed.id, first.id);
    world
        .add(None, &first.id, "SOCK-1", 1, "", None)
        .await
        .unwrap();
    let token = world.auth.token(Uuid::now_v7(), &[]);
    world
        .add(Some(&token), "", "SHOE-42", 1, "", None)
        .await
        .unwrap();
    assert_eq!(count(&world, "carts").await, 4);

    // Half a minute later: still refused, for the other half.
    clock.advance(TimeDelta::seconds(30));
    let refused = create(&world).await.unwrap_err();
    assert_eq!(retry_delay(&refused), Duration::from_secs(30));

    // A minute after the three: exactly three more.
    clock.advance(TimeDelta::seconds(30));
    for _ in 0..3 {
        create(&world).await.unwrap();
    }
    let refused = create(&world).await.unwrap_err();
    assert_eq!(retry_delay(&refused), Duration::from_secs(60));
    assert_eq!(count(&world, "carts").await, 7);

    // Pruning forgets only what no longer counts.
    assert_eq!(world.app.prune_anonymous_creations().await.unwrap(), 3);
    assert!(create(&world).await.is_err());
    world.service.finish().await.unwrap();
}

#[tokio::test]
async fn a_concurrent_burst_creates_exactly_the_limit() {
    let clock = Arc::new(ManualClock::starting_now());
    let world = world_with(clock, limit_of(3), |_| {}).await;
    let results = futures::future::join_all((0..10).map(|_| create(&world))).await;
    let created = results.iter().filter(|result| result.is_ok()).count();
    let throttled = results
        .iter()
        .filter(|result| {
            result
                .as_ref()
                .is_err_and(|status| status.code() == Code::ResourceExhausted)
        })
        .count();
    assert_eq!((created, throttled), (3, 7), "{results:?}");
    assert_eq!(count(&world, "carts").await, 3);
    assert_eq!(count(&world, "anonymous_cart_creations").await, 3);
    world.service.finish().await.unwrap();
}

#[tokio::test]
async fn the_cleanup_deletes_anonymous_carts_unchanged_for_the_ttl_with_their_lines() {
    let clock = Arc::new(ManualClock::starting_now());
    let world = world_with(clock.clone(), limit_of(30), |settings| {
        // Two per transaction, so the sweep needs several.
        settings.anonymous_cleanup_batch = 2;
    })
    .await;

    let mut abandoned = Vec::new();
    for _ in 0..3 {
        let id = create(&world).await.unwrap();
        world.add(None, &id, "SOCK-1", 2, "", None).await.unwrap();
        abandoned.push(id);
    }
    let kept = create(&world).await.unwrap();
    let token = world.auth.token(Uuid::now_v7(), &[]);
    world
        .add(Some(&token), "", "SHOE-42", 1, "user-key", None)
        .await
        .unwrap();
    assert_eq!(count(&world, "carts").await, 5);
    assert_eq!(count(&world, "cart_lines").await, 8);

    // Two days on, one anonymous cart changes: its TTL starts again.
    clock.advance(TimeDelta::hours(48));
    world.add(None, &kept, "SOCK-1", 1, "", None).await.unwrap();

    // Exactly 72 hours after the last change nothing has expired yet.
    clock.advance(TimeDelta::hours(24));
    assert_eq!(world.app.delete_expired_anonymous_carts().await.unwrap(), 0);

    // A moment later the three untouched ones go, in batches of two, with
    // their lines and AddItem keys; the changed one and the user's stay.
    clock.advance(TimeDelta::seconds(1));
    cleanup::sweep(&world.app).await;
    assert_eq!(count(&world, "carts").await, 2);
    assert_eq!(count(&world, "cart_lines").await, 3);
    assert_eq!(
        count(&world, "carts WHERE user_id IS NULL").await,
        1,
        "the changed anonymous cart stays"
    );
    for id in &abandoned {
        let gone = world.get(None, id).await.unwrap_err();
        assert_eq!(gone.code(), Code::NotFound);
    }
    assert_eq!(world.get(None, &kept).await.unwrap().lines.len(), 2);
    assert_eq!(world.get(Some(&token), "").await.unwrap().lines.len(), 1);
    assert_eq!(
        count(&world, "cart_idempotency_keys WHERE scope = 'anonymous'").await,
        1,
        "only the kept cart's creation key remains"
    );
    // The sweep also forgot the creations, long out of the window.
    assert_eq!(count(&world, "anonymous_cart_creations").await, 0);

    // A signed-in user's cart never expires.
    clock.advance(TimeDelta::hours(1_000));
    cleanup::sweep(&world.app).await;
    assert_eq!(count(&world, "carts").await, 1);
    assert_eq!(count(&world, "carts WHERE user_id IS NOT NULL").await, 1);
    world.service.finish().await.unwrap();
}

#[tokio::test]
async fn the_timer_runs_the_cleanup_on_its_own() {
    let clock = Arc::new(ManualClock::starting_now());
    let policy = AnonymousCartPolicy {
        creates_per_minute: 30,
        ttl: TimeDelta::hours(1),
    };
    let world = world_with(clock.clone(), policy, |settings| {
        settings.anonymous_cleanup_interval = Duration::from_millis(50);
    })
    .await;
    create(&world).await.unwrap();
    clock.advance(TimeDelta::hours(2));
    let deadline = tokio::time::Instant::now() + EVENT_WAIT;
    while count(&world, "carts").await > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the timer never deleted the expired cart"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(count(&world, "cart_lines").await, 0);
    world.service.finish().await.unwrap();
}
