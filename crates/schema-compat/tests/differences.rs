//! Every difference kind, on a pair of small `.proto` texts compiled with
//! protoc, with the BACKWARD and FORWARD verdicts of the pair.
//!
//! BACKWARD: a reader with the new schema reads data written with the old one.
//! FORWARD: a reader with the old schema reads data written with the new one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{
    assert_difference, assert_verdicts, breaking_kinds, compare_orders, proto2, proto3, schema,
    schema_of,
};
use ecommerce_schema_compat::{
    Comparison, CompatibilityLevel, DifferenceKind, compare, compare_reserved,
};

const MONEY: &str = "message Money { int64 units = 1; string currency = 2; }";

// ---------------------------------------------------------------- package and messages

#[test]
fn package_changed_is_incompatible_both_ways() {
    let old = schema(&proto3("message Order { string id = 1; }"), "shop.v1.Order");
    let new = schema(
        "syntax = \"proto3\";\npackage shop.v2;\nmessage Order { string id = 1; }\n",
        "shop.v2.Order",
    );
    let comparison = Comparison::between(&old, &new);
    let difference = assert_difference(
        &comparison,
        DifferenceKind::PackageChanged,
        "#/",
        false,
        false,
    );
    assert_eq!(
        difference.message,
        "package of shop.v2.Order changed from shop.v1 to shop.v2"
    );
}

#[test]
fn the_compared_message_renamed_is_incompatible_both_ways() {
    let old = schema(&proto3("message Order { string id = 1; }"), "shop.v1.Order");
    let new = schema(
        &proto3("message Purchase { string id = 1; }"),
        "shop.v1.Purchase",
    );
    let comparison = Comparison::between(&old, &new);
    let difference = assert_difference(
        &comparison,
        DifferenceKind::MessageRenamed,
        "#/Purchase",
        false,
        false,
    );
    assert_eq!(
        difference.message,
        "message shop.v1.Order is now shop.v1.Purchase"
    );
}

#[test]
fn nested_message_added_is_compatible_both_ways() {
    let comparison = compare_orders(
        "message Order { string id = 1; }",
        "message Order { string id = 1; message Line { string sku = 1; } }",
    );
    let difference = assert_difference(
        &comparison,
        DifferenceKind::MessageAdded,
        "#/Order/Line",
        true,
        true,
    );
    assert_eq!(difference.message, "message shop.v1.Order.Line added");
    // FORWARD sees it as a removal, and words it from the old schema's view.
    let forward = ecommerce_schema_compat::Comparison::between(
        &schema(
            &proto3("message Order { string id = 1; message Line { string sku = 1; } }"),
            "shop.v1.Order",
        ),
        &schema(&proto3("message Order { string id = 1; }"), "shop.v1.Order"),
    );
    assert_difference(
        &forward,
        DifferenceKind::MessageRemoved,
        "#/Order/Line",
        true,
        true,
    );
}

#[test]
fn nested_message_removed_is_compatible_both_ways() {
    // A deviation from Confluent (MESSAGE_REMOVED is incompatible there): an
    // unused nested type is not on the wire; a field using it changes type.
    let comparison = compare_orders(
        "message Order { string id = 1; message Line { string sku = 1; } }",
        "message Order { string id = 1; }",
    );
    let difference = assert_difference(
        &comparison,
        DifferenceKind::MessageRemoved,
        "#/Order/Line",
        true,
        true,
    );
    assert_eq!(difference.message, "message shop.v1.Order.Line removed");
}

#[test]
fn nested_message_reordered_is_compatible_both_ways() {
    let comparison = compare_orders(
        "message Order { message A { int32 x = 1; } message B { int32 y = 1; } }",
        "message Order { message B { int32 y = 1; } message A { int32 x = 1; } }",
    );
    let difference = assert_difference(
        &comparison,
        DifferenceKind::MessageMoved,
        "#/Order/A",
        true,
        true,
    );
    assert_eq!(
        difference.message,
        "message shop.v1.Order.A moved from position 1 to 2 in shop.v1.Order"
    );
}

#[test]
fn compared_message_moved_in_its_file_is_compatible_both_ways() {
    let comparison = compare_orders(
        "message Order { string id = 1; } message Other { string x = 1; }",
        "message Other { string x = 1; } message Order { string id = 1; }",
    );
    assert_difference(
        &comparison,
        DifferenceKind::MessageMoved,
        "#/Order",
        true,
        true,
    );
}

