//! Money: integer minor units plus an ISO 4217 currency, never floats.

use std::fmt;

use crate::invalid::InvalidValue;

/// The largest amount a price may have, in minor units (just under 10^15:
/// ten trillion euros). Far below `i64::MAX` (~9.2 * 10^18) on purpose, so
/// that a consumer multiplying a price by any sane quantity and summing
/// thousands of lines cannot overflow. catalog's `prices_amount_check`
/// constraint repeats it.
pub const MAX_AMOUNT_MINOR: i64 = 999_999_999_999_999;

/// The circulating currencies of ISO 4217 with their minor-unit exponent.
///
/// Left out on purpose: fund codes (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI,
/// UYW), precious metals and special units (XAU, XAG, XPD, XPT, XDR, XSU,
/// XUA, XB*), the testing and "no currency" codes (XTS, XXX), and withdrawn
/// codes (HRK, SLL, ZWL, CUC): nothing is priced in them. Sorted, for binary
/// search.
const ISO_4217: &[(&str, u8)] = &[
    ("AED", 2),
    ("AFN", 2),
    ("ALL", 2),
    ("AMD", 2),
    ("ANG", 2),
    ("AOA", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("AWG", 2),
    ("AZN", 2),
    ("BAM", 2),
    ("BBD", 2),
    ("BDT", 2),
    ("BGN", 2),
    ("BHD", 3),
    ("BIF", 0),
    ("BMD", 2),
    ("BND", 2),
    ("BOB", 2),
    ("BRL", 2),
    ("BSD", 2),
    ("BTN", 2),
    ("BWP", 2),
    ("BYN", 2),
    ("BZD", 2),
    ("CAD", 2),
    ("CDF", 2),
    ("CHF", 2),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("CRC", 2),
    ("CUP", 2),
    ("CVE", 2),
    ("CZK", 2),
    ("DJF", 0),
    ("DKK", 2),
    ("DOP", 2),
    ("DZD", 2),
    ("EGP", 2),
    ("ERN", 2),
    ("ETB", 2),
    ("EUR", 2),
    ("FJD", 2),
    ("FKP", 2),
    ("GBP", 2),
    ("GEL", 2),
    ("GHS", 2),
    ("GIP", 2),
    ("GMD", 2),
    ("GNF", 0),
    ("GTQ", 2),
    ("GYD", 2),
    ("HKD", 2),
    ("HNL", 2),
    ("HTG", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("IQD", 3),
    ("IRR", 2),
    ("ISK", 0),
    ("JMD", 2),
    ("JOD", 3),
    ("JPY", 0),
    ("KES", 2),
    ("KGS", 2),
    ("KHR", 2),
    ("KMF", 0),
    ("KPW", 2),
    ("KRW", 0),
    ("KWD", 3),
    ("KYD", 2),
    ("KZT", 2),
    ("LAK", 2),
    ("LBP", 2),
    ("LKR", 2),
    ("LRD", 2),
    ("LSL", 2),
    ("LYD", 3),
    ("MAD", 2),
    ("MDL", 2),
    ("MGA", 2),
    ("MKD", 2),
    ("MMK", 2),
    ("MNT", 2),
    ("MOP", 2),
    ("MRU", 2),
    ("MUR", 2),
    ("MVR", 2),
    ("MWK", 2),
    ("MXN", 2),
    ("MYR", 2),
    ("MZN", 2),
    ("NAD", 2),
    ("NGN", 2),
    ("NIO", 2),
    ("NOK", 2),
    ("NPR", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PAB", 2),
    ("PEN", 2),
    ("PGK", 2),
    ("PHP", 2),
    ("PKR", 2),
    ("PLN", 2),
    ("PYG", 0),
    ("QAR", 2),
    ("RON", 2),
    ("RSD", 2),
    ("RUB", 2),
    ("RWF", 0),
    ("SAR", 2),
    ("SBD", 2),
    ("SCR", 2),
    ("SDG", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("SHP", 2),
    ("SLE", 2),
    ("SOS", 2),
    ("SRD", 2),
    ("SSP", 2),
    ("STN", 2),
    ("SVC", 2),
    ("SYP", 2),
    ("SZL", 2),
    ("THB", 2),
    ("TJS", 2),
    ("TMT", 2),
    ("TND", 3),
    ("TOP", 2),
    ("TRY", 2),
    ("TTD", 2),
    ("TWD", 2),
    ("TZS", 2),
    ("UAH", 2),
    ("UGX", 0),
    ("USD", 2),
    ("UYU", 2),
    ("UZS", 2),
    ("VED", 2),
    ("VES", 2),
    ("VND", 0),
    ("VUV", 0),
    ("WST", 2),
    ("XAF", 0),
    ("XCD", 2),
    ("XCG", 2),
    ("XOF", 0),
    ("XPF", 0),
    ("YER", 2),
    ("ZAR", 2),
    ("ZMW", 2),
    ("ZWG", 2),
];

/// An ISO 4217 alphabetic code from the list above.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency {
    code: &'static str,
    exponent: u8,
}

impl Currency {
    /// Only the exact upper-case code is accepted ("eur" is refused rather
    /// than guessed at).
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        if raw.is_empty() {
            return Err(InvalidValue::new("must not be empty"));
        }
        if raw.len() != 3 || !raw.bytes().all(|byte| byte.is_ascii_uppercase()) {
            return Err(InvalidValue::new(format!(
                "{raw:?} is not an ISO 4217 code (three upper-case letters, e.g. \"EUR\")"
            )));
        }
        ISO_4217
            .binary_search_by(|(code, _)| (*code).cmp(raw))
            .map(|index| {
                let (code, exponent) = ISO_4217[index];
                Self { code, exponent }
            })
            .map_err(|_| InvalidValue::new(format!("{raw:?} is not an ISO 4217 currency")))
    }

    pub fn code(self) -> &'static str {
        self.code
    }

    /// Digits after the decimal point: 2 for EUR, 0 for JPY, 3 for BHD.
    pub fn exponent(self) -> u8 {
        self.exponent
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.code)
    }
}

