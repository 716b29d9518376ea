//! The started service answers health and reflection, every RPC is built
//! (none answers UNIMPLEMENTED), and the auth layer sits in front.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use ecommerce_proto::ecommerce::registry::v1 as pb;
use ecommerce_test_support::{assert_standard_grpc_surface, with_bearer};
use tonic::Code;

use crate::support::{As, World};

#[tokio::test]
async fn serves_health_reflection_and_every_rpc() {
    let world = World::start().await;
    assert_standard_grpc_surface(
        world.service.server.as_ref().unwrap(),
        "ecommerce.registry.v1.SchemaRegistryService",
    )
    .await;

    // Every RPC answers something other than UNIMPLEMENTED, even to an
    // empty request (mostly INVALID_ARGUMENT or NOT_FOUND).
    let mut client = world.client();
    let codes = [
        client
            .register_schema(pb::RegisterSchemaRequest::default())
            .await
            .map(drop),
        client
            .get_schema(pb::GetSchemaRequest::default())
            .await
            .map(drop),
        client
            .get_latest_schema(pb::GetLatestSchemaRequest::default())
            .await
            .map(drop),
        client
            .list_subjects(pb::ListSubjectsRequest::default())
            .await
            .map(drop),
        client
            .list_versions(pb::ListVersionsRequest::default())
            .await
            .map(drop),
        client
            .check_compatibility(pb::CheckCompatibilityRequest::default())
            .await
            .map(drop),
        client
            .get_compatibility(pb::GetCompatibilityRequest::default())
            .await
            .map(drop),
        client
            .set_compatibility(world.request(As::Admin, pb::SetCompatibilityRequest::default()))
            .await
            .map(drop),
        client
            .get_schema_by_version(pb::GetSchemaByVersionRequest::default())
            .await
            .map(drop),
        client
            .delete_schema_version(
                world.request(As::Admin, pb::DeleteSchemaVersionRequest::default()),
            )
            .await
            .map(drop),
        client
            .delete_subject(world.request(As::Admin, pb::DeleteSubjectRequest::default()))
            .await
            .map(drop),
        client
            .get_references(pb::GetReferencesRequest::default())
            .await
            .map(drop),
    ];
    for (index, result) in codes.into_iter().enumerate() {
        if let Err(status) = result {
            assert_ne!(
                status.code(),
                Code::Unimplemented,
                "rpc #{index}: {status:?}"
            );
        }
    }

    // The auth layer is in front: a bad token never reaches a handler, even
    // an open one; a good one does.
    let status = client
        .list_subjects(with_bearer(
            pb::ListSubjectsRequest::default(),
            "not-a-token",
        ))
        .await
        .expect_err("a malformed token is refused");
    assert_eq!(status.code(), Code::Unauthenticated);
    let subjects = client
        .list_subjects(world.request(As::Customer, pb::ListSubjectsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(subjects.subjects.is_empty());

    world.finish().await;
}
