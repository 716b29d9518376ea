//! Protobuf schema compatibility, without I/O.
//!
//! The unit compared is one message of a parsed descriptor set
//! ([`MessageSchema`]): the message, its nested types, and every message and
//! enum its fields reach, across imports. [`compare`] lists what changed
//! ([`Difference`]: a [`DifferenceKind`], a path such as `#/OrderPlaced/3`, a
//! human line); [`check`] applies a [`CompatibilityLevel`] against the
//! registered versions of a subject; [`Comparison`] gives the verdict of
//! every level for one pair.
//!
//! # Semantics
//!
//! The rules are those of the Confluent Schema Registry's protobuf checker:
//! fields match by number, oneof members included; nested messages and enums
//! by name; referenced messages are compared when their names (below the
//! package) agree, and an incompatible change inside makes the referencing
//! field incompatible ([`DifferenceKind::FieldNamedTypeChanged`]). Scalar
//! types stay compatible within their wire group: {int32, int64, uint32,
//! uint64, bool, enum}, {sint32, sint64}, {string, bytes}, {fixed32,
//! sfixed32}, {fixed64, sfixed64}, {float}, {double}.
//!
//! BACKWARD compares the previous version to the candidate (a reader with
//! the candidate reads old data), FORWARD the candidate to the previous
//! version, FULL both; the `*_TRANSITIVE` levels check every previous version,
//! the others the latest. WIRE_STRICT is FULL_TRANSITIVE plus the reservation
//! rules of [`compare_reserved`].
//!
//! Deviations from Confluent, each because of the wire:
//! - a numeric field turned repeated (or back) is incompatible in proto3 too;
//!   Confluent skips labels when the `.proto` text has none (proto3);
//! - a singular field turned required or optional is incompatible whatever
//!   its type ([`DifferenceKind::FieldRequiredChanged`]); Confluent flags it
//!   for numeric fields only (as a label change);
//! - a removed nested message is compatible ([`DifferenceKind::MessageRemoved`]):
//!   a nested type is never a top-level record here, and a field that used it
//!   changes type, which is caught on the field. Confluent's schema is a whole
//!   file whose messages its framing addresses by index, so it rejects it;
//! - the compared message itself renamed is [`DifferenceKind::MessageRenamed`]
//!   (Confluent: MESSAGE_REMOVED plus MESSAGE_ADDED);
//! - a proto3 `optional` field's synthetic oneof is no oneof;
//! - a message field changed between singular and repeated is reported
//!   ([`DifferenceKind::FieldMessageLabelChanged`], compatible).

mod diff;
mod events;
mod level;
mod schema;

pub use diff::{Difference, DifferenceKind, compare, compare_reserved};
pub use events::{
    EVENT_TYPE_OPTION, EventCheckError, EventCheckReport, Finding, Problem, check_event_messages,
    event_type,
};
pub use level::{Comparison, CompatibilityLevel, UnknownCompatibilityLevel, Verdict};
pub use schema::{MessageSchema, SchemaError, decode_descriptor_set, without_panic};

use std::fmt;

/// A registered version the candidate is checked against.
#[derive(Clone, Copy, Debug)]
pub struct PreviousVersion<'a> {
    pub version: i32,
    pub schema: &'a MessageSchema,
}

/// A difference that breaks `level` against one previous version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incompatibility {
    /// The previous version it breaks against.
    pub version: i32,
    pub difference: Difference,
}

impl fmt::Display for Incompatibility {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{} (version {})", self.difference, self.version)
    }
}

/// Checks `candidate` against the non-deleted `previous` versions (oldest
/// first) under `level`: the non-transitive levels look at the last one,
/// the transitive ones (and WireStrict) at all. Empty means compatible.
pub fn check(
    level: CompatibilityLevel,
    candidate: &MessageSchema,
    previous: &[PreviousVersion<'_>],
) -> Vec<Incompatibility> {
    let against: &[PreviousVersion<'_>] = if level == CompatibilityLevel::None {
        &[]
    } else if level.is_transitive() {
        previous
    } else {
        &previous[previous.len().saturating_sub(1)..]
    };
    against
        .iter()
        .flat_map(|previous_version| {
            level::incompatibilities(level, previous_version.schema, candidate)
                .into_iter()
                .map(|difference| Incompatibility {
                    version: previous_version.version,
                    difference,
                })
        })
        .collect()
}
