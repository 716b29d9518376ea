//! Variants through [`CatalogApp`]: catalog-wide unique SKUs (also under
//! concurrent creation), idempotent creation, the lifecycle and its events.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use catalog_svc::domain::lifecycle::VariantStatus;
use ecommerce_events::DecodedEvent;
use ecommerce_platform::grpc::{ErrorCode, ServiceError as _};

use crate::support::{
    Catalog, admin, create_variant, discontinue, get, kind, set_price, update_variant,
};

#[tokio::test]
async fn skus_are_unique_even_when_created_concurrently() {
    let catalog = Catalog::start().await;
    let app = &catalog.app;
    let product = catalog.product("Trail Shoe").await;
    let other = catalog.product("Road Shoe").await;
    catalog.variant(&product, "SHOE-42").await;

    // Unique across the catalog, not per product.
    let (error_kind, message) = kind(
        app.create_variant(&admin(), create_variant(other.id, "SHOE-42", ""))
            .await,
    );
    assert_eq!(error_kind, ErrorCode::AlreadyExists);
    assert!(message.contains("SHOE-42"), "{message}");

    let context = admin();
    let racers = (0..6).map(|index| {
        let target = if index % 2 == 0 { &product } else { &other };
        app.create_variant(&context, create_variant(target.id, "SHOE-43", ""))
    });
    let results = futures::future::join_all(racers).await;
    let winners = results.iter().filter(|result| result.is_ok()).count();
    assert_eq!(winners, 1, "{results:?}");
    for result in results.into_iter().filter(Result::is_err) {
        assert_eq!(result.unwrap_err().code(), ErrorCode::AlreadyExists);
    }

    // An idempotent CreateVariant replays, and refuses another request.
    let first = app
        .create_variant(&admin(), create_variant(product.id, "SHOE-44", "v-key"))
        .await
        .unwrap();
    let replay = app
        .create_variant(&admin(), create_variant(product.id, "SHOE-44", "v-key"))
        .await
        .unwrap();
    assert_eq!(replay.id, first.id);
    let (error_kind, _) = kind(
        app.create_variant(&admin(), create_variant(product.id, "SHOE-45", "v-key"))
            .await,
    );
    assert_eq!(error_kind, ErrorCode::FailedPrecondition);

    assert_eq!(
        catalog
            .schema
            .count("SELECT count(*) AS n FROM variants")
            .await,
        3
    );
    let created = catalog
        .event_types()
        .await
        .into_iter()
        .filter(|event_type| event_type == "catalog.variant.created.v1")
        .count();
    assert_eq!(created, 3);
    catalog.stop().await;
}

#[tokio::test]
async fn variants_follow_their_lifecycle_and_emit_their_events() {
    let catalog = Catalog::start().await;
    let app = &catalog.app;
    let product = catalog.product("Trail Shoe").await;
    let variant = catalog.variant(&product, "SHOE-42").await;
    assert_eq!(variant.status, VariantStatus::Active);
    assert_eq!(variant.version.get(), 1);
    assert!(variant.current_prices.is_empty());

    // The same attributes: nothing happens.
    let same = app
        .update_variant(&admin(), update_variant(&variant, "42", None))
        .await
        .unwrap();
    assert_eq!(same.version.get(), 1);

    let updated = app
        .update_variant(&admin(), update_variant(&variant, "43", Some(1)))
        .await
        .unwrap();
    assert_eq!(updated.version.get(), 2);
    assert_eq!(updated.attributes.as_map()["size"], "43");
    assert_eq!(updated.sku, variant.sku);

    let discontinued = app
        .discontinue_variant(&admin(), discontinue(&variant))
        .await
        .unwrap();
    assert_eq!(discontinued.status, VariantStatus::Discontinued);
    assert_eq!(discontinued.version.get(), 3);

    // Terminal: discontinue again, edit or price it.
    let (error_kind, message) = kind(
        app.discontinue_variant(&admin(), discontinue(&variant))
            .await,
    );
    assert_eq!(error_kind, ErrorCode::FailedPrecondition);
    assert!(message.contains("is DISCONTINUED"), "{message}");
    let (error_kind, _) = kind(
        app.update_variant(&admin(), update_variant(&variant, "44", None))
            .await,
    );
    assert_eq!(error_kind, ErrorCode::FailedPrecondition);
    let (error_kind, _) = kind(
        app.set_price(&admin(), set_price(&variant, 100, "EUR", None))
            .await,
    );
    assert_eq!(error_kind, ErrorCode::FailedPrecondition);

    // The product lists its variants.
    let stored = app.get_product(&admin(), get(&product)).await.unwrap();
    assert_eq!(stored.variants, std::slice::from_ref(&discontinued));
    assert_eq!(
        stored.version.get(),
        1,
        "variant changes keep the product version"
    );

    let events = catalog.events().await;
    let types: Vec<&str> = events
        .iter()
        .map(|event| event.event_type.as_str())
        .collect();
    assert_eq!(
        types,
        [
            "catalog.product.created.v1",
            "catalog.variant.created.v1",
            "catalog.variant.updated.v1",
            "catalog.variant.discontinued.v1",
        ]
    );
    let DecodedEvent::CatalogVariantCreatedV1(created) = &events[1].event else {
        panic!("{:?}", events[1]);
    };
    assert_eq!(created.sku, "SHOE-42");
    assert_eq!(created.product_id, product.id.to_string());
    assert_eq!(created.attributes["size"], "42");
    assert_eq!(created.version, 1);
    let DecodedEvent::CatalogVariantUpdatedV1(updated_event) = &events[2].event else {
        panic!("{:?}", events[2]);
    };
    assert_eq!(updated_event.changed_fields, ["attributes"]);
    assert_eq!(updated_event.attributes["size"], "43");
    assert_eq!(updated_event.sku, "SHOE-42");
    assert_eq!(updated_event.version, 2);
    let DecodedEvent::CatalogVariantDiscontinuedV1(discontinued_event) = &events[3].event else {
        panic!("{:?}", events[3]);
    };
    assert_eq!(discontinued_event.version, 3);
    for event in &events[1..] {
        assert_eq!(event.aggregate_type, "variant");
        assert_eq!(event.aggregate_id, variant.id.to_string());
    }
    catalog.stop().await;
}
