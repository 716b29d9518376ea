//! Validated values: a value of one of these types has passed its rules, so
//! the rest of the service never re-checks it.
//!
//! Each `parse` returns an [`InvalidValue`] (the reason only); the gRPC
//! conversion knows which request field the value came from and turns it
//! into an [`InvalidField`] naming it (`InvalidValue::at`).
//!
//! Rules, and why:
//! - Lengths count Unicode scalar values (what a person would call
//!   characters), never bytes.
//! - Control characters are refused everywhere (newlines and tabs are
//!   allowed in descriptions only): they break logs and displays, and
//!   Postgres `text` cannot hold NUL at all.
//! - Titles, brands, alt texts and attributes are trimmed; descriptions are
//!   kept as written (Markdown is whitespace-sensitive).
//! - SKU: `[A-Z0-9][A-Z0-9._-]{0,63}`: upper case so that "shoe-42" and
//!   "SHOE-42" can never be two SKUs; no spaces, so it survives CSV exports,
//!   URLs and barcodes. Not normalized: a lower-case SKU is refused, so that
//!   a caller never sees a SKU different from the one it sent.
//! - Category slug: lower-case `[a-z0-9-]` segments joined by `/`, e.g.
//!   `shoes/running`, at most 100 characters.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

// Shared with every service (money parsing returns them too), so a field
// error reads the same wherever it comes from.
pub use ecommerce_kernel::{InvalidField, InvalidValue};

pub const TITLE_MAX_CHARS: usize = 200;
pub const DESCRIPTION_MAX_CHARS: usize = 5000;
pub const BRAND_MAX_CHARS: usize = 100;
pub const MAX_CATEGORIES: usize = 20;
pub const CATEGORY_MAX_CHARS: usize = 100;
pub const MAX_MEDIA: usize = 20;
pub const MEDIA_URL_MAX_CHARS: usize = 2048;
pub const ALT_TEXT_MAX_CHARS: usize = 500;
pub const SKU_MAX_CHARS: usize = 64;
pub const MAX_ATTRIBUTES: usize = 50;
pub const ATTRIBUTE_KEY_MAX_CHARS: usize = 64;
pub const ATTRIBUTE_VALUE_MAX_CHARS: usize = 200;
pub const IDEMPOTENCY_KEY_MAX_CHARS: usize = 128;
pub const SEARCH_QUERY_MAX_CHARS: usize = 200;

/// Checks the length (in characters) and the characters of `value`.
fn check_text(
    value: &str,
    min_chars: usize,
    max_chars: usize,
    allow_line_breaks: bool,
) -> Result<(), InvalidValue> {
    let chars = value.chars().count();
    if chars < min_chars {
        return Err(InvalidValue::new(if min_chars == 1 {
            "must not be empty".to_owned()
        } else {
            format!("must be at least {min_chars} characters")
        }));
    }
    if chars > max_chars {
        return Err(InvalidValue::new(format!(
            "must be at most {max_chars} characters, got {chars}"
        )));
    }
    let refused = |character: char| {
        character.is_control() && !(allow_line_breaks && matches!(character, '\n' | '\r' | '\t'))
    };
    if let Some(position) = value.chars().position(refused) {
        return Err(InvalidValue::new(format!(
            "must not contain control characters (one at character {position})"
        )));
    }
    Ok(())
}

macro_rules! text_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }

            /// A value read back from the catalog's own storage, where only
            /// validated values are written. Not re-validated, so a later
            /// tightening of the rules never makes stored data unreadable.
            // Generated for every text value; some are never stored.
            #[allow(dead_code)]
            pub(crate) fn from_stored(value: String) -> Self {
                Self(value)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(&self.0)
            }
        }
    };
}

