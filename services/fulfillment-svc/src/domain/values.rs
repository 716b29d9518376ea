//! Validated values: a value of one of these types has passed its rules, so
//! the rest of the service never re-checks it.

use std::fmt;

pub use ecommerce_kernel::{PageSize, Quantity, SKU_MAX_CHARS, Sku};

use crate::domain::error::InvalidValue;

pub const CARRIER_MAX_CHARS: usize = 100;
pub const TRACKING_NUMBER_MAX_CHARS: usize = 100;

ecommerce_kernel::uuid_id!(
    /// Id of an order (minted by orders-svc; any UUID version is accepted).
    OrderId
);
ecommerce_kernel::uuid_id!(
    /// Id of the inventory reservation whose commit opened the shipment.
    ReservationId
);
ecommerce_kernel::uuid_id!(
    /// Id of a shipment (UUID v7).
    ShipmentId
);
ecommerce_kernel::uuid_id!(
    /// Id of a shipping option (stable, seeded by the migration).
    ShippingOptionId
);

/// Trimmed text of 1 to `max` characters without control characters.
fn label(raw: &str, max: usize) -> Result<String, InvalidValue> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(InvalidValue::new("must not be empty"));
    }
    let chars = trimmed.chars().count();
    if chars > max {
        return Err(InvalidValue::new(format!(
            "must be at most {max} characters, got {chars}"
        )));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(InvalidValue::new("must not contain control characters"));
    }
    Ok(trimmed.to_owned())
}

/// A carrier's name, e.g. "DHL": trimmed, 1 to 100 characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Carrier(String);

impl Carrier {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        label(raw, CARRIER_MAX_CHARS).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn from_stored(value: String) -> Self {
        Self(value)
    }
}

impl fmt::Display for Carrier {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// A carrier's tracking number: trimmed, 1 to 100 characters, no
/// whitespace inside (carriers print them with spaces, but look them up
/// without).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TrackingNumber(String);

impl TrackingNumber {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let value = label(raw, TRACKING_NUMBER_MAX_CHARS)?;
        if value.chars().any(char::is_whitespace) {
            return Err(InvalidValue::new(format!(
                "{value:?} must not contain whitespace"
            )));
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn from_stored(value: String) -> Self {
        Self(value)
    }
}

impl fmt::Display for TrackingNumber {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// An ISO 3166-1 alpha-2 country code, upper case ("de" is read as "DE").
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CountryCode(String);

impl CountryCode {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let code = raw.trim().to_ascii_uppercase();
        if code.len() != 2 || !code.bytes().all(|byte| byte.is_ascii_uppercase()) {
            return Err(InvalidValue::new(format!(
                "{raw:?} is not an ISO 3166-1 alpha-2 country code"
            )));
        }
        Ok(Self(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn skus_refuse_only_what_cannot_be_a_key() {
        assert_eq!(Sku::parse("SHOE-42").unwrap().as_str(), "SHOE-42");
        assert!(Sku::parse("").is_err());
        assert!(Sku::parse("A B").is_err());
        assert!(Sku::parse("A\u{7}").is_err());
        assert!(Sku::parse(&"x".repeat(64)).is_ok());
        assert!(Sku::parse(&"x".repeat(65)).is_err());
    }

    #[test]
    fn quantities_are_positive_and_sums_checked() {
        assert!(Quantity::new(0).is_err());
        assert!(Quantity::new(-1).is_err());
        let one = Quantity::new(1).unwrap();
        assert_eq!(one.checked_add(one).unwrap().get(), 2);
        assert!(Quantity::new(i32::MAX).unwrap().checked_add(one).is_none());
    }

    #[test]
    fn ids_are_non_nil_uuids() {
        let id = ShipmentId::generate();
        assert_eq!(ShipmentId::parse(&id.to_string()).unwrap(), id);
        assert!(ShipmentId::parse("").is_err());
        assert!(ShipmentId::parse("nope").is_err());
        assert!(ShipmentId::parse(&uuid::Uuid::nil().to_string()).is_err());
        assert_eq!(
            OrderId::from_uuid(id.as_uuid()).as_uuid(),
            ShipmentId::from_uuid(id.as_uuid()).as_uuid()
        );
    }

    #[test]
    fn carriers_and_tracking_numbers_are_trimmed_and_bounded() {
        assert_eq!(
            Carrier::parse("  DHL Express ").unwrap().as_str(),
            "DHL Express"
        );
        assert!(Carrier::parse("   ").is_err());
        assert!(Carrier::parse("DH\nL").is_err());
        assert!(Carrier::parse(&"c".repeat(100)).is_ok());
        assert!(Carrier::parse(&"c".repeat(101)).is_err());
        assert_eq!(
            TrackingNumber::parse(" JJD000390007 ").unwrap().as_str(),
            "JJD000390007"
        );
        assert!(TrackingNumber::parse("").is_err());
        assert!(TrackingNumber::parse("JJD 0003").is_err());
        assert!(TrackingNumber::parse(&"1".repeat(101)).is_err());
    }

    #[test]
    fn country_codes_are_two_letters() {
        assert_eq!(CountryCode::parse("de").unwrap().as_str(), "DE");
        assert_eq!(CountryCode::parse(" AT ").unwrap().as_str(), "AT");
        for bad in ["", "D", "DEU", "D1", "ÄÖ"] {
            assert!(CountryCode::parse(bad).is_err(), "{bad}");
        }
    }
}
