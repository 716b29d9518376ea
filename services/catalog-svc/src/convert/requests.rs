//! Requests as domain commands, each refusal naming its field.

use std::collections::HashSet;

use ecommerce_kernel::{Currency, Money};
use ecommerce_proto::ecommerce::catalog::v1 as pb;
use prost_types::FieldMask;

use super::timestamp;
use crate::domain::commands::{
    ChangeProductStatus, CreateProduct, CreateVariant, DiscontinueVariant, GetProduct,
    ListProducts, MAX_QUOTE_SKUS, QuotePrices, SetPrice, UpdateProduct, UpdateVariant,
};
use crate::domain::lifecycle::{LifecycleAction, ProductStatus};
use crate::domain::model::{
    ProductChanges, ProductDetails, ProductField, ProductId, VariantField, VariantId, Version,
};
use crate::domain::page::{PageSize, ProductFilter, decode_page_token};
use crate::domain::validation::{
    Attributes, Brand, Categories, CategorySlug, Description, IdempotencyKey, InvalidField,
    MediaList, SearchQuery, Sku, Title,
};

fn product_id(raw: &str, field: &str) -> Result<ProductId, InvalidField> {
    ProductId::parse(raw).map_err(|invalid| invalid.at(field))
}

fn variant_id(raw: &str, field: &str) -> Result<VariantId, InvalidField> {
    VariantId::parse(raw).map_err(|invalid| invalid.at(field))
}

fn expected_version(raw: Option<i64>) -> Result<Option<Version>, InvalidField> {
    raw.map(|version| Version::parse(version).map_err(|invalid| invalid.at("expected_version")))
        .transpose()
}

fn idempotency_key(raw: &str) -> Result<Option<IdempotencyKey>, InvalidField> {
    IdempotencyKey::parse_optional(raw).map_err(|invalid| invalid.at("idempotency_key"))
}

fn media(raw: &[pb::Media], field: &str) -> Result<MediaList, InvalidField> {
    let pairs: Vec<(&str, &str)> = raw
        .iter()
        .map(|item| (item.url.as_str(), item.alt_text.as_str()))
        .collect();
    MediaList::parse(&pairs, field)
}

/// The paths of a required `update_mask`, each checked by `known`.
fn mask_paths<T>(
    mask: Option<&FieldMask>,
    known: impl Fn(&str) -> Option<T>,
    allowed: &str,
) -> Result<Vec<T>, InvalidField> {
    let paths = mask.map(|mask| mask.paths.as_slice()).unwrap_or_default();
    if paths.is_empty() {
        return Err(InvalidField::new(
            "update_mask",
            format!("must name at least one field ({allowed})"),
        ));
    }
    paths
        .iter()
        .map(|path| {
            known(path).ok_or_else(|| {
                InvalidField::new(
                    "update_mask",
                    format!("{path:?} cannot be updated; allowed: {allowed}"),
                )
            })
        })
        .collect()
}

fn product_status_filter(raw: i32) -> Result<Option<ProductStatus>, InvalidField> {
    match pb::ProductStatus::try_from(raw) {
        Ok(pb::ProductStatus::Unspecified) => Ok(None),
        Ok(pb::ProductStatus::Draft) => Ok(Some(ProductStatus::Draft)),
        Ok(pb::ProductStatus::Published) => Ok(Some(ProductStatus::Published)),
        Ok(pb::ProductStatus::Unpublished) => Ok(Some(ProductStatus::Unpublished)),
        Ok(pb::ProductStatus::Archived) => Ok(Some(ProductStatus::Archived)),
        Err(_) => Err(InvalidField::new(
            "status",
            format!("{raw} is not a ProductStatus"),
        )),
    }
}

impl TryFrom<pb::CreateProductRequest> for CreateProduct {
    type Error = InvalidField;

    fn try_from(request: pb::CreateProductRequest) -> Result<Self, Self::Error> {
        Ok(Self {
            details: ProductDetails {
                title: Title::parse(&request.title).map_err(|invalid| invalid.at("title"))?,
                description: Description::parse(&request.description)
                    .map_err(|invalid| invalid.at("description"))?,
                brand: Brand::parse(&request.brand).map_err(|invalid| invalid.at("brand"))?,
                categories: Categories::parse(&request.categories, "categories")?,
                media: media(&request.media, "media")?,
            },
            idempotency_key: idempotency_key(&request.idempotency_key)?,
        })
    }
}

impl TryFrom<pb::UpdateProductRequest> for UpdateProduct {
    type Error = InvalidField;

