//! Opaque secret tokens (refresh tokens, email-verification tokens) and the
//! expiry rules of what they stand for.
//!
//! # Format
//!
//! `<prefix><43 characters>`: 32 bytes (256 bits) from the OS CSPRNG,
//! base64url-encoded without padding, behind a per-kind prefix (`rt_` for
//! refresh tokens, `ev_` for email verification). The prefix makes a leaked
//! token recognizable (by a person reading a log or chat, or by a secret
//! scanner) and lets a token of one kind presented where the other is
//! expected be refused before any database lookup. It carries no secret.
//!
//! # Storage
//!
//! Only the SHA-256 of the whole token text ([`TokenHash`]) is stored. A fast
//! hash is enough here, unlike for passwords: the input has 256 bits of
//! entropy, so there is nothing to brute-force, and a leaked table yields no
//! usable token. Hashing the text (prefix included) rather than the decoded
//! bytes means the app never needs to decode a token to look it up.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::random::{self, RandomnessUnavailable};
use super::time::saturating_add_std;

/// Random bytes in a token: 256 bits, twice the 128-bit minimum.
pub const TOKEN_BYTES: usize = 32;
/// Length of the base64url text of [`TOKEN_BYTES`] bytes, without padding.
const ENCODED_LEN: usize = (TOKEN_BYTES * 4).div_ceil(3);
/// Length of a SHA-256 digest, in bytes.
pub const TOKEN_HASH_LEN: usize = 32;

/// What a token is for. Decides its prefix and the request field it travels in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// The long-lived, single-use half of a session.
    Refresh,
    /// Proves control of an email address.
    EmailVerification,
}

impl TokenKind {
    /// The readable prefix every token of this kind starts with.
    pub const fn prefix(self) -> &'static str {
        match self {
            Self::Refresh => "rt_",
            Self::EmailVerification => "ev_",
        }
    }

    /// The request field that carries a token of this kind
    /// (`SignOutRequest.refresh_token`, `RefreshSessionRequest.refresh_token`,
    /// `VerifyEmailRequest.token`).
    pub const fn field(self) -> &'static str {
        match self {
            Self::Refresh => "refresh_token",
            Self::EmailVerification => "token",
        }
    }

    /// Length of a whole token of this kind, prefix included.
    pub const fn token_len(self) -> usize {
        self.prefix().len() + ENCODED_LEN
    }
}

/// A freshly generated secret token, to hand to its owner exactly once (in a
/// response or an email). `Debug` shows only its kind.
#[derive(Clone)]
pub struct OpaqueToken {
    kind: TokenKind,
    // SecretString zeroizes the text when dropped.
    text: SecretString,
}

impl OpaqueToken {
    /// A new token of `kind` with 256 fresh random bits.
    pub fn generate(kind: TokenKind) -> Result<Self, RandomnessUnavailable> {
        let bytes: [u8; TOKEN_BYTES] = random::bytes()?;
        let mut text = String::with_capacity(kind.token_len());
        text.push_str(kind.prefix());
        URL_SAFE_NO_PAD.encode_string(bytes, &mut text);
        Ok(Self {
            kind,
            text: SecretString::from(text),
        })
    }

    /// What the token is for.
    pub fn kind(&self) -> TokenKind {
        self.kind
    }

    /// The token text, for the response or email that delivers it. Never log it.
    pub fn expose(&self) -> &str {
        self.text.expose_secret()
    }

    /// The hash to store in place of the token.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of_text(self.expose())
    }
}

