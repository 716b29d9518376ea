//! The changes the catalog announces: one variant per `catalog.*` event,
//! over the domain values they describe (`crate::convert` builds the
//! payloads).
//!
//! Each is emitted by exactly one kind of change (see `app`), in the
//! transaction that makes it. Product events have the `product` aggregate,
//! variant and price events the `variant` aggregate (a price belongs to a
//! variant, and consumers key on variants/SKUs).

use crate::domain::lifecycle::ProductStatus;
use crate::domain::model::{Product, ProductField, Variant, VariantField};
use crate::domain::price::Price;
use crate::domain::validation::Sku;
use ecommerce_kernel::Money;

/// Aggregate type of product events.
pub const PRODUCT_AGGREGATE: &str = "product";
/// Aggregate type of variant and price events.
pub const VARIANT_AGGREGATE: &str = "variant";

/// One change the catalog announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CatalogEvent<'a> {
    ProductCreated(&'a Product),
    /// Every descriptive field's new value, and which of them changed.
    ProductUpdated {
        product: &'a Product,
        changed: &'a [ProductField],
    },
    ProductPublished(&'a Product),
    ProductUnpublished(&'a Product),
    ProductArchived(&'a Product),
    VariantCreated(&'a Variant),
    VariantUpdated {
        variant: &'a Variant,
        changed: &'a [VariantField],
    },
    VariantDiscontinued(&'a Variant),
    /// A new price and the one it supersedes at its effective time.
    PriceChanged {
        price: &'a Price,
        sku: &'a Sku,
        previous: Option<Money>,
    },
}

impl<'a> CatalogEvent<'a> {
    /// The event of a lifecycle step, chosen by the status `product` moved
    /// to; `None` for DRAFT, which no transition leads to.
    pub fn lifecycle(product: &'a Product) -> Option<Self> {
        match product.status {
            ProductStatus::Draft => None,
            ProductStatus::Published => Some(Self::ProductPublished(product)),
            ProductStatus::Unpublished => Some(Self::ProductUnpublished(product)),
            ProductStatus::Archived => Some(Self::ProductArchived(product)),
        }
    }

    /// The aggregate type and id the event is about.
    pub fn aggregate(&self) -> (&'static str, String) {
        match self {
            Self::ProductCreated(product)
            | Self::ProductUpdated { product, .. }
            | Self::ProductPublished(product)
            | Self::ProductUnpublished(product)
            | Self::ProductArchived(product) => (PRODUCT_AGGREGATE, product.id.to_string()),
            Self::VariantCreated(variant)
            | Self::VariantUpdated { variant, .. }
            | Self::VariantDiscontinued(variant) => (VARIANT_AGGREGATE, variant.id.to_string()),
            Self::PriceChanged { price, .. } => (VARIANT_AGGREGATE, price.variant_id.to_string()),
        }
    }
}