/// Why an arithmetic operation on money failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("cannot combine {left} with {right}")]
    CurrencyMismatch { left: Currency, right: Currency },
    #[error("the amount would exceed {MAX_AMOUNT_MINOR} minor units")]
    Overflow,
    #[error("the amount would be negative")]
    Negative,
}

/// A non-negative amount of one currency, in its minor units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Money {
    amount_minor: i64,
    currency: Currency,
}

impl Money {
    /// The reason names the amount; callers put it at their field (e.g.
    /// `price.amount_minor`).
    pub fn new(amount_minor: i64, currency: Currency) -> Result<Self, InvalidValue> {
        if amount_minor < 0 {
            return Err(InvalidValue::new(format!(
                "must not be negative, got {amount_minor}"
            )));
        }
        if amount_minor > MAX_AMOUNT_MINOR {
            return Err(InvalidValue::new(format!(
                "must be at most {MAX_AMOUNT_MINOR}, got {amount_minor}"
            )));
        }
        Ok(Self {
            amount_minor,
            currency,
        })
    }

    pub fn zero(currency: Currency) -> Self {
        Self {
            amount_minor: 0,
            currency,
        }
    }

    pub fn amount_minor(self) -> i64 {
        self.amount_minor
    }

    pub fn currency(self) -> Currency {
        self.currency
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let sum = self
            .amount_minor
            .checked_add(other.amount_minor)
            .ok_or(MoneyError::Overflow)?;
        self.with_amount(sum)
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let difference = self
            .amount_minor
            .checked_sub(other.amount_minor)
            .ok_or(MoneyError::Negative)?;
        self.with_amount(difference)
    }

    /// The price of `quantity` units.
    pub fn checked_mul(self, quantity: u32) -> Result<Money, MoneyError> {
        let product = self
            .amount_minor
            .checked_mul(i64::from(quantity))
            .ok_or(MoneyError::Overflow)?;
        self.with_amount(product)
    }

