//! The anonymous-cart cleanup timer: every `CART_ANONYMOUS_CLEANUP_INTERVAL_MS`,
//! deletes the anonymous carts nobody changed for `CART_ANONYMOUS_TTL_HOURS`
//! (in batches, each its own transaction) and forgets the creations that no
//! longer count toward the per-address limit.

use std::future::Future;

use crate::app::CartApp;

/// Most batches one sweep deletes; the rest wait for the next sweep, so a
/// backlog (the first sweep after a long outage) does not hold a connection
/// for long.
pub const MAX_BATCHES_PER_SWEEP: u32 = 100;

/// Runs until `stopping` completes (then returns after the batch in
/// flight). Several instances may run: each skips the carts another one
/// holds (`FOR UPDATE SKIP LOCKED`).
pub async fn run(app: CartApp, stopping: impl Future<Output = ()> + Send) {
    let interval = app.settings().anonymous_cleanup_interval;
    tokio::pin!(stopping);
    loop {
        tokio::select! {
            () = &mut stopping => return,
            () = tokio::time::sleep(interval) => {}
        }
        sweep(&app).await;
    }
}

/// One sweep; failures are logged and the next sweep tries again.
pub async fn sweep(app: &CartApp) {
    let batch = app.settings().anonymous_cleanup_batch;
    let mut deleted = 0_u64;
    for _ in 0..MAX_BATCHES_PER_SWEEP {
        match app.delete_expired_anonymous_carts().await {
            Ok(count) => {
                deleted += count;
                if count < batch {
                    break;
                }
            }
            Err(error) => {
                tracing::warn!(%error, "deleting expired anonymous carts failed; retrying next sweep");
                break;
            }
        }
    }
    if deleted > 0 {
        tracing::info!(deleted, "expired anonymous carts deleted");
    }
    if let Err(error) = app.prune_anonymous_creations().await {
        tracing::warn!(%error, "pruning anonymous cart creations failed; retrying next sweep");
    }
}
