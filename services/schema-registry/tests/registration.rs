//! RegisterSchema and CheckCompatibility against real Postgres: versions
//! and ids, idempotency under the canonical form (descriptor sets compiled
//! by the vendored protoc), concurrent registration, bad input, and
//! incompatible changes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use ecommerce_proto::ecommerce::registry::v1 as pb;
use prost::Message as _;
use prost_reflect::DescriptorPool;
use prost_types::{FileDescriptorProto, FileDescriptorSet};
use tonic::Code;

use crate::support::{
    As, MONEY, ORDER_PLACED, SourceInfo, THING, World, assert_code, assert_invalid, file_records,
    order_set, record_file_name, thing_set, unrelated_set,
};

#[tokio::test]
async fn versions_count_per_subject_and_ids_are_registry_wide() {
    let world = World::start().await;
    let first = world
        .register("thing.a", &thing_set(1), THING)
        .await
        .unwrap();
    assert_eq!((first.subject.as_str(), first.version), ("thing.a", 1));
    assert!(first.id > 0);
    assert!(!first.deleted);
    assert_eq!(first.message_name, THING);
    assert_eq!(first.event_type, "");

    // The same schema under another subject: its own version 1 and own id.
    let other = world
        .register("thing.b", &thing_set(1), THING)
        .await
        .unwrap();
    assert_eq!(other.version, 1);
    assert!(other.id > first.id);

    let second = world
        .register("thing.a", &thing_set(2), THING)
        .await
        .unwrap();
    assert_eq!(second.version, 2);
    assert!(second.id > other.id);

    // Registering an existing version again: that version, unchanged.
    let again = world
        .register("thing.a", &thing_set(1), THING)
        .await
        .unwrap();
    assert_eq!(again, first);

    assert_eq!(
        world.versions("thing.a", false).await.unwrap(),
        [(1, first.id, false), (2, second.id, false)]
    );
    assert_eq!(world.get_schema(second.id).await.unwrap(), second);
    assert_eq!(world.latest("thing.a").await.unwrap(), second);
    assert_eq!(world.by_version("thing.a", 1, false).await.unwrap(), first);
    assert_eq!(world.subjects(false).await, ["thing.a", "thing.b"]);
    world.finish().await;
}

#[tokio::test]
async fn registration_is_idempotent_under_the_canonical_form() {
    let world = World::start().await;
    let with_source_info = order_set("int32", SourceInfo::Included);
    let plain = order_set("int32", SourceInfo::Left);
    assert_ne!(with_source_info, plain, "protoc wrote source info");

    let registered = world
        .register("shop.order_placed.v1", &with_source_info, ORDER_PLACED)
        .await
        .unwrap();
    assert_eq!(registered.version, 1);
    // The event type option was read from the descriptors.
    assert_eq!(registered.event_type, "shop.order_placed.v1");

    // Files in another order, plus a file the message never imports, with
    // and without source info.
    let mut reversed = file_records(&plain);
    reversed.reverse();
    let mut with_unrelated = unrelated_set();
    with_unrelated.extend(reversed.concat());
    let variants = [
        ("without source info", plain.clone()),
        ("files reversed", reversed.concat()),
        ("an unrelated file first", with_unrelated),
        (
            "an unrelated file last",
            [with_source_info.clone(), unrelated_set()].concat(),
        ),
    ];
    for (what, set) in variants {
        let again = world
            .register("shop.order_placed.v1", &set, ORDER_PLACED)
            .await
            .unwrap();
        assert_eq!(
            (again.id, again.version),
            (registered.id, registered.version),
            "{what}"
        );
    }
    assert_eq!(
        world
            .versions("shop.order_placed.v1", false)
            .await
            .unwrap()
            .len(),
        1
    );

    // What is stored is the canonical form: the message's file and its
    // imports, sorted, no source info, the custom option kept, so a
    // consumer can decode it and read the event type.
    let stored = world.get_schema(registered.id).await.unwrap();
    let files = FileDescriptorSet::decode(stored.file_descriptor_set.as_slice()).unwrap();
    let names: Vec<&str> = files.file.iter().map(FileDescriptorProto::name).collect();
    assert_eq!(
        names,
        [
            "ecommerce/events/v1/options.proto",
            "google/protobuf/descriptor.proto",
            "shop/money.proto",
            "shop/order.proto",
        ]
    );
    assert!(
        files
            .file
            .iter()
            .all(|file| file.source_code_info.is_none())
    );
    let pool = DescriptorPool::decode(stored.file_descriptor_set.as_slice()).unwrap();
    let option = pool
        .get_extension_by_name("ecommerce.events.v1.event_type")
        .unwrap();
    let message = pool.get_message_by_name(ORDER_PLACED).unwrap();
    assert_eq!(
        message.options().get_extension(&option).as_str(),
        Some("shop.order_placed.v1")
    );

    // The same bytes under another message of the set: another schema,
    // another version (allowed once the subject checks nothing).
    world
        .set_compatibility(
            As::Admin,
            "shop.order_placed.v1",
            pb::CompatibilityLevel::None as i32,
        )
        .await
        .unwrap();
    let money = world
        .register("shop.order_placed.v1", &plain, MONEY)
        .await
        .unwrap();
    assert_eq!(money.version, 2);
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_registrations_of_a_new_schema_make_one_version() {
    let world = World::start().await;
    let set = order_set("int32", SourceInfo::Left);
    let mut clients = Vec::new();
    for _ in 0..16 {
        clients.push(world.new_client().await);
    }
    let calls = clients.into_iter().map(|mut client| {
        let set = set.clone();
        tokio::spawn(async move {
            client
                .register_schema(pb::RegisterSchemaRequest {
                    subject: "orders.concurrent.v1".to_owned(),
                    file_descriptor_set: set,
                    message_name: ORDER_PLACED.to_owned(),
                })
                .await
                .map(|response| response.into_inner().schema.unwrap())
        })
    });
    let answers: Vec<pb::Schema> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|joined| joined.unwrap().unwrap())
        .collect();
    let first = &answers[0];
    assert_eq!(first.version, 1);
    for answer in &answers {
        assert_eq!((answer.id, answer.version), (first.id, first.version));
    }
    assert_eq!(
        world.versions("orders.concurrent.v1", true).await.unwrap(),
        [(1, first.id, false)]
    );
    world.finish().await;
}

