//! Capped exponential backoff with jitter, for every retry loop (broker
//! reconnects, consumer retries, outbox relay retries).

use std::time::Duration;

use rand::Rng as _;

/// `min * 2^attempt`, capped at `max`, then a uniformly random delay in
/// `[0, that]` ("full jitter"): many clients that lost the same broker spread
/// their retries instead of reconnecting in lock-step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling of the first delay.
    pub min: Duration,
    /// The ceiling of every delay.
    pub max: Duration,
}

impl Backoff {
    pub const fn new(min: Duration, max: Duration) -> Self {
        Self { min, max }
    }

    /// The ceiling for attempt `attempt` (0-based), before jitter.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        // 2^31 * any useful `min` is beyond any useful `max`; cap the shift so it cannot overflow.
        let factor = 1_u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        self.min.saturating_mul(factor).min(self.max)
    }

    /// A random delay in `[0, ceiling(attempt)]` ("full jitter").
    pub fn delay(&self, attempt: u32) -> Duration {
        random_up_to(self.ceiling(attempt))
    }

    /// A random delay in `[ceiling/2, ceiling]` ("equal jitter"): never fires
    /// at once, yet the retries of a batch that failed together (a broker
    /// outage) still come back spread out.
    pub fn equal_jitter_delay(&self, attempt: u32) -> Duration {
        let half = self.ceiling(attempt) / 2;
        half + random_up_to(half)
    }
}

fn random_up_to(ceiling: Duration) -> Duration {
    let ceiling_micros = u64::try_from(ceiling.as_micros()).unwrap_or(u64::MAX);
    Duration::from_micros(rand::rng().random_range(0..=ceiling_micros))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceiling_doubles_from_min_and_stops_at_max() {
        let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let ceilings: Vec<u128> = (0..7)
            .map(|attempt| backoff.ceiling(attempt).as_millis())
            .collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1600, 2000, 2000]);
    }

    #[test]
    fn huge_attempt_numbers_do_not_overflow() {
        let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        assert_eq!(backoff.ceiling(u32::MAX), Duration::from_secs(30));
        assert!(backoff.delay(u32::MAX) <= Duration::from_secs(30));
    }

    #[test]
    fn every_delay_is_within_zero_and_the_ceiling() {
        let backoff = Backoff::new(Duration::from_millis(10), Duration::from_millis(500));
        for attempt in 0..20 {
            for _ in 0..50 {
                assert!(backoff.delay(attempt) <= backoff.ceiling(attempt));
            }
        }
    }

    #[test]
    fn equal_jitter_stays_in_the_upper_half_of_the_ceiling() {
        let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(60));
        for attempt in [0, 1, 5, 9, 20, u32::MAX] {
            let ceiling = backoff.ceiling(attempt);
            for _ in 0..50 {
                let delay = backoff.equal_jitter_delay(attempt);
                assert!(
                    delay >= ceiling / 2 && delay <= ceiling,
                    "attempt {attempt}: {delay:?}"
                );
            }
        }
        assert_eq!(
            Backoff::new(Duration::ZERO, Duration::from_secs(1)).equal_jitter_delay(5),
            Duration::ZERO
        );
    }

    #[test]
    fn the_delays_are_spread_not_constant() {
        let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(1));
        let distinct: std::collections::BTreeSet<Duration> =
            (0..20).map(|_| backoff.delay(0)).collect();
        assert!(distinct.len() > 1, "{distinct:?}");
    }
}
