//! Running a whole transaction again after a serialization failure or deadlock.

use std::future::Future;
use std::time::Duration;

use ecommerce_platform::Backoff;

/// How often a conflicting transaction is tried in all, by default.
pub const DEFAULT_TRANSACTION_ATTEMPTS: u32 = 4;
/// Pause between attempts: short, since the competing transaction is usually
/// done within milliseconds; jittered so the losers do not collide again.
const RETRY_BACKOFF: Backoff = Backoff::new(Duration::from_millis(5), Duration::from_millis(100));

/// Runs `attempt` (which must open, fill and commit its own transaction)
/// until it succeeds, fails with an error `is_retryable` refuses, or
/// `max_attempts` attempts are made; returns the last outcome.
///
/// Services classify their errors with [`DbFailure::is_retryable`](crate::DbFailure::is_retryable)
/// (40001, 40P01, 55P03, a lost connection) to build `is_retryable`.
pub async fn retry_transaction<T, E, F, Fut>(
    operation: &'static str,
    max_attempts: u32,
    is_retryable: impl Fn(&E) -> bool,
    mut attempt: F,
) -> Result<T, E>
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut attempts_made = 0;
    loop {
        attempts_made += 1;
        match attempt().await {
            Err(error) if attempts_made < max_attempts && is_retryable(&error) => {
                tracing::warn!(operation, attempt = attempts_made, %error, "transaction conflicted; retrying");
                tokio::time::sleep(RETRY_BACKOFF.equal_jitter_delay(attempts_made)).await;
            }
            outcome => return outcome,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn retries_only_what_is_retryable_and_at_most_max_attempts() {
        let calls = AtomicU32::new(0);
        let result: Result<(), String> = retry_transaction(
            "test",
            3,
            |error: &String| error == "conflict",
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err("conflict".to_owned())
            },
        )
        .await;
        assert_eq!(result, Err("conflict".to_owned()));
        assert_eq!(calls.load(Ordering::SeqCst), 3);

        calls.store(0, Ordering::SeqCst);
        let result: Result<(), String> = retry_transaction(
            "test",
            3,
            |error: &String| error == "conflict",
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err("bug".to_owned())
            },
        )
        .await;
        assert_eq!(result, Err("bug".to_owned()));
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        calls.store(0, Ordering::SeqCst);
        let result = retry_transaction(
            "test",
            3,
            |_: &String| true,
            || async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 => Err("conflict".to_owned()),
                    _ => Ok(7),
                }
            },
        )
        .await;
        assert_eq!(result, Ok(7));
    }
}
