//! Exponential backoff with jitter.

use std::time::Duration;

/// The delay before retry number `attempt` (1 = the first retry):
/// `base * 2^(attempt-1)` capped at `cap`, of which the upper half is
/// random ("equal jitter"). `jitter` is a sample from `[0, 1)`.
///
/// Half fixed so a retry never fires at once; half random so the rows of a
/// batch that failed together (a broker outage) come back spread out.
pub(crate) fn delay(attempt: u32, base: Duration, cap: Duration, jitter: f64) -> Duration {
    let exponent = attempt.saturating_sub(1).min(31);
    let exponential = base.saturating_mul(1_u32 << exponent).min(cap);
    let half = exponential / 2;
    half + half.mul_f64(jitter.clamp(0.0, 1.0))
}

/// [`delay`] with a fresh random jitter.
pub(crate) fn jittered_delay(attempt: u32, base: Duration, cap: Duration) -> Duration {
    delay(attempt, base, cap, rand::random::<f64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: Duration = Duration::from_millis(100);
    const CAP: Duration = Duration::from_secs(60);

    #[test]
    fn the_delay_doubles_per_attempt_within_its_jitter_band() {
        for attempt in 1..=8 {
            let full = BASE * 2_u32.pow(attempt - 1);
            assert_eq!(
                delay(attempt, BASE, CAP, 0.0),
                full / 2,
                "attempt {attempt}"
            );
            assert_eq!(delay(attempt, BASE, CAP, 1.0), full, "attempt {attempt}");
            let sampled = jittered_delay(attempt, BASE, CAP);
            assert!(sampled >= full / 2 && sampled <= full, "attempt {attempt}");
        }
    }

    #[test]
    fn the_delay_never_exceeds_the_cap_even_for_huge_attempts() {
        for attempt in [11, 20, 31, 32, 1_000, u32::MAX] {
            assert!(delay(attempt, BASE, CAP, 1.0) <= CAP, "attempt {attempt}");
            assert!(
                delay(attempt, BASE, CAP, 0.0) >= CAP / 2,
                "attempt {attempt}"
            );
        }
    }

    #[test]
    fn a_zero_base_retries_at_once() {
        assert_eq!(delay(5, Duration::ZERO, CAP, 0.7), Duration::ZERO);
    }
}
