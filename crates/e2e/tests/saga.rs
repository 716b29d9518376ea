//! The checkout saga across the real service processes: every test starts
//! its own stack (eight binaries, private schemas and topology) and talks to
//! it only through gRPC, reading the events off RabbitMQ.

use std::collections::HashMap;
use std::time::Duration;

use ecommerce_e2e::shop::{CARD_DECLINED, DELIVERED_SAGA_EVENTS, OrderStatus};
use ecommerce_e2e::{CheckoutArgs, Shop, Stack, StackOptions, Svc};
use ecommerce_events::ReceivedEvent;
use ecommerce_proto::ecommerce::payments::v1::PaymentStatus;
use ecommerce_proto::ecommerce::registry::v1::GetSchemaRequest;
use ecommerce_proto::ecommerce::registry::v1::schema_registry_service_client::SchemaRegistryServiceClient;

const SAGA: Duration = Duration::from_secs(60);

/// The events of one correlation id, in the order the broker got them.
fn chain<'a>(events: &'a [ReceivedEvent], correlation_id: &str) -> Vec<&'a ReceivedEvent> {
    events
        .iter()
        .filter(|event| event.metadata.correlation_id.as_deref() == Some(correlation_id))
        .collect()
}

fn types(events: &[&ReceivedEvent]) -> Vec<String> {
    events
        .iter()
        .map(|event| event.event.event_type().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn happy_path_reaches_delivered_with_one_correlation_id_and_a_causal_chain() {
    let stack = Stack::start(StackOptions::default()).await.unwrap();
    let shop = Shop::open(&stack).await.unwrap();
    let sku = shop.sellable_sku(1999, 5).await.unwrap();
    let customer = shop.customer().await.unwrap();

    shop.add_item(&customer, &sku, 2).await.unwrap();
    let args = CheckoutArgs::default();
    let order_id = shop.checkout(&customer, &args).await.unwrap();

    let order = shop
        .wait_for_status(&order_id, &[OrderStatus::Confirmed], SAGA)
        .await
        .unwrap();
    assert_eq!(order.user_id, customer.user_id);
    assert_eq!(order.correlation_id, args.correlation_id);
    // The customer sees their own order.
    assert_eq!(shop.order(&customer, &order_id).await.unwrap().id, order_id);
    let stock = shop.stock(&sku).await.unwrap();
    assert_eq!((stock.on_hand, stock.reserved, stock.available), (3, 0, 3));

    let shipment = shop.wait_for_shipment(&order_id, SAGA).await.unwrap();
    shop.mark_shipped(&shipment.id).await.unwrap();
    shop.wait_for_status(&order_id, &[OrderStatus::Shipped], SAGA)
        .await
        .unwrap();
    shop.wait_for_payment(&order_id, PaymentStatus::Captured, SAGA)
        .await
        .unwrap();
    shop.mark_delivered(&shipment.id).await.unwrap();
    let order = shop
        .wait_for_status(&order_id, &[OrderStatus::Delivered], SAGA)
        .await
        .unwrap();
    let history: Vec<OrderStatus> = order
        .status_history
        .iter()
        .map(|change| change.status())
        .collect();
    assert_eq!(
        history,
        [
            OrderStatus::Pending,
            OrderStatus::Reserved,
            OrderStatus::Paid,
            OrderStatus::Confirmed,
            OrderStatus::Shipped,
            OrderStatus::Delivered
        ]
    );

    // Every event of the checkout, off RabbitMQ, with the checkout's
    // correlation id; each one's cause came before it.
    let events = stack.tap().drain(Duration::from_secs(2)).await;
    let saga = chain(&events, &args.correlation_id);
    let seen = types(&saga);
    for expected in DELIVERED_SAGA_EVENTS {
        assert_eq!(
            seen.iter().filter(|seen| *seen == expected).count(),
            1,
            "{expected} once in {seen:?}"
        );
    }
    let position: HashMap<String, usize> = saga
        .iter()
        .enumerate()
        .map(|(index, event)| (event.metadata.id.to_string(), index))
        .collect();
    let cause_of = |event_type: &str| -> String {
        let event = saga
            .iter()
            .find(|event| event.event.event_type() == event_type)
            .unwrap();
        let cause = event.metadata.causation_id.clone().unwrap_or_default();
        let index = position
            .get(&cause)
            .unwrap_or_else(|| panic!("{event_type}'s cause {cause:?} is not in the chain"));
        saga[*index].event.event_type().to_owned()
    };
    assert_eq!(
        cause_of("inventory.stock.reserved.v1"),
        "orders.order_placed.v1"
    );
    assert_eq!(
        cause_of("payments.payment_authorized.v1"),
        "inventory.stock.reserved.v1"
    );
    assert_eq!(
        cause_of("inventory.stock.committed.v1"),
        "payments.payment_authorized.v1"
    );
    assert_eq!(
        cause_of("fulfillment.shipment.created.v1"),
        "inventory.stock.committed.v1"
    );
    assert_eq!(
        cause_of("payments.payment_captured.v1"),
        "fulfillment.shipment.shipped.v1"
    );
    // Each carries the registry id of its schema, which resolves.
    let mut registry = SchemaRegistryServiceClient::new(stack.channel(Svc::Registry));
    for event in &saga {
        let event_type = event.event.event_type();
        let registry_id = event
            .metadata
            .schema_registry_id
            .unwrap_or_else(|| panic!("{event_type} has no registry id"));
        let schema = registry
            .get_schema(GetSchemaRequest { id: registry_id })
            .await
            .unwrap()
            .into_inner()
            .schema
            .unwrap();
        assert_eq!(schema.subject, event_type);
        assert_eq!(schema.event_type, event_type);
        assert_eq!(schema.message_name, event.event.message_name());
    }
    for (index, event) in saga.iter().enumerate() {
        if let Some(cause) = &event.metadata.causation_id
            && let Some(cause_index) = position.get(cause)
        {
            assert!(
                *cause_index < index,
                "{} arrived before its cause",
                event.event.event_type()
            );
        }
    }
    stack.finish().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_payment_cancels_the_order_and_releases_the_stock() {
    let stack = Stack::start(StackOptions::default()).await.unwrap();
    let shop = Shop::open(&stack).await.unwrap();
    let sku = shop.sellable_sku(500, 4).await.unwrap();
    let customer = shop.customer().await.unwrap();
    shop.add_item(&customer, &sku, 3).await.unwrap();
    let order_id = shop
        .checkout(
            &customer,
            &CheckoutArgs {
                payment_method_token: CARD_DECLINED.to_owned(),
                ..CheckoutArgs::default()
            },
        )
        .await
        .unwrap();
    let order = shop
        .wait_for_status(&order_id, &[OrderStatus::Canceled], SAGA)
        .await
        .unwrap();
    assert!(!order.cancellation_reason.is_empty());
    shop.wait_for_payment(&order_id, PaymentStatus::Failed, SAGA)
        .await
        .unwrap();
    let stock = shop.stock(&sku).await.unwrap();
    assert_eq!((stock.on_hand, stock.reserved, stock.available), (4, 0, 4));
    stack
        .tap()
        .expect_event("inventory.stock.reservation_released.v1", SAGA)
        .await;
    stack.finish().await.unwrap();
}
