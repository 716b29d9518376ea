//! catalog-svc against a real Postgres (`DATABASE_URL`, by default the
//! local `ecommerce` database). Each test migrates a fresh, uniquely named
//! schema with `catalog_migration::Migrator` and drops it at its end, so the
//! tests run in parallel.
//!
//! Most tests drive [`CatalogApp`] directly with commands converted from
//! proto requests (the same `TryFrom` the handlers use); `grpc_surface`
//! goes through the real tonic server and auth layer; `storage` checks the
//! repository on its own. One test binary: every binary links SeaORM, and
//! one link is much cheaper than several.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use catalog_migration::Migrator;
use catalog_svc::app::{CatalogApp, CatalogError};
use catalog_svc::domain::Price;
use catalog_svc::domain::actor::{Actor, RequestContext};
use catalog_svc::domain::commands::{
    ChangeProductStatus, CreateProduct, CreateVariant, DiscontinueVariant, GetProduct,
    ListProducts, PriceQuote, QuotePrices, SetPrice, UpdateProduct, UpdateVariant,
};
use catalog_svc::domain::lifecycle::{LifecycleAction, ProductStatus, VariantStatus};
use catalog_svc::domain::model::{Product, ProductId, Variant};
use catalog_svc::domain::price::QuoteStatus;
use chrono::{DateTime, TimeDelta, Utc};
use ecommerce_db::{DatabaseSettings, connect_and_migrate};
use ecommerce_events::DecodedEvent;
use ecommerce_kernel::{Clock as _, ManualClock};
use ecommerce_outbox::{Outbox, OutboxTable};
use ecommerce_platform::grpc::{ErrorCode, ServiceError as _};
use ecommerce_proto::ecommerce::catalog::v1 as pb;
use ecommerce_proto::ecommerce::common::v1 as common_pb;
use ecommerce_test_support::{TestSchema, database_url};
use prost_types::{FieldMask, Timestamp};
use sea_orm::{ConnectionTrait as _, DatabaseConnection, DbBackend, Statement};
use secrecy::SecretString;
use uuid::Uuid;

// ------------------------------------------------------------------ harness

/// The service on a fresh schema, with a clock the test moves.
struct Catalog {
    schema: TestSchema,
    db: DatabaseConnection,
    app: CatalogApp,
    clock: Arc<ManualClock>,
}

impl Catalog {
    async fn start() -> Self {
        let schema = TestSchema::create("catalog").await.unwrap();
        // Tagged like the schema's own sessions, so that a failing test's
        // schema drop (`TestSchema`'s `Drop`) terminates ours too instead
        // of waiting on a transaction the blocked runtime never ends.
        let base_url = database_url();
        let separator = if base_url.contains('?') { '&' } else { '?' };
        let url = format!("{base_url}{separator}application_name={}", schema.name());
        let settings = DatabaseSettings {
            url: SecretString::from(url),
            schema: schema.name().to_owned(),
            max_connections: 5,
            acquire_timeout: Duration::from_secs(10),
        };
        let db = connect_and_migrate::<Migrator>(&settings).await.unwrap();
        let outbox = Outbox::new(
            OutboxTable::CATALOG.in_schema(schema.name()).unwrap(),
            "catalog.events",
        );
        let clock = Arc::new(ManualClock::starting_now());
        let app = CatalogApp::new(db.clone(), outbox).with_clock(clock.clone());
        Self {
            schema,
            db,
            app,
            clock,
        }
    }

    async fn stop(self) {
        self.db.close().await.unwrap();
        self.schema.drop_schema().await.unwrap();
    }

