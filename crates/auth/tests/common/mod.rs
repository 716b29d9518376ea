//! Keys, issuers and hand-made tokens shared by the integration tests.

#![allow(dead_code)]

pub mod iam_stub;

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use ecommerce_auth::{
    AccessTokenIssuer, AccessTokenVerifier, Jwk, SigningKey, StaticKeySource, VerifierConfig,
};
use ed25519_dalek::Signer as _;
use ed25519_dalek::pkcs8::DecodePrivateKey as _;
use secrecy::ExposeSecret as _;
use serde_json::json;
use uuid::Uuid;

pub const ISSUER: &str = "ecommerce-iam";
pub const AUDIENCE: &str = "ecommerce";

/// A signing key plus the raw ed25519-dalek key, to sign hand-made tokens.
pub struct TestKey {
    pub key: SigningKey,
    pub raw: ed25519_dalek::SigningKey,
}

impl TestKey {
    pub fn generate() -> Self {
        let key = SigningKey::generate().unwrap();
        let raw =
            ed25519_dalek::SigningKey::from_pkcs8_pem(key.to_pkcs8_pem().unwrap().expose_secret())
                .unwrap();
        Self { key, raw }
    }

    pub fn kid(&self) -> String {
        self.key.kid().to_owned()
    }

    pub fn jwk(&self) -> Jwk {
        self.key.public_jwk()
    }

    pub fn issuer(&self) -> AccessTokenIssuer {
        self.issuer_for(ISSUER, AUDIENCE)
    }

    pub fn issuer_for(&self, issuer: &str, audience: &str) -> AccessTokenIssuer {
        let key =
            SigningKey::from_pkcs8_pem(self.key.to_pkcs8_pem().unwrap().expose_secret()).unwrap();
        AccessTokenIssuer::new(key, issuer, audience).unwrap()
    }

    /// A compact JWS over any header and payload JSON, signed with this key.
    pub fn sign_raw(&self, header: &serde_json::Value, payload: &serde_json::Value) -> String {
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload.to_string())
        );
        let signature = self.raw.sign(signing_input.as_bytes());
        format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        )
    }

    /// The header our issuer writes.
    pub fn header(&self) -> serde_json::Value {
        json!({"alg": "EdDSA", "typ": "JWT", "kid": self.kid()})
    }
}

/// Claims as our issuer writes them, valid from `now` for 15 minutes.
pub fn claims(now: DateTime<Utc>) -> serde_json::Value {
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": Uuid::now_v7(),
        "exp": now.timestamp() + 900,
        "nbf": now.timestamp(),
        "iat": now.timestamp(),
        "jti": Uuid::now_v7(),
        "sid": Uuid::now_v7(),
        "roles": ["admin"],
    })
}

pub fn verifier(source: &Arc<StaticKeySource>) -> AccessTokenVerifier {
    AccessTokenVerifier::new(source.clone(), VerifierConfig::new(ISSUER, AUDIENCE))
}

pub fn token(key: &TestKey, roles: &[&str]) -> String {
    key.issuer()
        .issue(Uuid::now_v7(), Uuid::now_v7(), roles, Utc::now())
        .unwrap()
        .0
}
