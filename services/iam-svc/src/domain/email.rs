//! Email addresses: validated and normalized once, at the edge.
//!
//! # Normalization: the whole address is lower-cased
//!
//! RFC 5321 lets a mail server treat the local part (before the `@`) as case
//! sensitive, but no mainstream provider does, and the issue asks for emails
//! that are "normalized" and "unique case-insensitively". Lower-casing the
//! whole address gives every account one canonical spelling: a plain unique
//! index on the stored column is then the case-insensitive uniqueness check
//! (no `citext`, no `lower()` index), and sign-in finds the account however the
//! user types it. The address is not otherwise rewritten (no removal of dots
//! or `+tags`): those are different mailboxes on most providers.
//!
//! # What is accepted
//!
//! A pragmatic subset of RFC 5321/5322, close to the HTML living standard's
//! "valid email address":
//! - at most 254 octets in all and 64 before the `@` (RFC 5321's limits);
//!   since only ASCII is accepted, octets and characters are the same;
//! - exactly one `@`;
//! - before it, a dot-atom: letters, digits and ``!#$%&'*+/=?^_`{|}~-``,
//!   separated by single dots (no quoted local parts, no comments);
//! - after it, at least two dot-separated labels of 1 to 63 letters, digits or
//!   hyphens, none starting or ending with a hyphen, the last not all digits
//!   (so no IP literals such as `1.2.3.4`);
//! - no whitespace or control characters anywhere (surrounding whitespace is
//!   trimmed first).
//!
//! Internationalized addresses (SMTPUTF8) are refused; an internationalized
//! domain is accepted in its ASCII (`xn--`) form.

use std::fmt;
use std::str::FromStr;

/// Largest accepted address, in octets (RFC 5321 path limit less the brackets).
pub const MAX_EMAIL_LEN: usize = 254;
/// Largest accepted local part (before the `@`), in octets (RFC 5321).
pub const MAX_LOCAL_PART_LEN: usize = 64;
/// Largest domain label, in octets (RFC 1035).
const MAX_DOMAIN_LABEL_LEN: usize = 63;

/// A syntactically valid, lower-cased email address.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmailAddress {
    address: String,
    at: usize,
}

impl EmailAddress {
    /// Trims, validates and lower-cases `input`.
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(EmailError::Empty);
        }
        if let Some(character) = trimmed
            .chars()
            .find(|character| character.is_whitespace() || character.is_control())
        {
            return Err(EmailError::WhitespaceOrControl { character });
        }
        if !trimmed.is_ascii() {
            return Err(EmailError::NonAscii);
        }
        if trimmed.len() > MAX_EMAIL_LEN {
            return Err(EmailError::TooLong);
        }

        let mut parts = trimmed.split('@');
        let (Some(local_part), Some(domain)) = (parts.next(), parts.next()) else {
            return Err(EmailError::MissingAt);
        };
        if parts.next().is_some() {
            return Err(EmailError::MoreThanOneAt);
        }
        validate_local_part(local_part)?;
        validate_domain(domain)?;

        Ok(Self {
            address: trimmed.to_ascii_lowercase(),
            at: local_part.len(),
        })
    }

    /// The normalized address, e.g. `jane.doe+shop@example.com`.
    pub fn as_str(&self) -> &str {
        &self.address
    }

    /// The part before the `@`, lower case.
    pub fn local_part(&self) -> &str {
        &self.address[..self.at]
    }

    /// The part after the `@`, lower case.
    pub fn domain(&self) -> &str {
        &self.address[self.at + 1..]
    }

    /// The normalized address, owned.
    pub fn into_string(self) -> String {
        self.address
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_tuple("EmailAddress")
            .field(&self.address)
            .finish()
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.address)
    }
}

impl AsRef<str> for EmailAddress {
    fn as_ref(&self) -> &str {
        &self.address
    }
}

impl FromStr for EmailAddress {
    type Err = EmailError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Self::parse(input)
    }
}

fn validate_local_part(local_part: &str) -> Result<(), EmailError> {
    if local_part.is_empty() {
        return Err(EmailError::EmptyLocalPart);
    }
    if local_part.len() > MAX_LOCAL_PART_LEN {
        return Err(EmailError::LocalPartTooLong);
    }
    if let Some(character) = local_part
        .chars()
        .find(|character| *character != '.' && !is_atext(*character))
    {
        return Err(EmailError::InvalidLocalPartCharacter { character });
    }
    if local_part.starts_with('.') || local_part.ends_with('.') || local_part.contains("..") {
        return Err(EmailError::LocalPartDots);
    }
    Ok(())
}

/// RFC 5322 `atext`, ASCII only.
fn is_atext(character: char) -> bool {
    character.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(character)
}

