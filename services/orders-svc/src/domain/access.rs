//! Who may read and cancel an order: its owner, or an admin.
//!
//! A customer asking for someone else's order gets NOT_FOUND, exactly as for
//! an order that does not exist, so order ids cannot be probed. Every
//! orders RPC needs a signed-in caller; the gRPC layer answers
//! UNAUTHENTICATED before an [`Actor`] exists, so there is no anonymous one.

use ecommerce_kernel::InvalidField;
use uuid::Uuid;

use crate::domain::model::{Order, OrderId};
use crate::domain::status::{CancelCause, MAX_REASON_CHARS};

/// The role that sees and cancels every order.
pub const ADMIN_ROLE: &str = "admin";

/// The signed-in caller, built by the gRPC layer from the verified access
/// token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    Customer { user_id: Uuid },
    Admin { user_id: Uuid },
}

impl Actor {
    /// `admin` among the token's roles makes an admin.
    pub fn new(user_id: Uuid, is_admin: bool) -> Self {
        if is_admin {
            Self::Admin { user_id }
        } else {
            Self::Customer { user_id }
        }
    }

    pub fn user_id(self) -> Uuid {
        match self {
            Self::Customer { user_id } | Self::Admin { user_id } => user_id,
        }
    }

    pub fn is_admin(self) -> bool {
        matches!(self, Self::Admin { .. })
    }

    fn may_access(self, owner: Uuid) -> bool {
        self.is_admin() || self.user_id() == owner
    }
}

/// Why an actor may not do something with an order.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    /// Someone else's order, to a customer. NOT_FOUND.
    #[error("order {order_id} not found")]
    NotFound { order_id: OrderId },
    /// A customer naming another user in ListOrders. PERMISSION_DENIED.
    #[error("only an {ADMIN_ROLE} may list another user's orders")]
    OtherUsersOrders,
}

/// A CancelOrder `reason`: trimmed, at most [`MAX_REASON_CHARS`]
/// characters, no control characters; empty means "no reason given".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CancelReason(Option<String>);

impl CancelReason {
    pub fn parse(raw: &str) -> Result<Self, InvalidField> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Ok(Self(None));
        }
        let chars = trimmed.chars().count();
        if chars > MAX_REASON_CHARS {
            return Err(InvalidField::new(
                "reason",
                format!("must be at most {MAX_REASON_CHARS} characters, got {chars}"),
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(InvalidField::new(
                "reason",
                "must not contain control characters",
            ));
        }
        Ok(Self(Some(trimmed.to_owned())))
    }

    pub fn none() -> Self {
        Self(None)
    }

    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

/// A CancelOrder the actor is allowed to make: only
/// [`Order::authorize_cancel`] builds one, so the state machine never sees
/// an unchecked cancel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CancelRequest {
    cause: CancelCause,
    requested_by: Uuid,
    reason: String,
}

impl CancelRequest {
    fn new(actor: Actor, owner: Uuid, reason: CancelReason) -> Self {
        // An admin canceling their own order does so as its customer.
        let (cause, default_reason) = if actor.is_admin() && actor.user_id() != owner {
            (CancelCause::Admin, "canceled by an administrator")
        } else {
            (CancelCause::Customer, "canceled by the customer")
        };
        let reason = reason.0.unwrap_or_else(|| default_reason.to_owned());
        Self {
            cause,
            requested_by: actor.user_id(),
            reason,
        }
    }

    /// [`CancelCause::Customer`] or [`CancelCause::Admin`].
    pub fn cause(&self) -> CancelCause {
        self.cause
    }

    pub fn requested_by(&self) -> Uuid {
        self.requested_by
    }

    pub fn reason(&self) -> &str {
        &self.reason
    }

    #[cfg(test)]
    pub(crate) fn for_tests(actor: Actor, owner: Uuid, reason: &str) -> Self {
        Self::new(
            actor,
            owner,
            CancelReason::parse(reason).unwrap_or(CancelReason::none()),
        )
    }
}

impl Order {
    /// GetOrder: the owner or an admin; NOT_FOUND for anyone else.
    pub fn authorize_read(&self, actor: Actor) -> Result<(), AccessError> {
        if actor.may_access(self.user_id) {
            return Ok(());
        }
        Err(AccessError::NotFound { order_id: self.id })
    }

