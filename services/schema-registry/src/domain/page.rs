//! ListSubjects / ListVersions paging: page sizes and opaque page tokens.
//!
//! Keyset pagination: a page is the subjects (by name, bytewise) or the
//! versions (by number) strictly after the last one of the previous page,
//! so registrations while a client pages never shift later pages.
//!
//! The token is base64url (no padding) of a format byte, the listing's kind
//! (`S` subjects, `V` versions), the `include_deleted` flag, the first 8
//! bytes of a SHA-256 of the subject (versions; zeros for subjects) and the
//! position (the last subject's name, or the last version as 4 big-endian
//! bytes). A token replayed on another listing, subject or
//! `include_deleted` is refused (INVALID_ARGUMENT `page_token`) instead of
//! silently paging through a different list. `page_size` may change
//! between pages (AIP-158). The token is not signed: a forged one can only
//! move the position.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};

use crate::domain::error::InvalidValue;
use crate::domain::values::{Subject, Version};

/// Entries per page when the request says 0.
pub const DEFAULT_PAGE_SIZE: u32 = 100;
/// Larger requests are capped to this.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// A page size within `1..=MAX_PAGE_SIZE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageSize(u32);

impl PageSize {
    /// 0 means the default, more than [`MAX_PAGE_SIZE`] is capped (as the
    /// proto says), a negative size is refused.
    pub fn from_request(requested: i32) -> Result<Self, InvalidValue> {
        match u32::try_from(requested) {
            Ok(0) => Ok(Self(DEFAULT_PAGE_SIZE)),
            Ok(size) => Ok(Self(size.min(MAX_PAGE_SIZE))),
            Err(_) => Err(InvalidValue::new(format!(
                "must not be negative, got {requested}"
            ))),
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

const TOKEN_FORMAT: u8 = 1;
const KIND_SUBJECTS: u8 = b'S';
const KIND_VERSIONS: u8 = b'V';
const SCOPE_LEN: usize = 8;
const HEADER_LEN: usize = 3 + SCOPE_LEN;

fn scope_of(subject: Option<&Subject>) -> [u8; SCOPE_LEN] {
    let mut scope = [0; SCOPE_LEN];
    if let Some(subject) = subject {
        let digest = Sha256::digest(subject.as_str().as_bytes());
        scope.copy_from_slice(&digest[..SCOPE_LEN]);
    }
    scope
}

fn encode(kind: u8, include_deleted: bool, scope: [u8; SCOPE_LEN], position: &[u8]) -> String {
    let mut bytes = Vec::with_capacity(HEADER_LEN + position.len());
    bytes.extend_from_slice(&[TOKEN_FORMAT, kind, u8::from(include_deleted)]);
    bytes.extend_from_slice(&scope);
    bytes.extend_from_slice(position);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn not_ours() -> InvalidValue {
    InvalidValue::new("is not a token this listing issued")
}

/// The position bytes of `token`, if it was issued for this listing.
fn decode(
    token: &str,
    kind: u8,
    include_deleted: bool,
    scope: [u8; SCOPE_LEN],
) -> Result<Vec<u8>, InvalidValue> {
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| not_ours())?;
    let Some((header, position)) = bytes.split_at_checked(HEADER_LEN) else {
        return Err(not_ours());
    };
    let expected_flags = [TOKEN_FORMAT, kind, u8::from(include_deleted)];
    if header[..3] != expected_flags || header[3..] != scope {
        return Err(not_ours());
    }
    Ok(position.to_vec())
}

/// ListSubjects' `next_page_token`: after `last`.
pub fn subjects_token(last: &Subject, include_deleted: bool) -> String {
    encode(
        KIND_SUBJECTS,
        include_deleted,
        scope_of(None),
        last.as_str().as_bytes(),
    )
}

/// The subject a ListSubjects page starts after; `None` for an empty token.
pub fn subjects_after(token: &str, include_deleted: bool) -> Result<Option<String>, InvalidValue> {
    if token.is_empty() {
        return Ok(None);
    }
    let position = decode(token, KIND_SUBJECTS, include_deleted, scope_of(None))?;
    let last = String::from_utf8(position).map_err(|_| not_ours())?;
    Subject::parse(&last).map_err(|_| not_ours())?;
    Ok(Some(last))
}

/// ListVersions' `next_page_token`: after `last` of `subject`.
pub fn versions_token(subject: &Subject, last: Version, include_deleted: bool) -> String {
    encode(
        KIND_VERSIONS,
        include_deleted,
        scope_of(Some(subject)),
        &last.get().to_be_bytes(),
    )
}

/// The version a ListVersions page of `subject` starts after; `None` for
/// an empty token.
pub fn versions_after(
    token: &str,
    subject: &Subject,
    include_deleted: bool,
) -> Result<Option<Version>, InvalidValue> {
    if token.is_empty() {
        return Ok(None);
    }
    let position = decode(
        token,
        KIND_VERSIONS,
        include_deleted,
        scope_of(Some(subject)),
    )?;
    let raw: [u8; 4] = position.as_slice().try_into().map_err(|_| not_ours())?;
    Version::parse(i32::from_be_bytes(raw))
        .map(Some)
        .map_err(|_| not_ours())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn page_sizes_default_cap_and_refuse_negatives() {
        assert_eq!(PageSize::from_request(0).unwrap().get(), 100);
        assert_eq!(PageSize::from_request(7).unwrap().get(), 7);
        assert_eq!(PageSize::from_request(1000).unwrap().get(), 1000);
        assert_eq!(PageSize::from_request(1001).unwrap().get(), 1000);
        assert_eq!(PageSize::from_request(i32::MAX).unwrap().get(), 1000);
        assert!(PageSize::from_request(-1).is_err());
    }

    #[test]
    fn subject_tokens_round_trip_and_refuse_other_listings() {
        let subject = Subject::parse("orders.order_placed.v1").unwrap();
        let token = subjects_token(&subject, false);
        assert_eq!(
            subjects_after(&token, false).unwrap().as_deref(),
            Some("orders.order_placed.v1")
        );
        assert_eq!(subjects_after("", false).unwrap(), None);
        assert!(subjects_after(&token, true).is_err());
        assert!(subjects_after("orders.order_placed.v1", false).is_err());
        assert!(subjects_after("!!!", false).is_err());
        let versions = versions_token(&subject, Version::FIRST, false);
        assert!(subjects_after(&versions, false).is_err());
    }

    #[test]
    fn version_tokens_are_bound_to_their_subject() {
        let subject = Subject::parse("a").unwrap();
        let other = Subject::parse("b").unwrap();
        let token = versions_token(&subject, Version::from_stored(42), true);
        assert_eq!(
            versions_after(&token, &subject, true).unwrap(),
            Some(Version::from_stored(42))
        );
        assert_eq!(versions_after("", &subject, true).unwrap(), None);
        assert!(versions_after(&token, &other, true).is_err());
        assert!(versions_after(&token, &subject, false).is_err());
        let zero = encode(
            KIND_VERSIONS,
            true,
            scope_of(Some(&subject)),
            &0_i32.to_be_bytes(),
        );
        assert!(versions_after(&zero, &subject, true).is_err());
        let short = encode(KIND_VERSIONS, true, scope_of(Some(&subject)), &[1]);
        assert!(versions_after(&short, &subject, true).is_err());
    }
}