fn validate_domain(domain: &str) -> Result<(), EmailError> {
    if domain.is_empty() {
        return Err(EmailError::EmptyDomain);
    }
    if !domain.contains('.') {
        return Err(EmailError::DomainWithoutDot);
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.iter().any(|label| label.is_empty()) {
        return Err(EmailError::DomainDots);
    }
    if let Some(label) = labels.iter().find(|label| !is_valid_label(label)) {
        return Err(EmailError::InvalidDomainLabel {
            label: (*label).to_owned(),
        });
    }
    let is_numeric = |label: &&str| label.bytes().all(|byte| byte.is_ascii_digit());
    if labels.last().is_some_and(is_numeric) {
        return Err(EmailError::NumericTopLevelDomain);
    }
    Ok(())
}

/// An RFC 1035 "LDH" label: letters, digits and hyphens, 1 to 63 long, no
/// hyphen at either end.
fn is_valid_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= MAX_DOMAIN_LABEL_LEN
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
}

/// Why a string is not an acceptable email address. `Display` names the field
/// and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("email must not be empty")]
    Empty,
    #[error("email must be at most {MAX_EMAIL_LEN} characters long")]
    TooLong,
    #[error("email must not contain whitespace or control characters (found {character:?})")]
    WhitespaceOrControl { character: char },
    #[error(
        "email must contain only ASCII characters (write an internationalized domain in its xn-- form)"
    )]
    NonAscii,
    #[error("email must contain an @")]
    MissingAt,
    #[error("email must contain exactly one @")]
    MoreThanOneAt,
    #[error("email must have a name before the @")]
    EmptyLocalPart,
    #[error("email must have at most {MAX_LOCAL_PART_LEN} characters before the @")]
    LocalPartTooLong,
    #[error("email must not contain {character:?} before the @")]
    InvalidLocalPartCharacter { character: char },
    #[error("email must not start or end with a dot before the @, nor have two dots in a row")]
    LocalPartDots,
    #[error("email must have a domain after the @")]
    EmptyDomain,
    #[error("email domain must contain a dot, as in example.com")]
    DomainWithoutDot,
    #[error("email domain must not start or end with a dot, nor have two dots in a row")]
    DomainDots,
    #[error(
        "email domain part {label:?} must be 1 to {MAX_DOMAIN_LABEL_LEN} letters, digits or hyphens, \
         not starting or ending with a hyphen"
    )]
    InvalidDomainLabel { label: String },
    #[error("email domain must end in a name, not a number")]
    NumericTopLevelDomain,
}

