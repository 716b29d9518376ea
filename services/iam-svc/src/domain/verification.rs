//! Rules around an unverified email address: how long its account may sign
//! in without verifying, and how often a verification mail may be re-sent.
//!
//! # Signing in unverified
//!
//! An account whose email is not verified may sign in during
//! [`UnverifiedSignInPolicy::grace`] after it signed up (24 hours by
//! default), so a new customer can check out before reading their mail. From
//! `created_at + grace` on, SignIn refuses it with `FAILED_PRECONDITION`
//! (after checking the password, so the answer does not tell whether the
//! account exists). A grace of zero refuses every unverified sign-in.
//!
//! # Re-sending the verification mail
//!
//! Every verification mail to an address counts, the one SignUp sends
//! included: at most one per [`ResendVerificationPolicy::min_interval`] (60 s)
//! and [`ResendVerificationPolicy::max_per_day`] (5) in any 24 hours.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::time::{saturating_add, saturating_add_std, saturating_sub};

/// How long an unverified account may sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnverifiedSignInPolicy {
    /// From sign-up; 24 hours by default, zero for "never".
    pub grace: Duration,
}

impl Default for UnverifiedSignInPolicy {
    fn default() -> Self {
        Self {
            grace: Duration::from_secs(24 * 60 * 60),
        }
    }
}

/// Whether a correct password may open a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnverifiedSignIn {
    /// The email is verified.
    Verified,
    /// Not verified, but inside the grace period, which ends at `grace_ends_at`.
    WithinGrace { grace_ends_at: DateTime<Utc> },
    /// Not verified, and the grace period ended at `grace_ended_at`.
    Refused { grace_ended_at: DateTime<Utc> },
}

impl UnverifiedSignInPolicy {
    /// The rule for an account created at `created_at`, verified or not, at `now`.
    pub fn decide(
        &self,
        email_verified: bool,
        created_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> UnverifiedSignIn {
        if email_verified {
            return UnverifiedSignIn::Verified;
        }
        let grace_ends_at = saturating_add_std(created_at, self.grace);
        if now < grace_ends_at {
            UnverifiedSignIn::WithinGrace { grace_ends_at }
        } else {
            UnverifiedSignIn::Refused {
                grace_ended_at: grace_ends_at,
            }
        }
    }
}

/// How often one address gets a verification mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResendVerificationPolicy {
    /// Least time between two mails; 60 s by default.
    pub min_interval: Duration,
    /// Most mails in any 24 hours; 5 by default, 0 is treated as 1 (the
    /// sign-up mail).
    pub max_per_day: u32,
}

impl Default for ResendVerificationPolicy {
    fn default() -> Self {
        Self {
            min_interval: Duration::from_secs(60),
            max_per_day: 5,
        }
    }
}

/// The verification mails an address got in the last 24 hours.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecentVerificationMails {
    pub count: u32,
    pub oldest: Option<DateTime<Utc>>,
    pub newest: Option<DateTime<Utc>>,
}

/// Whether another mail may go out now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResendDecision {
    Send,
    /// Not before `retry_after` from now (whole seconds, at least one).
    Wait {
        retry_after: Duration,
    },
}

const DAY: TimeDelta = TimeDelta::days(1);

impl ResendVerificationPolicy {
    /// Mails after this instant count toward the daily limit at `now`.
    pub fn day_start(now: DateTime<Utc>) -> DateTime<Utc> {
        saturating_sub(now, DAY)
    }

    pub fn decide(&self, recent: &RecentVerificationMails, now: DateTime<Utc>) -> ResendDecision {
        let interval_ends = recent
            .newest
            .map(|newest| saturating_add_std(newest, self.min_interval))
            .filter(|until| *until > now);
        let day_ends = (recent.count >= self.max_per_day.max(1)).then(|| {
            // A count without its oldest time: wait the whole day.
            saturating_add(recent.oldest.unwrap_or(now), DAY).max(now)
        });
        match [interval_ends, day_ends].into_iter().flatten().max() {
            None => ResendDecision::Send,
            Some(until) => ResendDecision::Wait {
                retry_after: whole_seconds_at_least_one(until - now),
            },
        }
    }
}

