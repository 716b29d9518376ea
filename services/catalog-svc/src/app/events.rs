//! The payloads of the nine `catalog.*` events, built from domain values.
//!
//! Each is emitted by exactly one kind of change (see `app`), in the
//! transaction that makes it. Product events have the `product` aggregate,
//! variant and price events the `variant` aggregate (a price belongs to a
//! variant, and consumers key on variants/SKUs).

use ecommerce_proto::ecommerce::catalog::v1 as pb;

use crate::domain::lifecycle::ProductStatus;
use crate::domain::model::{Product, ProductField, Variant, VariantField};
use crate::domain::money::Money;
use crate::domain::price::Price;
use crate::domain::validation::Sku;
use crate::grpc::convert::{pb_media, pb_money, pb_timestamp};

/// Aggregate type of product events.
pub const PRODUCT_AGGREGATE: &str = "product";
/// Aggregate type of variant and price events.
pub const VARIANT_AGGREGATE: &str = "variant";

/// `catalog.product.created.v1`
pub fn product_created(product: &Product) -> pb::ProductCreated {
    pb::ProductCreated {
        product_id: product.id.to_string(),
        title: product.details.title.as_str().to_owned(),
        brand: product.details.brand.as_str().to_owned(),
        categories: product.details.categories.to_strings(),
        version: product.version.get(),
    }
}

/// `catalog.product.updated.v1`: every descriptive field's new value, and
/// which of them changed.
pub fn product_updated(product: &Product, changed: &[ProductField]) -> pb::ProductUpdated {
    let details = &product.details;
    pb::ProductUpdated {
        product_id: product.id.to_string(),
        changed_fields: changed
            .iter()
            .map(|field| field.as_str().to_owned())
            .collect(),
        title: details.title.as_str().to_owned(),
        description: details.description.as_str().to_owned(),
        brand: details.brand.as_str().to_owned(),
        categories: details.categories.to_strings(),
        media: details.media.as_slice().iter().map(pb_media).collect(),
        version: product.version.get(),
    }
}

/// One of the three lifecycle events, chosen by the status the product
/// moved to.
#[derive(Clone, Debug, PartialEq)]
pub enum LifecycleEvent {
    Published(pb::ProductPublished),
    Unpublished(pb::ProductUnpublished),
    Archived(pb::ProductArchived),
}

/// `catalog.product.{published,unpublished,archived}.v1`; `None` for DRAFT,
/// which no transition leads to.
pub fn product_lifecycle(product: &Product) -> Option<LifecycleEvent> {
    let product_id = product.id.to_string();
    let version = product.version.get();
    match product.status {
        ProductStatus::Draft => None,
        ProductStatus::Published => Some(LifecycleEvent::Published(pb::ProductPublished {
            product_id,
            version,
        })),
        ProductStatus::Unpublished => Some(LifecycleEvent::Unpublished(pb::ProductUnpublished {
            product_id,
            version,
        })),
        ProductStatus::Archived => Some(LifecycleEvent::Archived(pb::ProductArchived {
            product_id,
            version,
        })),
    }
}

/// `catalog.variant.created.v1`
pub fn variant_created(variant: &Variant) -> pb::VariantCreated {
    pb::VariantCreated {
        variant_id: variant.id.to_string(),
        product_id: variant.product_id.to_string(),
        sku: variant.sku.as_str().to_owned(),
        attributes: variant.attributes.as_map().clone(),
        version: variant.version.get(),
    }
}

/// `catalog.variant.updated.v1`
pub fn variant_updated(variant: &Variant, changed: &[VariantField]) -> pb::VariantUpdated {
    pb::VariantUpdated {
        variant_id: variant.id.to_string(),
        product_id: variant.product_id.to_string(),
        sku: variant.sku.as_str().to_owned(),
        changed_fields: changed
            .iter()
            .map(|field| field.as_str().to_owned())
            .collect(),
        attributes: variant.attributes.as_map().clone(),
        version: variant.version.get(),
    }
}

/// `catalog.variant.discontinued.v1`
pub fn variant_discontinued(variant: &Variant) -> pb::VariantDiscontinued {
    pb::VariantDiscontinued {
        variant_id: variant.id.to_string(),
        product_id: variant.product_id.to_string(),
        sku: variant.sku.as_str().to_owned(),
        version: variant.version.get(),
    }
}

/// `catalog.price.changed.v1`: the new price and the one it supersedes at
/// its effective time.
pub fn price_changed(price: &Price, sku: &Sku, previous: Option<Money>) -> pb::PriceChanged {
    pb::PriceChanged {
        variant_id: price.variant_id.to_string(),
        sku: sku.as_str().to_owned(),
        previous_price: previous.map(pb_money),
        new_price: Some(pb_money(price.amount)),
        effective_from: Some(pb_timestamp(price.effective_from)),
    }
}
