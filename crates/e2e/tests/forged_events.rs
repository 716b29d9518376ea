//! Forged events are refused. Each service logs in to RabbitMQ as a user of
//! its own, with the permissions `scripts/broker-users` grants (write only
//! to its own exchanges, read only its own queues), and consumers check
//! every event's AMQP `user_id` (which RabbitMQ validates) against its
//! producer. The whole saga runs under those users; then forged events are
//! published as other services: RabbitMQ refuses a write to a foreign
//! exchange, consumers dead-letter an event from the wrong user, and no
//! stock moves.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use ecommerce_broker::consumer::DEATH_REASON_HEADER;
use ecommerce_broker::topology::ConsumerQueue;
use ecommerce_broker::{Broker, EventsExchange, OutgoingMessage, PublishError};
use ecommerce_e2e::shop::{CARD_OK, CURRENCY, OrderStatus};
use ecommerce_e2e::{Shop, Stack, StackOptions, Svc};
use ecommerce_events::{Event, EventMetadata, encode};
use ecommerce_proto::ecommerce::common::v1::Money;
use ecommerce_proto::ecommerce::orders::v1::{OrderLine, OrderPlaced};
use ecommerce_proto::ecommerce::payments::v1::PaymentAuthorized;
use ecommerce_test_support::rabbitmq::header_text;
use uuid::Uuid;

const SAGA: Duration = Duration::from_secs(60);

/// Publishes `payload` to `exchange` as `service`'s broker user.
async fn publish_as<E: Event>(
    stack: &Stack,
    service: Svc,
    exchange: EventsExchange,
    payload: &E,
) -> Result<(), PublishError> {
    let test_broker = stack.broker();
    let settings = test_broker
        .settings
        .clone()
        .with_amqp_url("AMQP_URL", stack.amqp_url(service).into())
        .unwrap()
        .with_connection_name(format!(
            "{}forger-as-{}",
            test_broker.prefix,
            service.binary()
        ));
    let broker = Broker::connect(settings, test_broker.topology.clone())
        .await
        .unwrap();
    let encoded = encode(
        payload,
        &EventMetadata::new("order", Uuid::now_v7().to_string()),
    );
    let message = OutgoingMessage::new(
        test_broker.names().exchange(exchange),
        E::EVENT_TYPE,
        encoded.body,
        encoded.properties,
    );
    let published = broker.publisher().publish(&message).await;
    broker.close().await;
    published
}

fn euros(minor: i64) -> Option<Money> {
    Some(Money {
        currency: CURRENCY.to_owned(),
        amount_minor: minor,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_events_move_no_stock_under_per_service_broker_users() {
    let stack = Stack::start(StackOptions::default().with_broker_users())
        .await
        .unwrap();
    let shop = Shop::open(&stack).await.unwrap();
    let sku = shop.sellable_sku(1_000, 5).await.unwrap();
    let customer = shop.customer().await.unwrap();

    // The permissions are enough for the whole saga.
    let order_id = shop.buy(&customer, &sku, 1).await.unwrap();
    shop.wait_for_status(&order_id, &[OrderStatus::Confirmed], SAGA)
        .await
        .unwrap();
    let before = shop.stock(&sku).await.unwrap();
    assert_eq!((before.on_hand, before.reserved), (4, 0));

    let forged_order = Uuid::now_v7().to_string();
    let placed = OrderPlaced {
        order_id: forged_order.clone(),
        user_id: customer.user_id.clone(),
        lines: vec![OrderLine {
            sku: sku.clone(),
            quantity: 3,
            unit_price: euros(1_000),
            line_total: euros(3_000),
            ..OrderLine::default()
        }],
        total: euros(3_000),
        currency: CURRENCY.to_owned(),
        payment_method_token: CARD_OK.to_owned(),
        shipping_option_id: shop.shipping_option_id().to_owned(),
    };
    let authorized = PaymentAuthorized {
        payment_id: Uuid::now_v7().to_string(),
        order_id: forged_order.clone(),
        amount: euros(3_000),
        provider_reference: "forged".to_owned(),
    };

    // The right exchange, the wrong user: payments-svc may write to the
    // orders exchange (they share it) but does not produce orders' events,
    // and orders-svc does not produce payments'.
    publish_as(&stack, Svc::Payments, EventsExchange::Orders, &placed)
        .await
        .unwrap();
    publish_as(&stack, Svc::Orders, EventsExchange::Orders, &authorized)
        .await
        .unwrap();
    // A foreign exchange: RabbitMQ refuses the write itself.
    for (service, exchange) in [
        (Svc::Payments, EventsExchange::Inventory),
        (Svc::Catalog, EventsExchange::Orders),
    ] {
        let refused = publish_as(&stack, service, exchange, &authorized).await;
        assert!(
            refused.is_err(),
            "{} wrote to {exchange:?}",
            service.binary()
        );
    }

    // Each consumer that received a forged event dead-lettered it unseen.
    let admin = stack.admin();
    let names = stack.broker().names();
    let inventory_dlq = names.dead_letter_queue(ConsumerQueue::InventoryOrderEvents);
    let payments_dlq = names.dead_letter_queue(ConsumerQueue::PaymentsOrderEvents);
    for (dlq, expected) in [(&inventory_dlq, 2), (&payments_dlq, 1)] {
        assert_eq!(
            admin
                .wait_for_message_count(dlq, expected, Duration::from_secs(15))
                .await,
            expected,
            "{dlq}"
        );
    }
    let mut reasons = Vec::new();
    while let Some(message) = admin.get(&inventory_dlq).await {
        reasons.push(header_text(&message, DEATH_REASON_HEADER).unwrap_or_default());
    }
    assert_eq!(reasons.len(), 2);
    for reason in &reasons {
        assert!(reason.contains("refused as forged"), "{reason}");
    }
    let prefix = &stack.broker().prefix;
    assert!(
        reasons.iter().any(|reason| reason.contains(&format!(
            "published by broker user `{prefix}orders-svc`, but this one by `{prefix}payments-svc`"
        ))),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|reason| reason.contains(&format!(
            "published by broker user `{prefix}payments-svc`, but this one by `{prefix}orders-svc`"
        ))),
        "{reasons:?}"
    );

    // No stock moved, and a real order still goes through.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(shop.stock(&sku).await.unwrap(), before);
    let second = shop.buy(&customer, &sku, 1).await.unwrap();
    shop.wait_for_status(&second, &[OrderStatus::Confirmed], SAGA)
        .await
        .unwrap();
    stack.finish().await.unwrap();
}
