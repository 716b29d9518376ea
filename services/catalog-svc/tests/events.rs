//! catalog-svc as the binary runs it (runtime, migrator, relay, broker,
//! auth layer), driven through the generated client: every catalog event
//! type is read off RabbitMQ, decoded with the generated codec, and checked
//! for its payload and the caller's correlation id.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ecommerce_broker::EventsExchange;
use ecommerce_events::{DecodedEvent, ReceivedEvent};
use ecommerce_proto::ecommerce::catalog::v1 as pb;
use ecommerce_proto::ecommerce::catalog::v1::catalog_service_client::CatalogServiceClient;
use ecommerce_proto::ecommerce::common::v1::Money;
use ecommerce_test_support::{
    EVENT_WAIT, QUIET, TestAuth, TestService, assert_standard_grpc_surface, with_bearer,
};
use prost_types::FieldMask;
use tonic::transport::Channel;

struct World {
    service: TestService,
    client: CatalogServiceClient<Channel>,
    admin: String,
}

impl World {
    async fn start() -> Self {
        let mut service = TestService::start::<catalog_migration::Migrator>(
            &catalog_svc::SERVICE,
            &[EventsExchange::Catalog],
        )
        .await
        .unwrap();
        let auth = TestAuth::new();
        let admin = auth.admin_token();
        let layer = auth.layer();
        let app = catalog_svc::start(&service.runtime).unwrap();
        service
            .serve(&catalog_svc::SERVICE, move |server| {
                catalog_svc::register(server, &layer, app)
            })
            .await
            .unwrap();
        let client = CatalogServiceClient::new(service.channel());
        Self {
            service,
            client,
            admin,
        }
    }

    /// `message` as the admin, with correlation id `correlation`.
    fn admin<T>(&self, message: T, correlation: &str) -> tonic::Request<T> {
        let mut request = with_bearer(message, &self.admin);
        request
            .metadata_mut()
            .insert("x-correlation-id", correlation.parse().unwrap());
        request
    }

    /// The next event, which must be `event_type` with `correlation`.
    async fn event(&self, event_type: &str, correlation: &str) -> ReceivedEvent {
        let event = self
            .service
            .next_event(EVENT_WAIT)
            .await
            .unwrap_or_else(|| panic!("no {event_type} within {EVENT_WAIT:?}"));
        assert_eq!(event.event.event_type(), event_type);
        assert_eq!(event.metadata.correlation_id.as_deref(), Some(correlation));
        event
    }
}

