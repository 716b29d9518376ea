//! Authentication settings read from environment variables, each with a
//! default that runs locally. Every error names its variable.

use std::sync::Arc;
use std::time::Duration;

use ecommerce_platform::run_mode::DevelopmentDefault;
use ecommerce_platform::settings::{EnvSource, SettingsError};
use ecommerce_platform::tls::ClientTlsSettings;

use crate::cache::KeyCacheConfig;
use crate::issuer::MAX_ACCESS_TOKEN_TTL;
use crate::key_source::{GrpcJwksSource, KeySourceError};
use crate::layer::AuthLayer;
use crate::revocation::Revocations;
use crate::verifier::{AccessTokenVerifier, DEFAULT_LEEWAY, VerifierConfig};

/// Variable holding the `iss` IAM writes and every service accepts.
pub const AUTH_ISSUER_VAR: &str = "AUTH_ISSUER";
/// Variable holding the `aud` IAM writes and every service accepts.
pub const AUTH_AUDIENCE_VAR: &str = "AUTH_AUDIENCE";
/// Variable holding the URL of iam-svc's gRPC endpoint (GetJwks).
pub const IAM_GRPC_URL_VAR: &str = "IAM_GRPC_URL";
/// Variable holding the clock skew tolerated on `exp` / `nbf`, in seconds.
pub const AUTH_LEEWAY_SECS_VAR: &str = "AUTH_LEEWAY_SECS";
/// Variable holding how old cached keys may get before a refetch, in seconds.
pub const AUTH_JWKS_REFRESH_SECS_VAR: &str = "AUTH_JWKS_REFRESH_SECS";
/// Variable holding the least time between two key fetches, in seconds.
pub const AUTH_JWKS_MIN_REFRESH_SECS_VAR: &str = "AUTH_JWKS_MIN_REFRESH_SECS";
/// Variable holding the access token lifetime IAM issues, in seconds (at most 900).
pub const AUTH_ACCESS_TOKEN_TTL_SECS_VAR: &str = "AUTH_ACCESS_TOKEN_TTL_SECS";

pub const DEFAULT_ISSUER: &str = "ecommerce-iam";
pub const DEFAULT_AUDIENCE: &str = "ecommerce";
pub const DEFAULT_IAM_GRPC_URL: &str = "http://127.0.0.1:50052";

/// The largest leeway accepted: more would make expiry meaningless.
const MAX_LEEWAY: Duration = Duration::from_secs(300);

/// Everything this crate reads from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSettings {
    /// `AUTH_ISSUER` (default `ecommerce-iam`).
    pub issuer: String,
    /// `AUTH_AUDIENCE` (default `ecommerce`).
    pub audience: String,
    /// `IAM_GRPC_URL` (default `http://127.0.0.1:50052`).
    pub iam_grpc_url: String,
    /// `AUTH_LEEWAY_SECS` (default 30, at most 300).
    pub leeway: Duration,
    /// `AUTH_JWKS_REFRESH_SECS` (default 300) and `AUTH_JWKS_MIN_REFRESH_SECS` (default 30).
    pub keys: KeyCacheConfig,
    /// `AUTH_ACCESS_TOKEN_TTL_SECS` (default 900, 1 to 900): used by iam-svc.
    pub access_token_ttl: Duration,
    /// `GRPC_TLS_CA` (and the optional client certificate): how the JWKS
    /// client verifies an `https://` `IAM_GRPC_URL`.
    pub client_tls: ClientTlsSettings,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            issuer: DEFAULT_ISSUER.to_owned(),
            audience: DEFAULT_AUDIENCE.to_owned(),
            iam_grpc_url: DEFAULT_IAM_GRPC_URL.to_owned(),
            leeway: DEFAULT_LEEWAY,
            keys: KeyCacheConfig::default(),
            access_token_ttl: MAX_ACCESS_TOKEN_TTL,
            client_tls: ClientTlsSettings::default(),
        }
    }
}

