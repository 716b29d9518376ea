//! `ecomctl demo`: the README's checkout walk-through over gRPC against the
//! running services, printing every event of it as the broker carries it.
//!
//! The admin stocks a new SKU, a new customer buys it, the saga confirms
//! the order, the admin ships and delivers it. Every call carries an
//! `x-correlation-id`: `<id>.setup` for the catalog and stock steps and
//! `<id>` for the checkout, so the events printed are this demo's alone (a
//! temporary queue bound to every events exchange, as `events tail`), and
//! `ecomctl saga <order>` afterwards tells the checkout's story from the
//! outboxes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use chrono::{DateTime, Utc};
use ecommerce_platform::services;
use ecommerce_platform::settings::ServiceInfo;
use ecommerce_proto::ecommerce::cart::v1 as cart_pb;
use ecommerce_proto::ecommerce::cart::v1::cart_service_client::CartServiceClient;
use ecommerce_proto::ecommerce::catalog::v1 as catalog_pb;
use ecommerce_proto::ecommerce::catalog::v1::catalog_service_client::CatalogServiceClient;
use ecommerce_proto::ecommerce::common::v1::Money;
use ecommerce_proto::ecommerce::fulfillment::v1 as fulfillment_pb;
use ecommerce_proto::ecommerce::fulfillment::v1::fulfillment_service_client::FulfillmentServiceClient;
use ecommerce_proto::ecommerce::iam::v1 as iam_pb;
use ecommerce_proto::ecommerce::iam::v1::iam_service_client::IamServiceClient;
use ecommerce_proto::ecommerce::inventory::v1 as inventory_pb;
use ecommerce_proto::ecommerce::inventory::v1::inventory_service_client::InventoryServiceClient;
use ecommerce_proto::ecommerce::orders::v1 as orders_pb;
use ecommerce_proto::ecommerce::orders::v1::OrderStatus;
use ecommerce_proto::ecommerce::orders::v1::order_service_client::OrderServiceClient;
use ecommerce_proto::ecommerce::payments::v1 as payments_pb;
use ecommerce_proto::ecommerce::payments::v1::PaymentStatus;
use ecommerce_proto::ecommerce::payments::v1::payment_service_client::PaymentServiceClient;
use tokio::sync::watch;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use uuid::Uuid;

use crate::connect::{connect_broker, explain_grpc_error, grpc_channel};
use crate::decode::{Decoder, EventView};
use crate::events::{EventStream, resolve_exchanges};
use crate::format;
use crate::settings::Settings;

/// The development bootstrap admin (`IAM_BOOTSTRAP_ADMIN_*` otherwise).
const DEFAULT_ADMIN_EMAIL: &str = "admin@ecommerce.local";
const DEFAULT_ADMIN_PASSWORD: &str = "ecommerce-admin-dev-password";
/// How often the demo asks again while the saga runs.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// How long the demo waits for the last events once the order is done.
const TRAILING_QUIET: Duration = Duration::from_millis(1_500);

/// What `ecomctl demo` was asked for.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// The simulated provider's token: `pm_card_visa` authorizes,
    /// `pm_card_declined` declines (the order ends CANCELED).
    pub card: String,
    /// Ship and deliver after CONFIRMED.
    pub ship: bool,
    /// How long each saga step may take.
    pub timeout: Duration,
    /// The correlation id (a fresh `demo-<uuid>` by default).
    pub correlation: Option<String>,
    pub quantity: i32,
}

/// The services the walk-through calls, each with its URL and where that
/// came from.
struct Endpoint {
    service: ServiceInfo,
    url: String,
    chosen_by: String,
    channel: Channel,
}

impl Endpoint {
    /// A failed call as an error naming the service and what to do.
    fn error(&self, call: &str, status: &tonic::Status) -> anyhow::Error {
        anyhow!(
            "{call}: {}",
            explain_grpc_error(self.service.name, &self.url, &self.chosen_by, status)
        )
    }
}

/// Clients and the two sessions.
struct Walk {
    endpoints: HashMap<&'static str, Endpoint>,
    correlation: String,
    setup_correlation: String,
    timeout: Duration,
    admin_email: String,
    admin_password: String,
}

impl Walk {
    fn endpoint(&self, service: &ServiceInfo) -> anyhow::Result<&Endpoint> {
        self.endpoints
            .get(service.name)
            .ok_or_else(|| anyhow!("{} is not configured", service.name))
    }

