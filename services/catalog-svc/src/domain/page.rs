//! ListProducts paging: page sizes, filters, and opaque page tokens.
//!
//! Keyset pagination, newest first: a page is the products strictly after
//! the last one of the previous page in `(created_at DESC, id DESC)` order.
//! Products created while a client pages are newer than its position, so
//! they never shift later pages (no duplicates, no gaps); they show up on
//! a fresh first page.
//!
//! The token is base64url (no padding) of: a format byte, the position
//! (`created_at` in microseconds, the product id) and the first 8 bytes of
//! a SHA-256 of the filter. A token replayed with another filter (status,
//! query or category) is refused (INVALID_ARGUMENT `page_token`) instead of
//! silently paging through a different list. `page_size` is not part of the
//! fingerprint: AIP-158 lets it change between pages. The token is not
//! signed: a forged one can only move the position, and visibility is
//! enforced by the query, not by the token.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use crate::domain::actor::Actor;
use crate::domain::lifecycle::ProductStatus;
use crate::domain::model::ProductId;
use crate::domain::validation::{CategorySlug, InvalidValue, SearchQuery};

/// Products per page when the request says 0 (the proto's default).
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// Larger requests are capped to this (the proto's maximum).
pub const MAX_PAGE_SIZE: u32 = 200;

/// A page size within `1..=MAX_PAGE_SIZE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageSize(u32);

impl PageSize {
    /// 0 means the default; anything outside 1..=[`MAX_PAGE_SIZE`] is
    /// INVALID_ARGUMENT (the issue asks for a refusal rather than AIP-158's
    /// silent cap, so a client learns the limit instead of missing rows).
    pub fn from_request(requested: i32) -> Result<Self, InvalidValue> {
        match u32::try_from(requested) {
            Ok(0) => Ok(Self(DEFAULT_PAGE_SIZE)),
            Ok(size) if size <= MAX_PAGE_SIZE => Ok(Self(size)),
            _ => Err(InvalidValue::new(format!(
                "must be between 0 (the default, {DEFAULT_PAGE_SIZE}) and {MAX_PAGE_SIZE}, got {requested}"
            ))),
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// What ListProducts filters on, as the caller asked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProductFilter {
    pub status: Option<ProductStatus>,
    pub query: Option<SearchQuery>,
    pub category: Option<CategorySlug>,
}

/// Which statuses a listing may return, once the caller's visibility is
/// applied to the requested status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusScope {
    Any,
    Only(ProductStatus),
    /// The caller asked for a status it may not see: the page is empty.
    Nothing,
}

impl ProductFilter {
    /// Admins see every status; everyone else published products only.
    pub fn status_scope(&self, actor: &Actor) -> StatusScope {
        match (self.status, actor.sees_unpublished()) {
            (None, true) => StatusScope::Any,
            (Some(status), true) => StatusScope::Only(status),
            (None, false) => StatusScope::Only(ProductStatus::Published),
            (Some(status), false) if status.is_visible_to_shoppers() => StatusScope::Only(status),
            (Some(_), false) => StatusScope::Nothing,
        }
    }

    fn fingerprint(&self) -> [u8; FINGERPRINT_LEN] {
        let mut hasher = Sha256::new();
        // Tagged and length-prefixed, so no two filters share an encoding.
        let mut feed = |tag: u8, value: Option<&str>| {
            hasher.update([tag]);
            match value {
                None => hasher.update([0]),
                Some(value) => {
                    hasher.update([1]);
                    hasher.update((value.len() as u64).to_be_bytes());
                    hasher.update(value.as_bytes());
                }
            }
        };
        feed(b's', self.status.map(ProductStatus::as_str));
        feed(b'q', self.query.as_ref().map(SearchQuery::as_str));
        feed(b'c', self.category.as_ref().map(CategorySlug::as_str));
        let digest = hasher.finalize();
        let mut fingerprint = [0; FINGERPRINT_LEN];
        fingerprint.copy_from_slice(&digest[..FINGERPRINT_LEN]);
        fingerprint
    }
}

/// A position in the `(created_at DESC, id DESC)` order: the last product
/// of a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: ProductId,
}

const TOKEN_FORMAT: u8 = 1;
const FINGERPRINT_LEN: usize = 8;
const TOKEN_LEN: usize = 1 + 8 + 16 + FINGERPRINT_LEN;

