//! Limits on anonymous carts. Anyone may create one (an anonymous AddItem
//! without a cart id), so nothing else bounds how many exist: one client
//! address may create only so many per minute, and a cart nobody changed
//! for a while is deleted.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::domain::CartError;

/// The sliding window the creation limit counts over.
pub const CREATION_WINDOW: TimeDelta = TimeDelta::seconds(60);

/// How many anonymous carts one client may create per minute, and how long
/// an anonymous cart lives after its last change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AnonymousCartPolicy {
    /// Creations one client address may make in any [`CREATION_WINDOW`];
    /// at least 1.
    pub creates_per_minute: u32,
    /// An anonymous cart not changed for this long is deleted. Reading a
    /// cart does not count as a change.
    pub ttl: TimeDelta,
}

impl Default for AnonymousCartPolicy {
    fn default() -> Self {
        Self {
            creates_per_minute: 30,
            ttl: TimeDelta::hours(72),
        }
    }
}

/// The creations one client made in the current window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecentCreations {
    pub count: u64,
    /// The oldest of them; it leaves the window first.
    pub oldest: Option<DateTime<Utc>>,
}

impl AnonymousCartPolicy {
    /// Creations after this moment count toward the limit at `now`.
    pub fn window_start(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - CREATION_WINDOW
    }

    /// Whether a client that made `recent` creations in the window may make
    /// one more at `now`; when not, the refusal says how long until the
    /// oldest of them leaves the window (whole seconds, at least one).
    pub fn check_creation(
        &self,
        recent: RecentCreations,
        now: DateTime<Utc>,
    ) -> Result<(), CartError> {
        if recent.count < u64::from(self.creates_per_minute) {
            return Ok(());
        }
        let frees_at = recent
            .oldest
            .map_or(now + CREATION_WINDOW, |oldest| oldest + CREATION_WINDOW);
        let wait = (frees_at - now).max(TimeDelta::zero());
        // Rounded up: retrying after a rounded-down delay would be refused.
        let seconds = wait.num_seconds() + i64::from(wait.subsec_nanos() > 0);
        let retry_after = Duration::from_secs(u64::try_from(seconds.max(1)).unwrap_or(1));
        Err(CartError::TooManyAnonymousCarts {
            limit: self.creates_per_minute,
            retry_after,
        })
    }

    /// Anonymous carts last changed before this moment are expired at `now`.
    pub fn expired_before(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - self.ttl
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::TimeZone as _;

    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap() + TimeDelta::seconds(seconds)
    }

    fn policy(creates_per_minute: u32) -> AnonymousCartPolicy {
        AnonymousCartPolicy {
            creates_per_minute,
            ..AnonymousCartPolicy::default()
        }
    }

    #[test]
    fn creations_below_the_limit_pass_and_the_limit_itself_is_refused() {
        let policy = policy(3);
        for count in 0..3 {
            let recent = RecentCreations {
                count,
                oldest: Some(at(0)),
            };
            assert_eq!(policy.check_creation(recent, at(10)), Ok(()));
        }
        let full = RecentCreations {
            count: 3,
            oldest: Some(at(0)),
        };
        assert_eq!(
            policy.check_creation(full, at(10)),
            Err(CartError::TooManyAnonymousCarts {
                limit: 3,
                retry_after: Duration::from_secs(50),
            })
        );
    }

    #[test]
    fn the_retry_delay_is_when_the_oldest_creation_leaves_the_window_rounded_up() {
        let policy = policy(1);
        let retry_after = |oldest: Option<DateTime<Utc>>, now: DateTime<Utc>| match policy
            .check_creation(RecentCreations { count: 1, oldest }, now)
        {
            Err(CartError::TooManyAnonymousCarts { retry_after, .. }) => retry_after,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            retry_after(Some(at(0)), at(59) + TimeDelta::milliseconds(500)),
            Duration::from_secs(1)
        );
        assert_eq!(
            retry_after(Some(at(0)), at(1) - TimeDelta::milliseconds(1)),
            Duration::from_secs(60)
        );
        // Never zero, even when the window has just passed.
        assert_eq!(retry_after(Some(at(0)), at(60)), Duration::from_secs(1));
        // Without a known oldest creation, a whole window.
        assert_eq!(retry_after(None, at(0)), Duration::from_secs(60));
    }

    #[test]
    fn the_window_and_the_expiry_count_back_from_now() {
        let policy = AnonymousCartPolicy {
            creates_per_minute: 30,
            ttl: TimeDelta::hours(72),
        };
        assert_eq!(policy.window_start(at(60)), at(0));
        assert_eq!(policy.expired_before(at(0)), at(-72 * 3600));
    }
}
