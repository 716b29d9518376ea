//! Products through [`CatalogApp`]: the lifecycle state machine, optimistic
//! versions, field-mask updates, idempotent creation and who sees what.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use catalog_svc::domain::commands::GetProduct;
use catalog_svc::domain::lifecycle::{LifecycleAction, ProductStatus};
use catalog_svc::domain::model::ProductId;
use chrono::TimeDelta;
use ecommerce_events::DecodedEvent;
use ecommerce_kernel::Clock as _;
use ecommerce_platform::grpc::ErrorCode;
use ecommerce_proto::ecommerce::catalog::v1 as pb;

use crate::support::{
    Catalog, admin, anonymous, create_product, create_variant, customer, get, kind, status,
    update_product, update_variant,
};

#[tokio::test]
async fn the_lifecycle_follows_the_state_machine_and_refusals_name_the_state() {
    let catalog = Catalog::start().await;
    let app = &catalog.app;
    let product = catalog.product("Trail Shoe").await;
    assert_eq!(product.status, ProductStatus::Draft);
    assert_eq!(product.version.get(), 1);
    let id = product.id;

    // A draft can only be published.
    for action in [LifecycleAction::Unpublish, LifecycleAction::Archive] {
        let (error_kind, message) = kind(
            app.change_product_status(&admin(), status(id, action, None))
                .await,
        );
        assert_eq!(error_kind, ErrorCode::FailedPrecondition, "{action:?}");
        assert!(message.contains("is DRAFT"), "{message}");
    }

    let steps = [
        (LifecycleAction::Publish, ProductStatus::Published, 2),
        (LifecycleAction::Unpublish, ProductStatus::Unpublished, 3),
        (LifecycleAction::Publish, ProductStatus::Published, 4),
        (LifecycleAction::Unpublish, ProductStatus::Unpublished, 5),
        (LifecycleAction::Archive, ProductStatus::Archived, 6),
    ];
    for (action, expected_status, expected_version) in steps {
        let changed = app
            .change_product_status(&admin(), status(id, action, None))
            .await
            .unwrap();
        assert_eq!(changed.status, expected_status);
        assert_eq!(changed.version.get(), expected_version);
        if expected_status == ProductStatus::Published {
            // Publishing twice is not a transition.
            let (error_kind, message) = kind(
                app.change_product_status(&admin(), status(id, action, None))
                    .await,
            );
            assert_eq!(error_kind, ErrorCode::FailedPrecondition);
            assert!(message.contains("is PUBLISHED"), "{message}");
            // The chain: a published product is unpublished first.
            let (error_kind, _) = kind(
                app.change_product_status(&admin(), status(id, LifecycleAction::Archive, None))
                    .await,
            );
            assert_eq!(error_kind, ErrorCode::FailedPrecondition);
        }
    }

    // Archived is terminal: no transition, no edit, no new variant.
    for action in LifecycleAction::ALL {
        let (error_kind, message) = kind(
            app.change_product_status(&admin(), status(id, action, None))
                .await,
        );
        assert_eq!(error_kind, ErrorCode::FailedPrecondition);
        assert!(message.contains("is ARCHIVED"), "{message}");
    }
    let rename = pb::Product {
        title: "Renamed".to_owned(),
        ..pb::Product::default()
    };
    let (error_kind, message) = kind(
        app.update_product(&admin(), update_product(id, rename, &["title"], None))
            .await,
    );
    assert_eq!(error_kind, ErrorCode::FailedPrecondition);
    assert!(message.contains("ARCHIVED"), "{message}");
    let (error_kind, _) = kind(
        app.create_variant(&admin(), create_variant(id, "ARCHIVED-1", ""))
            .await,
    );
    assert_eq!(error_kind, ErrorCode::FailedPrecondition);

    let stored = app.get_product(&admin(), get(&product)).await.unwrap();
    assert_eq!(stored.status, ProductStatus::Archived);
    assert_eq!(stored.version.get(), 6);
    assert_eq!(
        catalog.event_types().await,
        [
            "catalog.product.created.v1",
            "catalog.product.published.v1",
            "catalog.product.unpublished.v1",
            "catalog.product.published.v1",
            "catalog.product.unpublished.v1",
            "catalog.product.archived.v1",
        ]
    );
    let versions: Vec<i64> = catalog
        .events()
        .await
        .iter()
        .map(|event| match &event.event {
            DecodedEvent::CatalogProductCreatedV1(created) => created.version,
            DecodedEvent::CatalogProductPublishedV1(published) => published.version,
            DecodedEvent::CatalogProductUnpublishedV1(unpublished) => unpublished.version,
            DecodedEvent::CatalogProductArchivedV1(archived) => archived.version,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(versions, [1, 2, 3, 4, 5, 6]);
    catalog.stop().await;
}

#[tokio::test]
async fn stale_versions_are_aborted_and_change_nothing() {
    let catalog = Catalog::start().await;
    let app = &catalog.app;
    let product = catalog.product("Trail Shoe").await;
    let rename = |title: &str| pb::Product {
        title: title.to_owned(),
        ..pb::Product::default()
    };

    let renamed = app
        .update_product(
            &admin(),
            update_product(product.id, rename("Road Shoe"), &["title"], Some(1)),
        )
        .await
        .unwrap();
    assert_eq!(renamed.version.get(), 2);

    // Another writer still holding version 1 loses.
    let (error_kind, message) = kind(
        app.update_product(
            &admin(),
            update_product(product.id, rename("Track Shoe"), &["title"], Some(1)),
        )
        .await,
    );
    assert_eq!(error_kind, ErrorCode::Aborted);
    assert!(message.contains("version 2"), "{message}");
    let (error_kind, _) = kind(
        app.change_product_status(
            &admin(),
            status(product.id, LifecycleAction::Publish, Some(1)),
        )
        .await,
    );
    assert_eq!(error_kind, ErrorCode::Aborted);

    let stored = app.get_product(&admin(), get(&product)).await.unwrap();
    assert_eq!(stored.details.title.as_str(), "Road Shoe");
    assert_eq!(stored.status, ProductStatus::Draft);
    assert_eq!(stored.version.get(), 2);
    assert_eq!(catalog.events().await.len(), 2);

    // The current version applies; no version applies to the latest.
    let published = app
        .change_product_status(
            &admin(),
            status(product.id, LifecycleAction::Publish, Some(2)),
        )
        .await
        .unwrap();
    assert_eq!(published.version.get(), 3);
    let unpublished = app
        .change_product_status(
            &admin(),
            status(product.id, LifecycleAction::Unpublish, None),
        )
        .await
        .unwrap();
    assert_eq!(unpublished.version.get(), 4);

    // Variants carry their own versions.
    let variant = catalog.variant(&product, "SHOE-1").await;
    let (error_kind, _) = kind(
        app.update_variant(&admin(), update_variant(&variant, "43", Some(7)))
            .await,
    );
    assert_eq!(error_kind, ErrorCode::Aborted);
    let updated = app
        .update_variant(&admin(), update_variant(&variant, "43", Some(1)))
        .await
        .unwrap();
    assert_eq!(updated.version.get(), 2);

    // An unknown product is NOT_FOUND, not ABORTED.
    let missing = ProductId::generate();
    let (error_kind, _) = kind(
        app.change_product_status(&admin(), status(missing, LifecycleAction::Publish, Some(1)))
            .await,
    );
    assert_eq!(error_kind, ErrorCode::NotFound);
    catalog.stop().await;
}

#[tokio::test]
async fn updates_list_what_changed_and_an_update_changing_nothing_does_nothing() {
    let catalog = Catalog::start().await;
    let app = &catalog.app;
    let product = catalog.product("Trail Shoe").await;

    // Naming fields with their current values is not a change.
    let same = pb::Product {
        title: "Trail Shoe".to_owned(),
        brand: "Acme".to_owned(),
        categories: vec!["shoes".to_owned(), "shoes/running".to_owned()],
        ..pb::Product::default()
    };
    let unchanged = app
        .update_product(
            &admin(),
            update_product(product.id, same, &["title", "brand", "categories"], None),
        )
        .await
        .unwrap();
    assert_eq!(unchanged.version.get(), 1);
    assert_eq!(unchanged.updated_at, product.updated_at);
    assert_eq!(catalog.events().await.len(), 1);

    catalog.clock.advance(TimeDelta::seconds(5));
    let changes = pb::Product {
        title: "Trail Shoe 2".to_owned(),
        brand: "Acme".to_owned(),
        // Named and empty: cleared.
        media: Vec::new(),
        ..pb::Product::default()
    };
    let updated = app
        .update_product(
            &admin(),
            update_product(product.id, changes, &["media", "brand", "title"], Some(1)),
        )
        .await
        .unwrap();
    assert_eq!(updated.version.get(), 2);
    assert_eq!(updated.details.title.as_str(), "Trail Shoe 2");
    assert!(updated.details.media.as_slice().is_empty());
    // Fields not named are kept.
    assert_eq!(updated.details.description, product.details.description);
    assert_eq!(updated.updated_at, catalog.clock.now());

    let events = catalog.events().await;
    assert_eq!(events.len(), 2);
    let DecodedEvent::CatalogProductUpdatedV1(event) = &events[1].event else {
        panic!("expected product.updated, got {:?}", events[1]);
    };
    assert_eq!(event.changed_fields, ["title", "media"]);
    assert_eq!(event.title, "Trail Shoe 2");
    assert_eq!(event.brand, "Acme");
    assert_eq!(event.description, "All about Trail Shoe.");
    assert_eq!(event.categories, ["shoes", "shoes/running"]);
    assert!(event.media.is_empty());
    assert_eq!(event.version, 2);
    assert_eq!(event.product_id, product.id.to_string());
    assert_eq!(events[1].occurred_at, catalog.clock.now());
    catalog.stop().await;
}

#[tokio::test]
async fn create_product_is_idempotent_on_its_key() {
    let catalog = Catalog::start().await;
    let app = &catalog.app;

    let first = app
        .create_product(&admin(), create_product("Trail Shoe", "key-1"))
        .await
        .unwrap();
    let replay = app
        .create_product(&admin(), create_product("Trail Shoe", "key-1"))
        .await
        .unwrap();
    assert_eq!(replay.id, first.id);
    assert_eq!(replay, first);

    // The same key with another request is refused, naming the key.
    let (error_kind, message) = kind(
        app.create_product(&admin(), create_product("Road Shoe", "key-1"))
            .await,
    );
    assert_eq!(error_kind, ErrorCode::FailedPrecondition);
    assert!(message.contains("idempotency_key"), "{message}");

    // Concurrent retries of one request end in one product.
    let context = admin();
    let retries = (0..6).map(|_| app.create_product(&context, create_product("Sandal", "key-2")));
    let results = futures::future::join_all(retries).await;
    let ids: BTreeSet<ProductId> = results
        .into_iter()
        .map(|result| result.unwrap().id)
        .collect();
    assert_eq!(ids.len(), 1);

    // Without a key, two creates are two products.
    catalog.product("Boot").await;
    catalog.product("Boot").await;

    assert_eq!(
        catalog
            .schema
            .count("SELECT count(*) AS n FROM products")
            .await,
        4
    );
    assert_eq!(
        catalog.event_types().await,
        ["catalog.product.created.v1"; 4]
    );
    catalog.stop().await;
}

#[tokio::test]
async fn shoppers_only_see_published_products() {
    let catalog = Catalog::start().await;
    let app = &catalog.app;
    let product = catalog.product("Trail Shoe").await;
    for context in [anonymous(), customer()] {
        assert_eq!(
            kind(app.get_product(&context, get(&product)).await).0,
            ErrorCode::NotFound
        );
    }
    assert!(app.get_product(&admin(), get(&product)).await.is_ok());
    app.change_product_status(&admin(), status(product.id, LifecycleAction::Publish, None))
        .await
        .unwrap();
    let seen = app.get_product(&anonymous(), get(&product)).await.unwrap();
    assert_eq!(seen.status, ProductStatus::Published);
    app.change_product_status(
        &admin(),
        status(product.id, LifecycleAction::Unpublish, None),
    )
    .await
    .unwrap();
    assert_eq!(
        kind(app.get_product(&customer(), get(&product)).await).0,
        ErrorCode::NotFound
    );
    let missing = GetProduct {
        product_id: ProductId::generate(),
    };
    assert_eq!(
        kind(app.get_product(&admin(), missing).await).0,
        ErrorCode::NotFound
    );
    catalog.stop().await;
}
