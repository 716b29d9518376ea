#![allow(clippy::expect_used, clippy::unwrap_used)]

//! The layer in front of real tonic servers, in-process: wrapped around one
//! service on the platform's `GrpcServer`, and around a whole tonic server
//! next to health and reflection.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use chrono::{TimeDelta, Utc};
use ecommerce_auth::{
    AccessTokenVerifier, AuthError, AuthLayer, GrpcJwksSource, StaticKeySource, VerifierConfig,
};
use ecommerce_platform::grpc::GrpcTraceLayer;
use ecommerce_platform::settings::ServiceInfo;
use ecommerce_proto::ecommerce::iam::v1::iam_service_client::IamServiceClient;
use ecommerce_proto::ecommerce::iam::v1::iam_service_server::IamServiceServer;
use ecommerce_proto::ecommerce::iam::v1::{
    GetCurrentUserRequest, SetUserRolesRequest, UpdateProfileRequest, User,
};
use ecommerce_test_support::{TestServer, assert_standard_grpc_surface, spawn_service};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Endpoint, Server};
use tonic::{Code, Request, Status};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use tower::Layer as _;
use uuid::Uuid;

use common::iam_stub::Stub;
use common::{AUDIENCE, ISSUER, TestKey, claims, token};

const IAM: ServiceInfo = ecommerce_platform::services::IAM;
const IAM_SERVICE: &str = "ecommerce.iam.v1.IamService";

fn layer_for(key: &TestKey) -> AuthLayer {
    let source = Arc::new(StaticKeySource::new(vec![key.jwk()]));
    AuthLayer::new(Arc::new(AccessTokenVerifier::new(
        source,
        VerifierConfig::new(ISSUER, AUDIENCE),
    )))
}

/// IamService behind the layer, on the platform's GrpcServer.
async fn spawn_wrapped(key: &TestKey, stub: Stub) -> TestServer {
    let layer = layer_for(key);
    spawn_service(&IAM, move |server| {
        server.add_service(layer.layer(IamServiceServer::new(stub)))
    })
    .await
    .unwrap()
}

fn with_token<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

async fn current_user(
    channel: Channel,
    request: Request<GetCurrentUserRequest>,
) -> Result<User, Status> {
    let response = IamServiceClient::new(channel)
        .get_current_user(request)
        .await?;
    Ok(response.into_inner().user.unwrap())
}

