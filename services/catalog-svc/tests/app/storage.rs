//! The storage layer on its own: the migrator both ways, conditional
//! updates, the SQL price rule against the domain's, and the schema's own
//! constraints.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use catalog_migration::Migrator;
use catalog_svc::app::CatalogError;
use catalog_svc::domain::Price;
use catalog_svc::domain::commands::RequestFingerprint;
use catalog_svc::domain::lifecycle::ProductStatus;
use catalog_svc::domain::model::{PriceId, ProductId, Version};
use catalog_svc::domain::price::select_in_effect;
use catalog_svc::domain::validation::{IdempotencyKey, Title};
use catalog_svc::storage::Lock;
use catalog_svc::storage::prices::{self, NewPrice};
use catalog_svc::storage::products::{self, NewProduct};
use chrono::TimeDelta;
use ecommerce_kernel::{Clock as _, Currency, Money};
use ecommerce_platform::grpc::{ErrorCode, ServiceError as _};
use sea_orm::ConnectionTrait as _;
use uuid::Uuid;

use crate::support::{Catalog, create_product};

#[tokio::test]
async fn the_migrator_goes_down_and_up_again() {
    use sea_orm_migration::MigratorTrait as _;

    let catalog = Catalog::start().await;
    catalog.product("Before").await;
    Migrator::down(&catalog.db, None).await.unwrap();
    let tables = || {
        catalog.schema.count(
            "SELECT count(*) AS n FROM pg_tables \
             WHERE schemaname = current_schema() \
             AND tablename IN ('products', 'variants', 'prices', 'catalog_outbox_events')",
        )
    };
    assert_eq!(tables().await, 0);
    Migrator::up(&catalog.db, None).await.unwrap();
    assert_eq!(tables().await, 4);
    // Up again is a no-op.
    Migrator::up(&catalog.db, None).await.unwrap();
    catalog.product("After").await;
    assert_eq!(
        catalog
            .schema
            .count("SELECT count(*) AS n FROM products")
            .await,
        1
    );
    catalog.stop().await;
}

