//! Everything iam-svc reads from the environment besides the runtime's
//! settings (database, broker, relay, gRPC address).

use anyhow::Context as _;
use ecommerce_auth::AuthSettings;
use ecommerce_platform::run_mode::DevelopmentDefault;
use ecommerce_platform::settings::{EnvSource, SettingsError};
use secrecy::{ExposeSecret as _, SecretString};

use super::BootstrapAdmin;
use crate::domain::email::EmailAddress;
use crate::domain::profile::DisplayName;
use crate::mail::MailSettings;

pub const BOOTSTRAP_ADMIN_EMAIL_VAR: &str = "IAM_BOOTSTRAP_ADMIN_EMAIL";
pub const BOOTSTRAP_ADMIN_PASSWORD_VAR: &str = "IAM_BOOTSTRAP_ADMIN_PASSWORD";
pub const BOOTSTRAP_ADMIN_ENABLED_VAR: &str = "IAM_BOOTSTRAP_ADMIN_ENABLED";
/// Development defaults, documented in the README. A deployment sets its own
/// password (a warning at start-up in development, a refused start with
/// `ECOMMERCE_ENV=production`).
pub const DEFAULT_BOOTSTRAP_ADMIN_EMAIL: &str = "admin@ecommerce.local";
pub const DEFAULT_BOOTSTRAP_ADMIN_PASSWORD: &str = "ecommerce-admin-dev-password";

/// iam-svc's own settings.
#[derive(Debug)]
pub struct IamSettings {
    /// Issuer, audience and access token lifetime (`AUTH_*`).
    pub auth: AuthSettings,
    /// `IAM_MAILER`, `IAM_MAIL_DIR`, `IAM_SMTP_URL`, `IAM_MAIL_FROM`.
    pub mail: MailSettings,
    /// `None` when `IAM_BOOTSTRAP_ADMIN_ENABLED=false`.
    pub bootstrap_admin: Option<BootstrapAdmin>,
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
        Ok(Self {
            auth,
            mail,
            bootstrap_admin,
        })
    }
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