#[tokio::test]
async fn without_a_token_the_handler_sees_an_anonymous_caller() {
    let key = TestKey::generate();
    let stub = Stub::default();
    let server = spawn_wrapped(&key, stub.clone()).await;

    let user = current_user(
        server.channel.clone(),
        Request::new(GetCurrentUserRequest {}),
    )
    .await
    .unwrap();
    assert_eq!(user, User::default());
    assert_eq!(stub.calls.load(Ordering::SeqCst), 1);

    // Handlers that need a caller say so.
    let status = IamServiceClient::new(server.channel.clone())
        .update_profile(UpdateProfileRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(status.message(), "sign in first");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_valid_token_puts_the_caller_into_the_request() {
    let key = TestKey::generate();
    let server = spawn_wrapped(&key, Stub::default()).await;
    let user_id = Uuid::now_v7();
    let (token, _) = key
        .issuer()
        .issue(user_id, Uuid::now_v7(), &["admin", "support"], Utc::now())
        .unwrap();

    let user = current_user(
        server.channel.clone(),
        with_token(GetCurrentUserRequest {}, &token),
    )
    .await
    .unwrap();
    assert_eq!(user.id, user_id.to_string());
    assert_eq!(user.roles, ["admin", "support"]);

    // The scheme is case-insensitive.
    let mut request = Request::new(GetCurrentUserRequest {});
    request
        .metadata_mut()
        .insert("authorization", format!("bearer {token}").parse().unwrap());
    let user = current_user(server.channel.clone(), request).await.unwrap();
    assert_eq!(user.id, user_id.to_string());
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn invalid_tokens_are_unauthenticated_and_never_reach_the_handler() {
    let key = TestKey::generate();
    let stub = Stub::default();
    let server = spawn_wrapped(&key, stub.clone()).await;
    let now = Utc::now();

    let expired = key
        .issuer()
        .issue(
            Uuid::now_v7(),
            Uuid::now_v7(),
            &["admin"],
            now - TimeDelta::hours(1),
        )
        .unwrap()
        .0;
    let wrong_audience = key
        .issuer_for(ISSUER, "another-system")
        .issue(Uuid::now_v7(), Uuid::now_v7(), &["admin"], now)
        .unwrap()
        .0;
    let unsigned = {
        let valid = key.sign_raw(
            &json!({"alg": "none", "typ": "JWT", "kid": key.kid()}),
            &claims(now),
        );
        let (signing_input, _) = valid.rsplit_once('.').unwrap();
        format!("{signing_input}.")
    };
    let other_key = TestKey::generate().sign_raw(&key.header(), &claims(now));
    let unknown_kid = token(&TestKey::generate(), &["admin"]);

    for (token, expected) in [
        ("garbage".to_owned(), "access token is malformed"),
        (expired, "access token has expired"),
        (wrong_audience, "access token audience is not accepted"),
        (unsigned, "access token algorithm is not allowed"),
        (other_key, "access token signature is invalid"),
        (unknown_kid, "access token is signed by an unknown key"),
    ] {
        let status = current_user(
            server.channel.clone(),
            with_token(GetCurrentUserRequest {}, &token),
        )
        .await
        .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{expected}");
        assert!(
            status.message().starts_with(expected),
            "{}",
            status.message()
        );
        assert!(!status.message().contains(&token));
    }

    for header in ["Basic dXNlcjpwYXNz", "Bearer", "token-without-scheme"] {
        let mut request = Request::new(GetCurrentUserRequest {});
        request
            .metadata_mut()
            .insert("authorization", header.parse().unwrap());
        let status = current_user(server.channel.clone(), request)
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{header}");
    }

    assert_eq!(stub.calls.load(Ordering::SeqCst), 0, "no handler ran");
    // The connection is still good after refusals.
    current_user(
        server.channel.clone(),
        Request::new(GetCurrentUserRequest {}),
    )
    .await
    .unwrap();
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_missing_role_is_permission_denied() {
    let key = TestKey::generate();
    let stub = Stub::default();
    let server = spawn_wrapped(&key, stub.clone()).await;
    let mut client = IamServiceClient::new(server.channel.clone());
    let request = || SetUserRolesRequest {
        user_id: Uuid::now_v7().to_string(),
        roles: vec!["admin".to_owned()],
    };

    let customer = token(&key, &[]);
    let status = client
        .set_user_roles(with_token(request(), &customer))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(status.message(), "the admin role is required");

    let status = client.set_user_roles(request()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(status.message(), "sign in first");

    let admin = token(&key, &["admin"]);
    let body = request();
    let user = client
        .set_user_roles(with_token(body.clone(), &admin))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(user.id, body.user_id);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn open_methods_pass_untouched_even_with_a_stale_token() {
    let key = TestKey::generate();
    let stub = Stub::default();
    let layer = layer_for(&key).with_open_methods(["/ecommerce.iam.v1.IamService/GetCurrentUser"]);
    let server = spawn_service(&IAM, {
        let stub = stub.clone();
        move |server| server.add_service(layer.layer(IamServiceServer::new(stub)))
    })
    .await
    .unwrap();
    let expired = key
        .issuer()
        .issue(
            Uuid::now_v7(),
            Uuid::now_v7(),
            &["admin"],
            Utc::now() - TimeDelta::hours(1),
        )
        .unwrap()
        .0;
    for token in [
        "garbage",
        expired.as_str(),
        token(&key, &["admin"]).as_str(),
    ] {
        let user = current_user(
            server.channel.clone(),
            with_token(GetCurrentUserRequest {}, token),
        )
        .await
        .unwrap();
        assert_eq!(user, User::default(), "open methods see no caller");
    }
    assert_eq!(stub.calls.load(Ordering::SeqCst), 3);
    // Other methods still authenticate.
    let status = IamServiceClient::new(server.channel.clone())
        .update_profile(with_token(UpdateProfileRequest::default(), &expired))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_wrapped_service_keeps_the_standard_surface() {
    let key = TestKey::generate();
    let server = spawn_wrapped(&key, Stub::default()).await;
    assert_standard_grpc_surface(&server, IAM_SERVICE).await;
    server.shutdown().await.unwrap();
}

/// A whole tonic server behind the platform's trace layer and the auth
/// layer, with health and reflection v1 next to IamService.
async fn spawn_whole_server(layer: AuthLayer, stub: Stub) -> (Channel, oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (_reporter, health) = tonic_health::server::health_reporter();
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(ecommerce_proto::FILE_DESCRIPTOR_SET)
        .build_v1()
        .unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(
        Server::builder()
            .layer(GrpcTraceLayer)
            .layer(layer)
            .add_service(health)
            .add_service(reflection)
            .add_service(IamServiceServer::new(stub))
            .serve_with_incoming_shutdown(TcpIncoming::from(listener), async {
                let _ = stopped.await;
            }),
    );
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    (channel, stop)
}

#[tokio::test]
async fn health_and_reflection_stay_open_even_with_a_bad_token() {
    let key = TestKey::generate();
    let stub = Stub::default();
    let (channel, _stop) = spawn_whole_server(layer_for(&key), stub.clone()).await;

    let status = current_user(
        channel.clone(),
        with_token(GetCurrentUserRequest {}, "garbage"),
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);

    for request in [
        Request::new(HealthCheckRequest::default()),
        with_token(HealthCheckRequest::default(), "garbage"),
    ] {
        HealthClient::new(channel.clone())
            .check(request)
            .await
            .unwrap();
    }

    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    let ask = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let request = with_token(tokio_stream::iter([ask]), "garbage");
    let mut answers = ServerReflectionClient::new(channel.clone())
        .server_reflection_info(request)
        .await
        .unwrap()
        .into_inner();
    let answer = answers.message().await.unwrap().unwrap();
    assert!(answer.message_response.is_some());

    // And the rest of the server authenticates as wrapped services do.
    let user = current_user(
        channel.clone(),
        with_token(GetCurrentUserRequest {}, &token(&key, &["admin"])),
    )
    .await
    .unwrap();
    assert_eq!(user.roles, ["admin"]);
    assert_eq!(stub.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn keys_come_from_iam_get_jwks() {
    let key = TestKey::generate();
    let iam = spawn_wrapped(
        &key,
        Stub {
            jwks: vec![key.jwk()],
            ..Stub::default()
        },
    )
    .await;

    let verifier = Arc::new(AccessTokenVerifier::new(
        Arc::new(GrpcJwksSource::new(&iam.uri).unwrap()),
        VerifierConfig::new(ISSUER, AUDIENCE),
    ));
    let user_id = Uuid::now_v7();
    let (token, _) = key
        .issuer()
        .issue(user_id, Uuid::now_v7(), &["admin"], Utc::now())
        .unwrap();
    assert_eq!(
        verifier.authenticate(&token).await.unwrap().user_id,
        user_id
    );

    // A second service whose layer verifies against that IAM.
    let stub = Stub::default();
    let (channel, _stop) = spawn_whole_server(AuthLayer::new(verifier), stub).await;
    let user = current_user(channel, with_token(GetCurrentUserRequest {}, &token))
        .await
        .unwrap();
    assert_eq!(user.id, user_id.to_string());
    iam.shutdown().await.unwrap();
}

#[tokio::test]
async fn when_iam_is_unreachable_tokens_are_unavailable_not_unauthenticated() {
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    let verifier = Arc::new(AccessTokenVerifier::new(
        Arc::new(GrpcJwksSource::new(&format!("http://{closed}")).unwrap()),
        VerifierConfig::new(ISSUER, AUDIENCE),
    ));
    let key = TestKey::generate();
    let token = token(&key, &[]);
    assert!(matches!(
        verifier.verify(&token).await,
        Err(AuthError::KeysUnavailable)
    ));

    let stub = Stub::default();
    let (channel, _stop) = spawn_whole_server(AuthLayer::new(verifier), stub.clone()).await;
    let status = current_user(
        channel.clone(),
        with_token(GetCurrentUserRequest {}, &token),
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    // Anonymous calls do not need IAM.
    current_user(channel, Request::new(GetCurrentUserRequest {}))
        .await
        .unwrap();
    assert_eq!(stub.calls.load(Ordering::SeqCst), 1);
}
