//! `ecomctl events tail` against the real broker, in a private topology.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{encoded, env, finish, metadata};
use ecommerce_broker::OutgoingMessage;
use ecommerce_events::EventMetadata;
use ecommerce_test_support::rabbitmq::TestBroker;
use tokio::process::Child;

/// `events tail ARGS` on `broker`'s topology, listening.
async fn start_tail(broker: &TestBroker, args: &[&str]) -> Child {
    let variables = env(&[
        ("AMQP_TOPOLOGY_PREFIX", &broker.prefix),
        ("SCHEMA_REGISTRY_URL", "off"),
    ]);
    common::start_tail(args, &variables).await
}

async fn publish(broker: &TestBroker, event_type: &str, metadata: &EventMetadata) {
    let exchange = broker.names().exchange_for(event_type).unwrap().to_owned();
    broker
        .broker
        .publisher()
        .publish(&OutgoingMessage::from_event(
            encoded(event_type, metadata),
            exchange,
        ))
        .await
        .unwrap();
}

#[tokio::test]
async fn tail_prints_a_line_per_published_event_of_the_types_asked_for() {
    let broker = TestBroker::start().await;
    let tail = start_tail(
        &broker,
        &[
            "--type",
            "orders.order_placed.v1",
            "--count",
            "2",
            "--for",
            "30s",
        ],
    )
    .await;
    let first = metadata("order", "order-1", 0, "checkout-1", None);
    let authorized = metadata("payment", "payment-1", 50, "checkout-1", Some(first.id));
    let second = metadata("order", "order-2", 120, "checkout-2", None);
    publish(&broker, "orders.order_placed.v1", &first).await;
    publish(&broker, "payments.payment_authorized.v1", &authorized).await;
    publish(&broker, "orders.order_placed.v1", &second).await;
    let run = finish(tail).await.ok();
    assert_eq!(
        run.lines(),
        [
            format!(
                "2026-03-01T10:00:00.000Z  {:<40}  {:<48}  correlation=checkout-1  causation=-",
                "orders.order_placed.v1", "order:order-1"
            ),
            format!(
                "2026-03-01T10:00:00.120Z  {:<40}  {:<48}  correlation=checkout-2  causation=-",
                "orders.order_placed.v1", "order:order-2"
            ),
        ]
    );
    broker.finish().await;
}

#[tokio::test]
async fn tail_filters_by_exchange_and_correlation_and_prints_json_with_the_payload() {
    let broker = TestBroker::start().await;
    let tail = start_tail(
        &broker,
        &[
            "--exchange",
            "inventory",
            "--correlation",
            "checkout-7",
            "--json",
            "--count",
            "1",
            "--for",
            "30s",
        ],
    )
    .await;
    let placed = metadata("order", "order-7", 0, "checkout-7", None);
    let other = metadata("reservation", "r-6", 10, "checkout-6", None);
    let reserved = metadata("reservation", "r-7", 40, "checkout-7", Some(placed.id));
    // Another exchange, another correlation, then the one.
    publish(&broker, "orders.order_placed.v1", &placed).await;
    publish(&broker, "inventory.stock.reserved.v1", &other).await;
    publish(&broker, "inventory.stock.reserved.v1", &reserved).await;
    let run = finish(tail).await.ok();
    let lines = run.lines();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let value: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(value["id"], reserved.id.to_string());
    assert_eq!(value["type"], "inventory.stock.reserved.v1");
    assert_eq!(value["occurred_at"], "2026-03-01T10:00:00.040Z");
    assert_eq!(value["aggregate"]["type"], "reservation");
    assert_eq!(value["correlation_id"], "checkout-7");
    assert_eq!(value["causation_id"], placed.id.to_string());
    assert_eq!(value["decoding"]["by"], "codec");
    assert!(value["payload"].is_object(), "{value}");
    broker.finish().await;
}

#[tokio::test]
async fn tail_names_what_it_cannot_find() {
    let broker = TestBroker::start().await;
    let variables = env(&[
        ("AMQP_TOPOLOGY_PREFIX", "t-nobody-declared-this."),
        ("SCHEMA_REGISTRY_URL", "off"),
    ]);
    let run = common::ecomctl(&["events", "tail", "--for", "1s"], &variables).await;
    assert_eq!(
        run.error(),
        "error: exchange `t-nobody-declared-this.catalog.events` does not exist: the services declare it \
         when they start (is AMQP_TOPOLOGY_PREFIX / --topology-prefix the one they run with?)"
    );
    let run = common::ecomctl(&["events", "tail", "--exchange", "shipping"], &variables).await;
    assert!(
        run.error()
            .starts_with("error: unknown events exchange `shipping`; one of: ")
    );
    broker.finish().await;
}

/// A payload type compiled into no crate: only the registry knows it.
const GADGET_TYPE: &str = "gadgets.gadget_built.v1";
const GADGET_MESSAGE: &str = "ecomctl.test.v1.GadgetBuilt";

