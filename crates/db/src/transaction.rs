//! The one way a service runs a transaction: [`transaction!`](crate::transaction).
//!
//! Why a macro and not a function taking an `AsyncFn(&Tx) -> Result<T, E>`:
//! a future that borrows the closure's captured references cannot be proven
//! `Send` on stable Rust (rust-lang/rust#110338, #139475: "implementation of
//! `Send` is not general enough"), and every gRPC handler and consumer must
//! be `Send`. A function taking `Fn(Tx) -> Fut` instead makes each caller
//! hand the transaction back and re-borrow what it captured
//! (`let x = &x;`). The macro expands the body inline, in an `async` block
//! that borrows like any other code, so neither is needed.

use std::future::Future;
use std::time::Duration;

use ecommerce_platform::Backoff;
use sea_orm::{AccessMode, DatabaseTransaction, DbErr, IsolationLevel, TransactionTrait};

use crate::{StoreError, TransactionError};

/// How often a transaction is tried in all.
pub const TRANSACTION_ATTEMPTS: u32 = 4;
/// Pause between attempts: short, since the competing transaction is usually
/// done within milliseconds; jittered so the losers do not collide again.
const RETRY_BACKOFF: Backoff = Backoff::new(Duration::from_millis(5), Duration::from_millis(100));

/// A transaction [`transaction!`](crate::transaction) can commit: SeaORM's,
/// and the outbox's (which also wakes the relay).
pub trait Commit {
    fn commit_transaction(self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

impl Commit for DatabaseTransaction {
    #[allow(clippy::manual_async_fn)] // the trait's `+ Send` is spelled out
    fn commit_transaction(self) -> impl Future<Output = Result<(), StoreError>> + Send {
        async move { self.commit().await.map_err(StoreError::from) }
    }
}

/// Begins a read-only REPEATABLE READ transaction: several queries that
/// see one snapshot (a product and its variants and prices), for the
/// second argument of [`transaction!`](crate::transaction).
pub async fn begin_snapshot<C>(db: &C) -> Result<DatabaseTransaction, DbErr>
where
    C: TransactionTrait<Transaction = DatabaseTransaction>,
{
    db.begin_with_config(
        Some(IsolationLevel::RepeatableRead),
        Some(AccessMode::ReadOnly),
    )
    .await
}

/// Part of [`transaction!`](crate::transaction): whether to run the attempt
/// again after `error`; waits out the backoff when so.
#[doc(hidden)]
pub async fn retry_after<E>(operation: &'static str, attempts_made: u32, error: &E) -> bool
where
    E: TransactionError + std::fmt::Display,
{
    if attempts_made >= TRANSACTION_ATTEMPTS || !error.is_retryable() {
        return false;
    }
    tracing::warn!(operation, attempt = attempts_made, %error, "transaction failed; retrying");
    tokio::time::sleep(RETRY_BACKOFF.equal_jitter_delay(attempts_made)).await;
    true
}

/// Runs a block in a transaction, commits it, and runs it all again from
/// the start while it fails with a retryable [`StoreError`] (the policy in
/// [`crate::error`]), at most [`TRANSACTION_ATTEMPTS`] times.
///
/// ```ignore
/// let order = transaction!(OrdersError, "place_order", outbox.begin(db), |tx| {
///     storage::insert_order(tx, &order).await?;
///     tx.emit(&order.placed(), metadata.clone()).await?;
///     Ok(order)
/// })?;
/// ```
///
/// - The first argument is the service's error type: a
///   [`TransactionError`], which every `?` in the block converts into.
/// - The third begins a transaction (any future whose output is
///   `Result<Tx, X>` with `X: Into<StoreError>` and `Tx:`
///   [`Commit`]); it is evaluated again for every attempt.
/// - `tx` is a `&Tx` inside the block; the block borrows everything else
///   as ordinary code does. It may run several times, so it must touch the
///   database only through `tx`, and anything it sends elsewhere must be
///   idempotent.
/// - `?` and `return` leave the attempt (rolling it back), not the
///   enclosing function; the macro's value is the last attempt's
///   `Result<T, E>`.
#[macro_export]
macro_rules! transaction {
    ($error:ty, $operation:expr, $begin:expr, |$tx:ident| $body:block) => {{
        let mut attempts_made: u32 = 0;
        loop {
            attempts_made += 1;
            let outcome: Result<_, $error> = async {
                let transaction = $begin.await.map_err($crate::StoreError::from)?;
                let value = {
                    let $tx = &transaction;
                    let attempt: Result<_, $error> = async { $body }.await;
                    attempt?
                };
                $crate::Commit::commit_transaction(transaction)
                    .await
                    .map_err($crate::StoreError::at_commit)?;
                Ok(value)
            }
            .await;
            match outcome {
                Err(error)
                    if $crate::transaction::retry_after($operation, attempts_made, &error)
                        .await =>
                {
                    continue;
                }
                outcome => break outcome,
            }
        }
    }};
}
