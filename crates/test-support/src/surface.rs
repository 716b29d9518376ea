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
