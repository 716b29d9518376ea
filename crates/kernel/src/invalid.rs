//! Validation errors that name the request field.

/// Why a value is invalid, without saying which field it came from.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

impl InvalidValue {
    pub fn new(reason: impl Into<String>) -> Self {
        Self(reason.into())
    }

    /// The same reason, about request field `field` (e.g. `product.title`).
    pub fn at(self, field: impl Into<String>) -> InvalidField {
        InvalidField {
            field: field.into(),
            reason: self.0,
        }
    }
}

/// An invalid request field: what `INVALID_ARGUMENT` names.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidField {
    /// The field's path in the request, e.g. `media[2].url`.
    pub field: String,
    pub reason: String,
}

impl InvalidField {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_error_becomes_a_field_error() {
        let invalid = InvalidValue::new("must not be empty").at("lines[0].sku");
        assert_eq!(
            invalid,
            InvalidField::new("lines[0].sku", "must not be empty")
        );
        assert_eq!(invalid.to_string(), "lines[0].sku: must not be empty");
    }
}