impl AuthSettings {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_source(&EnvSource::process())
    }

    /// Reads the settings from `source`.
    pub fn from_source(source: &EnvSource) -> Result<Self, SettingsError> {
        let defaults = Self::default();
        let issuer = source
            .string(AUTH_ISSUER_VAR)?
            .map_or(defaults.issuer, |value| value.trim().to_owned());
        let audience = source
            .string(AUTH_AUDIENCE_VAR)?
            .map_or(defaults.audience, |value| value.trim().to_owned());
        let iam_grpc_url = match source.string(IAM_GRPC_URL_VAR)? {
            Some(value) => validate_url(value.trim())?,
            None => defaults.iam_grpc_url,
        };
        let leeway = seconds(source, AUTH_LEEWAY_SECS_VAR, defaults.leeway, 0, MAX_LEEWAY)?;
        let refresh_interval = seconds(
            source,
            AUTH_JWKS_REFRESH_SECS_VAR,
            defaults.keys.refresh_interval,
            1,
            Duration::from_secs(24 * 60 * 60),
        )?;
        let min_refresh_interval = seconds(
            source,
            AUTH_JWKS_MIN_REFRESH_SECS_VAR,
            defaults.keys.min_refresh_interval.min(refresh_interval),
            1,
            refresh_interval,
        )?;
        let access_token_ttl = seconds(
            source,
            AUTH_ACCESS_TOKEN_TTL_SECS_VAR,
            defaults.access_token_ttl,
            1,
            MAX_ACCESS_TOKEN_TTL,
        )?;
        Ok(Self {
            issuer,
            audience,
            iam_grpc_url,
            leeway,
            keys: KeyCacheConfig {
                refresh_interval,
                min_refresh_interval,
                ..defaults.keys
            },
            access_token_ttl,
            client_tls: ClientTlsSettings::from_source(source)?,
        })
    }

    /// The development defaults still in force, for the run mode's check
    /// ([`ecommerce_platform::run_mode::RunMode::refuse_development_defaults`]):
    /// an `IAM_GRPC_URL` that is not `https://` (the default
    /// `http://127.0.0.1:50052` included) fetches the keys that decide who
    /// is authenticated over plaintext, where anyone on the path could
    /// substitute their own.
    pub fn development_defaults(&self) -> Vec<DevelopmentDefault> {
        let is_https = self
            .iam_grpc_url
            .parse::<http::Uri>()
            .is_ok_and(|uri| uri.scheme_str() == Some("https"));
        if is_https {
            return Vec::new();
        }
        vec![DevelopmentDefault::new(
            IAM_GRPC_URL_VAR,
            "fetches the token verification keys over plaintext http; use an https:// URL",
        )]
    }

    /// What a verifier built from these settings accepts.
    pub fn verifier_config(&self) -> VerifierConfig {
        VerifierConfig {
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
            leeway: self.leeway,
            keys: self.keys,
        }
    }

    /// A verifier fetching keys from IAM at `iam_grpc_url` (connected lazily,
    /// so IAM need not be up yet; TLS for `https://` per `client_tls`).
    pub fn verifier(&self) -> Result<Arc<AccessTokenVerifier>, KeySourceError> {
        let source = GrpcJwksSource::with_tls(&self.iam_grpc_url, &self.client_tls)?;
        Ok(Arc::new(AccessTokenVerifier::new(
            Arc::new(source),
            self.verifier_config(),
        )))
    }

    /// The layer for a service's gRPC server, verifying against IAM.
    pub fn layer(&self) -> Result<AuthLayer, KeySourceError> {
        Ok(AuthLayer::new(self.verifier()?))
    }

    /// How long a revocation must be remembered: the longest an access
    /// token can live, plus the leeway the verifier grants on `exp`.
    pub fn revocation_retention(&self) -> Duration {
        MAX_ACCESS_TOKEN_TTL + self.leeway
    }

    /// [`Self::layer`], also refusing every token `revocations` covers.
    pub fn layer_with_revocations(
        &self,
        revocations: Arc<Revocations>,
    ) -> Result<AuthLayer, KeySourceError> {
        let source = GrpcJwksSource::with_tls(&self.iam_grpc_url, &self.client_tls)?;
        let verifier = AccessTokenVerifier::new(Arc::new(source), self.verifier_config())
            .with_revocations(revocations);
        Ok(AuthLayer::new(Arc::new(verifier)))
    }
}

