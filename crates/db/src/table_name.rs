//! A table's schema-qualified name, validated so it can be spliced into SQL.

use std::borrow::Cow;
use std::fmt;

/// Postgres truncates identifiers past 63 bytes.
pub const MAX_IDENTIFIER_LEN: usize = 63;

/// A schema or table name that is not a plain lowercase identifier.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} name {name:?}: {reason}")]
pub struct InvalidTableName {
    /// `"schema"` or `"table"`.
    pub kind: &'static str,
    pub name: String,
    pub reason: &'static str,
}

/// Where a table lives: `<schema>.<table>`, both plain lowercase identifiers
/// (`[a-z_][a-z0-9_]*`).
///
/// Only plain identifiers are accepted, never quoted ones with arbitrary
/// characters, so a name can go into SQL without escaping; values still go
/// in as bind parameters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct QualifiedTableName {
    schema: Cow<'static, str>,
    table: Cow<'static, str>,
}

impl QualifiedTableName {
    /// A compile-time name, not validated: for a crate's presets, which that
    /// crate's unit tests check by building them again with [`Self::new`].
    pub const fn preset(schema: &'static str, table: &'static str) -> Self {
        Self {
            schema: Cow::Borrowed(schema),
            table: Cow::Borrowed(table),
        }
    }

    /// Validates both names. `derived_suffixes` are the suffixes the owning
    /// crate passes to [`Self::derived`] for its indexes and constraints: the
    /// table name is limited so that the longest `<table>_<suffix>` still
    /// fits in [`MAX_IDENTIFIER_LEN`] (Postgres would silently truncate it,
    /// and two truncated names could collide).
    pub fn new(
        schema: impl Into<String>,
        table: impl Into<String>,
        derived_suffixes: &[&str],
    ) -> Result<Self, InvalidTableName> {
        let schema = schema.into();
        let table = table.into();
        let longest_suffix = derived_suffixes
            .iter()
            .map(|suffix| "_".len() + suffix.len())
            .max()
            .unwrap_or(0);
        validate_identifier("schema", &schema, MAX_IDENTIFIER_LEN)?;
        validate_identifier(
            "table",
            &table,
            MAX_IDENTIFIER_LEN.saturating_sub(longest_suffix),
        )?;
        Ok(Self {
            schema: Cow::Owned(schema),
            table: Cow::Owned(table),
        })
    }

    /// The same table name in another schema, e.g. a test's fresh schema.
    /// Only the schema is checked: the table name was checked when `self`
    /// was built (or, for a preset, by its crate's tests).
    pub fn in_schema(&self, schema: impl Into<String>) -> Result<Self, InvalidTableName> {
        let schema = schema.into();
        validate_identifier("schema", &schema, MAX_IDENTIFIER_LEN)?;
        Ok(Self {
            schema: Cow::Owned(schema),
            table: self.table.clone(),
        })
    }

    pub fn schema(&self) -> &str {
        &self.schema
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// `"schema"."table"`, ready for SQL.
    pub fn qualified(&self) -> String {
        format!("\"{}\".\"{}\"", self.schema, self.table)
    }

    /// `"<table>_<suffix>"`, an index or constraint name derived from the
    /// table's. Indexes and constraints live in the table's schema, so the
    /// name is not schema-qualified.
    ///
    /// Pass every suffix used here to [`Self::new`] so the result fits; a
    /// crate's test building its DDL for the longest table name it accepts
    /// then fails here on a suffix that was left out.
    pub fn derived(&self, suffix: &str) -> String {
        let derived = format!("{}_{suffix}", self.table);
        debug_assert!(
            derived.len() <= MAX_IDENTIFIER_LEN,
            "{derived:?} would be truncated; pass {suffix:?} to QualifiedTableName::new"
        );
        format!("\"{derived}\"")
    }
}

impl fmt::Display for QualifiedTableName {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}.{}", self.schema, self.table)
    }
}

/// Checks that `schema` is a plain lowercase identifier, safe to splice
/// into SQL (what a service's configured schema must be).
pub fn validate_schema_name(schema: &str) -> Result<(), InvalidTableName> {
    validate_identifier("schema", schema, MAX_IDENTIFIER_LEN)
}