#[test]
fn a_new_top_level_message_is_no_difference() {
    let comparison = compare_orders(
        "message Order { string id = 1; }",
        "message Order { string id = 1; } message Unrelated { string x = 1; }",
    );
    assert!(
        comparison.differences.is_empty(),
        "{:#?}",
        comparison.differences
    );
    assert_verdicts(&comparison, true, true);
}

// ---------------------------------------------------------------- enums

#[test]
fn nested_enum_added_is_compatible_both_ways() {
    let comparison = compare_orders(
        "message Order { string id = 1; }",
        "message Order { string id = 1; enum Kind { KIND_UNSPECIFIED = 0; } }",
    );
    let difference = assert_difference(
        &comparison,
        DifferenceKind::EnumAdded,
        "#/Order/Kind",
        true,
        true,
    );
    assert_eq!(difference.message, "enum shop.v1.Order.Kind added");
}

#[test]
fn nested_enum_removed_is_compatible_both_ways() {
    let comparison = compare_orders(
        "message Order { string id = 1; enum Kind { KIND_UNSPECIFIED = 0; } }",
        "message Order { string id = 1; }",
    );
    assert_difference(
        &comparison,
        DifferenceKind::EnumRemoved,
        "#/Order/Kind",
        true,
        true,
    );
}

const STATUS_V1: &str = "enum Status { STATUS_UNSPECIFIED = 0; STATUS_OPEN = 1; STATUS_DONE = 2; }";

#[test]
fn enum_value_added_is_compatible_both_ways() {
    let comparison = compare_orders(
        &format!("{STATUS_V1} message Order {{ Status status = 1; }}"),
        "enum Status { STATUS_UNSPECIFIED = 0; STATUS_OPEN = 1; STATUS_DONE = 2; STATUS_LOST = 3; }
         message Order { Status status = 1; }",
    );
    let difference = assert_difference(
        &comparison,
        DifferenceKind::EnumConstAdded,
        "#/Status/3",
        true,
        true,
    );
    assert_eq!(
        difference.message,
        "value 3 (STATUS_LOST) added to enum shop.v1.Status"
    );
}

#[test]
fn enum_value_removed_is_compatible_both_ways() {
    let comparison = compare_orders(
        &format!("{STATUS_V1} message Order {{ Status status = 1; }}"),
        "enum Status { STATUS_UNSPECIFIED = 0; STATUS_OPEN = 1; }
         message Order { Status status = 1; }",
    );
    let difference = assert_difference(
        &comparison,
        DifferenceKind::EnumConstRemoved,
        "#/Status/2",
        true,
        true,
    );
    assert_eq!(
        difference.message,
        "value 2 (STATUS_DONE) removed from enum shop.v1.Status"
    );
}

#[test]
fn enum_value_renamed_is_compatible_both_ways() {
    let comparison = compare_orders(
        &format!("{STATUS_V1} message Order {{ Status status = 1; }}"),
        "enum Status { STATUS_UNSPECIFIED = 0; STATUS_OPEN = 1; STATUS_CLOSED = 2; }
         message Order { Status status = 1; }",
    );
    let difference = assert_difference(
        &comparison,
        DifferenceKind::EnumConstChanged,
        "#/Status/2",
        true,
        true,
    );
    assert_eq!(
        difference.message,
        "value 2 of enum shop.v1.Status renamed from STATUS_DONE to STATUS_CLOSED"
    );
}

#[test]
fn nested_enum_values_are_compared_by_number() {
    let comparison = compare_orders(
        "message Order { enum Kind { KIND_UNSPECIFIED = 0; KIND_A = 1; } Kind kind = 1; }",
        "message Order { enum Kind { KIND_UNSPECIFIED = 0; KIND_B = 2; } Kind kind = 1; }",
    );
    assert_difference(
        &comparison,
        DifferenceKind::EnumConstRemoved,
        "#/Order/Kind/1",
        true,
        true,
    );
    assert_difference(
        &comparison,
        DifferenceKind::EnumConstAdded,
        "#/Order/Kind/2",
        true,
        true,
    );
    // Reached through the field and as a nested type: reported once.
    assert_eq!(
        comparison.differences.len(),
        2,
        "{:#?}",
        comparison.differences
    );
}

