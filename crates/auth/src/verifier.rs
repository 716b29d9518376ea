//! Verifying access tokens against IAM's public keys.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

use crate::cache::{KeyCache, KeyCacheConfig, Lookup};
use crate::caller::Caller;
use crate::claims::AccessClaims;
use crate::key_source::KeySource;
use crate::keys::ALGORITHM_EDDSA;
use crate::revocation::Revocations;

/// Longest token accepted, in bytes; ours are well under 1 KiB.
const MAX_TOKEN_LENGTH: usize = 8 * 1024;

/// The default clock skew tolerated on `exp` and `nbf`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);

/// Why a token was refused. Every message is short and safe to return to
/// the client: none repeats the token or any part of it.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("access token is malformed: {0}")]
    Malformed(&'static str),
    #[error("access token algorithm is not allowed")]
    AlgorithmNotAllowed,
    #[error("access token has no key id")]
    MissingKeyId,
    #[error("access token is signed by an unknown key")]
    UnknownKey,
    #[error("access token signature is invalid")]
    BadSignature,
    #[error("access token has expired")]
    Expired,
    #[error("access token is not valid yet")]
    NotYetValid,
    #[error("access token issuer is not accepted")]
    WrongIssuer,
    #[error("access token audience is not accepted")]
    WrongAudience,
    #[error("access token lacks the required claim {0}")]
    MissingClaim(String),
    #[error("access tokens cannot be verified right now")]
    KeysUnavailable,
    /// Valid, but IAM has since ended its session, replaced its roles or
    /// locked its account; the message says which.
    #[error("access token was revoked: {0}")]
    Revoked(&'static str),
}

impl From<AuthError> for tonic::Status {
    /// `UNAUTHENTICATED` with the error's message, except
    /// [`AuthError::KeysUnavailable`]: the token may be fine and a retry may
    /// succeed, so that is `UNAVAILABLE`, not a reason to sign in again.
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::KeysUnavailable => tonic::Status::unavailable(error.to_string()),
            AuthError::Malformed(_)
            | AuthError::AlgorithmNotAllowed
            | AuthError::MissingKeyId
            | AuthError::UnknownKey
            | AuthError::BadSignature
            | AuthError::Expired
            | AuthError::NotYetValid
            | AuthError::WrongIssuer
            | AuthError::WrongAudience
            | AuthError::MissingClaim(_)
            | AuthError::Revoked(_) => tonic::Status::unauthenticated(error.to_string()),
        }
    }
}

/// What a verifier accepts and how it caches keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierConfig {
    /// The only accepted `iss`.
    pub issuer: String,
    /// The only accepted `aud`.
    pub audience: String,
    /// Clock skew tolerated on `exp` and `nbf` (30 seconds).
    pub leeway: Duration,
    pub keys: KeyCacheConfig,
}

impl VerifierConfig {
    /// Accepts `issuer` and `audience`, with the default leeway and caching.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            leeway: DEFAULT_LEEWAY,
            keys: KeyCacheConfig::default(),
        }
    }
}

/// The JOSE header fields this verifier reads itself, before any key is
/// looked up: jsonwebtoken's `Header` cannot represent `alg: none` or an
/// unknown `crit`, and the answer must say which rule was broken.
#[derive(Deserialize)]
struct RawHeader {
    alg: Option<String>,
    typ: Option<String>,
    kid: Option<String>,
    crit: Option<serde_json::Value>,
}

/// Verifies access tokens: EdDSA only, `kid` required, and `exp`, `nbf`,
/// `iss` and `aud` required and checked. Cheap to share behind an `Arc`.
pub struct AccessTokenVerifier {
    issuer: String,
    audience: String,
    leeway_seconds: i64,
    validation: Validation,
    keys: KeyCache,
    revocations: Option<Arc<Revocations>>,
}

impl std::fmt::Debug for AccessTokenVerifier {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("AccessTokenVerifier")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway_seconds", &self.leeway_seconds)
            .finish_non_exhaustive()
    }
}

