//! Access tokens for tests: a signing key of the test's own, the auth layer
//! that trusts it, and tokens for any user and roles.

use std::sync::Arc;

use ecommerce_auth::{
    AccessTokenIssuer, AccessTokenVerifier, AuthLayer, DEFAULT_AUDIENCE, DEFAULT_ISSUER,
    SigningKey, StaticKeySource, VerifierConfig,
};
use uuid::Uuid;

/// Stands in for iam-svc: issues tokens that its [`TestAuth::layer`] accepts.
pub struct TestAuth {
    issuer: AccessTokenIssuer,
    source: Arc<StaticKeySource>,
}

impl TestAuth {
    /// A fresh key, with the default issuer and audience.
    #[allow(clippy::expect_used)]
    pub fn new() -> Self {
        let key = SigningKey::generate().expect("a signing key");
        let source = Arc::new(StaticKeySource::new(vec![key.public_jwk()]));
        let issuer = AccessTokenIssuer::new(key, DEFAULT_ISSUER, DEFAULT_AUDIENCE)
            .expect("valid issuer and audience");
        Self { issuer, source }
    }

    /// The auth layer a service under test is wrapped in.
    pub fn layer(&self) -> AuthLayer {
        let verifier = AccessTokenVerifier::new(
            self.source.clone(),
            VerifierConfig::new(DEFAULT_ISSUER, DEFAULT_AUDIENCE),
        );
        AuthLayer::new(Arc::new(verifier))
    }

    /// A valid access token for `user_id` with `roles`.
    #[allow(clippy::expect_used)]
    pub fn token(&self, user_id: Uuid, roles: &[&str]) -> String {
        self.issuer
            .issue(user_id, Uuid::now_v7(), roles, chrono::Utc::now())
            .expect("a token")
            .0
    }

    /// A token for a new user with the `admin` role.
    pub fn admin_token(&self) -> String {
        self.token(Uuid::now_v7(), &["admin"])
    }

    /// A token for a new user without roles.
    pub fn customer_token(&self) -> String {
        self.token(Uuid::now_v7(), &[])
    }
}

impl Default for TestAuth {
    fn default() -> Self {
        Self::new()
    }
}

/// `authorization: Bearer <token>` on `message`.
#[allow(clippy::expect_used)]
pub fn with_bearer<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ASCII token"),
    );
    request
}
