//! Producers and the schema registry as real processes: every event carries
//! the registry id of its schema; a schema the registry refuses stops its
//! producer at start-up; an unreachable registry does not, and the producer
//! registers once the registry is back.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::time::Duration;

use ecommerce_e2e::{Shop, Stack, StackOptions, Svc};
use ecommerce_proto::ecommerce::registry::v1 as registry_pb;
use ecommerce_runtime::REGISTRATION_HEALTH_SERVICE;
use ecommerce_runtime::schemas::EventSchema;
use ecommerce_test_support::{ServingStatus, health_check, with_bearer};
use prost::Message as _;
use registry_pb::schema_registry_service_client::SchemaRegistryServiceClient;
use tonic::transport::Channel;

const PRODUCT_CREATED: &str = "catalog.product.created.v1";
const WAIT: Duration = Duration::from_secs(30);

fn registry(stack: &Stack) -> SchemaRegistryServiceClient<Channel> {
    SchemaRegistryServiceClient::new(stack.channel(Svc::Registry))
}

/// `catalog.product.created.v1` as compiled, with `product_id` (field 1)
/// turned from a string into an int64: a break no consumer could read.
fn product_created_with_an_int64_id() -> Vec<u8> {
    let info = ecommerce_events::event_type_info(PRODUCT_CREATED).unwrap();
    let compiled = EventSchema::compiled(info).unwrap();
    let mut set =
        prost_types::FileDescriptorSet::decode(compiled.file_descriptor_set.as_slice()).unwrap();
    let file = set.file.last_mut().unwrap();
    let message = file
        .message_type
        .iter_mut()
        .find(|message| message.name() == "ProductCreated")
        .unwrap();
    let field = message
        .field
        .iter_mut()
        .find(|field| field.number() == 1)
        .unwrap();
    field.set_type(prost_types::field_descriptor_proto::Type::Int64);
    set.encode_to_vec()
}

