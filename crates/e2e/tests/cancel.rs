//! End-to-end: an order canceled at CONFIRMED, before it ships. Inventory
//! puts the committed units back (`inventory.stock.restocked.v1`),
//! fulfillment cancels the shipment (`fulfillment.shipment.canceled.v1`),
//! which then never ships, and payments voids the authorization; the
//! shipment carries the shipping option the shopper chose. Every test
//! starts its own stack and talks to it only through gRPC and the event
//! tap.

use std::time::Duration;

use ecommerce_e2e::shop::OrderStatus;
use ecommerce_e2e::{CheckoutArgs, Shop, Stack, StackOptions, Svc};
use ecommerce_events::{DecodedEvent, ReceivedEvent};
use ecommerce_proto::ecommerce::fulfillment::v1::ShipmentStatus;
use ecommerce_proto::ecommerce::payments::v1::PaymentStatus;
use tonic::Code;

const SAGA: Duration = Duration::from_secs(60);
/// How long the tap must stay empty before the events seen are complete.
const QUIET: Duration = Duration::from_secs(3);

/// The order an event is about, when it is about one.
fn order_of(event: &DecodedEvent) -> Option<&str> {
    Some(match event {
        DecodedEvent::OrdersOrderPlacedV1(event) => &event.order_id,
        DecodedEvent::OrdersOrderCanceledV1(event) => &event.order_id,
        DecodedEvent::OrdersOrderConfirmedV1(event) => &event.order_id,
        DecodedEvent::InventoryStockReservedV1(event) => &event.order_id,
        DecodedEvent::InventoryStockCommittedV1(event) => &event.order_id,
        DecodedEvent::InventoryStockReservationReleasedV1(event) => &event.order_id,
        DecodedEvent::InventoryStockRestockedV1(event) => &event.order_id,
        DecodedEvent::PaymentsPaymentAuthorizedV1(event) => &event.order_id,
        DecodedEvent::PaymentsPaymentCapturedV1(event) => &event.order_id,
        DecodedEvent::PaymentsPaymentVoidedV1(event) => &event.order_id,
        DecodedEvent::FulfillmentShipmentCreatedV1(event) => &event.order_id,
        DecodedEvent::FulfillmentShipmentShippedV1(event) => &event.order_id,
        DecodedEvent::FulfillmentShipmentCanceledV1(event) => &event.order_id,
        _ => return None,
    })
}

/// Every event read off the tap so far, in the order the broker got them.
#[derive(Default)]
struct Seen {
    events: Vec<ReceivedEvent>,
}

impl Seen {
    /// Reads the tap until an event of `event_type` about `order_id` comes
    /// (or was already seen); panics after `timeout`, naming what came.
    async fn wait_for(
        &mut self,
        stack: &Stack,
        event_type: &str,
        order_id: &str,
        timeout: Duration,
    ) -> ReceivedEvent {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(event) = self.events.iter().find(|event| {
                event.event.event_type() == event_type && order_of(&event.event) == Some(order_id)
            }) {
                return event.clone();
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match stack.tap().next_event(left).await {
                Some(event) => self.events.push(event),
                None => panic!(
                    "no {event_type} for order {order_id} within {timeout:?}; saw {:?}",
                    self.types(order_id)
                ),
            }
        }
    }

    /// Reads the tap until it stays empty for `quiet`.
    async fn settle(&mut self, stack: &Stack, quiet: Duration) {
        self.events.extend(stack.tap().drain(quiet).await);
    }

    /// The types of the events about `order_id`, in order.
    fn types(&self, order_id: &str) -> Vec<String> {
        self.events
            .iter()
            .filter(|event| order_of(&event.event) == Some(order_id))
            .map(|event| event.event.event_type().to_owned())
            .collect()
    }

    fn count(&self, event_type: &str, order_id: &str) -> usize {
        self.types(order_id)
            .iter()
            .filter(|seen| *seen == event_type)
            .count()
    }
}

