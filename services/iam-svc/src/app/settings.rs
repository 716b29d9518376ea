//! Everything iam-svc reads from the environment besides the runtime's
//! settings (database, broker, relay, gRPC address).

use anyhow::Context as _;
use ecommerce_auth::AuthSettings;
use ecommerce_platform::run_mode::DevelopmentDefault;
use ecommerce_platform::settings::{EnvSource, SettingsError};
use secrecy::{ExposeSecret as _, SecretString};

use std::time::Duration;

use super::{BootstrapAdmin, HashingLimits, Policies};
use crate::domain::email::EmailAddress;
use crate::domain::profile::DisplayName;
use crate::domain::verification::{ResendVerificationPolicy, UnverifiedSignInPolicy};
use crate::mail::MailSettings;

pub const BOOTSTRAP_ADMIN_EMAIL_VAR: &str = "IAM_BOOTSTRAP_ADMIN_EMAIL";
pub const BOOTSTRAP_ADMIN_PASSWORD_VAR: &str = "IAM_BOOTSTRAP_ADMIN_PASSWORD";
pub const BOOTSTRAP_ADMIN_ENABLED_VAR: &str = "IAM_BOOTSTRAP_ADMIN_ENABLED";
/// Development defaults, documented in the README. A deployment sets its own
/// password (a warning at start-up in development, a refused start with
/// `ECOMMERCE_ENV=production`).
pub const DEFAULT_BOOTSTRAP_ADMIN_EMAIL: &str = "admin@ecommerce.local";
pub const DEFAULT_BOOTSTRAP_ADMIN_PASSWORD: &str = "ecommerce-admin-dev-password";

/// Hours an unverified account may sign in after signing up; 0 = never.
pub const UNVERIFIED_SIGN_IN_GRACE_HOURS_VAR: &str = "IAM_UNVERIFIED_SIGN_IN_GRACE_HOURS";
/// Password hashes running at once (default: the number of CPUs).
pub const PASSWORD_HASH_CONCURRENCY_VAR: &str = "IAM_PASSWORD_HASH_CONCURRENCY";
/// Requests waiting for a hash beyond those (default 64); more are refused.
pub const PASSWORD_HASH_QUEUE_VAR: &str = "IAM_PASSWORD_HASH_QUEUE";
/// Least seconds between two verification mails to one address (default 60).
pub const VERIFICATION_RESEND_INTERVAL_SECONDS_VAR: &str =
    "IAM_VERIFICATION_RESEND_INTERVAL_SECONDS";
/// Most verification mails to one address in 24 hours (default 5).
pub const VERIFICATION_MAILS_PER_DAY_VAR: &str = "IAM_VERIFICATION_MAILS_PER_DAY";

/// iam-svc's own settings.
#[derive(Debug)]
pub struct IamSettings {
    /// Issuer, audience and access token lifetime (`AUTH_*`).
    pub auth: AuthSettings,
    /// `IAM_MAILER`, `IAM_MAIL_DIR`, `IAM_SMTP_URL`, `IAM_MAIL_FROM`.
    pub mail: MailSettings,
    /// `None` when `IAM_BOOTSTRAP_ADMIN_ENABLED=false`.
    pub bootstrap_admin: Option<BootstrapAdmin>,
    /// `IAM_UNVERIFIED_SIGN_IN_GRACE_HOURS`.
    pub unverified_sign_in: UnverifiedSignInPolicy,
    /// `IAM_VERIFICATION_RESEND_INTERVAL_SECONDS`, `IAM_VERIFICATION_MAILS_PER_DAY`.
    pub resend_verification: ResendVerificationPolicy,
    /// `IAM_PASSWORD_HASH_CONCURRENCY`, `IAM_PASSWORD_HASH_QUEUE`.
    pub hashing: HashingLimits,
}

impl IamSettings {
    /// The development defaults in force: the bootstrap admin's documented
    /// password (a warning in development, a refused start in production).
    pub fn development_defaults(&self) -> Vec<DevelopmentDefault> {
        match &self.bootstrap_admin {
            Some(admin) if admin.password.expose_secret() == DEFAULT_BOOTSTRAP_ADMIN_PASSWORD => {
                vec![DevelopmentDefault::new(
                    BOOTSTRAP_ADMIN_PASSWORD_VAR,
                    "is the documented development password of the bootstrap admin",
                )]
            }
            Some(_) | None => Vec::new(),
        }
    }

