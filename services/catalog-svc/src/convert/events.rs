//! The payloads of the nine `catalog.*` events, each built from its
//! [`CatalogEvent`].

use ecommerce_events::DecodedEvent;
use ecommerce_proto::ecommerce::catalog::v1 as pb;

use super::{pb_media, pb_money};
use crate::domain::events::CatalogEvent;

impl From<&CatalogEvent<'_>> for DecodedEvent {
    fn from(event: &CatalogEvent<'_>) -> Self {
        match *event {
            CatalogEvent::ProductCreated(product) => pb::ProductCreated {
                product_id: product.id.to_string(),
                title: product.details.title.as_str().to_owned(),
                brand: product.details.brand.as_str().to_owned(),
                categories: product.details.categories.to_strings(),
                version: product.version.get(),
            }
            .into(),
            CatalogEvent::ProductUpdated { product, changed } => {
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
                .into()
            }
            CatalogEvent::ProductPublished(product) => pb::ProductPublished {
                product_id: product.id.to_string(),
                version: product.version.get(),
            }
            .into(),
            CatalogEvent::ProductUnpublished(product) => pb::ProductUnpublished {
                product_id: product.id.to_string(),
                version: product.version.get(),
            }
            .into(),
            CatalogEvent::ProductArchived(product) => pb::ProductArchived {
                product_id: product.id.to_string(),
                version: product.version.get(),
            }
            .into(),
            CatalogEvent::VariantCreated(variant) => pb::VariantCreated {
                variant_id: variant.id.to_string(),
                product_id: variant.product_id.to_string(),
                sku: variant.sku.as_str().to_owned(),
                attributes: variant.attributes.as_map().clone(),
                version: variant.version.get(),
            }
            .into(),
            CatalogEvent::VariantUpdated { variant, changed } => pb::VariantUpdated {
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
            .into(),
            CatalogEvent::VariantDiscontinued(variant) => pb::VariantDiscontinued {
                variant_id: variant.id.to_string(),
                product_id: variant.product_id.to_string(),
                sku: variant.sku.as_str().to_owned(),
                version: variant.version.get(),
            }
            .into(),
            CatalogEvent::PriceChanged {
                price,
                sku,
                previous,
            } => pb::PriceChanged {
                variant_id: price.variant_id.to_string(),
                sku: sku.as_str().to_owned(),
                previous_price: previous.map(pb_money),
                new_price: Some(pb_money(price.amount)),
                effective_from: Some(ecommerce_proto::timestamp(price.effective_from)),
            }
            .into(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::DateTime;
    use ecommerce_events::Event as _;

    use super::*;
    use crate::domain::lifecycle::ProductStatus;
    use crate::domain::model::{Product, ProductDetails, ProductId, Version};
    use crate::domain::validation::{Brand, Categories, Description, MediaList, Title};

    fn product(status: ProductStatus) -> Product {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        Product {
            id: ProductId::generate(),
            details: ProductDetails {
                title: Title::parse("Trail Shoe").unwrap(),
                description: Description::parse("").unwrap(),
                brand: Brand::parse("").unwrap(),
                categories: Categories::parse::<&str>(&[], "categories").unwrap(),
                media: MediaList::parse::<&str>(&[], "media").unwrap(),
            },
            status,
            version: Version::INITIAL,
            created_at: now,
            updated_at: now,
            variants: Vec::new(),
        }
    }

    #[test]
    fn each_lifecycle_step_has_its_event_about_the_product() {
        for (status, expected) in [
            (ProductStatus::Published, pb::ProductPublished::EVENT_TYPE),
            (
                ProductStatus::Unpublished,
                pb::ProductUnpublished::EVENT_TYPE,
            ),
            (ProductStatus::Archived, pb::ProductArchived::EVENT_TYPE),
        ] {
            let product = product(status);
            let event = CatalogEvent::lifecycle(&product).unwrap();
            assert_eq!(DecodedEvent::from(&event).event_type(), expected);
            assert_eq!(event.aggregate(), ("product", product.id.to_string()));
        }
        assert_eq!(
            CatalogEvent::lifecycle(&product(ProductStatus::Draft)),
            None
        );
    }
}
