//! A gRPC client that shops through a [`Stack`] the way a front end would:
//! the bootstrap admin stocks the catalog, customers sign up, fill carts and
//! check out, and the saga is followed through `GetOrder`.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
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
use ecommerce_proto::ecommerce::orders::v1::order_service_client::OrderServiceClient;
use ecommerce_proto::ecommerce::payments::v1 as payments_pb;
use ecommerce_proto::ecommerce::payments::v1::payment_service_client::PaymentServiceClient;
use ecommerce_test_support::with_bearer;
use futures::{StreamExt as _, TryStreamExt as _};
use tonic::transport::Channel;
use tonic::{Code, Status};
use uuid::Uuid;

use crate::stack::{Stack, Svc};

pub use orders_pb::{Order, OrderStatus};

/// The development bootstrap admin every stack's iam-svc creates.
pub const ADMIN_EMAIL: &str = "admin@ecommerce.local";
pub const ADMIN_PASSWORD: &str = "ecommerce-admin-dev-password";
/// The simulated provider's tokens (payments-svc).
pub const CARD_OK: &str = "pm_card_visa";
pub const CARD_DECLINED: &str = "pm_card_declined";
/// The events of one checkout that ends DELIVERED, in causal order (the
/// broker may interleave the branches: the capture follows the shipment).
pub const DELIVERED_SAGA_EVENTS: [&str; 9] = [
    "orders.order_placed.v1",
    "inventory.stock.reserved.v1",
    "payments.payment_authorized.v1",
    "inventory.stock.committed.v1",
    "orders.order_confirmed.v1",
    "fulfillment.shipment.created.v1",
    "fulfillment.shipment.shipped.v1",
    "payments.payment_captured.v1",
    "fulfillment.shipment.delivered.v1",
];
/// Every cart's currency unless `CART_CURRENCY` says otherwise.
pub const CURRENCY: &str = "EUR";

/// A signed-in user.
#[derive(Clone)]
pub struct Session {
    pub user_id: String,
    pub email: String,
    pub access_token: String,
    pub refresh_token: String,
}

/// Hides both tokens.
impl std::fmt::Debug for Session {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Session")
            .field("user_id", &self.user_id)
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// One checkout call's inputs.
#[derive(Clone, Debug)]
pub struct CheckoutArgs {
    pub payment_method_token: String,
    pub idempotency_key: String,
    /// Sent as `x-correlation-id`; every event of the saga carries it.
    pub correlation_id: String,
}

impl Default for CheckoutArgs {
    fn default() -> Self {
        Self {
            payment_method_token: CARD_OK.to_owned(),
            idempotency_key: Uuid::now_v7().to_string(),
            correlation_id: format!("e2e-{}", Uuid::now_v7().simple()),
        }
    }
}

/// Clients of every service plus the admin's session.
#[derive(Clone)]
pub struct Shop {
    iam: IamServiceClient<Channel>,
    catalog: CatalogServiceClient<Channel>,
    inventory: InventoryServiceClient<Channel>,
    orders: OrderServiceClient<Channel>,
    payments: PaymentServiceClient<Channel>,
    cart: CartServiceClient<Channel>,
    fulfillment: FulfillmentServiceClient<Channel>,
    pub admin: Session,
    shipping_option_id: String,
}

impl Shop {
    /// Connects to `stack` and signs in as the bootstrap admin.
    pub async fn open(stack: &Stack) -> anyhow::Result<Self> {
        let iam = IamServiceClient::new(stack.channel(Svc::Iam));
        let admin = admin_session(stack).await?;
        let mut fulfillment = FulfillmentServiceClient::new(stack.channel(Svc::Fulfillment));
        let options = fulfillment
            .get_shipping_options(fulfillment_pb::GetShippingOptionsRequest::default())
            .await?
            .into_inner()
            .shipping_options;
        let shipping_option_id = options
            .first()
            .map(|option| option.id.clone())
            .context("fulfillment has no shipping option")?;
        Ok(Self {
            iam,
            catalog: CatalogServiceClient::new(stack.channel(Svc::Catalog)),
            inventory: InventoryServiceClient::new(stack.channel(Svc::Inventory)),
            orders: OrderServiceClient::new(stack.channel(Svc::Orders)),
            payments: PaymentServiceClient::new(stack.channel(Svc::Payments)),
            cart: CartServiceClient::new(stack.channel(Svc::Cart)),
            fulfillment,
            admin,
            shipping_option_id,
        })
    }

