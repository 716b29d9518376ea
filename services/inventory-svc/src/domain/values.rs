//! Validated values: a value of one of these types has passed its rules, so
//! the rest of the service never re-checks it.
//!
//! Quantities are `i32` because the proto fields and the `integer` columns
//! are; every sum is checked, so a huge order is refused rather than
//! wrapped.

use std::fmt;

use chrono::Duration;

pub use ecommerce_kernel::{Quantity, SKU_MAX_CHARS, Sku};

use crate::domain::error::InvalidValue;

pub const REASON_MAX_CHARS: usize = 500;

ecommerce_kernel::uuid_id!(
    /// Id of an order (minted by orders-svc; any UUID version is accepted,
    /// since inventory does not mint it).
    OrderId
);
ecommerce_kernel::uuid_id!(
    /// Id of a reservation.
    ReservationId
);
ecommerce_kernel::uuid_id!(
    /// Id of a recorded stock adjustment.
    AdjustmentId
);

/// Why stock was adjusted or a reservation released by an operator: 1 to
/// 500 characters, trimmed, no control characters (they break logs and
/// the audit trail's display).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reason(String);

impl Reason {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(InvalidValue::new("must not be empty"));
        }
        let chars = trimmed.chars().count();
        if chars > REASON_MAX_CHARS {
            return Err(InvalidValue::new(format!(
                "must be at most {REASON_MAX_CHARS} characters, got {chars}"
            )));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(InvalidValue::new("must not contain control characters"));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn from_stored(value: String) -> Self {
        Self(value)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// How long a reservation holds its units before they return to available
/// stock: whole seconds, 1 s to 24 h.
///
/// The upper bound is a guard against a typo (`9000000`) silently taking
/// stock off sale for months; a checkout that needs longer than a day is
/// not a checkout. One second is allowed so the saga tests can watch a
/// reservation expire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReservationTtl(u32);

impl ReservationTtl {
    /// The setting that overrides the default.
    pub const ENV_VAR: &'static str = "ORDER_RESERVATION_TTL_SECONDS";
    pub const DEFAULT: Self = Self(900);
    pub const MIN_SECONDS: u32 = 1;
    pub const MAX_SECONDS: u32 = 86_400;

    pub fn from_seconds(seconds: i64) -> Result<Self, InvalidValue> {
        let in_range = u32::try_from(seconds)
            .ok()
            .filter(|seconds| (Self::MIN_SECONDS..=Self::MAX_SECONDS).contains(seconds));
        in_range.map(Self).ok_or_else(|| {
            InvalidValue::new(format!(
                "must be {} to {} seconds, got {seconds}",
                Self::MIN_SECONDS,
                Self::MAX_SECONDS
            ))
        })
    }

    /// The value of [`Self::ENV_VAR`]: a whole number of seconds.
    pub fn parse_setting(raw: &str) -> Result<Self, InvalidValue> {
        let seconds = raw
            .trim()
            .parse::<i64>()
            .map_err(|_| InvalidValue::new(format!("{raw:?} is not a whole number of seconds")))?;
        Self::from_seconds(seconds)
    }

    pub const fn seconds(self) -> u32 {
        self.0
    }

    pub fn as_duration(self) -> Duration {
        Duration::seconds(i64::from(self.0))
    }
}

impl Default for ReservationTtl {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn skus_are_keys_not_formats() {
        assert_eq!(Sku::parse("SHOE-42").unwrap().as_str(), "SHOE-42");
        assert!(Sku::parse("shoe.42_b").is_ok());
        assert!(Sku::parse(&"A".repeat(SKU_MAX_CHARS)).is_ok());
        for bad in ["", " ", "A B", "A\tB", "A\u{0}", "\nA"] {
            assert!(Sku::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Sku::parse(&"A".repeat(SKU_MAX_CHARS + 1)).is_err());
    }

    #[test]
    fn skus_sort_by_bytes() {
        let mut skus = ["b", "B", "a-1", "A", "a"].map(|raw| Sku::parse(raw).unwrap());
        skus.sort();
        let sorted: Vec<&str> = skus.iter().map(Sku::as_str).collect();
        assert_eq!(sorted, ["A", "B", "a", "a-1", "b"]);
    }

    #[test]
    fn quantities_are_positive_and_sums_checked() {
        assert_eq!(Quantity::new(1).unwrap().get(), 1);
        assert!(Quantity::new(0).is_err());
        assert!(Quantity::new(-1).is_err());
        let max = Quantity::new(i32::MAX).unwrap();
        assert_eq!(max.checked_add(Quantity::new(1).unwrap()), None);
        assert_eq!(
            Quantity::new(2)
                .unwrap()
                .checked_add(Quantity::new(3).unwrap()),
            Some(Quantity::new(5).unwrap())
        );
    }

    #[test]
    fn ids_are_uuids_and_generated_as_v7() {
        assert_eq!(OrderId::generate().as_uuid().get_version_num(), 7);
        assert_eq!(ReservationId::generate().as_uuid().get_version_num(), 7);
        assert_eq!(AdjustmentId::generate().as_uuid().get_version_num(), 7);
        let raw = "0190a0e4-7b7c-7cc3-8c5e-0123456789ab";
        assert_eq!(OrderId::parse(raw).unwrap().to_string(), raw);
        assert!(OrderId::parse("").is_err());
        assert!(OrderId::parse("not-a-uuid").is_err());
        assert!(OrderId::parse("00000000-0000-0000-0000-000000000000").is_err());
    }

    #[test]
    fn reasons_are_trimmed_and_bounded() {
        assert_eq!(
            Reason::parse("  cycle count ").unwrap().as_str(),
            "cycle count"
        );
        assert!(Reason::parse("   ").is_err());
        assert!(Reason::parse("a\nb").is_err());
        assert!(Reason::parse(&"x".repeat(REASON_MAX_CHARS)).is_ok());
        assert!(Reason::parse(&"x".repeat(REASON_MAX_CHARS + 1)).is_err());
    }

    #[test]
    fn ttl_defaults_to_fifteen_minutes_and_is_bounded() {
        assert_eq!(ReservationTtl::default().seconds(), 900);
        assert_eq!(
            ReservationTtl::default().as_duration(),
            Duration::minutes(15)
        );
        assert_eq!(ReservationTtl::ENV_VAR, "ORDER_RESERVATION_TTL_SECONDS");
        assert_eq!(ReservationTtl::parse_setting(" 2 ").unwrap().seconds(), 2);
        assert_eq!(
            ReservationTtl::from_seconds(86_400).unwrap().seconds(),
            86_400
        );
        for bad in [0, -1, 86_401, i64::MAX, i64::MIN] {
            assert!(ReservationTtl::from_seconds(bad).is_err(), "{bad}");
        }
        for bad in ["", "15m", "1.5", "-3"] {
            assert!(ReservationTtl::parse_setting(bad).is_err(), "{bad}");
        }
    }
}