    fn same_currency(self, other: Money) -> Result<(), MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            });
        }
        Ok(())
    }

    fn with_amount(self, amount_minor: i64) -> Result<Money, MoneyError> {
        if amount_minor < 0 {
            return Err(MoneyError::Negative);
        }
        if amount_minor > MAX_AMOUNT_MINOR {
            return Err(MoneyError::Overflow);
        }
        Ok(Money {
            amount_minor,
            currency: self.currency,
        })
    }
}

impl fmt::Display for Money {
    /// `EUR 12.34`, `JPY 500`, `BHD 1.234`.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exponent = u32::from(self.currency.exponent);
        if exponent == 0 {
            return write!(formatter, "{} {}", self.currency, self.amount_minor);
        }
        let divisor = 10_i64.pow(exponent);
        write!(
            formatter,
            "{} {}.{:0width$}",
            self.currency,
            self.amount_minor / divisor,
            self.amount_minor % divisor,
            width = exponent as usize
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn eur() -> Currency {
        Currency::parse("EUR").unwrap()
    }

    #[test]
    fn the_currency_table_is_sorted_unique_and_well_formed() {
        for pair in ISO_4217.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{:?} before {:?}", pair[0], pair[1]);
        }
        for (code, exponent) in ISO_4217 {
            assert_eq!(Currency::parse(code).unwrap().code(), *code);
            assert!(*exponent <= 3, "{code}");
        }
    }

    #[test]
    fn only_known_upper_case_codes_are_currencies() {
        assert_eq!(Currency::parse("EUR").unwrap().exponent(), 2);
        assert_eq!(Currency::parse("JPY").unwrap().exponent(), 0);
        assert_eq!(Currency::parse("BHD").unwrap().exponent(), 3);
        for bad in [
            "", "eur", "EU", "EURO", "XXX", "XTS", "XAU", "ABC", "E1R", "ÉUR",
        ] {
            assert!(Currency::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn amounts_are_non_negative_and_bounded() {
        assert_eq!(Money::new(0, eur()).unwrap(), Money::zero(eur()));
        assert!(Money::new(MAX_AMOUNT_MINOR, eur()).is_ok());
        assert!(Money::new(MAX_AMOUNT_MINOR + 1, eur()).is_err());
        assert!(Money::new(-1, eur()).is_err());
        assert!(Money::new(i64::MIN, eur()).is_err());
        assert!(Money::new(i64::MAX, eur()).is_err());
    }

    #[test]
    fn arithmetic_is_checked() {
        let one = Money::new(100, eur()).unwrap();
        assert_eq!(one.checked_add(one).unwrap().amount_minor(), 200);
        assert_eq!(one.checked_sub(one).unwrap().amount_minor(), 0);
        assert_eq!(
            one.checked_sub(Money::new(101, eur()).unwrap()),
            Err(MoneyError::Negative)
        );
        assert_eq!(one.checked_mul(3).unwrap().amount_minor(), 300);

        let max = Money::new(MAX_AMOUNT_MINOR, eur()).unwrap();
        assert_eq!(max.checked_add(one), Err(MoneyError::Overflow));
        assert_eq!(max.checked_mul(2), Err(MoneyError::Overflow));
        assert_eq!(max.checked_mul(u32::MAX), Err(MoneyError::Overflow));
        assert_eq!(max.checked_mul(1).unwrap(), max);

        let usd = Money::new(1, Currency::parse("USD").unwrap()).unwrap();
        assert!(matches!(
            one.checked_add(usd),
            Err(MoneyError::CurrencyMismatch { .. })
        ));
    }

    #[test]
    fn display_follows_the_exponent() {
        assert_eq!(Money::new(1234, eur()).unwrap().to_string(), "EUR 12.34");
        assert_eq!(Money::new(5, eur()).unwrap().to_string(), "EUR 0.05");
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(Money::new(500, jpy).unwrap().to_string(), "JPY 500");
        let bhd = Currency::parse("BHD").unwrap();
        assert_eq!(Money::new(1234, bhd).unwrap().to_string(), "BHD 1.234");
    }
}
