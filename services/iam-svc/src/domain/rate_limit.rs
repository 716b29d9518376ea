//! Sign-in throttling: when to refuse an attempt before checking the
//! password, and when a failure locks the account.
//!
//! # Semantics
//!
//! The issue asks for "5 failures per 10 minutes → RESOURCE_EXHAUSTED with
//! retry info, then lockout". Failures are counted under two keys, each over a
//! sliding window of [`SignInThrottlePolicy::window`]:
//!
//! - the **account**: the normalized email that was tried, whether or not a
//!   user has it (so an unknown email is throttled like a known one);
//! - the **client**: the caller's IP address, so one client cannot spread
//!   guesses over many accounts.
//!
//! A failure counts while it is younger than the window: one at `failed_at`
//! counts at `now` when `failed_at > now - window` (see
//! [`SignInThrottlePolicy::window_start`]), and stops counting at exactly
//! `failed_at + window`.
//!
//! Before checking a password, [`SignInThrottlePolicy::decide_before_attempt`]
//! refuses the attempt when any of these holds, with the time until all of
//! them have cleared:
//! - the account is locked (`locked_until > now`): until `locked_until`;
//! - the account has `max_failures` or more failures in the window: until its
//!   oldest failure leaves the window;
//! - the client has `max_failures` or more failures in the window: likewise.
//!
//! After a wrong password (or unknown email),
//! [`SignInThrottlePolicy::after_failure`] counts the failure and, when it is
//! the account's `max_failures`-th in the window and the account is not
//! already locked, locks the account for [`SignInThrottlePolicy::lockout`]
//! from now. The lock is what the `iam.security.account_locked.v1` event
//! reports; only a user row can carry it, so for an unknown email the app
//! drops the lock and the window-based throttle still applies. A client is
//! never locked: reaching the limit only throttles it until its failures age
//! out. A lock is never extended by failures while it holds (none get past
//! the throttle anyway), so nobody can keep an account locked longer than
//! `lockout` by hammering it.
//!
//! With the defaults (lockout 15 min longer than the 10 min window) the
//! failures that caused a lock have all aged out when it ends, so the owner
//! gets a fresh set of attempts. A successful sign-in should forget the
//! account's failures; the client's are kept.
//!
//! Everything here is pure: the app reads the counts, the oldest failure
//! time and the lock from storage and applies the outcome. It counts an
//! attempt *before* checking its password, one attempt per account and
//! client at a time, and forgets it when the password is right, so parallel
//! attempts never decide on the same stale count; `after_failure` then gets
//! the state as it was before that attempt was counted.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::time::{saturating_add, saturating_sub, to_time_delta};

/// Sign-in throttling parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInThrottlePolicy {
    /// Failures per account and window that trigger throttling and the
    /// lock. 5 by default; 0 is treated as 1.
    pub max_failures: u32,
    /// Failures per client address and window that throttle that client.
    /// 5 by default, as the issue asks; a deployment whose users share
    /// addresses (NAT, proxies) raises it, since one client's mistakes then
    /// throttle its neighbours. 0 is treated as 1.
    pub max_client_failures: u32,
    /// How long a failure counts. 10 minutes by default.
    pub window: Duration,
    /// How long an account stays locked. 15 minutes by default.
    pub lockout: Duration,
}

impl Default for SignInThrottlePolicy {
    fn default() -> Self {
        Self {
            max_failures: 5,
            max_client_failures: 5,
            window: Duration::from_secs(10 * 60),
            lockout: Duration::from_secs(15 * 60),
        }
    }
}

/// What storage knows about an attempt's account and client, read before
/// the attempt: for each key, how many failures are younger than the window
/// and when the oldest of them happened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ThrottleState {
    /// The account's (normalized email's) failures in the window.
    pub account_failures: u32,
    /// The oldest of them; `None` when there are none.
    pub oldest_account_failure: Option<DateTime<Utc>>,
    /// The client address's failures in the window; 0 when the address is
    /// unknown.
    pub client_failures: u32,
    /// The oldest of them; `None` when there are none.
    pub oldest_client_failure: Option<DateTime<Utc>>,
    /// The user's `locked_until`; `None` when never locked or no such user.
    pub locked_until: Option<DateTime<Utc>>,
}