    fn channel(&self, service: &ServiceInfo) -> anyhow::Result<Channel> {
        Ok(self.endpoint(service)?.channel.clone())
    }

    fn fail(&self, service: &ServiceInfo, call: &str, status: &tonic::Status) -> anyhow::Error {
        match self.endpoint(service) {
            Ok(endpoint) => endpoint.error(call, status),
            Err(error) => error,
        }
    }
}

/// `message` with a bearer token and a correlation id.
fn request<T>(
    message: T,
    token: Option<&str>,
    correlation: &str,
) -> anyhow::Result<tonic::Request<T>> {
    let mut request = tonic::Request::new(message);
    if let Some(token) = token {
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {token}")
                .parse()
                .context("the access token is not a header value")?,
        );
    }
    request.metadata_mut().insert(
        "x-correlation-id",
        correlation
            .parse()
            .with_context(|| format!("correlation id `{correlation}` is not a header value"))?,
    );
    Ok(request)
}

/// What the event printer has seen.
#[derive(Default)]
struct Seen {
    /// Event types of the checkout's correlation, in arrival order.
    checkout: Vec<String>,
    /// Events printed, all correlations of the demo.
    printed: usize,
}

/// `ecomctl demo`.
pub async fn demo(settings: &Settings, options: DemoOptions) -> anyhow::Result<()> {
    let started = Instant::now();
    let correlation = options
        .correlation
        .clone()
        .unwrap_or_else(|| format!("demo-{}", Uuid::now_v7().simple()));
    let mut endpoints = HashMap::new();
    for service in [
        services::IAM,
        services::CATALOG,
        services::INVENTORY,
        services::CART,
        services::ORDERS,
        services::PAYMENTS,
        services::FULFILLMENT,
    ] {
        let (url, chosen_by) = settings.grpc_url(&service)?;
        let channel = grpc_channel(&url, &chosen_by)?;
        let endpoint = Endpoint {
            service,
            url,
            chosen_by,
            channel,
        };
        check_serving(&endpoint).await?;
        endpoints.insert(service.name, endpoint);
    }

    let broker_settings = settings.broker()?;
    let broker = connect_broker(&broker_settings).await?;
    let exchanges = resolve_exchanges(&broker_settings.names, &[])?;
    let stream = EventStream::open(&broker, &exchanges, &["#".to_owned()]).await?;
    let decoder = Decoder::new(settings.registry_url()?.as_deref())?;
    let walk = Walk {
        endpoints,
        setup_correlation: format!("{correlation}.setup"),
        correlation: correlation.clone(),
        timeout: options.timeout,
        admin_email: settings
            .variable("IAM_BOOTSTRAP_ADMIN_EMAIL")
            .unwrap_or_else(|| DEFAULT_ADMIN_EMAIL.to_owned()),
        admin_password: settings
            .variable("IAM_BOOTSTRAP_ADMIN_PASSWORD")
            .unwrap_or_else(|| DEFAULT_ADMIN_PASSWORD.to_owned()),
    };
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (stop, stopped) = watch::channel(false);
    let (events_seen, _) = watch::channel(0_usize);
    let events_seen = Arc::new(events_seen);
    let printer = tokio::spawn(print_events(
        stream,
        decoder,
        correlation.clone(),
        Utc::now(),
        Arc::clone(&seen),
        Arc::clone(&events_seen),
        stopped,
    ));
    println!(
        "checkout walk-through, correlation {correlation} (setup calls: {}.setup); events as the broker carries them:",
        correlation
    );
    let walked = walk_through(&walk, &options).await;
    if walked.is_ok() {
        // The last events (a capture follows the shipment) may still be on
        // their way: wait until none came for a moment.
        let mut changes = events_seen.subscribe();
        let deadline = tokio::time::Instant::now() + walk.timeout;
        loop {
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { break },
                () = tokio::time::sleep(TRAILING_QUIET) => break,
                () = tokio::time::sleep_until(deadline) => break,
            }
        }
    }
    stop.send_replace(true);
    let printer_outcome = printer.await;
    broker.close().await;
    let order_id = walked?;
    printer_outcome.map_err(|error| anyhow!("the event printer failed: {error}"))??;
    let seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
    println!(
        "done in {}: order {order_id}, {} of its checkout ({} printed in all); \
         `ecomctl saga {order_id}` tells its story from the outboxes",
        format::duration(started.elapsed()),
        format::plural(
            i64::try_from(seen.checkout.len()).unwrap_or(i64::MAX),
            "event"
        ),
        seen.printed
    );
    Ok(())
}

