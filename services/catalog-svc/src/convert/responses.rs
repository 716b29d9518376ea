//! The messages the handlers answer with.

use ecommerce_proto::ecommerce::catalog::v1 as pb;

use super::{pb_media, pb_money};
use crate::domain::commands::PriceQuote;
use crate::domain::lifecycle::{ProductStatus, VariantStatus};
use crate::domain::model::{Product, Variant};
use crate::domain::price::{Price, QuoteStatus};

pub fn pb_product_status(status: ProductStatus) -> pb::ProductStatus {
    match status {
        ProductStatus::Draft => pb::ProductStatus::Draft,
        ProductStatus::Published => pb::ProductStatus::Published,
        ProductStatus::Unpublished => pb::ProductStatus::Unpublished,
        ProductStatus::Archived => pb::ProductStatus::Archived,
    }
}

pub fn pb_variant_status(status: VariantStatus) -> pb::VariantStatus {
    match status {
        VariantStatus::Active => pb::VariantStatus::Active,
        VariantStatus::Discontinued => pb::VariantStatus::Discontinued,
    }
}

pub fn pb_quote_status(status: QuoteStatus) -> pb::QuoteStatus {
    match status {
        QuoteStatus::Available => pb::QuoteStatus::Available,
        QuoteStatus::NotFound => pb::QuoteStatus::NotFound,
        QuoteStatus::NotPublished => pb::QuoteStatus::NotPublished,
        QuoteStatus::Discontinued => pb::QuoteStatus::Discontinued,
        QuoteStatus::NotPriced => pb::QuoteStatus::NotPriced,
    }
}

pub fn pb_price(price: &Price) -> pb::Price {
    pb::Price {
        variant_id: price.variant_id.to_string(),
        amount: Some(pb_money(price.amount)),
        effective_from: Some(ecommerce_proto::timestamp(price.effective_from)),
    }
}

pub fn pb_variant(variant: &Variant) -> pb::Variant {
    pb::Variant {
        id: variant.id.to_string(),
        product_id: variant.product_id.to_string(),
        sku: variant.sku.as_str().to_owned(),
        attributes: variant.attributes.as_map().clone(),
        status: pb_variant_status(variant.status).into(),
        version: variant.version.get(),
        current_prices: variant.current_prices.iter().map(pb_price).collect(),
        created_at: Some(ecommerce_proto::timestamp(variant.created_at)),
        updated_at: Some(ecommerce_proto::timestamp(variant.updated_at)),
    }
}

pub fn pb_product(product: &Product) -> pb::Product {
    let details = &product.details;
    pb::Product {
        id: product.id.to_string(),
        title: details.title.as_str().to_owned(),
        description: details.description.as_str().to_owned(),
        brand: details.brand.as_str().to_owned(),
        categories: details.categories.to_strings(),
        media: details.media.as_slice().iter().map(pb_media).collect(),
        status: pb_product_status(product.status).into(),
        version: product.version.get(),
        created_at: Some(ecommerce_proto::timestamp(product.created_at)),
        updated_at: Some(ecommerce_proto::timestamp(product.updated_at)),
        variants: product.variants.iter().map(pb_variant).collect(),
    }
}

pub fn pb_quote(quote: &PriceQuote) -> pb::PriceQuote {
    pb::PriceQuote {
        sku: quote.sku.as_str().to_owned(),
        status: pb_quote_status(quote.status).into(),
        variant_id: quote
            .variant_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        product_id: quote
            .product_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        title: quote
            .title
            .as_ref()
            .map(|title| title.as_str().to_owned())
            .unwrap_or_default(),
        unit_price: quote.unit_price.map(|price| pb_money(price.amount)),
        effective_from: quote
            .unit_price
            .map(|price| ecommerce_proto::timestamp(price.effective_from)),
    }
}