/// (on_hand, reserved, available) of `sku`.
async fn stock(shop: &Shop, sku: &str) -> anyhow::Result<(i32, i32, i32)> {
    let level = shop.stock(sku).await?;
    Ok((level.on_hand, level.reserved, level.available))
}

/// MarkShipped is refused with FAILED_PRECONDITION naming CANCELED.
async fn assert_never_ships(shop: &Shop, shipment_id: &str) -> anyhow::Result<()> {
    let Err(error) = shop.mark_shipped(shipment_id).await else {
        anyhow::bail!("shipment {shipment_id} of a canceled order shipped");
    };
    let Some(status) = error.downcast_ref::<tonic::Status>() else {
        anyhow::bail!("not a gRPC status: {error:?}");
    };
    anyhow::ensure!(
        status.code() == Code::FailedPrecondition && status.message().contains("CANCELED"),
        "MarkShipped of a canceled shipment answered {status:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_at_confirmed_restocks_cancels_the_shipment_and_voids_the_payment() {
    let stack = Stack::start(StackOptions::default()).await.unwrap();
    let shop = Shop::open(&stack).await.unwrap();
    let sku = shop.sellable_sku(800, 5).await.unwrap();
    let customer = shop.customer().await.unwrap();
    let mut seen = Seen::default();

    // The shopper picks the dearer option, not the shop's default.
    let options = shop.shipping_options().await.unwrap();
    let express = options
        .iter()
        .find(|option| option.id != shop.shipping_option_id())
        .expect("a second shipping option")
        .clone();
    shop.add_item(&customer, &sku, 2).await.unwrap();
    let order_id = shop
        .checkout_shipping(&customer, &CheckoutArgs::default(), &express.id)
        .await
        .unwrap();
    shop.wait_for_status(&order_id, &[OrderStatus::Confirmed], SAGA)
        .await
        .unwrap();
    let shipment = shop.wait_for_shipment(&order_id, SAGA).await.unwrap();
    assert_eq!(shipment.status(), ShipmentStatus::Pending);
    assert_eq!(shipment.shipping_option.as_ref(), Some(&express));
    let created = seen
        .wait_for(&stack, "fulfillment.shipment.created.v1", &order_id, SAGA)
        .await;
    let DecodedEvent::FulfillmentShipmentCreatedV1(created) = created.event else {
        panic!("not a created event");
    };
    assert_eq!(created.shipping_option_id, express.id);
    shop.wait_for_payment(&order_id, PaymentStatus::Authorized, SAGA)
        .await
        .unwrap();
    assert_eq!(stock(&shop, &sku).await.unwrap(), (3, 0, 3));

    // Canceled at CONFIRMED: every side effect follows from order_canceled.
    let canceled = shop
        .cancel(&customer, &order_id, "changed my mind")
        .await
        .unwrap();
    assert_eq!(canceled.status(), OrderStatus::Canceled);
    let cancel = seen
        .wait_for(&stack, "orders.order_canceled.v1", &order_id, SAGA)
        .await;
    let cause = cancel.metadata.id.to_string();
    for effect in [
        "inventory.stock.restocked.v1",
        "fulfillment.shipment.canceled.v1",
        "payments.payment_voided.v1",
    ] {
        let event = seen.wait_for(&stack, effect, &order_id, SAGA).await;
        assert_eq!(event.metadata.causation_id.as_deref(), Some(cause.as_str()));
        assert_eq!(
            event.metadata.correlation_id,
            cancel.metadata.correlation_id
        );
    }
    assert_eq!(stock(&shop, &sku).await.unwrap(), (5, 0, 5));
    let shipment = shop.wait_for_shipment(&order_id, SAGA).await.unwrap();
    assert_eq!(shipment.status(), ShipmentStatus::Canceled);
    assert!(shipment.canceled_at.is_some());
    shop.wait_for_payment(&order_id, PaymentStatus::Voided, SAGA)
        .await
        .unwrap();

    // The shipment of a canceled order never ships: nothing is captured.
    assert_never_ships(&shop, &shipment.id).await.unwrap();
    seen.settle(&stack, QUIET).await;
    for never in [
        "fulfillment.shipment.shipped.v1",
        "payments.payment_captured.v1",
    ] {
        assert_eq!(
            seen.count(never, &order_id),
            0,
            "{:?}",
            seen.types(&order_id)
        );
    }
    for once in [
        "inventory.stock.restocked.v1",
        "fulfillment.shipment.canceled.v1",
        "payments.payment_voided.v1",
    ] {
        assert_eq!(
            seen.count(once, &order_id),
            1,
            "{:?}",
            seen.types(&order_id)
        );
    }
    let order = shop.order(&customer, &order_id).await.unwrap();
    assert_eq!(order.status(), OrderStatus::Canceled);
    let statuses: Vec<_> = shop
        .payments(&order_id)
        .await
        .unwrap()
        .iter()
        .map(|payment| payment.status())
        .collect();
    assert_eq!(statuses, [PaymentStatus::Voided]);
    stack.finish().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_that_reaches_fulfillment_with_the_commit_never_lets_the_order_ship() {
    // fulfillment-svc serves gRPC (carts price its options) but consumes
    // nothing yet: the order is CONFIRMED (orders reads the commit itself)
    // and canceled while fulfillment's queues hold order_placed,
    // stock.committed and order_canceled together.
    let options = StackOptions {
        service_env: vec![(
            Svc::Fulfillment,
            "FULFILLMENT_ROLES".to_owned(),
            "grpc,relay".to_owned(),
        )],
        ..StackOptions::default()
    };
    let mut stack = Stack::start(options).await.unwrap();
    let shop = Shop::open(&stack).await.unwrap();
    let sku = shop.sellable_sku(800, 5).await.unwrap();
    let customer = shop.customer().await.unwrap();
    let mut seen = Seen::default();
    let order_id = shop.buy(&customer, &sku, 2).await.unwrap();
    shop.wait_for_status(&order_id, &[OrderStatus::Confirmed], SAGA)
        .await
        .unwrap();
    shop.cancel(&customer, &order_id, "changed my mind")
        .await
        .unwrap();
    seen.wait_for(&stack, "inventory.stock.restocked.v1", &order_id, SAGA)
        .await;
    shop.wait_for_payment(&order_id, PaymentStatus::Voided, SAGA)
        .await
        .unwrap();
    assert!(shop.shipments(&order_id).await.unwrap().is_empty());

    // Its consumers start and read both queues in whatever order: the
    // shipment is either never opened or opened and canceled, and never
    // ships.
    stack
        .spawn_extra(Svc::Fulfillment, &["--roles", "consumers"])
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + SAGA;
    loop {
        seen.settle(&stack, QUIET).await;
        let shipments = shop.shipments(&order_id).await.unwrap();
        let opened = seen.count("fulfillment.shipment.created.v1", &order_id);
        let canceled = seen.count("fulfillment.shipment.canceled.v1", &order_id);
        let settled = match shipments.as_slice() {
            [] => opened == 0,
            [shipment] => shipment.status() == ShipmentStatus::Canceled && canceled == 1,
            more => panic!("more than one shipment: {more:?}"),
        };
        if settled {
            for shipment in &shipments {
                assert_never_ships(&shop, &shipment.id).await.unwrap();
            }
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "shipments {shipments:?}, events {:?}",
            seen.types(&order_id)
        );
    }
    seen.settle(&stack, QUIET).await;
    assert_eq!(
        seen.count("fulfillment.shipment.shipped.v1", &order_id),
        0,
        "{:?}",
        seen.types(&order_id)
    );
    assert_eq!(stock(&shop, &sku).await.unwrap(), (5, 0, 5));
    let order = shop.order(&customer, &order_id).await.unwrap();
    assert_eq!(order.status(), OrderStatus::Canceled);
    stack.finish().await.unwrap();
}