text_newtype!(
    /// A product's display title: 1 to 200 characters, trimmed.
    Title
);
text_newtype!(
    /// A product's description: at most 5000 characters, kept as written.
    Description
);
text_newtype!(
    /// A brand name: at most 100 characters, trimmed; empty when unbranded.
    Brand
);
text_newtype!(
    /// A category slug such as `shoes/running`.
    CategorySlug
);
text_newtype!(
    /// An absolute `https` URL of a medium, at most 2048 characters.
    MediaUrl
);
text_newtype!(
    /// Alternative text of a medium: at most 500 characters, trimmed.
    AltText
);
text_newtype!(
    /// A stock keeping unit: `[A-Z0-9][A-Z0-9._-]{0,63}`.
    Sku
);
text_newtype!(
    /// A client's idempotency key: 1 to 128 printable ASCII characters.
    IdempotencyKey
);
text_newtype!(
    /// A full-text query: 1 to 200 characters, trimmed.
    SearchQuery
);

impl Title {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let trimmed = raw.trim();
        check_text(trimmed, 1, TITLE_MAX_CHARS, false)?;
        Ok(Self(trimmed.to_owned()))
    }
}

impl Description {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        check_text(raw, 0, DESCRIPTION_MAX_CHARS, true)?;
        Ok(Self(raw.to_owned()))
    }

    pub fn empty() -> Self {
        Self(String::new())
    }
}

impl Brand {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let trimmed = raw.trim();
        check_text(trimmed, 0, BRAND_MAX_CHARS, false)?;
        Ok(Self(trimmed.to_owned()))
    }

    pub fn unbranded() -> Self {
        Self(String::new())
    }
}

impl CategorySlug {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        check_text(raw, 1, CATEGORY_MAX_CHARS, false)?;
        let segment_ok = |segment: &str| {
            !segment.is_empty()
                && !segment.starts_with('-')
                && !segment.ends_with('-')
                && segment
                    .bytes()
                    .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
        };
        if !raw.split('/').all(segment_ok) {
            return Err(InvalidValue::new(
                "must be lower-case [a-z0-9-] segments joined by '/', e.g. \"shoes/running\"",
            ));
        }
        Ok(Self(raw.to_owned()))
    }
}

impl MediaUrl {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        check_text(raw, 1, MEDIA_URL_MAX_CHARS, false)?;
        let parsed = url::Url::parse(raw)
            .map_err(|error| InvalidValue::new(format!("must be an absolute URL ({error})")))?;
        if parsed.scheme() != "https" {
            return Err(InvalidValue::new("must be an https URL"));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(InvalidValue::new("must name a host"));
        }
        // Media URLs are shown to every shopper: credentials must not ride along.
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(InvalidValue::new("must not contain credentials"));
        }
        Ok(Self(raw.to_owned()))
    }
}

impl AltText {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let trimmed = raw.trim();
        check_text(trimmed, 0, ALT_TEXT_MAX_CHARS, false)?;
        Ok(Self(trimmed.to_owned()))
    }
}

impl Sku {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        if raw.is_empty() {
            return Err(InvalidValue::new("must not be empty"));
        }
        let chars = raw.chars().count();
        if chars > SKU_MAX_CHARS {
            return Err(InvalidValue::new(format!(
                "must be at most {SKU_MAX_CHARS} characters, got {chars}"
            )));
        }
        let bytes = raw.as_bytes();
        let first_ok = bytes[0].is_ascii_uppercase() || bytes[0].is_ascii_digit();
        let rest_ok = bytes[1..].iter().all(|byte| {
            byte.is_ascii_uppercase() || byte.is_ascii_digit() || matches!(byte, b'.' | b'_' | b'-')
        });
        if !first_ok || !rest_ok {
            return Err(InvalidValue::new(
                "must match [A-Z0-9][A-Z0-9._-]* (upper case letters, digits, '.', '_', '-')",
            ));
        }
        Ok(Self(raw.to_owned()))
    }
}

impl IdempotencyKey {
    /// `None` for an empty key: the request is then not deduplicated.
    pub fn parse_optional(raw: &str) -> Result<Option<Self>, InvalidValue> {
        if raw.is_empty() {
            return Ok(None);
        }
        if raw.len() > IDEMPOTENCY_KEY_MAX_CHARS {
            return Err(InvalidValue::new(format!(
                "must be at most {IDEMPOTENCY_KEY_MAX_CHARS} characters"
            )));
        }
        if !raw.bytes().all(|byte| byte.is_ascii_graphic()) {
            return Err(InvalidValue::new(
                "must be printable ASCII without spaces (a UUID is recommended)",
            ));
        }
        Ok(Some(Self(raw.to_owned())))
    }
}

