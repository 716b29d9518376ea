//! Validated values: a value of one of these types has passed its rules, so
//! the rest of the service never re-checks it.

use std::fmt;

use ecommerce_schema_compat::CompatibilityLevel;

use crate::domain::error::InvalidValue;

/// Longest subject name, in bytes (Confluent's limit too).
pub const SUBJECT_MAX_BYTES: usize = 255;
/// Longest fully qualified message name, in bytes: far beyond any real
/// package and message path, short enough to echo in an error or a log line.
pub const MESSAGE_NAME_MAX_BYTES: usize = 512;

/// A subject name, e.g. "orders.order_placed.v1": 1 to 255 bytes, without
/// whitespace or control characters. Taken as given, never trimmed: a
/// subject is an identifier, and " a" silently becoming "a" would register
/// under a name the caller did not write.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Subject(String);

impl Subject {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        if raw.is_empty() {
            return Err(InvalidValue::new("must not be empty"));
        }
        if raw.len() > SUBJECT_MAX_BYTES {
            return Err(InvalidValue::new(format!(
                "must be at most {SUBJECT_MAX_BYTES} bytes, got {}",
                raw.len()
            )));
        }
        if raw
            .chars()
            .any(|character| character.is_whitespace() || character.is_control())
        {
            return Err(InvalidValue::new(
                "must not contain whitespace or control characters",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A name read back from the database, where only valid names are written.
    pub fn from_stored(name: String) -> Self {
        Self(name)
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// What a compatibility RPC is about: one subject, or the global default
/// (the request's empty subject).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LevelTarget {
    Global,
    Subject(Subject),
}

impl LevelTarget {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        if raw.is_empty() {
            return Ok(Self::Global);
        }
        Subject::parse(raw).map(Self::Subject)
    }
}

/// The fully qualified name of a message, e.g.
/// "ecommerce.orders.v1.OrderPlaced"; a leading dot (descriptor style) is
/// dropped.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MessageName(String);

impl MessageName {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let name = raw.strip_prefix('.').unwrap_or(raw);
        if name.is_empty() {
            return Err(InvalidValue::new("must not be empty"));
        }
        if name.len() > MESSAGE_NAME_MAX_BYTES {
            return Err(InvalidValue::new(format!(
                "must be at most {MESSAGE_NAME_MAX_BYTES} bytes, got {}",
                name.len()
            )));
        }
        if name
            .chars()
            .any(|character| character.is_whitespace() || character.is_control())
        {
            return Err(InvalidValue::new(
                "must be a fully qualified message name, without whitespace",
            ));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MessageName {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// A version within a subject, counting from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(i32);

impl Version {
    pub const FIRST: Self = Self(1);

    pub fn parse(raw: i32) -> Result<Self, InvalidValue> {
        if raw < 1 {
            return Err(InvalidValue::new(format!("must be at least 1, got {raw}")));
        }
        Ok(Self(raw))
    }

    /// The version after this one; `None` after `i32::MAX`.
    pub fn next(self) -> Option<Self> {
        self.0.checked_add(1).map(Self)
    }

    pub fn get(self) -> i32 {
        self.0
    }

    pub fn from_stored(raw: i32) -> Self {
        Self(raw)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(formatter)
    }
}

/// A registry-wide schema id: positive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SchemaId(i64);

impl SchemaId {
    pub fn parse(raw: i64) -> Result<Self, InvalidValue> {
        if raw < 1 {
            return Err(InvalidValue::new(format!("must be positive, got {raw}")));
        }
        Ok(Self(raw))
    }

    pub fn get(self) -> i64 {
        self.0
    }

    pub fn from_stored(raw: i64) -> Self {
        Self(raw)
    }
}

impl fmt::Display for SchemaId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(formatter)
    }
}

/// Every level, in the proto's order.
pub const LEVELS: [CompatibilityLevel; 8] = [
    CompatibilityLevel::Backward,
    CompatibilityLevel::BackwardTransitive,
    CompatibilityLevel::Forward,
    CompatibilityLevel::ForwardTransitive,
    CompatibilityLevel::Full,
    CompatibilityLevel::FullTransitive,
    CompatibilityLevel::None,
    CompatibilityLevel::WireStrict,
];

/// The name a level is stored and printed under (the proto enum's suffix,
/// which is also Confluent's name for the seven levels it has).
pub fn level_name(level: CompatibilityLevel) -> &'static str {
    match level {
        CompatibilityLevel::Backward => "BACKWARD",
        CompatibilityLevel::BackwardTransitive => "BACKWARD_TRANSITIVE",
        CompatibilityLevel::Forward => "FORWARD",
        CompatibilityLevel::ForwardTransitive => "FORWARD_TRANSITIVE",
        CompatibilityLevel::Full => "FULL",
        CompatibilityLevel::FullTransitive => "FULL_TRANSITIVE",
        CompatibilityLevel::None => "NONE",
        CompatibilityLevel::WireStrict => "WIRE_STRICT",
    }
}

/// The level stored under `name`, if any.
pub fn level_from_name(name: &str) -> Option<CompatibilityLevel> {
    LEVELS.into_iter().find(|level| level_name(*level) == name)
}

/// The level that applies to a subject, and whether it is the global
/// default rather than the subject's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LevelInEffect {
    pub level: CompatibilityLevel,
    pub inherited: bool,
}

impl LevelInEffect {
    /// The subject's own level, else the global default.
    pub fn of(own: Option<CompatibilityLevel>, global: CompatibilityLevel) -> Self {
        match own {
            Some(level) => Self {
                level,
                inherited: false,
            },
            None => Self {
                level: global,
                inherited: true,
            },
        }
    }
}

/// Subject name prefixes whose subjects start at WIRE_STRICT when they are
/// created: this project's own event subjects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StrictPrefixes(Vec<String>);

impl StrictPrefixes {
    /// The prefixes of the services that publish events.
    pub const DEFAULT: &'static str = "catalog.,iam.,inventory.,orders.,payments.,fulfillment.";

    /// A comma-separated list; blank items are skipped, so "," is the empty
    /// list (no subject starts strict).
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let mut prefixes = Vec::new();
        for item in raw.split(',').map(str::trim) {
            if item.is_empty() {
                continue;
            }
            if item
                .chars()
                .any(|character| character.is_whitespace() || character.is_control())
            {
                return Err(InvalidValue::new(format!(
                    "prefix {item:?} contains whitespace or control characters"
                )));
            }
            prefixes.push(item.to_owned());
        }
        Ok(Self(prefixes))
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    /// The level a new subject named `subject` starts with: WIRE_STRICT
    /// under a strict prefix, else none of its own (it inherits).
    pub fn initial_level(&self, subject: &Subject) -> Option<CompatibilityLevel> {
        self.0
            .iter()
            .any(|prefix| subject.as_str().starts_with(prefix.as_str()))
            .then_some(CompatibilityLevel::WireStrict)
    }
}

impl Default for StrictPrefixes {
    fn default() -> Self {
        Self(
            Self::DEFAULT
                .split(',')
                .map(str::to_owned)
                .collect::<Vec<_>>(),
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn subjects_are_non_empty_short_and_without_whitespace() {
        assert_eq!(
            Subject::parse("orders.order_placed.v1").unwrap().as_str(),
            "orders.order_placed.v1"
        );
        Subject::parse(&"a".repeat(SUBJECT_MAX_BYTES)).unwrap();
        for bad in [
            "",
            " orders",
            "orders x",
            "orders\t",
            "orders\u{7}",
            "orders\u{a0}x",
            &"a".repeat(SUBJECT_MAX_BYTES + 1),
            // 128 two-byte characters: 256 bytes.
            &"é".repeat(128),
        ] {
            assert!(Subject::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_empty_subject_targets_the_global_default() {
        assert_eq!(LevelTarget::parse("").unwrap(), LevelTarget::Global);
        assert_eq!(
            LevelTarget::parse("x").unwrap(),
            LevelTarget::Subject(Subject::parse("x").unwrap())
        );
        assert!(LevelTarget::parse(" ").is_err());
    }

    #[test]
    fn message_names_drop_a_leading_dot_and_refuse_blanks() {
        assert_eq!(MessageName::parse(".a.B").unwrap().as_str(), "a.B");
        assert_eq!(MessageName::parse("a.B").unwrap().as_str(), "a.B");
        let longest = format!("a.{}", "B".repeat(MESSAGE_NAME_MAX_BYTES - 2));
        assert!(MessageName::parse(&longest).is_ok());
        assert!(MessageName::parse(&format!(".{longest}")).is_ok());
        assert!(MessageName::parse(&format!("{longest}C")).is_err());
        for bad in ["", ".", "a. B", "a.B\n"] {
            assert!(MessageName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn versions_and_ids_are_positive() {
        assert!(Version::parse(0).is_err());
        assert!(Version::parse(-1).is_err());
        assert_eq!(Version::parse(1).unwrap(), Version::FIRST);
        assert_eq!(Version::FIRST.next().unwrap().get(), 2);
        assert_eq!(Version::from_stored(i32::MAX).next(), None);
        assert!(SchemaId::parse(0).is_err());
        assert_eq!(SchemaId::parse(7).unwrap().get(), 7);
    }

    #[test]
    fn level_names_round_trip() {
        for level in LEVELS {
            assert_eq!(level_from_name(level_name(level)), Some(level));
        }
        assert_eq!(level_from_name("backward"), None);
        assert_eq!(
            LevelInEffect::of(None, CompatibilityLevel::Backward),
            LevelInEffect {
                level: CompatibilityLevel::Backward,
                inherited: true
            }
        );
        assert_eq!(
            LevelInEffect::of(Some(CompatibilityLevel::None), CompatibilityLevel::Backward),
            LevelInEffect {
                level: CompatibilityLevel::None,
                inherited: false
            }
        );
    }

    #[test]
    fn strict_prefixes_pick_this_projects_event_subjects() {
        let prefixes = StrictPrefixes::default();
        assert_eq!(prefixes.as_slice().len(), 6);
        let level = |name: &str| prefixes.initial_level(&Subject::parse(name).unwrap());
        assert_eq!(
            level("orders.order_placed.v1"),
            Some(CompatibilityLevel::WireStrict)
        );
        assert_eq!(
            level("fulfillment.shipment.created.v1"),
            Some(CompatibilityLevel::WireStrict)
        );
        assert_eq!(level("ordersx.thing"), None);
        assert_eq!(level("partner.orders.v1"), None);

        let custom = StrictPrefixes::parse(" acme. , ,beta.").unwrap();
        assert_eq!(custom.as_slice(), ["acme.", "beta."]);
        assert!(StrictPrefixes::parse(",").unwrap().as_slice().is_empty());
        assert!(StrictPrefixes::parse("a b.").is_err());
    }
}