// ---------------------------------------------------------------- fields

#[test]
fn field_added_is_compatible_both_ways() {
    let comparison = compare_orders(
        "message Order { string id = 1; }",
        "message Order { string id = 1; int64 total = 2; }",
    );
    let difference = assert_difference(
        &comparison,
        DifferenceKind::FieldAdded,
        "#/Order/2",
        true,
        true,
    );
    assert_eq!(difference.message, "field 2 (total) added to shop.v1.Order");
    assert!(comparison.is_compatible(CompatibilityLevel::WireStrict));
}

#[test]
fn field_removed_is_compatible_both_ways_but_not_wire_strict_unless_reserved() {
    let comparison = compare_orders(
        "message Order { string id = 1; int64 total = 2; }",
        "message Order { string id = 1; }",
    );
    let difference = assert_difference(
        &comparison,
        DifferenceKind::FieldRemoved,
        "#/Order/2",
        true,
        true,
    );
    assert_eq!(
        difference.message,
        "field 2 (total) removed from shop.v1.Order"
    );
    assert_eq!(
        breaking_kinds(&comparison, CompatibilityLevel::WireStrict),
        [DifferenceKind::FieldRemovedNotReserved]
    );

    let reserved = compare_orders(
        "message Order { string id = 1; int64 total = 2; }",
        "message Order { string id = 1; reserved 2; reserved \"total\"; }",
    );
    assert_difference(
        &reserved,
        DifferenceKind::FieldRemoved,
        "#/Order/2",
        true,
        true,
    );
    assert!(reserved.is_compatible(CompatibilityLevel::WireStrict));
}

#[test]
fn field_renamed_is_compatible_both_ways() {
    let comparison = compare_orders(
        "message Order { string currency = 1; }",
        "message Order { string currency_code = 1; }",
    );
    let difference = assert_difference(
        &comparison,
        DifferenceKind::FieldNameChanged,
        "#/Order/1",
        true,
        true,
    );
    assert_eq!(
        difference.message,
        "field 1 of shop.v1.Order renamed from currency to currency_code"
    );
    assert!(comparison.is_compatible(CompatibilityLevel::WireStrict));
}

#[test]
fn field_kind_changed_is_incompatible_both_ways() {
    let comparison = compare_orders(
        &format!("{MONEY} message Order {{ string total = 1; }}"),
        &format!("{MONEY} message Order {{ Money total = 1; }}"),
    );
    let difference = assert_difference(
        &comparison,
        DifferenceKind::FieldKindChanged,
        "#/Order/1",
        false,
        false,
    );
    assert_eq!(
        difference.message,
        "field 1 (total) of shop.v1.Order changed type from string to message shop.v1.Money"
    );

    let map = compare_orders(
        "message Order { map<string, int64> totals = 1; }",
        "message Order { int64 totals = 1; }",
    );
    assert_difference(
        &map,
        DifferenceKind::FieldKindChanged,
        "#/Order/1",
        false,
        false,
    );

    let entries = compare_orders(
        "message Order { map<string, int64> totals = 1; }",
        "message Order { message Entry { string key = 1; int64 value = 2; } repeated Entry totals = 1; }",
    );
    assert_difference(
        &entries,
        DifferenceKind::FieldKindChanged,
        "#/Order/1",
        false,
        false,
    );
}

#[test]
fn field_scalar_kind_changed_is_incompatible_both_ways() {
    let comparison = compare_orders(
        "message Order { string currency = 3; }",
        "message Order { int64 currency = 3; }",
    );
    let difference = assert_difference(
        &comparison,
        DifferenceKind::FieldScalarKindChanged,
        "#/Order/3",
        false,
        false,
    );
    assert_eq!(
        difference.message,
        "field 3 (currency) of shop.v1.Order changed type from string to int64"
    );
    // FULL reports it once, with the same line in both directions.
    assert_eq!(
        breaking_kinds(&comparison, CompatibilityLevel::Full),
        [DifferenceKind::FieldScalarKindChanged]
    );
    let forward = &comparison
        .verdict(CompatibilityLevel::Forward)
        .incompatibilities;
    assert_eq!(forward[0].message, difference.message);
}

