//! fulfillment-svc as the binary runs it (runtime, migrator, relay, both
//! consumers, auth layer), with real Postgres and RabbitMQ: orders'
//! `order_placed` / `order_canceled` and inventory's `stock.committed` are
//! published into the topology through upstream outboxes in the test's
//! schema (as orders-svc and inventory-svc would), and fulfillment's events
//! are read off RabbitMQ.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use ecommerce_broker::{Backoff, EventsExchange};
use ecommerce_events::{DecodedEvent, EventMetadata, ReceivedEvent};
use ecommerce_outbox::{Outbox, OutboxTable};
use ecommerce_proto::ecommerce::fulfillment::v1 as pb;
use ecommerce_proto::ecommerce::fulfillment::v1::fulfillment_service_client::FulfillmentServiceClient;
use ecommerce_proto::ecommerce::inventory::v1::{StockCommitted, StockLine};
use ecommerce_proto::ecommerce::orders::v1::{OrderCanceled, OrderPlaced};
use ecommerce_runtime::RuntimeSettings;
use ecommerce_test_support::{
    EVENT_WAIT, QUIET, TestAuth, TestService, assert_standard_grpc_surface, with_bearer,
};
use fulfillment_svc::app::FulfillmentApp;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use tonic::transport::Channel;
use uuid::Uuid;

struct World {
    service: TestService,
    app: FulfillmentApp,
    client: FulfillmentServiceClient<Channel>,
    auth: TestAuth,
    admin: String,
    inventory: Outbox,
    orders: Outbox,
}

/// The seeded options (migration 0003).
const STANDARD: &str = "01936b2e-0000-7000-8000-000000000001";
const EXPRESS: &str = "01936b2e-0000-7000-8000-000000000002";

impl World {
    async fn start() -> Self {
        Self::start_configured(|_| {}).await
    }

    /// With consumer retries slow and many enough for a commit to wait for
    /// its order's `order_placed` (the test default dead-letters in ~50 ms).
    async fn start_patient() -> Self {
        Self::start_configured(|settings| {
            settings.broker.consumer.retry_budget = 30;
            settings.broker.consumer.retry_backoff =
                Backoff::new(Duration::from_millis(100), Duration::from_millis(200));
        })
        .await
    }

    async fn start_configured(configure: impl FnOnce(&mut RuntimeSettings)) -> Self {
        let mut service = TestService::start_configured::<fulfillment_migration::Migrator>(
            &fulfillment_svc::SERVICE,
            &[EventsExchange::Fulfillment],
            configure,
        )
        .await
        .unwrap();
        let runtime = service.runtime.clone();
        let app = fulfillment_svc::start(&runtime).unwrap();
        let inventory = service
            .upstream(&OutboxTable::INVENTORY, EventsExchange::Inventory)
            .await
            .unwrap();
        let orders = service
            .upstream(&OutboxTable::ORDERS, EventsExchange::Orders)
            .await
            .unwrap();
        let auth = TestAuth::new();
        let admin = auth.admin_token();
        let layer = auth.layer();
        let served = app.clone();
        service
            .serve(&fulfillment_svc::SERVICE, move |server| {
                fulfillment_svc::register(server, &layer, served)
            })
            .await
            .unwrap();
        let client = FulfillmentServiceClient::new(service.channel());
        Self {
            service,
            app,
            client,
            auth,
            admin,
            inventory,
            orders,
        }
    }

    /// Publishes orders' `order_placed` for `order_id` with the shipping
    /// option `option_id`; returns the event's id.
    async fn place_order(&self, order_id: &str, option_id: &str, correlation: &str) -> Uuid {
        let placed = OrderPlaced {
            order_id: order_id.to_owned(),
            user_id: Uuid::now_v7().to_string(),
            shipping_option_id: option_id.to_owned(),
            ..Default::default()
        };
        let metadata = EventMetadata::new("order", order_id).with_correlation_id(correlation);
        self.service
            .publish(&self.orders, placed, metadata)
            .await
            .unwrap()
    }