    /// The shipping option checkouts choose (fulfillment's first).
    pub fn shipping_option_id(&self) -> &str {
        &self.shipping_option_id
    }

    /// Signs up a new customer with a unique email and signs them in.
    pub async fn customer(&self) -> anyhow::Result<Session> {
        sign_up(&mut self.iam.clone()).await
    }

    /// `count` customers, signed up `concurrency` at a time.
    pub async fn customers(
        &self,
        count: usize,
        concurrency: usize,
    ) -> anyhow::Result<Vec<Session>> {
        futures::stream::iter(0..count)
            .map(|_| self.customer())
            .buffer_unordered(concurrency.max(1))
            .try_collect()
            .await
    }

    /// A new published product with one variant `sku` priced `price_minor`
    /// EUR, whose stock inventory opened (from catalog's event) and the
    /// admin raised to `on_hand`. Returns the SKU.
    pub async fn sellable_sku(&self, price_minor: i64, on_hand: i32) -> anyhow::Result<String> {
        Ok(self.sellable(price_minor, on_hand).await?.sku)
    }

    /// [`Shop::sellable_sku`], returning the catalog's ids and title too.
    pub async fn sellable(&self, price_minor: i64, on_hand: i32) -> anyhow::Result<SellableSku> {
        let sku = format!("E2E-{}", Uuid::now_v7().simple()).to_uppercase();
        let token = &self.admin.access_token;
        let mut catalog = self.catalog.clone();
        let product = catalog
            .create_product(with_bearer(
                catalog_pb::CreateProductRequest {
                    title: format!("Product {sku}"),
                    description: "End-to-end test product".to_owned(),
                    brand: "E2E".to_owned(),
                    idempotency_key: Uuid::now_v7().to_string(),
                    ..Default::default()
                },
                token,
            ))
            .await
            .context("CreateProduct")?
            .into_inner()
            .product
            .context("CreateProduct returned no product")?;
        let variant = catalog
            .create_variant(with_bearer(
                catalog_pb::CreateVariantRequest {
                    product_id: product.id.clone(),
                    sku: sku.clone(),
                    idempotency_key: Uuid::now_v7().to_string(),
                    ..Default::default()
                },
                token,
            ))
            .await
            .context("CreateVariant")?
            .into_inner()
            .variant
            .context("CreateVariant returned no variant")?;
        catalog
            .set_price(with_bearer(
                catalog_pb::SetPriceRequest {
                    variant_id: variant.id.clone(),
                    price: Some(Money {
                        amount_minor: price_minor,
                        currency: CURRENCY.to_owned(),
                    }),
                    idempotency_key: Uuid::now_v7().to_string(),
                    ..Default::default()
                },
                token,
            ))
            .await
            .context("SetPrice")?;
        catalog
            .publish_product(with_bearer(
                catalog_pb::PublishProductRequest {
                    product_id: product.id.clone(),
                    expected_version: None,
                },
                token,
            ))
            .await
            .context("PublishProduct")?;
        if on_hand > 0 {
            self.adjust_stock(&sku, on_hand).await?;
        }
        Ok(SellableSku {
            sku,
            product_id: product.id,
            variant_id: variant.id,
            title: product.title,
        })
    }

    /// UpdateProduct of the product's title, as the admin.
    pub async fn rename_product(
        &self,
        product_id: &str,
        title: &str,
    ) -> anyhow::Result<catalog_pb::Product> {
        self.catalog
            .clone()
            .update_product(with_bearer(
                catalog_pb::UpdateProductRequest {
                    product: Some(catalog_pb::Product {
                        id: product_id.to_owned(),
                        title: title.to_owned(),
                        ..Default::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["title".to_owned()],
                    }),
                    expected_version: None,
                },
                &self.admin.access_token,
            ))
            .await
            .context("UpdateProduct")?
            .into_inner()
            .product
            .context("UpdateProduct returned no product")
    }

    /// DiscontinueVariant as the admin.
    pub async fn discontinue_variant(
        &self,
        variant_id: &str,
    ) -> anyhow::Result<catalog_pb::Variant> {
        self.catalog
            .clone()
            .discontinue_variant(with_bearer(
                catalog_pb::DiscontinueVariantRequest {
                    variant_id: variant_id.to_owned(),
                    expected_version: None,
                },
                &self.admin.access_token,
            ))
            .await
            .context("DiscontinueVariant")?
            .into_inner()
            .variant
            .context("DiscontinueVariant returned no variant")
    }