#[test]
fn scalar_changes_within_a_wire_group_are_compatible_and_across_groups_not() {
    let groups: &[&[&str]] = &[
        &["int32", "int64", "uint32", "uint64", "bool", "Status"],
        &["sint32", "sint64"],
        &["string", "bytes"],
        &["fixed32", "sfixed32"],
        &["fixed64", "sfixed64"],
        &["float"],
        &["double"],
    ];
    let status = "enum Status { STATUS_UNSPECIFIED = 0; }";
    // One schema per type, compiled once.
    let all: Vec<(usize, &str)> = groups
        .iter()
        .enumerate()
        .flat_map(|(group, types)| types.iter().map(move |ty| (group, *ty)))
        .collect();
    let schemas: Vec<_> = all
        .iter()
        .map(|(_, ty)| {
            schema(
                &proto3(&format!("{status} message Order {{ {ty} value = 1; }}")),
                "shop.v1.Order",
            )
        })
        .collect();
    for (old_index, (old_group, old_type)) in all.iter().enumerate() {
        for (new_index, (new_group, new_type)) in all.iter().enumerate() {
            let comparison = Comparison::between(&schemas[old_index], &schemas[new_index]);
            let same_group = old_group == new_group;
            assert_eq!(
                comparison.is_compatible(CompatibilityLevel::Full),
                same_group,
                "{old_type} -> {new_type}: {:#?}",
                comparison.differences
            );
            if !same_group {
                assert_difference(
                    &comparison,
                    DifferenceKind::FieldScalarKindChanged,
                    "#/Order/1",
                    false,
                    false,
                );
            }
        }
    }
}

#[test]
fn field_named_type_changed_is_incompatible_both_ways() {
    let comparison = compare_orders(
        &format!(
            "{MONEY} message Price {{ int64 units = 1; string currency = 2; }} message Order {{ Money total = 4; }}"
        ),
        &format!(
            "{MONEY} message Price {{ int64 units = 1; string currency = 2; }} message Order {{ Price total = 4; }}"
        ),
    );
    let difference = assert_difference(
        &comparison,
        DifferenceKind::FieldNamedTypeChanged,
        "#/Order/4",
        false,
        false,
    );
    assert_eq!(
        difference.message,
        "field 4 (total) of shop.v1.Order changed type from message shop.v1.Money to message shop.v1.Price"
    );
}

#[test]
fn an_incompatible_change_inside_a_referenced_message_breaks_the_referencing_field() {
    let money_v1 = "syntax = \"proto3\";\npackage common.v1;\nmessage Money { int64 units = 1; string currency = 2; }\n";
    let money_v2 = "syntax = \"proto3\";\npackage common.v1;\nmessage Money { string units = 1; string currency = 2; }\n";
    let order =
        proto3("import \"common/money.proto\";\nmessage Order { common.v1.Money total = 4; }");
    let old = schema_of(
        &[("common/money.proto", money_v1), ("order.proto", &order)],
        "shop.v1.Order",
    );
    let new = schema_of(
        &[("common/money.proto", money_v2), ("order.proto", &order)],
        "shop.v1.Order",
    );
    let comparison = Comparison::between(&old, &new);
    let inner = assert_difference(
        &comparison,
        DifferenceKind::FieldScalarKindChanged,
        "#/Money/1",
        false,
        false,
    );
    assert_eq!(
        inner.message,
        "field 1 (units) of common.v1.Money changed type from int64 to string"
    );
    let outer = assert_difference(
        &comparison,
        DifferenceKind::FieldNamedTypeChanged,
        "#/Order/4",
        false,
        false,
    );
    assert_eq!(
        outer.message,
        "field 4 (total) of shop.v1.Order has type common.v1.Money, which changed incompatibly (see #/Money)"
    );
}

#[test]
fn a_compatible_change_inside_a_referenced_message_keeps_the_field_compatible() {
    let comparison = compare_orders(
        &format!("{MONEY} message Order {{ Money total = 4; }}"),
        "message Money { int64 units = 1; string currency = 2; int32 nanos = 3; }
         message Order { Money total = 4; }",
    );
    assert_difference(
        &comparison,
        DifferenceKind::FieldAdded,
        "#/Money/3",
        true,
        true,
    );
    assert!(
        comparison
            .differences
            .iter()
            .all(|difference| difference.kind != DifferenceKind::FieldNamedTypeChanged)
    );
}

