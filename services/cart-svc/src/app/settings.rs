//! cart-svc's own settings, beside the runtime's.

use std::time::Duration;

use anyhow::Context as _;
use chrono::TimeDelta;
use ecommerce_kernel::Currency;

use crate::domain::AnonymousCartPolicy;

/// Where the dependencies are and what currency carts hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CartSettings {
    /// `CART_CURRENCY`: the currency of every cart, `EUR` by default.
    pub currency: String,
    /// `CATALOG_GRPC_URL`, `http://127.0.0.1:50051` by default.
    pub catalog_url: String,
    /// `ORDERS_GRPC_URL`, `http://127.0.0.1:50054` by default.
    pub orders_url: String,
    /// `FULFILLMENT_GRPC_URL`, `http://127.0.0.1:50057` by default.
    pub fulfillment_url: String,
    /// `CART_ANONYMOUS_CREATES_PER_MINUTE` (30 by default, at least 1) and
    /// `CART_ANONYMOUS_TTL_HOURS` (72 by default, 1 to 87600).
    pub anonymous: AnonymousCartPolicy,
    /// `CART_ANONYMOUS_CLEANUP_INTERVAL_MS`: pause between sweeps of the
    /// anonymous-cart cleanup, 60000 by default.
    pub anonymous_cleanup_interval: Duration,
    /// `CART_ANONYMOUS_CLEANUP_BATCH`: most carts one cleanup transaction
    /// deletes, 500 by default (1 to 10000).
    pub anonymous_cleanup_batch: u64,
}

impl Default for CartSettings {
    fn default() -> Self {
        Self {
            currency: "EUR".to_owned(),
            catalog_url: "http://127.0.0.1:50051".to_owned(),
            orders_url: "http://127.0.0.1:50054".to_owned(),
            fulfillment_url: "http://127.0.0.1:50057".to_owned(),
            anonymous: AnonymousCartPolicy::default(),
            anonymous_cleanup_interval: Duration::from_secs(60),
            anonymous_cleanup_batch: 500,
        }
    }
}

impl CartSettings {
    pub const CURRENCY_VAR: &'static str = "CART_CURRENCY";
    pub const CATALOG_URL_VAR: &'static str = "CATALOG_GRPC_URL";
    pub const ORDERS_URL_VAR: &'static str = "ORDERS_GRPC_URL";
    pub const FULFILLMENT_URL_VAR: &'static str = "FULFILLMENT_GRPC_URL";
    pub const ANONYMOUS_CREATES_VAR: &'static str = "CART_ANONYMOUS_CREATES_PER_MINUTE";
    pub const ANONYMOUS_TTL_VAR: &'static str = "CART_ANONYMOUS_TTL_HOURS";
    pub const ANONYMOUS_CLEANUP_INTERVAL_VAR: &'static str = "CART_ANONYMOUS_CLEANUP_INTERVAL_MS";
    pub const ANONYMOUS_CLEANUP_BATCH_VAR: &'static str = "CART_ANONYMOUS_CLEANUP_BATCH";

    /// Reads the variables above, each error naming its variable.
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let mut settings = Self::default();
        if let Some(raw) = lookup(Self::CURRENCY_VAR) {
            let currency = Currency::parse(raw.trim())
                .map_err(|invalid| anyhow::anyhow!("{}: {invalid}", Self::CURRENCY_VAR))?;
            settings.currency = currency.code().to_owned();
        }
        for (var, slot) in [
            (Self::CATALOG_URL_VAR, &mut settings.catalog_url),
            (Self::ORDERS_URL_VAR, &mut settings.orders_url),
            (Self::FULFILLMENT_URL_VAR, &mut settings.fulfillment_url),
        ] {
            if let Some(raw) = lookup(var) {
                let raw = raw.trim().to_owned();
                tonic::transport::Endpoint::from_shared(raw.clone())
                    .with_context(|| format!("{var} is not a URL: {raw:?}"))?;
                *slot = raw;
            }
        }
        if let Some(raw) = lookup(Self::ANONYMOUS_CREATES_VAR) {
            let creates = whole_number(Self::ANONYMOUS_CREATES_VAR, &raw, 1, u64::from(u32::MAX))?;
            settings.anonymous.creates_per_minute = u32::try_from(creates)
                .with_context(|| format!("{} is too large", Self::ANONYMOUS_CREATES_VAR))?;
        }
        if let Some(raw) = lookup(Self::ANONYMOUS_TTL_VAR) {
            // Ten years: a bound that keeps the arithmetic on timestamps safe.
            let hours = whole_number(Self::ANONYMOUS_TTL_VAR, &raw, 1, 87_600)?;
            let hours = i64::try_from(hours)
                .with_context(|| format!("{} is too large", Self::ANONYMOUS_TTL_VAR))?;
            settings.anonymous.ttl = TimeDelta::hours(hours);
        }
        if let Some(raw) = lookup(Self::ANONYMOUS_CLEANUP_INTERVAL_VAR) {
            let millis = whole_number(Self::ANONYMOUS_CLEANUP_INTERVAL_VAR, &raw, 1, 86_400_000)?;
            settings.anonymous_cleanup_interval = Duration::from_millis(millis);
        }
        if let Some(raw) = lookup(Self::ANONYMOUS_CLEANUP_BATCH_VAR) {
            settings.anonymous_cleanup_batch =
                whole_number(Self::ANONYMOUS_CLEANUP_BATCH_VAR, &raw, 1, 10_000)?;
        }
        Ok(settings)
    }
}