fn invalid(variable: &str, value: &str, reason: impl Into<String>) -> SettingsError {
    SettingsError::Invalid {
        variable: variable.to_owned(),
        value: value.to_owned(),
        reason: reason.into(),
    }
}

fn validate_url(value: &str) -> Result<String, SettingsError> {
    let uri: http::Uri = value.parse().map_err(|error: http::uri::InvalidUri| {
        invalid(IAM_GRPC_URL_VAR, value, error.to_string())
    })?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    if !scheme_ok || uri.host().is_none() {
        return Err(invalid(
            IAM_GRPC_URL_VAR,
            value,
            "expected an http(s) URL such as http://127.0.0.1:50052",
        ));
    }
    Ok(value.to_owned())
}

fn seconds(
    source: &EnvSource,
    variable: &str,
    default: Duration,
    min_seconds: u64,
    max: Duration,
) -> Result<Duration, SettingsError> {
    let Some(value) = source.opt::<u64>(variable)? else {
        return Ok(default);
    };
    if value < min_seconds || value > max.as_secs() {
        return Err(invalid(
            variable,
            &value.to_string(),
            format!(
                "must be between {min_seconds} and {} seconds",
                max.as_secs()
            ),
        ));
    }
    Ok(Duration::from_secs(value))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use ecommerce_platform::run_mode::RunMode;

    use super::*;

    #[test]
    fn defaults_run_locally() {
        let settings = AuthSettings::from_source(&EnvSource::from_pairs([])).unwrap();
        assert_eq!(settings, AuthSettings::default());
        assert_eq!(settings.issuer, "ecommerce-iam");
        assert_eq!(settings.audience, "ecommerce");
        assert_eq!(settings.iam_grpc_url, "http://127.0.0.1:50052");
        assert_eq!(settings.leeway, Duration::from_secs(30));
        assert_eq!(settings.keys.refresh_interval, Duration::from_secs(300));
        assert_eq!(settings.keys.min_refresh_interval, Duration::from_secs(30));
        assert_eq!(settings.access_token_ttl, Duration::from_secs(900));
    }

    #[test]
    fn every_variable_is_read() {
        let source = EnvSource::from_pairs([
            ("AUTH_ISSUER", " iam-test "),
            ("AUTH_AUDIENCE", "shop"),
            ("IAM_GRPC_URL", "http://iam-svc:50052"),
            ("AUTH_LEEWAY_SECS", "5"),
            ("AUTH_JWKS_REFRESH_SECS", "60"),
            ("AUTH_JWKS_MIN_REFRESH_SECS", "10"),
            ("AUTH_ACCESS_TOKEN_TTL_SECS", "120"),
        ]);
        let settings = AuthSettings::from_source(&source).unwrap();
        assert_eq!(settings.issuer, "iam-test");
        assert_eq!(settings.audience, "shop");
        assert_eq!(settings.iam_grpc_url, "http://iam-svc:50052");
        assert_eq!(settings.leeway, Duration::from_secs(5));
        assert_eq!(settings.keys.refresh_interval, Duration::from_secs(60));
        assert_eq!(settings.keys.min_refresh_interval, Duration::from_secs(10));
        assert_eq!(settings.access_token_ttl, Duration::from_secs(120));
        let config = settings.verifier_config();
        assert_eq!(config.issuer, "iam-test");
        assert_eq!(config.keys.min_refresh_interval, Duration::from_secs(10));
    }

    #[test]
    fn errors_name_the_variable() {
        for (variable, value) in [
            ("IAM_GRPC_URL", "iam-svc:50052"),
            ("IAM_GRPC_URL", "ftp://iam"),
            ("IAM_GRPC_URL", "http://"),
            ("AUTH_LEEWAY_SECS", "301"),
            ("AUTH_LEEWAY_SECS", "-1"),
            ("AUTH_LEEWAY_SECS", "soon"),
            ("AUTH_JWKS_REFRESH_SECS", "0"),
            ("AUTH_ACCESS_TOKEN_TTL_SECS", "901"),
            ("AUTH_ACCESS_TOKEN_TTL_SECS", "0"),
        ] {
            let error =
                AuthSettings::from_source(&EnvSource::from_pairs([(variable, value)])).unwrap_err();
            assert!(
                matches!(&error, SettingsError::Invalid { variable: named, .. } if named == variable),
                "{variable}={value}: {error}"
            );
            assert!(error.to_string().contains(variable), "{error}");
        }
    }

    #[test]
    fn the_min_refresh_interval_cannot_exceed_the_refresh_interval() {
        let source = EnvSource::from_pairs([
            ("AUTH_JWKS_REFRESH_SECS", "20"),
            ("AUTH_JWKS_MIN_REFRESH_SECS", "21"),
        ]);
        let error = AuthSettings::from_source(&source).unwrap_err();
        assert!(
            error.to_string().contains("AUTH_JWKS_MIN_REFRESH_SECS"),
            "{error}"
        );
        // A short refresh interval lowers the default minimum with it.
        let source = EnvSource::from_pairs([("AUTH_JWKS_REFRESH_SECS", "20")]);
        let settings = AuthSettings::from_source(&source).unwrap();
        assert_eq!(settings.keys.min_refresh_interval, Duration::from_secs(20));
    }

    #[test]
    fn production_refuses_an_iam_url_that_is_not_https() {
        let defaults = AuthSettings::default().development_defaults();
        assert_eq!(defaults.len(), 1);
        assert_eq!(defaults[0].variable, IAM_GRPC_URL_VAR);
        let refused = RunMode::Production
            .refuse_development_defaults("cart-svc", &defaults)
            .unwrap_err()
            .to_string();
        assert!(refused.contains("set IAM_GRPC_URL"), "{refused}");
        for url in ["http://iam-svc:50052", "http://127.0.0.1:50052"] {
            let settings =
                AuthSettings::from_source(&EnvSource::from_pairs([(IAM_GRPC_URL_VAR, url)]))
                    .unwrap();
            assert_eq!(settings.development_defaults().len(), 1, "{url}");
        }
        let settings = AuthSettings::from_source(&EnvSource::from_pairs([(
            IAM_GRPC_URL_VAR,
            "https://iam-svc:50052",
        )]))
        .unwrap();
        assert_eq!(settings.development_defaults(), []);
        assert_eq!(
            RunMode::Production.refuse_development_defaults("cart-svc", &[]),
            Ok(())
        );
    }

    #[test]
    fn an_unreadable_grpc_tls_ca_names_the_variable_and_the_path() {
        let source = EnvSource::from_pairs([
            (IAM_GRPC_URL_VAR, "https://iam-svc:50052"),
            ("GRPC_TLS_CA", "/nonexistent/ca.pem"),
        ]);
        let error = AuthSettings::from_source(&source).unwrap_err();
        assert!(
            matches!(&error, SettingsError::Invalid { variable, value, .. }
                if variable == "GRPC_TLS_CA" && value == "/nonexistent/ca.pem"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_verifier_builds_without_iam_running() {
        let settings = AuthSettings {
            iam_grpc_url: "http://127.0.0.1:9".to_owned(),
            ..AuthSettings::default()
        };
        let layer = settings.layer().unwrap();
        assert_eq!(layer.verifier().issuer(), "ecommerce-iam");
    }
}