impl fmt::Debug for OpaqueToken {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("OpaqueToken")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// SHA-256 of a token's text: what the database stores and looks up.
///
/// Equality is constant-time. `Debug` hides the bytes: a hash is not a
/// credential, but there is no reason to spread it through logs either.
#[derive(Clone)]
pub struct TokenHash([u8; TOKEN_HASH_LEN]);

impl TokenHash {
    /// The hash of a token a client presented, after checking that it can be
    /// a token of `kind` at all: the right prefix, length and alphabet, and
    /// canonical base64url. Surrounding whitespace is ignored, since
    /// verification tokens are copied out of emails by hand.
    ///
    /// A refused token cannot be in the database, so the caller can answer
    /// without a lookup.
    pub fn of_presented(kind: TokenKind, presented: &str) -> Result<Self, TokenError> {
        let field = kind.field();
        let presented = presented.trim();
        if presented.is_empty() {
            return Err(TokenError::Empty { field });
        }
        let Some(encoded) = presented.strip_prefix(kind.prefix()) else {
            return Err(TokenError::WrongPrefix {
                field,
                prefix: kind.prefix(),
            });
        };
        if encoded.len() != ENCODED_LEN {
            return Err(TokenError::WrongLength {
                field,
                length: kind.token_len(),
            });
        }
        if !encoded
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
        {
            return Err(TokenError::InvalidCharacter { field });
        }
        // The alphabet and length are right; decoding still refuses a last
        // character with stray low bits, which no generated token has.
        let mut decoded = [0u8; TOKEN_BYTES];
        match URL_SAFE_NO_PAD.decode_slice(encoded, &mut decoded) {
            Ok(TOKEN_BYTES) => Ok(Self::of_text(presented)),
            Ok(_) | Err(_) => Err(TokenError::NotCanonical { field }),
        }
    }

    /// A hash read back from storage.
    pub const fn from_bytes(bytes: [u8; TOKEN_HASH_LEN]) -> Self {
        Self(bytes)
    }

    /// A hash read back from a storage column of unchecked length.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, InvalidTokenHashLength> {
        <[u8; TOKEN_HASH_LEN]>::try_from(bytes)
            .map(Self)
            .map_err(|_| InvalidTokenHashLength {
                length: bytes.len(),
            })
    }

    /// The 32 digest bytes, for storage and lookup.
    pub fn as_bytes(&self) -> &[u8; TOKEN_HASH_LEN] {
        &self.0
    }

    /// The digest bytes, owned, for a `bytea` column.
    pub fn to_vec(&self) -> Vec<u8> {
        self.0.to_vec()
    }

    fn of_text(text: &str) -> Self {
        Self(Sha256::digest(text.as_bytes()).into())
    }
}

impl PartialEq for TokenHash {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for TokenHash {}

impl fmt::Debug for TokenHash {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("TokenHash(<redacted>)")
    }
}

/// Why a presented token cannot be one this service issued. `Display` names
/// the request field and never contains the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("{field} must not be empty")]
    Empty { field: &'static str },
    #[error("{field} must start with {prefix}")]
    WrongPrefix {
        field: &'static str,
        prefix: &'static str,
    },
    #[error("{field} must be {length} characters long")]
    WrongLength { field: &'static str, length: usize },
    #[error("{field} must contain only letters, digits, - and _")]
    InvalidCharacter { field: &'static str },
    #[error("{field} is not a token this service issued")]
    NotCanonical { field: &'static str },
}

impl TokenError {
    /// The request field the token came in.
    pub const fn field(&self) -> &'static str {
        match self {
            Self::Empty { field }
            | Self::WrongPrefix { field, .. }
            | Self::WrongLength { field, .. }
            | Self::InvalidCharacter { field }
            | Self::NotCanonical { field } => field,
        }
    }
}

/// A stored token hash of the wrong length: the row is corrupt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("stored token hash is {length} bytes long, expected {TOKEN_HASH_LEN}")]
pub struct InvalidTokenHashLength {
    pub length: usize,
}

/// How long an email-verification token stays valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerificationTokenPolicy {
    /// Time from issue to expiry; one hour by default (the default).
    pub ttl: Duration,
}

impl Default for VerificationTokenPolicy {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(60 * 60),
        }
    }
}

impl VerificationTokenPolicy {
    /// When a token issued at `issued_at` expires.
    pub fn expires_at(&self, issued_at: DateTime<Utc>) -> DateTime<Utc> {
        saturating_add_std(issued_at, self.ttl)
    }
}

/// Whether something expiring at `expires_at` has expired at `now`. The
/// expiry instant itself is already too late, so a zero TTL never grants a
/// usable token.
pub fn is_expired(expires_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now >= expires_at
}

