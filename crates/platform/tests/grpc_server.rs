//! The platform's gRPC server, started for real on 127.0.0.1:0 with the
//! generated `OrderService` over an empty implementation (every RPC answers
//! UNIMPLEMENTED), and talked to through generated clients.

// Test helpers fail the test by panicking, like the tests themselves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use ecommerce_platform::grpc::{GrpcServer, GrpcServerError};
use ecommerce_platform::settings::{GrpcSettings, MessageLimits, ServerLimits, ServiceInfo};
use ecommerce_proto::ecommerce::orders::v1::GetOrderRequest;
use ecommerce_proto::ecommerce::orders::v1::order_service_client::OrderServiceClient;
use ecommerce_proto::ecommerce::orders::v1::order_service_server::OrderServiceServer;
use ecommerce_test_support::{
    ServingStatus, TestServer, health_check, health_watch, reflection_file_containing_symbol_v1,
    reflection_file_containing_symbol_v1alpha, reflection_list_services_v1,
    reflection_list_services_v1alpha, serving_status, spawn_service, spawn_service_with_settings,
};
use tokio::net::TcpListener;
use tonic::Code;
use tonic::transport::Endpoint;

use crate::support::EmptyOrders;

const ORDERS: ServiceInfo = ecommerce_platform::services::ORDERS;
const ORDER_SERVICE: &str = "ecommerce.orders.v1.OrderService";

fn register(server: GrpcServer) -> GrpcServer {
    server.add_service(OrderServiceServer::new(EmptyOrders::default()))
}

async fn spawn_orders() -> TestServer {
    spawn_service(&ORDERS, register).await.unwrap()
}