impl SearchQuery {
    /// `None` for a blank query, which matches everything.
    pub fn parse_optional(raw: &str) -> Result<Option<Self>, InvalidValue> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Ok(None);
        }
        check_text(trimmed, 1, SEARCH_QUERY_MAX_CHARS, false)?;
        Ok(Some(Self(trimmed.to_owned())))
    }
}

/// A product's category slugs: at most 20, each at most once, in the
/// caller's order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Categories(Vec<CategorySlug>);

impl Categories {
    /// Validates each slug; the error names the index of the bad one
    /// relative to `field` (e.g. `categories[3]`).
    pub fn parse<S: AsRef<str>>(raw: &[S], field: &str) -> Result<Self, InvalidField> {
        if raw.len() > MAX_CATEGORIES {
            return Err(InvalidField::new(
                field,
                format!("at most {MAX_CATEGORIES} categories, got {}", raw.len()),
            ));
        }
        let mut seen = BTreeSet::new();
        let mut slugs = Vec::with_capacity(raw.len());
        for (index, value) in raw.iter().enumerate() {
            let slug = CategorySlug::parse(value.as_ref())
                .map_err(|invalid| invalid.at(format!("{field}[{index}]")))?;
            if !seen.insert(slug.clone()) {
                return Err(InvalidField::new(
                    format!("{field}[{index}]"),
                    format!("duplicates category {slug:?}"),
                ));
            }
            slugs.push(slug);
        }
        Ok(Self(slugs))
    }

    pub fn as_slice(&self) -> &[CategorySlug] {
        &self.0
    }

    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(|slug| slug.as_str().to_owned()).collect()
    }

    pub(crate) fn from_stored(values: Vec<String>) -> Self {
        Self(values.into_iter().map(CategorySlug::from_stored).collect())
    }
}

/// One image or other medium of a product.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MediaItem {
    pub url: MediaUrl,
    pub alt_text: AltText,
}

/// A product's media in display order, at most 20.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct MediaList(Vec<MediaItem>);

impl MediaList {
    /// Validates `(url, alt_text)` pairs; errors name e.g. `media[2].url`.
    pub fn parse<S: AsRef<str>>(raw: &[(S, S)], field: &str) -> Result<Self, InvalidField> {
        if raw.len() > MAX_MEDIA {
            return Err(InvalidField::new(
                field,
                format!("at most {MAX_MEDIA} media, got {}", raw.len()),
            ));
        }
        let mut items = Vec::with_capacity(raw.len());
        for (index, (url, alt_text)) in raw.iter().enumerate() {
            let url = MediaUrl::parse(url.as_ref())
                .map_err(|invalid| invalid.at(format!("{field}[{index}].url")))?;
            let alt_text = AltText::parse(alt_text.as_ref())
                .map_err(|invalid| invalid.at(format!("{field}[{index}].alt_text")))?;
            items.push(MediaItem { url, alt_text });
        }
        Ok(Self(items))
    }

    pub fn as_slice(&self) -> &[MediaItem] {
        &self.0
    }

    pub(crate) fn from_stored(items: Vec<(String, String)>) -> Self {
        Self(
            items
                .into_iter()
                .map(|(url, alt_text)| MediaItem {
                    url: MediaUrl::from_stored(url),
                    alt_text: AltText::from_stored(alt_text),
                })
                .collect(),
        )
    }
}

/// A variant's distinguishing attributes, e.g. `{"size": "42"}`: at most 50,
/// keys 1 to 64 characters, values 1 to 200, both trimmed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Attributes(BTreeMap<String, String>);