fn whole_seconds_at_least_one(delta: TimeDelta) -> Duration {
    let seconds = delta
        .num_seconds()
        .saturating_add(i64::from(delta.subsec_nanos() > 0));
    Duration::from_secs(u64::try_from(seconds).unwrap_or(0).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_700_000_000 + seconds, 0).unwrap()
    }

    const HOUR: i64 = 3_600;

    #[test]
    fn a_verified_account_always_signs_in() {
        let never = UnverifiedSignInPolicy {
            grace: Duration::ZERO,
        };
        assert_eq!(
            never.decide(true, at(0), at(100 * HOUR)),
            UnverifiedSignIn::Verified
        );
        assert_eq!(
            UnverifiedSignInPolicy::default().decide(true, at(0), at(0)),
            UnverifiedSignIn::Verified
        );
    }

    #[test]
    fn an_unverified_account_signs_in_until_the_grace_period_ends_exactly() {
        let policy = UnverifiedSignInPolicy::default();
        let ends = at(24 * HOUR);
        assert_eq!(
            policy.decide(false, at(0), at(0)),
            UnverifiedSignIn::WithinGrace {
                grace_ends_at: ends
            }
        );
        assert_eq!(
            policy.decide(false, at(0), at(24 * HOUR - 1)),
            UnverifiedSignIn::WithinGrace {
                grace_ends_at: ends
            }
        );
        assert_eq!(
            policy.decide(false, at(0), ends),
            UnverifiedSignIn::Refused {
                grace_ended_at: ends
            }
        );
        assert_eq!(
            policy.decide(false, at(0), at(30 * HOUR)),
            UnverifiedSignIn::Refused {
                grace_ended_at: ends
            }
        );
    }

    #[test]
    fn a_zero_grace_refuses_every_unverified_sign_in() {
        let never = UnverifiedSignInPolicy {
            grace: Duration::ZERO,
        };
        assert_eq!(
            never.decide(false, at(0), at(0)),
            UnverifiedSignIn::Refused {
                grace_ended_at: at(0)
            }
        );
    }

    #[test]
    fn a_huge_grace_saturates_instead_of_panicking() {
        let forever = UnverifiedSignInPolicy {
            grace: Duration::MAX,
        };
        assert!(matches!(
            forever.decide(false, at(0), at(1_000 * HOUR)),
            UnverifiedSignIn::WithinGrace { .. }
        ));
    }

    fn mails(count: u32, oldest: i64, newest: i64) -> RecentVerificationMails {
        RecentVerificationMails {
            count,
            oldest: Some(at(oldest)),
            newest: Some(at(newest)),
        }
    }

    fn wait(seconds: u64) -> ResendDecision {
        ResendDecision::Wait {
            retry_after: Duration::from_secs(seconds),
        }
    }

    #[test]
    fn the_first_mail_goes_out() {
        let policy = ResendVerificationPolicy::default();
        assert_eq!(
            policy.decide(&RecentVerificationMails::default(), at(0)),
            ResendDecision::Send
        );
    }

    #[test]
    fn one_mail_per_minute_exactly() {
        let policy = ResendVerificationPolicy::default();
        let now = at(10 * HOUR);
        let newest = 10 * HOUR;
        assert_eq!(policy.decide(&mails(1, newest, newest), now), wait(60));
        assert_eq!(
            policy.decide(&mails(1, newest - 59, newest - 59), now),
            wait(1)
        );
        assert_eq!(
            policy.decide(&mails(1, newest - 60, newest - 60), now),
            ResendDecision::Send
        );
    }

    #[test]
    fn five_mails_a_day_then_wait_for_the_oldest_to_age_out() {
        let policy = ResendVerificationPolicy::default();
        let now = at(10 * HOUR);
        assert_eq!(
            policy.decide(&mails(4, HOUR, 9 * HOUR), now),
            ResendDecision::Send
        );
        // The fifth mail of the day was sent at 9 h; the oldest, at 1 h,
        // leaves the 24 hours at 25 h.
        assert_eq!(
            policy.decide(&mails(5, HOUR, 9 * HOUR), now),
            wait(15 * 3_600)
        );
        assert_eq!(
            policy.decide(&mails(5, HOUR, 9 * HOUR), at(25 * HOUR - 1)),
            wait(1)
        );
        // At 25 h storage no longer counts it.
        assert_eq!(
            policy.decide(&mails(4, 2 * HOUR, 9 * HOUR), at(25 * HOUR)),
            ResendDecision::Send
        );
    }

    #[test]
    fn the_longest_wait_wins_and_zero_counts_as_one() {
        let policy = ResendVerificationPolicy {
            min_interval: Duration::from_secs(600),
            max_per_day: 0,
        };
        let now = at(HOUR);
        // The daily limit of one is reached until 25 h; the interval only until 1 h 10 min.
        assert_eq!(policy.decide(&mails(1, HOUR, HOUR), now), wait(24 * 3_600));
        let inconsistent = RecentVerificationMails {
            count: 3,
            oldest: None,
            newest: None,
        };
        assert_eq!(
            ResendVerificationPolicy::default().decide(&inconsistent, now),
            ResendDecision::Send
        );
        let full = RecentVerificationMails {
            count: 5,
            oldest: None,
            newest: None,
        };
        assert_eq!(
            ResendVerificationPolicy::default().decide(&full, now),
            wait(24 * 3_600)
        );
    }
}
