//! The changes IAM announces: one variant per `iam.*` event, over the
//! values they carry (`crate::convert` builds the payloads). Every event is
//! about a user (the `user` aggregate).

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// The aggregate type of every IAM event.
pub const USER_AGGREGATE: &str = "user";

/// Why a sign-in failed, as the security event reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInFailureReason {
    UnknownEmail,
    WrongPassword,
    /// A throttled attempt: reported, not counted.
    AccountLocked,
}

/// One change IAM announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IamEvent<'a> {
    UserRegistered {
        user_id: Uuid,
        email: &'a str,
        name: &'a str,
    },
    UserEmailVerified {
        user_id: Uuid,
        email: &'a str,
    },
    /// The new values, and the names of the fields that changed.
    UserProfileUpdated {
        user_id: Uuid,
        changed_fields: &'a [&'static str],
        name: &'a str,
        image_url: &'a str,
    },
    UserAccessSynchronized {
        user_id: Uuid,
        roles: &'a [String],
    },
    UserSignedIn {
        user_id: Uuid,
        session_id: Uuid,
        client_address: &'a str,
    },
    UserSignedOut {
        user_id: Uuid,
        session_id: Uuid,
    },
    /// `user_id` is `None` for an unknown email.
    SignInFailed {
        email: &'a str,
        user_id: Option<Uuid>,
        reason: SignInFailureReason,
        client_address: &'a str,
        attempt_count: u32,
    },
    AccountLocked {
        user_id: Uuid,
        locked_until: DateTime<Utc>,
        attempt_count: u32,
    },
}

impl IamEvent<'_> {
    /// The user the event is about: the nil UUID for a sign-in failure of
    /// an unknown email, which is about no user.
    pub fn user_id(&self) -> Uuid {
        match *self {
            Self::UserRegistered { user_id, .. }
            | Self::UserEmailVerified { user_id, .. }
            | Self::UserProfileUpdated { user_id, .. }
            | Self::UserAccessSynchronized { user_id, .. }
            | Self::UserSignedIn { user_id, .. }
            | Self::UserSignedOut { user_id, .. }
            | Self::AccountLocked { user_id, .. } => user_id,
            Self::SignInFailed { user_id, .. } => user_id.unwrap_or_else(Uuid::nil),
        }
    }
}
