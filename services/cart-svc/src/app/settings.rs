//! cart-svc's own settings, beside the runtime's.

use anyhow::Context as _;
use ecommerce_kernel::Currency;

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
}

impl Default for CartSettings {
    fn default() -> Self {
        Self {
            currency: "EUR".to_owned(),
            catalog_url: "http://127.0.0.1:50051".to_owned(),
            orders_url: "http://127.0.0.1:50054".to_owned(),
            fulfillment_url: "http://127.0.0.1:50057".to_owned(),
        }
    }
}

impl CartSettings {
    pub const CURRENCY_VAR: &'static str = "CART_CURRENCY";
    pub const CATALOG_URL_VAR: &'static str = "CATALOG_GRPC_URL";
    pub const ORDERS_URL_VAR: &'static str = "ORDERS_GRPC_URL";
    pub const FULFILLMENT_URL_VAR: &'static str = "FULFILLMENT_GRPC_URL";

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
        Ok(settings)
    }
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
}
