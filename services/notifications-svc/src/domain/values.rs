//! Validated values: a value of one of these types has passed its rules, so
//! the rest of the service never re-checks it.

use std::fmt;

pub use ecommerce_kernel::PageSize;

use crate::domain::error::InvalidValue;

/// Longest address stored (RFC 5321's path limit is 256; 320 is the usual
/// local part + domain bound).
pub const EMAIL_MAX_CHARS: usize = 320;

ecommerce_kernel::uuid_id!(
    /// Id of a customer (minted by iam-svc).
    UserId
);
ecommerce_kernel::uuid_id!(
    /// Id of an order (minted by orders-svc).
    OrderId
);
ecommerce_kernel::uuid_id!(
    /// Id of an event (its envelope id, UUID v7).
    EventId
);
ecommerce_kernel::uuid_id!(
    /// Id of a notification (UUID v7, so id order is recording order).
    NotificationId
);

/// A customer's email address as IAM's events carry it: trimmed, lower
/// case, `local@domain` with both halves non-empty, no whitespace or
/// control characters, at most 320 characters. IAM checked it already;
/// this only refuses what could not be mailed at all.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ContactEmail(String);

impl ContactEmail {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let email = raw.trim().to_lowercase();
        if email.is_empty() {
            return Err(InvalidValue::new("must not be empty"));
        }
        let chars = email.chars().count();
        if chars > EMAIL_MAX_CHARS {
            return Err(InvalidValue::new(format!(
                "must be at most {EMAIL_MAX_CHARS} characters, got {chars}"
            )));
        }
        if email
            .chars()
            .any(|character| character.is_whitespace() || character.is_control())
        {
            return Err(InvalidValue::new(
                "must not contain whitespace or control characters",
            ));
        }
        match email.rsplit_once('@') {
            Some((local, domain)) if !local.is_empty() && !domain.is_empty() => Ok(Self(email)),
            _ => Err(InvalidValue::new("is not an email address (local@domain)")),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the last `@` (what logs may show).
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }

    pub fn from_stored(value: String) -> Self {
        Self(value)
    }
}

/// Only the domain: an address is personal data.
impl fmt::Debug for ContactEmail {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "ContactEmail(<hidden>@{})", self.domain())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn emails_are_trimmed_lowered_and_need_both_halves() {
        let email = ContactEmail::parse("  Jane.Doe@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "jane.doe@example.com");
        assert_eq!(email.domain(), "example.com");
        assert!(!format!("{email:?}").contains("jane"));
        for bad in [
            "",
            "  ",
            "jane",
            "@example.com",
            "jane@",
            "ja ne@x.io",
            "a\u{7}@x.io",
        ] {
            assert!(ContactEmail::parse(bad).is_err(), "{bad:?}");
        }
        let long = format!("{}@example.com", "a".repeat(320));
        assert!(ContactEmail::parse(&long).is_err());
    }

    #[test]
    fn ids_are_non_nil_uuids() {
        let id = NotificationId::generate();
        assert_eq!(NotificationId::parse(&id.to_string()).unwrap(), id);
        assert!(UserId::parse("").is_err());
        assert!(UserId::parse(&uuid::Uuid::nil().to_string()).is_err());
    }
}