#[tokio::test]
async fn every_catalog_event_reaches_rabbitmq_with_its_payload_and_correlation_id() {
    let mut world = World::start().await;
    let server = world.service.server.as_ref().unwrap();
    assert_standard_grpc_surface(server, "ecommerce.catalog.v1.CatalogService").await;
    let mut client = world.client.clone();

    let product = client
        .create_product(world.admin(
            pb::CreateProductRequest {
                title: "Trail Shoe".to_owned(),
                brand: "Acme".to_owned(),
                categories: vec!["shoes/running".to_owned()],
                ..Default::default()
            },
            "corr-create",
        ))
        .await
        .unwrap()
        .into_inner()
        .product
        .unwrap();
    let event = world
        .event("catalog.product.created.v1", "corr-create")
        .await;
    let DecodedEvent::CatalogProductCreatedV1(created) = &event.event else {
        panic!()
    };
    assert_eq!(created.product_id, product.id);
    assert_eq!(created.title, "Trail Shoe");
    assert_eq!(created.brand, "Acme");
    assert_eq!(created.categories, vec!["shoes/running".to_owned()]);
    assert_eq!(event.metadata.aggregate.id, product.id);

    let renamed = client
        .update_product(world.admin(
            pb::UpdateProductRequest {
                product: Some(pb::Product {
                    id: product.id.clone(),
                    title: "Trail Shoe II".to_owned(),
                    brand: "Acme".to_owned(),
                    ..Default::default()
                }),
                update_mask: Some(FieldMask {
                    paths: vec!["title".to_owned(), "brand".to_owned()],
                }),
                expected_version: Some(product.version),
            },
            "corr-update",
        ))
        .await
        .unwrap()
        .into_inner()
        .product
        .unwrap();
    let event = world
        .event("catalog.product.updated.v1", "corr-update")
        .await;
    let DecodedEvent::CatalogProductUpdatedV1(updated) = &event.event else {
        panic!()
    };
    // The brand did not change: only the title is listed.
    assert_eq!(updated.changed_fields, vec!["title".to_owned()]);
    assert_eq!(updated.title, "Trail Shoe II");
    assert_eq!(updated.version, renamed.version);

    client
        .publish_product(world.admin(
            pb::PublishProductRequest {
                product_id: product.id.clone(),
                expected_version: None,
            },
            "corr-publish",
        ))
        .await
        .unwrap();
    let event = world
        .event("catalog.product.published.v1", "corr-publish")
        .await;
    let DecodedEvent::CatalogProductPublishedV1(published) = &event.event else {
        panic!()
    };
    assert_eq!(published.product_id, product.id);

    let mut attributes = std::collections::BTreeMap::new();
    attributes.insert("size".to_owned(), "42".to_owned());
    let variant = client
        .create_variant(world.admin(
            pb::CreateVariantRequest {
                product_id: product.id.clone(),
                sku: "SHOE-42".to_owned(),
                attributes: attributes.clone(),
                idempotency_key: String::new(),
            },
            "corr-variant",
        ))
        .await
        .unwrap()
        .into_inner()
        .variant
        .unwrap();
    let event = world
        .event("catalog.variant.created.v1", "corr-variant")
        .await;
    let DecodedEvent::CatalogVariantCreatedV1(created) = &event.event else {
        panic!()
    };
    assert_eq!(created.variant_id, variant.id);
    assert_eq!(created.product_id, product.id);
    assert_eq!(created.sku, "SHOE-42");
    assert_eq!(created.attributes, attributes);

    attributes.insert("size".to_owned(), "43".to_owned());
    client
        .update_variant(world.admin(
            pb::UpdateVariantRequest {
                variant: Some(pb::Variant {
                    id: variant.id.clone(),
                    attributes: attributes.clone(),
                    ..Default::default()
                }),
                update_mask: Some(FieldMask {
                    paths: vec!["attributes".to_owned()],
                }),
                expected_version: Some(variant.version),
            },
            "corr-variant-update",
        ))
        .await
        .unwrap();
    let event = world
        .event("catalog.variant.updated.v1", "corr-variant-update")
        .await;
    let DecodedEvent::CatalogVariantUpdatedV1(updated) = &event.event else {
        panic!()
    };
    assert_eq!(updated.changed_fields, vec!["attributes".to_owned()]);
    assert_eq!(updated.attributes, attributes);

    let price = |amount_minor: i64, correlation: &str| {
        world.admin(
            pb::SetPriceRequest {
                variant_id: variant.id.clone(),
                price: Some(Money {
                    amount_minor,
                    currency: "EUR".to_owned(),
                }),
                effective_from: None,
                idempotency_key: String::new(),
            },
            correlation,
        )
    };
    client
        .set_price(price(9_990, "corr-price-1"))
        .await
        .unwrap();
    let event = world
        .event("catalog.price.changed.v1", "corr-price-1")
        .await;
    let DecodedEvent::CatalogPriceChangedV1(first) = &event.event else {
        panic!()
    };
    assert_eq!(first.sku, "SHOE-42");
    assert_eq!(first.previous_price, None);
    assert_eq!(first.new_price.as_ref().unwrap().amount_minor, 9_990);
    client
        .set_price(price(8_990, "corr-price-2"))
        .await
        .unwrap();
    let event = world
        .event("catalog.price.changed.v1", "corr-price-2")
        .await;
    let DecodedEvent::CatalogPriceChangedV1(second) = &event.event else {
        panic!()
    };
    assert_eq!(second.previous_price.as_ref().unwrap().amount_minor, 9_990);
    assert_eq!(second.new_price.as_ref().unwrap().amount_minor, 8_990);
    assert_eq!(second.new_price.as_ref().unwrap().currency, "EUR");

    client
        .discontinue_variant(world.admin(
            pb::DiscontinueVariantRequest {
                variant_id: variant.id.clone(),
                expected_version: None,
            },
            "corr-discontinue",
        ))
        .await
        .unwrap();
    let event = world
        .event("catalog.variant.discontinued.v1", "corr-discontinue")
        .await;
    let DecodedEvent::CatalogVariantDiscontinuedV1(discontinued) = &event.event else {
        panic!()
    };
    assert_eq!(discontinued.variant_id, variant.id);
    assert_eq!(discontinued.sku, "SHOE-42");

    for (correlation, event_type) in [
        ("corr-unpublish", "catalog.product.unpublished.v1"),
        ("corr-archive", "catalog.product.archived.v1"),
    ] {
        let request = pb::ArchiveProductRequest {
            product_id: product.id.clone(),
            expected_version: None,
        };
        if event_type.contains("unpublished") {
            let request = pb::UnpublishProductRequest {
                product_id: request.product_id,
                expected_version: None,
            };
            client
                .unpublish_product(world.admin(request, correlation))
                .await
                .unwrap();
        } else {
            client
                .archive_product(world.admin(request, correlation))
                .await
                .unwrap();
        }
        let event = world.event(event_type, correlation).await;
        assert_eq!(event.metadata.aggregate.id, product.id);
    }

    // Archived is terminal: a refused change emits nothing.
    let refused = client
        .publish_product(world.admin(
            pb::PublishProductRequest {
                product_id: product.id.clone(),
                expected_version: None,
            },
            "corr-refused",
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert!(
        refused.message().contains("ARCHIVED"),
        "{}",
        refused.message()
    );
    assert!(world.service.next_event(QUIET).await.is_none());

    world.client = client;
    world.service.finish().await.unwrap();
}