/// `raw` as a whole number in `min..=max`, or an error naming `var`.
fn whole_number(var: &str, raw: &str, min: u64, max: u64) -> anyhow::Result<u64> {
    let value: u64 = raw
        .trim()
        .parse()
        .with_context(|| format!("{var} must be a whole number, got {raw:?}"))?;
    anyhow::ensure!(
        (min..=max).contains(&value),
        "{var} must be between {min} and {max}, got {value}"
    );
    Ok(value)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn defaults_overrides_and_errors_naming_the_variable() {
        assert_eq!(
            CartSettings::from_lookup(|_| None).unwrap(),
            CartSettings::default()
        );
        let custom = CartSettings::from_lookup(|name| match name {
            "CART_CURRENCY" => Some("USD".to_owned()),
            "ORDERS_GRPC_URL" => Some("http://orders:50054".to_owned()),
            _ => None,
        })
        .unwrap();
        assert_eq!(custom.currency, "USD");
        assert_eq!(custom.orders_url, "http://orders:50054");
        let error =
            CartSettings::from_lookup(|name| (name == "CART_CURRENCY").then(|| "euros".to_owned()))
                .unwrap_err();
        assert!(format!("{error:#}").contains("CART_CURRENCY"));
    }

    #[test]
    fn anonymous_cart_limits_default_override_and_name_the_variable() {
        let defaults = CartSettings::default();
        assert_eq!(defaults.anonymous.creates_per_minute, 30);
        assert_eq!(defaults.anonymous.ttl, TimeDelta::hours(72));
        let custom = CartSettings::from_lookup(|name| match name {
            "CART_ANONYMOUS_CREATES_PER_MINUTE" => Some("5".to_owned()),
            "CART_ANONYMOUS_TTL_HOURS" => Some(" 24 ".to_owned()),
            "CART_ANONYMOUS_CLEANUP_INTERVAL_MS" => Some("250".to_owned()),
            "CART_ANONYMOUS_CLEANUP_BATCH" => Some("7".to_owned()),
            _ => None,
        })
        .unwrap();
        assert_eq!(custom.anonymous.creates_per_minute, 5);
        assert_eq!(custom.anonymous.ttl, TimeDelta::hours(24));
        assert_eq!(
            custom.anonymous_cleanup_interval,
            Duration::from_millis(250)
        );
        assert_eq!(custom.anonymous_cleanup_batch, 7);
        for (var, raw) in [
            ("CART_ANONYMOUS_CREATES_PER_MINUTE", "0"),
            ("CART_ANONYMOUS_CREATES_PER_MINUTE", "many"),
            ("CART_ANONYMOUS_TTL_HOURS", "0"),
            ("CART_ANONYMOUS_TTL_HOURS", "-1"),
            ("CART_ANONYMOUS_TTL_HOURS", "1000000"),
            ("CART_ANONYMOUS_CLEANUP_INTERVAL_MS", "0"),
            ("CART_ANONYMOUS_CLEANUP_BATCH", "100000"),
        ] {
            let error = CartSettings::from_lookup(|name| (name == var).then(|| raw.to_owned()))
                .unwrap_err();
            assert!(format!("{error:#}").contains(var), "{var}={raw}: {error:#}");
        }
    }
}