    /// Publishes orders' `order_canceled` for `order_id`; returns its id.
    async fn cancel_order(&self, order_id: &str, correlation: &str) -> Uuid {
        let canceled = OrderCanceled {
            order_id: order_id.to_owned(),
            user_id: Uuid::now_v7().to_string(),
            reason: "changed my mind".to_owned(),
            ..Default::default()
        };
        let metadata = EventMetadata::new("order", order_id).with_correlation_id(correlation);
        self.service
            .publish(&self.orders, canceled, metadata)
            .await
            .unwrap()
    }

    /// Waits until the consumer has noted `order_id` (`what`: a condition
    /// on `order_notes`).
    async fn wait_noted(&self, order_id: &str, what: &str) {
        let sql = format!(
            "SELECT count(*) AS n FROM order_notes WHERE order_id = '{order_id}' AND {what}"
        );
        let deadline = tokio::time::Instant::now() + EVENT_WAIT;
        while self.service.count(&sql).await == 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "never noted: {what}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Publishes inventory's `stock.committed` for `order_id` as
    /// `correlation`; returns the event's id.
    async fn commit_stock(&self, order_id: &str, lines: &[(&str, i32)], correlation: &str) -> Uuid {
        let reservation_id = Uuid::now_v7().to_string();
        let committed = StockCommitted {
            reservation_id: reservation_id.clone(),
            order_id: order_id.to_owned(),
            lines: lines
                .iter()
                .map(|(sku, quantity)| StockLine {
                    sku: (*sku).to_owned(),
                    quantity: *quantity,
                })
                .collect(),
        };
        let metadata =
            EventMetadata::new("reservation", reservation_id).with_correlation_id(correlation);
        self.service
            .publish(&self.inventory, committed, metadata)
            .await
            .unwrap()
    }

    /// The next fulfillment event of `event_type`, with `correlation` and
    /// caused by `cause`.
    async fn expect(&self, event_type: &str, correlation: &str, cause: Uuid) -> ReceivedEvent {
        let event = self.service.expect_event(event_type, EVENT_WAIT).await;
        assert_eq!(event.metadata.correlation_id.as_deref(), Some(correlation));
        assert_eq!(
            event.metadata.causation_id.as_deref(),
            Some(cause.to_string().as_str())
        );
        assert_eq!(event.metadata.aggregate.aggregate_type, "shipment");
        event
    }

    async fn list(&self, order_id: &str) -> Vec<pb::Shipment> {
        self.client
            .clone()
            .list_shipments(with_bearer(
                pb::ListShipmentsRequest {
                    order_id: order_id.to_owned(),
                    ..Default::default()
                },
                &self.admin,
            ))
            .await
            .unwrap()
            .into_inner()
            .shipments
    }

    async fn mark_shipped(
        &self,
        token: Option<&str>,
        shipment_id: &str,
        carrier: &str,
        tracking_number: &str,
    ) -> Result<pb::Shipment, tonic::Status> {
        let message = pb::MarkShippedRequest {
            shipment_id: shipment_id.to_owned(),
            carrier: carrier.to_owned(),
            tracking_number: tracking_number.to_owned(),
        };
        let request = match token {
            Some(token) => with_bearer(message, token),
            None => tonic::Request::new(message),
        };
        self.client
            .clone()
            .mark_shipped(request)
            .await
            .map(|response| response.into_inner().shipment.unwrap())
    }

    async fn mark_delivered(
        &self,
        token: Option<&str>,
        shipment_id: &str,
    ) -> Result<pb::Shipment, tonic::Status> {
        let message = pb::MarkDeliveredRequest {
            shipment_id: shipment_id.to_owned(),
        };
        let request = match token {
            Some(token) => with_bearer(message, token),
            None => tonic::Request::new(message),
        };
        self.client
            .clone()
            .mark_delivered(request)
            .await
            .map(|response| response.into_inner().shipment.unwrap())
    }

    async fn finish(self) {
        self.service.finish().await.unwrap();
    }
}

fn assert_invalid(status: &tonic::Status, field: &str) {
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains(field), "{status:?}");
}

