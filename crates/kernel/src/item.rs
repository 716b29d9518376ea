//! The items the saga moves: a SKU and a number of its units.

use std::fmt;

use crate::InvalidValue;

/// The longest SKU catalog issues.
pub const SKU_MAX_CHARS: usize = 64;

/// A stock keeping unit, as catalog announced it.
///
/// Lenient on purpose: catalog owns the SKU format and validated it when
/// the variant was created. Inventory and fulfillment only refuse what cannot be a key
/// (empty, longer than catalog's 64 characters, whitespace or control
/// characters), so a change of catalog's rules never makes inventory
/// dead-letter catalog events.
///
/// `Ord` is byte order of the UTF-8 text, which is the order row locks are
/// taken in (inventory's `ReservationLines::lock_order`). Postgres
/// sorts the same way only under `COLLATE "C"`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sku(String);

impl Sku {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        if raw.is_empty() {
            return Err(InvalidValue::new("must not be empty"));
        }
        let chars = raw.chars().count();
        if chars > SKU_MAX_CHARS {
            return Err(InvalidValue::new(format!(
                "must be at most {SKU_MAX_CHARS} characters, got {chars}"
            )));
        }
        if raw
            .chars()
            .any(|character| character.is_whitespace() || character.is_control())
        {
            return Err(InvalidValue::new(format!(
                "{raw:?} is not a SKU (no spaces or control characters)"
            )));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A SKU read back from a service's own tables, where only parsed SKUs
    /// are written. Not re-validated, so a later tightening of the rules
    /// never makes stored rows unreadable.
    pub fn from_stored(value: String) -> Self {
        Self(value)
    }
}

impl fmt::Display for Sku {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// A number of units of one SKU in a request, a reservation or a shipment
/// line: at least 1 (the services' `quantity > 0` CHECKs repeat it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Quantity(i32);

impl Quantity {
    pub fn new(units: i32) -> Result<Self, InvalidValue> {
        if units < 1 {
            return Err(InvalidValue::new(format!(
                "must be at least 1, got {units}"
            )));
        }
        Ok(Self(units))
    }

    pub const fn get(self) -> i32 {
        self.0
    }

    /// `None` past `i32::MAX`.
    pub fn checked_add(self, other: Self) -> Option<Self> {
        self.0.checked_add(other.0).map(Self)
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(formatter)
    }
}