#[test]
fn nested_messages_are_compared_with_nested_paths() {
    let comparison = compare_orders(
        "message Order { message Line { string sku = 1; int32 quantity = 2; } repeated Line lines = 3; }",
        "message Order { message Line { string sku = 1; string quantity = 2; } repeated Line lines = 3; }",
    );
    assert_difference(
        &comparison,
        DifferenceKind::FieldScalarKindChanged,
        "#/Order/Line/2",
        false,
        false,
    );
    let outer = assert_difference(
        &comparison,
        DifferenceKind::FieldNamedTypeChanged,
        "#/Order/3",
        false,
        false,
    );
    assert!(
        outer.message.contains("(see #/Order/Line)"),
        "{}",
        outer.message
    );
    // The nested type is reached as a nested type and through the field: once.
    assert_eq!(
        comparison.differences.len(),
        2,
        "{:#?}",
        comparison.differences
    );
}

#[test]
fn recursive_messages_end_and_propagate_incompatibility() {
    let comparison = compare_orders(
        "message Node { string name = 1; Node child = 2; Leaf leaf = 3; }
         message Leaf { Node parent = 1; int32 weight = 2; }
         message Order { Node root = 1; }",
        "message Node { string name = 1; Node child = 2; Leaf leaf = 3; }
         message Leaf { Node parent = 1; double weight = 2; }
         message Order { Node root = 1; }",
    );
    assert_difference(
        &comparison,
        DifferenceKind::FieldScalarKindChanged,
        "#/Leaf/2",
        false,
        false,
    );
    // Every field on the cycle reaches the change.
    for path in ["#/Order/1", "#/Node/2", "#/Node/3", "#/Leaf/1"] {
        assert_difference(
            &comparison,
            DifferenceKind::FieldNamedTypeChanged,
            path,
            false,
            false,
        );
    }

    let unchanged = compare_orders(
        "message Node { Node child = 1; } message Order { Node root = 1; }",
        "message Node { Node child = 1; } message Order { Node root = 1; }",
    );
    assert!(unchanged.differences.is_empty());
}

#[test]
fn map_value_changes_are_compared_like_fields() {
    let comparison = compare_orders(
        "message Order { map<string, int32> counts = 1; }",
        "message Order { map<string, string> counts = 1; }",
    );
    let difference = assert_difference(
        &comparison,
        DifferenceKind::FieldScalarKindChanged,
        "#/Order/1",
        false,
        false,
    );
    assert_eq!(
        difference.message,
        "the map value of field 1 (counts) of shop.v1.Order changed type from int32 to string"
    );
    let widened = compare_orders(
        "message Order { map<int32, int32> counts = 1; }",
        "message Order { map<int64, int64> counts = 1; }",
    );
    assert!(widened.differences.is_empty(), "{:#?}", widened.differences);
}

#[test]
fn numeric_label_changed_is_incompatible_both_ways() {
    let comparison = compare_orders(
        "message Order { int32 quantity = 1; }",
        "message Order { repeated int32 quantity = 1; }",
    );
    let difference = assert_difference(
        &comparison,
        DifferenceKind::FieldNumericLabelChanged,
        "#/Order/1",
        false,
        false,
    );
    assert_eq!(
        difference.message,
        "field 1 (quantity) of shop.v1.Order changed from singular to repeated"
    );
    let enums = compare_orders(
        "enum Status { STATUS_UNSPECIFIED = 0; } message Order { repeated Status status = 1; }",
        "enum Status { STATUS_UNSPECIFIED = 0; } message Order { Status status = 1; }",
    );
    assert_difference(
        &enums,
        DifferenceKind::FieldNumericLabelChanged,
        "#/Order/1",
        false,
        false,
    );
}

#[test]
fn string_or_bytes_label_changed_is_compatible_both_ways() {
    let comparison = compare_orders(
        "message Order { string tag = 1; }",
        "message Order { repeated bytes tag = 1; }",
    );
    assert_difference(
        &comparison,
        DifferenceKind::FieldStringOrBytesLabelChanged,
        "#/Order/1",
        true,
        true,
    );
}

#[test]
fn message_label_changed_is_compatible_both_ways() {
    let comparison = compare_orders(
        &format!("{MONEY} message Order {{ Money total = 1; }}"),
        &format!("{MONEY} message Order {{ repeated Money total = 1; }}"),
    );
    assert_difference(
        &comparison,
        DifferenceKind::FieldMessageLabelChanged,
        "#/Order/1",
        true,
        true,
    );
}

