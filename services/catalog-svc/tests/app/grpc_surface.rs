//! The handlers through the real tonic server and auth layer: roles,
//! validation errors naming the field, status codes and the caller's
//! correlation id.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use catalog_svc::grpc::CatalogGrpc;
use ecommerce_proto::ecommerce::catalog::v1 as pb;
use ecommerce_proto::ecommerce::catalog::v1::catalog_service_client::CatalogServiceClient;
use ecommerce_test_support::TestAuth;
use tonic::transport::Channel;
use tonic::{Code, Request};
use tonic_types::StatusExt as _;
use tower::Layer as _;

use crate::support::{Catalog, create_request};

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
    assert_eq!(
        catalog
            .schema
            .count("SELECT count(*) AS n FROM products")
            .await,
        0
    );

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
