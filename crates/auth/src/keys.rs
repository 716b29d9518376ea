//! Ed25519 signing keys and their public JSON Web Keys (RFC 7517 / RFC 8037).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ecommerce_proto::ecommerce::iam::v1 as pb;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use rand::TryRngCore as _;
use rand::rngs::OsRng;
use secrecy::SecretString;
use secrecy::zeroize::Zeroizing;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// `kty` of an Ed25519 key: an octet key pair.
pub const KEY_TYPE_OKP: &str = "OKP";
/// `crv` of an Ed25519 key.
pub const CURVE_ED25519: &str = "Ed25519";
/// `alg` of every access token and key.
pub const ALGORITHM_EDDSA: &str = "EdDSA";
/// `use` of a signature key.
pub const KEY_USE_SIGNATURE: &str = "sig";

/// Why a key could not be generated, read, written or accepted.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the operating system's random number generator failed")]
    Random(#[source] rand::rand_core::OsError),
    #[error("the private key is not a PKCS#8 PEM Ed25519 key")]
    InvalidPrivateKey,
    #[error("the private key could not be encoded as PKCS#8")]
    Encode,
    #[error("the JWK is not a usable Ed25519 signature key: {reason}")]
    InvalidJwk { reason: &'static str },
}

/// A public JSON Web Key for an Ed25519 signature key, the form in which
/// IamService/GetJwks publishes keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// `OKP`.
    pub kty: String,
    /// `Ed25519`.
    pub crv: String,
    /// The 32-byte public key, base64url without padding.
    pub x: String,
    /// Key id, matched against a token header's `kid`.
    pub kid: String,
    /// `EdDSA`.
    pub alg: String,
    /// `sig`.
    #[serde(rename = "use")]
    pub key_use: String,
}

impl Jwk {
    /// The JWK of an Ed25519 public key, with `kid` its RFC 7638 thumbprint.
    pub fn from_public_key(public_key: &ed25519_dalek::VerifyingKey) -> Self {
        let x = URL_SAFE_NO_PAD.encode(public_key.as_bytes());
        Self {
            kid: okp_thumbprint(CURVE_ED25519, &x),
            kty: KEY_TYPE_OKP.to_owned(),
            crv: CURVE_ED25519.to_owned(),
            x,
            alg: ALGORITHM_EDDSA.to_owned(),
            key_use: KEY_USE_SIGNATURE.to_owned(),
        }
    }

    /// The RFC 7638 thumbprint of this key (SHA-256, base64url), computed
    /// from `crv`, `kty` and `x` only.
    pub fn thumbprint(&self) -> String {
        okp_thumbprint(&self.crv, &self.x)
    }

