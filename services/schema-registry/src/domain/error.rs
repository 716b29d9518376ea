//! The errors of the registry's rules, and the code each one is.

use ecommerce_kernel::ErrorCode;
pub use ecommerce_kernel::{InvalidField, InvalidValue};
use ecommerce_schema_compat::{CompatibilityLevel, Incompatibility};

use crate::domain::values::{Subject, level_name};

/// Every way a registry rule can refuse to act.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// A request field is missing or malformed; names the field.
    #[error(transparent)]
    InvalidArgument(#[from] InvalidField),

    /// The candidate breaks the subject's compatibility level against one
    /// or more of its live versions. The message lists every problem.
    #[error(
        "the schema is incompatible with subject {subject} at level {level}: {problems}",
        level = level_name(*level),
        problems = list(incompatibilities)
    )]
    Incompatible {
        subject: Subject,
        level: CompatibilityLevel,
        incompatibilities: Vec<Incompatibility>,
    },

    /// Every version number of the subject was used (2^31 - 1 of them).
    #[error("subject {0} has used every version number")]
    VersionsExhausted(Subject),

    /// Stored state contradicts the rules; details for the log only.
    #[error("registry state is inconsistent: {0}")]
    Inconsistent(String),
}

fn list(incompatibilities: &[Incompatibility]) -> String {
    incompatibilities
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl RegistryError {
    /// What kind of failure the error is. Exhaustive, so a new refusal
    /// forces a decision here.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidArgument(_) => ErrorCode::InvalidArgument,
            Self::Incompatible { .. } | Self::VersionsExhausted(_) => ErrorCode::FailedPrecondition,
            // Stored state breaks an invariant: a bug, never the caller's fault.
            Self::Inconsistent(_) => ErrorCode::Internal,
        }
    }

    /// The request field an [`ErrorCode::InvalidArgument`] is about.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::InvalidArgument(invalid) => Some(&invalid.field),
            Self::Incompatible { .. } | Self::VersionsExhausted(_) | Self::Inconsistent(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use ecommerce_schema_compat::{Difference, DifferenceKind};

    use super::*;

    #[test]
    fn codes_fields_and_messages_follow_the_variant() {
        let invalid = RegistryError::from(InvalidValue::new("must not be empty").at("subject"));
        assert_eq!(invalid.code(), ErrorCode::InvalidArgument);
        assert_eq!(invalid.field(), Some("subject"));
        assert_eq!(invalid.to_string(), "subject: must not be empty");

        let incompatible = RegistryError::Incompatible {
            subject: Subject::parse("orders.order_placed.v1").unwrap(),
            level: CompatibilityLevel::Backward,
            incompatibilities: vec![
                Incompatibility {
                    version: 1,
                    difference: Difference {
                        kind: DifferenceKind::FieldRemoved,
                        path: "#/OrderPlaced/3".to_owned(),
                        message: "field 3 removed".to_owned(),
                    },
                },
                Incompatibility {
                    version: 2,
                    difference: Difference {
                        kind: DifferenceKind::FieldRemoved,
                        path: "#/OrderPlaced/4".to_owned(),
                        message: "field 4 removed".to_owned(),
                    },
                },
            ],
        };
        assert_eq!(incompatible.code(), ErrorCode::FailedPrecondition);
        assert_eq!(incompatible.field(), None);
        assert_eq!(
            incompatible.to_string(),
            "the schema is incompatible with subject orders.order_placed.v1 at level BACKWARD: \
             #/OrderPlaced/3: field 3 removed (version 1); #/OrderPlaced/4: field 4 removed (version 2)"
        );
        assert_eq!(
            RegistryError::Inconsistent("x".to_owned()).code(),
            ErrorCode::Internal
        );
    }
}
