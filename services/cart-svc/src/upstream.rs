//! The gRPC clients of the services cart calls, implementing the ports of
//! [`crate::app::ports`]: catalog (prices), fulfillment (shipping prices)
//! and orders (PlaceOrder, with the signed checkout snapshot). Messages are
//! converted by [`crate::convert`]; a refusal becomes
//! [`AppError::Upstream`] with what its status means to our caller.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ecommerce_checkout::{SignedSnapshot, SnapshotKeys, check_snapshot, sign};
use ecommerce_platform::grpc::{ChannelTimeouts, ErrorCode, traced_request};
use ecommerce_platform::tls::ClientTlsSettings;
use ecommerce_proto::ecommerce::catalog::v1 as catalog_pb;
use ecommerce_proto::ecommerce::catalog::v1::catalog_service_client::CatalogServiceClient;
use ecommerce_proto::ecommerce::fulfillment::v1 as fulfillment_pb;
use ecommerce_proto::ecommerce::fulfillment::v1::fulfillment_service_client::FulfillmentServiceClient;
use ecommerce_proto::ecommerce::orders::v1::order_service_client::OrderServiceClient;
use tonic::transport::Channel;
use uuid::Uuid;

use crate::app::ports::{OrderPlacer, PriceQuoter, ShippingPricer};
use crate::app::{AppError, PlacedCheckout};
use crate::convert;
use crate::domain::{CheckoutSnapshot, PriceQuote, Sku};

/// How long connecting to a dependency may take: a dependency that does
/// not accept within this is down, and the shopper hears UNAVAILABLE.
pub const UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one call to a dependency may take (its `grpc-timeout` too): a
/// hung catalog, fulfillment or orders must not hold a cart request, and
/// its slot in the server's per-connection limit, for the server's 30 s.
pub const UPSTREAM_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The channel to a dependency at `url`, from the shared builder:
/// plaintext for `http://`, TLS for `https://` per `tls`.
pub fn upstream_channel(url: &str, tls: &ClientTlsSettings) -> anyhow::Result<Channel> {
    let timeouts = ChannelTimeouts {
        connect: UPSTREAM_CONNECT_TIMEOUT,
        request: UPSTREAM_REQUEST_TIMEOUT,
    };
    Ok(ecommerce_platform::grpc::lazy_channel(url, tls, timeouts)?)
}

/// What a dependency's status means to our caller: its own code when it
/// means something to them, INTERNAL when we sent something wrong or the
/// dependency broke.
fn upstream_code(code: tonic::Code) -> ErrorCode {
    match code {
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => {
            ErrorCode::Unavailable
        }
        tonic::Code::Unauthenticated => ErrorCode::Unauthenticated,
        tonic::Code::PermissionDenied => ErrorCode::PermissionDenied,
        tonic::Code::FailedPrecondition => ErrorCode::FailedPrecondition,
        tonic::Code::AlreadyExists => ErrorCode::AlreadyExists,
        tonic::Code::Aborted => ErrorCode::Aborted,
        tonic::Code::ResourceExhausted => ErrorCode::ResourceExhausted,
        tonic::Code::Ok
        | tonic::Code::InvalidArgument
        | tonic::Code::NotFound
        | tonic::Code::OutOfRange
        | tonic::Code::Unimplemented
        | tonic::Code::Internal
        | tonic::Code::DataLoss
        | tonic::Code::Unknown => ErrorCode::Internal,
    }
}

fn upstream(service: &'static str) -> impl Fn(tonic::Status) -> AppError {
    move |status| AppError::Upstream {
        service,
        code: upstream_code(status.code()),
        message: status.message().to_owned(),
    }
}

/// [`PriceQuoter`] over catalog's gRPC API.
#[derive(Clone, Debug)]
pub struct GrpcPriceQuoter {
    client: CatalogServiceClient<Channel>,
}

impl GrpcPriceQuoter {
    /// Connects lazily to `url` (e.g. `CATALOG_GRPC_URL`); TLS for `https://`
    /// per `tls`.
    pub fn new(url: &str, tls: &ClientTlsSettings) -> anyhow::Result<Self> {
        Ok(Self::from_channel(upstream_channel(url, tls)?))
    }

    pub fn from_channel(channel: Channel) -> Self {
        Self {
            client: CatalogServiceClient::new(channel),
        }
    }
}

#[async_trait]
impl PriceQuoter for GrpcPriceQuoter {
    async fn quote(&self, skus: &[Sku], currency: &str) -> Result<Vec<PriceQuote>, AppError> {
        if skus.is_empty() {
            return Ok(Vec::new());
        }
        let response = self
            .client
            .clone()
            .quote_prices(traced_request(catalog_pb::QuotePricesRequest {
                skus: skus.iter().map(|sku| sku.as_str().to_owned()).collect(),
                currency: currency.to_owned(),
            }))
            .await
            .map_err(upstream("catalog"))?;
        Ok(response
            .into_inner()
            .quotes
            .into_iter()
            .map(|quote| convert::quote_from_pb(quote, currency))
            .collect())
    }
}

/// How long checkouts reuse fulfillment's shipping options before asking
/// again. They are seed data (no RPC changes them), so asking on every
/// checkout was a gRPC round trip and a query for nothing; an option id
/// not among the remembered ones is asked for at once.
pub const SHIPPING_OPTIONS_TTL: Duration = Duration::from_secs(60);