    /// CancelOrder: the owner or an admin; NOT_FOUND for anyone else.
    /// Whether the order's status still allows it is the state machine's
    /// answer ([`crate::domain::machine::apply`]).
    pub fn authorize_cancel(
        &self,
        actor: Actor,
        reason: CancelReason,
    ) -> Result<CancelRequest, AccessError> {
        self.authorize_read(actor)?;
        Ok(CancelRequest::new(actor, self.user_id, reason))
    }
}

/// Whose orders ListOrders lists: `requested` (the request's `user_id`,
/// `None` when empty) or the caller; only an admin may name someone else.
pub fn list_owner(actor: Actor, requested: Option<Uuid>) -> Result<Uuid, AccessError> {
    match requested {
        None => Ok(actor.user_id()),
        Some(user_id) if user_id == actor.user_id() || actor.is_admin() => Ok(user_id),
        Some(_) => Err(AccessError::OtherUsersOrders),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner() -> Uuid {
        Uuid::from_u128(1)
    }

    fn stranger() -> Uuid {
        Uuid::from_u128(2)
    }

    fn order() -> Order {
        crate::domain::machine::tests::order_owned_by(owner())
    }

    #[test]
    fn owners_and_admins_read_and_cancel_everyone_else_gets_not_found() {
        let order = order();
        let allowed = [
            Actor::Customer { user_id: owner() },
            Actor::Admin { user_id: owner() },
            Actor::Admin {
                user_id: stranger(),
            },
        ];
        for actor in allowed {
            assert_eq!(order.authorize_read(actor), Ok(()), "{actor:?}");
            assert!(
                order.authorize_cancel(actor, CancelReason::none()).is_ok(),
                "{actor:?}"
            );
        }
        let customer = Actor::Customer {
            user_id: stranger(),
        };
        let not_found = AccessError::NotFound { order_id: order.id };
        assert_eq!(order.authorize_read(customer), Err(not_found.clone()));
        assert_eq!(
            order.authorize_cancel(customer, CancelReason::none()),
            Err(not_found)
        );
    }

    #[test]
    fn the_cancel_cause_says_who_canceled() {
        let order = order();
        let by_owner = order
            .authorize_cancel(
                Actor::Customer { user_id: owner() },
                CancelReason::parse(" changed my mind ").unwrap(),
            )
            .unwrap();
        assert_eq!(by_owner.cause(), CancelCause::Customer);
        assert_eq!(by_owner.reason(), "changed my mind");
        assert_eq!(by_owner.requested_by(), owner());

        let by_admin = order
            .authorize_cancel(
                Actor::new(stranger(), true),
                CancelReason::parse("").unwrap(),
            )
            .unwrap();
        assert_eq!(by_admin.cause(), CancelCause::Admin);
        assert_eq!(by_admin.reason(), "canceled by an administrator");
        assert_eq!(by_admin.requested_by(), stranger());

        let admin_own = order
            .authorize_cancel(Actor::new(owner(), true), CancelReason::none())
            .unwrap();
        assert_eq!(admin_own.cause(), CancelCause::Customer);
        assert_eq!(admin_own.reason(), "canceled by the customer");
    }

    #[test]
    fn cancel_reasons_are_bounded_and_name_the_field() {
        assert_eq!(CancelReason::parse("   ").unwrap().as_deref(), None);
        assert!(CancelReason::parse(&"é".repeat(MAX_REASON_CHARS)).is_ok());
        let too_long = CancelReason::parse(&"é".repeat(MAX_REASON_CHARS + 1)).unwrap_err();
        assert_eq!(too_long.field, "reason");
        let control = CancelReason::parse("a\u{7}b").unwrap_err();
        assert_eq!(control.field, "reason");
    }

    #[test]
    fn customers_list_their_own_orders_admins_anyone() {
        let customer = Actor::Customer { user_id: owner() };
        assert_eq!(list_owner(customer, None), Ok(owner()));
        assert_eq!(list_owner(customer, Some(owner())), Ok(owner()));
        assert_eq!(
            list_owner(customer, Some(stranger())),
            Err(AccessError::OtherUsersOrders)
        );
        let admin = Actor::Admin { user_id: owner() };
        assert_eq!(list_owner(admin, None), Ok(owner()));
        assert_eq!(list_owner(admin, Some(stranger())), Ok(stranger()));
    }
}
