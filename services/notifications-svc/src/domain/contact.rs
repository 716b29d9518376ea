//! A customer's contact details, kept from IAM's events (event-carried
//! state: notifications never asks IAM).
//!
//! Events about one user can arrive out of order (a retried delivery goes
//! back in its queue), so each field remembers when the event that set it
//! happened, and an older event never overwrites a newer value.

use chrono::{DateTime, Utc};

use crate::domain::values::{ContactEmail, UserId};

/// What notifications knows of a customer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contact {
    pub user_id: UserId,
    /// Unknown (None) until `registered` or `email_verified` arrives; mails
    /// to the customer wait until then.
    pub email: Option<ContactEmail>,
    pub email_verified: bool,
    /// When the event that set `email` happened.
    pub email_changed_at: Option<DateTime<Utc>>,
    /// Display name; empty when unknown.
    pub name: String,
    /// When the event that set `name` happened.
    pub name_changed_at: Option<DateTime<Utc>>,
}

/// What one IAM event says of a customer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContactChange {
    /// `iam.user.registered.v1`: the address (not verified yet) and name.
    Registered { email: ContactEmail, name: String },
    /// `iam.user.email_verified.v1`: the address, now verified.
    EmailVerified { email: ContactEmail },
    /// `iam.user.profile_updated.v1`: the name after the change.
    ProfileUpdated { name: String },
}

/// `existing` after `change`, which happened at `occurred_at`; `None` when
/// it changes nothing (a duplicate, or older than what is known).
pub fn apply_contact_change(
    existing: Option<&Contact>,
    user_id: UserId,
    change: ContactChange,
    occurred_at: DateTime<Utc>,
) -> Option<Contact> {
    let mut contact = existing.cloned().unwrap_or(Contact {
        user_id,
        email: None,
        email_verified: false,
        email_changed_at: None,
        name: String::new(),
        name_changed_at: None,
    });
    // Later, or at the same instant (a verified address wins over the
    // registration's unverified copy of it).
    let newer = |known: Option<DateTime<Utc>>| known.is_none_or(|known| occurred_at >= known);
    let (email, name) = match change {
        ContactChange::Registered { email, name } => (Some((email, false)), Some(name)),
        ContactChange::EmailVerified { email } => (Some((email, true)), None),
        ContactChange::ProfileUpdated { name } => (None, Some(name)),
    };
    if let Some((email, verified)) = email
        && newer(contact.email_changed_at)
    {
        let same_address = contact.email.as_ref() == Some(&email);
        contact.email_verified = verified || (same_address && contact.email_verified);
        contact.email = Some(email);
        contact.email_changed_at = Some(occurred_at);
    }
    if let Some(name) = name
        && newer(contact.name_changed_at)
    {
        contact.name = name.trim().to_owned();
        contact.name_changed_at = Some(occurred_at);
    }
    if existing == Some(&contact) {
        return None;
    }
    Some(contact)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::Duration;

    use super::*;

    fn email(raw: &str) -> ContactEmail {
        ContactEmail::parse(raw).unwrap()
    }

    #[test]
    fn registration_sets_address_and_name() {
        let user_id = UserId::generate();
        let at = Utc::now();
        let contact = apply_contact_change(
            None,
            user_id,
            ContactChange::Registered {
                email: email("jane@example.com"),
                name: " Jane ".to_owned(),
            },
            at,
        )
        .unwrap();
        assert_eq!(contact.email, Some(email("jane@example.com")));
        assert!(!contact.email_verified);
        assert_eq!(contact.name, "Jane");
        assert_eq!(contact.email_changed_at, Some(at));
    }

    #[test]
    fn a_profile_update_before_the_registration_keeps_the_address_unknown_then_the_newer_name() {
        let user_id = UserId::generate();
        let registered_at = Utc::now();
        let updated_at = registered_at + Duration::seconds(5);
        let updated = apply_contact_change(
            None,
            user_id,
            ContactChange::ProfileUpdated {
                name: "Jane D.".to_owned(),
            },
            updated_at,
        )
        .unwrap();
        assert_eq!(updated.email, None);
        // The registration arrives late: its address is taken, its older
        // name is not.
        let registered = apply_contact_change(
            Some(&updated),
            user_id,
            ContactChange::Registered {
                email: email("jane@example.com"),
                name: "Jane".to_owned(),
            },
            registered_at,
        )
        .unwrap();
        assert_eq!(registered.email, Some(email("jane@example.com")));
        assert_eq!(registered.name, "Jane D.");
    }

    #[test]
    fn verification_marks_the_address_and_a_late_registration_does_not_undo_it() {
        let user_id = UserId::generate();
        let at = Utc::now();
        let registration = ContactChange::Registered {
            email: email("jane@example.com"),
            name: "Jane".to_owned(),
        };
        let registered = apply_contact_change(None, user_id, registration.clone(), at).unwrap();
        let verified = apply_contact_change(
            Some(&registered),
            user_id,
            ContactChange::EmailVerified {
                email: email("jane@example.com"),
            },
            at + Duration::seconds(1),
        )
        .unwrap();
        assert!(verified.email_verified);
        // The same registration again (a duplicate): nothing changes.
        assert_eq!(
            apply_contact_change(Some(&verified), user_id, registration, at),
            None
        );
        // The same event again: nothing changes either.
        assert_eq!(
            apply_contact_change(
                Some(&verified),
                user_id,
                ContactChange::EmailVerified {
                    email: email("jane@example.com"),
                },
                at + Duration::seconds(1),
            ),
            None
        );
    }
}