/// The `next_page_token` continuing after `cursor` under `filter`.
pub fn encode_page_token(cursor: &Cursor, filter: &ProductFilter) -> String {
    let mut bytes = Vec::with_capacity(TOKEN_LEN);
    bytes.push(TOKEN_FORMAT);
    bytes.extend_from_slice(&cursor.created_at.timestamp_micros().to_be_bytes());
    bytes.extend_from_slice(cursor.id.as_uuid().as_bytes());
    bytes.extend_from_slice(&filter.fingerprint());
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The position a `page_token` continues from; `None` for the first page.
pub fn decode_page_token(
    token: &str,
    filter: &ProductFilter,
) -> Result<Option<Cursor>, InvalidValue> {
    if token.is_empty() {
        return Ok(None);
    }
    let malformed = || InvalidValue::new("is not a page token returned by ListProducts");
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| malformed())?;
    if bytes.len() != TOKEN_LEN || bytes[0] != TOKEN_FORMAT {
        return Err(malformed());
    }
    let (micros, rest) = bytes[1..].split_at(8);
    let (id, fingerprint) = rest.split_at(16);
    if fingerprint != filter.fingerprint() {
        return Err(InvalidValue::new(
            "was issued for a different status, query or category; start again without a token",
        ));
    }
    let micros = i64::from_be_bytes(micros.try_into().map_err(|_| malformed())?);
    let created_at = DateTime::<Utc>::from_timestamp_micros(micros).ok_or_else(malformed)?;
    let id = Uuid::from_slice(id).map_err(|_| malformed())?;
    Ok(Some(Cursor {
        created_at,
        id: ProductId::from_uuid(id),
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn filter(status: Option<ProductStatus>, query: &str, category: &str) -> ProductFilter {
        ProductFilter {
            status,
            query: SearchQuery::parse_optional(query).unwrap(),
            category: (!category.is_empty()).then(|| CategorySlug::parse(category).unwrap()),
        }
    }

    fn cursor() -> Cursor {
        Cursor {
            created_at: DateTime::<Utc>::from_timestamp_micros(1_767_225_600_123_456).unwrap(),
            id: ProductId::generate(),
        }
    }

    #[test]
    fn page_sizes_default_and_refuse_out_of_range() {
        assert_eq!(PageSize::from_request(0).unwrap().get(), DEFAULT_PAGE_SIZE);
        assert_eq!(PageSize::from_request(1).unwrap().get(), 1);
        assert_eq!(PageSize::from_request(200).unwrap().get(), 200);
        assert!(PageSize::from_request(201).is_err());
        assert!(PageSize::from_request(i32::MAX).is_err());
        assert!(PageSize::from_request(-1).is_err());
        assert!(PageSize::from_request(i32::MIN).is_err());
    }

    #[test]
    fn a_token_round_trips_under_the_same_filter() {
        let filter = filter(Some(ProductStatus::Published), "trail", "shoes");
        let position = cursor();
        let token = encode_page_token(&position, &filter);
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(decode_page_token(&token, &filter).unwrap(), Some(position));
        assert_eq!(decode_page_token("", &filter).unwrap(), None);
    }

    #[test]
    fn a_token_is_refused_under_any_other_filter() {
        let original = filter(Some(ProductStatus::Published), "trail", "shoes");
        let token = encode_page_token(&cursor(), &original);
        for other in [
            filter(None, "trail", "shoes"),
            filter(Some(ProductStatus::Draft), "trail", "shoes"),
            filter(Some(ProductStatus::Published), "", "shoes"),
            filter(Some(ProductStatus::Published), "road", "shoes"),
            filter(Some(ProductStatus::Published), "trail", ""),
            filter(Some(ProductStatus::Published), "trail", "shoes/running"),
        ] {
            assert!(decode_page_token(&token, &other).is_err(), "{other:?}");
        }
    }

    #[test]
    fn fingerprints_do_not_confuse_fields() {
        // The same text as query or as category must not collide.
        assert_ne!(
            filter(None, "shoes", "").fingerprint(),
            filter(None, "", "shoes").fingerprint()
        );
    }

    #[test]
    fn garbage_tokens_are_refused() {
        let filter = ProductFilter::default();
        let valid = encode_page_token(&cursor(), &filter);
        for bad in [
            "x",
            "not base64!",
            &valid[..valid.len() - 2],
            &format!("{valid}AA"),
            &URL_SAFE_NO_PAD.encode([9_u8; TOKEN_LEN]),
        ] {
            assert!(decode_page_token(bad, &filter).is_err(), "{bad}");
        }
    }

    #[test]
    fn visibility_narrows_the_status_filter() {
        let admin = Actor::Admin {
            user_id: Uuid::nil(),
        };
        let shopper = Actor::Anonymous;
        let customer = Actor::Customer {
            user_id: Uuid::nil(),
        };
        let any = ProductFilter::default();
        assert_eq!(any.status_scope(&admin), StatusScope::Any);
        assert_eq!(
            any.status_scope(&shopper),
            StatusScope::Only(ProductStatus::Published)
        );
        for status in ProductStatus::ALL {
            let only = filter(Some(status), "", "");
            assert_eq!(only.status_scope(&admin), StatusScope::Only(status));
            let expected = if status == ProductStatus::Published {
                StatusScope::Only(status)
            } else {
                StatusScope::Nothing
            };
            assert_eq!(only.status_scope(&shopper), expected, "{status}");
            assert_eq!(only.status_scope(&customer), expected, "{status}");
        }
    }
}