impl Attributes {
    /// Errors name the entry, e.g. `attributes[size]`.
    pub fn parse(raw: &BTreeMap<String, String>, field: &str) -> Result<Self, InvalidField> {
        if raw.len() > MAX_ATTRIBUTES {
            return Err(InvalidField::new(
                field,
                format!("at most {MAX_ATTRIBUTES} attributes, got {}", raw.len()),
            ));
        }
        let mut attributes = BTreeMap::new();
        for (key, value) in raw {
            let trimmed_key = key.trim();
            check_text(trimmed_key, 1, ATTRIBUTE_KEY_MAX_CHARS, false).map_err(|invalid| {
                InvalidField::new(format!("{field}[{key}]"), format!("key {}", invalid.0))
            })?;
            let trimmed_value = value.trim();
            check_text(trimmed_value, 1, ATTRIBUTE_VALUE_MAX_CHARS, false)
                .map_err(|invalid| invalid.at(format!("{field}[{key}]")))?;
            // " size" and "size" are distinct map keys on the wire but would
            // collide once trimmed.
            if attributes
                .insert(trimmed_key.to_owned(), trimmed_value.to_owned())
                .is_some()
            {
                return Err(InvalidField::new(
                    format!("{field}[{key}]"),
                    format!("duplicates key {trimmed_key:?} once trimmed"),
                ));
            }
        }
        Ok(Self(attributes))
    }

    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    pub fn into_map(self) -> BTreeMap<String, String> {
        self.0
    }