/// Polls `service`'s health entry for the registration until `wanted`.
async fn wait_for_registration(channel: Channel, wanted: ServingStatus) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let status = health_check(channel.clone(), REGISTRATION_HEALTH_SERVICE).await;
        if matches!(status, Ok(status) if status == wanted) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "registration health is {status:?}, not {wanted:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_subject_is_registered_and_an_incompatible_schema_stops_its_producer() {
    let mut stack = Stack::start(StackOptions::default()).await.unwrap();
    let shop = Shop::open(&stack).await.unwrap();
    let mut registry = registry(&stack);

    // Every producer registered every event type it emits at start-up.
    let subjects = registry
        .list_subjects(registry_pb::ListSubjectsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .subjects;
    let expected: Vec<&str> = ecommerce_events::EVENT_TYPES
        .iter()
        .map(|info| info.event_type)
        .collect();
    assert_eq!(subjects, expected);
    for producer in Svc::ALL {
        let health = health_check(stack.channel(producer), REGISTRATION_HEALTH_SERVICE).await;
        assert_eq!(health.unwrap(), ServingStatus::Serving, "{producer:?}");
    }

    // The subject moves on to a schema the compiled catalog-svc breaks:
    // its old version deleted by an admin, an incompatible one registered.
    registry
        .delete_subject(with_bearer(
            registry_pb::DeleteSubjectRequest {
                subject: PRODUCT_CREATED.to_owned(),
            },
            &shop.admin.access_token,
        ))
        .await
        .unwrap();
    let moved_on = registry
        .register_schema(registry_pb::RegisterSchemaRequest {
            subject: PRODUCT_CREATED.to_owned(),
            file_descriptor_set: product_created_with_an_int64_id(),
            message_name: "ecommerce.catalog.v1.ProductCreated".to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .schema
        .unwrap();
    assert_eq!(moved_on.version, 2);

    // A new catalog-svc process refuses to start, naming subject, field and rule.
    let error = stack
        .spawn_extra(Svc::Catalog, &[])
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("exited"), "{error}");
    let log = stack.log_tail(Svc::Catalog, usize::MAX);
    let refusal = log
        .lines()
        .find(|line| line.contains("service failed"))
        .unwrap_or_else(|| panic!("no start-up failure in the log:\n{log}"));
    assert!(refusal.contains(PRODUCT_CREATED), "{refusal}");
    assert!(refusal.contains("refuses"), "{refusal}");
    assert!(refusal.contains("ProductCreated/1"), "{refusal}");
    assert!(refusal.contains("changed type"), "{refusal}");
    // The running one goes on.
    assert!(stack.is_running(Svc::Catalog));
    stack.finish().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_registry_does_not_stop_a_producer_which_registers_once_it_is_back() {
    let options = StackOptions::default().with_service_env(
        Svc::Catalog,
        "SCHEMA_REGISTRY_STARTUP_TIMEOUT_MS",
        "300",
    );
    let mut stack = Stack::start(options).await.unwrap();
    let shop = Shop::open(&stack).await.unwrap();

    stack.kill(Svc::Registry).await.unwrap();
    stack.kill(Svc::Catalog).await.unwrap();
    stack.restart(Svc::Catalog).await.unwrap();
    wait_for_registration(stack.channel(Svc::Catalog), ServingStatus::NotServing).await;
    stack.tap().drain(Duration::from_millis(500)).await;

    // Catalog serves and publishes, without registry ids meanwhile.
    shop.sellable_sku(1999, 1).await.unwrap();
    let unregistered = stack.tap().expect_event(PRODUCT_CREATED, WAIT).await;
    assert_eq!(unregistered.metadata.schema_registry_id, None);

    stack.restart(Svc::Registry).await.unwrap();
    wait_for_registration(stack.channel(Svc::Catalog), ServingStatus::Serving).await;
    shop.sellable_sku(1999, 1).await.unwrap();
    let registered = stack.tap().expect_event(PRODUCT_CREATED, WAIT).await;
    let registry_id = registered.metadata.schema_registry_id.unwrap();
    let schema = registry(&stack)
        .get_schema(registry_pb::GetSchemaRequest { id: registry_id })
        .await
        .unwrap()
        .into_inner()
        .schema
        .unwrap();
    assert_eq!(schema.subject, PRODUCT_CREATED);
    assert_eq!(schema.message_name, "ecommerce.catalog.v1.ProductCreated");
    stack.finish().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_callers_across_two_registry_processes_register_one_version() {
    let mut stack = Stack::start(StackOptions::default()).await.unwrap();
    // A second registry process on the same schema, as a scaled-out deployment runs it.
    let second = stack.spawn_extra(Svc::Registry, &[]).await.unwrap();
    let processes = [
        stack.channel(Svc::Registry),
        tonic::transport::Endpoint::from_shared(format!("http://{second}"))
            .unwrap()
            .connect_lazy(),
    ];
    let info = ecommerce_events::event_type_info("orders.order_placed.v1").unwrap();
    let schema = EventSchema::compiled(info).unwrap();
    let calls = (0..16).map(|caller| {
        let mut client = SchemaRegistryServiceClient::new(processes[caller % 2].clone());
        let request = registry_pb::RegisterSchemaRequest {
            subject: "e2e.concurrent.order_placed.v1".to_owned(),
            file_descriptor_set: schema.file_descriptor_set.clone(),
            message_name: schema.message_name.to_owned(),
        };
        tokio::spawn(async move { client.register_schema(request).await })
    });
    let answers: Vec<registry_pb::Schema> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|joined| joined.unwrap().unwrap().into_inner().schema.unwrap())
        .collect();
    for answer in &answers {
        assert_eq!((answer.id, answer.version), (answers[0].id, 1));
    }
    let versions = registry(&stack)
        .list_versions(registry_pb::ListVersionsRequest {
            subject: "e2e.concurrent.order_placed.v1".to_owned(),
            include_deleted: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .versions;
    assert_eq!(versions.len(), 1);
    stack.finish().await.unwrap();
}
