//! Time arithmetic that cannot panic.
//!
//! `DateTime + TimeDelta` panics on overflow. Policies come from settings, so
//! an absurd duration (say `i64::MAX` seconds) must not crash a request: sums
//! saturate at the largest representable instant instead, which reads as
//! "never" for an expiry.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

/// `duration` as a `TimeDelta`, saturating at `TimeDelta::MAX` (about 292
/// million years) rather than failing.
pub(crate) fn to_time_delta(duration: Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}

/// `instant + duration`, saturating like [`saturating_add`].
pub(crate) fn saturating_add_std(instant: DateTime<Utc>, duration: Duration) -> DateTime<Utc> {
    saturating_add(instant, to_time_delta(duration))
}

/// `instant + delta`, or the largest representable instant on overflow.
pub(crate) fn saturating_add(instant: DateTime<Utc>, delta: TimeDelta) -> DateTime<Utc> {
    instant
        .checked_add_signed(delta)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `instant - delta`, or the smallest representable instant on overflow.
pub(crate) fn saturating_sub(instant: DateTime<Utc>, delta: TimeDelta) -> DateTime<Utc> {
    instant
        .checked_sub_signed(delta)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_std_durations_saturate() {
        assert_eq!(
            to_time_delta(Duration::from_secs(90)),
            TimeDelta::seconds(90)
        );
        assert_eq!(to_time_delta(Duration::MAX), TimeDelta::MAX);
        let now = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
        assert_eq!(
            saturating_add_std(now, Duration::MAX),
            DateTime::<Utc>::MAX_UTC
        );
    }

    #[test]
    fn sums_saturate_instead_of_panicking() {
        let now = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
        assert_eq!(
            saturating_add(now, TimeDelta::hours(1)),
            DateTime::<Utc>::from_timestamp(1_700_003_600, 0).unwrap()
        );
        assert_eq!(
            saturating_add(now, TimeDelta::MAX),
            DateTime::<Utc>::MAX_UTC
        );
        assert_eq!(
            saturating_sub(now, TimeDelta::MAX),
            DateTime::<Utc>::MIN_UTC
        );
        assert_eq!(
            saturating_sub(now, TimeDelta::minutes(10)),
            DateTime::<Utc>::from_timestamp(1_700_000_000 - 600, 0).unwrap()
        );
    }
}