/// Whether an attempt may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptDecision {
    /// Check the password.
    Allowed,
    /// Refuse without checking the password.
    Throttled {
        /// Until every throttling condition has cleared, rounded up to whole
        /// seconds and at least one second, for the `RetryInfo` detail. A
        /// hint, not a promise: failures from elsewhere may push it back.
        retry_after: Duration,
    },
}

/// The consequences of one failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureOutcome {
    /// The account's failures in the window, this one included (the
    /// `attempt_count` of the sign-in-failed and account-locked events).
    pub attempt_count: u32,
    /// The client's failures in the window, this one included.
    pub client_attempt_count: u32,
    /// `Some` when this failure locks the account: store it as the user's
    /// `locked_until` and emit `iam.security.account_locked.v1`.
    pub lock_until: Option<DateTime<Utc>>,
}

impl SignInThrottlePolicy {
    /// Failures strictly after this instant are in the window at `now`.
    pub fn window_start(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        saturating_sub(now, self.window_as_chrono())
    }

    /// The window as a `chrono` duration, for date arithmetic.
    pub fn window_as_chrono(&self) -> TimeDelta {
        to_time_delta(self.window)
    }

    /// Whether an attempt at `now` may check its password (see the module
    /// docs for the rules).
    pub fn decide_before_attempt(
        &self,
        state: &ThrottleState,
        now: DateTime<Utc>,
    ) -> AttemptDecision {
        let blocked_until = [
            state.locked_until.filter(|until| *until > now),
            self.saturated_until(
                state.account_failures,
                self.limit(),
                state.oldest_account_failure,
                now,
            ),
            self.saturated_until(
                state.client_failures,
                self.max_client_failures.max(1),
                state.oldest_client_failure,
                now,
            ),
        ]
        .into_iter()
        .flatten()
        .max();
        match blocked_until {
            None => AttemptDecision::Allowed,
            Some(until) => AttemptDecision::Throttled {
                retry_after: round_up_to_seconds(until - now),
            },
        }
    }

    /// The consequences of a failed attempt at `now`, given the state read
    /// before it (the failure itself is not in `state`).
    pub fn after_failure(&self, state: &ThrottleState, now: DateTime<Utc>) -> FailureOutcome {
        let attempt_count = state.account_failures.saturating_add(1);
        let client_attempt_count = state.client_failures.saturating_add(1);
        let already_locked = state.locked_until.is_some_and(|until| until > now);
        let lock_until = (attempt_count >= self.limit() && !already_locked)
            .then(|| saturating_add(now, to_time_delta(self.lockout)));
        FailureOutcome {
            attempt_count,
            client_attempt_count,
            lock_until,
        }
    }

    fn limit(&self) -> u32 {
        self.max_failures.max(1)
    }

    /// When a key at its limit drops below it: when its oldest failure
    /// leaves the window. `None` when it is below the limit.
    fn saturated_until(
        &self,
        failures: u32,
        limit: u32,
        oldest: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        if failures < limit {
            return None;
        }
        // Storage that reports a count but no oldest time is inconsistent;
        // waiting a whole window is the cautious reading.
        let oldest = oldest.unwrap_or(now);
        // A stale oldest time (already out of the window) still throttles:
        // the count says the limit is reached, and retry_after's one-second
        // floor makes the client come back shortly.
        Some(saturating_add(oldest, self.window_as_chrono()).max(now))
    }
}

