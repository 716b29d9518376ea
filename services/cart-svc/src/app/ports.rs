//! What cart needs from other services, as traits (tests use fakes or the
//! real services in-process), and their gRPC implementations.

use async_trait::async_trait;
use ecommerce_proto::ecommerce::catalog::v1 as catalog_pb;
use ecommerce_proto::ecommerce::catalog::v1::catalog_service_client::CatalogServiceClient;
use ecommerce_proto::ecommerce::fulfillment::v1 as fulfillment_pb;
use ecommerce_proto::ecommerce::fulfillment::v1::fulfillment_service_client::FulfillmentServiceClient;
use ecommerce_proto::ecommerce::orders::v1 as orders_pb;
use ecommerce_proto::ecommerce::orders::v1::order_service_client::OrderServiceClient;
use tonic::transport::{Channel, Endpoint};
use uuid::Uuid;

use crate::app::AppError;
use crate::domain::{PriceQuote, QuoteStatus};

/// Catalog's `QuotePrices`.
#[async_trait]
pub trait PriceQuoter: Send + Sync + std::fmt::Debug {
    /// One quote per distinct SKU in `currency`.
    async fn quote(&self, skus: &[String], currency: &str) -> Result<Vec<PriceQuote>, AppError>;
}

/// The flat price of a shipping option.
#[async_trait]
pub trait ShippingPricer: Send + Sync + std::fmt::Debug {
    /// The option's price in minor units of `currency`; FAILED_PRECONDITION
    /// for an unknown option or one priced in another currency.
    async fn shipping_price(&self, option_id: Uuid, currency: &str) -> Result<i64, AppError>;
}

/// Orders' `PlaceOrder`, on the shopper's behalf.
#[async_trait]
pub trait OrderPlacer: Send + Sync + std::fmt::Debug {
    /// Places the order with the shopper's `bearer` token (orders requires
    /// caller = snapshot user) and the checkout's `correlation_id`.
    async fn place_order(
        &self,
        request: orders_pb::PlaceOrderRequest,
        bearer: &str,
        correlation_id: &str,
    ) -> Result<orders_pb::Order, AppError>;
}

fn lazy_channel(url: &str) -> anyhow::Result<Channel> {
    Ok(Endpoint::from_shared(url.to_owned())?.connect_lazy())
}

fn upstream(service: &'static str) -> impl Fn(tonic::Status) -> AppError {
    move |status| AppError::Upstream { service, status }
}

/// [`PriceQuoter`] over catalog's gRPC API.
#[derive(Clone, Debug)]
pub struct GrpcPriceQuoter {
    client: CatalogServiceClient<Channel>,
}

impl GrpcPriceQuoter {
    /// Connects lazily to `url` (e.g. `CATALOG_GRPC_URL`).
    pub fn new(url: &str) -> anyhow::Result<Self> {
        Ok(Self::from_channel(lazy_channel(url)?))
    }

    pub fn from_channel(channel: Channel) -> Self {
        Self {
            client: CatalogServiceClient::new(channel),
        }
    }
}

/// A catalog quote as the domain's.
pub fn quote_from_pb(quote: catalog_pb::PriceQuote, currency: &str) -> PriceQuote {
    let status = match catalog_pb::QuoteStatus::try_from(quote.status) {
        Ok(catalog_pb::QuoteStatus::Available) => QuoteStatus::Available,
        Ok(catalog_pb::QuoteStatus::NotPublished) => QuoteStatus::NotPublished,
        Ok(catalog_pb::QuoteStatus::Discontinued) => QuoteStatus::Discontinued,
        Ok(catalog_pb::QuoteStatus::NotPriced) => QuoteStatus::NotPriced,
        Ok(catalog_pb::QuoteStatus::NotFound | catalog_pb::QuoteStatus::Unspecified) | Err(_) => {
            QuoteStatus::NotFound
        }
    };
    let unit_price_minor = quote
        .unit_price
        .filter(|price| price.currency == currency && price.amount_minor >= 0)
        .map(|price| price.amount_minor);
    PriceQuote {
        sku: quote.sku,
        status,
        variant_id: Uuid::parse_str(&quote.variant_id).ok(),
        product_id: Uuid::parse_str(&quote.product_id).ok(),
        title: quote.title,
        unit_price_minor,
    }
}