    fn try_from(request: pb::UpdateProductRequest) -> Result<Self, Self::Error> {
        let product = request
            .product
            .ok_or_else(|| InvalidField::new("product", "is required"))?;
        let product_id = product_id(&product.id, "product.id")?;
        let fields = mask_paths(
            request.update_mask.as_ref(),
            ProductField::from_path,
            "title, description, brand, categories, media",
        )?;
        let mut changes = ProductChanges::default();
        for field in fields {
            match field {
                ProductField::Title => {
                    changes.title = Some(
                        Title::parse(&product.title)
                            .map_err(|invalid| invalid.at("product.title"))?,
                    );
                }
                ProductField::Description => {
                    changes.description = Some(
                        Description::parse(&product.description)
                            .map_err(|invalid| invalid.at("product.description"))?,
                    );
                }
                ProductField::Brand => {
                    changes.brand = Some(
                        Brand::parse(&product.brand)
                            .map_err(|invalid| invalid.at("product.brand"))?,
                    );
                }
                ProductField::Categories => {
                    changes.categories = Some(Categories::parse(
                        &product.categories,
                        "product.categories",
                    )?);
                }
                ProductField::Media => {
                    changes.media = Some(media(&product.media, "product.media")?);
                }
            }
        }
        Ok(Self {
            product_id,
            changes,
            expected_version: expected_version(request.expected_version)?,
        })
    }
}

fn change_status(
    raw_product_id: &str,
    raw_expected_version: Option<i64>,
    action: LifecycleAction,
) -> Result<ChangeProductStatus, InvalidField> {
    Ok(ChangeProductStatus {
        product_id: product_id(raw_product_id, "product_id")?,
        action,
        expected_version: expected_version(raw_expected_version)?,
    })
}

impl TryFrom<pb::PublishProductRequest> for ChangeProductStatus {
    type Error = InvalidField;

    fn try_from(request: pb::PublishProductRequest) -> Result<Self, Self::Error> {
        change_status(
            &request.product_id,
            request.expected_version,
            LifecycleAction::Publish,
        )
    }
}

impl TryFrom<pb::UnpublishProductRequest> for ChangeProductStatus {
    type Error = InvalidField;

    fn try_from(request: pb::UnpublishProductRequest) -> Result<Self, Self::Error> {
        change_status(
            &request.product_id,
            request.expected_version,
            LifecycleAction::Unpublish,
        )
    }
}

impl TryFrom<pb::ArchiveProductRequest> for ChangeProductStatus {
    type Error = InvalidField;

    fn try_from(request: pb::ArchiveProductRequest) -> Result<Self, Self::Error> {
        change_status(
            &request.product_id,
            request.expected_version,
            LifecycleAction::Archive,
        )
    }
}

impl TryFrom<pb::GetProductRequest> for GetProduct {
    type Error = InvalidField;

    fn try_from(request: pb::GetProductRequest) -> Result<Self, Self::Error> {
        Ok(Self {
            product_id: product_id(&request.product_id, "product_id")?,
        })
    }
}

impl TryFrom<pb::ListProductsRequest> for ListProducts {
    type Error = InvalidField;

    fn try_from(request: pb::ListProductsRequest) -> Result<Self, Self::Error> {
        let page_size =
            PageSize::from_request(request.page_size).map_err(|invalid| invalid.at("page_size"))?;
        let category = if request.category.is_empty() {
            None
        } else {
            Some(CategorySlug::parse(&request.category).map_err(|invalid| invalid.at("category"))?)
        };
        let filter = ProductFilter {
            status: product_status_filter(request.status)?,
            query: SearchQuery::parse_optional(&request.query)
                .map_err(|invalid| invalid.at("query"))?,
            category,
        };
        let after = decode_page_token(&request.page_token, &filter)
            .map_err(|invalid| invalid.at("page_token"))?;
        Ok(Self {
            page_size,
            filter,
            after,
        })
    }
}

impl TryFrom<pb::CreateVariantRequest> for CreateVariant {
    type Error = InvalidField;

    fn try_from(request: pb::CreateVariantRequest) -> Result<Self, Self::Error> {
        Ok(Self {
            product_id: product_id(&request.product_id, "product_id")?,
            sku: Sku::parse(&request.sku).map_err(|invalid| invalid.at("sku"))?,
            attributes: Attributes::parse(&request.attributes, "attributes")?,
            idempotency_key: idempotency_key(&request.idempotency_key)?,
        })
    }
}

impl TryFrom<pb::UpdateVariantRequest> for UpdateVariant {
    type Error = InvalidField;

