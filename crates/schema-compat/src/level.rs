//! Compatibility levels, and the verdict of each for a comparison.

use std::fmt;
use std::str::FromStr;

use crate::diff::{Difference, compare, compare_forward, compare_reserved};
use crate::schema::MessageSchema;

/// A compatibility level, as the registry stores it per subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CompatibilityLevel {
    Backward,
    BackwardTransitive,
    Forward,
    ForwardTransitive,
    Full,
    FullTransitive,
    None,
    /// FULL_TRANSITIVE plus: a removed field's number must be reserved, and
    /// no version may reuse a number or name an earlier version reserved.
    WireStrict,
}

/// A level name [`CompatibilityLevel::parse`] does not know.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "unknown compatibility level `{0}` (expected BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE, NONE or WIRE_STRICT)"
)]
pub struct UnknownCompatibilityLevel(pub String);

impl CompatibilityLevel {
    /// Every level, in declaration order.
    pub const ALL: [Self; 8] = [
        Self::Backward,
        Self::BackwardTransitive,
        Self::Forward,
        Self::ForwardTransitive,
        Self::Full,
        Self::FullTransitive,
        Self::None,
        Self::WireStrict,
    ];

    /// The registry's name, e.g. `FULL_TRANSITIVE`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Backward => "BACKWARD",
            Self::BackwardTransitive => "BACKWARD_TRANSITIVE",
            Self::Forward => "FORWARD",
            Self::ForwardTransitive => "FORWARD_TRANSITIVE",
            Self::Full => "FULL",
            Self::FullTransitive => "FULL_TRANSITIVE",
            Self::None => "NONE",
            Self::WireStrict => "WIRE_STRICT",
        }
    }

    /// Parses a [`name`](Self::name), ignoring case and accepting `-` for
    /// `_` (`wire-strict`).
    pub fn parse(text: &str) -> Option<Self> {
        let normalized = text.trim().to_ascii_uppercase().replace('-', "_");
        Self::ALL
            .into_iter()
            .find(|level| level.name() == normalized)
    }

    /// Whether the level checks against every previous version rather than
    /// the latest only.
    pub fn is_transitive(self) -> bool {
        match self {
            Self::BackwardTransitive
            | Self::ForwardTransitive
            | Self::FullTransitive
            | Self::WireStrict => true,
            Self::Backward | Self::Forward | Self::Full | Self::None => false,
        }
    }

    /// A reader with the candidate must read data of the previous version.
    fn reads_backward(self) -> bool {
        match self {
            Self::Backward
            | Self::BackwardTransitive
            | Self::Full
            | Self::FullTransitive
            | Self::WireStrict => true,
            Self::Forward | Self::ForwardTransitive | Self::None => false,
        }
    }

    /// A reader with the previous version must read data of the candidate.
    fn reads_forward(self) -> bool {
        match self {
            Self::Forward
            | Self::ForwardTransitive
            | Self::Full
            | Self::FullTransitive
            | Self::WireStrict => true,
            Self::Backward | Self::BackwardTransitive | Self::None => false,
        }
    }

    fn checks_reservations(self) -> bool {
        match self {
            Self::WireStrict => true,
            Self::Backward
            | Self::BackwardTransitive
            | Self::Forward
            | Self::ForwardTransitive
            | Self::Full
            | Self::FullTransitive
            | Self::None => false,
        }
    }
}

impl fmt::Display for CompatibilityLevel {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

impl FromStr for CompatibilityLevel {
    type Err = UnknownCompatibilityLevel;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text).ok_or_else(|| UnknownCompatibilityLevel(text.to_owned()))
    }
}

/// The verdict of one level for one pair of schemas.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub level: CompatibilityLevel,
    /// What breaks the level; empty means compatible.
    pub incompatibilities: Vec<Difference>,
}

impl Verdict {
    pub fn is_compatible(&self) -> bool {
        self.incompatibilities.is_empty()
    }
}

/// Everything about one older schema and one newer one: the differences,
/// and the verdict of every level (with a single previous version, a
/// transitive level judges like its plain one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comparison {
    /// `compare(old, new)` followed by `compare_reserved(old, new)`,
    /// compatible differences included.
    pub differences: Vec<Difference>,
    /// One per level, in [`CompatibilityLevel::ALL`] order.
    pub verdicts: Vec<Verdict>,
}

