//! The expiry worker: every interval, expires the held reservations whose
//! TTL has run out, each in a transaction of its own with its
//! `inventory.stock.reservation_expired.v1` event.

use std::future::Future;

use crate::app::InventoryApp;

/// Runs until `stopping` completes (then returns after the reservation in
/// flight). Several instances may run: each picks due reservations with
/// `FOR UPDATE SKIP LOCKED`.
pub async fn run(app: InventoryApp, stopping: impl Future<Output = ()> + Send) {
    let interval = app.settings().expiry_interval;
    let batch = app.settings().expiry_batch;
    tokio::pin!(stopping);
    loop {
        tokio::select! {
            () = &mut stopping => return,
            () = tokio::time::sleep(interval) => {}
        }
        for _ in 0..batch {
            match app.expire_next().await {
                Ok(true) => {}
                Ok(false) => break,
                Err(error) => {
                    tracing::warn!(%error, "expiring a reservation failed; retrying next sweep");
                    break;
                }
            }
        }
    }
}