    /// AdjustStock by `delta`, waiting (up to 30 s) for inventory to open
    /// the SKU's stock from catalog's `variant.created` event.
    pub async fn adjust_stock(
        &self,
        sku: &str,
        delta: i32,
    ) -> anyhow::Result<inventory_pb::StockLevel> {
        let key = Uuid::now_v7().to_string();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let result = self
                .inventory
                .clone()
                .adjust_stock(with_bearer(
                    inventory_pb::AdjustStockRequest {
                        sku: sku.to_owned(),
                        delta,
                        reason: "e2e restock".to_owned(),
                        idempotency_key: key.clone(),
                        expected_version: None,
                        ..Default::default()
                    },
                    &self.admin.access_token,
                ))
                .await;
            match result {
                Ok(response) => {
                    return response
                        .into_inner()
                        .stock_level
                        .context("AdjustStock returned no stock level");
                }
                Err(status) if status.code() == Code::NotFound && Instant::now() < deadline => {
                    tokio::time::sleep(POLL_INTERVAL).await;
                }
                Err(status) => return Err(status).context(format!("AdjustStock {sku}")),
            }
        }
    }

    /// The SKU's stock level.
    pub async fn stock(&self, sku: &str) -> anyhow::Result<inventory_pb::StockLevel> {
        self.inventory
            .clone()
            .get_stock(with_bearer(
                inventory_pb::GetStockRequest {
                    sku: sku.to_owned(),
                },
                &self.admin.access_token,
            ))
            .await
            .context("GetStock")?
            .into_inner()
            .stock_level
            .context("GetStock returned no stock level")
    }

    /// Adds `quantity` of `sku` to the customer's own cart.
    pub async fn add_item(
        &self,
        customer: &Session,
        sku: &str,
        quantity: i32,
    ) -> Result<cart_pb::Cart, Status> {
        let response = self
            .cart
            .clone()
            .add_item(with_bearer(
                cart_pb::AddItemRequest {
                    sku: sku.to_owned(),
                    quantity,
                    idempotency_key: Uuid::now_v7().to_string(),
                    ..Default::default()
                },
                &customer.access_token,
            ))
            .await?
            .into_inner();
        response
            .cart
            .ok_or_else(|| Status::internal("AddItem returned no cart"))
    }

    /// Checks out the customer's own cart; returns the order id.
    pub async fn checkout(
        &self,
        customer: &Session,
        args: &CheckoutArgs,
    ) -> Result<String, Status> {
        self.checkout_shipping(customer, args, &self.shipping_option_id)
            .await
    }

    /// Adds `quantity` of `sku` and checks out with a good card.
    pub async fn buy(
        &self,
        customer: &Session,
        sku: &str,
        quantity: i32,
    ) -> Result<String, Status> {
        self.add_item(customer, sku, quantity).await?;
        self.checkout(customer, &CheckoutArgs::default()).await
    }

    /// GetOrder as `session`.
    pub async fn order(&self, session: &Session, order_id: &str) -> Result<Order, Status> {
        self.orders
            .clone()
            .get_order(with_bearer(
                orders_pb::GetOrderRequest {
                    order_id: order_id.to_owned(),
                },
                &session.access_token,
            ))
            .await?
            .into_inner()
            .order
            .ok_or_else(|| Status::internal("GetOrder returned no order"))
    }

    /// CancelOrder as `session`.
    pub async fn cancel(
        &self,
        session: &Session,
        order_id: &str,
        reason: &str,
    ) -> Result<Order, Status> {
        self.orders
            .clone()
            .cancel_order(with_bearer(
                orders_pb::CancelOrderRequest {
                    order_id: order_id.to_owned(),
                    reason: reason.to_owned(),
                },
                &session.access_token,
            ))
            .await?
            .into_inner()
            .order
            .ok_or_else(|| Status::internal("CancelOrder returned no order"))
    }