impl AccessTokenVerifier {
    pub fn new(source: Arc<dyn KeySource>, config: VerifierConfig) -> Self {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.algorithms = vec![Algorithm::EdDSA];
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud"]);
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[&config.audience]);
        validation.validate_aud = true;
        // Time is checked below against an injectable `now`; presence of
        // `exp` and `nbf` is still enforced through the required claims.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        Self {
            leeway_seconds: i64::try_from(config.leeway.as_secs()).unwrap_or(i64::MAX),
            issuer: config.issuer,
            audience: config.audience,
            validation,
            keys: KeyCache::new(source, config.keys),
            revocations: None,
        }
    }

    /// Also refuses every token that `revocations` covers.
    #[must_use]
    pub fn with_revocations(mut self, revocations: Arc<Revocations>) -> Self {
        self.revocations = Some(revocations);
        self
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// Verifies `token` now and returns who presented it.
    pub async fn authenticate(&self, token: &str) -> Result<Caller, AuthError> {
        self.verify(token).await.map(Caller::from)
    }

    /// Verifies `token` against the current time.
    pub async fn verify(&self, token: &str) -> Result<AccessClaims, AuthError> {
        self.verify_at(token, Utc::now()).await
    }

    /// Verifies `token` as of `now`.
    pub async fn verify_at(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<AccessClaims, AuthError> {
        let kid = check_header(token)?;
        let key = match self.keys.lookup(&kid).await {
            Lookup::Found(key) => key,
            Lookup::Unknown => return Err(AuthError::UnknownKey),
            Lookup::Unavailable => return Err(AuthError::KeysUnavailable),
        };
        // Decoded as JSON first so that jsonwebtoken's checks (signature,
        // required claims, `iss`, `aud`) name what failed; the typed schema
        // (single-string `aud`, UUIDs, `roles`) is applied after.
        let payload = jsonwebtoken::decode::<serde_json::Value>(token, &key, &self.validation)
            .map_err(|error| map_decode_error(error.into_kind()))?
            .claims;
        let claims: AccessClaims = serde_json::from_value(payload)
            .map_err(|_| AuthError::Malformed("claims do not match the access token schema"))?;
        let now_seconds = now.timestamp();
        if claims.exp.saturating_add(self.leeway_seconds) < now_seconds {
            return Err(AuthError::Expired);
        }
        if claims.nbf.saturating_sub(self.leeway_seconds) > now_seconds {
            return Err(AuthError::NotYetValid);
        }
        if let Some(revocations) = &self.revocations {
            revocations.check(&claims, now)?;
        }
        Ok(claims)
    }
}

/// Checks the token's shape and header and returns its `kid`.
fn check_header(token: &str) -> Result<String, AuthError> {
    if token.len() > MAX_TOKEN_LENGTH {
        return Err(AuthError::Malformed("too long"));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Malformed("not a compact JWS"));
    };
    if header.is_empty() {
        return Err(AuthError::Malformed("not a compact JWS"));
    }
    let header = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| AuthError::Malformed("header is not base64url"))?;
    let header: RawHeader = serde_json::from_slice(&header)
        .map_err(|_| AuthError::Malformed("header is not a JSON object"))?;
    if header.alg.as_deref() != Some(ALGORITHM_EDDSA) {
        return Err(AuthError::AlgorithmNotAllowed);
    }
    if header.crit.is_some() {
        return Err(AuthError::Malformed(
            "critical header extensions are not supported",
        ));
    }
    if !header
        .typ
        .as_deref()
        .is_some_and(|typ| typ.eq_ignore_ascii_case("JWT"))
    {
        return Err(AuthError::Malformed("typ is not JWT"));
    }
    let kid = match header.kid {
        Some(kid) if !kid.is_empty() => kid,
        Some(_) | None => return Err(AuthError::MissingKeyId),
    };
    // Checked after the header so that `alg: none` tokens, which come with
    // an empty signature, are refused for their algorithm.
    if payload.is_empty() || signature.is_empty() {
        return Err(AuthError::Malformed("not a compact JWS"));
    }
    Ok(kid)
}