async fn spawn_orders_with_limits(limits: MessageLimits) -> TestServer {
    let settings = GrpcSettings {
        message_limits: limits,
        ..GrpcSettings::for_tests()
    };
    spawn_service_with_settings(&ORDERS, settings, register)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_call_running_past_the_request_timeout_is_ended() {
    let settings = GrpcSettings {
        limits: ServerLimits {
            request_timeout: Duration::from_millis(100),
            ..ServerLimits::default()
        },
        ..GrpcSettings::for_tests()
    };
    let slow = |server: GrpcServer| {
        server.add_service(OrderServiceServer::new(EmptyOrders {
            delay: Duration::from_secs(5),
        }))
    };
    let server = spawn_service_with_settings(&ORDERS, settings, slow)
        .await
        .unwrap();
    let mut client = OrderServiceClient::new(server.channel.clone());
    let started = std::time::Instant::now();
    let status = client
        .get_order(GetOrderRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Cancelled, "{status:?}");
    assert!(status.message().contains("Timeout"), "{status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "ended by the timeout, not the handler"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn health_is_serving_for_the_server_and_every_added_service() {
    let server = spawn_orders().await;

    assert_eq!(
        health_check(server.channel.clone(), "").await.unwrap(),
        ServingStatus::Serving
    );
    assert_eq!(
        health_check(server.channel.clone(), ORDER_SERVICE)
            .await
            .unwrap(),
        ServingStatus::Serving
    );
    let unknown = health_check(server.channel.clone(), "ecommerce.cart.v1.CartService")
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");

    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn reflection_v1_and_v1alpha_list_exactly_the_served_services() {
    let server = spawn_orders().await;
    let expected = vec![
        ORDER_SERVICE.to_owned(),
        "grpc.health.v1.Health".to_owned(),
        "grpc.reflection.v1.ServerReflection".to_owned(),
        "grpc.reflection.v1alpha.ServerReflection".to_owned(),
    ];

    let v1 = reflection_list_services_v1(server.channel.clone())
        .await
        .unwrap();
    let v1alpha = reflection_list_services_v1alpha(server.channel.clone())
        .await
        .unwrap();

    // Services of the shared descriptor set that this process does not serve
    // (CartService, ...) are not advertised.
    assert_eq!(v1, expected);
    assert_eq!(v1alpha, expected);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn reflection_describes_the_order_service_in_both_versions() {
    let server = spawn_orders().await;

    for files in [
        reflection_file_containing_symbol_v1(server.channel.clone(), ORDER_SERVICE)
            .await
            .unwrap(),
        reflection_file_containing_symbol_v1alpha(server.channel.clone(), ORDER_SERVICE)
            .await
            .unwrap(),
    ] {
        let defining = files
            .iter()
            .find(|file| file.package() == "ecommerce.orders.v1" && !file.service.is_empty())
            .unwrap_or_else(|| panic!("no orders file among {:?}", names(&files)));
        let service = defining
            .service
            .iter()
            .find(|service| service.name() == "OrderService")
            .unwrap();
        assert!(
            service
                .method
                .iter()
                .any(|method| method.name() == "GetOrder"),
            "{service:?}"
        );
    }

    // Each version also describes the health service and the other version,
    // so grpcurl (v1alpha) and buf curl (v1) can describe everything listed.
    for symbol in [
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
    ] {
        let files = reflection_file_containing_symbol_v1alpha(server.channel.clone(), symbol)
            .await
            .unwrap();
        assert!(!files.is_empty(), "{symbol}");
    }
    let files = reflection_file_containing_symbol_v1(
        server.channel.clone(),
        "grpc.reflection.v1alpha.ServerReflection",
    )
    .await
    .unwrap();
    assert!(!files.is_empty());

    let missing =
        reflection_file_containing_symbol_v1(server.channel.clone(), "ecommerce.nope.v1.Nothing")
            .await
            .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound, "{missing:?}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn unimplemented_rpcs_answer_unimplemented() {
    let server = spawn_orders().await;

    let status = OrderServiceClient::new(server.channel.clone())
        .get_order(GetOrderRequest::default())
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
    server.shutdown().await.unwrap();
}

/// Sends `payload` to `OrderService/GetOrder` as raw protobuf bytes, so the
/// test does not depend on the request's fields.
async fn call_get_order_with(server: &TestServer, payload: Vec<u8>) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(server.channel.clone());
    grpc.ready().await.unwrap();
    let path = http::uri::PathAndQuery::from_static("/ecommerce.orders.v1.OrderService/GetOrder");
    // prost encodes `Vec<u8>` as `google.protobuf.BytesValue` and `()` as `Empty`.
    let codec = tonic_prost::ProstCodec::<Vec<u8>, ()>::default();
    grpc.unary(tonic::Request::new(payload), path, codec)
        .await
        .unwrap_err()
}

#[tokio::test]
async fn a_request_above_the_decoding_limit_is_refused_with_resource_exhausted() {
    let server = spawn_orders_with_limits(MessageLimits {
        max_decoding_message_size: 64,
        max_encoding_message_size: 4 * 1024 * 1024,
    })
    .await;

    let oversized = call_get_order_with(&server, vec![7; 1024]).await;
    assert_eq!(oversized.code(), Code::ResourceExhausted, "{oversized:?}");
    assert!(
        oversized.message().contains("the limit is: 64"),
        "{oversized:?}"
    );

    // Under the limit the same call reaches the (unimplemented) handler.
    let small = call_get_order_with(&server, vec![7; 16]).await;
    assert_eq!(small.code(), Code::Unimplemented, "{small:?}");

    // The limit covers the built-in services too.
    let long_name = "x".repeat(1024);
    let health = health_check(server.channel.clone(), &long_name)
        .await
        .unwrap_err();
    assert_eq!(health.code(), Code::ResourceExhausted, "{health:?}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_response_above_the_encoding_limit_fails_with_resource_exhausted() {
    let server = spawn_orders_with_limits(MessageLimits {
        max_decoding_message_size: 4 * 1024 * 1024,
        max_encoding_message_size: 32,
    })
    .await;

    // The service list is well over 32 bytes; the health answer is 2.
    let listed = reflection_list_services_v1(server.channel.clone())
        .await
        .unwrap_err();
    assert_eq!(listed.code(), Code::ResourceExhausted, "{listed:?}");
    assert_eq!(
        health_check(server.channel.clone(), "").await.unwrap(),
        ServingStatus::Serving
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn shutdown_turns_health_not_serving_then_stops_the_server() {
    let mut server = spawn_orders().await;
    let mut watch = health_watch(server.channel.clone(), ORDER_SERVICE)
        .await
        .unwrap();
    let first = watch.message().await.unwrap().unwrap();
    assert_eq!(serving_status(&first).unwrap(), ServingStatus::Serving);

    server.begin_shutdown();
    let next = tokio::time::timeout(Duration::from_secs(5), watch.message())
        .await
        .expect("no health update after shutdown began")
        .unwrap()
        .unwrap();
    assert_eq!(serving_status(&next).unwrap(), ServingStatus::NotServing);

    // The open watch would hold the graceful drain; the client lets go.
    drop(watch);
    let addr = server.addr;
    server.shutdown().await.unwrap();

    let reconnect = tokio::time::timeout(
        Duration::from_secs(5),
        Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect(),
    )
    .await
    .expect("connecting to a stopped server hung");
    assert!(reconnect.is_err(), "the server still accepts connections");
}

#[tokio::test]
async fn dropping_the_test_server_stops_it() {
    let server = spawn_orders().await;
    let addr = server.addr;
    let channel = server.channel.clone();
    drop(server);
    drop(channel);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let connected = Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await;
        if connected.is_err() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the dropped server still accepts connections"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn adding_a_service_twice_is_reported_when_serving() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = GrpcServer::new(&ORDERS, &GrpcSettings::for_tests())
        .add_service(OrderServiceServer::new(EmptyOrders::default()))
        .add_service(OrderServiceServer::new(EmptyOrders::default()));
    assert_eq!(server.service_names(), [ORDER_SERVICE]);

    let error = server
        .serve_with_listener(listener, std::future::pending())
        .await
        .unwrap_err();

    assert!(
        matches!(
            error,
            GrpcServerError::DuplicateService { service } if service == ORDER_SERVICE
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn adding_a_built_in_service_again_is_reported_when_serving() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (_reporter, health) = tonic_health::server::health_reporter();
    let server = GrpcServer::new(&ORDERS, &GrpcSettings::for_tests()).add_service(health);

    let error = server
        .serve_with_listener(listener, std::future::pending())
        .await
        .unwrap_err();

    assert!(
        matches!(
            error,
            GrpcServerError::DuplicateService { service } if service == "grpc.health.v1.Health"
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn serve_on_runs_until_its_shutdown_future_completes() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(async move {
        ecommerce_platform::service::serve_on(
            &ORDERS,
            &GrpcSettings::for_tests(),
            listener,
            register,
            async {
                let _ = stopped.await;
            },
        )
        .await
    });

    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    assert_eq!(
        health_check(channel.clone(), ORDER_SERVICE).await.unwrap(),
        ServingStatus::Serving
    );
    assert!(!serving.is_finished());

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), serving)
        .await
        .expect("the server did not stop")
        .unwrap()
        .unwrap();
}

fn names(files: &[prost_types::FileDescriptorProto]) -> Vec<&str> {
    files.iter().map(|file| file.name()).collect()
}
