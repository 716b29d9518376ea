//! Issuing access tokens (iam-svc).

use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, Header};
use uuid::Uuid;

use crate::claims::AccessClaims;
use crate::keys::{Jwk, SigningKey};

/// The default, and longest allowed, access token lifetime: 15 minutes.
pub const MAX_ACCESS_TOKEN_TTL: Duration = Duration::from_secs(15 * 60);

/// The longest role name an issuer signs.
const MAX_ROLE_LENGTH: usize = 64;

/// Why a token could not be issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error("the access token lifetime must be between 1 second and 15 minutes, not {seconds} s")]
    InvalidTtl { seconds: u64 },
    #[error(
        "role {role:?} is not a lower-case name (a-z, 0-9, '_', '-', '.', ':'; at most 64 characters)"
    )]
    InvalidRole { role: String },
    #[error("the issuer and the audience must not be empty")]
    EmptyIssuerOrAudience,
    #[error("could not sign the access token")]
    Sign(#[source] jsonwebtoken::errors::Error),
}

/// Signs access tokens: EdDSA JWTs with `typ: JWT` and `kid` in the header.
#[derive(Debug)]
pub struct AccessTokenIssuer {
    key: SigningKey,
    issuer: String,
    audience: String,
    ttl: Duration,
}

impl AccessTokenIssuer {
    /// An issuer whose tokens live [`MAX_ACCESS_TOKEN_TTL`] (15 minutes).
    pub fn new(
        key: SigningKey,
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Result<Self, IssueError> {
        let issuer = issuer.into();
        let audience = audience.into();
        if issuer.trim().is_empty() || audience.trim().is_empty() {
            return Err(IssueError::EmptyIssuerOrAudience);
        }
        Ok(Self {
            key,
            issuer,
            audience,
            ttl: MAX_ACCESS_TOKEN_TTL,
        })
    }

    /// Sets the token lifetime; more than 15 minutes (or under a second) is refused.
    pub fn with_ttl(mut self, ttl: Duration) -> Result<Self, IssueError> {
        if ttl > MAX_ACCESS_TOKEN_TTL || ttl.as_secs() == 0 {
            return Err(IssueError::InvalidTtl {
                seconds: ttl.as_secs(),
            });
        }
        self.ttl = ttl;
        Ok(self)
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The id of the signing key, as written in every token's `kid`.
    pub fn kid(&self) -> &str {
        self.key.kid()
    }

    /// The public key to publish through IamService/GetJwks.
    pub fn public_jwk(&self) -> Jwk {
        self.key.public_jwk()
    }

    /// Signs a token for `user_id` in `session_id` with `roles`, valid from
    /// `now` (whole seconds) for the configured lifetime. Returns the compact
    /// JWT and when it expires.
    pub fn issue<R: AsRef<str>>(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        roles: &[R],
        now: DateTime<Utc>,
    ) -> Result<(String, DateTime<Utc>), IssueError> {
        let roles = roles
            .iter()
            .map(|role| validate_role(role.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        let issued_at = now.timestamp();
        // At most 900 seconds: the conversion cannot overflow.
        let lifetime = i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX);
        let expires_at_seconds = issued_at.saturating_add(lifetime);
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: user_id,
            exp: expires_at_seconds,
            nbf: issued_at,
            iat: issued_at,
            jti: Uuid::now_v7(),
            sid: session_id,
            roles,
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some("JWT".to_owned());
        header.kid = Some(self.key.kid().to_owned());
        let token = jsonwebtoken::encode(&header, &claims, self.key.encoding_key())
            .map_err(IssueError::Sign)?;
        let expires_at = DateTime::<Utc>::from_timestamp(expires_at_seconds, 0)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        Ok((token, expires_at))
    }
}

fn validate_role(role: &str) -> Result<String, IssueError> {
    let valid = !role.is_empty()
        && role.len() <= MAX_ROLE_LENGTH
        && role.bytes().all(|byte| {
            byte.is_ascii_lowercase()
                || byte.is_ascii_digit()
                || matches!(byte, b'_' | b'-' | b'.' | b':')
        });
    if !valid {
        return Err(IssueError::InvalidRole {
            role: role.chars().take(MAX_ROLE_LENGTH).collect(),
        });
    }
    Ok(role.to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    fn issuer() -> AccessTokenIssuer {
        AccessTokenIssuer::new(
            SigningKey::generate().unwrap(),
            "ecommerce-iam",
            "ecommerce",
        )
        .unwrap()
    }

    fn decode_part(part: &str) -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn a_token_carries_the_header_and_every_claim() {
        let issuer = issuer();
        let now = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
        let user_id = Uuid::now_v7();
        let session_id = Uuid::now_v7();
        let (token, expires_at) = issuer.issue(user_id, session_id, &["admin"], now).unwrap();
        assert_eq!(expires_at.timestamp(), 1_700_000_000 + 900);

        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header = decode_part(parts[0]);
        assert_eq!(header["alg"], "EdDSA");
        assert_eq!(header["typ"], "JWT");
        assert_eq!(header["kid"], issuer.kid());

        let claims: AccessClaims = serde_json::from_value(decode_part(parts[1])).unwrap();
        assert_eq!(claims.iss, "ecommerce-iam");
        assert_eq!(claims.aud, "ecommerce");
        assert_eq!(claims.sub, user_id);
        assert_eq!(claims.sid, session_id);
        assert_eq!(claims.iat, 1_700_000_000);
        assert_eq!(claims.nbf, 1_700_000_000);
        assert_eq!(claims.exp, 1_700_000_900);
        assert_eq!(claims.jti.get_version_num(), 7);
        assert_eq!(claims.roles, vec!["admin".to_owned()]);
    }

    #[test]
    fn token_ids_are_unique() {
        let issuer = issuer();
        let now = Utc::now();
        let no_roles: [&str; 0] = [];
        let (first, _) = issuer
            .issue(Uuid::now_v7(), Uuid::now_v7(), &no_roles, now)
            .unwrap();
        let (second, _) = issuer
            .issue(Uuid::now_v7(), Uuid::now_v7(), &no_roles, now)
            .unwrap();
        assert_ne!(first, second);
    }

    #[test]
    fn lifetimes_above_fifteen_minutes_are_refused() {
        assert!(matches!(
            issuer().with_ttl(Duration::from_secs(901)),
            Err(IssueError::InvalidTtl { seconds: 901 })
        ));
        assert!(matches!(
            issuer().with_ttl(Duration::ZERO),
            Err(IssueError::InvalidTtl { seconds: 0 })
        ));
        let short = issuer().with_ttl(Duration::from_secs(60)).unwrap();
        let now = Utc::now();
        let (_, expires_at) = short
            .issue(Uuid::now_v7(), Uuid::now_v7(), &[] as &[&str], now)
            .unwrap();
        assert_eq!(expires_at.timestamp(), now.timestamp() + 60);
    }

    #[test]
    fn roles_must_be_lower_case_names() {
        let issuer = issuer();
        for bad in ["Admin", "", "ad min", "rôle", &"a".repeat(65)] {
            assert!(
                matches!(
                    issuer.issue(Uuid::now_v7(), Uuid::now_v7(), &[bad], Utc::now()),
                    Err(IssueError::InvalidRole { .. })
                ),
                "{bad:?}"
            );
        }
        issuer
            .issue(
                Uuid::now_v7(),
                Uuid::now_v7(),
                &["admin", "catalog:editor", "x-1.y_2"],
                Utc::now(),
            )
            .unwrap();
    }

    #[test]
    fn an_empty_issuer_or_audience_is_refused() {
        assert!(matches!(
            AccessTokenIssuer::new(SigningKey::generate().unwrap(), " ", "ecommerce"),
            Err(IssueError::EmptyIssuerOrAudience)
        ));
        assert!(matches!(
            AccessTokenIssuer::new(SigningKey::generate().unwrap(), "iam", ""),
            Err(IssueError::EmptyIssuerOrAudience)
        ));
    }
}