#[async_trait]
impl PriceQuoter for GrpcPriceQuoter {
    async fn quote(&self, skus: &[String], currency: &str) -> Result<Vec<PriceQuote>, AppError> {
        if skus.is_empty() {
            return Ok(Vec::new());
        }
        let response = self
            .client
            .clone()
            .quote_prices(catalog_pb::QuotePricesRequest {
                skus: skus.to_vec(),
                currency: currency.to_owned(),
            })
            .await
            .map_err(upstream("catalog"))?;
        Ok(response
            .into_inner()
            .quotes
            .into_iter()
            .map(|quote| quote_from_pb(quote, currency))
            .collect())
    }
}

/// [`ShippingPricer`] over fulfillment's `GetShippingOptions`.
#[derive(Clone, Debug)]
pub struct GrpcShippingPricer {
    client: FulfillmentServiceClient<Channel>,
}

impl GrpcShippingPricer {
    /// Connects lazily to `url` (e.g. `FULFILLMENT_GRPC_URL`).
    pub fn new(url: &str) -> anyhow::Result<Self> {
        Ok(Self {
            client: FulfillmentServiceClient::new(lazy_channel(url)?),
        })
    }
}

#[async_trait]
impl ShippingPricer for GrpcShippingPricer {
    async fn shipping_price(&self, option_id: Uuid, currency: &str) -> Result<i64, AppError> {
        let options = self
            .client
            .clone()
            .get_shipping_options(fulfillment_pb::GetShippingOptionsRequest::default())
            .await
            .map_err(upstream("fulfillment"))?
            .into_inner()
            .shipping_options;
        let option = options
            .into_iter()
            .find(|option| option.id == option_id.to_string())
            .ok_or_else(|| {
                AppError::FailedPrecondition(format!("no shipping option {option_id}"))
            })?;
        match option.price {
            Some(price) if price.currency == currency && price.amount_minor >= 0 => {
                Ok(price.amount_minor)
            }
            _ => Err(AppError::FailedPrecondition(format!(
                "shipping option {option_id} is not priced in {currency}"
            ))),
        }
    }
}

/// [`OrderPlacer`] over orders' gRPC API.
#[derive(Clone, Debug)]
pub struct GrpcOrderPlacer {
    client: OrderServiceClient<Channel>,
}

impl GrpcOrderPlacer {
    /// Connects lazily to `url` (e.g. `ORDERS_GRPC_URL`).
    pub fn new(url: &str) -> anyhow::Result<Self> {
        Ok(Self::from_channel(lazy_channel(url)?))
    }

    pub fn from_channel(channel: Channel) -> Self {
        Self {
            client: OrderServiceClient::new(channel),
        }
    }
}

#[async_trait]
impl OrderPlacer for GrpcOrderPlacer {
    async fn place_order(
        &self,
        request: orders_pb::PlaceOrderRequest,
        bearer: &str,
        correlation_id: &str,
    ) -> Result<orders_pb::Order, AppError> {
        let mut request = tonic::Request::new(request);
        let authorization = format!("Bearer {bearer}")
            .parse()
            .map_err(|_| AppError::Unauthenticated("the access token is malformed".to_owned()))?;
        request
            .metadata_mut()
            .insert("authorization", authorization);
        if let Ok(value) = correlation_id.parse() {
            request.metadata_mut().insert("x-correlation-id", value);
        }
        let response = self
            .client
            .clone()
            .place_order(request)
            .await
            .map_err(upstream("orders"))?;
        response
            .into_inner()
            .order
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("PlaceOrder returned no order")))
    }
}