/// How long a session lives.
///
/// A session has two deadlines. The sliding one (`expires_at`) is
/// `refresh_ttl` after the last sign-in or refresh, so an idle session dies
/// after `refresh_ttl`. The absolute one (`absolute_expires_at`) is fixed at
/// sign-in, `max_lifetime` later, and the sliding one never moves past it: a
/// stolen refresh token kept in use cannot extend a session forever, and the
/// owner signs in again at least every `max_lifetime`. A session has expired
/// once `now` reaches `expires_at` ([`is_expired`]); since `expires_at` never
/// passes `absolute_expires_at`, that one check covers both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Idle lifetime, renewed by each refresh; 30 days by default.
    pub refresh_ttl: Duration,
    /// Lifetime from sign-in that no refresh extends; 90 days by default.
    pub max_lifetime: Duration,
}

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            refresh_ttl: DAY.saturating_mul(30),
            max_lifetime: DAY.saturating_mul(90),
        }
    }
}

impl SessionPolicy {
    /// The deadlines of a session signed in at `now`, as
    /// `(expires_at, absolute_expires_at)`.
    pub fn initial_expiry(&self, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let absolute_expires_at = saturating_add_std(now, self.max_lifetime);
        (self.slide(now, absolute_expires_at), absolute_expires_at)
    }