    /// Every outbox row, in enqueue order, decoded.
    async fn events(&self) -> Vec<StoredEvent> {
        let rows = self
            .db
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT event_type, aggregate_type, aggregate_id, correlation_id, payload \
                 FROM catalog_outbox_events ORDER BY id",
            ))
            .await
            .unwrap();
        rows.into_iter()
            .map(|row| {
                let payload: Vec<u8> = row.try_get("", "payload").unwrap();
                let received = ecommerce_events::decode_envelope(&payload).unwrap();
                let event_type: String = row.try_get("", "event_type").unwrap();
                assert_eq!(received.event.event_type(), event_type);
                StoredEvent {
                    event_type,
                    aggregate_type: row.try_get("", "aggregate_type").unwrap(),
                    aggregate_id: row.try_get("", "aggregate_id").unwrap(),
                    correlation_id: row.try_get("", "correlation_id").unwrap(),
                    occurred_at: received.metadata.occurred_at,
                    event: received.event,
                }
            })
            .collect()
    }

    async fn event_types(&self) -> Vec<String> {
        self.events()
            .await
            .into_iter()
            .map(|event| event.event_type)
            .collect()
    }

    async fn count(&self, table: &str) -> i64 {
        let row = self
            .db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                format!("SELECT count(*)::bigint AS n FROM {table}"),
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get("", "n").unwrap()
    }

    // Shortcuts for the steps most tests take.

    async fn product(&self, title: &str) -> Product {
        self.app
            .create_product(&admin(), create_product(title, ""))
            .await
            .unwrap()
    }

    async fn published_product(&self, title: &str) -> Product {
        let product = self.product(title).await;
        self.app
            .change_product_status(&admin(), status(product.id, LifecycleAction::Publish, None))
            .await
            .unwrap()
    }

    async fn variant(&self, product: &Product, sku: &str) -> Variant {
        self.app
            .create_variant(&admin(), create_variant(product.id, sku, ""))
            .await
            .unwrap()
    }

    async fn set_price(&self, variant: &Variant, amount: i64, currency: &str) -> Price {
        self.app
            .set_price(&admin(), set_price(variant, amount, currency, None))
            .await
            .unwrap()
    }
}

#[derive(Debug)]
struct StoredEvent {
    event_type: String,
    aggregate_type: String,
    aggregate_id: String,
    correlation_id: Option<String>,
    occurred_at: DateTime<Utc>,
    event: DecodedEvent,
}

const CORRELATION_ID: &str = "corr-catalog-test";

fn admin() -> RequestContext {
    RequestContext::new(Actor::Admin {
        user_id: Uuid::now_v7(),
    })
    .with_correlation_id(CORRELATION_ID)
}

fn customer() -> RequestContext {
    RequestContext::new(Actor::Customer {
        user_id: Uuid::now_v7(),
    })
}

fn anonymous() -> RequestContext {
    RequestContext::new(Actor::Anonymous)
}

fn create_request(title: &str, key: &str) -> pb::CreateProductRequest {
    pb::CreateProductRequest {
        title: title.to_owned(),
        description: format!("All about {title}."),
        brand: "Acme".to_owned(),
        categories: vec!["shoes".to_owned(), "shoes/running".to_owned()],
        media: vec![pb::Media {
            url: "https://cdn.example.com/front.jpg".to_owned(),
            alt_text: "front view".to_owned(),
        }],
        idempotency_key: key.to_owned(),
    }
}

fn create_product(title: &str, key: &str) -> CreateProduct {
    create_request(title, key).try_into().unwrap()
}

fn status(
    product_id: ProductId,
    action: LifecycleAction,
    expected_version: Option<i64>,
) -> ChangeProductStatus {
    let id = product_id.to_string();
    match action {
        LifecycleAction::Publish => pb::PublishProductRequest {
            product_id: id,
            expected_version,
        }
        .try_into(),
        LifecycleAction::Unpublish => pb::UnpublishProductRequest {
            product_id: id,
            expected_version,
        }
        .try_into(),
        LifecycleAction::Archive => pb::ArchiveProductRequest {
            product_id: id,
            expected_version,
        }
        .try_into(),
    }
    .unwrap()
}

fn update_product(
    product_id: ProductId,
    fields: pb::Product,
    paths: &[&str],
    expected_version: Option<i64>,
) -> UpdateProduct {
    pb::UpdateProductRequest {
        product: Some(pb::Product {
            id: product_id.to_string(),
            ..fields
        }),
        update_mask: Some(FieldMask {
            paths: paths.iter().map(|path| (*path).to_owned()).collect(),
        }),
        expected_version,
    }
    .try_into()
    .unwrap()
}

fn create_variant(product_id: ProductId, sku: &str, key: &str) -> CreateVariant {
    pb::CreateVariantRequest {
        product_id: product_id.to_string(),
        sku: sku.to_owned(),
        attributes: BTreeMap::from([("size".to_owned(), "42".to_owned())]),
        idempotency_key: key.to_owned(),
    }
    .try_into()
    .unwrap()
}