impl EmailError {
    /// The request field every email error is about.
    pub const fn field(&self) -> &'static str {
        "email"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &str) -> Result<String, EmailError> {
        EmailAddress::parse(input).map(EmailAddress::into_string)
    }

    #[test]
    fn accepts_ordinary_addresses() {
        for address in [
            "jane@example.com",
            "jane.doe@example.co.uk",
            "jane+shop@example.com",
            "o'brien@example.ie",
            "user_name-1@sub-domain.example.org",
            "a@b.co",
            "x@xn--bcher-kva.example",
            "!#$%&'*+/=?^_`{|}~-@example.com",
            "1234@123.example.com",
        ] {
            assert_eq!(parse(address).as_deref(), Ok(address), "{address}");
        }
    }

    #[test]
    fn the_whole_address_is_lower_cased() {
        let email = EmailAddress::parse("Jane.DOE@Example.COM").unwrap();
        assert_eq!(email.as_str(), "jane.doe@example.com");
        assert_eq!(email.local_part(), "jane.doe");
        assert_eq!(email.domain(), "example.com");
        assert_eq!(email.to_string(), "jane.doe@example.com");
    }

    #[test]
    fn differently_cased_spellings_are_equal() {
        assert_eq!(
            EmailAddress::parse("JANE@EXAMPLE.COM").unwrap(),
            EmailAddress::parse("jane@example.com").unwrap()
        );
    }

    #[test]
    fn surrounding_whitespace_is_trimmed() {
        assert_eq!(
            parse("  \tjane@example.com\n ").as_deref(),
            Ok("jane@example.com")
        );
    }

    #[test]
    fn empty_and_blank_are_refused() {
        assert_eq!(parse(""), Err(EmailError::Empty));
        assert_eq!(parse(" \t\n"), Err(EmailError::Empty));
    }

    #[test]
    fn whitespace_and_control_characters_inside_are_refused() {
        assert_eq!(
            parse("jane doe@example.com"),
            Err(EmailError::WhitespaceOrControl { character: ' ' })
        );
        assert_eq!(
            parse("jane@exam\u{0}ple.com"),
            Err(EmailError::WhitespaceOrControl { character: '\0' })
        );
        assert_eq!(
            parse("jane@example.com\u{7f}x"),
            Err(EmailError::WhitespaceOrControl {
                character: '\u{7f}'
            })
        );
        assert_eq!(
            parse("jane\u{a0}@example.com"),
            Err(EmailError::WhitespaceOrControl {
                character: '\u{a0}'
            })
        );
    }

    #[test]
    fn non_ascii_is_refused() {
        assert_eq!(parse("jäne@example.com"), Err(EmailError::NonAscii));
        assert_eq!(parse("jane@bücher.example"), Err(EmailError::NonAscii));
    }

    #[test]
    fn the_at_sign_must_appear_exactly_once() {
        assert_eq!(parse("jane.example.com"), Err(EmailError::MissingAt));
        assert_eq!(
            parse("jane@doe@example.com"),
            Err(EmailError::MoreThanOneAt)
        );
        assert_eq!(parse("@example.com"), Err(EmailError::EmptyLocalPart));
        assert_eq!(parse("jane@"), Err(EmailError::EmptyDomain));
        assert_eq!(parse("@"), Err(EmailError::EmptyLocalPart));
    }

    #[test]
    fn total_length_boundary_is_254() {
        let local_part = "a".repeat(64);
        // 64 + 1 + 189 = 254, with 63-character labels and a short one.
        let domain = format!(
            "{}.{}.{}.com",
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(57)
        );
        let at_limit = format!("{local_part}@{domain}");
        assert_eq!(at_limit.len(), 254);
        assert!(parse(&at_limit).is_ok());

        let domain = format!(
            "{}.{}.{}.com",
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(58)
        );
        let over_limit = format!("{local_part}@{domain}");
        assert_eq!(over_limit.len(), 255);
        assert_eq!(parse(&over_limit), Err(EmailError::TooLong));
    }

    #[test]
    fn oversized_input_is_refused_before_it_is_split() {
        let huge = format!("{}@example.com", "a".repeat(100_000));
        assert_eq!(parse(&huge), Err(EmailError::TooLong));
    }

    #[test]
    fn local_part_length_boundary_is_64() {
        assert!(parse(&format!("{}@example.com", "a".repeat(64))).is_ok());
        assert_eq!(
            parse(&format!("{}@example.com", "a".repeat(65))),
            Err(EmailError::LocalPartTooLong)
        );
    }

    #[test]
    fn local_part_characters_and_dots_are_checked() {
        assert_eq!(
            parse("jane(doe)@example.com"),
            Err(EmailError::InvalidLocalPartCharacter { character: '(' })
        );
        assert_eq!(
            parse("\"jane\"@example.com"),
            Err(EmailError::InvalidLocalPartCharacter { character: '"' })
        );
        assert_eq!(parse(".jane@example.com"), Err(EmailError::LocalPartDots));
        assert_eq!(parse("jane.@example.com"), Err(EmailError::LocalPartDots));
        assert_eq!(parse("ja..ne@example.com"), Err(EmailError::LocalPartDots));
    }

    #[test]
    fn domain_needs_a_dot_and_well_formed_labels() {
        assert_eq!(parse("jane@localhost"), Err(EmailError::DomainWithoutDot));
        assert_eq!(parse("jane@.example.com"), Err(EmailError::DomainDots));
        assert_eq!(parse("jane@example.com."), Err(EmailError::DomainDots));
        assert_eq!(parse("jane@example..com"), Err(EmailError::DomainDots));
        assert_eq!(
            parse("jane@-example.com"),
            Err(EmailError::InvalidDomainLabel {
                label: "-example".to_owned()
            })
        );
        assert_eq!(
            parse("jane@example-.com"),
            Err(EmailError::InvalidDomainLabel {
                label: "example-".to_owned()
            })
        );
        assert_eq!(
            parse("jane@example.com-"),
            Err(EmailError::InvalidDomainLabel {
                label: "com-".to_owned()
            })
        );
        assert_eq!(
            parse("jane@exa_mple.com"),
            Err(EmailError::InvalidDomainLabel {
                label: "exa_mple".to_owned()
            })
        );
        assert_eq!(
            parse("jane@[127.0.0.1]"),
            Err(EmailError::InvalidDomainLabel {
                label: "[127".to_owned()
            })
        );
    }

    #[test]
    fn label_length_boundary_is_63() {
        assert!(parse(&format!("jane@{}.com", "a".repeat(63))).is_ok());
        let long_label = "a".repeat(64);
        assert_eq!(
            parse(&format!("jane@{long_label}.com")),
            Err(EmailError::InvalidDomainLabel { label: long_label })
        );
    }

    #[test]
    fn numeric_top_level_domains_are_refused() {
        assert_eq!(
            parse("jane@127.0.0.1"),
            Err(EmailError::NumericTopLevelDomain)
        );
    }

    #[test]
    fn errors_name_the_field() {
        for input in ["", "jane", "a@b@c.d", "jane@localhost", "jäne@example.com"] {
            let error = EmailAddress::parse(input).unwrap_err();
            assert_eq!(error.field(), "email");
            assert!(error.to_string().starts_with("email "), "{error}");
        }
    }

    #[test]
    fn from_str_parses() {
        let email: EmailAddress = "Jane@Example.com".parse().unwrap();
        assert_eq!(email.as_ref(), "jane@example.com");
    }
}
