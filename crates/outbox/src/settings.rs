//! Relay settings from the environment, each with a default that runs locally.
//!
//! The variables are shared by every service: each runs in its own process
//! (or container), where they are set per service when they need to differ.

use std::time::Duration;

use ecommerce_platform::settings::{EnvSource, SettingsError};

/// Rows claimed and published per transaction.
pub const BATCH_SIZE_VAR: &str = "OUTBOX_RELAY_BATCH_SIZE";
/// Fallback poll for rows other processes wrote, in milliseconds.
pub const POLL_INTERVAL_VAR: &str = "OUTBOX_RELAY_POLL_INTERVAL_MS";
/// Publish attempts before a row is marked `failed`.
pub const MAX_ATTEMPTS_VAR: &str = "OUTBOX_RELAY_MAX_ATTEMPTS";
/// First retry delay, in milliseconds; doubles per attempt.
pub const BACKOFF_BASE_VAR: &str = "OUTBOX_RELAY_BACKOFF_BASE_MS";
/// Largest retry delay, in milliseconds.
pub const BACKOFF_CAP_VAR: &str = "OUTBOX_RELAY_BACKOFF_CAP_MS";
/// How long one batch may wait for the broker's confirms, in milliseconds.
pub const PUBLISH_TIMEOUT_VAR: &str = "OUTBOX_RELAY_PUBLISH_TIMEOUT_MS";
/// How long published rows are kept, in hours.
pub const RETENTION_VAR: &str = "OUTBOX_RETENTION_HOURS";
/// How often published rows past the retention are deleted, in seconds.
pub const PRUNE_INTERVAL_VAR: &str = "OUTBOX_PRUNE_INTERVAL_SECS";
/// How often the relay logs its statistics, in seconds.
pub const STATS_INTERVAL_VAR: &str = "OUTBOX_RELAY_STATS_INTERVAL_SECS";

/// Largest accepted batch; a batch is one transaction holding its row locks
/// while the broker confirms.
pub const MAX_BATCH_SIZE: usize = 10_000;

/// How a relay claims, publishes, retries and prunes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelaySettings {
    /// `OUTBOX_RELAY_BATCH_SIZE`, default 256.
    pub batch_size: usize,
    /// `OUTBOX_RELAY_POLL_INTERVAL_MS`, default 1000 ms. Only the fallback
    /// for rows another process wrote: a commit through [`crate::Outbox`]
    /// wakes the relay in-process at once. Each poll is a transaction, so
    /// on an idle stack of eight relays 250 ms was 32 transactions a second.
    pub poll_interval: Duration,
    /// `OUTBOX_RELAY_MAX_ATTEMPTS`, default 20 (about ten minutes of retries
    /// with the default backoff). Only refusals of the message count (a nack,
    /// a return); while the broker is unreachable rows keep their attempts.
    pub max_attempts: u32,
    /// `OUTBOX_RELAY_BACKOFF_BASE_MS`, default 100 ms.
    pub backoff_base: Duration,
    /// `OUTBOX_RELAY_BACKOFF_CAP_MS`, default 60 s.
    pub backoff_cap: Duration,
    /// `OUTBOX_RELAY_PUBLISH_TIMEOUT_MS`, default 10 s; the whole batch counts
    /// as failed (and is retried) when the publisher takes longer.
    pub publish_timeout: Duration,
    /// `OUTBOX_RETENTION_HOURS`, default 168 (7 days).
    pub retention: Duration,
    /// `OUTBOX_PRUNE_INTERVAL_SECS`, default 300.
    pub prune_interval: Duration,
    /// `OUTBOX_RELAY_STATS_INTERVAL_SECS`, default 60.
    pub stats_interval: Duration,
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            batch_size: 256,
            poll_interval: Duration::from_millis(1000),
            max_attempts: 20,
            backoff_base: Duration::from_millis(100),
            backoff_cap: Duration::from_secs(60),
            publish_timeout: Duration::from_secs(10),
            retention: Duration::from_secs(7 * 24 * 3600),
            prune_interval: Duration::from_secs(300),
            stats_interval: Duration::from_secs(60),
        }
    }
}