    /// Polls GetOrder (as the admin) until the order's status is one of
    /// `statuses`; fails after `timeout`, naming the status it was stuck in.
    pub async fn wait_for_status(
        &self,
        order_id: &str,
        statuses: &[OrderStatus],
        timeout: Duration,
    ) -> anyhow::Result<Order> {
        poll(timeout, || async {
            let order = self.order(&self.admin, order_id).await?;
            if statuses.contains(&order.status()) {
                return Ok(Ok(order));
            }
            let history: Vec<_> = order
                .status_history
                .iter()
                .map(|change| (change.status(), change.reason.clone()))
                .collect();
            Ok(Err(format!(
                "order {order_id} is {:?}, expected one of {statuses:?}; history {history:?}",
                order.status()
            )))
        })
        .await
    }

    /// The order's payments (admin view).
    pub async fn payments(&self, order_id: &str) -> anyhow::Result<Vec<payments_pb::Payment>> {
        Ok(self
            .payments
            .clone()
            .list_payments(with_bearer(
                payments_pb::ListPaymentsRequest {
                    order_id: order_id.to_owned(),
                    ..Default::default()
                },
                &self.admin.access_token,
            ))
            .await
            .context("ListPayments")?
            .into_inner()
            .payments)
    }

    /// Polls until the order has a payment in `status`.
    pub async fn wait_for_payment(
        &self,
        order_id: &str,
        status: payments_pb::PaymentStatus,
        timeout: Duration,
    ) -> anyhow::Result<payments_pb::Payment> {
        poll(timeout, || async {
            let payments = self.payments(order_id).await?;
            if let Some(payment) = payments.iter().find(|payment| payment.status() == status) {
                return Ok(Ok(payment.clone()));
            }
            let statuses: Vec<_> = payments.iter().map(|payment| payment.status()).collect();
            Ok(Err(format!(
                "order {order_id} has no {status:?} payment: {statuses:?}"
            )))
        })
        .await
    }

    /// The order's shipments (admin view).
    pub async fn shipments(&self, order_id: &str) -> anyhow::Result<Vec<fulfillment_pb::Shipment>> {
        Ok(self
            .fulfillment
            .clone()
            .list_shipments(with_bearer(
                fulfillment_pb::ListShipmentsRequest {
                    order_id: order_id.to_owned(),
                    ..Default::default()
                },
                &self.admin.access_token,
            ))
            .await
            .context("ListShipments")?
            .into_inner()
            .shipments)
    }

    /// Polls until the order has a shipment; returns it.
    pub async fn wait_for_shipment(
        &self,
        order_id: &str,
        timeout: Duration,
    ) -> anyhow::Result<fulfillment_pb::Shipment> {
        poll(timeout, || async {
            Ok(match self.shipments(order_id).await?.into_iter().next() {
                Some(shipment) => Ok(shipment),
                None => Err(format!("order {order_id} has no shipment")),
            })
        })
        .await
    }

    /// MarkShipped as the admin.
    pub async fn mark_shipped(
        &self,
        shipment_id: &str,
    ) -> anyhow::Result<fulfillment_pb::Shipment> {
        self.fulfillment
            .clone()
            .mark_shipped(with_bearer(
                fulfillment_pb::MarkShippedRequest {
                    shipment_id: shipment_id.to_owned(),
                    carrier: "DHL".to_owned(),
                    tracking_number: format!("JJD{}", &Uuid::now_v7().simple().to_string()[..12]),
                },
                &self.admin.access_token,
            ))
            .await
            .context("MarkShipped")?
            .into_inner()
            .shipment
            .context("MarkShipped returned no shipment")
    }

    /// MarkDelivered as the admin.
    pub async fn mark_delivered(
        &self,
        shipment_id: &str,
    ) -> anyhow::Result<fulfillment_pb::Shipment> {
        self.fulfillment
            .clone()
            .mark_delivered(with_bearer(
                fulfillment_pb::MarkDeliveredRequest {
                    shipment_id: shipment_id.to_owned(),
                },
                &self.admin.access_token,
            ))
            .await
            .context("MarkDelivered")?
            .into_inner()
            .shipment
            .context("MarkDelivered returned no shipment")
    }

    /// The raw order client (for requests the helpers do not cover).
    pub fn orders_client(&self) -> OrderServiceClient<Channel> {
        self.orders.clone()
    }

    /// The raw cart client.
    pub fn cart_client(&self) -> CartServiceClient<Channel> {
        self.cart.clone()
    }

    /// The raw IAM client.
    pub fn iam_client(&self) -> IamServiceClient<Channel> {
        self.iam.clone()
    }

