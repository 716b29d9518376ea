//! Compiles `.proto` texts with the vendored protoc, for the integration tests.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

use ecommerce_schema_compat::{
    Comparison, CompatibilityLevel, Difference, DifferenceKind, MessageSchema,
};

/// The encoded `FileDescriptorSet` of `files` (name, text), imports included:
/// `protoc --include_imports --descriptor_set_out=... -I dir <every file>`.
pub fn descriptor_set(files: &[(&str, &str)]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
    }
    let out = dir.path().join("set.binpb");
    run_protoc(dir.path(), &out, files.iter().map(|(name, _)| *name));
    std::fs::read(&out).unwrap()
}

fn run_protoc<'a>(dir: &Path, out: &Path, files: impl Iterator<Item = &'a str>) {
    let protoc = protoc_bin_vendored::protoc_bin_path().unwrap();
    let include = protoc_bin_vendored::include_path().unwrap();
    let output = Command::new(protoc)
        .arg("--include_imports")
        .arg(format!("--descriptor_set_out={}", out.display()))
        .arg("-I")
        .arg(dir)
        .arg("-I")
        .arg(include)
        .args(files)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "protoc failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `message` of a one-file schema `test.proto`.
pub fn schema(text: &str, message: &str) -> MessageSchema {
    schema_of(&[("test.proto", text)], message)
}

pub fn schema_of(files: &[(&str, &str)], message: &str) -> MessageSchema {
    MessageSchema::from_descriptor_set(&descriptor_set(files), message).unwrap()
}

/// A proto3 file of package `shop.v1`.
pub fn proto3(body: &str) -> String {
    format!("syntax = \"proto3\";\npackage shop.v1;\n{body}\n")
}

/// A proto2 file of package `shop.v1`.
pub fn proto2(body: &str) -> String {
    format!("syntax = \"proto2\";\npackage shop.v1;\n{body}\n")
}

/// The comparison of `shop.v1.Order` in two proto3 bodies.
pub fn compare_orders(old_body: &str, new_body: &str) -> Comparison {
    let old = schema(&proto3(old_body), "shop.v1.Order");
    let new = schema(&proto3(new_body), "shop.v1.Order");
    Comparison::between(&old, &new)
}

/// Asserts the comparison lists a `kind` difference at `path`, and the
/// verdicts of BACKWARD (a reader with the new schema reads old data) and
/// FORWARD (a reader with the old schema reads new data). Returns the
/// difference.
pub fn assert_difference(
    comparison: &Comparison,
    kind: DifferenceKind,
    path: &str,
    backward_compatible: bool,
    forward_compatible: bool,
) -> Difference {
    let found = comparison
        .differences
        .iter()
        .find(|difference| difference.kind == kind && difference.path == path)
        .unwrap_or_else(|| panic!("no {kind} at {path} in {:#?}", comparison.differences))
        .clone();
    assert_verdicts(comparison, backward_compatible, forward_compatible);
    found
}

/// Asserts the BACKWARD and FORWARD verdicts (and that FULL is their
/// conjunction, the transitive levels agree with the plain ones on one pair,
/// and NONE accepts anything).
pub fn assert_verdicts(
    comparison: &Comparison,
    backward_compatible: bool,
    forward_compatible: bool,
) {
    let backward = comparison.is_compatible(CompatibilityLevel::Backward);
    let forward = comparison.is_compatible(CompatibilityLevel::Forward);
    assert_eq!(
        (backward, forward),
        (backward_compatible, forward_compatible),
        "(backward, forward) verdicts; backward: {:#?}, forward: {:#?}",
        comparison
            .verdict(CompatibilityLevel::Backward)
            .incompatibilities,
        comparison
            .verdict(CompatibilityLevel::Forward)
            .incompatibilities,
    );
    let full = backward_compatible && forward_compatible;
    assert_eq!(comparison.is_compatible(CompatibilityLevel::Full), full);
    assert_eq!(
        comparison.is_compatible(CompatibilityLevel::BackwardTransitive),
        backward_compatible
    );
    assert_eq!(
        comparison.is_compatible(CompatibilityLevel::ForwardTransitive),
        forward_compatible
    );
    assert_eq!(
        comparison.is_compatible(CompatibilityLevel::FullTransitive),
        full
    );
    assert!(comparison.is_compatible(CompatibilityLevel::None));
}

/// The kinds of the incompatibilities of `level`.
pub fn breaking_kinds(comparison: &Comparison, level: CompatibilityLevel) -> Vec<DifferenceKind> {
    comparison
        .verdict(level)
        .incompatibilities
        .iter()
        .map(|difference| difference.kind)
        .collect()
}