/// `delta` as a `Duration` rounded up to whole seconds, at least one: a
/// client that waits the advertised time is not refused for being early by a
/// fraction of a second.
fn round_up_to_seconds(delta: TimeDelta) -> Duration {
    let whole_seconds = delta.num_seconds();
    let has_fraction = delta.subsec_nanos() > 0;
    let seconds = whole_seconds.saturating_add(i64::from(has_fraction));
    Duration::from_secs(u64::try_from(seconds).unwrap_or(0).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_700_000_000 + seconds, 0).unwrap()
    }

    const NOW: i64 = 3_600;

    fn now() -> DateTime<Utc> {
        at(NOW)
    }

    fn policy() -> SignInThrottlePolicy {
        SignInThrottlePolicy::default()
    }

    fn ago(seconds: i64) -> Option<DateTime<Utc>> {
        Some(at(NOW - seconds))
    }

    fn account(count: u32, oldest_seconds_ago: i64) -> ThrottleState {
        ThrottleState {
            account_failures: count,
            oldest_account_failure: ago(oldest_seconds_ago),
            ..ThrottleState::default()
        }
    }

    fn client(count: u32, oldest_seconds_ago: i64) -> ThrottleState {
        ThrottleState {
            client_failures: count,
            oldest_client_failure: ago(oldest_seconds_ago),
            ..ThrottleState::default()
        }
    }

    fn locked(seconds_from_now: i64) -> ThrottleState {
        ThrottleState {
            locked_until: Some(at(NOW + seconds_from_now)),
            ..ThrottleState::default()
        }
    }

    fn throttled(retry_after_seconds: u64) -> AttemptDecision {
        AttemptDecision::Throttled {
            retry_after: Duration::from_secs(retry_after_seconds),
        }
    }

    fn decide(state: ThrottleState) -> AttemptDecision {
        policy().decide_before_attempt(&state, now())
    }

    #[test]
    fn defaults_are_five_failures_per_ten_minutes_then_fifteen_minutes_locked() {
        let policy = SignInThrottlePolicy::default();
        assert_eq!(policy.max_failures, 5);
        assert_eq!(policy.window, Duration::from_secs(600));
        assert_eq!(policy.lockout, Duration::from_secs(900));
        assert_eq!(policy.window_as_chrono(), TimeDelta::minutes(10));
    }

    #[test]
    fn the_window_starts_one_window_before_now() {
        assert_eq!(policy().window_start(now()), at(NOW - 600));
    }

    // ---- decide_before_attempt ----

    #[test]
    fn a_clean_state_is_allowed() {
        assert_eq!(decide(ThrottleState::default()), AttemptDecision::Allowed);
    }

    #[test]
    fn up_to_four_failures_are_allowed_under_either_key() {
        for count in 0..5 {
            assert_eq!(
                decide(account(count, 60)),
                AttemptDecision::Allowed,
                "{count}"
            );
            assert_eq!(
                decide(client(count, 60)),
                AttemptDecision::Allowed,
                "{count}"
            );
        }
    }

    #[test]
    fn five_account_failures_throttle_until_the_oldest_leaves_the_window() {
        assert_eq!(decide(account(5, 60)), throttled(540));
        assert_eq!(decide(account(5, 1)), throttled(599));
        // More than the limit (concurrent attempts slipped through) too.
        assert_eq!(decide(account(9, 599)), throttled(1));
    }

    #[test]
    fn five_client_failures_throttle_the_client() {
        assert_eq!(decide(client(5, 300)), throttled(300));
        assert_eq!(decide(client(50, 0)), throttled(600));
    }

    #[test]
    fn a_locked_account_is_throttled_until_the_lock_ends() {
        assert_eq!(decide(locked(900)), throttled(900));
    }

    #[test]
    fn the_lock_ends_exactly_at_locked_until() {
        assert_eq!(decide(locked(1)), throttled(1));
        assert_eq!(decide(locked(0)), AttemptDecision::Allowed);
        assert_eq!(decide(locked(-1)), AttemptDecision::Allowed);
    }

    #[test]
    fn the_longest_wait_wins() {
        let state = ThrottleState {
            account_failures: 5,
            oldest_account_failure: ago(60),   // clears in 540 s
            locked_until: Some(at(NOW + 900)), // clears in 900 s
            client_failures: 7,
            oldest_client_failure: ago(500), // clears in 100 s
        };
        assert_eq!(decide(state), throttled(900));
        let state = ThrottleState {
            account_failures: 5,
            oldest_account_failure: ago(500), // clears in 100 s
            locked_until: Some(at(NOW + 60)), // clears in 60 s
            client_failures: 5,
            oldest_client_failure: ago(10), // clears in 590 s
        };
        assert_eq!(decide(state), throttled(590));
    }

    #[test]
    fn one_key_over_the_limit_is_enough() {
        let state = ThrottleState {
            account_failures: 4,
            oldest_account_failure: ago(10),
            locked_until: Some(at(NOW - 5)),
            client_failures: 5,
            oldest_client_failure: ago(400),
        };
        assert_eq!(decide(state), throttled(200));
    }

    #[test]
    fn retry_after_is_rounded_up_to_whole_seconds_and_at_least_one() {
        let state = ThrottleState {
            locked_until: Some(now() + TimeDelta::milliseconds(1_500)),
            ..ThrottleState::default()
        };
        assert_eq!(decide(state), throttled(2));
        let state = ThrottleState {
            locked_until: Some(now() + TimeDelta::nanoseconds(1)),
            ..ThrottleState::default()
        };
        assert_eq!(decide(state), throttled(1));
        assert_eq!(
            round_up_to_seconds(TimeDelta::zero()),
            Duration::from_secs(1)
        );
        assert_eq!(
            round_up_to_seconds(TimeDelta::seconds(-5)),
            Duration::from_secs(1)
        );
        assert_eq!(
            round_up_to_seconds(TimeDelta::seconds(7)),
            Duration::from_secs(7)
        );
        assert_eq!(
            round_up_to_seconds(TimeDelta::milliseconds(7_001)),
            Duration::from_secs(8)
        );
    }

    #[test]
    fn inconsistent_storage_errs_on_the_cautious_side() {
        // A count with no oldest time: wait a whole window.
        let state = ThrottleState {
            client_failures: 5,
            oldest_client_failure: None,
            ..ThrottleState::default()
        };
        assert_eq!(decide(state), throttled(600));
        // An oldest time already out of the window: throttled, briefly.
        assert_eq!(decide(account(5, 3_000)), throttled(1));
    }

    #[test]
    fn a_zero_limit_counts_as_one() {
        let policy = SignInThrottlePolicy {
            max_failures: 0,
            max_client_failures: 0,
            ..SignInThrottlePolicy::default()
        };
        assert_eq!(
            policy.decide_before_attempt(&ThrottleState::default(), now()),
            AttemptDecision::Allowed
        );
        assert_eq!(
            policy.decide_before_attempt(&client(1, 0), now()),
            throttled(600)
        );
        assert!(
            policy
                .after_failure(&ThrottleState::default(), now())
                .lock_until
                .is_some()
        );
    }

    #[test]
    fn the_client_limit_is_its_own() {
        let policy = SignInThrottlePolicy {
            max_client_failures: 20,
            ..SignInThrottlePolicy::default()
        };
        assert_eq!(
            policy.decide_before_attempt(&client(19, 0), now()),
            AttemptDecision::Allowed
        );
        assert_eq!(
            policy.decide_before_attempt(&client(20, 0), now()),
            throttled(600)
        );
        assert_eq!(
            policy.decide_before_attempt(&account(5, 0), now()),
            throttled(600)
        );
    }

    #[test]
    fn huge_durations_saturate_instead_of_panicking() {
        let policy = SignInThrottlePolicy {
            max_failures: 5,
            max_client_failures: 5,
            window: Duration::MAX,
            lockout: Duration::MAX,
        };
        assert_eq!(policy.window_start(now()), DateTime::<Utc>::MIN_UTC);
        assert_eq!(
            policy.after_failure(&account(4, 1), now()).lock_until,
            Some(DateTime::<Utc>::MAX_UTC)
        );
        assert!(matches!(
            policy.decide_before_attempt(&account(5, 1), now()),
            AttemptDecision::Throttled { .. }
        ));
    }

    // ---- after_failure ----

    #[test]
    fn failures_below_the_limit_only_count() {
        for count in 0..4 {
            let state = ThrottleState {
                client_failures: count + 10,
                oldest_client_failure: ago(60),
                ..account(count, 60)
            };
            assert_eq!(
                policy().after_failure(&state, now()),
                FailureOutcome {
                    attempt_count: count + 1,
                    client_attempt_count: count + 11,
                    lock_until: None,
                },
                "{count}"
            );
        }
    }

    #[test]
    fn the_fifth_account_failure_locks_for_fifteen_minutes() {
        assert_eq!(
            policy().after_failure(&account(4, 120), now()),
            FailureOutcome {
                attempt_count: 5,
                client_attempt_count: 1,
                lock_until: Some(at(NOW + 900)),
            }
        );
    }

    #[test]
    fn failures_past_the_limit_lock_an_unlocked_account_too() {
        // E.g. the earlier lock ended before the window did.
        let state = ThrottleState {
            locked_until: Some(at(NOW - 1)),
            ..account(6, 120)
        };
        assert_eq!(
            policy().after_failure(&state, now()).lock_until,
            Some(at(NOW + 900))
        );
        let state = ThrottleState {
            locked_until: Some(now()),
            ..account(4, 120)
        };
        assert_eq!(
            policy().after_failure(&state, now()).lock_until,
            Some(at(NOW + 900))
        );
    }

    #[test]
    fn a_lock_is_never_extended_while_it_holds() {
        let state = ThrottleState {
            locked_until: Some(at(NOW + 10)),
            ..account(5, 120)
        };
        assert_eq!(
            policy().after_failure(&state, now()),
            FailureOutcome {
                attempt_count: 6,
                client_attempt_count: 1,
                lock_until: None,
            }
        );
    }

    #[test]
    fn client_failures_never_lock() {
        let outcome = policy().after_failure(&client(40, 120), now());
        assert_eq!(outcome.lock_until, None);
        assert_eq!(outcome.attempt_count, 1);
        assert_eq!(outcome.client_attempt_count, 41);
    }

    #[test]
    fn counts_saturate() {
        let state = ThrottleState {
            client_failures: u32::MAX,
            ..account(u32::MAX, 1)
        };
        let outcome = policy().after_failure(&state, now());
        assert_eq!(outcome.attempt_count, u32::MAX);
        assert_eq!(outcome.client_attempt_count, u32::MAX);
    }

    // ---- the whole story ----

    /// Replays attempts through the policy the way the app would, keeping
    /// failure times and the lock like storage does.
    struct Simulation {
        policy: SignInThrottlePolicy,
        account_failures: Vec<DateTime<Utc>>,
        client_failures: Vec<DateTime<Utc>>,
        locked_until: Option<DateTime<Utc>>,
        locks: Vec<DateTime<Utc>>,
    }

    impl Simulation {
        fn new() -> Self {
            Self {
                policy: policy(),
                account_failures: Vec::new(),
                client_failures: Vec::new(),
                locked_until: None,
                locks: Vec::new(),
            }
        }

        fn recent(
            &self,
            times: &[DateTime<Utc>],
            now: DateTime<Utc>,
        ) -> (u32, Option<DateTime<Utc>>) {
            let start = self.policy.window_start(now);
            let recent: Vec<_> = times.iter().copied().filter(|time| *time > start).collect();
            (recent.len() as u32, recent.into_iter().min())
        }

        fn state(&self, now: DateTime<Utc>) -> ThrottleState {
            let (account_failures, oldest_account_failure) =
                self.recent(&self.account_failures, now);
            let (client_failures, oldest_client_failure) = self.recent(&self.client_failures, now);
            ThrottleState {
                account_failures,
                oldest_account_failure,
                client_failures,
                oldest_client_failure,
                locked_until: self.locked_until,
            }
        }

        /// A wrong-password attempt; returns the decision it got.
        fn fail(&mut self, now: DateTime<Utc>) -> AttemptDecision {
            let state = self.state(now);
            let decision = self.policy.decide_before_attempt(&state, now);
            if decision == AttemptDecision::Allowed {
                let outcome = self.policy.after_failure(&state, now);
                self.account_failures.push(now);
                self.client_failures.push(now);
                if let Some(until) = outcome.lock_until {
                    self.locked_until = Some(until);
                    self.locks.push(until);
                }
            }
            decision
        }
    }

    #[test]
    fn five_wrong_passwords_lock_then_the_owner_gets_fresh_attempts() {
        let mut simulation = Simulation::new();
        for minute in 0..5 {
            assert_eq!(simulation.fail(at(minute * 60)), AttemptDecision::Allowed);
        }
        // The fifth failure, at minute 4, locked the account until minute 19.
        assert_eq!(simulation.locks, vec![at(4 * 60 + 900)]);
        assert_eq!(simulation.fail(at(5 * 60)), throttled(840));
        // At minute 12 the first failures have aged out; the lock still holds.
        assert_eq!(simulation.fail(at(12 * 60)), throttled(420));
        // At minute 19 the lock is over and every failure has aged out.
        assert_eq!(simulation.state(at(19 * 60)).account_failures, 0);
        assert_eq!(simulation.fail(at(19 * 60)), AttemptDecision::Allowed);
        assert_eq!(simulation.locks.len(), 1);
    }

    #[test]
    fn failures_spread_beyond_the_window_never_lock() {
        let mut simulation = Simulation::new();
        // One failure every 2.5 minutes: at most 4 in any 10-minute window
        // (the one exactly 10 minutes old has left it).
        for step in 0..20 {
            assert_eq!(
                simulation.fail(at(step * 150)),
                AttemptDecision::Allowed,
                "{step}"
            );
        }
        assert!(simulation.locks.is_empty());
    }
}