fn update_variant(variant: &Variant, size: &str, expected_version: Option<i64>) -> UpdateVariant {
    pb::UpdateVariantRequest {
        variant: Some(pb::Variant {
            id: variant.id.to_string(),
            attributes: BTreeMap::from([("size".to_owned(), size.to_owned())]),
            ..pb::Variant::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["attributes".to_owned()],
        }),
        expected_version,
    }
    .try_into()
    .unwrap()
}

fn discontinue(variant: &Variant) -> DiscontinueVariant {
    pb::DiscontinueVariantRequest {
        variant_id: variant.id.to_string(),
        expected_version: None,
    }
    .try_into()
    .unwrap()
}

fn timestamp(time: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: time.timestamp(),
        nanos: i32::try_from(time.timestamp_subsec_nanos()).unwrap(),
    }
}

fn set_price(
    variant: &Variant,
    amount: i64,
    currency: &str,
    effective_from: Option<DateTime<Utc>>,
) -> SetPrice {
    pb::SetPriceRequest {
        variant_id: variant.id.to_string(),
        price: Some(common_pb::Money {
            amount_minor: amount,
            currency: currency.to_owned(),
        }),
        effective_from: effective_from.map(timestamp),
        idempotency_key: String::new(),
    }
    .try_into()
    .unwrap()
}

fn quote(skus: &[&str], currency: &str) -> QuotePrices {
    pb::QuotePricesRequest {
        skus: skus.iter().map(|sku| (*sku).to_owned()).collect(),
        currency: currency.to_owned(),
    }
    .try_into()
    .unwrap()
}

fn list(request: pb::ListProductsRequest) -> ListProducts {
    request.try_into().unwrap()
}

fn get(product: &Product) -> GetProduct {
    GetProduct {
        product_id: product.id,
    }
}

fn kind<T: std::fmt::Debug>(result: Result<T, CatalogError>) -> (ErrorCode, String) {
    let error = result.unwrap_err();
    (error.code(), error.to_string())
}

fn find_quote<'a>(quotes: &'a [PriceQuote], sku: &str) -> &'a PriceQuote {
    quotes
        .iter()
        .find(|quote| quote.sku.as_str() == sku)
        .unwrap()
}

fn amounts(prices: &[Price]) -> Vec<(i64, &'static str)> {
    prices
        .iter()
        .map(|price| (price.amount.amount_minor(), price.amount.currency().code()))
        .collect()
}

// ------------------------------------------------------------------ products

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

    assert_eq!(catalog.count("products").await, 4);
    assert_eq!(
        catalog.event_types().await,
        ["catalog.product.created.v1"; 4]
    );
    catalog.stop().await;
}

// ------------------------------------------------------------------ variants

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

    assert_eq!(catalog.count("variants").await, 3);
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

// ------------------------------------------------------------------ prices

