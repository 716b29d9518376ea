//! Changes and their events in the outbox: every catalog event type is
//! emitted by its change with the caller's correlation id, and a failed
//! write leaves neither row nor event.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use catalog_svc::domain::lifecycle::LifecycleAction;
use ecommerce_platform::grpc::{ErrorCode, ServiceError as _};
use ecommerce_proto::ecommerce::catalog::v1 as pb;
use sea_orm::ConnectionTrait as _;

use crate::support::{
    CORRELATION_ID, Catalog, admin, anonymous, create_product, create_variant, customer,
    discontinue, kind, status, update_product, update_variant,
};

#[tokio::test]
async fn every_catalog_event_type_is_emitted_by_its_change_with_the_callers_correlation_id() {
    let catalog = Catalog::start().await;
    let app = &catalog.app;
    let product = catalog.product("Trail Shoe").await;
    let rename = pb::Product {
        title: "Trail Shoe II".to_owned(),
        ..pb::Product::default()
    };
    app.update_product(
        &admin(),
        update_product(product.id, rename, &["title"], None),
    )
    .await
    .unwrap();
    app.change_product_status(&admin(), status(product.id, LifecycleAction::Publish, None))
        .await
        .unwrap();
    let variant = catalog.variant(&product, "SHOE-42").await;
    app.update_variant(&admin(), update_variant(&variant, "43", None))
        .await
        .unwrap();
    catalog.set_price(&variant, 990, "EUR").await;
    app.discontinue_variant(&admin(), discontinue(&variant))
        .await
        .unwrap();
    app.change_product_status(
        &admin(),
        status(product.id, LifecycleAction::Unpublish, None),
    )
    .await
    .unwrap();
    app.change_product_status(&admin(), status(product.id, LifecycleAction::Archive, None))
        .await
        .unwrap();

    let events = catalog.events().await;
    let emitted: BTreeSet<&str> = events
        .iter()
        .map(|event| event.event_type.as_str())
        .collect();
    let catalog_types: BTreeSet<&str> = ecommerce_events::EVENT_TYPES
        .iter()
        .map(|info| info.event_type)
        .filter(|event_type| event_type.starts_with("catalog."))
        .collect();
    assert_eq!(catalog_types.len(), 9);
    assert_eq!(emitted, catalog_types);
    assert_eq!(events.len(), 9, "one event per change");
    for event in &events {
        assert_eq!(event.correlation_id.as_deref(), Some(CORRELATION_ID));
        let expected_aggregate = if event.event_type.starts_with("catalog.product.") {
            ("product", product.id.to_string())
        } else {
            ("variant", variant.id.to_string())
        };
        assert_eq!(
            (event.aggregate_type.as_str(), event.aggregate_id.clone()),
            (expected_aggregate.0, expected_aggregate.1),
            "{}",
            event.event_type
        );
    }
    catalog.stop().await;
}

#[tokio::test]
async fn a_failed_write_leaves_neither_row_nor_event() {
    let catalog = Catalog::start().await;
    let app = &catalog.app;
    let product = catalog.product("Trail Shoe").await;
    catalog.variant(&product, "SHOE-42").await;
    let rows = || async {
        (
            catalog
                .schema
                .count("SELECT count(*) AS n FROM products")
                .await,
            catalog
                .schema
                .count("SELECT count(*) AS n FROM variants")
                .await,
            catalog
                .schema
                .count("SELECT count(*) AS n FROM prices")
                .await,
            catalog
                .schema
                .count("SELECT count(*) AS n FROM catalog_outbox_events")
                .await,
        )
    };
    let before = rows().await;

    // Refused by a constraint in the middle of the transaction.
    assert_eq!(
        kind(
            app.create_variant(&admin(), create_variant(product.id, "SHOE-42", ""))
                .await
        )
        .0,
        ErrorCode::AlreadyExists
    );
    // Refused by the rules, after reads.
    assert_eq!(
        kind(
            app.change_product_status(&admin(), status(product.id, LifecycleAction::Archive, None))
                .await
        )
        .0,
        ErrorCode::FailedPrecondition
    );
    // Refused before the database.
    assert_eq!(
        kind(
            app.create_product(&customer(), create_product("Nope", ""))
                .await
        )
        .0,
        ErrorCode::PermissionDenied
    );
    assert_eq!(
        kind(
            app.create_product(&anonymous(), create_product("Nope", ""))
                .await
        )
        .0,
        ErrorCode::Unauthenticated
    );
    assert_eq!(rows().await, before);

    // The event cannot be written: the product written before it in the
    // same transaction is rolled back with it.
    catalog
        .db
        .execute_unprepared("ALTER TABLE catalog_outbox_events RENAME TO outbox_elsewhere")
        .await
        .unwrap();
    let error = app
        .create_product(&admin(), create_product("Orphan", ""))
        .await
        .unwrap_err();
    assert_eq!(error.code(), ErrorCode::Internal);
    catalog
        .db
        .execute_unprepared("ALTER TABLE outbox_elsewhere RENAME TO catalog_outbox_events")
        .await
        .unwrap();
    assert_eq!(rows().await, before);
    catalog.stop().await;
}
