//! schema-registry's own settings, beside the runtime's.

use std::time::Duration;

use ecommerce_platform::settings::{EnvSource, SettingsError};

use crate::domain::StrictPrefixes;

/// The subject prefixes that start at WIRE_STRICT, and the schema size limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistrySettings {
    /// `SCHEMA_REGISTRY_STRICT_SUBJECT_PREFIXES`: comma separated; a subject
    /// created under one of them gets WIRE_STRICT as its own level. By
    /// default the six event-publishing services' prefixes; `,` for none.
    pub strict_prefixes: StrictPrefixes,
    /// `SCHEMA_REGISTRY_MAX_SCHEMA_BYTES`: the largest encoded descriptor
    /// set accepted, 1 MiB by default.
    pub max_schema_bytes: usize,
    /// `SCHEMA_REGISTRY_CACHE_TTL_MS`: how long GetSchema serves a schema
    /// from memory (5000 by default; 0 reads Postgres every time). A version
    /// soft-deleted through another registry process shows as deleted here
    /// within this time; through this process, at once.
    pub schema_cache_ttl: Duration,
}

impl Default for RegistrySettings {
    fn default() -> Self {
        Self {
            strict_prefixes: StrictPrefixes::default(),
            max_schema_bytes: Self::DEFAULT_MAX_SCHEMA_BYTES,
            schema_cache_ttl: Self::DEFAULT_SCHEMA_CACHE_TTL,
        }
    }
}

impl RegistrySettings {
    pub const STRICT_SUBJECT_PREFIXES_VAR: &'static str = "SCHEMA_REGISTRY_STRICT_SUBJECT_PREFIXES";
    pub const MAX_SCHEMA_BYTES_VAR: &'static str = "SCHEMA_REGISTRY_MAX_SCHEMA_BYTES";
    pub const DEFAULT_MAX_SCHEMA_BYTES: usize = 1024 * 1024;
    pub const SCHEMA_CACHE_TTL_MS_VAR: &'static str = "SCHEMA_REGISTRY_CACHE_TTL_MS";
    pub const DEFAULT_SCHEMA_CACHE_TTL: Duration = Duration::from_secs(5);

    /// Reads the variables above, each error naming its variable.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_source(&EnvSource::process())
    }

    pub fn from_source(source: &EnvSource) -> Result<Self, SettingsError> {
        let strict_prefixes = match source.string(Self::STRICT_SUBJECT_PREFIXES_VAR)? {
            None => StrictPrefixes::default(),
            Some(raw) => StrictPrefixes::parse(&raw).map_err(|invalid| SettingsError::Invalid {
                variable: Self::STRICT_SUBJECT_PREFIXES_VAR.to_owned(),
                value: raw.clone(),
                reason: invalid.to_string(),
            })?,
        };
        let max_schema_bytes: usize =
            source.or(Self::MAX_SCHEMA_BYTES_VAR, Self::DEFAULT_MAX_SCHEMA_BYTES)?;
        if max_schema_bytes == 0 {
            return Err(SettingsError::Invalid {
                variable: Self::MAX_SCHEMA_BYTES_VAR.to_owned(),
                value: "0".to_owned(),
                reason: "must be at least 1".to_owned(),
            });
        }
        let schema_cache_ttl = source
            .opt::<u64>(Self::SCHEMA_CACHE_TTL_MS_VAR)?
            .map_or(Self::DEFAULT_SCHEMA_CACHE_TTL, Duration::from_millis);
        Ok(Self {
            strict_prefixes,
            max_schema_bytes,
            schema_cache_ttl,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn defaults_overrides_and_errors_naming_the_variable() {
        let defaults = RegistrySettings::from_source(&EnvSource::from_pairs([])).unwrap();
        assert_eq!(defaults, RegistrySettings::default());
        assert_eq!(defaults.max_schema_bytes, 1024 * 1024);
        assert_eq!(
            defaults.strict_prefixes.as_slice(),
            [
                "catalog.",
                "iam.",
                "inventory.",
                "orders.",
                "payments.",
                "fulfillment."
            ]
        );

        let custom = RegistrySettings::from_source(&EnvSource::from_pairs([
            ("SCHEMA_REGISTRY_STRICT_SUBJECT_PREFIXES", "acme.,"),
            ("SCHEMA_REGISTRY_MAX_SCHEMA_BYTES", "2048"),
        ]))
        .unwrap();
        assert_eq!(custom.strict_prefixes.as_slice(), ["acme."]);
        assert_eq!(custom.max_schema_bytes, 2048);
        let none = RegistrySettings::from_source(&EnvSource::from_pairs([(
            "SCHEMA_REGISTRY_STRICT_SUBJECT_PREFIXES",
            ",",
        )]))
        .unwrap();
        assert!(none.strict_prefixes.as_slice().is_empty());

        for (variable, value) in [
            ("SCHEMA_REGISTRY_MAX_SCHEMA_BYTES", "lots"),
            ("SCHEMA_REGISTRY_MAX_SCHEMA_BYTES", "0"),
            ("SCHEMA_REGISTRY_STRICT_SUBJECT_PREFIXES", "a b."),
        ] {
            let error = RegistrySettings::from_source(&EnvSource::from_pairs([(variable, value)]))
                .unwrap_err();
            assert!(error.to_string().contains(variable), "{error}");
        }
    }
}