#[tokio::test]
async fn prices_take_effect_at_their_time_and_quotes_never_see_the_future() {
    let catalog = Catalog::start().await;
    let app = &catalog.app;
    let product = catalog.published_product("Trail Shoe").await;
    let variant = catalog.variant(&product, "SHOE-42").await;
    let shopper = anonymous();
    let quote_eur = || app.quote_prices(&shopper, quote(&["SHOE-42"], "EUR"));

    assert_eq!(quote_eur().await.unwrap()[0].status, QuoteStatus::NotPriced);

    let first = catalog.set_price(&variant, 1000, "EUR").await;
    assert_eq!(first.effective_from, catalog.clock.now());
    let quoted = quote_eur().await.unwrap();
    assert_eq!(quoted[0].status, QuoteStatus::Available);
    assert_eq!(quoted[0].unit_price, Some(first));

    // A price from one hour on is stored and announced, not quoted yet.
    let later = catalog.clock.now() + TimeDelta::hours(1);
    let scheduled = app
        .set_price(&admin(), set_price(&variant, 1200, "EUR", Some(later)))
        .await
        .unwrap();
    assert_eq!(scheduled.effective_from, later);
    assert_eq!(quote_eur().await.unwrap()[0].unit_price, Some(first));
    let stored = app.get_product(&anonymous(), get(&product)).await.unwrap();
    assert_eq!(amounts(&stored.variants[0].current_prices), [(1000, "EUR")]);

    // Another currency is its own history.
    catalog.set_price(&variant, 1100, "USD").await;
    let stored = app.get_product(&anonymous(), get(&product)).await.unwrap();
    assert_eq!(
        amounts(&stored.variants[0].current_prices),
        [(1000, "EUR"), (1100, "USD")]
    );

    catalog.clock.advance(TimeDelta::minutes(59));
    assert_eq!(quote_eur().await.unwrap()[0].unit_price, Some(first));
    catalog.clock.advance(TimeDelta::minutes(1));
    assert_eq!(quote_eur().await.unwrap()[0].unit_price, Some(scheduled));

    // The price in effect, again: nothing recorded, nothing emitted.
    let events_before = catalog.events().await.len();
    let unchanged = catalog.set_price(&variant, 1200, "EUR").await;
    assert_eq!(unchanged, scheduled);
    assert_eq!(catalog.events().await.len(), events_before);

    // The past is refused before anything is read or written.
    let past = catalog.clock.now() - TimeDelta::hours(2);
    let error = app
        .set_price(&admin(), set_price(&variant, 999, "EUR", Some(past)))
        .await
        .unwrap_err();
    assert_eq!(error.code(), ErrorCode::InvalidArgument);
    assert_eq!(error.field(), Some("effective_from"));

    // An idempotent SetPrice records once.
    let keyed = |amount| {
        let mut command = set_price(&variant, amount, "EUR", None);
        command.idempotency_key =
            catalog_svc::domain::validation::IdempotencyKey::parse_optional("p-key").unwrap();
        command
    };
    let recorded = app.set_price(&admin(), keyed(1300)).await.unwrap();
    catalog.clock.advance(TimeDelta::seconds(1));
    assert_eq!(
        app.set_price(&admin(), keyed(1300)).await.unwrap(),
        recorded
    );
    assert_eq!(
        kind(app.set_price(&admin(), keyed(1400)).await).0,
        ErrorCode::FailedPrecondition
    );
    assert_eq!(catalog.count("prices").await, 4);

    let changes: Vec<(Option<i64>, i64, String)> = catalog
        .events()
        .await
        .into_iter()
        .filter_map(|event| match event.event {
            DecodedEvent::CatalogPriceChangedV1(changed) => {
                assert_eq!(changed.sku, "SHOE-42");
                assert_eq!(changed.variant_id, variant.id.to_string());
                assert_eq!(event.aggregate_type, "variant");
                let new_price = changed.new_price.unwrap();
                Some((
                    changed.previous_price.map(|previous| previous.amount_minor),
                    new_price.amount_minor,
                    new_price.currency,
                ))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        changes,
        [
            (None, 1000, "EUR".to_owned()),
            (Some(1000), 1200, "EUR".to_owned()),
            (None, 1100, "USD".to_owned()),
            (Some(1200), 1300, "EUR".to_owned()),
        ]
    );
    let scheduled_event = catalog
        .events()
        .await
        .into_iter()
        .find_map(|event| match event.event {
            DecodedEvent::CatalogPriceChangedV1(changed)
                if changed.new_price.as_ref().map(|price| price.amount_minor) == Some(1200) =>
            {
                Some(changed)
            }
            _ => None,
        })
        .unwrap();
    assert_eq!(scheduled_event.effective_from, Some(timestamp(later)));
    catalog.stop().await;
}

#[tokio::test]
async fn quotes_say_why_a_sku_cannot_be_sold() {
    let catalog = Catalog::start().await;
    let app = &catalog.app;
    let published = catalog.published_product("Trail Shoe").await;
    let draft = catalog.product("Secret Shoe").await;
    let available = catalog.variant(&published, "AVAILABLE").await;
    let unpriced = catalog.variant(&published, "UNPRICED").await;
    let discontinued = catalog.variant(&published, "GONE").await;
    let hidden = catalog.variant(&draft, "HIDDEN").await;
    for variant in [&available, &discontinued, &hidden] {
        catalog.set_price(variant, 500, "EUR").await;
    }
    catalog.set_price(&unpriced, 500, "USD").await;
    app.discontinue_variant(&admin(), discontinue(&discontinued))
        .await
        .unwrap();

    let quotes = app
        .quote_prices(
            &anonymous(),
            quote(
                &[
                    "UNPRICED",
                    "AVAILABLE",
                    "MISSING",
                    "GONE",
                    "HIDDEN",
                    "AVAILABLE",
                ],
                "EUR",
            ),
        )
        .await
        .unwrap();
    let summary: Vec<(&str, QuoteStatus)> = quotes
        .iter()
        .map(|quote| (quote.sku.as_str(), quote.status))
        .collect();
    assert_eq!(
        summary,
        [
            ("UNPRICED", QuoteStatus::NotPriced),
            ("AVAILABLE", QuoteStatus::Available),
            ("MISSING", QuoteStatus::NotFound),
            ("GONE", QuoteStatus::Discontinued),
            ("HIDDEN", QuoteStatus::NotPublished),
        ]
    );
    let by_sku = |sku: &str| find_quote(&quotes, sku).clone();
    let sellable = by_sku("AVAILABLE");
    assert_eq!(sellable.variant_id, Some(available.id));
    assert_eq!(sellable.product_id, Some(published.id));
    assert_eq!(sellable.title.as_ref().unwrap().as_str(), "Trail Shoe");
    assert_eq!(sellable.unit_price.unwrap().amount.amount_minor(), 500);
    let missing = by_sku("MISSING");
    assert_eq!((missing.variant_id, missing.product_id), (None, None));
    assert_eq!(missing.title, None);
    // Prices only come with AVAILABLE; a draft's title stays private.
    assert_eq!(by_sku("GONE").unit_price, None);
    assert_eq!(by_sku("HIDDEN").unit_price, None);
    assert_eq!(by_sku("HIDDEN").title, None);
    let as_admin = app
        .quote_prices(&admin(), quote(&["HIDDEN"], "EUR"))
        .await
        .unwrap();
    assert_eq!(as_admin[0].title.as_ref().unwrap().as_str(), "Secret Shoe");
    catalog.stop().await;
}

// ------------------------------------------------------------------ listing

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

// ------------------------------------------------------------------ events and atomicity

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
            catalog.count("products").await,
            catalog.count("variants").await,
            catalog.count("prices").await,
            catalog.count("catalog_outbox_events").await,
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

// ------------------------------------------------------------------ gRPC

mod grpc_surface {
    use catalog_svc::grpc::CatalogGrpc;
    use ecommerce_proto::ecommerce::catalog::v1 as pb;
    use ecommerce_proto::ecommerce::catalog::v1::catalog_service_client::CatalogServiceClient;
    use ecommerce_test_support::TestAuth;
    use tonic::transport::Channel;
    use tonic::{Code, Request};
    use tonic_types::StatusExt as _;
    use tower::Layer as _;

    use super::*;

    fn with_token<T>(message: T, token: Option<&str>) -> Request<T> {
        let mut request = match token {
            Some(token) => ecommerce_test_support::with_bearer(message, token),
            None => Request::new(message),
        };
        request
            .metadata_mut()
            .insert("x-correlation-id", "corr-from-grpc".parse().unwrap());
        request
    }

    #[tokio::test]
    async fn handlers_check_roles_validate_and_carry_the_correlation_id() {
        let catalog = Catalog::start().await;
        let auth = TestAuth::new();
        let admin_token = auth.admin_token();
        let customer_token = auth.customer_token();
        let layer = auth.layer();
        let handlers = CatalogGrpc::new(catalog.app.clone());
        let server = ecommerce_test_support::spawn_service(&catalog_svc::SERVICE, move |server| {
            server.add_service(layer.layer(handlers.into_server()))
        })
        .await
        .unwrap();
        let client = || CatalogServiceClient::<Channel>::new(server.channel.clone());

        // Writes need the admin role.
        let request = || create_request("Trail Shoe", "");
        let status = client()
            .create_product(with_token(request(), None))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
        let status = client()
            .create_product(with_token(request(), Some(&customer_token)))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied);

        // Invalid input names the field, in the message and a BadRequest.
        let mut invalid = request();
        invalid.media[0].url = "http://insecure.example/a.jpg".to_owned();
        let status = client()
            .create_product(with_token(invalid, Some(&admin_token)))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(
            status.message().contains("media[0].url"),
            "{}",
            status.message()
        );
        let violations = status
            .get_error_details()
            .bad_request()
            .unwrap()
            .field_violations
            .clone();
        assert_eq!(violations[0].field, "media[0].url");
        assert_eq!(catalog.count("products").await, 0);

        let created = client()
            .create_product(with_token(request(), Some(&admin_token)))
            .await
            .unwrap()
            .into_inner()
            .product
            .unwrap();
        assert_eq!(created.status, i32::from(pb::ProductStatus::Draft));
        assert_eq!(created.version, 1);
        assert_eq!(created.categories, ["shoes", "shoes/running"]);

        // Anonymous readers do not see the draft; the admin does.
        let get = || pb::GetProductRequest {
            product_id: created.id.clone(),
        };
        let status = client()
            .get_product(with_token(get(), None))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::NotFound);
        let seen = client()
            .get_product(with_token(get(), Some(&admin_token)))
            .await
            .unwrap()
            .into_inner()
            .product
            .unwrap();
        assert_eq!(seen, created);

        // Illegal transitions and stale versions.
        let archive = pb::ArchiveProductRequest {
            product_id: created.id.clone(),
            expected_version: None,
        };
        let status = client()
            .archive_product(with_token(archive, Some(&admin_token)))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert!(status.message().contains("DRAFT"), "{}", status.message());
        let stale = pb::PublishProductRequest {
            product_id: created.id.clone(),
            expected_version: Some(5),
        };
        let status = client()
            .publish_product(with_token(stale, Some(&admin_token)))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Aborted);

        // Malformed ids and page sizes are INVALID_ARGUMENT naming them.
        let status = client()
            .get_product(with_token(
                pb::GetProductRequest {
                    product_id: "not-a-uuid".to_owned(),
                },
                None,
            ))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(
            status.message().starts_with("product_id"),
            "{}",
            status.message()
        );
        let status = client()
            .list_products(with_token(
                pb::ListProductsRequest {
                    page_size: -5,
                    ..Default::default()
                },
                None,
            ))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(
            status.message().starts_with("page_size"),
            "{}",
            status.message()
        );

        // Quotes are open to everyone.
        let quotes = client()
            .quote_prices(with_token(
                pb::QuotePricesRequest {
                    skus: vec!["NOPE-1".to_owned()],
                    currency: "EUR".to_owned(),
                },
                None,
            ))
            .await
            .unwrap()
            .into_inner()
            .quotes;
        assert_eq!(quotes[0].status, i32::from(pb::QuoteStatus::NotFound));

        let events = catalog.events().await;
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].correlation_id.as_deref(), Some("corr-from-grpc"));

        server.shutdown().await.unwrap();
        catalog.stop().await;
    }
}

