//! The sender: mails the recorded notifications, one per transaction.
//!
//! Each step locks the oldest due notification whose customer's address
//! (and, where the mail shows it, order) is known (`FOR UPDATE SKIP
//! LOCKED`, so several senders share the work), renders it, hands it to
//! the mailer and marks it SENT in the same transaction. A crash after the
//! mailer took the mail and before the commit leaves that one notification
//! PENDING: it is sent once more, and no other is. A failed send is tried
//! again with exponential backoff (and jitter), and marked FAILED after
//! `NOTIFICATIONS_SENDER_MAX_ATTEMPTS`; a mail that cannot be rendered or
//! addressed is FAILED at once.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ecommerce_db::StoreError;
use ecommerce_kernel::Clock;
use ecommerce_mailer::Mailer;
use rand::Rng as _;
use sea_orm::{DatabaseConnection, DatabaseTransaction, TransactionTrait};
use tracing::instrument;

use crate::app::settings::SenderSettings;
use crate::domain::{NotificationId, RetryPolicy};
use crate::mail::render;
use crate::storage::{self, Claimed};

/// What one step did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendOutcome {
    /// Nothing is due.
    Idle,
    Sent(NotificationId),
    /// The send failed; due again later.
    Retrying(NotificationId),
    /// Given up on.
    Failed(NotificationId),
}

/// Sends the notifications of one schema.
#[derive(Clone, Debug)]
pub struct MailSender {
    db: DatabaseConnection,
    mailer: Arc<dyn Mailer>,
    clock: Arc<dyn Clock>,
    settings: SenderSettings,
}

impl MailSender {
    pub fn new(
        db: DatabaseConnection,
        mailer: Arc<dyn Mailer>,
        clock: Arc<dyn Clock>,
        settings: SenderSettings,
    ) -> Self {
        Self {
            db,
            mailer,
            clock,
            settings,
        }
    }

    /// Sends the next due notification, if any.
    pub async fn send_next(&self) -> Result<SendOutcome, StoreError> {
        let transaction = self.db.begin().await?;
        let Some(claimed) = storage::claim_next(&transaction, self.clock.now()).await? else {
            transaction.commit().await?;
            return Ok(SendOutcome::Idle);
        };
        let outcome = self.send_claimed(&transaction, &claimed).await?;
        // A failed commit after a send leaves the row PENDING: this one
        // mail goes out again.
        transaction.commit().await?;
        Ok(outcome)
    }

    /// Renders, sends and marks `claimed` in `transaction` (which holds its
    /// lock); the caller commits.
    #[instrument(
        skip_all,
        fields(
            notification_id = %claimed.notification.id,
            template = claimed.notification.template().as_str(),
            order_id = %claimed.notification.order_id,
        ),
        err(level = "warn")
    )]
    async fn send_claimed(
        &self,
        transaction: &DatabaseTransaction,
        claimed: &Claimed,
    ) -> Result<SendOutcome, StoreError> {
        let notification = &claimed.notification;
        let id = notification.id;
        let Some(email) = claimed.contact.email.as_ref() else {
            return Err(StoreError::internal(format!(
                "notification {id} claimed for a contact without an address"
            )));
        };
        let mail = match render(
            notification,
            email,
            &claimed.contact.name,
            claimed.order.as_ref(),
        ) {
            Ok(mail) => mail,
            Err(error) => {
                tracing::error!(%error, "the mail cannot be rendered; notification failed");
                storage::mark_attempt_failed(transaction, id, &error.to_string(), None).await?;
                return Ok(SendOutcome::Failed(id));
            }
        };
        match self.mailer.send(&mail).await {
            Ok(()) => {
                storage::mark_sent(
                    transaction,
                    id,
                    email.as_str(),
                    &mail.subject,
                    self.clock.now(),
                )
                .await?;
                tracing::info!(to_domain = email.domain(), "notification sent");
                Ok(SendOutcome::Sent(id))
            }
            Err(error) => {
                let failed_attempts = notification.attempts + 1;
                let retry_at = (error.is_retryable()
                    && !self.settings.retry.gives_up(failed_attempts))
                .then(|| retry_at(&self.settings.retry, failed_attempts, self.clock.now()));
                tracing::warn!(%error, failed_attempts, retrying = retry_at.is_some(), "send failed");
                storage::mark_attempt_failed(transaction, id, &error.to_string(), retry_at).await?;
                Ok(match retry_at {
                    Some(_) => SendOutcome::Retrying(id),
                    None => SendOutcome::Failed(id),
                })
            }
        }
    }

    /// Sends until `stopping` completes: every due notification at once,
    /// then one look every poll interval. A storage failure waits a poll
    /// interval (doubling up to 30 s while it lasts).
    pub async fn run(self, stopping: impl std::future::Future<Output = ()> + Send) {
        tokio::pin!(stopping);
        let mut failures: u32 = 0;
        loop {
            let wait = match self.send_next().await {
                Ok(SendOutcome::Idle) => {
                    failures = 0;
                    self.settings.poll_interval
                }
                Ok(SendOutcome::Sent(_) | SendOutcome::Retrying(_) | SendOutcome::Failed(_)) => {
                    failures = 0;
                    Duration::ZERO
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(%error, failures, "the mail sender could not read or mark");
                    self.settings
                        .poll_interval
                        .saturating_mul(1 << failures.min(8))
                        .min(Duration::from_secs(30))
                }
            };
            tokio::select! {
                () = &mut stopping => return,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}

/// When a mail that failed `failed_attempts` times is due again: the
/// policy's delay, with up to a quarter of it added at random so failed
/// mails do not come back in step.
fn retry_at(policy: &RetryPolicy, failed_attempts: u32, now: DateTime<Utc>) -> DateTime<Utc> {
    let delay = policy.delay(failed_attempts);
    let jitter_ms = u64::try_from(delay.as_millis() / 4).unwrap_or(u64::MAX);
    let jitter = Duration::from_millis(rand::rng().random_range(0..=jitter_ms));
    let wait = chrono::Duration::from_std(delay + jitter).unwrap_or(chrono::Duration::MAX);
    now.checked_add_signed(wait).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_the_policy_delay_plus_at_most_a_quarter() {
        let policy = RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(400),
            cap: Duration::from_secs(10),
        };
        let now = Utc::now();
        for _ in 0..50 {
            let at = retry_at(&policy, 2, now);
            let waited = at - now;
            assert!(waited >= chrono::Duration::milliseconds(800), "{waited}");
            assert!(waited <= chrono::Duration::milliseconds(1000), "{waited}");
        }
    }
}