#[test]
fn proto3_optional_is_no_label_and_no_oneof() {
    let comparison = compare_orders(
        "message Order { int64 version = 1; string note = 2; }",
        "message Order { optional int64 version = 1; optional string note = 2; }",
    );
    assert!(
        comparison.differences.is_empty(),
        "{:#?}",
        comparison.differences
    );
}

// ---------------------------------------------------------------- proto2 required

fn compare_proto2(old_body: &str, new_body: &str) -> Comparison {
    Comparison::between(
        &schema(&proto2(old_body), "shop.v1.Order"),
        &schema(&proto2(new_body), "shop.v1.Order"),
    )
}

#[test]
fn required_field_added_is_incompatible_both_ways() {
    let comparison = compare_proto2(
        "message Order { optional string id = 1; }",
        "message Order { optional string id = 1; required int64 total = 2; }",
    );
    let difference = assert_difference(
        &comparison,
        DifferenceKind::RequiredFieldAdded,
        "#/Order/2",
        false,
        false,
    );
    assert_eq!(
        difference.message,
        "required field 2 (total) added to shop.v1.Order"
    );
    // FORWARD finds it the other way round, but words it the same way.
    let forward = &comparison
        .verdict(CompatibilityLevel::Forward)
        .incompatibilities;
    assert_eq!(forward[0].kind, DifferenceKind::RequiredFieldRemoved);
    assert_eq!(forward[0].message, difference.message);
}

#[test]
fn required_field_removed_is_incompatible_both_ways() {
    let comparison = compare_proto2(
        "message Order { optional string id = 1; required int64 total = 2; }",
        "message Order { optional string id = 1; }",
    );
    let difference = assert_difference(
        &comparison,
        DifferenceKind::RequiredFieldRemoved,
        "#/Order/2",
        false,
        false,
    );
    assert_eq!(
        difference.message,
        "required field 2 (total) removed from shop.v1.Order"
    );
}

#[test]
fn required_changed_to_optional_is_incompatible_both_ways() {
    let comparison = compare_proto2(
        "message Order { required string id = 1; }",
        "message Order { optional string id = 1; }",
    );
    let difference = assert_difference(
        &comparison,
        DifferenceKind::FieldRequiredChanged,
        "#/Order/1",
        false,
        false,
    );
    assert_eq!(
        difference.message,
        "field 1 (id) of shop.v1.Order changed from required to singular"
    );
}

#[test]
fn a_group_is_its_own_kind() {
    let comparison = compare_proto2(
        "message Order { optional group Note = 1 { optional string text = 2; } }",
        "message Order { message Note { optional string text = 2; } optional Note note = 1; }",
    );
    assert_difference(
        &comparison,
        DifferenceKind::FieldKindChanged,
        "#/Order/1",
        false,
        false,
    );
}

// ---------------------------------------------------------------- oneofs

#[test]
fn oneof_added_is_compatible_both_ways() {
    let comparison = compare_orders(
        "message Order { string id = 1; }",
        "message Order { string id = 1; oneof payment { string card = 2; string iban = 3; } }",
    );
    let difference = assert_difference(
        &comparison,
        DifferenceKind::OneofAdded,
        "#/Order/payment",
        true,
        true,
    );
    assert_eq!(difference.message, "oneof payment added to shop.v1.Order");
}

#[test]
fn oneof_removed_is_compatible_both_ways() {
    let comparison = compare_orders(
        "message Order { string id = 1; oneof payment { string card = 2; string iban = 3; } }",
        "message Order { string id = 1; reserved 2, 3; }",
    );
    assert_difference(
        &comparison,
        DifferenceKind::OneofRemoved,
        "#/Order/payment",
        true,
        true,
    );
    assert!(comparison.is_compatible(CompatibilityLevel::WireStrict));
}

#[test]
fn oneof_field_added_is_compatible_backward_only() {
    // A reader with the old schema does not see the new case: the oneof
    // looks unset (Confluent: ONEOF_FIELD_REMOVED in the forward direction).
    let comparison = compare_orders(
        "message Order { oneof payment { string card = 2; } }",
        "message Order { oneof payment { string card = 2; string iban = 3; } }",
    );
    let difference = assert_difference(
        &comparison,
        DifferenceKind::OneofFieldAdded,
        "#/Order/payment/3",
        true,
        false,
    );
    assert_eq!(
        difference.message,
        "field 3 (iban) added to oneof payment of shop.v1.Order"
    );
    assert_eq!(
        breaking_kinds(&comparison, CompatibilityLevel::Forward),
        [DifferenceKind::OneofFieldRemoved]
    );
}