// ------------------------------------------------------------------ storage

mod storage {
    use catalog_svc::domain::commands::RequestFingerprint;
    use catalog_svc::domain::model::{PriceId, Version};
    use catalog_svc::domain::price::select_in_effect;
    use catalog_svc::domain::validation::{IdempotencyKey, Title};
    use catalog_svc::storage::Lock;
    use catalog_svc::storage::prices::{self, NewPrice};
    use catalog_svc::storage::products::{self, NewProduct};
    use ecommerce_kernel::{Currency, Money};

    use super::*;

    #[tokio::test]
    async fn the_migrator_goes_down_and_up_again() {
        use sea_orm_migration::MigratorTrait as _;

        let catalog = Catalog::start().await;
        catalog.product("Before").await;
        Migrator::down(&catalog.db, None).await.unwrap();
        let tables = || async {
            let row = catalog
                .db
                .query_one_raw(Statement::from_string(
                    DbBackend::Postgres,
                    "SELECT count(*)::bigint AS n FROM pg_tables \
                     WHERE schemaname = current_schema() \
                     AND tablename IN ('products', 'variants', 'prices', 'catalog_outbox_events')",
                ))
                .await
                .unwrap()
                .unwrap();
            row.try_get::<i64>("", "n").unwrap()
        };
        assert_eq!(tables().await, 0);
        Migrator::up(&catalog.db, None).await.unwrap();
        assert_eq!(tables().await, 4);
        // Up again is a no-op.
        Migrator::up(&catalog.db, None).await.unwrap();
        catalog.product("After").await;
        assert_eq!(catalog.count("products").await, 1);
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
}
