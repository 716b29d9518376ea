//! `check`: which previous versions each level looks at.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{proto3, schema};
use ecommerce_schema_compat::{
    CompatibilityLevel, DifferenceKind, Incompatibility, MessageSchema, PreviousVersion, check,
};

fn order(body: &str) -> MessageSchema {
    schema(
        &proto3(&format!("message Order {{ {body} }}")),
        "shop.v1.Order",
    )
}

fn kinds_by_version(incompatibilities: &[Incompatibility]) -> Vec<(i32, DifferenceKind)> {
    incompatibilities
        .iter()
        .map(|incompatibility| (incompatibility.version, incompatibility.difference.kind))
        .collect()
}

#[test]
fn plain_levels_check_the_latest_version_and_transitive_ones_all() {
    // v1 had `total` as int64; v2 dropped it (reserving the number); the
    // candidate brings number 2 back as a string.
    let v1 = order("string id = 1; int64 total = 2;");
    let v2 = order("string id = 1; reserved 2;");
    let candidate = order("string id = 1; string total = 2;");
    let previous = [
        PreviousVersion {
            version: 1,
            schema: &v1,
        },
        PreviousVersion {
            version: 2,
            schema: &v2,
        },
    ];

    // Against v2 alone, adding field 2 is compatible both ways.
    for level in [
        CompatibilityLevel::Backward,
        CompatibilityLevel::Forward,
        CompatibilityLevel::Full,
        CompatibilityLevel::None,
    ] {
        assert!(check(level, &candidate, &previous).is_empty(), "{level}");
    }
    // Against v1, number 2 changed type.
    for level in [
        CompatibilityLevel::BackwardTransitive,
        CompatibilityLevel::ForwardTransitive,
        CompatibilityLevel::FullTransitive,
    ] {
        assert_eq!(
            kinds_by_version(&check(level, &candidate, &previous)),
            [(1, DifferenceKind::FieldScalarKindChanged)],
            "{level}"
        );
    }
    // WIRE_STRICT also sees v2's reservation reused.
    assert_eq!(
        kinds_by_version(&check(
            CompatibilityLevel::WireStrict,
            &candidate,
            &previous
        )),
        [
            (1, DifferenceKind::FieldScalarKindChanged),
            (2, DifferenceKind::ReservedNumberReused),
        ]
    );
}

#[test]
fn wire_strict_remembers_what_any_older_version_reserved() {
    let v1 = order("string id = 1; reserved 7; reserved \"legacy\";");
    let v2 = order("string id = 1;");
    let candidate = order("string id = 1; int32 legacy = 7;");
    let previous = [
        PreviousVersion {
            version: 1,
            schema: &v1,
        },
        PreviousVersion {
            version: 2,
            schema: &v2,
        },
    ];
    assert!(check(CompatibilityLevel::FullTransitive, &candidate, &previous).is_empty());
    assert_eq!(
        kinds_by_version(&check(
            CompatibilityLevel::WireStrict,
            &candidate,
            &previous
        )),
        [
            (1, DifferenceKind::ReservedNumberReused),
            (1, DifferenceKind::ReservedNameReused),
        ]
    );
    // v2 dropping v1's reservation is itself a WIRE_STRICT break.
    assert_eq!(
        kinds_by_version(&check(
            CompatibilityLevel::WireStrict,
            &v2,
            &[PreviousVersion {
                version: 1,
                schema: &v1
            }]
        )),
        [(1, DifferenceKind::ReservedNumberDropped)]
    );
}

#[test]
fn no_previous_version_means_compatible() {
    let candidate = order("string id = 1;");
    for level in CompatibilityLevel::ALL {
        assert!(check(level, &candidate, &[]).is_empty(), "{level}");
    }
}

#[test]
fn incompatibilities_display_path_line_and_version() {
    let v1 = order("string currency = 3;");
    let candidate = order("int64 currency = 3;");
    let incompatibilities = check(
        CompatibilityLevel::Backward,
        &candidate,
        &[PreviousVersion {
            version: 4,
            schema: &v1,
        }],
    );
    assert_eq!(incompatibilities.len(), 1);
    assert_eq!(
        incompatibilities[0].to_string(),
        "#/Order/3: field 3 (currency) of shop.v1.Order changed type from string to int64 (version 4)"
    );
}