#[test]
fn oneof_field_removed_is_incompatible_backward() {
    let comparison = compare_orders(
        "message Order { oneof payment { string card = 2; string iban = 3; } }",
        "message Order { oneof payment { string card = 2; } reserved 3; }",
    );
    let difference = assert_difference(
        &comparison,
        DifferenceKind::OneofFieldRemoved,
        "#/Order/payment/3",
        false,
        true,
    );
    assert_eq!(
        difference.message,
        "field 3 (iban) removed from oneof payment of shop.v1.Order"
    );
}

#[test]
fn one_field_into_a_new_oneof_is_compatible_both_ways() {
    let comparison = compare_orders(
        "message Order { string card = 2; }",
        "message Order { oneof payment { string card = 2; string iban = 3; } }",
    );
    assert_difference(
        &comparison,
        DifferenceKind::OneofAdded,
        "#/Order/payment",
        true,
        true,
    );
}

#[test]
fn multiple_fields_moved_to_a_oneof_is_incompatible_backward() {
    let comparison = compare_orders(
        "message Order { string card = 2; string iban = 3; }",
        "message Order { oneof payment { string card = 2; string iban = 3; } }",
    );
    let difference = assert_difference(
        &comparison,
        DifferenceKind::MultipleFieldsMovedToOneof,
        "#/Order/payment",
        false,
        true,
    );
    assert_eq!(
        difference.message,
        "fields 2, 3 of shop.v1.Order moved into oneof payment: data that sets several keeps only one"
    );

    // Out of a oneof: the old reader is the one that keeps only one.
    let out = compare_orders(
        "message Order { oneof payment { string card = 2; string iban = 3; } }",
        "message Order { string card = 2; string iban = 3; }",
    );
    assert_verdicts(&out, true, false);
    let forward = &out.verdict(CompatibilityLevel::Forward).incompatibilities;
    assert_eq!(forward[0].kind, DifferenceKind::MultipleFieldsMovedToOneof);
    assert_eq!(
        forward[0].message,
        "fields 2, 3 of shop.v1.Order moved out of oneof payment: a reader with the older schema keeps only one of them"
    );
}

#[test]
fn field_moved_to_an_existing_oneof_is_incompatible_backward() {
    let comparison = compare_orders(
        "message Order { oneof payment { string card = 2; } string iban = 3; }",
        "message Order { oneof payment { string card = 2; string iban = 3; } }",
    );
    assert_difference(
        &comparison,
        DifferenceKind::FieldMovedToExistingOneof,
        "#/Order/payment",
        false,
        true,
    );
}

#[test]
fn type_changes_of_oneof_members_are_found_by_number() {
    let comparison = compare_orders(
        "message Order { oneof payment { string card = 2; } }",
        "message Order { oneof method { int64 card = 2; } }",
    );
    assert_difference(
        &comparison,
        DifferenceKind::FieldScalarKindChanged,
        "#/Order/2",
        false,
        false,
    );
}

// ---------------------------------------------------------------- WIRE_STRICT

fn strict(old_body: &str, new_body: &str) -> Vec<(DifferenceKind, String)> {
    let old = schema(&proto3(old_body), "shop.v1.Order");
    let new = schema(&proto3(new_body), "shop.v1.Order");
    compare_reserved(&old, &new)
        .into_iter()
        .map(|difference| (difference.kind, difference.path))
        .collect()
}

#[test]
fn wire_strict_wants_removed_numbers_reserved_in_nested_messages_too() {
    let comparison = compare_orders(
        "message Order { message Line { string sku = 1; int32 quantity = 2; } repeated Line lines = 1; }",
        "message Order { message Line { string sku = 1; } repeated Line lines = 1; }",
    );
    assert_verdicts(&comparison, true, true);
    let strict = &comparison
        .verdict(CompatibilityLevel::WireStrict)
        .incompatibilities;
    assert_eq!(strict.len(), 1, "{strict:#?}");
    assert_eq!(strict[0].kind, DifferenceKind::FieldRemovedNotReserved);
    assert_eq!(strict[0].path, "#/Order/Line/2");
    assert_eq!(
        strict[0].message,
        "field 2 (quantity) removed from shop.v1.Order.Line without reserving its number (add `reserved 2;`)"
    );
}