    fn try_from(request: pb::UpdateVariantRequest) -> Result<Self, Self::Error> {
        let variant = request
            .variant
            .ok_or_else(|| InvalidField::new("variant", "is required"))?;
        let variant_id = variant_id(&variant.id, "variant.id")?;
        // `attributes` is the only path; naming it once or more is the same.
        mask_paths(
            request.update_mask.as_ref(),
            VariantField::from_path,
            "attributes (the sku is immutable)",
        )?;
        Ok(Self {
            variant_id,
            attributes: Attributes::parse(&variant.attributes, "variant.attributes")?,
            expected_version: expected_version(request.expected_version)?,
        })
    }
}

impl TryFrom<pb::DiscontinueVariantRequest> for DiscontinueVariant {
    type Error = InvalidField;

    fn try_from(request: pb::DiscontinueVariantRequest) -> Result<Self, Self::Error> {
        Ok(Self {
            variant_id: variant_id(&request.variant_id, "variant_id")?,
            expected_version: expected_version(request.expected_version)?,
        })
    }
}

impl TryFrom<pb::SetPriceRequest> for SetPrice {
    type Error = InvalidField;

    fn try_from(request: pb::SetPriceRequest) -> Result<Self, Self::Error> {
        let variant_id = variant_id(&request.variant_id, "variant_id")?;
        let price = request
            .price
            .ok_or_else(|| InvalidField::new("price", "is required"))?;
        let currency =
            Currency::parse(&price.currency).map_err(|invalid| invalid.at("price.currency"))?;
        let amount = Money::new(price.amount_minor, currency)
            .map_err(|invalid| invalid.at("price.amount_minor"))?;
        let effective_from = request
            .effective_from
            .as_ref()
            .map(|raw| timestamp(raw, "effective_from"))
            .transpose()?;
        Ok(Self {
            variant_id,
            amount,
            effective_from,
            idempotency_key: idempotency_key(&request.idempotency_key)?,
        })
    }
}

impl TryFrom<pb::QuotePricesRequest> for QuotePrices {
    type Error = InvalidField;