    pub(crate) fn from_stored(map: BTreeMap<String, String>) -> Self {
        Self(map)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn titles_are_trimmed_required_and_bounded() {
        assert_eq!(
            Title::parse("  Trail Shoe ").unwrap().as_str(),
            "Trail Shoe"
        );
        assert_eq!(
            Title::parse("   ").unwrap_err().0,
            "must not be empty".to_owned()
        );
        assert!(Title::parse(&"é".repeat(TITLE_MAX_CHARS)).is_ok());
        assert!(Title::parse(&"é".repeat(TITLE_MAX_CHARS + 1)).is_err());
        assert!(Title::parse("a\u{0}b").is_err());
        assert!(Title::parse("a\nb").is_err());
    }

    #[test]
    fn descriptions_keep_line_breaks_and_refuse_other_controls() {
        assert_eq!(Description::parse("").unwrap().as_str(), "");
        assert_eq!(Description::parse(" a\n\tb ").unwrap().as_str(), " a\n\tb ");
        assert!(Description::parse("a\u{7}b").is_err());
        assert!(Description::parse(&"x".repeat(DESCRIPTION_MAX_CHARS)).is_ok());
        assert!(Description::parse(&"x".repeat(DESCRIPTION_MAX_CHARS + 1)).is_err());
    }

    #[test]
    fn brands_may_be_empty_but_not_oversized() {
        assert_eq!(Brand::parse("").unwrap(), Brand::unbranded());
        assert_eq!(Brand::parse(" Acme ").unwrap().as_str(), "Acme");
        assert!(Brand::parse(&"b".repeat(BRAND_MAX_CHARS + 1)).is_err());
    }

    #[test]
    fn category_slugs_are_lower_case_segments() {
        for good in ["shoes", "shoes/running", "a-b/c-9", "0"] {
            assert!(CategorySlug::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Shoes",
            "shoes/",
            "/shoes",
            "shoes//running",
            "-shoes",
            "sho es",
            "shoes-",
        ] {
            assert!(CategorySlug::parse(bad).is_err(), "{bad}");
        }
        assert!(CategorySlug::parse(&"a".repeat(CATEGORY_MAX_CHARS + 1)).is_err());
    }

    #[test]
    fn categories_are_bounded_and_name_the_bad_index() {
        let ok = Categories::parse(&["shoes", "shoes/running"], "categories").unwrap();
        assert_eq!(ok.to_strings(), ["shoes", "shoes/running"]);

        let error = Categories::parse(&["shoes", "Bad"], "categories").unwrap_err();
        assert_eq!(error.field, "categories[1]");

        let error = Categories::parse(&["shoes", "shoes"], "product.categories").unwrap_err();
        assert_eq!(error.field, "product.categories[1]");

        let too_many: Vec<String> = (0..=MAX_CATEGORIES).map(|i| format!("c{i}")).collect();
        let error = Categories::parse(&too_many, "categories").unwrap_err();
        assert_eq!(error.field, "categories");
    }

    #[test]
    fn media_need_https_urls_and_name_the_bad_item() {
        let ok =
            MediaList::parse(&[("https://cdn.example.com/a.jpg", " front ")], "media").unwrap();
        assert_eq!(ok.as_slice()[0].alt_text.as_str(), "front");

        for (url, reason_part) in [
            ("http://cdn.example.com/a.jpg", "https"),
            ("cdn.example.com/a.jpg", "absolute"),
            ("https://user:pw@cdn.example.com/a.jpg", "credentials"),
            ("", "empty"),
        ] {
            let error =
                MediaList::parse(&[("https://ok.example/x", ""), (url, "")], "media").unwrap_err();
            assert_eq!(error.field, "media[1].url", "{url}");
            assert!(
                error.reason.contains(reason_part),
                "{url}: {}",
                error.reason
            );
        }

        let error = MediaList::parse(
            &[(
                "https://ok.example/x",
                "a".repeat(ALT_TEXT_MAX_CHARS + 1).as_str(),
            )],
            "media",
        )
        .unwrap_err();
        assert_eq!(error.field, "media[0].alt_text");

        let many: Vec<(&str, &str)> = (0..=MAX_MEDIA)
            .map(|_| ("https://ok.example/x", ""))
            .collect();
        assert_eq!(MediaList::parse(&many, "media").unwrap_err().field, "media");
    }

    #[test]
    fn skus_follow_the_documented_pattern() {
        for good in [
            "SHOE-TRAIL-42-BLU",
            "A",
            "0",
            "A.B_C-D",
            &"A".repeat(SKU_MAX_CHARS),
        ] {
            assert!(Sku::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "shoe-42",
            "-SHOE",
            ".SHOE",
            "SHOE 42",
            "SHOÉ",
            &"A".repeat(SKU_MAX_CHARS + 1),
        ] {
            assert!(Sku::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn attributes_are_bounded_trimmed_and_named() {
        let raw = BTreeMap::from([
            ("size".to_owned(), " 42 ".to_owned()),
            ("color".to_owned(), "blue".to_owned()),
        ]);
        let attributes = Attributes::parse(&raw, "attributes").unwrap();
        assert_eq!(attributes.as_map()["size"], "42");

        let empty_value = BTreeMap::from([("size".to_owned(), " ".to_owned())]);
        let error = Attributes::parse(&empty_value, "attributes").unwrap_err();
        assert_eq!(error.field, "attributes[size]");

        let empty_key = BTreeMap::from([(" ".to_owned(), "x".to_owned())]);
        assert!(Attributes::parse(&empty_key, "attributes").is_err());

        let colliding = BTreeMap::from([
            ("size".to_owned(), "1".to_owned()),
            ("size ".to_owned(), "2".to_owned()),
        ]);
        assert!(Attributes::parse(&colliding, "attributes").is_err());

        let many: BTreeMap<String, String> = (0..=MAX_ATTRIBUTES)
            .map(|i| (format!("k{i}"), "v".to_owned()))
            .collect();
        assert_eq!(
            Attributes::parse(&many, "variant.attributes")
                .unwrap_err()
                .field,
            "variant.attributes"
        );
    }

    #[test]
    fn idempotency_keys_are_optional_printable_and_bounded() {
        assert_eq!(IdempotencyKey::parse_optional("").unwrap(), None);
        assert!(
            IdempotencyKey::parse_optional("0190e0c6-8a8f-7b3e-9b5e-1a2b3c4d5e6f")
                .unwrap()
                .is_some()
        );
        assert!(IdempotencyKey::parse_optional("has space").is_err());
        assert!(
            IdempotencyKey::parse_optional(&"k".repeat(IDEMPOTENCY_KEY_MAX_CHARS + 1)).is_err()
        );
    }

    #[test]
    fn search_queries_are_optional_and_bounded() {
        assert_eq!(SearchQuery::parse_optional("  ").unwrap(), None);
        assert_eq!(
            SearchQuery::parse_optional(" trail ")
                .unwrap()
                .unwrap()
                .as_str(),
            "trail"
        );
        assert!(SearchQuery::parse_optional(&"q".repeat(SEARCH_QUERY_MAX_CHARS + 1)).is_err());
    }
}
