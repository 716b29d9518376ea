//! notifications-svc's settings: the mailer (`NOTIFICATIONS_MAILER`,
//! `NOTIFICATIONS_MAIL_DIR`, `NOTIFICATIONS_SMTP_URL`,
//! `NOTIFICATIONS_MAIL_FROM`, as IAM's with its own prefix) and the sender.

use std::time::Duration;

use anyhow::Context as _;
use ecommerce_mailer::{MailSettings, MailVars};
use ecommerce_platform::settings::{EnvSource, SettingsError};

use crate::domain::RetryPolicy;

/// The env prefix of every variable here.
pub const ENV_PREFIX: &str = "NOTIFICATIONS";
/// How often the sender looks for due notifications when idle (ms).
pub const SENDER_POLL_INTERVAL_MS_VAR: &str = "NOTIFICATIONS_SENDER_POLL_INTERVAL_MS";
/// Failed sends of one mail before it is FAILED.
pub const SENDER_MAX_ATTEMPTS_VAR: &str = "NOTIFICATIONS_SENDER_MAX_ATTEMPTS";
/// Wait after a mail's first failed send (ms); doubled after each further one.
pub const SENDER_BACKOFF_BASE_MS_VAR: &str = "NOTIFICATIONS_SENDER_BACKOFF_BASE_MS";
/// Longest wait between two sends of one mail (ms).
pub const SENDER_BACKOFF_CAP_MS_VAR: &str = "NOTIFICATIONS_SENDER_BACKOFF_CAP_MS";

/// How the sender works.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SenderSettings {
    pub poll_interval: Duration,
    pub retry: RetryPolicy,
}

impl Default for SenderSettings {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(250),
            retry: RetryPolicy::default(),
        }
    }
}

impl SenderSettings {
    pub fn from_source(source: &EnvSource) -> Result<Self, SettingsError> {
        let defaults = Self::default();
        let millis = |name: &str, default: Duration| -> Result<Duration, SettingsError> {
            let default_ms = u64::try_from(default.as_millis()).unwrap_or(u64::MAX);
            let value: u64 = source.or(name, default_ms)?;
            if value == 0 {
                return Err(SettingsError::Invalid {
                    variable: name.to_owned(),
                    value: value.to_string(),
                    reason: "must be at least 1".to_owned(),
                });
            }
            Ok(Duration::from_millis(value))
        };
        let max_attempts: u32 = source.or(SENDER_MAX_ATTEMPTS_VAR, defaults.retry.max_attempts)?;
        if max_attempts == 0 {
            return Err(SettingsError::Invalid {
                variable: SENDER_MAX_ATTEMPTS_VAR.to_owned(),
                value: "0".to_owned(),
                reason: "must be at least 1".to_owned(),
            });
        }
        Ok(Self {
            poll_interval: millis(SENDER_POLL_INTERVAL_MS_VAR, defaults.poll_interval)?,
            retry: RetryPolicy {
                max_attempts,
                base: millis(SENDER_BACKOFF_BASE_MS_VAR, defaults.retry.base)?,
                cap: millis(SENDER_BACKOFF_CAP_MS_VAR, defaults.retry.cap)?,
            },
        })
    }
}

/// Everything notifications-svc reads beyond the runtime's settings.
#[derive(Debug, Clone)]
pub struct NotificationsSettings {
    pub mail: MailSettings,
    pub sender: SenderSettings,
}

impl NotificationsSettings {
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_source(&EnvSource::process())
    }

    pub fn from_source(source: &EnvSource) -> anyhow::Result<Self> {
        Ok(Self {
            mail: MailSettings::from_source(MailVars::of(ENV_PREFIX), source)
                .context("invalid mail settings")?,
            sender: SenderSettings::from_source(source).context("invalid sender settings")?,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use ecommerce_mailer::MailTransport;

    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> anyhow::Result<NotificationsSettings> {
        NotificationsSettings::from_source(&EnvSource::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn defaults_write_files_into_var_mail_and_poll_quickly() {
        let defaults = settings(&[]).unwrap();
        let MailTransport::File { dir } = &defaults.mail.transport else {
            panic!("expected the file mailer");
        };
        assert_eq!(dir, &std::path::PathBuf::from("var/mail"));
        assert_eq!(defaults.sender, SenderSettings::default());
    }

    #[test]
    fn every_variable_is_read_and_named_when_invalid() {
        let read = settings(&[
            ("NOTIFICATIONS_MAIL_DIR", "/tmp/n"),
            ("IAM_MAIL_DIR", "/tmp/iam"),
            (SENDER_POLL_INTERVAL_MS_VAR, "50"),
            (SENDER_MAX_ATTEMPTS_VAR, "3"),
            (SENDER_BACKOFF_BASE_MS_VAR, "10"),
            (SENDER_BACKOFF_CAP_MS_VAR, "100"),
        ])
        .unwrap();
        let MailTransport::File { dir } = &read.mail.transport else {
            panic!("expected the file mailer");
        };
        assert_eq!(dir, &std::path::PathBuf::from("/tmp/n"));
        assert_eq!(read.sender.poll_interval, Duration::from_millis(50));
        assert_eq!(read.sender.retry.max_attempts, 3);
        assert_eq!(read.sender.retry.cap, Duration::from_millis(100));
        for (variable, value) in [
            (SENDER_POLL_INTERVAL_MS_VAR, "0"),
            (SENDER_MAX_ATTEMPTS_VAR, "0"),
            (SENDER_BACKOFF_BASE_MS_VAR, "soon"),
            ("NOTIFICATIONS_MAILER", "smtp"),
        ] {
            let error = settings(&[(variable, value)]).unwrap_err();
            let expected = if variable == "NOTIFICATIONS_MAILER" {
                "NOTIFICATIONS_SMTP_URL"
            } else {
                variable
            };
            assert!(format!("{error:#}").contains(expected), "{error:#}");
        }
    }
}
