//! Access tokens for every service: iam-svc issues them, every service
//! verifies them, and one tower layer puts the caller into each gRPC request.
//!
//! An access token is a compact JWT signed with Ed25519 (`alg: EdDSA`,
//! `typ: JWT`, `kid` = the RFC 7638 thumbprint of the key), carrying
//! [`AccessClaims`]: `iss`, `aud`, `sub` (user id), `exp`, `nbf`, `iat`,
//! `jti`, `sid` (session id) and `roles`. It lives at most 15 minutes.
//!
//! - **iam-svc** keeps a [`SigningKey`] (stored as PKCS#8 PEM), signs with an
//!   [`AccessTokenIssuer`] and publishes [`SigningKey::public_jwk`] through
//!   `IamService/GetJwks`.
//! - **Every service** verifies locally with an [`AccessTokenVerifier`] whose
//!   keys come from a [`KeySource`] ([`GrpcJwksSource`] calls GetJwks; keys are
//!   cached, refreshed periodically and at most once per interval on an
//!   unknown `kid`). Only EdDSA is accepted; `kid`, `exp`, `nbf`, `iss` and
//!   `aud` are required and checked.
//! - **The layer**, [`AuthLayer`], reads `authorization: Bearer <token>`: a
//!   valid token puts a [`Caller`] into the request extensions, an invalid one
//!   is answered `UNAUTHENTICATED` before the handler runs, no token means an
//!   anonymous call. Health and reflection are always open.
//!
//! Wrapping a service (works with `GrpcServer::add_service` as is, since the
//! wrapper keeps the service's name and message limits):
//!
//! ```no_run
//! # use ecommerce_platform::grpc::GrpcServer;
//! # use ecommerce_proto::ecommerce::iam::v1::iam_service_server::{IamService, IamServiceServer};
//! # fn register<H: IamService>(server: GrpcServer, handlers: H) -> anyhow::Result<GrpcServer> {
//! use ecommerce_auth::AuthSettings;
//! use tower::Layer as _;
//!
//! // Inside the tokio runtime: the IAM channel connects lazily in the background.
//! let auth = AuthSettings::from_env()?.layer()?;
//! Ok(server.add_service(auth.layer(IamServiceServer::new(handlers))))
//! # }
//! ```
//!
//! or for a whole tonic server: `Server::builder().layer(auth)`.
//!
//! In a handler, one line decides who may call:
//!
//! ```
//! use ecommerce_auth::{Role, optional_caller, require_caller, require_role};
//!
//! // Admin only: UNAUTHENTICATED when anonymous, PERMISSION_DENIED without the role.
//! fn create_product(request: &tonic::Request<()>) -> Result<(), tonic::Status> {
//!     let admin = require_role(request, Role::ADMIN)?;
//!     tracing::info!(user_id = %admin.user_id, "creating a product");
//!     Ok(())
//! }
//!
//! // Any signed-in user: UNAUTHENTICATED "sign in first" when anonymous.
//! fn get_cart(request: &tonic::Request<()>) -> Result<uuid::Uuid, tonic::Status> {
//!     let caller = require_caller(request)?;
//!     Ok(caller.user_id)
//! }
//!
//! // Anonymous allowed: admins see drafts too, everyone else published products only.
//! fn list_products(request: &tonic::Request<()>) -> bool {
//!     optional_caller(request).is_some_and(|caller| caller.is_admin())
//! }
//! # assert!(create_product(&tonic::Request::new(())).is_err());
//! # assert!(get_cart(&tonic::Request::new(())).is_err());
//! # assert!(!list_products(&tonic::Request::new(())));
//! ```
//!
//! Methods that must work with a stale token attached (IAM's SignIn,
//! RefreshSession, ...) are listed with [`AuthLayer::with_open_methods`].

mod cache;
mod caller;
mod claims;
mod issuer;
mod key_source;
mod keys;
mod layer;
mod revocation;
mod settings;
mod verifier;

pub use self::cache::KeyCacheConfig;
pub use self::caller::{Caller, Role, optional_caller, require_caller, require_role};
pub use self::claims::AccessClaims;
pub use self::issuer::{AccessTokenIssuer, IssueError, MAX_ACCESS_TOKEN_TTL};
pub use self::key_source::{GrpcJwksSource, KeySource, KeySourceError, StaticKeySource};
pub use self::keys::{
    ALGORITHM_EDDSA, CURVE_ED25519, Jwk, KEY_TYPE_OKP, KEY_USE_SIGNATURE, KeyError, SigningKey,
};
pub use self::layer::{AuthLayer, Authenticate};
pub use self::revocation::{Revocation, Revocations};
pub use self::settings::{
    AUTH_ACCESS_TOKEN_TTL_SECS_VAR, AUTH_AUDIENCE_VAR, AUTH_ISSUER_VAR,
    AUTH_JWKS_MIN_REFRESH_SECS_VAR, AUTH_JWKS_REFRESH_SECS_VAR, AUTH_LEEWAY_SECS_VAR, AuthSettings,
    DEFAULT_AUDIENCE, DEFAULT_IAM_GRPC_URL, DEFAULT_ISSUER, IAM_GRPC_URL_VAR,
};
pub use self::verifier::{AccessTokenVerifier, AuthError, DEFAULT_LEEWAY, VerifierConfig};
/// Re-exported so implementors of [`KeySource`] need not depend on it.
pub use async_trait::async_trait;
