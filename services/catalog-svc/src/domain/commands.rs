//! The validated input of each RPC, and what the read RPCs return.
//!
//! A command holds validated values only; building one from a request is
//! `crate::convert`'s job, so the application never sees raw input.
//!
//! Idempotent creates (CreateProduct, CreateVariant, SetPrice) compare a
//! SHA-256 fingerprint of the normalized command with the one stored under
//! the same idempotency key:
//! - same key, same fingerprint: the first result is returned (the
//!   resource as it is now), nothing is written, no event is emitted;
//! - same key, different request: FAILED_PRECONDITION naming
//!   `idempotency_key`. Not ALREADY_EXISTS: that code tells a client the
//!   thing it wanted to create exists, which is exactly what is not true
//!   here; the client must fix its request (or its key), not treat it as
//!   done.

use chrono::{DateTime, Utc};
use sha2::{Digest as _, Sha256};

use crate::domain::lifecycle::LifecycleAction;
use crate::domain::model::{
    Product, ProductChanges, ProductDetails, ProductId, VariantId, Version,
};
use crate::domain::page::{Cursor, PageSize, ProductFilter};
use crate::domain::price::{Price, QuoteStatus};
use crate::domain::validation::{Attributes, IdempotencyKey, Sku, Title};
use ecommerce_kernel::{Currency, Money};

/// Most SKUs one QuotePrices call may ask for.
pub const MAX_QUOTE_SKUS: usize = 500;

/// SHA-256 of a command's normalized content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestFingerprint(pub [u8; 32]);

impl RequestFingerprint {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Feeds tagged, length-prefixed fields to SHA-256, so no two different
/// commands share an encoding.
struct Fingerprinter(Sha256);

impl Fingerprinter {
    fn new(command: &str) -> Self {
        let mut fingerprinter = Self(Sha256::new());
        fingerprinter.text(command);
        fingerprinter
    }

    fn text(&mut self, value: &str) -> &mut Self {
        self.0.update((value.len() as u64).to_be_bytes());
        self.0.update(value.as_bytes());
        self
    }

    fn number(&mut self, value: i64) -> &mut Self {
        self.0.update(value.to_be_bytes());
        self
    }

    fn finish(self) -> RequestFingerprint {
        RequestFingerprint(self.0.finalize().into())
    }
}

/// CreateProduct: a new DRAFT product.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateProduct {
    pub details: ProductDetails,
    pub idempotency_key: Option<IdempotencyKey>,
}

impl CreateProduct {
    pub fn fingerprint(&self) -> RequestFingerprint {
        let mut fingerprinter = Fingerprinter::new("CreateProduct");
        let details = &self.details;
        fingerprinter
            .text(details.title.as_str())
            .text(details.description.as_str())
            .text(details.brand.as_str());
        fingerprinter.number(details.categories.as_slice().len() as i64);
        for slug in details.categories.as_slice() {
            fingerprinter.text(slug.as_str());
        }
        fingerprinter.number(details.media.as_slice().len() as i64);
        for item in details.media.as_slice() {
            fingerprinter
                .text(item.url.as_str())
                .text(item.alt_text.as_str());
        }
        fingerprinter.finish()
    }
}

/// UpdateProduct: overwrite the named descriptive fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateProduct {
    pub product_id: ProductId,
    pub changes: ProductChanges,
    pub expected_version: Option<Version>,
}

/// PublishProduct, UnpublishProduct and ArchiveProduct.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeProductStatus {
    pub product_id: ProductId,
    pub action: LifecycleAction,
    pub expected_version: Option<Version>,
}

/// GetProduct.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GetProduct {
    pub product_id: ProductId,
}

/// ListProducts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListProducts {
    pub page_size: PageSize,
    pub filter: ProductFilter,
    /// Where the previous page ended (decoded from `page_token`).
    pub after: Option<Cursor>,
}

/// One page of ListProducts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductPage {
    pub products: Vec<Product>,
    /// `None` on the last page.
    pub next_page_token: Option<String>,
}

/// CreateVariant: a new ACTIVE, unpriced SKU of a product.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateVariant {
    pub product_id: ProductId,
    pub sku: Sku,
    pub attributes: Attributes,
    pub idempotency_key: Option<IdempotencyKey>,
}

impl CreateVariant {
    pub fn fingerprint(&self) -> RequestFingerprint {
        let mut fingerprinter = Fingerprinter::new("CreateVariant");
        fingerprinter
            .text(&self.product_id.to_string())
            .text(self.sku.as_str());
        fingerprinter.number(self.attributes.as_map().len() as i64);
        for (key, value) in self.attributes.as_map() {
            fingerprinter.text(key).text(value);
        }
        fingerprinter.finish()
    }
}

/// UpdateVariant: replace the attributes (the only mutable field).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateVariant {
    pub variant_id: VariantId,
    pub attributes: Attributes,
    pub expected_version: Option<Version>,
}

/// DiscontinueVariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiscontinueVariant {
    pub variant_id: VariantId,
    pub expected_version: Option<Version>,
}

/// SetPrice: record a price, effective now or later.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetPrice {
    pub variant_id: VariantId,
    pub amount: Money,
    /// As requested; `None` means now. Checked against the clock by the
    /// application (`price::resolve_effective_from`).
    pub effective_from: Option<DateTime<Utc>>,
    pub idempotency_key: Option<IdempotencyKey>,
}

impl SetPrice {
    /// Of the request as sent: a retry of "now" is the same request even
    /// though "now" has moved.
    pub fn fingerprint(&self) -> RequestFingerprint {
        let mut fingerprinter = Fingerprinter::new("SetPrice");
        fingerprinter
            .text(&self.variant_id.to_string())
            .text(self.amount.currency().code())
            .number(self.amount.amount_minor());
        match self.effective_from {
            None => fingerprinter.text("now"),
            Some(at) => fingerprinter.text("at").number(at.timestamp_micros()),
        };
        fingerprinter.finish()
    }
}

/// QuotePrices: SKUs (distinct, in request order) in one currency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuotePrices {
    pub skus: Vec<Sku>,
    pub currency: Currency,
}

/// The answer for one SKU of QuotePrices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriceQuote {
    pub sku: Sku,
    pub status: QuoteStatus,
    /// `None` when NOT_FOUND.
    pub variant_id: Option<VariantId>,
    /// `None` when NOT_FOUND.
    pub product_id: Option<ProductId>,
    /// Empty when NOT_FOUND, and for a DRAFT product unless the caller is
    /// an admin (a draft's title is not public yet).
    pub title: Option<Title>,
    /// Only when AVAILABLE.
    pub unit_price: Option<Price>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::BTreeMap;

    use chrono::TimeZone as _;

    use super::*;
    use crate::domain::validation::{Brand, Categories, Description, MediaList};

    fn create_product(title: &str, categories: &[&str]) -> CreateProduct {
        CreateProduct {
            details: ProductDetails {
                title: Title::parse(title).unwrap(),
                description: Description::empty(),
                brand: Brand::unbranded(),
                categories: Categories::parse(categories, "categories").unwrap(),
                media: MediaList::default(),
            },
            idempotency_key: IdempotencyKey::parse_optional("k").unwrap(),
        }
    }

    #[test]
    fn product_fingerprints_depend_on_every_field_but_not_the_key() {
        let base = create_product("Shoe", &["a", "b"]);
        let mut other_key = base.clone();
        other_key.idempotency_key = IdempotencyKey::parse_optional("other").unwrap();
        assert_eq!(base.fingerprint(), other_key.fingerprint());
        assert_ne!(
            base.fingerprint(),
            create_product("Shoe2", &["a", "b"]).fingerprint()
        );
        assert_ne!(
            base.fingerprint(),
            create_product("Shoe", &["b", "a"]).fingerprint()
        );
        assert_ne!(
            base.fingerprint(),
            create_product("Shoe", &["a"]).fingerprint()
        );
        // Trimmed input normalizes to the same request.
        assert_eq!(
            base.fingerprint(),
            create_product("  Shoe ", &["a", "b"]).fingerprint()
        );
    }

    #[test]
    fn price_fingerprints_tell_now_from_a_time() {
        let eur = Currency::parse("EUR").unwrap();
        let now_price = SetPrice {
            variant_id: VariantId::generate(),
            amount: Money::new(100, eur).unwrap(),
            effective_from: None,
            idempotency_key: None,
        };
        let mut later = now_price.clone();
        later.effective_from = Some(Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap());
        let mut dearer = now_price.clone();
        dearer.amount = Money::new(101, eur).unwrap();
        assert_ne!(now_price.fingerprint(), later.fingerprint());
        assert_ne!(now_price.fingerprint(), dearer.fingerprint());
        assert_eq!(now_price.fingerprint(), now_price.clone().fingerprint());
    }

    #[test]
    fn variant_fingerprints_cover_sku_and_attributes() {
        let product_id = ProductId::generate();
        let variant = |sku: &str, size: &str| CreateVariant {
            product_id,
            sku: Sku::parse(sku).unwrap(),
            attributes: Attributes::parse(
                &BTreeMap::from([("size".to_owned(), size.to_owned())]),
                "attributes",
            )
            .unwrap(),
            idempotency_key: None,
        };
        assert_eq!(
            variant("A", "1").fingerprint(),
            variant("A", "1").fingerprint()
        );
        assert_ne!(
            variant("A", "1").fingerprint(),
            variant("B", "1").fingerprint()
        );
        assert_ne!(
            variant("A", "1").fingerprint(),
            variant("A", "2").fingerprint()
        );
    }
}