/// `grpc.health.v1.Health/Check` of the whole server, so an unreachable
/// service is named before anything is created.
async fn check_serving(endpoint: &Endpoint) -> anyhow::Result<()> {
    let mut health = HealthClient::new(endpoint.channel.clone());
    let check = health.check(HealthCheckRequest {
        service: String::new(),
    });
    let response = match tokio::time::timeout(Duration::from_secs(5), check).await {
        Ok(Ok(response)) => response.into_inner(),
        Ok(Err(status)) => {
            return Err(anyhow!(explain_grpc_error(
                endpoint.service.name,
                &endpoint.url,
                &endpoint.chosen_by,
                &status
            )));
        }
        Err(_) => {
            return Err(anyhow!(
                "cannot reach {} at {} ({}): no answer within 5s — {}",
                endpoint.service.name,
                endpoint.url,
                endpoint.chosen_by,
                crate::connect::START_HINT
            ));
        }
    };
    if response.status() != ServingStatus::Serving {
        bail!(
            "{} at {} ({}) is {:?}, not SERVING: look at its log",
            endpoint.service.name,
            endpoint.url,
            endpoint.chosen_by,
            response.status()
        );
    }
    Ok(())
}

/// Prints the demo's events until `stopped`.
async fn print_events(
    mut stream: EventStream,
    decoder: Decoder,
    correlation: String,
    start: DateTime<Utc>,
    seen: Arc<Mutex<Seen>>,
    events_seen: Arc<watch::Sender<usize>>,
    mut stopped: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let setup_prefix = format!("{correlation}.");
    let mut times: HashMap<String, (DateTime<Utc>, String)> = HashMap::new();
    let outcome = loop {
        let (properties, body) = tokio::select! {
            next = stream.next() => match next {
                Ok(message) => message,
                Err(error) => break Err(error),
            },
            _ = stopped.wait_for(|stop| *stop) => break Ok(()),
        };
        let view = decoder.decode(&properties, &body).await;
        let Some(event_correlation) = view.correlation_id.clone() else {
            continue;
        };
        if event_correlation != correlation && !event_correlation.starts_with(&setup_prefix) {
            continue;
        }
        println!("{}", event_line(&view, &start, &times));
        if let Some(occurred_at) = view.occurred_at {
            times.insert(
                view.message_id.clone(),
                (occurred_at, view.event_type.clone()),
            );
        }
        let mut seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.printed += 1;
        if event_correlation == correlation {
            seen.checkout.push(view.event_type.clone());
        }
        events_seen.send_replace(seen.printed);
    };
    stream.close().await;
    outcome
}

/// `    +1.234s  orders.order_placed.v1  order:…  (12ms after …)`.
fn event_line(
    view: &EventView,
    start: &DateTime<Utc>,
    times: &HashMap<String, (DateTime<Utc>, String)>,
) -> String {
    let offset = view.occurred_at.as_ref().map_or_else(
        || "?".to_owned(),
        |occurred_at| format::offset(start, occurred_at),
    );
    let cause = view
        .causation_id
        .as_ref()
        .and_then(|cause| times.get(cause))
        .and_then(|(cause_at, cause_type)| {
            let occurred_at = view.occurred_at.as_ref()?;
            Some(format!(
                "  ({} after {cause_type})",
                format::span(cause_at, occurred_at)
            ))
        })
        .unwrap_or_default();
    format!(
        "      {offset:>9}  {:<40}  {}{cause}",
        view.event_type,
        view.aggregate_text()
    )
}