    fn try_from(request: pb::QuotePricesRequest) -> Result<Self, Self::Error> {
        if request.skus.is_empty() {
            return Err(InvalidField::new("skus", "must name at least one SKU"));
        }
        if request.skus.len() > MAX_QUOTE_SKUS {
            return Err(InvalidField::new(
                "skus",
                format!(
                    "at most {MAX_QUOTE_SKUS} SKUs per call, got {}",
                    request.skus.len()
                ),
            ));
        }
        let currency =
            Currency::parse(&request.currency).map_err(|invalid| invalid.at("currency"))?;
        let mut seen = HashSet::new();
        let mut skus = Vec::with_capacity(request.skus.len());
        for (index, raw) in request.skus.iter().enumerate() {
            let sku = Sku::parse(raw).map_err(|invalid| invalid.at(format!("skus[{index}]")))?;
            // Duplicates are answered once, at their first position.
            if seen.insert(sku.clone()) {
                skus.push(sku);
            }
        }
        Ok(Self { skus, currency })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::BTreeMap;

    use ecommerce_proto::ecommerce::common::v1 as common_pb;
    use prost_types::Timestamp;

    use super::*;

    const ID: &str = "0190e0c6-8a8f-7b3e-9b5e-1a2b3c4d5e6f";

    fn field_of<T: std::fmt::Debug>(result: Result<T, InvalidField>) -> String {
        result.unwrap_err().field
    }

    fn create_request() -> pb::CreateProductRequest {
        pb::CreateProductRequest {
            title: "Trail Shoe".to_owned(),
            description: "Light".to_owned(),
            brand: "Acme".to_owned(),
            categories: vec!["shoes/running".to_owned()],
            media: vec![pb::Media {
                url: "https://cdn.example/a.jpg".to_owned(),
                alt_text: "front".to_owned(),
            }],
            idempotency_key: "key-1".to_owned(),
        }
    }

    #[test]
    fn create_product_requests_name_the_bad_field() {
        assert!(CreateProduct::try_from(create_request()).is_ok());
        type Mutation = fn(&mut pb::CreateProductRequest);
        let cases: Vec<(Mutation, &str)> = vec![
            (|r| r.title = String::new(), "title"),
            (|r| r.title = "t".repeat(201), "title"),
            (|r| r.description = "d".repeat(5001), "description"),
            (|r| r.brand = "b".repeat(101), "brand"),
            (
                |r| r.categories.push("Bad Slug".to_owned()),
                "categories[1]",
            ),
            (|r| r.media[0].url = "ftp://x/y".to_owned(), "media[0].url"),
            (
                |r| r.idempotency_key = "has space".to_owned(),
                "idempotency_key",
            ),
        ];
        for (mutate, field) in cases {
            let mut request = create_request();
            mutate(&mut request);
            assert_eq!(field_of(CreateProduct::try_from(request)), field);
        }
    }

    fn update_request(paths: &[&str]) -> pb::UpdateProductRequest {
        pb::UpdateProductRequest {
            product: Some(pb::Product {
                id: ID.to_owned(),
                title: "New".to_owned(),
                ..pb::Product::default()
            }),
            update_mask: Some(FieldMask {
                paths: paths.iter().map(|path| (*path).to_owned()).collect(),
            }),
            expected_version: Some(3),
        }
    }

    #[test]
    fn update_masks_select_fields_and_refuse_others() {
        let command = UpdateProduct::try_from(update_request(&["title", "brand"])).unwrap();
        assert_eq!(command.changes.title.unwrap().as_str(), "New");
        // A named empty field is cleared.
        assert_eq!(command.changes.brand.unwrap().as_str(), "");
        assert_eq!(command.changes.description, None);
        assert_eq!(command.expected_version.unwrap().get(), 3);

        assert_eq!(
            field_of(UpdateProduct::try_from(update_request(&[]))),
            "update_mask"
        );
        assert_eq!(
            field_of(UpdateProduct::try_from(update_request(&["status"]))),
            "update_mask"
        );
        // Clearing the title is refused: it is required.
        let mut clear_title = update_request(&["title"]);
        if let Some(product) = clear_title.product.as_mut() {
            product.title.clear();
        }
        assert_eq!(
            field_of(UpdateProduct::try_from(clear_title)),
            "product.title"
        );

        let mut no_mask = update_request(&["title"]);
        no_mask.update_mask = None;
        assert_eq!(field_of(UpdateProduct::try_from(no_mask)), "update_mask");

        let mut bad_id = update_request(&["title"]);
        if let Some(product) = bad_id.product.as_mut() {
            product.id = "42".to_owned();
        }
        assert_eq!(field_of(UpdateProduct::try_from(bad_id)), "product.id");

        let mut stale = update_request(&["title"]);
        stale.expected_version = Some(0);
        assert_eq!(field_of(UpdateProduct::try_from(stale)), "expected_version");

        let mut missing = update_request(&["title"]);
        missing.product = None;
        assert_eq!(field_of(UpdateProduct::try_from(missing)), "product");
    }

    #[test]
    fn lifecycle_requests_carry_their_action() {
        let publish = ChangeProductStatus::try_from(pb::PublishProductRequest {
            product_id: ID.to_owned(),
            expected_version: None,
        })
        .unwrap();
        assert_eq!(publish.action, LifecycleAction::Publish);
        let archive = ChangeProductStatus::try_from(pb::ArchiveProductRequest {
            product_id: ID.to_owned(),
            expected_version: Some(2),
        })
        .unwrap();
        assert_eq!(archive.action, LifecycleAction::Archive);
        assert_eq!(
            field_of(ChangeProductStatus::try_from(pb::UnpublishProductRequest {
                product_id: "nope".to_owned(),
                expected_version: None,
            })),
            "product_id"
        );
    }

    #[test]
    fn list_requests_validate_size_filters_and_token() {
        let list = ListProducts::try_from(pb::ListProductsRequest::default()).unwrap();
        assert_eq!(list.page_size.get(), 50);
        assert_eq!(list.after, None);
        for (request, field) in [
            (
                pb::ListProductsRequest {
                    page_size: -1,
                    ..Default::default()
                },
                "page_size",
            ),
            (
                pb::ListProductsRequest {
                    status: 99,
                    ..Default::default()
                },
                "status",
            ),
            (
                pb::ListProductsRequest {
                    category: "Not A Slug".to_owned(),
                    ..Default::default()
                },
                "category",
            ),
            (
                pb::ListProductsRequest {
                    query: "q".repeat(201),
                    ..Default::default()
                },
                "query",
            ),
            (
                pb::ListProductsRequest {
                    page_token: "garbage".to_owned(),
                    ..Default::default()
                },
                "page_token",
            ),
        ] {
            assert_eq!(field_of(ListProducts::try_from(request)), field);
        }
    }

    #[test]
    fn variant_requests_validate_sku_attributes_and_mask() {
        let request = pb::CreateVariantRequest {
            product_id: ID.to_owned(),
            sku: "SHOE-42".to_owned(),
            attributes: BTreeMap::from([("size".to_owned(), "42".to_owned())]),
            idempotency_key: String::new(),
        };
        let command = CreateVariant::try_from(request.clone()).unwrap();
        assert_eq!(command.idempotency_key, None);

        let mut lower = request.clone();
        lower.sku = "shoe-42".to_owned();
        assert_eq!(field_of(CreateVariant::try_from(lower)), "sku");
        let mut empty_value = request;
        empty_value
            .attributes
            .insert("color".to_owned(), String::new());
        assert_eq!(
            field_of(CreateVariant::try_from(empty_value)),
            "attributes[color]"
        );

        let update = |paths: &[&str]| pb::UpdateVariantRequest {
            variant: Some(pb::Variant {
                id: ID.to_owned(),
                ..pb::Variant::default()
            }),
            update_mask: Some(FieldMask {
                paths: paths.iter().map(|path| (*path).to_owned()).collect(),
            }),
            expected_version: None,
        };
        assert!(UpdateVariant::try_from(update(&["attributes"])).is_ok());
        assert_eq!(
            field_of(UpdateVariant::try_from(update(&["sku"]))),
            "update_mask"
        );
        assert_eq!(
            field_of(UpdateVariant::try_from(update(&[]))),
            "update_mask"
        );
    }

    #[test]
    fn set_price_requests_validate_money_and_time() {
        let request = |amount: i64, currency: &str| pb::SetPriceRequest {
            variant_id: ID.to_owned(),
            price: Some(common_pb::Money {
                amount_minor: amount,
                currency: currency.to_owned(),
            }),
            effective_from: None,
            idempotency_key: String::new(),
        };
        let command = SetPrice::try_from(request(1999, "EUR")).unwrap();
        assert_eq!(command.amount.amount_minor(), 1999);
        assert_eq!(command.effective_from, None);

        assert_eq!(
            field_of(SetPrice::try_from(request(-1, "EUR"))),
            "price.amount_minor"
        );
        assert_eq!(
            field_of(SetPrice::try_from(request(i64::MAX, "EUR"))),
            "price.amount_minor"
        );
        assert_eq!(
            field_of(SetPrice::try_from(request(1, "EURO"))),
            "price.currency"
        );
        assert_eq!(
            field_of(SetPrice::try_from(request(1, "ABC"))),
            "price.currency"
        );
        let mut missing = request(1, "EUR");
        missing.price = None;
        assert_eq!(field_of(SetPrice::try_from(missing)), "price");
        let mut bad_time = request(1, "EUR");
        bad_time.effective_from = Some(Timestamp {
            seconds: 0,
            nanos: -1,
        });
        assert_eq!(field_of(SetPrice::try_from(bad_time)), "effective_from");
        let mut far = request(1, "EUR");
        far.effective_from = Some(Timestamp {
            seconds: i64::MAX,
            nanos: 0,
        });
        assert_eq!(field_of(SetPrice::try_from(far)), "effective_from");
        let mut exact = request(1, "EUR");
        exact.effective_from = Some(Timestamp {
            seconds: 1_900_000_000,
            nanos: 123_456_789,
        });
        let at = SetPrice::try_from(exact).unwrap().effective_from.unwrap();
        assert_eq!(at.timestamp_subsec_nanos(), 123_456_000);
    }

    #[test]
    fn quote_requests_dedupe_and_bound_skus() {
        let request = |skus: Vec<String>, currency: &str| pb::QuotePricesRequest {
            skus,
            currency: currency.to_owned(),
        };
        let command = QuotePrices::try_from(request(
            vec!["B".to_owned(), "A".to_owned(), "B".to_owned()],
            "EUR",
        ))
        .unwrap();
        let skus: Vec<&str> = command.skus.iter().map(Sku::as_str).collect();
        assert_eq!(skus, ["B", "A"]);

        assert_eq!(
            field_of(QuotePrices::try_from(request(vec![], "EUR"))),
            "skus"
        );
        let too_many = (0..=MAX_QUOTE_SKUS).map(|i| format!("S{i}")).collect();
        assert_eq!(
            field_of(QuotePrices::try_from(request(too_many, "EUR"))),
            "skus"
        );
        assert_eq!(
            field_of(QuotePrices::try_from(request(
                vec!["A".to_owned(), "bad sku".to_owned()],
                "EUR"
            ))),
            "skus[1]"
        );
        assert_eq!(
            field_of(QuotePrices::try_from(request(vec!["A".to_owned()], "eur"))),
            "currency"
        );
    }
}