impl RelaySettings {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_source(&EnvSource::process())
    }

    /// Reads the settings from `source`, refusing values the relay cannot
    /// work with, each error naming its variable.
    pub fn from_source(source: &EnvSource) -> Result<Self, SettingsError> {
        let defaults = Self::default();
        let batch_size = source.or(BATCH_SIZE_VAR, defaults.batch_size)?;
        if !(1..=MAX_BATCH_SIZE).contains(&batch_size) {
            return Err(invalid(
                BATCH_SIZE_VAR,
                batch_size,
                format!("must be between 1 and {MAX_BATCH_SIZE}"),
            ));
        }
        let poll_interval = millis(source, POLL_INTERVAL_VAR, defaults.poll_interval)?;
        let max_attempts = source.or(MAX_ATTEMPTS_VAR, defaults.max_attempts)?;
        if max_attempts == 0 {
            return Err(invalid(MAX_ATTEMPTS_VAR, 0, "must be at least 1"));
        }
        // A zero base is allowed: retry at once (useful in tests).
        let backoff_base = Duration::from_millis(
            source.or(BACKOFF_BASE_VAR, duration_millis(defaults.backoff_base))?,
        );
        let backoff_cap = millis(source, BACKOFF_CAP_VAR, defaults.backoff_cap)?;
        if backoff_cap < backoff_base {
            return Err(invalid(
                BACKOFF_CAP_VAR,
                duration_millis(backoff_cap),
                format!("must not be below {BACKOFF_BASE_VAR}"),
            ));
        }
        let publish_timeout = millis(source, PUBLISH_TIMEOUT_VAR, defaults.publish_timeout)?;
        // Zero hours is allowed: prune every published row at the next pass.
        let retention = Duration::from_secs(
            source
                .or(RETENTION_VAR, defaults.retention.as_secs() / 3600)?
                .saturating_mul(3600),
        );
        let prune_interval = seconds(source, PRUNE_INTERVAL_VAR, defaults.prune_interval)?;
        let stats_interval = seconds(source, STATS_INTERVAL_VAR, defaults.stats_interval)?;
        Ok(Self {
            batch_size,
            poll_interval,
            max_attempts,
            backoff_base,
            backoff_cap,
            publish_timeout,
            retention,
            prune_interval,
            stats_interval,
        })
    }
}

/// A positive number of milliseconds.
fn millis(
    source: &EnvSource,
    variable: &str,
    default: Duration,
) -> Result<Duration, SettingsError> {
    let value = source.or(variable, duration_millis(default))?;
    if value == 0 {
        return Err(invalid(
            variable,
            0,
            "must be greater than zero (milliseconds)",
        ));
    }
    Ok(Duration::from_millis(value))
}

/// A positive number of seconds.
fn seconds(
    source: &EnvSource,
    variable: &str,
    default: Duration,
) -> Result<Duration, SettingsError> {
    let value = source.or(variable, default.as_secs())?;
    if value == 0 {
        return Err(invalid(variable, 0, "must be greater than zero (seconds)"));
    }
    Ok(Duration::from_secs(value))
}

fn duration_millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn invalid(variable: &str, value: impl ToString, reason: impl Into<String>) -> SettingsError {
    SettingsError::Invalid {
        variable: variable.to_owned(),
        value: value.to_string(),
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let settings = RelaySettings::from_source(&EnvSource::from_pairs([])).unwrap();
        assert_eq!(settings, RelaySettings::default());
        assert_eq!(settings.batch_size, 256);
        assert_eq!(settings.poll_interval, Duration::from_millis(1000));
        assert_eq!(settings.retention, Duration::from_secs(604_800));
    }

    #[test]
    fn every_variable_is_read() {
        let source = EnvSource::from_pairs([
            (BATCH_SIZE_VAR, "500"),
            (POLL_INTERVAL_VAR, "50"),
            (MAX_ATTEMPTS_VAR, "5"),
            (BACKOFF_BASE_VAR, "0"),
            (BACKOFF_CAP_VAR, "2000"),
            (PUBLISH_TIMEOUT_VAR, "1500"),
            (RETENTION_VAR, "24"),
            (PRUNE_INTERVAL_VAR, "60"),
            (STATS_INTERVAL_VAR, "15"),
        ]);
        let settings = RelaySettings::from_source(&source).unwrap();
        assert_eq!(
            settings,
            RelaySettings {
                batch_size: 500,
                poll_interval: Duration::from_millis(50),
                max_attempts: 5,
                backoff_base: Duration::ZERO,
                backoff_cap: Duration::from_secs(2),
                publish_timeout: Duration::from_millis(1500),
                retention: Duration::from_secs(24 * 3600),
                prune_interval: Duration::from_secs(60),
                stats_interval: Duration::from_secs(15),
            }
        );
    }

    #[test]
    fn unusable_values_name_their_variable() {
        for (variable, value) in [
            (BATCH_SIZE_VAR, "0"),
            (BATCH_SIZE_VAR, "10001"),
            (BATCH_SIZE_VAR, "many"),
            (POLL_INTERVAL_VAR, "0"),
            (MAX_ATTEMPTS_VAR, "0"),
            (PUBLISH_TIMEOUT_VAR, "0"),
            (PRUNE_INTERVAL_VAR, "0"),
            (STATS_INTERVAL_VAR, "-1"),
        ] {
            let error = RelaySettings::from_source(&EnvSource::from_pairs([(variable, value)]))
                .unwrap_err();
            assert!(
                matches!(&error, SettingsError::Invalid { variable: named, .. } if named == variable),
                "{variable}={value}: {error}"
            );
        }
    }

    #[test]
    fn the_backoff_cap_may_not_be_below_the_base() {
        let source = EnvSource::from_pairs([(BACKOFF_BASE_VAR, "5000"), (BACKOFF_CAP_VAR, "100")]);
        let error = RelaySettings::from_source(&source).unwrap_err();
        assert_eq!(
            error.to_string(),
            "environment variable OUTBOX_RELAY_BACKOFF_CAP_MS has an invalid value \"100\": \
             must not be below OUTBOX_RELAY_BACKOFF_BASE_MS"
        );
    }
}