    /// The sliding deadline after a sign-in or refresh at `now`, for a
    /// session whose fixed deadline is `absolute_expires_at`:
    /// `now + refresh_ttl`, but never past `absolute_expires_at`.
    pub fn slide(&self, now: DateTime<Utc>, absolute_expires_at: DateTime<Utc>) -> DateTime<Utc> {
        saturating_add_std(now, self.refresh_ttl).min(absolute_expires_at)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_700_000_000 + seconds, 0).unwrap()
    }

    fn refresh_token() -> OpaqueToken {
        OpaqueToken::generate(TokenKind::Refresh).unwrap()
    }

    // ---- format ----

    #[test]
    fn encoded_length_of_32_bytes_is_43() {
        assert_eq!(ENCODED_LEN, 43);
        assert_eq!(
            URL_SAFE_NO_PAD.encode([0u8; TOKEN_BYTES]).len(),
            ENCODED_LEN
        );
        assert_eq!(TokenKind::Refresh.token_len(), 46);
        assert_eq!(TokenKind::EmailVerification.token_len(), 46);
    }

    #[test]
    fn generated_tokens_have_the_prefix_length_and_alphabet() {
        for kind in [TokenKind::Refresh, TokenKind::EmailVerification] {
            let token = OpaqueToken::generate(kind).unwrap();
            let text = token.expose();
            assert_eq!(token.kind(), kind);
            assert!(text.starts_with(kind.prefix()), "{text}");
            assert_eq!(text.len(), kind.token_len());
            let encoded = &text[kind.prefix().len()..];
            assert!(
                encoded
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_'),
                "{text}"
            );
            let decoded = URL_SAFE_NO_PAD.decode(encoded).unwrap();
            assert_eq!(decoded.len(), TOKEN_BYTES);
        }
        assert!(refresh_token().expose().starts_with("rt_"));
        assert!(
            OpaqueToken::generate(TokenKind::EmailVerification)
                .unwrap()
                .expose()
                .starts_with("ev_")
        );
    }

    #[test]
    fn every_token_is_different() {
        let tokens: std::collections::HashSet<String> = (0..100)
            .map(|_| refresh_token().expose().to_owned())
            .collect();
        assert_eq!(tokens.len(), 100);
    }

    #[test]
    fn debug_hides_the_token_and_its_hash() {
        let token = refresh_token();
        let encoded = &token.expose()[3..];
        let printed = format!("{token:?} {:?}", token.hash());
        assert!(!printed.contains(encoded), "{printed}");
        assert_eq!(
            printed,
            "OpaqueToken { kind: Refresh, .. } TokenHash(<redacted>)"
        );
    }

    // ---- hashing ----

    #[test]
    fn the_hash_is_sha256_of_the_token_text() {
        let token = refresh_token();
        let expected: [u8; 32] = Sha256::digest(token.expose().as_bytes()).into();
        assert_eq!(token.hash().as_bytes(), &expected);
        assert_eq!(token.hash().to_vec(), expected.to_vec());
    }

    #[test]
    fn a_presented_token_hashes_like_the_issued_one() {
        for kind in [TokenKind::Refresh, TokenKind::EmailVerification] {
            let token = OpaqueToken::generate(kind).unwrap();
            assert_eq!(
                TokenHash::of_presented(kind, token.expose()).unwrap(),
                token.hash()
            );
            // Copied out of an email with a trailing newline.
            let padded = format!("  {}\r\n", token.expose());
            assert_eq!(
                TokenHash::of_presented(kind, &padded).unwrap(),
                token.hash()
            );
        }
    }

    #[test]
    fn different_tokens_have_different_hashes() {
        assert_ne!(refresh_token().hash(), refresh_token().hash());
    }

    #[test]
    fn hashes_round_trip_through_storage() {
        let hash = refresh_token().hash();
        assert_eq!(TokenHash::from_bytes(*hash.as_bytes()), hash);
        assert_eq!(TokenHash::from_slice(&hash.to_vec()).unwrap(), hash);
        assert_eq!(
            TokenHash::from_slice(&[1u8; 31]),
            Err(InvalidTokenHashLength { length: 31 })
        );
        assert_eq!(
            TokenHash::from_slice(&[]),
            Err(InvalidTokenHashLength { length: 0 })
        );
    }

    // ---- presented tokens ----

    #[test]
    fn malformed_tokens_are_refused_with_a_typed_error() {
        let kind = TokenKind::Refresh;
        let valid = refresh_token().expose().to_owned();
        let encoded = &valid[3..];
        let field = "refresh_token";
        let cases = [
            ("".to_owned(), TokenError::Empty { field }),
            ("   ".to_owned(), TokenError::Empty { field }),
            (
                format!("ev_{encoded}"),
                TokenError::WrongPrefix {
                    field,
                    prefix: "rt_",
                },
            ),
            (
                encoded.to_owned(),
                TokenError::WrongPrefix {
                    field,
                    prefix: "rt_",
                },
            ),
            (
                format!("RT_{encoded}"),
                TokenError::WrongPrefix {
                    field,
                    prefix: "rt_",
                },
            ),
            (
                valid[..45].to_owned(),
                TokenError::WrongLength { field, length: 46 },
            ),
            (
                format!("{valid}A"),
                TokenError::WrongLength { field, length: 46 },
            ),
            (
                "rt_".to_owned(),
                TokenError::WrongLength { field, length: 46 },
            ),
            (
                format!("rt_{}", "x".repeat(10_000)),
                TokenError::WrongLength { field, length: 46 },
            ),
            (
                format!("{}=", &valid[..45]),
                TokenError::InvalidCharacter { field },
            ),
            (
                format!("{}+", &valid[..45]),
                TokenError::InvalidCharacter { field },
            ),
            (
                format!("rt_{}/", &encoded[..42]),
                TokenError::InvalidCharacter { field },
            ),
            (
                format!("rt_{}é", &encoded[..41]),
                TokenError::InvalidCharacter { field },
            ),
            // 43 characters encode 258 bits; the last 2 must be zero.
            (
                format!("rt_{}B", &"A".repeat(42)),
                TokenError::NotCanonical { field },
            ),
        ];
        for (presented, expected) in cases {
            assert_eq!(
                TokenHash::of_presented(kind, &presented),
                Err(expected),
                "{presented:?}"
            );
        }
        assert!(TokenHash::of_presented(kind, &format!("rt_{}A", "A".repeat(42))).is_ok());
    }

    #[test]
    fn a_token_of_the_other_kind_is_refused() {
        let verification = OpaqueToken::generate(TokenKind::EmailVerification).unwrap();
        assert_eq!(
            TokenHash::of_presented(TokenKind::Refresh, verification.expose()),
            Err(TokenError::WrongPrefix {
                field: "refresh_token",
                prefix: "rt_"
            })
        );
        assert_eq!(
            TokenHash::of_presented(TokenKind::EmailVerification, refresh_token().expose()),
            Err(TokenError::WrongPrefix {
                field: "token",
                prefix: "ev_"
            })
        );
    }

    #[test]
    fn errors_name_the_field_and_never_echo_the_token() {
        let verification = OpaqueToken::generate(TokenKind::EmailVerification).unwrap();
        let secret_part = &verification.expose()[3..];
        for presented in [
            format!("rt_{secret_part}"),
            format!("ev_{secret_part}x"),
            format!("ev_{}!", &secret_part[..42]),
            String::new(),
        ] {
            let error =
                TokenHash::of_presented(TokenKind::EmailVerification, &presented).unwrap_err();
            assert_eq!(error.field(), "token");
            let message = error.to_string();
            assert!(message.starts_with("token "), "{message}");
            assert!(!message.contains(&secret_part[..10]), "{message}");
        }
        let error = TokenHash::of_presented(TokenKind::Refresh, "nope").unwrap_err();
        assert_eq!(error.field(), "refresh_token");
        assert_eq!(error.to_string(), "refresh_token must start with rt_");
    }

    // ---- verification expiry ----

    #[test]
    fn verification_tokens_live_one_hour_by_default() {
        let policy = VerificationTokenPolicy::default();
        assert_eq!(policy.ttl, Duration::from_secs(3600));
        let expires_at = policy.expires_at(at(0));
        assert_eq!(expires_at, at(3600));
        assert!(!is_expired(expires_at, at(3599)));
        assert!(is_expired(expires_at, at(3600)));
        assert!(is_expired(expires_at, at(3601)));
    }

    #[test]
    fn a_huge_ttl_saturates_instead_of_panicking() {
        let policy = VerificationTokenPolicy { ttl: Duration::MAX };
        assert_eq!(policy.expires_at(at(0)), DateTime::<Utc>::MAX_UTC);
        let policy = SessionPolicy {
            refresh_ttl: Duration::MAX,
            max_lifetime: Duration::MAX,
        };
        assert_eq!(
            policy.initial_expiry(at(0)),
            (DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MAX_UTC)
        );
    }

    // ---- sessions ----

    fn days(count: i64) -> TimeDelta {
        TimeDelta::days(count)
    }

    #[test]
    fn session_defaults_are_30_days_sliding_90_days_absolute() {
        let policy = SessionPolicy::default();
        assert_eq!(policy.refresh_ttl, Duration::from_secs(30 * 86_400));
        assert_eq!(policy.max_lifetime, Duration::from_secs(90 * 86_400));
        let (expires_at, absolute_expires_at) = policy.initial_expiry(at(0));
        assert_eq!(expires_at, at(0) + days(30));
        assert_eq!(absolute_expires_at, at(0) + days(90));
    }

    #[test]
    fn each_refresh_slides_the_expiry_to_now_plus_ttl() {
        let policy = SessionPolicy::default();
        let (_, absolute_expires_at) = policy.initial_expiry(at(0));
        let day_10 = at(0) + days(10);
        assert_eq!(policy.slide(day_10, absolute_expires_at), day_10 + days(30));
        let day_60 = at(0) + days(60);
        assert_eq!(
            policy.slide(day_60, absolute_expires_at),
            absolute_expires_at
        );
    }

    #[test]
    fn sliding_never_passes_the_absolute_deadline() {
        let policy = SessionPolicy::default();
        let (_, absolute_expires_at) = policy.initial_expiry(at(0));
        for day in [59, 60, 61, 75, 89, 90, 120] {
            let expires_at = policy.slide(at(0) + days(day), absolute_expires_at);
            assert!(expires_at <= absolute_expires_at, "day {day}");
        }
        let expires_at = policy.slide(at(0) + days(75), absolute_expires_at);
        assert!(!is_expired(
            expires_at,
            at(0) + days(90) - TimeDelta::seconds(1)
        ));
        assert!(is_expired(expires_at, at(0) + days(90)));
    }

    #[test]
    fn an_idle_session_expires_after_the_ttl() {
        let (expires_at, _) = SessionPolicy::default().initial_expiry(at(0));
        assert!(!is_expired(expires_at, at(0)));
        assert!(!is_expired(
            expires_at,
            at(0) + days(30) - TimeDelta::seconds(1)
        ));
        assert!(is_expired(expires_at, at(0) + days(30)));
    }

    #[test]
    fn a_max_lifetime_shorter_than_the_ttl_caps_the_first_expiry() {
        let policy = SessionPolicy {
            refresh_ttl: Duration::from_secs(30 * 86_400),
            max_lifetime: Duration::from_secs(86_400),
        };
        assert_eq!(
            policy.initial_expiry(at(0)),
            (at(0) + days(1), at(0) + days(1))
        );
    }
}
