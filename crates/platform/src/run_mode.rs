//! Development or production: what a service does about the development
//! defaults that let a clean clone run with no setup.
//!
//! Every setting has a working local default, and some of those defaults
//! are public knowledge (the documented checkout key, the bootstrap admin's
//! password, RabbitMQ's `guest`, a passwordless `postgres`). In development
//! (the default) each one still in force is a loud warning at start; in
//! production (`ECOMMERCE_ENV=production`) the service refuses to start and
//! names every variable to set.

use std::fmt;

use crate::settings::{EnvSource, SettingsError};

/// The variable that selects the run mode.
pub const RUN_MODE_VAR: &str = "ECOMMERCE_ENV";

/// How strictly a service treats development defaults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RunMode {
    /// Development defaults are warned about.
    #[default]
    Development,
    /// Development defaults stop the start.
    Production,
}

impl RunMode {
    /// `ECOMMERCE_ENV` from the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_source(&EnvSource::process())
    }

    /// `ECOMMERCE_ENV` from `source`: `development` (the default) or
    /// `production`, case-insensitive.
    pub fn from_source(source: &EnvSource) -> Result<Self, SettingsError> {
        let Some(value) = source.opt::<String>(RUN_MODE_VAR)? else {
            return Ok(Self::Development);
        };
        match value.trim().to_ascii_lowercase().as_str() {
            "development" => Ok(Self::Development),
            "production" => Ok(Self::Production),
            _ => Err(SettingsError::Invalid {
                variable: RUN_MODE_VAR.to_owned(),
                value,
                reason: "expected `development` or `production`".to_owned(),
            }),
        }
    }

    /// Warns about each of `defaults` in development; in production fails
    /// naming all of them, so one start-up attempt lists everything to set.
    pub fn refuse_development_defaults(
        self,
        service: &str,
        defaults: &[DevelopmentDefault],
    ) -> Result<(), DevelopmentDefaultsInProduction> {
        match self {
            Self::Development => {
                for default in defaults {
                    tracing::warn!(
                        service,
                        variable = %default.variable,
                        reason = default.reason,
                        "a development default is in force; set it before production"
                    );
                }
                Ok(())
            }
            Self::Production if defaults.is_empty() => Ok(()),
            Self::Production => Err(DevelopmentDefaultsInProduction {
                service: service.to_owned(),
                defaults: defaults.to_vec(),
            }),
        }
    }
}

/// A development default still in force: the variable that replaces it,
/// and why it must be replaced. Never holds the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevelopmentDefault {
    pub variable: String,
    pub reason: &'static str,
}

impl DevelopmentDefault {
    pub fn new(variable: impl Into<String>, reason: &'static str) -> Self {
        Self {
            variable: variable.into(),
            reason,
        }
    }
}

/// Production refused to start on development defaults.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct DevelopmentDefaultsInProduction {
    pub service: String,
    pub defaults: Vec<DevelopmentDefault>,
}

impl fmt::Display for DevelopmentDefaultsInProduction {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{} refuses to start with {RUN_MODE_VAR}=production on development defaults: ",
            self.service
        )?;
        for (index, default) in self.defaults.iter().enumerate() {
            if index > 0 {
                formatter.write_str("; ")?;
            }
            write!(formatter, "set {} ({})", default.variable, default.reason)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mode_is_development_unless_production_is_named() {
        let mode = |pairs: &[(&str, &str)]| {
            RunMode::from_source(&EnvSource::from_pairs(pairs.iter().copied()))
        };
        assert_eq!(mode(&[]).unwrap(), RunMode::Development);
        assert_eq!(
            mode(&[(RUN_MODE_VAR, "development")]).unwrap(),
            RunMode::Development
        );
        assert_eq!(
            mode(&[(RUN_MODE_VAR, " Production ")]).unwrap(),
            RunMode::Production
        );
        let error = mode(&[(RUN_MODE_VAR, "prod")]).unwrap_err();
        assert!(error.to_string().contains(RUN_MODE_VAR), "{error}");
    }

    #[test]
    fn production_names_every_default_and_development_only_warns() {
        let defaults = [
            DevelopmentDefault::new("AMQP_URL", "guest credentials"),
            DevelopmentDefault::new("CHECKOUT_SIGNING_KEY", "the documented key"),
        ];
        assert_eq!(
            RunMode::Development.refuse_development_defaults("cart-svc", &defaults),
            Ok(())
        );
        assert_eq!(
            RunMode::Production.refuse_development_defaults("cart-svc", &[]),
            Ok(())
        );
        let refused = RunMode::Production
            .refuse_development_defaults("cart-svc", &defaults)
            .unwrap_err()
            .to_string();
        assert!(refused.contains("cart-svc"), "{refused}");
        assert!(
            refused.contains("set AMQP_URL (guest credentials)"),
            "{refused}"
        );
        assert!(refused.contains("set CHECKOUT_SIGNING_KEY"), "{refused}");
    }
}
