//! inventory-svc's own settings, beside the runtime's.

use std::time::Duration;

use anyhow::Context as _;

use crate::domain::ReservationTtl;

/// How long reservations last and how the expiry worker runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InventorySettings {
    /// `ORDER_RESERVATION_TTL_SECONDS`, 900 by default.
    pub reservation_ttl: ReservationTtl,
    /// `INVENTORY_EXPIRY_INTERVAL_MS`: pause between expiry sweeps, 1000 by default.
    pub expiry_interval: Duration,
    /// `INVENTORY_EXPIRY_BATCH`: most reservations one sweep expires, 100 by default.
    pub expiry_batch: u32,
}

impl Default for InventorySettings {
    fn default() -> Self {
        Self {
            reservation_ttl: ReservationTtl::DEFAULT,
            expiry_interval: Duration::from_secs(1),
            expiry_batch: 100,
        }
    }
}

impl InventorySettings {
    pub const EXPIRY_INTERVAL_VAR: &'static str = "INVENTORY_EXPIRY_INTERVAL_MS";
    pub const EXPIRY_BATCH_VAR: &'static str = "INVENTORY_EXPIRY_BATCH";

    /// Reads the variables above, each error naming its variable.
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let mut settings = Self::default();
        if let Some(raw) = lookup(ReservationTtl::ENV_VAR) {
            settings.reservation_ttl = ReservationTtl::parse_setting(&raw)
                .map_err(|invalid| anyhow::anyhow!("{}: {invalid}", ReservationTtl::ENV_VAR))?;
        }
        if let Some(raw) = lookup(Self::EXPIRY_INTERVAL_VAR) {
            let millis: u64 = raw.trim().parse().with_context(|| {
                format!(
                    "{} must be a whole number of milliseconds",
                    Self::EXPIRY_INTERVAL_VAR
                )
            })?;
            anyhow::ensure!(millis > 0, "{} must be positive", Self::EXPIRY_INTERVAL_VAR);
            settings.expiry_interval = Duration::from_millis(millis);
        }
        if let Some(raw) = lookup(Self::EXPIRY_BATCH_VAR) {
            let batch: u32 = raw
                .trim()
                .parse()
                .with_context(|| format!("{} must be a whole number", Self::EXPIRY_BATCH_VAR))?;
            anyhow::ensure!(batch > 0, "{} must be positive", Self::EXPIRY_BATCH_VAR);
            settings.expiry_batch = batch;
        }
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn defaults_and_overrides_and_errors_naming_the_variable() {
        let defaults = InventorySettings::from_lookup(|_| None).unwrap();
        assert_eq!(defaults, InventorySettings::default());
        assert_eq!(defaults.reservation_ttl.as_duration().num_seconds(), 900);

        let custom = InventorySettings::from_lookup(|name| match name {
            "ORDER_RESERVATION_TTL_SECONDS" => Some("5".to_owned()),
            "INVENTORY_EXPIRY_INTERVAL_MS" => Some("250".to_owned()),
            "INVENTORY_EXPIRY_BATCH" => Some("7".to_owned()),
            _ => None,
        })
        .unwrap();
        assert_eq!(custom.reservation_ttl.as_duration().num_seconds(), 5);
        assert_eq!(custom.expiry_interval, Duration::from_millis(250));
        assert_eq!(custom.expiry_batch, 7);

        let error = InventorySettings::from_lookup(|name| {
            (name == "INVENTORY_EXPIRY_BATCH").then(|| "lots".to_owned())
        })
        .unwrap_err();
        assert!(format!("{error:#}").contains("INVENTORY_EXPIRY_BATCH"));
        let error = InventorySettings::from_lookup(|name| {
            (name == "ORDER_RESERVATION_TTL_SECONDS").then(|| "0".to_owned())
        })
        .unwrap_err();
        assert!(format!("{error:#}").contains("ORDER_RESERVATION_TTL_SECONDS"));
    }
}
