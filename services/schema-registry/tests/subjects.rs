//! Subjects and versions against real Postgres: paging, soft deletes,
//! admin-only RPCs, compatibility levels (global, per subject, the strict
//! prefixes), GetReferences and unknown names.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use ecommerce_proto::ecommerce::registry::v1 as pb;
use schema_registry::app::settings::RegistrySettings;
use schema_registry::domain::StrictPrefixes;
use tonic::Code;

use crate::support::{
    As, CURRENCY, MONEY, ORDER_PLACED, SourceInfo, THING, World, assert_code, assert_invalid,
    money_set, order_set, thing_set,
};

#[tokio::test]
async fn subjects_and_versions_page_with_opaque_tokens() {
    let world = World::start().await;
    // Registered out of order; listed bytewise ("B" < "a").
    let names = [
        "thing.c", "thing.a", "thing.e", "thing.b", "thing.d", "Thing.B",
    ];
    for name in names {
        world.register(name, &thing_set(1), THING).await.unwrap();
    }
    let mut client = world.client();
    let mut listed = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = client
            .list_subjects(pb::ListSubjectsRequest {
                page_size: 4,
                page_token: token.clone(),
                include_deleted: false,
            })
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        assert!(page.subjects.len() <= 4);
        listed.extend(page.subjects);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(pages, 2);
    assert_eq!(
        listed,
        [
            "Thing.B", "thing.a", "thing.b", "thing.c", "thing.d", "thing.e"
        ]
    );
    // An exact multiple of the page size ends without an empty page.
    let exact = client
        .list_subjects(pb::ListSubjectsRequest {
            page_size: 6,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(exact.subjects.len(), 6);
    assert_eq!(exact.next_page_token, "");

    // Bad tokens and sizes.
    assert_invalid(
        client
            .list_subjects(pb::ListSubjectsRequest {
                page_token: "not-a-token".to_owned(),
                ..Default::default()
            })
            .await,
        "page_token",
    );
    let first_page = client
        .list_subjects(pb::ListSubjectsRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    // The token belongs to a listing without deleted subjects.
    assert_invalid(
        client
            .list_subjects(pb::ListSubjectsRequest {
                page_token: first_page.next_page_token.clone(),
                include_deleted: true,
                ..Default::default()
            })
            .await,
        "page_token",
    );
    assert_invalid(
        client
            .list_subjects(pb::ListSubjectsRequest {
                page_size: -1,
                ..Default::default()
            })
            .await,
        "page_size",
    );

    // Versions: 5 of one subject, pages of 2, oldest first.
    for fields in 2..=5 {
        world
            .register("thing.a", &thing_set(fields), THING)
            .await
            .unwrap();
    }
    let mut versions = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_versions(pb::ListVersionsRequest {
                subject: "thing.a".to_owned(),
                page_size: 2,
                page_token: token.clone(),
                include_deleted: false,
            })
            .await
            .unwrap()
            .into_inner();
        versions.extend(page.versions.iter().map(|version| version.version));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(versions, [1, 2, 3, 4, 5]);
    let page = client
        .list_versions(pb::ListVersionsRequest {
            subject: "thing.a".to_owned(),
            page_size: 2,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    // A token of thing.a's versions is no token for thing.b's.
    assert_invalid(
        client
            .list_versions(pb::ListVersionsRequest {
                subject: "thing.b".to_owned(),
                page_token: page.next_page_token,
                ..Default::default()
            })
            .await,
        "page_token",
    );
    // Page size 0 is the default (100): everything here in one page.
    let default_page = client
        .list_versions(pb::ListVersionsRequest {
            subject: "thing.a".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(default_page.versions.len(), 5);
    assert_eq!(default_page.next_page_token, "");
    world.finish().await;
}

#[tokio::test]
async fn a_delete_through_another_registry_process_shows_in_get_schema_within_the_cache_ttl() {
    let ttl = std::time::Duration::from_millis(300);
    let world = World::start_with(RegistrySettings {
        schema_cache_ttl: ttl,
        ..RegistrySettings::default()
    })
    .await;
    let subject = "thing.cached";
    let registered = world.register(subject, &thing_set(1), THING).await.unwrap();
    assert!(!world.get_schema(registered.id).await.unwrap().deleted);

    // Another registry process on the same database deletes the subject.
    let other = schema_registry::app::RegistryApp::new(
        world.service.runtime.db().clone(),
        RegistrySettings::default(),
        std::sync::Arc::new(ecommerce_kernel::SystemClock),
    );
    other
        .delete_subject(&schema_registry::domain::Subject::parse(subject).unwrap())
        .await
        .unwrap();
    // This one answers from memory until the entry expires, then reads it.
    let started = std::time::Instant::now();
    while !world.get_schema(registered.id).await.unwrap().deleted {
        assert!(
            started.elapsed() < ttl * 10,
            "still not deleted after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    world.finish().await;
}

#[tokio::test]
async fn soft_deletes_hide_versions_but_ids_still_resolve() {
    let world = World::start().await;
    let subject = "thing.deleted";
    let first = world.register(subject, &thing_set(1), THING).await.unwrap();
    let second = world.register(subject, &thing_set(2), THING).await.unwrap();

    let deleted = world.delete_version(As::Admin, subject, 2).await.unwrap();
    assert_eq!(
        (deleted.version, deleted.schema_id, deleted.deleted),
        (2, second.id, true)
    );
    // Deleting it again is fine and changes nothing.
    let again = world.delete_version(As::Admin, subject, 2).await.unwrap();
    assert_eq!(again, deleted);

    assert_eq!(world.latest(subject).await.unwrap(), first);
    assert_eq!(
        world.versions(subject, false).await.unwrap(),
        [(1, first.id, false)]
    );
    assert_eq!(
        world.versions(subject, true).await.unwrap(),
        [(1, first.id, false), (2, second.id, true)]
    );
    let by_id = world.get_schema(second.id).await.unwrap();
    assert!(by_id.deleted);
    assert_eq!(by_id.file_descriptor_set, second.file_descriptor_set);
    assert_code(world.by_version(subject, 2, false).await, Code::NotFound);
    assert!(world.by_version(subject, 2, true).await.unwrap().deleted);

    // The deleted schema again: a new version and a new id, never 2.
    let third = world.register(subject, &thing_set(2), THING).await.unwrap();
    assert_eq!(third.version, 3);
    assert_ne!(third.id, second.id);

    // DeleteSubject: every live version, oldest first.
    assert_eq!(
        world.delete_subject(As::Admin, subject).await.unwrap(),
        [1, 3]
    );
    assert_eq!(
        world.delete_subject(As::Admin, subject).await.unwrap(),
        Vec::<i32>::new()
    );
    assert_code(world.latest(subject).await, Code::NotFound);
    assert!(world.versions(subject, false).await.unwrap().is_empty());
    world
        .register("thing.alive", &thing_set(1), THING)
        .await
        .unwrap();
    assert_eq!(world.subjects(false).await, ["thing.alive"]);
    assert_eq!(world.subjects(true).await, ["thing.alive", subject]);

    // Registering after the subject was deleted continues its numbering.
    let fourth = world.register(subject, &thing_set(1), THING).await.unwrap();
    assert_eq!(fourth.version, 4);
    assert_ne!(fourth.id, first.id);
    assert_eq!(world.subjects(false).await, ["thing.alive", subject]);

    // Unknown subjects and versions.
    assert_code(
        world.delete_subject(As::Admin, "thing.nobody").await,
        Code::NotFound,
    );
    assert_code(
        world.delete_version(As::Admin, subject, 99).await,
        Code::NotFound,
    );
    assert_code(
        world.delete_version(As::Admin, "thing.nobody", 1).await,
        Code::NotFound,
    );
    assert_invalid(world.delete_version(As::Admin, subject, 0).await, "version");
    assert_invalid(world.delete_subject(As::Admin, "").await, "subject");
    world.finish().await;
}

#[tokio::test]
async fn admin_only_rpcs_refuse_anonymous_and_customers() {
    let world = World::start().await;
    let subject = "thing.guarded";
    let registered = world.register(subject, &thing_set(1), THING).await.unwrap();
    let none = pb::CompatibilityLevel::None as i32;

    for (who, code) in [
        (As::Anonymous, Code::Unauthenticated),
        (As::Customer, Code::PermissionDenied),
    ] {
        assert_code(world.set_compatibility(who, subject, none).await, code);
        assert_code(world.set_compatibility(who, "", none).await, code);
        assert_code(world.delete_version(who, subject, 1).await, code);
        assert_code(world.delete_subject(who, subject).await, code);
    }
    // Nothing changed.
    assert_eq!(
        world.compatibility(subject).await,
        (pb::CompatibilityLevel::Backward, true)
    );
    assert_eq!(world.latest(subject).await.unwrap(), registered);

    // Reads, RegisterSchema and CheckCompatibility are open to everyone.
    let mut client = world.client();
    for who in [As::Anonymous, As::Customer, As::Admin] {
        client
            .register_schema(world.request(
                who,
                pb::RegisterSchemaRequest {
                    subject: subject.to_owned(),
                    file_descriptor_set: thing_set(1),
                    message_name: THING.to_owned(),
                },
            ))
            .await
            .unwrap();
        client
            .check_compatibility(world.request(
                who,
                pb::CheckCompatibilityRequest {
                    subject: subject.to_owned(),
                    file_descriptor_set: thing_set(2),
                    message_name: THING.to_owned(),
                },
            ))
            .await
            .unwrap();
        client
            .get_schema(world.request(who, pb::GetSchemaRequest { id: registered.id }))
            .await
            .unwrap();
        client
            .get_compatibility(world.request(who, pb::GetCompatibilityRequest::default()))
            .await
            .unwrap();
        client
            .list_subjects(world.request(who, pb::ListSubjectsRequest::default()))
            .await
            .unwrap();
    }

    // The admin may.
    let set = world
        .set_compatibility(As::Admin, subject, none)
        .await
        .unwrap();
    assert_eq!(
        (set.subject.as_str(), set.level()),
        (subject, pb::CompatibilityLevel::None)
    );
    world.delete_version(As::Admin, subject, 1).await.unwrap();
    world.delete_subject(As::Admin, subject).await.unwrap();
    world.finish().await;
}

#[tokio::test]
async fn compatibility_levels_default_inherit_and_change() {
    let world = World::start().await;
    use pb::CompatibilityLevel as Level;

    assert_eq!(world.compatibility("").await, (Level::Backward, true));
    world
        .register("thing.plain", &thing_set(1), THING)
        .await
        .unwrap();
    assert_eq!(
        world.compatibility("thing.plain").await,
        (Level::Backward, true)
    );

    // This project's event subjects start at WIRE_STRICT, their own level.
    let set = order_set("int32", SourceInfo::Left);
    world
        .register("orders.order_placed.v1", &set, ORDER_PLACED)
        .await
        .unwrap();
    assert_eq!(
        world.compatibility("orders.order_placed.v1").await,
        (Level::WireStrict, false)
    );
    // Unknown subjects: the level they would start with.
    assert_eq!(
        world.compatibility("payments.later.v1").await,
        (Level::WireStrict, false)
    );
    assert_eq!(
        world.compatibility("partner.later.v1").await,
        (Level::Backward, true)
    );

    // The global default changes what inheriting subjects get.
    assert_invalid(
        world
            .set_compatibility(As::Admin, "", Level::Unspecified as i32)
            .await,
        "level",
    );
    assert_invalid(world.set_compatibility(As::Admin, "", 42).await, "level");
    let global = world
        .set_compatibility(As::Admin, "", Level::Full as i32)
        .await
        .unwrap();
    assert_eq!((global.subject.as_str(), global.level()), ("", Level::Full));
    assert_eq!(world.compatibility("").await, (Level::Full, true));
    assert_eq!(
        world.compatibility("thing.plain").await,
        (Level::Full, true)
    );
    assert_eq!(
        world.compatibility("orders.order_placed.v1").await,
        (Level::WireStrict, false)
    );

    // A subject's own level, then removed again.
    world
        .set_compatibility(As::Admin, "thing.plain", Level::None as i32)
        .await
        .unwrap();
    assert_eq!(
        world.compatibility("thing.plain").await,
        (Level::None, false)
    );
    let removed = world
        .set_compatibility(As::Admin, "thing.plain", Level::Unspecified as i32)
        .await
        .unwrap();
    assert_eq!(removed.level(), Level::Unspecified);
    assert_eq!(
        world.compatibility("thing.plain").await,
        (Level::Full, true)
    );
    // A strict subject can be relaxed by an admin.
    world
        .set_compatibility(
            As::Admin,
            "orders.order_placed.v1",
            Level::Unspecified as i32,
        )
        .await
        .unwrap();
    assert_eq!(
        world.compatibility("orders.order_placed.v1").await,
        (Level::Full, true)
    );

    // A level set before the first registration is kept by it.
    world
        .set_compatibility(As::Admin, "orders.preset.v1", Level::Forward as i32)
        .await
        .unwrap();
    world
        .register("orders.preset.v1", &set, ORDER_PLACED)
        .await
        .unwrap();
    assert_eq!(
        world.compatibility("orders.preset.v1").await,
        (Level::Forward, false)
    );
    // CheckCompatibility reports the level it checked at.
    let report = world
        .check("thing.plain", &thing_set(2), THING)
        .await
        .unwrap();
    assert_eq!(report.level(), Level::Full);
    assert_invalid(
        world
            .set_compatibility(As::Admin, "a b", Level::Full as i32)
            .await,
        "subject",
    );
    world.finish().await;
}

#[tokio::test]
async fn strict_prefixes_come_from_the_settings() {
    let world = World::start_with(RegistrySettings {
        strict_prefixes: StrictPrefixes::parse("acme.").unwrap(),
        ..RegistrySettings::default()
    })
    .await;
    world
        .register("acme.thing.v1", &thing_set(1), THING)
        .await
        .unwrap();
    world
        .register("orders.thing.v1", &thing_set(1), THING)
        .await
        .unwrap();
    assert_eq!(
        world.compatibility("acme.thing.v1").await,
        (pb::CompatibilityLevel::WireStrict, false)
    );
    assert_eq!(
        world.compatibility("orders.thing.v1").await,
        (pb::CompatibilityLevel::Backward, true)
    );
    world.finish().await;
}

#[tokio::test]
async fn references_name_imported_subjects_and_importers() {
    let world = World::start().await;
    let money = world
        .register("shop.money.v1", &money_set(), MONEY)
        .await
        .unwrap();
    let currency = world
        .register("shop.currency.v1", &money_set(), CURRENCY)
        .await
        .unwrap();
    let order = world
        .register(
            "shop.order_placed.v1",
            &order_set("int32", SourceInfo::Left),
            ORDER_PLACED,
        )
        .await
        .unwrap();

    let of_order = world.references("shop.order_placed.v1", 0).await.unwrap();
    assert_eq!(
        of_order.imports,
        [
            "ecommerce/events/v1/options.proto",
            "google/protobuf/descriptor.proto",
            "shop/money.proto",
        ]
    );
    let references: Vec<(&str, &str, i32, i64)> = of_order
        .references
        .iter()
        .map(|reference| {
            (
                reference.import.as_str(),
                reference.subject.as_str(),
                reference.version,
                reference.schema_id,
            )
        })
        .collect();
    assert_eq!(
        references,
        [
            ("shop/money.proto", "shop.currency.v1", 1, currency.id),
            ("shop/money.proto", "shop.money.v1", 1, money.id),
        ]
    );
    assert!(of_order.referenced_by.is_empty());
    // By explicit version: the same answer.
    assert_eq!(
        world.references("shop.order_placed.v1", 1).await.unwrap(),
        of_order
    );

    let of_money = world.references("shop.money.v1", 0).await.unwrap();
    assert!(of_money.imports.is_empty());
    assert!(of_money.references.is_empty());
    assert_eq!(of_money.referenced_by, [order.id]);

    // Only live versions import; only live versions are referenced.
    world
        .delete_version(As::Admin, "shop.order_placed.v1", 1)
        .await
        .unwrap();
    assert!(
        world
            .references("shop.money.v1", 0)
            .await
            .unwrap()
            .referenced_by
            .is_empty()
    );
    // A deleted version's references are still asked by number.
    let deleted = world.references("shop.order_placed.v1", 1).await.unwrap();
    assert_eq!(deleted.imports, of_order.imports);
    assert_code(
        world.references("shop.order_placed.v1", 0).await,
        Code::NotFound,
    );
    world
        .delete_subject(As::Admin, "shop.currency.v1")
        .await
        .unwrap();
    let without_currency = world.references("shop.order_placed.v1", 1).await.unwrap();
    assert_eq!(without_currency.references.len(), 1);
    assert_eq!(without_currency.references[0].subject, "shop.money.v1");

    assert_code(world.references("shop.nobody.v1", 0).await, Code::NotFound);
    assert_code(world.references("shop.money.v1", 9).await, Code::NotFound);
    assert_invalid(world.references("shop.money.v1", -1).await, "version");
    world.finish().await;
}

#[tokio::test]
async fn lookups_of_unknown_things_are_not_found() {
    let world = World::start().await;
    assert_code(world.get_schema(12345).await, Code::NotFound);
    assert_invalid(world.get_schema(0).await, "id");
    assert_code(world.latest("thing.nobody").await, Code::NotFound);
    assert_invalid(world.latest("").await, "subject");
    assert_code(
        world.by_version("thing.nobody", 1, true).await,
        Code::NotFound,
    );
    assert_code(world.versions("thing.nobody", true).await, Code::NotFound);
    world
        .register("thing.a", &thing_set(1), THING)
        .await
        .unwrap();
    assert_code(world.by_version("thing.a", 2, true).await, Code::NotFound);
    assert_invalid(world.by_version("thing.a", 0, true).await, "version");
    assert_invalid(world.versions("thing a", true).await, "subject");
    world.finish().await;
}
