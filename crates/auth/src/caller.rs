//! Who is calling, and the one-line checks handlers make.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::claims::AccessClaims;

/// Well-known role names.
#[derive(Debug)]
pub enum Role {}

impl Role {
    /// Grants the back-office RPCs of every service.
    pub const ADMIN: &'static str = "admin";
}

/// The verified caller of a request, put into its extensions by
/// [`AuthLayer`](crate::AuthLayer) when a valid access token came with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The token's subject.
    pub user_id: Uuid,
    /// The IAM session the token belongs to.
    pub session_id: Uuid,
    /// Granted roles, lower case; empty for a plain customer.
    pub roles: Vec<String>,
    /// The token's `jti`.
    pub token_id: Uuid,
    /// When the token expires.
    pub expires_at: DateTime<Utc>,
}

impl From<AccessClaims> for Caller {
    fn from(claims: AccessClaims) -> Self {
        Self {
            user_id: claims.sub,
            session_id: claims.sid,
            roles: claims.roles,
            token_id: claims.jti,
            expires_at: DateTime::<Utc>::from_timestamp(claims.exp, 0)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        }
    }
}

impl Caller {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|granted| granted == role)
    }

    pub fn is_admin(&self) -> bool {
        self.has_role(Role::ADMIN)
    }

    /// `PERMISSION_DENIED` naming `role` unless the caller has it.
    pub fn require_role(&self, role: &str) -> Result<(), tonic::Status> {
        if self.has_role(role) {
            return Ok(());
        }
        Err(tonic::Status::permission_denied(format!(
            "the {role} role is required"
        )))
    }
}

/// The caller, or `None` for an anonymous request.
pub fn optional_caller<T>(request: &tonic::Request<T>) -> Option<Caller> {
    request.extensions().get::<Caller>().cloned()
}

/// The caller, or `UNAUTHENTICATED` ("sign in first") for an anonymous request.
///
/// Returns an owned copy so the handler can still take `request.into_inner()`.
pub fn require_caller<T>(request: &tonic::Request<T>) -> Result<Caller, tonic::Status> {
    optional_caller(request).ok_or_else(|| tonic::Status::unauthenticated("sign in first"))
}

/// The caller if it has `role`: `UNAUTHENTICATED` when anonymous,
/// `PERMISSION_DENIED` naming the role when it lacks it.
pub fn require_role<T>(request: &tonic::Request<T>, role: &str) -> Result<Caller, tonic::Status> {
    let caller = require_caller(request)?;
    caller.require_role(role)?;
    Ok(caller)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn caller(roles: &[&str]) -> Caller {
        Caller {
            user_id: Uuid::now_v7(),
            session_id: Uuid::now_v7(),
            roles: roles.iter().map(|role| (*role).to_owned()).collect(),
            token_id: Uuid::now_v7(),
            expires_at: Utc::now(),
        }
    }

    fn request_from(caller: Option<Caller>) -> tonic::Request<()> {
        let mut request = tonic::Request::new(());
        if let Some(caller) = caller {
            request.extensions_mut().insert(caller);
        }
        request
    }

    #[test]
    fn anonymous_requests_are_asked_to_sign_in() {
        let request = request_from(None);
        assert_eq!(optional_caller(&request), None);
        let status = require_caller(&request).unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
        assert_eq!(status.message(), "sign in first");
        let status = require_role(&request, Role::ADMIN).unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
    }

    #[test]
    fn a_missing_role_is_permission_denied_and_named() {
        let customer = caller(&[]);
        let request = request_from(Some(customer.clone()));
        assert_eq!(require_caller(&request).unwrap(), customer);
        let status = require_role(&request, Role::ADMIN).unwrap_err();
        assert_eq!(status.code(), tonic::Code::PermissionDenied);
        assert_eq!(status.message(), "the admin role is required");
        assert!(!customer.is_admin());
    }

    #[test]
    fn a_granted_role_passes() {
        let admin = caller(&["admin"]);
        let request = request_from(Some(admin.clone()));
        assert_eq!(require_role(&request, Role::ADMIN).unwrap(), admin);
        admin.require_role("admin").unwrap();
        assert!(admin.is_admin());
        // Roles compare exactly.
        assert!(admin.require_role("Admin").is_err());
    }
}