    /// Signs in again as `email` with `password`.
    pub async fn sign_in(&self, email: &str, password: &str) -> anyhow::Result<Session> {
        sign_in(&mut self.iam.clone(), email, password).await
    }

    /// Every shipping option, cheapest first (as fulfillment lists them).
    pub async fn shipping_options(&self) -> anyhow::Result<Vec<fulfillment_pb::ShippingOption>> {
        Ok(self
            .fulfillment
            .clone()
            .get_shipping_options(fulfillment_pb::GetShippingOptionsRequest::default())
            .await
            .context("GetShippingOptions")?
            .into_inner()
            .shipping_options)
    }

    /// [`Shop::checkout`] with the shipping option `shipping_option_id`
    /// instead of the shop's default one.
    pub async fn checkout_shipping(
        &self,
        customer: &Session,
        args: &CheckoutArgs,
        shipping_option_id: &str,
    ) -> Result<String, Status> {
        let mut request = with_bearer(
            cart_pb::CheckoutRequest {
                shipping_option_id: shipping_option_id.to_owned(),
                payment_method_token: args.payment_method_token.clone(),
                idempotency_key: args.idempotency_key.clone(),
                ..Default::default()
            },
            &customer.access_token,
        );
        let correlation = args
            .correlation_id
            .parse()
            .map_err(|_| Status::invalid_argument("correlation id is not a header value"))?;
        request
            .metadata_mut()
            .insert("x-correlation-id", correlation);
        Ok(self
            .cart
            .clone()
            .checkout(request)
            .await?
            .into_inner()
            .order_id)
    }
}

/// A SKU put on sale by [`Shop::sellable`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SellableSku {
    pub sku: String,
    pub product_id: String,
    pub variant_id: String,
    /// The product's title when it was created.
    pub title: String,
}

/// The bootstrap admin signed in to `stack`'s iam-svc; unlike
/// [`Shop::open`], needs no other service (a stack of IAM alone will do).
pub async fn admin_session(stack: &Stack) -> anyhow::Result<Session> {
    let mut iam = IamServiceClient::new(stack.channel(Svc::Iam));
    sign_in(&mut iam, ADMIN_EMAIL, ADMIN_PASSWORD)
        .await
        .context("the bootstrap admin cannot sign in")
}

/// A new customer signed up and signed in to `stack`'s iam-svc, as
/// [`Shop::customer`] without the rest of the shop.
pub async fn new_customer(stack: &Stack) -> anyhow::Result<Session> {
    sign_up(&mut IamServiceClient::new(stack.channel(Svc::Iam))).await
}

/// Signs up a customer with a unique email and signs them in.
async fn sign_up(iam: &mut IamServiceClient<Channel>) -> anyhow::Result<Session> {
    let email = format!("shopper-{}@example.com", Uuid::now_v7().simple());
    let password = format!("correct horse {}", Uuid::now_v7().simple());
    iam.sign_up(iam_pb::SignUpRequest {
        email: email.clone(),
        password: password.clone(),
        name: "E2E Shopper".to_owned(),
        ..Default::default()
    })
    .await
    .context("SignUp")?;
    sign_in(iam, &email, &password).await
}

/// How often the `wait_for_*` helpers ask again.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Calls `probe` until it answers `Ok(Ok(value))`; `Ok(Err(state))` means
/// "not yet", and the last `state` explains a timeout.
async fn poll<T, F, Fut>(timeout: Duration, mut probe: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Result<T, String>>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match probe().await? {
            Ok(value) => return Ok(value),
            Err(state) if Instant::now() >= deadline => bail!("{state} after {timeout:?}"),
            Err(_) => tokio::time::sleep(POLL_INTERVAL).await,
        }
    }
}

async fn sign_in(
    iam: &mut IamServiceClient<Channel>,
    email: &str,
    password: &str,
) -> anyhow::Result<Session> {
    let response = iam
        .sign_in(iam_pb::SignInRequest {
            email: email.to_owned(),
            password: password.to_owned(),
        })
        .await
        .with_context(|| format!("SignIn {email}"))?
        .into_inner();
    let tokens = response.tokens.context("SignIn returned no tokens")?;
    let user = response.user.context("SignIn returned no user")?;
    Ok(Session {
        user_id: user.id,
        email: email.to_owned(),
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token,
    })
}