/// Every step; returns the order id.
async fn walk_through(walk: &Walk, options: &DemoOptions) -> anyhow::Result<String> {
    let setup = walk.setup_correlation.as_str();
    let admin_email = walk.admin_email.as_str();
    let mut iam = IamServiceClient::new(walk.channel(&services::IAM)?);
    let admin = sign_in(walk, &mut iam, admin_email, &walk.admin_password, setup)
        .await
        .context("the bootstrap admin cannot sign in (IAM_BOOTSTRAP_ADMIN_EMAIL / _PASSWORD)")?;
    println!(" 1. the admin signed in ({admin_email})");

    let sku = format!("DEMO-TEE-{}", Uuid::now_v7().simple()).to_uppercase();
    let mut catalog = CatalogServiceClient::new(walk.channel(&services::CATALOG)?);
    let catalog_failed =
        |call: &str, status: tonic::Status| walk.fail(&services::CATALOG, call, &status);
    let product = catalog
        .create_product(request(
            catalog_pb::CreateProductRequest {
                title: "Demo T-shirt".to_owned(),
                brand: "Acme".to_owned(),
                idempotency_key: Uuid::now_v7().to_string(),
                ..Default::default()
            },
            Some(&admin),
            setup,
        )?)
        .await
        .map_err(|status| catalog_failed("CreateProduct", status))?
        .into_inner()
        .product
        .context("CreateProduct returned no product")?;
    let variant = catalog
        .create_variant(request(
            catalog_pb::CreateVariantRequest {
                product_id: product.id.clone(),
                sku: sku.clone(),
                idempotency_key: Uuid::now_v7().to_string(),
                ..Default::default()
            },
            Some(&admin),
            setup,
        )?)
        .await
        .map_err(|status| catalog_failed("CreateVariant", status))?
        .into_inner()
        .variant
        .context("CreateVariant returned no variant")?;
    catalog
        .set_price(request(
            catalog_pb::SetPriceRequest {
                variant_id: variant.id.clone(),
                price: Some(Money {
                    amount_minor: 1999,
                    currency: "EUR".to_owned(),
                }),
                idempotency_key: Uuid::now_v7().to_string(),
                ..Default::default()
            },
            Some(&admin),
            setup,
        )?)
        .await
        .map_err(|status| catalog_failed("SetPrice", status))?;
    catalog
        .publish_product(request(
            catalog_pb::PublishProductRequest {
                product_id: product.id.clone(),
                expected_version: None,
            },
            Some(&admin),
            setup,
        )?)
        .await
        .map_err(|status| catalog_failed("PublishProduct", status))?;
    println!(
        " 2. product {} with variant {sku}, 19.99 EUR, published",
        product.id
    );

    let mut inventory = InventoryServiceClient::new(walk.channel(&services::INVENTORY)?);
    let deadline = Instant::now() + walk.timeout;
    // Inventory opens the SKU's stock from catalog's variant.created event.
    loop {
        let stock = inventory
            .get_stock(request(
                inventory_pb::GetStockRequest { sku: sku.clone() },
                Some(&admin),
                setup,
            )?)
            .await;
        match stock {
            Ok(_) => break,
            Err(status) if status.code() == tonic::Code::NotFound && Instant::now() < deadline => {
                tokio::time::sleep(POLL_INTERVAL).await;
            }
            Err(status) => return Err(walk.fail(&services::INVENTORY, "GetStock", &status)),
        }
    }
    let stock = inventory
        .adjust_stock(request(
            inventory_pb::AdjustStockRequest {
                sku: sku.clone(),
                delta: 10,
                reason: "demo stock".to_owned(),
                idempotency_key: Uuid::now_v7().to_string(),
                expected_version: None,
                ..Default::default()
            },
            Some(&admin),
            setup,
        )?)
        .await
        .map_err(|status| walk.fail(&services::INVENTORY, "AdjustStock", &status))?
        .into_inner()
        .stock_level
        .context("AdjustStock returned no stock level")?;
    println!(
        " 3. inventory opened {sku}'s stock from catalog's event; the admin added 10 units ({} available)",
        stock.available
    );

    let email = format!("demo-{}@example.com", Uuid::now_v7().simple());
    let password = format!("correct horse {}", Uuid::now_v7().simple());
    iam.sign_up(request(
        iam_pb::SignUpRequest {
            email: email.clone(),
            password: password.clone(),
            name: "Demo Shopper".to_owned(),
            ..Default::default()
        },
        None,
        setup,
    )?)
    .await
    .map_err(|status| walk.fail(&services::IAM, "SignUp", &status))?;
    let customer = sign_in(walk, &mut iam, &email, &password, setup).await?;
    println!(" 4. customer {email} signed up and signed in");

    let mut cart = CartServiceClient::new(walk.channel(&services::CART)?);
    cart.add_item(request(
        cart_pb::AddItemRequest {
            sku: sku.clone(),
            quantity: options.quantity,
            idempotency_key: Uuid::now_v7().to_string(),
            ..Default::default()
        },
        Some(&customer),
        setup,
    )?)
    .await
    .map_err(|status| walk.fail(&services::CART, "AddItem", &status))?;
    let mut fulfillment = FulfillmentServiceClient::new(walk.channel(&services::FULFILLMENT)?);
    let shipping_option = fulfillment
        .get_shipping_options(request(
            fulfillment_pb::GetShippingOptionsRequest::default(),
            None,
            setup,
        )?)
        .await
        .map_err(|status| walk.fail(&services::FULFILLMENT, "GetShippingOptions", &status))?
        .into_inner()
        .shipping_options
        .into_iter()
        .next()
        .context("fulfillment offers no shipping option")?;
    let checkout_started = Instant::now();
    let order_id = cart
        .checkout(request(
            cart_pb::CheckoutRequest {
                shipping_option_id: shipping_option.id.clone(),
                payment_method_token: options.card.clone(),
                idempotency_key: Uuid::now_v7().to_string(),
                ..Default::default()
            },
            Some(&customer),
            &walk.correlation,
        )?)
        .await
        .map_err(|status| walk.fail(&services::CART, "Checkout", &status))?
        .into_inner()
        .order_id;
    println!(
        " 5. {} × {sku} in the cart, checkout with {} and shipping {}: order {order_id}",
        options.quantity, options.card, shipping_option.id
    );

    let mut orders = OrderServiceClient::new(walk.channel(&services::ORDERS)?);
    let order = wait_for_order(
        walk,
        &mut orders,
        &customer,
        &order_id,
        &[
            OrderStatus::Confirmed,
            OrderStatus::Rejected,
            OrderStatus::Canceled,
        ],
    )
    .await?;
    println!(
        " 6. the saga ran on its own: order {} after {} ({})",
        status_name(order.status()),
        format::duration(checkout_started.elapsed()),
        history(&order)
    );
    if order.status() != OrderStatus::Confirmed || !options.ship {
        return Ok(order_id);
    }

    let shipment = {
        let deadline = Instant::now() + walk.timeout;
        loop {
            let shipments = fulfillment
                .list_shipments(request(
                    fulfillment_pb::ListShipmentsRequest {
                        order_id: order_id.clone(),
                        ..Default::default()
                    },
                    Some(&admin),
                    &walk.correlation,
                )?)
                .await
                .map_err(|status| walk.fail(&services::FULFILLMENT, "ListShipments", &status))?
                .into_inner()
                .shipments;
            if let Some(shipment) = shipments.into_iter().next() {
                break shipment;
            }
            if Instant::now() >= deadline {
                bail!(
                    "fulfillment opened no shipment for order {order_id} within {:?}",
                    walk.timeout
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    };
    fulfillment
        .mark_shipped(request(
            fulfillment_pb::MarkShippedRequest {
                shipment_id: shipment.id.clone(),
                carrier: "DHL".to_owned(),
                tracking_number: format!("JJD{}", &Uuid::now_v7().simple().to_string()[20..]),
            },
            Some(&admin),
            &walk.correlation,
        )?)
        .await
        .map_err(|status| walk.fail(&services::FULFILLMENT, "MarkShipped", &status))?;
    fulfillment
        .mark_delivered(request(
            fulfillment_pb::MarkDeliveredRequest {
                shipment_id: shipment.id.clone(),
            },
            Some(&admin),
            &walk.correlation,
        )?)
        .await
        .map_err(|status| walk.fail(&services::FULFILLMENT, "MarkDelivered", &status))?;
    let order = wait_for_order(
        walk,
        &mut orders,
        &customer,
        &order_id,
        &[OrderStatus::Delivered],
    )
    .await?;
    let mut payments = PaymentServiceClient::new(walk.channel(&services::PAYMENTS)?);
    let deadline = Instant::now() + walk.timeout;
    loop {
        let listed = payments
            .list_payments(request(
                payments_pb::ListPaymentsRequest {
                    order_id: order_id.clone(),
                    ..Default::default()
                },
                Some(&admin),
                &walk.correlation,
            )?)
            .await
            .map_err(|status| walk.fail(&services::PAYMENTS, "ListPayments", &status))?
            .into_inner()
            .payments;
        if listed
            .iter()
            .any(|payment| payment.status() == PaymentStatus::Captured)
        {
            break;
        }
        if Instant::now() >= deadline {
            bail!(
                "the payment of order {order_id} was not captured within {:?}",
                walk.timeout
            );
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    println!(
        " 7. the admin shipped and delivered shipment {}: order {}, payment CAPTURED ({})",
        shipment.id,
        status_name(order.status()),
        history(&order)
    );
    Ok(order_id)
}

async fn sign_in(
    walk: &Walk,
    iam: &mut IamServiceClient<Channel>,
    email: &str,
    password: &str,
    correlation: &str,
) -> anyhow::Result<String> {
    let response = iam
        .sign_in(request(
            iam_pb::SignInRequest {
                email: email.to_owned(),
                password: password.to_owned(),
            },
            None,
            correlation,
        )?)
        .await
        .map_err(|status| walk.fail(&services::IAM, "SignIn", &status))?
        .into_inner();
    Ok(response
        .tokens
        .context("SignIn returned no tokens")?
        .access_token)
}

/// Polls GetOrder until the order is in one of `statuses`.
async fn wait_for_order(
    walk: &Walk,
    orders: &mut OrderServiceClient<Channel>,
    customer: &str,
    order_id: &str,
    statuses: &[OrderStatus],
) -> anyhow::Result<orders_pb::Order> {
    let deadline = Instant::now() + walk.timeout;
    loop {
        let order = orders
            .get_order(request(
                orders_pb::GetOrderRequest {
                    order_id: order_id.to_owned(),
                },
                Some(customer),
                &walk.correlation,
            )?)
            .await
            .map_err(|status| walk.fail(&services::ORDERS, "GetOrder", &status))?
            .into_inner()
            .order
            .context("GetOrder returned no order")?;
        if statuses.contains(&order.status()) {
            return Ok(order);
        }
        if Instant::now() >= deadline {
            bail!(
                "order {order_id} is still {} after {:?} ({}); `ecomctl saga {order_id}` shows where it stopped",
                status_name(order.status()),
                walk.timeout,
                history(&order)
            );
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// `CONFIRMED` for `OrderStatus::Confirmed`.
fn status_name(status: OrderStatus) -> String {
    status
        .as_str_name()
        .trim_start_matches("ORDER_STATUS_")
        .to_owned()
}

/// `PENDING → RESERVED → PAID → CONFIRMED`.
fn history(order: &orders_pb::Order) -> String {
    order
        .status_history
        .iter()
        .map(|change| {
            let name = status_name(change.status());
            if change.reason.is_empty() {
                name
            } else {
                format!("{name} ({})", change.reason)
            }
        })
        .collect::<Vec<_>>()
        .join(" → ")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::TimeZone as _;

    use super::*;
    use crate::decode::Decoding;

    #[test]
    fn an_event_line_shows_its_offset_and_the_time_since_its_cause() {
        let start = Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap();
        let view = EventView {
            message_id: "e-2".to_owned(),
            event_type: "inventory.stock.reserved.v1".to_owned(),
            occurred_at: Some(start + chrono::Duration::milliseconds(1_045)),
            aggregate: Some(("reservation".to_owned(), "r-1".to_owned())),
            correlation_id: Some("demo-1".to_owned()),
            causation_id: Some("e-1".to_owned()),
            schema_id: None,
            decoding: Decoding::Typed,
            payload: None,
        };
        let mut times = HashMap::new();
        times.insert(
            "e-1".to_owned(),
            (
                start + chrono::Duration::milliseconds(1_000),
                "orders.order_placed.v1".to_owned(),
            ),
        );
        assert_eq!(
            event_line(&view, &start, &times),
            format!(
                "        +1.045s  {:<40}  reservation:r-1  (45ms after orders.order_placed.v1)",
                "inventory.stock.reserved.v1"
            )
        );
    }

    #[test]
    fn statuses_read_without_their_prefix() {
        let order = orders_pb::Order {
            status_history: vec![
                orders_pb::OrderStatusChange {
                    status: OrderStatus::Pending as i32,
                    ..Default::default()
                },
                orders_pb::OrderStatusChange {
                    status: OrderStatus::Canceled as i32,
                    reason: "payment declined".to_owned(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        assert_eq!(history(&order), "PENDING → CANCELED (payment declined)");
        assert_eq!(status_name(OrderStatus::Confirmed), "CONFIRMED");
    }
}
