//! The errors of the notification rules, and the [`ErrorCode`] each one is.

use ecommerce_kernel::ErrorCode;
pub use ecommerce_kernel::{InvalidField, InvalidValue};

/// Every way a notifications rule can refuse to act.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotificationsError {
    /// A request or event field is missing or malformed; names the field.
    #[error(transparent)]
    InvalidArgument(#[from] InvalidField),

    /// A customer asked for another customer's notifications.
    #[error("only an admin may list another customer's notifications")]
    NotYours,
}

impl NotificationsError {
    /// Exhaustive, so a new variant forces a decision here.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidArgument(_) => ErrorCode::InvalidArgument,
            Self::NotYours => ErrorCode::PermissionDenied,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_variant() {
        let invalid =
            NotificationsError::from(InvalidValue::new("must not be empty").at("user_id"));
        assert_eq!(invalid.code(), ErrorCode::InvalidArgument);
        assert_eq!(invalid.to_string(), "user_id: must not be empty");
        assert_eq!(
            NotificationsError::NotYours.code(),
            ErrorCode::PermissionDenied
        );
    }
}
