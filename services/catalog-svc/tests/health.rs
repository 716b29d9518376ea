//! Honest health, at the process boundary: catalog-svc reaches Postgres and
//! RabbitMQ through TCP proxies the test cuts and restores. The API entry
//! follows the database, `broker` the broker connection, `outbox` the age of
//! the oldest pending event; while the broker is cut the service still
//! accepts writes (the outbox holds their events, published once it is back).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use ecommerce_broker::EventsExchange;
use ecommerce_proto::ecommerce::catalog::v1 as pb;
use ecommerce_proto::ecommerce::catalog::v1::catalog_service_client::CatalogServiceClient;
use ecommerce_runtime::{BROKER_HEALTH_SERVICE, OUTBOX_HEALTH_SERVICE};
use ecommerce_test_support::{
    EVENT_WAIT, ServingStatus, TcpProxy, TestAuth, TestService, health_check, with_bearer,
};
use secrecy::{ExposeSecret as _, SecretString};

const API: &str = "ecommerce.catalog.v1.CatalogService";

async fn wait_for(service: &TestService, entry: &str, expected: ServingStatus) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let status = health_check(service.channel(), entry).await.unwrap();
        if status == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{entry:?} stayed {status:?}, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn status(service: &TestService, entry: &str) -> ServingStatus {
    health_check(service.channel(), entry).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_follows_the_database_the_broker_and_the_outbox_and_writes_go_on_while_the_broker_is_down()
 {
    let database_url = ecommerce_test_support::database_url();
    let (postgres, _) = TcpProxy::in_front_of(&database_url).await.unwrap();
    let amqp_url = ecommerce_broker::BrokerSettings::from_env()
        .unwrap()
        .amqp_url;
    let (rabbitmq, amqp_url) = TcpProxy::in_front_of(amqp_url.expose_secret())
        .await
        .unwrap();
    let mut service = TestService::start_configured::<catalog_migration::Migrator>(
        &catalog_svc::SERVICE,
        &[EventsExchange::Catalog],
        |settings| {
            settings.database.url =
                SecretString::from(postgres.route(settings.database.url.expose_secret()));
            settings.broker = settings
                .broker
                .clone()
                .with_amqp_url("AMQP_URL", SecretString::from(amqp_url))
                .unwrap();
            settings.health.outbox_max_age = Duration::from_secs(1);
        },
    )
    .await
    .unwrap();
    let auth = TestAuth::new();
    let admin = auth.admin_token();
    let layer = auth.layer();
    let app = catalog_svc::start(&service.runtime).unwrap();
    let runtime = service.runtime.clone();
    service
        .serve(&catalog_svc::SERVICE, move |server| {
            let server = catalog_svc::register(server, &layer, app);
            runtime.spawn_health_monitor(&server, std::future::pending());
            server
        })
        .await
        .unwrap();
    let mut client = CatalogServiceClient::new(service.channel());
    for entry in [API, BROKER_HEALTH_SERVICE, OUTBOX_HEALTH_SERVICE] {
        wait_for(&service, entry, ServingStatus::Serving).await;
    }

    // The broker is cut: `broker` goes NOT_SERVING, the API stays SERVING
    // and takes a write, whose event waits in the outbox until `outbox`
    // says it is too old.
    rabbitmq.cut();
    wait_for(&service, BROKER_HEALTH_SERVICE, ServingStatus::NotServing).await;
    let created = client
        .create_product(with_bearer(
            pb::CreateProductRequest {
                title: "Mug".to_owned(),
                brand: "Acme".to_owned(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status(&service, API).await, ServingStatus::Serving);
    wait_for(&service, OUTBOX_HEALTH_SERVICE, ServingStatus::NotServing).await;
    assert_eq!(status(&service, API).await, ServingStatus::Serving);
    assert_eq!(status(&service, "").await, ServingStatus::Serving);

    // Back: the connection returns, the relay publishes the held event.
    rabbitmq.restore();
    wait_for(&service, BROKER_HEALTH_SERVICE, ServingStatus::Serving).await;
    wait_for(&service, OUTBOX_HEALTH_SERVICE, ServingStatus::Serving).await;
    let event = service
        .next_event(EVENT_WAIT)
        .await
        .expect("the held event is published");
    assert_eq!(event.event.event_type(), "catalog.product.created.v1");
    assert_eq!(
        event.metadata.aggregate.id,
        created.product.unwrap().id,
        "the product created while the broker was cut"
    );

    // The database is cut: the API goes NOT_SERVING (and the outbox, whose
    // backlog cannot be read); the process itself still answers.
    postgres.cut();
    wait_for(&service, API, ServingStatus::NotServing).await;
    wait_for(&service, OUTBOX_HEALTH_SERVICE, ServingStatus::NotServing).await;
    assert_eq!(status(&service, "").await, ServingStatus::Serving);
    postgres.restore();
    wait_for(&service, API, ServingStatus::Serving).await;
    wait_for(&service, OUTBOX_HEALTH_SERVICE, ServingStatus::Serving).await;
    service.finish().await.unwrap();
}
