//! The claims of an access token, shared by the issuer and the verifier.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The payload of an access token. Every field is required: a token missing
/// one does not verify.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer, e.g. `ecommerce-iam`.
    pub iss: String,
    /// Audience: one string, e.g. `ecommerce`.
    pub aud: String,
    /// Subject: the user id.
    pub sub: Uuid,
    /// Expiry, seconds since the Unix epoch.
    pub exp: i64,
    /// Not before, seconds since the Unix epoch.
    pub nbf: i64,
    /// Issued at, seconds since the Unix epoch.
    pub iat: i64,
    /// Token id (UUID v7).
    pub jti: Uuid,
    /// Session id: the IAM session whose refresh token this access token belongs to.
    pub sid: Uuid,
    /// Granted roles, lower case, e.g. `["admin"]`; empty for a plain customer.
    pub roles: Vec<String>,
}
