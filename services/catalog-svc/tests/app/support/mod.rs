//! One catalog per test against a real Postgres (`DATABASE_URL`, by
//! default the local `ecommerce` database): a fresh, uniquely named schema
//! migrated with `catalog_migration::Migrator` and dropped at the test's
//! end (so the tests run in parallel), a [`CatalogApp`] on a clock the test
//! moves, and builders for the commands, converted from proto requests
//! with the same `TryFrom` the handlers use.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
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
use catalog_svc::domain::lifecycle::LifecycleAction;
use catalog_svc::domain::model::{Product, ProductId, Variant};
use chrono::{DateTime, Utc};
use ecommerce_db::{DatabaseSettings, connect_and_migrate};
use ecommerce_events::DecodedEvent;
use ecommerce_kernel::ManualClock;
use ecommerce_outbox::{Outbox, OutboxTable};
use ecommerce_platform::grpc::{ErrorCode, ServiceError as _};
use ecommerce_proto::ecommerce::catalog::v1 as pb;
use ecommerce_proto::ecommerce::common::v1 as common_pb;
use ecommerce_test_support::TestSchema;
use prost_types::{FieldMask, Timestamp};
use sea_orm::{ConnectionTrait as _, DatabaseConnection, DbBackend, Statement};
use secrecy::SecretString;
use uuid::Uuid;

/// The service on a fresh schema, with a clock the test moves.
pub struct Catalog {
    pub schema: TestSchema,
    pub db: DatabaseConnection,
    pub app: CatalogApp,
    pub clock: Arc<ManualClock>,
}

impl Catalog {
    pub async fn start() -> Self {
        let schema = TestSchema::create("catalog").await.unwrap();
        // Tagged like the schema's own sessions, so that a failing test's
        // schema drop (`TestSchema`'s `Drop`) terminates ours too instead
        // of waiting on a transaction the blocked runtime never ends.
        let settings = DatabaseSettings {
            url: SecretString::from(schema.application_url()),
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

    pub async fn stop(self) {
        self.db.close().await.unwrap();
        self.schema.drop_schema().await.unwrap();
    }

    /// Every outbox row, in enqueue order, decoded.
    pub async fn events(&self) -> Vec<StoredEvent> {
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

    pub async fn event_types(&self) -> Vec<String> {
        self.events()
            .await
            .into_iter()
            .map(|event| event.event_type)
            .collect()
    }

    // Shortcuts for the steps most tests take.

    pub async fn product(&self, title: &str) -> Product {
        self.app
            .create_product(&admin(), create_product(title, ""))
            .await
            .unwrap()
    }

    pub async fn published_product(&self, title: &str) -> Product {
        let product = self.product(title).await;
        self.app
            .change_product_status(&admin(), status(product.id, LifecycleAction::Publish, None))
            .await
            .unwrap()
    }

    pub async fn variant(&self, product: &Product, sku: &str) -> Variant {
        self.app
            .create_variant(&admin(), create_variant(product.id, sku, ""))
            .await
            .unwrap()
    }

    pub async fn set_price(&self, variant: &Variant, amount: i64, currency: &str) -> Price {
        self.app
            .set_price(&admin(), set_price(variant, amount, currency, None))
            .await
            .unwrap()
    }
}

#[derive(Debug)]
pub struct StoredEvent {
    pub event_type: String,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub correlation_id: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub event: DecodedEvent,
}

pub const CORRELATION_ID: &str = "corr-catalog-test";

pub fn admin() -> RequestContext {
    RequestContext::new(Actor::Admin {
        user_id: Uuid::now_v7(),
    })
    .with_correlation_id(CORRELATION_ID)
}

pub fn customer() -> RequestContext {
    RequestContext::new(Actor::Customer {
        user_id: Uuid::now_v7(),
    })
}

pub fn anonymous() -> RequestContext {
    RequestContext::new(Actor::Anonymous)
}

pub fn create_request(title: &str, key: &str) -> pb::CreateProductRequest {
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

pub fn create_product(title: &str, key: &str) -> CreateProduct {
    create_request(title, key).try_into().unwrap()
}

pub fn status(
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

pub fn update_product(
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

pub fn create_variant(product_id: ProductId, sku: &str, key: &str) -> CreateVariant {
    pb::CreateVariantRequest {
        product_id: product_id.to_string(),
        sku: sku.to_owned(),
        attributes: BTreeMap::from([("size".to_owned(), "42".to_owned())]),
        idempotency_key: key.to_owned(),
    }
    .try_into()
    .unwrap()
}

pub fn update_variant(
    variant: &Variant,
    size: &str,
    expected_version: Option<i64>,
) -> UpdateVariant {
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

pub fn discontinue(variant: &Variant) -> DiscontinueVariant {
    pb::DiscontinueVariantRequest {
        variant_id: variant.id.to_string(),
        expected_version: None,
    }
    .try_into()
    .unwrap()
}

pub fn timestamp(time: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: time.timestamp(),
        nanos: i32::try_from(time.timestamp_subsec_nanos()).unwrap(),
    }
}

pub fn set_price(
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

pub fn quote(skus: &[&str], currency: &str) -> QuotePrices {
    pb::QuotePricesRequest {
        skus: skus.iter().map(|sku| (*sku).to_owned()).collect(),
        currency: currency.to_owned(),
    }
    .try_into()
    .unwrap()
}

pub fn list(request: pb::ListProductsRequest) -> ListProducts {
    request.try_into().unwrap()
}

pub fn get(product: &Product) -> GetProduct {
    GetProduct {
        product_id: product.id,
    }
}

pub fn kind<T: std::fmt::Debug>(result: Result<T, CatalogError>) -> (ErrorCode, String) {
    let error = result.unwrap_err();
    (error.code(), error.to_string())
}

pub fn find_quote<'a>(quotes: &'a [PriceQuote], sku: &str) -> &'a PriceQuote {
    quotes
        .iter()
        .find(|quote| quote.sku.as_str() == sku)
        .unwrap()
}

pub fn amounts(prices: &[Price]) -> Vec<(i64, &'static str)> {
    prices
        .iter()
        .map(|price| (price.amount.amount_minor(), price.amount.currency().code()))
        .collect()
}