    /// The default policies with the ones these settings choose.
    pub fn policies(&self) -> Policies {
        Policies {
            unverified_sign_in: self.unverified_sign_in,
            resend_verification: self.resend_verification,
            hashing: self.hashing,
            ..Policies::default()
        }
    }

    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_source(&EnvSource::process())
    }

    pub fn from_source(source: &EnvSource) -> anyhow::Result<Self> {
        let auth = AuthSettings::from_source(source).context("invalid auth settings")?;
        let mail = MailSettings::from_source(source).context("invalid mail settings")?;
        let bootstrap_admin = if source.or(BOOTSTRAP_ADMIN_ENABLED_VAR, true)? {
            Some(bootstrap_admin(source)?)
        } else {
            None
        };
        let grace_hours: u64 = source.or(UNVERIFIED_SIGN_IN_GRACE_HOURS_VAR, 24)?;
        let unverified_sign_in = UnverifiedSignInPolicy {
            grace: Duration::from_secs(grace_hours.saturating_mul(60 * 60)),
        };
        let resend_defaults = ResendVerificationPolicy::default();
        let resend_verification = ResendVerificationPolicy {
            min_interval: Duration::from_secs(source.or(
                VERIFICATION_RESEND_INTERVAL_SECONDS_VAR,
                resend_defaults.min_interval.as_secs(),
            )?),
            max_per_day: at_least_one(
                source,
                VERIFICATION_MAILS_PER_DAY_VAR,
                resend_defaults.max_per_day,
            )?,
        };
        let hashing_defaults = HashingLimits::default();
        let hashing = HashingLimits {
            concurrency: at_least_one(
                source,
                PASSWORD_HASH_CONCURRENCY_VAR,
                hashing_defaults.concurrency,
            )?,
            queue: source.or(PASSWORD_HASH_QUEUE_VAR, hashing_defaults.queue)?,
        };
        Ok(Self {
            auth,
            mail,
            bootstrap_admin,
            unverified_sign_in,
            resend_verification,
            hashing,
        })
    }
}

/// `name` as a positive number, `default` when unset.
fn at_least_one<T>(source: &EnvSource, name: &str, default: T) -> Result<T, SettingsError>
where
    T: std::str::FromStr + PartialOrd + From<u8> + ToString,
    T::Err: std::fmt::Display,
{
    let value: T = source.or(name, default)?;
    if value < T::from(1) {
        return Err(SettingsError::Invalid {
            variable: name.to_owned(),
            value: value.to_string(),
            reason: "must be at least 1".to_owned(),
        });
    }
    Ok(value)
}

fn bootstrap_admin(source: &EnvSource) -> Result<BootstrapAdmin, SettingsError> {
    let email_text = source
        .string(BOOTSTRAP_ADMIN_EMAIL_VAR)?
        .unwrap_or_else(|| DEFAULT_BOOTSTRAP_ADMIN_EMAIL.to_owned());
    let email = EmailAddress::parse(&email_text).map_err(|error| SettingsError::Invalid {
        variable: BOOTSTRAP_ADMIN_EMAIL_VAR.to_owned(),
        value: email_text.clone(),
        reason: error.to_string(),
    })?;
    let password: SecretString = source.secret(
        BOOTSTRAP_ADMIN_PASSWORD_VAR,
        DEFAULT_BOOTSTRAP_ADMIN_PASSWORD,
    )?;
    let name = DisplayName::parse("Administrator").map_err(|error| SettingsError::Invalid {
        variable: BOOTSTRAP_ADMIN_EMAIL_VAR.to_owned(),
        value: email_text,
        reason: error.to_string(),
    })?;
    Ok(BootstrapAdmin {
        email,
        password,
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> anyhow::Result<IamSettings> {
        IamSettings::from_source(&EnvSource::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn the_hardening_settings_have_documented_defaults() {
        let policies = settings(&[]).unwrap().policies();
        assert_eq!(
            policies.unverified_sign_in.grace,
            Duration::from_secs(24 * 3_600)
        );
        assert_eq!(
            policies.resend_verification,
            ResendVerificationPolicy {
                min_interval: Duration::from_secs(60),
                max_per_day: 5,
            }
        );
        assert_eq!(policies.hashing.queue, 64);
        assert!(policies.hashing.concurrency >= 1);
    }

    #[test]
    fn the_hardening_settings_are_read_and_checked() {
        let read = settings(&[
            (UNVERIFIED_SIGN_IN_GRACE_HOURS_VAR, "0"),
            (PASSWORD_HASH_CONCURRENCY_VAR, "3"),
            (PASSWORD_HASH_QUEUE_VAR, "0"),
            (VERIFICATION_RESEND_INTERVAL_SECONDS_VAR, "120"),
            (VERIFICATION_MAILS_PER_DAY_VAR, "2"),
        ])
        .unwrap();
        assert_eq!(read.unverified_sign_in.grace, Duration::ZERO);
        assert_eq!(
            read.hashing,
            HashingLimits {
                concurrency: 3,
                queue: 0
            }
        );
        assert_eq!(
            read.resend_verification.min_interval,
            Duration::from_secs(120)
        );
        assert_eq!(read.resend_verification.max_per_day, 2);
        for (variable, value) in [
            (PASSWORD_HASH_CONCURRENCY_VAR, "0"),
            (VERIFICATION_MAILS_PER_DAY_VAR, "0"),
            (UNVERIFIED_SIGN_IN_GRACE_HOURS_VAR, "-1"),
            (PASSWORD_HASH_QUEUE_VAR, "many"),
        ] {
            let error = settings(&[(variable, value)]).unwrap_err();
            assert!(format!("{error:#}").contains(variable), "{error:#}");
        }
    }
}