/// `ecomctl/test/v1/gadget.proto`: `message GadgetBuilt { string name = 1; int64 weight = 2; }`.
fn gadget_descriptor_set() -> Vec<u8> {
    use prost::Message as _;
    use prost_types::field_descriptor_proto::{Label, Type};
    use prost_types::{
        DescriptorProto, FieldDescriptorProto, FileDescriptorProto, FileDescriptorSet,
    };
    let field = |name: &str, number: i32, field_type: Type| FieldDescriptorProto {
        name: Some(name.to_owned()),
        number: Some(number),
        label: Some(Label::Optional as i32),
        r#type: Some(field_type as i32),
        json_name: None,
        ..FieldDescriptorProto::default()
    };
    FileDescriptorSet {
        file: vec![FileDescriptorProto {
            name: Some("ecomctl/test/v1/gadget.proto".to_owned()),
            package: Some("ecomctl.test.v1".to_owned()),
            syntax: Some("proto3".to_owned()),
            message_type: vec![DescriptorProto {
                name: Some("GadgetBuilt".to_owned()),
                field: vec![
                    field("name", 1, Type::String),
                    field("weight", 2, Type::Int64),
                ],
                ..DescriptorProto::default()
            }],
            ..FileDescriptorProto::default()
        }],
    }
    .encode_to_vec()
}

#[tokio::test]
async fn tail_decodes_an_event_no_crate_compiles_through_the_registry_by_its_id() {
    use ecommerce_proto::ecommerce::registry::v1::RegisterSchemaRequest;
    use ecommerce_proto::ecommerce::registry::v1::schema_registry_service_client::SchemaRegistryServiceClient;

    let mut registry = ecommerce_test_support::TestService::start::<registry_migration::Migrator>(
        &schema_registry::SERVICE,
        &[],
    )
    .await
    .unwrap();
    let app = schema_registry::start(&registry.runtime).unwrap();
    let layer = ecommerce_test_support::TestAuth::new().layer();
    registry
        .serve(&schema_registry::SERVICE, move |server| {
            schema_registry::register(server, &layer, app)
        })
        .await
        .unwrap();
    let schema_id = SchemaRegistryServiceClient::new(registry.channel())
        .register_schema(RegisterSchemaRequest {
            subject: GADGET_TYPE.to_owned(),
            file_descriptor_set: gadget_descriptor_set(),
            message_name: GADGET_MESSAGE.to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .schema
        .unwrap()
        .id;
    let registry_url = format!("http://{}", registry.server.as_ref().unwrap().addr);
    let broker = &registry.broker;

    let tail = |extra: &'static [&'static str], registry_url: String| {
        let mut args = vec!["--exchange", "catalog", "--count", "1", "--for", "30s"];
        args.extend_from_slice(extra);
        let variables = env(&[
            ("AMQP_TOPOLOGY_PREFIX", &broker.prefix),
            ("SCHEMA_REGISTRY_URL", &registry_url),
        ]);
        async move { common::start_tail(&args, &variables).await }
    };
    let as_text = tail(&[], registry_url.clone()).await;
    let as_json = tail(&["--json"], registry_url.clone()).await;
    let without_registry = tail(&[], "off".to_owned()).await;
    let closed = format!("http://127.0.0.1:{}", common::closed_port());
    let registry_down = tail(&[], closed.clone()).await;

    // name = "widget" (field 1), weight = 5 (field 2).
    let payload = [&[0x0a, 6][..], b"widget", &[0x10, 5]].concat();
    let mut metadata = metadata("gadget", "g-1", 0, "build-1", None);
    metadata.schema_registry_id = Some(schema_id);
    let event =
        ecommerce_events::encode_payload(GADGET_TYPE, GADGET_MESSAGE, 1, payload, &metadata);
    let exchange = broker
        .names()
        .exchange(ecommerce_broker::EventsExchange::Catalog)
        .to_owned();
    broker
        .broker
        .publisher()
        .publish(&OutgoingMessage::from_event(event, exchange))
        .await
        .unwrap();

    let line = |suffix: &str| {
        format!(
            "2026-03-01T10:00:00.000Z  {:<40}  {:<48}  correlation=build-1  causation=-  {suffix}",
            GADGET_TYPE, "gadget:g-1"
        )
    };
    assert_eq!(
        finish(as_text).await.ok().lines(),
        [line(&format!("(decoded by registry id {schema_id})"))]
    );
    assert_eq!(
        finish(without_registry).await.ok().lines(),
        [line(&format!(
            "(undecodable: unknown event type `{GADGET_TYPE}`)"
        ))]
    );
    let down = finish(registry_down).await.ok();
    let down = down.lines();
    assert_eq!(down.len(), 1);
    assert_eq!(
        down,
        [line(&format!(
            "(undecodable: unknown event type `{GADGET_TYPE}`, and the schema registry at {closed} \
             (SCHEMA_REGISTRY_URL) that could decode it by its id cannot be reached: connection refused \
             — is it running?)"
        ))]
    );
    let json = finish(as_json).await.ok();
    let value: serde_json::Value = serde_json::from_str(json.stdout.trim()).unwrap();
    assert_eq!(value["decoding"]["by"], "registry");
    assert_eq!(value["decoding"]["schema_id"], schema_id);
    assert_eq!(value["decoding"]["subject"], GADGET_TYPE);
    assert_eq!(
        value["payload"],
        serde_json::json!({"name": "widget", "weight": "5"})
    );
    registry.finish().await.unwrap();
}

#[tokio::test]
async fn tail_stops_cleanly_on_ctrl_c() {
    let broker = TestBroker::start().await;
    let tail = start_tail(&broker, &[]).await;
    let pid = tail.id().unwrap().to_string();
    let signalled = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(signalled.success());
    let run = finish(tail).await.ok();
    assert_eq!(run.stdout, "");
    broker.finish().await;
}
