//! The event check over this repository's protos: the committed baseline
//! `proto/released.binpb` (a buf image) against the `proto/` tree compiled
//! with protoc, unchanged and with breaking edits.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};

use common::descriptor_set;
use ecommerce_schema_compat::{
    CompatibilityLevel, DifferenceKind, EVENT_TYPE_OPTION, EventCheckError, EventCheckReport,
    Problem, check_event_messages, decode_descriptor_set,
};
use prost_reflect::DescriptorPool;

const ENVELOPE: &str = "ecommerce.events.v1.EventEnvelope";
const ORDER_EVENTS: &str = "ecommerce/orders/v1/events.proto";

fn proto_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto")
}

fn baseline() -> DescriptorPool {
    let bytes = std::fs::read(proto_root().join("released.binpb")).unwrap();
    decode_descriptor_set(&bytes).unwrap()
}

/// Every `.proto` of the tree, by path relative to `proto/`.
fn proto_files() -> Vec<(String, String)> {
    fn walk(dir: &Path, root: &Path, files: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, files);
            } else if path
                .extension()
                .is_some_and(|extension| extension == "proto")
            {
                let name = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                files.push((name, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    let root = proto_root();
    let mut files = Vec::new();
    walk(&root, &root, &mut files);
    files.sort();
    files
}

/// The tree compiled with protoc after `edit` replaced `from` by `to` in `file`.
fn current_with(file: &str, from: &str, to: &str) -> DescriptorPool {
    let mut files = proto_files();
    let (_, text) = files.iter_mut().find(|(name, _)| name == file).unwrap();
    assert!(text.contains(from), "{file} has no `{from}`");
    *text = text.replacen(from, to, 1);
    let borrowed: Vec<(&str, &str)> = files
        .iter()
        .map(|(name, text)| (name.as_str(), text.as_str()))
        .collect();
    decode_descriptor_set(&descriptor_set(&borrowed)).unwrap()
}

fn check(current: &DescriptorPool) -> EventCheckReport {
    check_event_messages(
        &baseline(),
        current,
        &[ENVELOPE],
        CompatibilityLevel::WireStrict,
    )
    .unwrap()
}

fn lines(report: &EventCheckReport) -> Vec<String> {
    report.findings.iter().map(ToString::to_string).collect()
}

#[test]
fn the_baseline_image_decodes_and_defines_the_option() {
    let pool = baseline();
    assert!(pool.get_extension_by_name(EVENT_TYPE_OPTION).is_some());
    let report =
        check_event_messages(&pool, &pool, &[ENVELOPE], CompatibilityLevel::WireStrict).unwrap();
    assert!(report.is_compatible(), "{:#?}", report.findings);
    assert!(
        report
            .checked
            .contains(&"ecommerce.orders.v1.OrderPlaced".to_owned())
    );
    assert!(report.checked.contains(&ENVELOPE.to_owned()));
}

#[test]
fn the_current_protos_keep_the_released_contracts() {
    let report = check(&current_with(ORDER_EVENTS, "", ""));
    assert!(report.is_compatible(), "{:#?}", lines(&report));
}

#[test]
fn a_field_removed_without_reserving_it_is_reported_per_event() {
    let report = check(&current_with(
        ORDER_EVENTS,
        "  string shipping_option_id = 7;\n",
        "",
    ));
    assert_eq!(
        lines(&report),
        [
            "orders.order_placed.v1 ecommerce.orders.v1.OrderPlaced: #/OrderPlaced/7: field 7 (shipping_option_id) removed from ecommerce.orders.v1.OrderPlaced without reserving its number (add `reserved 7;`)"
        ]
    );

    let reserved = check(&current_with(
        ORDER_EVENTS,
        "  string shipping_option_id = 7;\n",
        "  reserved 7;\n  reserved \"shipping_option_id\";\n",
    ));
    assert!(reserved.is_compatible(), "{:#?}", lines(&reserved));
}

#[test]
fn a_type_change_in_the_envelope_is_reported() {
    let report = check(&current_with(
        "ecommerce/events/v1/envelope.proto",
        "message AggregateRef {\n  string type = 1;\n  string id = 2;",
        "message AggregateRef {\n  string type = 1;\n  int64 id = 2;",
    ));
    let kinds: Vec<DifferenceKind> = report
        .findings
        .iter()
        .map(|finding| match &finding.problem {
            Problem::Incompatible(difference) => difference.kind,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            DifferenceKind::FieldNamedTypeChanged,
            DifferenceKind::FieldScalarKindChanged
        ],
        "{:#?}",
        lines(&report)
    );
    assert!(
        report
            .findings
            .iter()
            .all(|finding| finding.message == ENVELOPE)
    );
}

#[test]
fn a_renamed_event_message_is_reported_as_removed() {
    let report = check(&current_with(
        ORDER_EVENTS,
        "message OrderCanceled {",
        "message OrderCancelled {",
    ));
    assert_eq!(report.findings.len(), 1, "{:#?}", lines(&report));
    assert_eq!(
        report.findings[0].problem,
        Problem::Removed {
            event_type_now_on: Some("ecommerce.orders.v1.OrderCancelled".to_owned())
        }
    );
    assert!(lines(&report)[0].starts_with(
        "orders.order_canceled.v1 ecommerce.orders.v1.OrderCanceled: #/OrderCanceled: message ecommerce.orders.v1.OrderCanceled removed"
    ));
}

#[test]
fn a_changed_or_dropped_event_type_is_reported() {
    let changed = check(&current_with(
        ORDER_EVENTS,
        "\"orders.order_confirmed.v1\"",
        "\"orders.order_approved.v1\"",
    ));
    assert_eq!(
        changed.findings[0].problem,
        Problem::EventTypeChanged {
            current: "orders.order_approved.v1".to_owned()
        }
    );

    let dropped = check(&current_with(
        ORDER_EVENTS,
        "option (ecommerce.events.v1.event_type) = \"orders.order_confirmed.v1\";",
        "",
    ));
    assert_eq!(dropped.findings[0].problem, Problem::NoLongerAnEvent);
}

#[test]
fn a_baseline_without_the_option_cannot_be_checked() {
    let bytes = descriptor_set(&[(
        "a.proto",
        "syntax = \"proto3\";\npackage a;\nmessage A { string x = 1; }\n",
    )]);
    let pool = decode_descriptor_set(&bytes).unwrap();
    assert_eq!(
        check_event_messages(&pool, &pool, &[], CompatibilityLevel::WireStrict).unwrap_err(),
        EventCheckError::OptionNotDefined(EVENT_TYPE_OPTION.to_owned())
    );
}
