//! The page size of a List RPC, validated once for every service.

use crate::invalid::InvalidValue;

/// Items per page of a List RPC: 0 means the default (20), larger than 100
/// is capped at 100, negative is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageSize(u64);

impl PageSize {
    pub const DEFAULT: u64 = 20;
    pub const MAX: u64 = 100;

    pub fn parse(raw: i32) -> Result<Self, InvalidValue> {
        let Ok(requested) = u64::try_from(raw) else {
            return Err(InvalidValue::new(format!(
                "must not be negative, got {raw}"
            )));
        };
        Ok(Self(match requested {
            0 => Self::DEFAULT,
            size => size.min(Self::MAX),
        }))
    }

    pub const fn get(self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn page_sizes_default_and_cap() {
        assert_eq!(PageSize::parse(0).unwrap().get(), 20);
        assert_eq!(PageSize::parse(5).unwrap().get(), 5);
        assert_eq!(PageSize::parse(1000).unwrap().get(), 100);
        assert!(PageSize::parse(-1).is_err());
    }
}