#[tokio::test]
async fn conditional_updates_tell_missing_from_stale() {
    let catalog = Catalog::start().await;
    let db = &catalog.db;
    let command = create_product("Trail Shoe", "");
    let now = catalog.clock.now();
    let key = IdempotencyKey::parse_optional("storage-key")
        .unwrap()
        .unwrap();
    let inserted = products::insert(
        db,
        NewProduct {
            id: ProductId::generate(),
            details: &command.details,
            idempotency: Some((&key, RequestFingerprint([7; 32]))),
            now,
        },
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(inserted.version, Version::INITIAL);

    // The same key again is not an error: the caller replays.
    let again = products::insert(
        db,
        NewProduct {
            id: ProductId::generate(),
            details: &command.details,
            idempotency: Some((&key, RequestFingerprint([8; 32]))),
            now,
        },
    )
    .await
    .unwrap();
    assert_eq!(again, None);
    let by_key = products::find_by_idempotency_key(db, &key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_key.request_fingerprint.as_deref(), Some(&[7; 32][..]));

    let mut details = command.details.clone();
    details.title = Title::parse("Renamed").unwrap();
    let updated = products::update_details(db, inserted.id, Version::INITIAL, &details, now)
        .await
        .unwrap();
    assert_eq!(updated.version.get(), 2);

    // Callers check the expected version under a row lock first, so a
    // row that moved on here is a conflict to retry, naming both.
    let stale = products::update_details(db, inserted.id, Version::INITIAL, &details, now)
        .await
        .unwrap_err();
    assert!(stale.is_retryable(), "{stale:?}");
    assert_eq!(stale.code(), ErrorCode::Aborted);
    let message = stale.to_string();
    assert!(
        message.contains("version 1") && message.contains("to 2"),
        "{message}"
    );
    let missing = products::update_status(
        db,
        ProductId::generate(),
        Version::INITIAL,
        ProductStatus::Published,
        now,
    )
    .await
    .unwrap_err();
    // Rows are never deleted: one missing under an update is a bug.
    assert_eq!(missing.code(), ErrorCode::Internal);
    assert!(!missing.is_retryable());
    assert_eq!(
        products::find(db, inserted.id, Lock::None)
            .await
            .unwrap()
            .unwrap()
            .details
            .title
            .as_str(),
        "Renamed"
    );
    catalog.stop().await;
}

#[tokio::test]
async fn the_sql_price_rule_agrees_with_the_domain_rule() {
    let catalog = Catalog::start().await;
    let product = catalog.product("Trail Shoe").await;
    let variant = catalog.variant(&product, "SHOE-42").await;
    let eur = Currency::parse("EUR").unwrap();
    let start = catalog.clock.now();
    let at = |minutes: i64| start + TimeDelta::minutes(minutes);
    // Out of order, with a tie at minute 20 and a future price.
    let mut history = Vec::new();
    for (amount, minutes) in [(300, 20), (100, 0), (200, 10), (310, 20), (400, 40)] {
        let price = Price {
            id: PriceId::generate(),
            variant_id: variant.id,
            amount: Money::new(amount, eur).unwrap(),
            effective_from: at(minutes),
        };
        prices::insert(
            &catalog.db,
            NewPrice {
                price,
                idempotency: None,
                now: start,
            },
        )
        .await
        .unwrap()
        .unwrap();
        history.push(price);
    }
    for minutes in [-1, 0, 5, 10, 19, 20, 39, 40, 100] {
        let from_sql =
            prices::in_effect_for_variants(&catalog.db, &[variant.id], Some(eur), at(minutes))
                .await
                .unwrap();
        let from_domain = select_in_effect(&history, eur, at(minutes)).copied();
        assert_eq!(from_sql.first().copied(), from_domain, "minute {minutes}");
    }
    assert_eq!(
        select_in_effect(&history, eur, at(25))
            .unwrap()
            .amount
            .amount_minor(),
        310
    );
    catalog.stop().await;
}

#[tokio::test]
async fn the_schema_refuses_what_validation_would_refuse() {
    let catalog = Catalog::start().await;
    let product = catalog.product("Trail Shoe").await;
    let variant = catalog.variant(&product, "SHOE-42").await;
    let now = catalog.clock.now();
    for statement in [
        format!(
            "INSERT INTO prices (id, variant_id, currency, amount_minor, effective_from, created_at) \
             VALUES ('{}', '{}', 'EUR', -1, now(), now())",
            Uuid::now_v7(),
            variant.id
        ),
        format!(
            "INSERT INTO prices (id, variant_id, currency, amount_minor, effective_from, created_at) \
             VALUES ('{}', '{}', 'eur', 1, now(), now())",
            Uuid::now_v7(),
            variant.id
        ),
        format!(
            "INSERT INTO variants (id, product_id, sku, status, version, created_at, updated_at) \
             VALUES ('{}', '{}', 'lower-case', 'active', 1, now(), now())",
            Uuid::now_v7(),
            product.id
        ),
        format!(
            "INSERT INTO variants (id, product_id, sku, status, version, created_at, updated_at) \
             VALUES ('{}', '{}', 'OK-SKU', 'active', 1, now(), now())",
            Uuid::now_v7(),
            Uuid::now_v7()
        ),
        format!(
            "UPDATE products SET status = 'deleted' WHERE id = '{}'",
            product.id
        ),
        format!(
            "UPDATE products SET version = 0 WHERE id = '{}'",
            product.id
        ),
    ] {
        assert!(
            catalog.db.execute_unprepared(&statement).await.is_err(),
            "{statement}"
        );
    }
    // The repository's errors for duplicate SKUs name them.
    let duplicate = catalog_svc::storage::variants::insert(
        &catalog.db,
        catalog_svc::storage::variants::NewVariant {
            id: catalog_svc::domain::model::VariantId::generate(),
            product_id: product.id,
            sku: &variant.sku,
            attributes: &variant.attributes,
            idempotency: None,
            now,
        },
    )
    .await
    .unwrap_err();
    assert!(duplicate.to_string().contains("SHOE-42"), "{duplicate}");
    assert_eq!(
        CatalogError::from(duplicate).code(),
        ErrorCode::AlreadyExists
    );
    catalog.stop().await;
}
