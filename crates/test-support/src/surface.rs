//! The gRPC surface every service must offer, checked the same way for each.

use ecommerce_platform::grpc::{HEALTH_SERVICE, REFLECTION_V1_SERVICE, REFLECTION_V1ALPHA_SERVICE};

use crate::{
    ServingStatus, TestServer, health_check, reflection_file_containing_symbol_v1,
    reflection_file_containing_symbol_v1alpha, reflection_list_services_v1,
    reflection_list_services_v1alpha,
};

/// Asserts that `server` reports SERVING for the whole server and for
/// `grpc_service`, and that reflection v1 and v1alpha both list and describe
/// `grpc_service` next to health and reflection themselves.
///
/// # Panics
/// When any of that does not hold: this is a test assertion.
#[allow(clippy::expect_used)]
pub async fn assert_standard_grpc_surface(server: &TestServer, grpc_service: &str) {
    for name in ["", grpc_service] {
        let status = health_check(server.channel.clone(), name)
            .await
            .expect("health check answers");
        assert_eq!(status, ServingStatus::Serving, "health of {name:?}");
    }

    let listed_v1 = reflection_list_services_v1(server.channel.clone())
        .await
        .expect("reflection v1 answers");
    let listed_v1alpha = reflection_list_services_v1alpha(server.channel.clone())
        .await
        .expect("reflection v1alpha answers");
    for listed in [&listed_v1, &listed_v1alpha] {
        for expected in [
            grpc_service,
            HEALTH_SERVICE,
            REFLECTION_V1_SERVICE,
            REFLECTION_V1ALPHA_SERVICE,
        ] {
            assert!(
                listed.iter().any(|name| name == expected),
                "{expected} missing from reflection listing {listed:?}"
            );
        }
    }

    let files_v1 = reflection_file_containing_symbol_v1(server.channel.clone(), grpc_service)
        .await
        .expect("reflection v1 describes the service");
    let files_v1alpha =
        reflection_file_containing_symbol_v1alpha(server.channel.clone(), grpc_service)
            .await
            .expect("reflection v1alpha describes the service");
    let package = grpc_service
        .rsplit_once('.')
        .map_or("", |(package, _)| package);
    for files in [&files_v1, &files_v1alpha] {
        assert!(
            files.iter().any(|file| file.package() == package),
            "no file of package {package} describes {grpc_service}"
        );
    }
}

/// Defines the standard integration test of a service's gRPC surface:
/// starts the real service in-process, checks health and reflection with
/// [`assert_standard_grpc_surface`], and expects `UNIMPLEMENTED` from a
/// domain RPC that is not built yet.
///
/// ```ignore
/// ecommerce_test_support::grpc_surface_test!(
///     service: orders_svc,
///     grpc_service: "ecommerce.orders.v1.OrderService",
///     client: ecommerce_proto::ecommerce::orders::v1::order_service_client::OrderServiceClient,
///     unimplemented_rpc: get_order(ecommerce_proto::ecommerce::orders::v1::GetOrderRequest::default()),
/// );
/// ```
#[macro_export]
macro_rules! grpc_surface_test {
    (
        service: $service:ident,
        grpc_service: $grpc_service:literal,
        client: $($client:ident)::+,
        unimplemented_rpc: $method:ident($request:expr) $(,)?
    ) => {
        #[tokio::test]
        #[allow(clippy::expect_used)]
        async fn serves_health_reflection_and_answers_unimplemented() {
            let auth = $crate::TestAuth::new();
            let layer = auth.layer();
            let server = $crate::spawn_service(&$service::SERVICE, |server| {
                $service::register(server, &layer)
            })
            .await
            .expect("service starts");
            $crate::assert_standard_grpc_surface(&server, $grpc_service).await;

            let mut client = $($client)::+::new(server.channel.clone());
            let status = client
                .$method($request)
                .await
                .expect_err(concat!(stringify!($method), " is not built yet"));
            assert_eq!(status.code(), $crate::tonic::Code::Unimplemented);

            // The auth layer is in front: a bad token never reaches the handler,
            // a good one does.
            let status = client
                .$method($crate::with_bearer($request, "not-a-token"))
                .await
                .expect_err("a malformed token is refused");
            assert_eq!(status.code(), $crate::tonic::Code::Unauthenticated);
            let status = client
                .$method($crate::with_bearer($request, &auth.admin_token()))
                .await
                .expect_err(concat!(stringify!($method), " is not built yet"));
            assert_eq!(status.code(), $crate::tonic::Code::Unimplemented);

            server.shutdown().await.expect("service stops");
        }
    };
}
