//! Who is calling, as far as the catalog's rules care.

use uuid::Uuid;

use crate::domain::error::DomainError;

/// The role every catalog write needs.
pub const ADMIN_ROLE: &str = "admin";

/// The caller of an operation. The gRPC layer builds it from the verified
/// access token (`ecommerce_auth::optional_caller`); the catalog only needs
/// to know whether the caller is an admin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    /// No access token.
    Anonymous,
    /// A signed-in user without the admin role.
    Customer { user_id: Uuid },
    /// A signed-in user with the admin role.
    Admin { user_id: Uuid },
}

impl Actor {
    /// Admins see drafts, unpublished and archived products; shoppers
    /// (anonymous and customers) published ones only.
    pub fn sees_unpublished(&self) -> bool {
        self.is_admin()
    }

    pub fn is_admin(&self) -> bool {
        matches!(self, Self::Admin { .. })
    }

    /// UNAUTHENTICATED when anonymous, PERMISSION_DENIED for a customer.
    /// The gRPC layer checks this before converting the request; the
    /// application checks it again so no other entry point can skip it.
    pub fn require_admin(&self) -> Result<(), DomainError> {
        match self {
            Self::Admin { .. } => Ok(()),
            Self::Customer { .. } => Err(DomainError::PermissionDenied { role: ADMIN_ROLE }),
            Self::Anonymous => Err(DomainError::Unauthenticated),
        }
    }

    pub fn user_id(&self) -> Option<Uuid> {
        match self {
            Self::Anonymous => None,
            Self::Customer { user_id } | Self::Admin { user_id } => Some(*user_id),
        }
    }
}

/// What every operation gets besides its command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestContext {
    pub actor: Actor,
    /// Copied onto every event the operation emits, so one user action can
    /// be followed across services (`x-correlation-id` / `x-request-id`).
    pub correlation_id: Option<String>,
}

impl RequestContext {
    pub fn new(actor: Actor) -> Self {
        Self {
            actor,
            correlation_id: None,
        }
    }

    pub fn with_correlation_id(mut self, correlation_id: impl Into<String>) -> Self {
        self.correlation_id = Some(correlation_id.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_admins_write_and_see_unpublished_products() {
        let admin = Actor::Admin {
            user_id: Uuid::nil(),
        };
        let customer = Actor::Customer {
            user_id: Uuid::nil(),
        };
        assert!(admin.require_admin().is_ok());
        assert!(admin.sees_unpublished());
        assert!(!customer.sees_unpublished());
        assert!(!Actor::Anonymous.sees_unpublished());
        assert_eq!(
            customer.require_admin(),
            Err(DomainError::PermissionDenied { role: ADMIN_ROLE })
        );
        assert_eq!(
            Actor::Anonymous.require_admin(),
            Err(DomainError::Unauthenticated)
        );
        assert_eq!(Actor::Anonymous.user_id(), None);
        assert_eq!(customer.user_id(), Some(Uuid::nil()));
    }
}
