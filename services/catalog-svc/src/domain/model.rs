//! Products, variants and their versions, and what an update changes.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::domain::error::{DomainError, Resource};
use crate::domain::lifecycle::{ProductStatus, VariantStatus};
use crate::domain::price::Price;
use crate::domain::validation::{
    Attributes, Brand, Categories, Description, InvalidValue, MediaList, Sku, Title,
};

ecommerce_kernel::uuid_id!(
    /// Id of a product.
    ProductId
);
ecommerce_kernel::uuid_id!(
    /// Id of a variant.
    VariantId
);
ecommerce_kernel::uuid_id!(
    /// Id of one recorded price.
    PriceId
);

/// A resource's version: 1 on creation, incremented by every change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Version(i64);

impl Version {
    pub const INITIAL: Self = Self(1);

    /// A caller's `expected_version`; versions start at 1.
    pub fn parse(raw: i64) -> Result<Self, InvalidValue> {
        if raw < 1 {
            return Err(InvalidValue::new(format!(
                "must be a version (at least 1), got {raw}"
            )));
        }
        Ok(Self(raw))
    }

    pub(crate) const fn from_stored(raw: i64) -> Self {
        Self(raw)
    }

    pub const fn get(self) -> i64 {
        self.0
    }

    /// The version after this one; `None` at `i64::MAX`, which no row
    /// reaches.
    pub fn next(self) -> Option<Self> {
        self.0.checked_add(1).map(Self)
    }

    /// ABORTED unless the caller's `expected` version (when it sent one) is
    /// `self`.
    pub fn check_expected(
        self,
        expected: Option<Version>,
        resource: Resource,
        id: impl fmt::Display,
    ) -> Result<(), DomainError> {
        match expected {
            Some(expected) if expected != self => Err(DomainError::StaleVersion {
                resource,
                id: id.to_string(),
                expected: expected.0,
                current: self.0,
            }),
            Some(_) | None => Ok(()),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(formatter)
    }
}

/// The descriptive fields of a product: what UpdateProduct can change.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProductDetails {
    pub title: Title,
    pub description: Description,
    pub brand: Brand,
    pub categories: Categories,
    pub media: MediaList,
}

/// One descriptive field, named as in the `Product` message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProductField {
    Title,
    Description,
    Brand,
    Categories,
    Media,
}

impl ProductField {
    pub const ALL: [Self; 5] = [
        Self::Title,
        Self::Description,
        Self::Brand,
        Self::Categories,
        Self::Media,
    ];

    /// The `Product` field name: an `update_mask` path and a
    /// `ProductUpdated.changed_fields` entry.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Title => "title",
            Self::Description => "description",
            Self::Brand => "brand",
            Self::Categories => "categories",
            Self::Media => "media",
        }
    }

    pub fn from_path(path: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|field| field.as_str() == path)
    }
}

/// The new values of the fields an UpdateProduct names; `None` = not named.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProductChanges {
    pub title: Option<Title>,
    pub description: Option<Description>,
    pub brand: Option<Brand>,
    pub categories: Option<Categories>,
    pub media: Option<MediaList>,
}

impl ProductChanges {
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// The outcome of applying [`ProductChanges`]: the new details and the
/// fields whose value actually changed, in `ProductField` order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductDiff {
    pub details: ProductDetails,
    pub changed: Vec<ProductField>,
}

impl ProductDiff {
    /// Nothing changed: no write, no version bump, no event.
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty()
    }
}

impl ProductDetails {
    /// The details after `changes`, and which fields differ from `self`. A
    /// field named with its current value is not a change.
    pub fn apply(&self, changes: &ProductChanges) -> ProductDiff {
        let mut details = self.clone();
        let mut changed = Vec::new();
        // Overwrites `target` with the requested value when it differs;
        // records the field as changed then.
        fn overwrite<T: Clone + PartialEq>(
            target: &mut T,
            requested: Option<&T>,
            field: ProductField,
            changed: &mut Vec<ProductField>,
        ) {
            let Some(requested) = requested else {
                return;
            };
            if requested != target {
                *target = requested.clone();
                changed.push(field);
            }
        }
        overwrite(
            &mut details.title,
            changes.title.as_ref(),
            ProductField::Title,
            &mut changed,
        );
        overwrite(
            &mut details.description,
            changes.description.as_ref(),
            ProductField::Description,
            &mut changed,
        );
        overwrite(
            &mut details.brand,
            changes.brand.as_ref(),
            ProductField::Brand,
            &mut changed,
        );
        overwrite(
            &mut details.categories,
            changes.categories.as_ref(),
            ProductField::Categories,
            &mut changed,
        );
        overwrite(
            &mut details.media,
            changes.media.as_ref(),
            ProductField::Media,
            &mut changed,
        );
        ProductDiff { details, changed }
    }
}

/// A product with its variants (in creation order) and their current prices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Product {
    pub id: ProductId,
    pub details: ProductDetails,
    pub status: ProductStatus,
    pub version: Version,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub variants: Vec<Variant>,
}

/// One SKU of a product.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variant {
    pub id: VariantId,
    pub product_id: ProductId,
    pub sku: Sku,
    pub attributes: Attributes,
    pub status: VariantStatus,
    pub version: Version,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The price in effect now per currency, ordered by currency code.
    pub current_prices: Vec<Price>,
}

/// One field of a variant UpdateVariant can change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VariantField {
    Attributes,
}

