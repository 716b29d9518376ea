//! What cart needs from other services, as traits in the domain's terms
//! (tests use fakes or the real services in-process). The gRPC
//! implementations live in `crate::upstream`.

use async_trait::async_trait;
use ecommerce_checkout::SignedSnapshot;
use uuid::Uuid;

use crate::app::{AppError, PlacedCheckout};
use crate::domain::{CheckoutSnapshot, PriceQuote, Sku};

/// Catalog's `QuotePrices`.
#[async_trait]
pub trait PriceQuoter: Send + Sync + std::fmt::Debug {
    /// One quote per distinct SKU in `currency`.
    async fn quote(&self, skus: &[Sku], currency: &str) -> Result<Vec<PriceQuote>, AppError>;
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
    /// `snapshot` in the form orders verifies, checked as orders will
    /// check it and signed, without I/O: the exact bytes a checkout
    /// attempt stores and every retry of it resends.
    fn sign(&self, snapshot: &CheckoutSnapshot) -> Result<SignedSnapshot, AppError>;

    /// Places the order of `signed` (as [`OrderPlacer::sign`] made it,
    /// sent as is) with the shopper's `bearer` token (orders requires
    /// caller = snapshot user) and the checkout's `correlation_id`.
    async fn place_order(
        &self,
        signed: &SignedSnapshot,
        bearer: &str,
        correlation_id: &str,
    ) -> Result<PlacedCheckout, AppError>;
}