impl Comparison {
    pub fn between(old: &MessageSchema, new: &MessageSchema) -> Self {
        let directions = Directions::between(old, new);
        let verdicts = CompatibilityLevel::ALL
            .into_iter()
            .map(|level| Verdict {
                level,
                incompatibilities: directions.incompatibilities(level),
            })
            .collect();
        let mut differences = directions.backward;
        differences.extend(directions.reserved);
        Self {
            differences,
            verdicts,
        }
    }

    pub fn verdict(&self, level: CompatibilityLevel) -> &Verdict {
        // Built from ALL, so every level is present.
        let position = CompatibilityLevel::ALL
            .iter()
            .position(|candidate| *candidate == level)
            .unwrap_or_default();
        &self.verdicts[position]
    }

    pub fn is_compatible(&self, level: CompatibilityLevel) -> bool {
        self.verdict(level).is_compatible()
    }
}

/// The differences of one previous version and a candidate, in each
/// direction a level may read.
struct Directions {
    /// `compare(previous, candidate)`, all of them.
    backward: Vec<Difference>,
    /// The incompatible differences a reader with `previous` meets in data
    /// written with the candidate.
    forward: Vec<Difference>,
    reserved: Vec<Difference>,
}

impl Directions {
    fn between(previous: &MessageSchema, candidate: &MessageSchema) -> Self {
        Self {
            backward: compare(previous, candidate),
            forward: compare_forward(previous, candidate)
                .into_iter()
                .filter(|difference| !difference.is_compatible())
                .collect(),
            reserved: compare_reserved(previous, candidate),
        }
    }

    /// Computes only the directions `level` reads.
    fn for_level(
        level: CompatibilityLevel,
        previous: &MessageSchema,
        candidate: &MessageSchema,
    ) -> Self {
        Self {
            backward: if level.reads_backward() {
                compare(previous, candidate)
            } else {
                Vec::new()
            },
            forward: if level.reads_forward() {
                compare_forward(previous, candidate)
                    .into_iter()
                    .filter(|difference| !difference.is_compatible())
                    .collect()
            } else {
                Vec::new()
            },
            reserved: if level.checks_reservations() {
                compare_reserved(previous, candidate)
            } else {
                Vec::new()
            },
        }
    }

    /// The differences that break `level`; one seen in both directions (the
    /// same kind, path and line) counts once.
    fn incompatibilities(&self, level: CompatibilityLevel) -> Vec<Difference> {
        let mut breaking: Vec<Difference> = Vec::new();
        if level.reads_backward() {
            breaking.extend(
                self.backward
                    .iter()
                    .filter(|difference| !difference.is_compatible())
                    .cloned(),
            );
        }
        if level.reads_forward() {
            for difference in &self.forward {
                if !breaking.contains(difference) {
                    breaking.push(difference.clone());
                }
            }
        }
        if level.checks_reservations() {
            breaking.extend(self.reserved.iter().cloned());
        }
        breaking
    }
}

/// The differences that break `level` between one previous version and the
/// candidate.
pub(crate) fn incompatibilities(
    level: CompatibilityLevel,
    previous: &MessageSchema,
    candidate: &MessageSchema,
) -> Vec<Difference> {
    Directions::for_level(level, previous, candidate).incompatibilities(level)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for level in CompatibilityLevel::ALL {
            assert_eq!(CompatibilityLevel::parse(level.name()), Some(level));
            assert_eq!(level.to_string().parse::<CompatibilityLevel>(), Ok(level));
        }
        assert_eq!(
            CompatibilityLevel::parse("wire-strict"),
            Some(CompatibilityLevel::WireStrict)
        );
        assert_eq!(
            CompatibilityLevel::parse(" full_transitive "),
            Some(CompatibilityLevel::FullTransitive)
        );
        assert_eq!(CompatibilityLevel::parse("FULLY"), None);
        assert_eq!(
            "sideways".parse::<CompatibilityLevel>(),
            Err(UnknownCompatibilityLevel("sideways".to_owned()))
        );
    }

    #[test]
    fn transitive_levels() {
        let transitive: Vec<CompatibilityLevel> = CompatibilityLevel::ALL
            .into_iter()
            .filter(|level| level.is_transitive())
            .collect();
        assert_eq!(
            transitive,
            [
                CompatibilityLevel::BackwardTransitive,
                CompatibilityLevel::ForwardTransitive,
                CompatibilityLevel::FullTransitive,
                CompatibilityLevel::WireStrict,
            ]
        );
    }
}