fn validate_identifier(
    kind: &'static str,
    name: &str,
    max_len: usize,
) -> Result<(), InvalidTableName> {
    let invalid = |reason| InvalidTableName {
        kind,
        name: name.to_owned(),
        reason,
    };
    let Some(first) = name.bytes().next() else {
        return Err(invalid("it is empty"));
    };
    if name.len() > max_len {
        return Err(invalid("it is too long"));
    }
    if !(first.is_ascii_lowercase() || first == b'_') {
        return Err(invalid("it must start with a lowercase letter or `_`"));
    }
    let plain = name
        .bytes()
        .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_');
    if !plain {
        return Err(invalid(
            "only lowercase ASCII letters, digits and `_` are allowed",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const SUFFIXES: [&str; 2] = ["pkey", "created_at_idx"];

    #[test]
    fn names_that_could_break_the_sql_are_refused() {
        for bad in [
            "",
            "Orders",
            "orders;drop",
            "or\"ders",
            "9orders",
            "orders-events",
            "ordérs",
        ] {
            let error = QualifiedTableName::new(bad, "events", &SUFFIXES).unwrap_err();
            assert_eq!(error.kind, "schema", "{bad}: {error}");
            assert_eq!(error.name, bad);
            let error = QualifiedTableName::new("orders", bad, &SUFFIXES).unwrap_err();
            assert_eq!(error.kind, "table", "{bad}: {error}");
        }
        for good in ["orders", "_orders", "t_test_1", "o2"] {
            assert!(
                QualifiedTableName::new(good, good, &SUFFIXES).is_ok(),
                "{good}"
            );
        }
    }

    #[test]
    fn the_table_leaves_room_for_the_longest_derived_name() {
        // `<table>_created_at_idx` must fit in 63 bytes.
        let longest_table = "t".repeat(MAX_IDENTIFIER_LEN - "_created_at_idx".len());
        let longest = QualifiedTableName::new("s", &longest_table, &SUFFIXES).unwrap();
        assert_eq!(
            longest.derived("created_at_idx").len(),
            MAX_IDENTIFIER_LEN + "\"\"".len()
        );
        assert!(QualifiedTableName::new("s", format!("{longest_table}t"), &SUFFIXES).is_err());

        // Without derived names the table may use all 63 bytes, like the schema.
        assert!(QualifiedTableName::new("s", "t".repeat(63), &[]).is_ok());
        assert!(QualifiedTableName::new("s", "t".repeat(64), &[]).is_err());
        assert!(QualifiedTableName::new("s".repeat(63), "t", &SUFFIXES).is_ok());
        assert!(QualifiedTableName::new("s".repeat(64), "t", &SUFFIXES).is_err());
    }

    #[test]
    #[should_panic(expected = "would be truncated")]
    fn a_derived_name_with_a_suffix_left_out_of_the_limit_is_caught() {
        let longest_table = "t".repeat(MAX_IDENTIFIER_LEN - "_pkey".len());
        let name = QualifiedTableName::new("s", longest_table, &["pkey"]).unwrap();
        name.derived("created_at_idx");
    }

    #[test]
    fn names_are_quoted_for_sql_and_plain_for_display() {
        let name = QualifiedTableName::new("orders", "events", &SUFFIXES).unwrap();
        assert_eq!(name.qualified(), "\"orders\".\"events\"");
        assert_eq!(name.derived("pkey"), "\"events_pkey\"");
        assert_eq!(name.to_string(), "orders.events");
        assert_eq!(name, QualifiedTableName::preset("orders", "events"));
    }

    #[test]
    fn in_schema_keeps_the_table_name_and_checks_the_schema() {
        let moved = QualifiedTableName::preset("orders", "events")
            .in_schema("t_test_1")
            .unwrap();
        assert_eq!(moved.to_string(), "t_test_1.events");
        assert_eq!(moved.qualified(), "\"t_test_1\".\"events\"");

        let error = moved.in_schema("Bad").unwrap_err();
        assert_eq!(error.kind, "schema");
        assert_eq!(
            error.to_string(),
            "invalid schema name \"Bad\": it must start with a lowercase letter or `_`"
        );
    }
}
