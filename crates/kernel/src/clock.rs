//! The time source: injected, so tests can move time (future prices).

use std::fmt;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Duration, SubsecRound as _, Utc};

/// Where "now" comes from. Times are UTC and truncated to microseconds,
/// Postgres' `timestamptz` precision, so a value read back equals the value
/// written (and page tokens, which carry a timestamp, stay exact).
pub trait Clock: Send + Sync + fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}

/// A clock that only moves when told to; for tests.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new(now: DateTime<Utc>) -> Self {
        Self {
            now: Mutex::new(now.trunc_subsecs(6)),
        }
    }

    /// Starting at the current system time.
    pub fn starting_now() -> Self {
        Self::new(Utc::now())
    }

    pub fn set(&self, now: DateTime<Utc>) {
        *self.lock() = now.trunc_subsecs(6);
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.lock();
        *now = (*now + by).trunc_subsecs(6);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, DateTime<Utc>> {
        // A panic while holding the lock cannot leave a half-written
        // timestamp behind, so a poisoned lock is still a valid time.
        self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.lock()
    }
}

#[cfg(test)]
mod tests {
    use chrono::Timelike as _;

    use super::*;

    #[test]
    fn clocks_keep_microseconds_only() {
        assert_eq!(SystemClock.now().nanosecond() % 1_000, 0);
        let clock = ManualClock::starting_now();
        let start = clock.now();
        assert_eq!(start.nanosecond() % 1_000, 0);
        clock.advance(Duration::nanoseconds(1_500));
        assert_eq!(clock.now() - start, Duration::microseconds(1));
        clock.set(start);
        assert_eq!(clock.now(), start);
    }
}