impl VariantField {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Attributes => "attributes",
        }
    }

    pub fn from_path(path: &str) -> Option<Self> {
        (path == Self::Attributes.as_str()).then_some(Self::Attributes)
    }
}

/// Which variant fields differ between `current` and `requested`.
pub fn variant_changes(current: &Attributes, requested: &Attributes) -> Vec<VariantField> {
    if current == requested {
        Vec::new()
    } else {
        vec![VariantField::Attributes]
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::BTreeMap;

    use super::*;

    fn details() -> ProductDetails {
        ProductDetails {
            title: Title::parse("Trail Shoe").unwrap(),
            description: Description::parse("Light.").unwrap(),
            brand: Brand::parse("Acme").unwrap(),
            categories: Categories::parse(&["shoes"], "categories").unwrap(),
            media: MediaList::parse(&[("https://cdn.example/a.jpg", "front")], "media").unwrap(),
        }
    }

    #[test]
    fn an_empty_change_set_changes_nothing() {
        let current = details();
        let changes = ProductChanges::default();
        assert!(changes.is_empty());
        let diff = current.apply(&changes);
        assert!(diff.is_empty());
        assert_eq!(diff.details, current);
    }

    #[test]
    fn naming_fields_with_their_current_values_changes_nothing() {
        let current = details();
        let changes = ProductChanges {
            title: Some(current.title.clone()),
            description: Some(current.description.clone()),
            brand: Some(current.brand.clone()),
            categories: Some(current.categories.clone()),
            media: Some(current.media.clone()),
        };
        assert!(!changes.is_empty());
        assert!(current.apply(&changes).is_empty());
    }

    #[test]
    fn each_field_is_reported_when_it_changes() {
        let current = details();
        let cases: Vec<(ProductChanges, ProductField)> = vec![
            (
                ProductChanges {
                    title: Some(Title::parse("Road Shoe").unwrap()),
                    ..ProductChanges::default()
                },
                ProductField::Title,
            ),
            (
                ProductChanges {
                    description: Some(Description::empty()),
                    ..ProductChanges::default()
                },
                ProductField::Description,
            ),
            (
                ProductChanges {
                    brand: Some(Brand::unbranded()),
                    ..ProductChanges::default()
                },
                ProductField::Brand,
            ),
            (
                ProductChanges {
                    categories: Some(Categories::default()),
                    ..ProductChanges::default()
                },
                ProductField::Categories,
            ),
            (
                ProductChanges {
                    media: Some(MediaList::default()),
                    ..ProductChanges::default()
                },
                ProductField::Media,
            ),
        ];
        for (changes, field) in cases {
            let diff = current.apply(&changes);
            assert_eq!(diff.changed, [field]);
            assert_ne!(diff.details, current);
        }
    }

    #[test]
    fn changed_fields_come_in_field_order_and_only_real_changes_count() {
        let current = details();
        let changes = ProductChanges {
            media: Some(MediaList::default()),
            title: Some(Title::parse("Road Shoe").unwrap()),
            brand: Some(current.brand.clone()),
            ..ProductChanges::default()
        };
        let diff = current.apply(&changes);
        assert_eq!(diff.changed, [ProductField::Title, ProductField::Media]);
        assert_eq!(diff.details.title.as_str(), "Road Shoe");
        assert_eq!(diff.details.brand, current.brand);
        assert!(diff.details.media.as_slice().is_empty());
    }

    #[test]
    fn mask_paths_are_the_product_field_names() {
        for field in ProductField::ALL {
            assert_eq!(ProductField::from_path(field.as_str()), Some(field));
        }
        for bad in ["id", "status", "version", "Title", "", "*", "product.title"] {
            assert_eq!(ProductField::from_path(bad), None, "{bad}");
        }
        assert_eq!(
            VariantField::from_path("attributes"),
            Some(VariantField::Attributes)
        );
        assert_eq!(VariantField::from_path("sku"), None);
    }

    #[test]
    fn variant_attribute_changes_are_detected() {
        let size = |value: &str| {
            Attributes::parse(
                &BTreeMap::from([("size".to_owned(), value.to_owned())]),
                "attributes",
            )
            .unwrap()
        };
        assert!(variant_changes(&size("42"), &size("42")).is_empty());
        assert_eq!(
            variant_changes(&size("42"), &size("43")),
            [VariantField::Attributes]
        );
    }

    #[test]
    fn versions_start_at_one_grow_and_check_the_caller_view() {
        assert!(Version::parse(0).is_err());
        assert!(Version::parse(-3).is_err());
        let one = Version::parse(1).unwrap();
        assert_eq!(one, Version::INITIAL);
        assert_eq!(one.next().unwrap().get(), 2);
        assert!(Version::from_stored(i64::MAX).next().is_none());

        let two = one.next().unwrap();
        assert!(two.check_expected(None, Resource::Product, "p").is_ok());
        assert!(
            two.check_expected(Some(two), Resource::Product, "p")
                .is_ok()
        );
        let stale = two
            .check_expected(Some(one), Resource::Product, "p")
            .unwrap_err();
        assert!(matches!(
            stale,
            DomainError::StaleVersion {
                expected: 1,
                current: 2,
                ..
            }
        ));
    }

    #[test]
    fn generated_ids_are_time_ordered() {
        let first = ProductId::generate();
        let second = ProductId::generate();
        assert!(first < second);
        assert_eq!(first.as_uuid().get_version_num(), 7);
        assert_eq!(ProductId::parse(&first.to_string()).unwrap(), first);
        assert!(VariantId::parse("nope").is_err());
    }
}