#[test]
fn wire_strict_rejects_reusing_a_reserved_number_or_name() {
    assert_eq!(
        strict(
            "message Order { string id = 1; reserved 2 to 4; reserved \"total\"; }",
            "message Order { string id = 1; int64 amount = 3; reserved 2, 4; reserved \"total\"; }",
        ),
        [(DifferenceKind::ReservedNumberReused, "#/Order/3".to_owned())]
    );
    assert_eq!(
        strict(
            "message Order { string id = 1; reserved 2; reserved \"total\"; }",
            "message Order { string id = 1; int64 total = 5; reserved 2; }",
        ),
        [(DifferenceKind::ReservedNameReused, "#/Order/5".to_owned())]
    );
}

#[test]
fn wire_strict_rejects_dropping_a_reservation() {
    let comparison = compare_orders(
        "message Order { string id = 1; reserved 2 to 5; }",
        "message Order { string id = 1; reserved 2, 5; }",
    );
    assert_verdicts(&comparison, true, true);
    let strict = &comparison
        .verdict(CompatibilityLevel::WireStrict)
        .incompatibilities;
    assert_eq!(strict.len(), 1, "{strict:#?}");
    assert_eq!(strict[0].kind, DifferenceKind::ReservedNumberDropped);
    assert_eq!(
        strict[0].message,
        "shop.v1.Order no longer reserves 3 to 4, which the older schema reserved"
    );
}

#[test]
fn compare_lists_nothing_for_identical_schemas() {
    let text = proto3(&format!(
        "{MONEY} {STATUS_V1} message Order {{ string id = 1; Money total = 2; Status status = 3;
           map<string, Money> parts = 4; oneof payment {{ string card = 5; string iban = 6; }}
           message Line {{ string sku = 1; }} repeated Line lines = 7; reserved 8; }}"
    ));
    let old = schema(&text, "shop.v1.Order");
    let new = schema(&text, "shop.v1.Order");
    assert!(compare(&old, &new).is_empty());
    assert!(compare_reserved(&old, &new).is_empty());
    let comparison = Comparison::between(&old, &new);
    assert!(
        comparison
            .verdicts
            .iter()
            .all(|verdict| verdict.is_compatible())
    );
}

#[test]
fn every_kind_is_covered_by_a_test_above() {
    // A reminder to extend this file: the kinds the tests above assert on.
    let covered = [
        DifferenceKind::PackageChanged,
        DifferenceKind::MessageRenamed,
        DifferenceKind::MessageAdded,
        DifferenceKind::MessageRemoved,
        DifferenceKind::MessageMoved,
        DifferenceKind::EnumAdded,
        DifferenceKind::EnumRemoved,
        DifferenceKind::EnumConstAdded,
        DifferenceKind::EnumConstChanged,
        DifferenceKind::EnumConstRemoved,
        DifferenceKind::FieldAdded,
        DifferenceKind::FieldRemoved,
        DifferenceKind::FieldNameChanged,
        DifferenceKind::FieldKindChanged,
        DifferenceKind::FieldScalarKindChanged,
        DifferenceKind::FieldNamedTypeChanged,
        DifferenceKind::FieldNumericLabelChanged,
        DifferenceKind::FieldStringOrBytesLabelChanged,
        DifferenceKind::FieldMessageLabelChanged,
        DifferenceKind::FieldRequiredChanged,
        DifferenceKind::RequiredFieldAdded,
        DifferenceKind::RequiredFieldRemoved,
        DifferenceKind::OneofAdded,
        DifferenceKind::OneofRemoved,
        DifferenceKind::OneofFieldAdded,
        DifferenceKind::OneofFieldRemoved,
        DifferenceKind::MultipleFieldsMovedToOneof,
        DifferenceKind::FieldMovedToExistingOneof,
        DifferenceKind::FieldRemovedNotReserved,
        DifferenceKind::ReservedNumberReused,
        DifferenceKind::ReservedNameReused,
        DifferenceKind::ReservedNumberDropped,
    ];
    assert_eq!(covered.as_slice(), DifferenceKind::ALL.as_slice());
}