#[tokio::test]
async fn shipping_options_are_open_to_everyone_cheapest_first() {
    let world = World::start().await;
    assert_standard_grpc_surface(
        world.service.server.as_ref().unwrap(),
        "ecommerce.fulfillment.v1.FulfillmentService",
    )
    .await;

    // Anonymous, no filters: every option, cheapest first.
    let options = world
        .client
        .clone()
        .get_shipping_options(pb::GetShippingOptionsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .shipping_options;
    let summary: Vec<(&str, i64, &str, i32, i32)> = options
        .iter()
        .map(|option| {
            let price = option.price.as_ref().unwrap();
            (
                option.name.as_str(),
                price.amount_minor,
                price.currency.as_str(),
                option.min_delivery_days,
                option.max_delivery_days,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("Standard (DHL)", 499, "EUR", 3, 5),
            ("Express (DHL)", 1299, "EUR", 1, 2)
        ]
    );
    for option in &options {
        Uuid::parse_str(&option.id).unwrap();
    }

    // With valid filters: the same options.
    let filtered = world
        .client
        .clone()
        .get_shipping_options(with_bearer(
            pb::GetShippingOptionsRequest {
                destination_country: "de".to_owned(),
                order_id: Uuid::now_v7().to_string(),
            },
            &world.auth.customer_token(),
        ))
        .await
        .unwrap()
        .into_inner()
        .shipping_options;
    assert_eq!(filtered, options);

    // Bad input names the field.
    let status = world
        .client
        .clone()
        .get_shipping_options(pb::GetShippingOptionsRequest {
            destination_country: "Germany".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_invalid(&status, "destination_country");
    let status = world
        .client
        .clone()
        .get_shipping_options(pb::GetShippingOptionsRequest {
            order_id: "not-a-uuid".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_invalid(&status, "order_id");
    world.finish().await;
}

#[tokio::test]
async fn a_committed_order_gets_one_shipment_that_is_shipped_then_delivered() {
    let world = World::start().await;
    let order_id = Uuid::now_v7().to_string();
    let correlation = "corr-checkout-1";
    world.place_order(&order_id, STANDARD, correlation).await;
    // Noted before the commit: the two test relays publish independently.
    world.wait_noted(&order_id, "true").await;

    // stock.committed -> shipment.created, caused by it, same correlation.
    let committed = world
        .commit_stock(&order_id, &[("SKU-B", 1), ("SKU-A", 2)], correlation)
        .await;
    let created_event = world
        .expect("fulfillment.shipment.created.v1", correlation, committed)
        .await;
    let created_id = created_event.metadata.id;
    let DecodedEvent::FulfillmentShipmentCreatedV1(created) = created_event.event else {
        panic!("not a created event");
    };
    assert_eq!(created.order_id, order_id);
    let lines: Vec<(&str, i32)> = created
        .lines
        .iter()
        .map(|line| (line.sku.as_str(), line.quantity))
        .collect();
    assert_eq!(lines, [("SKU-A", 2), ("SKU-B", 1)]);
    assert_eq!(created.shipment_id, created_event.metadata.aggregate.id);
    let options = world
        .client
        .clone()
        .get_shipping_options(pb::GetShippingOptionsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .shipping_options;
    assert_eq!(created.shipping_option_id, options[0].id);
    let shipment_id = created.shipment_id.clone();

    // A second commit of the same order (a new message): nothing.
    world
        .commit_stock(&order_id, &[("SKU-A", 2)], correlation)
        .await;
    world
        .service
        .expect_no_event("fulfillment.shipment.created.v1", QUIET)
        .await;
    let shipments = world.list(&order_id).await;
    assert_eq!(shipments.len(), 1);
    let pending = &shipments[0];
    assert_eq!(pending.id, shipment_id);
    assert_eq!(pending.status, pb::ShipmentStatus::Pending as i32);
    assert_eq!(
        pending.shipping_option.as_ref().unwrap().name,
        "Standard (DHL)"
    );
    assert!(pending.carrier.is_empty() && pending.shipped_at.is_none());
    assert_eq!(
        world
            .service
            .count(&format!(
                "SELECT count(*) AS n FROM shipments WHERE order_id = '{order_id}'"
            ))
            .await,
        1
    );

    // Who may ship: not anonymous, not a customer.
    let anonymous = world
        .mark_shipped(None, &shipment_id, "DHL", "JJD1")
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), tonic::Code::Unauthenticated);
    let customer = world.auth.customer_token();
    let denied = world
        .mark_shipped(Some(&customer), &shipment_id, "DHL", "JJD1")
        .await
        .unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
    let denied = world
        .mark_delivered(Some(&customer), &shipment_id)
        .await
        .unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
    let denied = world
        .client
        .clone()
        .get_shipment(with_bearer(
            pb::GetShipmentRequest {
                shipment_id: shipment_id.clone(),
            },
            &customer,
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);

    // Bad input names the field; unknown shipments are NOT_FOUND.
    let admin = world.admin.clone();
    let status = world
        .mark_shipped(Some(&admin), &shipment_id, " ", "JJD1")
        .await
        .unwrap_err();
    assert_invalid(&status, "carrier");
    let status = world
        .mark_shipped(Some(&admin), &shipment_id, "DHL", "")
        .await
        .unwrap_err();
    assert_invalid(&status, "tracking_number");
    let status = world
        .mark_shipped(Some(&admin), "nope", "DHL", "JJD1")
        .await
        .unwrap_err();
    assert_invalid(&status, "shipment_id");
    let status = world.mark_delivered(Some(&admin), "").await.unwrap_err();
    assert_invalid(&status, "shipment_id");
    let unknown = Uuid::now_v7().to_string();
    let status = world
        .mark_shipped(Some(&admin), &unknown, "DHL", "JJD1")
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::NotFound);

    // Delivered before shipped: refused, naming the state.
    let status = world
        .mark_delivered(Some(&admin), &shipment_id)
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    assert!(status.message().contains("PENDING"), "{status:?}");

    // Shipped: the event stays in the checkout's correlation, caused by
    // the created event.
    let shipped = world
        .mark_shipped(Some(&admin), &shipment_id, "DHL", "JJD000390007")
        .await
        .unwrap();
    assert_eq!(shipped.status, pb::ShipmentStatus::Shipped as i32);
    assert_eq!(
        (shipped.carrier.as_str(), shipped.tracking_number.as_str()),
        ("DHL", "JJD000390007")
    );
    assert!(shipped.shipped_at.is_some());
    let shipped_event = world
        .expect("fulfillment.shipment.shipped.v1", correlation, created_id)
        .await;
    let shipped_id = shipped_event.metadata.id;
    let DecodedEvent::FulfillmentShipmentShippedV1(payload) = shipped_event.event else {
        panic!("not a shipped event");
    };
    assert_eq!(payload.shipment_id, shipment_id);
    assert_eq!(payload.order_id, order_id);
    assert_eq!(payload.carrier, "DHL");
    assert_eq!(payload.tracking_number, "JJD000390007");

    // The same again: unchanged, no second event; other tracking: refused.
    let again = world
        .mark_shipped(Some(&admin), &shipment_id, "DHL", "JJD000390007")
        .await
        .unwrap();
    assert_eq!(again, shipped);
    let status = world
        .mark_shipped(Some(&admin), &shipment_id, "UPS", "1Z999")
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    assert!(status.message().contains("SHIPPED"), "{status:?}");
    world
        .service
        .expect_no_event("fulfillment.shipment.shipped.v1", QUIET)
        .await;

    // Delivered, caused by the shipped event; a repeat is unchanged.
    let delivered = world
        .mark_delivered(Some(&admin), &shipment_id)
        .await
        .unwrap();
    assert_eq!(delivered.status, pb::ShipmentStatus::Delivered as i32);
    assert!(delivered.delivered_at.is_some());
    let delivered_event = world
        .expect("fulfillment.shipment.delivered.v1", correlation, shipped_id)
        .await;
    let DecodedEvent::FulfillmentShipmentDeliveredV1(payload) = delivered_event.event else {
        panic!("not a delivered event");
    };
    assert_eq!(
        (payload.shipment_id.as_str(), payload.order_id.as_str()),
        (shipment_id.as_str(), order_id.as_str())
    );
    let again = world
        .mark_delivered(Some(&admin), &shipment_id)
        .await
        .unwrap();
    assert_eq!(again, delivered);
    world
        .service
        .expect_no_event("fulfillment.shipment.delivered.v1", QUIET)
        .await;

    // Shipping a delivered shipment is refused, naming the state.
    let status = world
        .mark_shipped(Some(&admin), &shipment_id, "DHL", "JJD000390007")
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    assert!(status.message().contains("DELIVERED"), "{status:?}");

    let read = world
        .client
        .clone()
        .get_shipment(with_bearer(
            pb::GetShipmentRequest {
                shipment_id: shipment_id.clone(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .shipment
        .unwrap();
    assert_eq!(read, delivered);
    assert_eq!(
        world
            .service
            .count("SELECT count(*) AS n FROM fulfillment_outbox_events")
            .await,
        3
    );
    world.finish().await;
}

#[tokio::test]
async fn shipments_page_and_the_database_refuses_what_the_domain_refuses() {
    let world = World::start().await;
    let order_id = Uuid::now_v7().to_string();
    world.place_order(&order_id, STANDARD, "corr-2").await;
    // Noted before the commit: the two test relays publish independently.
    world.wait_noted(&order_id, "true").await;
    let committed = world
        .commit_stock(&order_id, &[("SKU-1", 1)], "corr-2")
        .await;
    world
        .expect("fulfillment.shipment.created.v1", "corr-2", committed)
        .await;

    // One shipment per order: page of one, no next page; bad token refused.
    let page = world
        .client
        .clone()
        .list_shipments(with_bearer(
            pb::ListShipmentsRequest {
                order_id: order_id.clone(),
                page_size: 1,
                page_token: String::new(),
            },
            &world.admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.shipments.len(), 1);
    assert!(page.next_page_token.is_empty());
    let status = world
        .client
        .clone()
        .list_shipments(with_bearer(
            pb::ListShipmentsRequest {
                order_id: order_id.clone(),
                page_size: 1,
                page_token: "garbage".to_owned(),
            },
            &world.admin,
        ))
        .await
        .unwrap_err();
    assert_invalid(&status, "page_token");
    assert!(world.list(&Uuid::now_v7().to_string()).await.is_empty());

    // Two commits of one order published together (the consumer may run
    // them concurrently): one shipment, one event.
    let racing_order = Uuid::now_v7().to_string();
    world
        .place_order(&racing_order, STANDARD, "corr-race")
        .await;
    world.wait_noted(&racing_order, "true").await;
    let (first, second) = tokio::join!(
        world.commit_stock(&racing_order, &[("SKU-1", 1)], "corr-race"),
        world.commit_stock(&racing_order, &[("SKU-1", 1)], "corr-race"),
    );
    let created = world
        .service
        .expect_event("fulfillment.shipment.created.v1", EVENT_WAIT)
        .await;
    let cause = created.metadata.causation_id.clone().unwrap();
    assert!(cause == first.to_string() || cause == second.to_string());
    world
        .service
        .expect_no_event("fulfillment.shipment.created.v1", QUIET)
        .await;
    assert_eq!(world.list(&racing_order).await.len(), 1);

    // The constraints repeat the rules.
    let db = world.app.db();
    let shipment_id = &page.shipments[0].id;
    for statement in [
        format!("UPDATE shipments SET status = 'shipped' WHERE id = '{shipment_id}'"),
        format!("UPDATE shipments SET status = 'lost' WHERE id = '{shipment_id}'"),
        format!("UPDATE shipment_lines SET quantity = 0 WHERE shipment_id = '{shipment_id}'"),
        format!(
            "INSERT INTO shipments SELECT gen_random_uuid(), order_id, reservation_id, status, \
             shipping_option_id, shipping_option_name, shipping_price_minor, shipping_currency, \
             min_delivery_days, max_delivery_days, carrier, tracking_number, correlation_id, \
             last_event_id, created_at, shipped_at, delivered_at, updated_at, canceled_at \
             FROM shipments WHERE id = '{shipment_id}'"
        ),
        "UPDATE shipping_options SET price_amount_minor = -1".to_owned(),
        format!("UPDATE shipments SET status = 'canceled' WHERE id = '{shipment_id}'"),
        format!("UPDATE shipments SET canceled_at = now() WHERE id = '{shipment_id}'"),
        format!("UPDATE order_notes SET canceled_at = now() WHERE order_id = '{order_id}'"),
        "UPDATE shipping_options SET is_default = true".to_owned(),
    ] {
        let refused = db
            .execute_raw(Statement::from_string(
                DbBackend::Postgres,
                statement.clone(),
            ))
            .await;
        assert!(refused.is_err(), "accepted: {statement}");
    }
    world.finish().await;
}

#[tokio::test]
async fn a_shipment_ships_with_the_option_its_order_was_placed_with() {
    let world = World::start_patient().await;
    let order_id = Uuid::now_v7().to_string();
    let correlation = "corr-express";

    // The commit overtakes order_placed (another queue): no shipment yet,
    // the commit comes again (within the test's retry budget of 2) until
    // the order is noted.
    let committed = world
        .commit_stock(&order_id, &[("SKU-1", 1)], correlation)
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(world.list(&order_id).await.is_empty());
    world.place_order(&order_id, EXPRESS, correlation).await;
    let created = world
        .expect("fulfillment.shipment.created.v1", correlation, committed)
        .await;
    let DecodedEvent::FulfillmentShipmentCreatedV1(created) = created.event else {
        panic!("not a created event");
    };
    assert_eq!(created.shipping_option_id, EXPRESS);
    let shipments = world.list(&order_id).await;
    assert_eq!(shipments.len(), 1);
    let option = shipments[0].shipping_option.as_ref().unwrap();
    assert_eq!(
        (option.id.as_str(), option.name.as_str()),
        (EXPRESS, "Express (DHL)")
    );
    assert_eq!(option.price.as_ref().unwrap().amount_minor, 1299);

    // The order re-published with another option keeps the first.
    world.place_order(&order_id, STANDARD, correlation).await;
    // An option fulfillment does not offer is refused (dead-lettered):
    // that order is never noted, so its commit never opens a shipment.
    let unknown = Uuid::now_v7().to_string();
    world
        .place_order(&unknown, &Uuid::now_v7().to_string(), correlation)
        .await;
    let other = Uuid::now_v7().to_string();
    world.place_order(&other, STANDARD, correlation).await;
    world.wait_noted(&other, "true").await;
    world
        .wait_noted(&order_id, &format!("shipping_option_id = '{EXPRESS}'"))
        .await;
    assert_eq!(
        world
            .service
            .count(&format!(
                "SELECT count(*) AS n FROM order_notes WHERE order_id = '{unknown}'"
            ))
            .await,
        0
    );
    world.finish().await;
}

#[tokio::test]
async fn a_cancel_cancels_the_pending_shipment_and_it_never_ships() {
    let world = World::start().await;
    let admin = world.admin.clone();
    let order_id = Uuid::now_v7().to_string();
    let correlation = "corr-cancel";
    world.place_order(&order_id, STANDARD, correlation).await;
    // Noted before the commit: the two test relays publish independently.
    world.wait_noted(&order_id, "true").await;
    let committed = world
        .commit_stock(&order_id, &[("SKU-1", 2)], correlation)
        .await;
    let created = world
        .expect("fulfillment.shipment.created.v1", correlation, committed)
        .await;
    let shipment_id = created.metadata.aggregate.id.clone();

    // order_canceled at CONFIRMED: the shipment is CANCELED, the event
    // caused by the cancel.
    let cancel = world.cancel_order(&order_id, correlation).await;
    let canceled = world
        .expect("fulfillment.shipment.canceled.v1", correlation, cancel)
        .await;
    assert_eq!(canceled.metadata.aggregate.id, shipment_id);
    let DecodedEvent::FulfillmentShipmentCanceledV1(payload) = canceled.event else {
        panic!("not a canceled event");
    };
    assert_eq!(
        (payload.shipment_id.as_str(), payload.order_id.as_str()),
        (shipment_id.as_str(), order_id.as_str())
    );
    assert_eq!(payload.reason, "changed my mind");
    let shipments = world.list(&order_id).await;
    assert_eq!(shipments.len(), 1);
    assert_eq!(shipments[0].status, pb::ShipmentStatus::Canceled as i32);
    assert!(shipments[0].canceled_at.is_some());
    assert!(shipments[0].shipped_at.is_none());

    // It never ships, nor is delivered.
    let status = world
        .mark_shipped(Some(&admin), &shipment_id, "DHL", "JJD1")
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    assert!(status.message().contains("CANCELED"), "{status:?}");
    let status = world
        .mark_delivered(Some(&admin), &shipment_id)
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);

    // The cancel again, and a late commit: nothing.
    world.cancel_order(&order_id, correlation).await;
    world
        .commit_stock(&order_id, &[("SKU-1", 2)], correlation)
        .await;
    world
        .service
        .expect_no_event("fulfillment.shipment.canceled.v1", QUIET)
        .await;
    world
        .service
        .expect_no_event("fulfillment.shipment.created.v1", QUIET)
        .await;
    assert_eq!(world.list(&order_id).await.len(), 1);

    // A shipment that left before the cancel stays shipped.
    let shipped_order = Uuid::now_v7().to_string();
    world
        .place_order(&shipped_order, STANDARD, "corr-left")
        .await;
    world.wait_noted(&shipped_order, "true").await;
    let committed = world
        .commit_stock(&shipped_order, &[("SKU-1", 1)], "corr-left")
        .await;
    let created = world
        .expect("fulfillment.shipment.created.v1", "corr-left", committed)
        .await;
    world
        .mark_shipped(Some(&admin), &created.metadata.aggregate.id, "DHL", "JJD2")
        .await
        .unwrap();
    world.cancel_order(&shipped_order, "corr-left").await;
    world
        .wait_noted(&shipped_order, "canceled_at IS NOT NULL")
        .await;
    world
        .service
        .expect_no_event("fulfillment.shipment.canceled.v1", QUIET)
        .await;
    assert_eq!(
        world.list(&shipped_order).await[0].status,
        pb::ShipmentStatus::Shipped as i32
    );
    world.finish().await;
}

#[tokio::test]
async fn a_cancel_that_overtakes_the_commit_leaves_no_shipment() {
    let world = World::start().await;
    // Placed, then canceled before inventory's commit reached fulfillment.
    let order_id = Uuid::now_v7().to_string();
    world.place_order(&order_id, STANDARD, "corr-race").await;
    world.cancel_order(&order_id, "corr-race").await;
    world.wait_noted(&order_id, "canceled_at IS NOT NULL").await;
    // Canceled before even its order_placed arrived.
    let unplaced = Uuid::now_v7().to_string();
    world.cancel_order(&unplaced, "corr-race").await;
    world.wait_noted(&unplaced, "canceled_at IS NOT NULL").await;

    for order in [&order_id, &unplaced] {
        world
            .commit_stock(order, &[("SKU-1", 1)], "corr-race")
            .await;
    }
    world.place_order(&unplaced, STANDARD, "corr-race").await;
    world
        .service
        .expect_no_event("fulfillment.shipment.created.v1", QUIET)
        .await;
    for order in [&order_id, &unplaced] {
        assert!(world.list(order).await.is_empty(), "{order}");
    }
    assert_eq!(
        world
            .service
            .count("SELECT count(*) AS n FROM shipments")
            .await,
        0
    );
    world.finish().await;
}