/// [`ShippingPricer`] over fulfillment's `GetShippingOptions`, remembered
/// for [`SHIPPING_OPTIONS_TTL`].
#[derive(Clone, Debug)]
pub struct GrpcShippingPricer {
    client: FulfillmentServiceClient<Channel>,
    remembered: Arc<Mutex<Option<RememberedOptions>>>,
}

#[derive(Debug)]
struct RememberedOptions {
    fetched_at: Instant,
    options: Arc<[fulfillment_pb::ShippingOption]>,
}

impl GrpcShippingPricer {
    /// Connects lazily to `url` (e.g. `FULFILLMENT_GRPC_URL`); TLS for
    /// `https://` per `tls`.
    pub fn new(url: &str, tls: &ClientTlsSettings) -> anyhow::Result<Self> {
        Ok(Self {
            client: FulfillmentServiceClient::new(upstream_channel(url, tls)?),
            remembered: Arc::default(),
        })
    }

    /// The remembered options while fresh.
    fn remembered(&self) -> Option<Arc<[fulfillment_pb::ShippingOption]>> {
        let remembered = self
            .remembered
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        remembered
            .as_ref()
            .filter(|remembered| remembered.fetched_at.elapsed() < SHIPPING_OPTIONS_TTL)
            .map(|remembered| Arc::clone(&remembered.options))
    }

    async fn fetch(&self) -> Result<Arc<[fulfillment_pb::ShippingOption]>, AppError> {
        let options: Arc<[fulfillment_pb::ShippingOption]> = self
            .client
            .clone()
            .get_shipping_options(traced_request(
                fulfillment_pb::GetShippingOptionsRequest::default(),
            ))
            .await
            .map_err(upstream("fulfillment"))?
            .into_inner()
            .shipping_options
            .into();
        *self
            .remembered
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(RememberedOptions {
            fetched_at: Instant::now(),
            options: Arc::clone(&options),
        });
        Ok(options)
    }
}

#[async_trait]
impl ShippingPricer for GrpcShippingPricer {
    async fn shipping_price(&self, option_id: Uuid, currency: &str) -> Result<i64, AppError> {
        let wanted = option_id.to_string();
        let find = |options: &[fulfillment_pb::ShippingOption]| {
            options.iter().find(|option| option.id == wanted).cloned()
        };
        let option = match self.remembered().and_then(|options| find(&options)) {
            Some(option) => Some(option),
            None => find(&self.fetch().await?),
        };
        let option = option.ok_or_else(|| {
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

/// `snapshot` signed for PlaceOrder: its proto form, checked as orders
/// will check it (so cart refuses what orders would refuse, naming the
/// snapshot field) and signed with `keys`' signing key.
pub fn sign_snapshot(
    snapshot: &CheckoutSnapshot,
    keys: &SnapshotKeys,
) -> Result<SignedSnapshot, AppError> {
    let snapshot = convert::pb_snapshot(snapshot);
    check_snapshot(&snapshot)?;
    Ok(sign(&snapshot, keys.signing_key()))
}

/// [`OrderPlacer`] over orders' gRPC API; signs snapshots with its keys
/// (orders verifies them with the same `CHECKOUT_SIGNING_KEY`).
#[derive(Debug)]
pub struct GrpcOrderPlacer {
    client: OrderServiceClient<Channel>,
    keys: SnapshotKeys,
}

impl GrpcOrderPlacer {
    /// Connects lazily to `url` (e.g. `ORDERS_GRPC_URL`); TLS for `https://`
    /// per `tls`.
    pub fn new(url: &str, tls: &ClientTlsSettings, keys: SnapshotKeys) -> anyhow::Result<Self> {
        Ok(Self::from_channel(upstream_channel(url, tls)?, keys))
    }

    pub fn from_channel(channel: Channel, keys: SnapshotKeys) -> Self {
        Self {
            client: OrderServiceClient::new(channel),
            keys,
        }
    }
}

#[async_trait]
impl OrderPlacer for GrpcOrderPlacer {
    fn sign(&self, snapshot: &CheckoutSnapshot) -> Result<SignedSnapshot, AppError> {
        sign_snapshot(snapshot, &self.keys)
    }

    async fn place_order(
        &self,
        signed: &SignedSnapshot,
        bearer: &str,
        correlation_id: &str,
    ) -> Result<PlacedCheckout, AppError> {
        let mut request = traced_request(signed.clone().into_place_order_request());
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
        let order = response
            .into_inner()
            .order
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("PlaceOrder returned no order")))?;
        convert::placed_from_pb(&order)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn upstream_channels_come_from_the_shared_builder() {
        let tls = ClientTlsSettings::default();
        upstream_channel("http://127.0.0.1:9", &tls).unwrap();
        upstream_channel("https://catalog-svc:50051", &tls).unwrap();
        let error = upstream_channel("catalog-svc:50051", &tls).unwrap_err();
        assert!(error.to_string().contains("catalog-svc:50051"), "{error}");
    }

    #[test]
    fn dependency_statuses_keep_their_meaning_or_become_internal() {
        let error = upstream("orders")(tonic::Status::unavailable("down"));
        assert!(matches!(
            &error,
            AppError::Upstream {
                service: "orders",
                code: ErrorCode::Unavailable,
                ..
            }
        ));
        assert_eq!(error.to_string(), "orders: down");
        assert_eq!(
            upstream_code(tonic::Code::FailedPrecondition),
            ErrorCode::FailedPrecondition
        );
        assert_eq!(
            upstream_code(tonic::Code::InvalidArgument),
            ErrorCode::Internal
        );
    }
}