fn map_decode_error(kind: ErrorKind) -> AuthError {
    match kind {
        ErrorKind::InvalidSignature => AuthError::BadSignature,
        ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
        ErrorKind::InvalidAudience => AuthError::WrongAudience,
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::ImmatureSignature => AuthError::NotYetValid,
        ErrorKind::MissingRequiredClaim(claim) => AuthError::MissingClaim(claim),
        ErrorKind::InvalidAlgorithm
        | ErrorKind::InvalidAlgorithmName
        | ErrorKind::MissingAlgorithm => AuthError::AlgorithmNotAllowed,
        ErrorKind::InvalidEddsaKey | ErrorKind::InvalidKeyFormat => {
            // Keys are validated when fetched; reaching this is a bug, not the client's fault.
            tracing::error!(error = ?kind, "a cached verification key was refused");
            AuthError::KeysUnavailable
        }
        ErrorKind::Json(_) => AuthError::Malformed("claims do not match the access token schema"),
        ErrorKind::Base64(_) | ErrorKind::Utf8(_) | ErrorKind::InvalidToken => {
            AuthError::Malformed("not a compact JWS")
        }
        ErrorKind::InvalidClaimFormat(_) => AuthError::Malformed("a claim has the wrong type"),
        // ErrorKind is non-exhaustive; anything else is a refusal too.
        _ => AuthError::Malformed("refused"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn encode(json: &str) -> String {
        URL_SAFE_NO_PAD.encode(json)
    }

    #[test]
    fn header_rules() {
        let token = |header: &str| format!("{}.e30.c2ln", encode(header));
        assert_eq!(
            check_header(&token(r#"{"alg":"EdDSA","typ":"JWT","kid":"k1"}"#)).unwrap(),
            "k1"
        );
        assert!(check_header(&token(r#"{"alg":"EdDSA","typ":"jwt","kid":"k1"}"#)).is_ok());
        for (header, expected) in [
            (r#"{"alg":"none","typ":"JWT","kid":"k1"}"#, "algorithm"),
            (r#"{"alg":"HS256","typ":"JWT","kid":"k1"}"#, "algorithm"),
            (r#"{"alg":"RS256","typ":"JWT","kid":"k1"}"#, "algorithm"),
            (r#"{"alg":"eddsa","typ":"JWT","kid":"k1"}"#, "algorithm"),
            (r#"{"typ":"JWT","kid":"k1"}"#, "algorithm"),
            (r#"{"alg":"EdDSA","typ":"JWT"}"#, "key id"),
            (r#"{"alg":"EdDSA","typ":"JWT","kid":""}"#, "key id"),
            (r#"{"alg":"EdDSA","kid":"k1"}"#, "typ"),
            (r#"{"alg":"EdDSA","typ":"at+jwt","kid":"k1"}"#, "typ"),
            (
                r#"{"alg":"EdDSA","typ":"JWT","kid":"k1","crit":["b64"]}"#,
                "critical",
            ),
            (r#"["alg"]"#, "JSON object"),
            (
                r#"{"alg":"EdDSA","typ":"JWT","kid":"k1"}"#.trim_end_matches('}'),
                "JSON object",
            ),
        ] {
            let error = check_header(&token(header)).unwrap_err();
            assert!(error.to_string().contains(expected), "{header}: {error}");
        }
    }

    #[test]
    fn unsigned_tokens_are_refused_for_their_algorithm() {
        let unsigned = format!(
            "{}.e30.",
            encode(r#"{"alg":"none","typ":"JWT","kid":"k1"}"#)
        );
        assert!(matches!(
            check_header(&unsigned),
            Err(AuthError::AlgorithmNotAllowed)
        ));
    }

    #[test]
    fn shapes_other_than_three_non_empty_parts_are_malformed() {
        let header = encode(r#"{"alg":"EdDSA","typ":"JWT","kid":"k1"}"#);
        for token in [
            String::new(),
            "abc".to_owned(),
            format!("{header}.e30"),
            format!("{header}.e30.c2ln.extra"),
            format!("{header}..c2ln"),
            format!("{header}.e30."),
            ".e30.c2ln".to_owned(),
            "!!!.e30.c2ln".to_owned(),
            format!("{header}.e30.{}", "a".repeat(MAX_TOKEN_LENGTH)),
        ] {
            assert!(
                matches!(check_header(&token), Err(AuthError::Malformed(_))),
                "{token}"
            );
        }
    }

    #[test]
    fn statuses_are_unauthenticated_except_when_keys_are_unavailable() {
        let status = tonic::Status::from(AuthError::Expired);
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
        assert_eq!(status.message(), "access token has expired");
        let status = tonic::Status::from(AuthError::KeysUnavailable);
        assert_eq!(status.code(), tonic::Code::Unavailable);
    }
}