#[tokio::test]
async fn bad_input_names_the_field_and_stores_nothing() {
    let world = World::start().await;
    let good = order_set("int32", SourceInfo::Left);
    let without_money: Vec<u8> = file_records(&good)
        .into_iter()
        .filter(|record| record_file_name(record) != "shop/money.proto")
        .collect::<Vec<_>>()
        .concat();
    let oversized = [
        good.clone(),
        FileDescriptorSet {
            file: vec![FileDescriptorProto {
                name: Some("big.proto".to_owned()),
                package: Some("x".repeat(1024 * 1024 + 1)),
                ..Default::default()
            }],
        }
        .encode_to_vec(),
    ]
    .concat();
    let dangling_type = FileDescriptorSet {
        file: vec![FileDescriptorProto {
            name: Some("dangling.proto".to_owned()),
            package: Some("dangling".to_owned()),
            message_type: vec![prost_types::DescriptorProto {
                name: Some("D".to_owned()),
                field: vec![prost_types::FieldDescriptorProto {
                    name: Some("x".to_owned()),
                    number: Some(1),
                    label: Some(prost_types::field_descriptor_proto::Label::Optional as i32),
                    r#type: Some(prost_types::field_descriptor_proto::Type::Message as i32),
                    type_name: Some(".dangling.Nowhere".to_owned()),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec();
    let editions = FileDescriptorSet {
        file: vec![FileDescriptorProto {
            name: Some("editions.proto".to_owned()),
            package: Some("editions".to_owned()),
            syntax: Some("editions".to_owned()),
            message_type: vec![prost_types::DescriptorProto {
                name: Some("E".to_owned()),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec();
    let subject = "shop.order_placed.v1";
    let long_subject = "s".repeat(256);
    let cases: Vec<(&str, &str, Vec<u8>, &str, &str)> = vec![
        (
            "not a set",
            subject,
            b"\xff\xff\xff".to_vec(),
            ORDER_PLACED,
            "file_descriptor_set",
        ),
        (
            "message not in the set",
            subject,
            good.clone(),
            "shop.v1.Nope",
            "message_name",
        ),
        (
            "missing import",
            subject,
            without_money,
            ORDER_PLACED,
            "file_descriptor_set",
        ),
        (
            "over the size limit",
            subject,
            oversized,
            ORDER_PLACED,
            "file_descriptor_set",
        ),
        (
            "unknown type",
            subject,
            dangling_type,
            "dangling.D",
            "file_descriptor_set",
        ),
        // prost-reflect would panic on it: refused, and the server lives on.
        (
            "editions syntax",
            subject,
            editions,
            "editions.E",
            "file_descriptor_set",
        ),
        ("empty subject", "", good.clone(), ORDER_PLACED, "subject"),
        (
            "subject with a space",
            "shop order",
            good.clone(),
            ORDER_PLACED,
            "subject",
        ),
        (
            "subject with a control char",
            "shop\u{1}",
            good.clone(),
            ORDER_PLACED,
            "subject",
        ),
        (
            "subject over 255 bytes",
            &long_subject,
            good.clone(),
            ORDER_PLACED,
            "subject",
        ),
        (
            "empty message name",
            subject,
            good.clone(),
            "",
            "message_name",
        ),
    ];

    for (what, subject, set, message_name, field) in &cases {
        let status = assert_invalid(world.register(subject, set, message_name).await, field);
        assert!(!status.message().is_empty(), "{what}");
        assert_invalid(world.check(subject, set, message_name).await, field);
    }
    assert!(world.subjects(true).await.is_empty(), "nothing was stored");

    // Against an existing subject: its versions stay as they were.
    let registered = world.register(subject, &good, ORDER_PLACED).await.unwrap();
    for (_, case_subject, set, message_name, field) in &cases {
        if *case_subject == subject {
            assert_invalid(world.register(subject, set, message_name).await, field);
        }
    }
    assert_eq!(
        world.versions(subject, true).await.unwrap(),
        [(1, registered.id, false)]
    );
    assert_eq!(world.subjects(true).await, [subject]);
    world.finish().await;
}

/// Needs the real checker of `ecommerce-schema-compat` (its `check` finds
/// no incompatibility until it lands).
#[tokio::test]
async fn an_incompatible_change_is_refused_listing_the_problem() {
    let world = World::start().await;
    let subject = "shop.order_placed.v1";
    let int_quantity = order_set("int32", SourceInfo::Left);
    let string_quantity = order_set("string", SourceInfo::Left);
    let first = world
        .register(subject, &int_quantity, ORDER_PLACED)
        .await
        .unwrap();

    let status = assert_code(
        world
            .register(subject, &string_quantity, ORDER_PLACED)
            .await,
        Code::FailedPrecondition,
    );
    assert!(status.message().contains("incompatible"), "{status:?}");
    assert!(status.message().contains("BACKWARD"), "{status:?}");
    assert!(status.message().contains("(version 1)"), "{status:?}");
    assert_eq!(
        world.versions(subject, true).await.unwrap(),
        [(1, first.id, false)]
    );

    let report = world
        .check(subject, &string_quantity, ORDER_PLACED)
        .await
        .unwrap();
    assert!(!report.compatible);
    assert_eq!(report.level(), pb::CompatibilityLevel::Backward);
    assert!(!report.messages.is_empty());
    assert!(
        report
            .messages
            .iter()
            .all(|message| message.ends_with("(version 1)")),
        "{:?}",
        report.messages
    );
    for message in &report.messages {
        assert!(status.message().contains(message.as_str()), "{status:?}");
    }

    // With NONE the same change goes through.
    world
        .set_compatibility(As::Admin, subject, pb::CompatibilityLevel::None as i32)
        .await
        .unwrap();
    let second = world
        .register(subject, &string_quantity, ORDER_PLACED)
        .await
        .unwrap();
    assert_eq!(second.version, 2);

    // A deleted version is not checked against: once the int32 version
    // of another subject is deleted, the string one is accepted there.
    let other = "shop.other.v1";
    world
        .register(other, &int_quantity, ORDER_PLACED)
        .await
        .unwrap();
    assert_code(
        world.register(other, &string_quantity, ORDER_PLACED).await,
        Code::FailedPrecondition,
    );
    world.delete_version(As::Admin, other, 1).await.unwrap();
    let replaced = world
        .register(other, &string_quantity, ORDER_PLACED)
        .await
        .unwrap();
    assert_eq!(replaced.version, 2);
    world.finish().await;
}

#[tokio::test]
async fn check_compatibility_answers_without_storing() {
    let world = World::start().await;
    let set = order_set("int32", SourceInfo::Left);

    // An unknown subject is compatible, at the level it would start with.
    let unknown = world
        .check("shop.order_placed.v1", &set, ORDER_PLACED)
        .await
        .unwrap();
    assert!(unknown.compatible);
    assert!(unknown.messages.is_empty());
    assert_eq!(unknown.level(), pb::CompatibilityLevel::Backward);
    let strict = world
        .check("orders.order_placed.v1", &set, ORDER_PLACED)
        .await
        .unwrap();
    assert!(strict.compatible);
    assert_eq!(strict.level(), pb::CompatibilityLevel::WireStrict);
    assert!(world.subjects(true).await.is_empty());

    world
        .register("shop.order_placed.v1", &set, ORDER_PLACED)
        .await
        .unwrap();
    let identical = world
        .check("shop.order_placed.v1", &set, ORDER_PLACED)
        .await
        .unwrap();
    assert!(identical.compatible);
    assert_eq!(identical.level(), pb::CompatibilityLevel::Backward);

    // A new field is compatible (at BACKWARD, the global default here).
    world
        .register("thing.x", &thing_set(1), THING)
        .await
        .unwrap();
    let addition = world.check("thing.x", &thing_set(2), THING).await.unwrap();
    assert!(addition.compatible, "{:?}", addition.messages);
    assert_eq!(addition.level(), pb::CompatibilityLevel::Backward);
    assert_eq!(
        world
            .versions("shop.order_placed.v1", true)
            .await
            .unwrap()
            .len(),
        1,
        "a check stores nothing"
    );
    assert_eq!(world.versions("thing.x", true).await.unwrap().len(), 1);
    world.finish().await;
}