    /// Checks that this is an Ed25519 signature key for EdDSA and returns the
    /// public key. `alg` and `use` may be empty (both are optional in RFC
    /// 7517); when present they must say `EdDSA` and `sig`. Small-order
    /// ("weak") points are refused.
    pub fn verifying_key(&self) -> Result<ed25519_dalek::VerifyingKey, KeyError> {
        let invalid = |reason| KeyError::InvalidJwk { reason };
        if self.kid.is_empty() {
            return Err(invalid("kid is empty"));
        }
        if self.kty != KEY_TYPE_OKP {
            return Err(invalid("kty is not OKP"));
        }
        if self.crv != CURVE_ED25519 {
            return Err(invalid("crv is not Ed25519"));
        }
        if !self.alg.is_empty() && self.alg != ALGORITHM_EDDSA {
            return Err(invalid("alg is not EdDSA"));
        }
        if !self.key_use.is_empty() && self.key_use != KEY_USE_SIGNATURE {
            return Err(invalid("use is not sig"));
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(&self.x)
            .map_err(|_| invalid("x is not base64url without padding"))?;
        let bytes: [u8; ed25519_dalek::PUBLIC_KEY_LENGTH] =
            bytes.try_into().map_err(|_| invalid("x is not 32 bytes"))?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map_err(|_| invalid("x is not a point on Ed25519"))?;
        if key.is_weak() {
            return Err(invalid("x is a small-order point"));
        }
        Ok(key)
    }
}

impl From<pb::Jwk> for Jwk {
    fn from(key: pb::Jwk) -> Self {
        Self {
            kty: key.kty,
            crv: key.crv,
            x: key.x,
            kid: key.kid,
            alg: key.alg,
            key_use: key.r#use,
        }
    }
}

impl From<Jwk> for pb::Jwk {
    fn from(key: Jwk) -> Self {
        Self {
            kty: key.kty,
            crv: key.crv,
            x: key.x,
            kid: key.kid,
            alg: key.alg,
            r#use: key.key_use,
        }
    }
}

/// RFC 7638 §3.2: the required members in lexicographic order, no whitespace.
/// `crv` and `x` are base64url or fixed names, so they need no JSON escaping;
/// serde_json still writes them, to stay correct for any input.
fn okp_thumbprint(curve: &str, x: &str) -> String {
    let canonical = format!(
        r#"{{"crv":{},"kty":"{KEY_TYPE_OKP}","x":{}}}"#,
        serde_json::Value::from(curve),
        serde_json::Value::from(x),
    );
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// The private Ed25519 key that signs access tokens. Held by iam-svc only.
///
/// Its `Debug` shows the key id, never the key; it has no `Display`.
pub struct SigningKey {
    key: ed25519_dalek::SigningKey,
    encoding_key: jsonwebtoken::EncodingKey,
    public_jwk: Jwk,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("SigningKey")
            .field("kid", &self.public_jwk.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A new random key from the operating system's generator.
    pub fn generate() -> Result<Self, KeyError> {
        let mut seed = Zeroizing::new([0_u8; ed25519_dalek::SECRET_KEY_LENGTH]);
        OsRng
            .try_fill_bytes(seed.as_mut())
            .map_err(KeyError::Random)?;
        Self::from_dalek(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// Reads a key stored by [`SigningKey::to_pkcs8_pem`] (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, KeyError> {
        let key = ed25519_dalek::SigningKey::from_pkcs8_pem(pem)
            .map_err(|_| KeyError::InvalidPrivateKey)?;
        Self::from_dalek(key)
    }

    /// The key as PKCS#8 PEM, for storage. A secret: never log it.
    pub fn to_pkcs8_pem(&self) -> Result<SecretString, KeyError> {
        let pem = self
            .key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|_| KeyError::Encode)?;
        Ok(SecretString::from(pem.as_str()))
    }

    fn from_dalek(key: ed25519_dalek::SigningKey) -> Result<Self, KeyError> {
        let der = key.to_pkcs8_der().map_err(|_| KeyError::Encode)?;
        let encoding_key = jsonwebtoken::EncodingKey::from_ed_der(der.as_bytes());
        let public_jwk = Jwk::from_public_key(&key.verifying_key());
        Ok(Self {
            key,
            encoding_key,
            public_jwk,
        })
    }

    /// The key id: the RFC 7638 thumbprint of the public key, so the same key
    /// always has the same id.
    pub fn kid(&self) -> &str {
        &self.public_jwk.kid
    }

    /// The public half, as published by IamService/GetJwks.
    pub fn public_jwk(&self) -> Jwk {
        self.public_jwk.clone()
    }

    pub(crate) fn encoding_key(&self) -> &jsonwebtoken::EncodingKey {
        &self.encoding_key
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use secrecy::ExposeSecret as _;

    use super::*;

    #[test]
    fn thumbprint_matches_rfc_8037_appendix_a3() {
        let jwk = Jwk {
            kty: "OKP".to_owned(),
            crv: "Ed25519".to_owned(),
            x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo".to_owned(),
            kid: "any".to_owned(),
            alg: String::new(),
            key_use: String::new(),
        };
        assert_eq!(
            jwk.thumbprint(),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
        jwk.verifying_key().unwrap();
    }

    #[test]
    fn a_generated_key_publishes_a_complete_jwk_whose_kid_is_its_thumbprint() {
        let key = SigningKey::generate().unwrap();
        let jwk = key.public_jwk();
        assert_eq!(jwk.kty, "OKP");
        assert_eq!(jwk.crv, "Ed25519");
        assert_eq!(jwk.alg, "EdDSA");
        assert_eq!(jwk.key_use, "sig");
        assert_eq!(jwk.kid, jwk.thumbprint());
        assert_eq!(jwk.kid, key.kid());
        assert_eq!(jwk.kid.len(), 43, "sha-256 in base64url without padding");
        jwk.verifying_key().unwrap();
        assert_ne!(SigningKey::generate().unwrap().kid(), key.kid());
    }

    #[test]
    fn pem_round_trip_keeps_the_key_and_its_kid() {
        let key = SigningKey::generate().unwrap();
        let pem = key.to_pkcs8_pem().unwrap();
        assert!(
            pem.expose_secret()
                .starts_with("-----BEGIN PRIVATE KEY-----")
        );
        let restored = SigningKey::from_pkcs8_pem(pem.expose_secret()).unwrap();
        assert_eq!(restored.kid(), key.kid());
        assert_eq!(restored.public_jwk(), key.public_jwk());
        assert!(matches!(
            SigningKey::from_pkcs8_pem(
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
            ),
            Err(KeyError::InvalidPrivateKey)
        ));
    }

    #[test]
    fn debug_output_never_shows_the_private_key() {
        let key = SigningKey::generate().unwrap();
        let pem = key.to_pkcs8_pem().unwrap();
        let debug = format!("{key:?}");
        assert!(debug.contains(key.kid()), "{debug}");
        let body: String = pem
            .expose_secret()
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect();
        assert!(!debug.contains(&body), "{debug}");
        assert!(!format!("{pem:?}").contains(&body));
    }

    #[test]
    fn jwks_that_are_not_ed25519_signature_keys_are_refused() {
        let good = SigningKey::generate().unwrap().public_jwk();
        type Spoil = fn(&mut Jwk);
        let cases: [(&str, Spoil); 8] = [
            ("kty", |jwk| jwk.kty = "RSA".to_owned()),
            ("crv", |jwk| jwk.crv = "X25519".to_owned()),
            ("alg", |jwk| jwk.alg = "HS256".to_owned()),
            ("use", |jwk| jwk.key_use = "enc".to_owned()),
            ("kid", |jwk| jwk.kid = String::new()),
            ("x", |jwk| jwk.x = "not base64!".to_owned()),
            ("x", |jwk| jwk.x = URL_SAFE_NO_PAD.encode([7_u8; 16])),
            // The identity point: small order.
            ("x", |jwk| {
                let mut identity = [0_u8; 32];
                identity[0] = 1;
                jwk.x = URL_SAFE_NO_PAD.encode(identity);
            }),
        ];
        for (field, spoil) in cases {
            let mut jwk = good.clone();
            spoil(&mut jwk);
            let error = jwk.verifying_key().unwrap_err();
            assert!(error.to_string().contains(field), "{field}: {error}");
        }
    }

    #[test]
    fn jwks_convert_to_and_from_the_proto_message() {
        let jwk = SigningKey::generate().unwrap().public_jwk();
        let message = pb::Jwk::from(jwk.clone());
        assert_eq!(message.r#use, "sig");
        assert_eq!(message.kid, jwk.kid);
        assert_eq!(Jwk::from(message), jwk);
    }
}
