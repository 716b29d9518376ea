//! ListProducts through [`CatalogApp`]: stable pages bound to their filter,
//! and filtering by visibility, status, full text and category.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use catalog_svc::domain::actor::RequestContext;
use catalog_svc::domain::commands::ListProducts;
use catalog_svc::domain::lifecycle::LifecycleAction;
use catalog_svc::domain::model::ProductId;
use chrono::TimeDelta;
use ecommerce_proto::ecommerce::catalog::v1 as pb;

use crate::support::{Catalog, admin, amounts, anonymous, create_request, customer, list, status};

#[tokio::test]
async fn pages_have_no_duplicates_or_gaps_and_tokens_are_bound_to_their_filter() {
    let catalog = Catalog::start().await;
    let app = &catalog.app;
    let mut created = Vec::new();
    for index in 0..7 {
        // Several products per instant: the id breaks created_at ties.
        if index % 3 == 0 {
            catalog.clock.advance(TimeDelta::milliseconds(1));
        }
        created.push(catalog.product(&format!("Shoe {index}")).await);
    }
    let newest_first: Vec<ProductId> = created.iter().rev().map(|product| product.id).collect();

    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = app
            .list_products(
                &admin(),
                list(pb::ListProductsRequest {
                    page_size: 3,
                    page_token: token.clone(),
                    ..Default::default()
                }),
            )
            .await
            .unwrap();
        pages += 1;
        assert!(page.products.len() <= 3);
        seen.extend(page.products.iter().map(|product| product.id));
        if pages == 1 {
            // Products created while paging are newer than the position:
            // they do not shift later pages.
            catalog.product("Newcomer").await;
        }
        match page.next_page_token {
            Some(next) => token = next,
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, newest_first);

    // A token only continues the listing it came from.
    let first_page = app
        .list_products(
            &admin(),
            list(pb::ListProductsRequest {
                page_size: 2,
                ..Default::default()
            }),
        )
        .await
        .unwrap();
    let token = first_page.next_page_token.unwrap();
    for other_filter in [
        pb::ListProductsRequest {
            status: pb::ProductStatus::Draft.into(),
            ..Default::default()
        },
        pb::ListProductsRequest {
            query: "shoe".to_owned(),
            ..Default::default()
        },
        pb::ListProductsRequest {
            category: "shoes".to_owned(),
            ..Default::default()
        },
    ] {
        let error = ListProducts::try_from(pb::ListProductsRequest {
            page_token: token.clone(),
            page_size: 2,
            ..other_filter
        })
        .unwrap_err();
        assert_eq!(error.field, "page_token");
    }
    // page_size may change between pages (AIP-158).
    let second = app
        .list_products(
            &admin(),
            list(pb::ListProductsRequest {
                page_size: 100,
                page_token: token,
                ..Default::default()
            }),
        )
        .await
        .unwrap();
    assert_eq!(second.products.len(), 6);
    assert_eq!(second.next_page_token, None);
    catalog.stop().await;
}

#[tokio::test]
async fn listing_filters_by_visibility_status_text_and_category() {
    let catalog = Catalog::start().await;
    let app = &catalog.app;
    let trail = catalog.published_product("Trail Running Shoe").await;
    let _draft = catalog.product("Trail Draft Boot").await;
    let mut sandal_request = create_request("Beach Sandal", "");
    sandal_request.categories = vec!["sandals".to_owned()];
    sandal_request.brand = "Seaside".to_owned();
    let sandal = app
        .create_product(&admin(), sandal_request.try_into().unwrap())
        .await
        .unwrap();
    app.change_product_status(&admin(), status(sandal.id, LifecycleAction::Publish, None))
        .await
        .unwrap();

    let titles = |page: catalog_svc::domain::commands::ProductPage| -> Vec<String> {
        page.products
            .iter()
            .map(|product| product.details.title.as_str().to_owned())
            .collect()
    };
    let run = |context: RequestContext, request: pb::ListProductsRequest| async move {
        titles(app.list_products(&context, list(request)).await.unwrap())
    };

    // Shoppers see published products only, whatever they ask for.
    assert_eq!(
        run(anonymous(), pb::ListProductsRequest::default()).await,
        ["Beach Sandal", "Trail Running Shoe"]
    );
    assert_eq!(
        run(customer(), pb::ListProductsRequest::default()).await,
        ["Beach Sandal", "Trail Running Shoe"]
    );
    let drafts = pb::ListProductsRequest {
        status: pb::ProductStatus::Draft.into(),
        ..Default::default()
    };
    assert!(run(anonymous(), drafts.clone()).await.is_empty());
    assert_eq!(run(admin(), drafts).await, ["Trail Draft Boot"]);
    assert_eq!(
        run(admin(), pb::ListProductsRequest::default()).await.len(),
        3
    );

    // Full text over title, brand and description, stemmed.
    let search = |query: &str| pb::ListProductsRequest {
        query: query.to_owned(),
        ..Default::default()
    };
    assert_eq!(
        run(admin(), search("trail")).await,
        ["Trail Draft Boot", "Trail Running Shoe"]
    );
    assert_eq!(
        run(anonymous(), search("trail")).await,
        ["Trail Running Shoe"]
    );
    assert_eq!(run(admin(), search("shoes")).await, ["Trail Running Shoe"]);
    assert_eq!(run(admin(), search("seaside")).await, ["Beach Sandal"]);
    assert_eq!(
        run(admin(), search("\"all about beach\"")).await,
        ["Beach Sandal"]
    );
    assert!(
        run(admin(), search("nothing-matches-this"))
            .await
            .is_empty()
    );

    let category = |slug: &str| pb::ListProductsRequest {
        category: slug.to_owned(),
        ..Default::default()
    };
    assert_eq!(
        run(anonymous(), category("sandals")).await,
        ["Beach Sandal"]
    );
    assert_eq!(
        run(admin(), category("shoes/running")).await,
        ["Trail Draft Boot", "Trail Running Shoe"]
    );
    assert!(run(admin(), category("boots")).await.is_empty());

    // Listed products come with their variants and current prices.
    let variant = catalog.variant(&trail, "TRAIL-42").await;
    catalog.set_price(&variant, 4200, "EUR").await;
    let page = app
        .list_products(&anonymous(), list(search("running")))
        .await
        .unwrap();
    assert_eq!(page.products[0].variants.len(), 1);
    assert_eq!(
        amounts(&page.products[0].variants[0].current_prices),
        [(4200, "EUR")]
    );
    catalog.stop().await;
}
