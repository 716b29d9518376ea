//! Runs the generator on small fixture contracts, compiled with the vendored
//! protoc, to prove that the rules which keep the event table sound fail the
//! build when broken.

// In tests a failed expectation is a test failure with its message.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use ecommerce_event_codegen::{CodegenError, EventDefinition, collect_events, generate};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Compiles every .proto of one fixture (plus the real event options) into an
/// encoded FileDescriptorSet, the same shape the proto crate's build produces.
fn compile_fixture(name: &str) -> Vec<u8> {
    let root = fixtures_dir().join(name);
    let repo_proto = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let mut files = Vec::new();
    collect(&root, &mut files);
    let out = tempfile::NamedTempFile::new().expect("temp file");
    let status = Command::new(protoc_bin_vendored::protoc_bin_path().expect("vendored protoc"))
        .arg("--include_imports")
        .arg(format!("--descriptor_set_out={}", out.path().display()))
        .arg(format!("-I{}", root.display()))
        .arg(format!("-I{}", repo_proto.display()))
        .arg(format!(
            "-I{}",
            protoc_bin_vendored::include_path()
                .expect("include")
                .display()
        ))
        .args(&files)
        .status()
        .expect("protoc runs");
    assert!(status.success(), "protoc failed on fixture {name}");
    std::fs::read(out.path()).expect("descriptor set")
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("fixture dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "proto") {
            files.push(path);
        }
    }
}

#[test]
fn valid_fixture_yields_exactly_the_marked_messages() {
    let events = collect_events(&compile_fixture("valid")).expect("valid fixture");
    assert_eq!(
        events,
        vec![
            EventDefinition {
                event_type: "shop.other.thing_happened.v2".into(),
                message_name: "fixture.shop.v2.OtherThingHappened".into(),
                version: 2,
            },
            EventDefinition {
                event_type: "shop.thing_happened.v2".into(),
                message_name: "fixture.shop.v2.ThingHappened".into(),
                version: 2,
            },
        ]
    );
}

#[test]
fn generated_source_names_every_event() {
    let source = generate(&compile_fixture("valid"), "::fixture_proto").expect("valid fixture");
    assert!(
        source.contains("ShopThingHappenedV2(::fixture_proto::fixture::shop::v2::ThingHappened)")
    );
    assert!(source.contains("\"shop.other.thing_happened.v2\" => Some("));
    assert!(
        !source.contains("Helper"),
        "a message without the option became an event"
    );
}

#[test]
fn duplicate_event_type_is_rejected() {
    let error = collect_events(&compile_fixture("duplicate")).expect_err("duplicate accepted");
    match error {
        CodegenError::DuplicateEventType {
            event_type,
            first,
            second,
        } => {
            assert_eq!(event_type, "shop.thing_happened.v1");
            let mut names = [first, second];
            names.sort();
            assert_eq!(
                names,
                [
                    "fixture.shop.v1.ThingHappened",
                    "fixture.shop.v1.ThingHappenedAgain"
                ]
            );
        }
        other => panic!("unexpected error: {other}"),
    }
}

#[test]
fn version_mismatch_is_rejected() {
    let error =
        collect_events(&compile_fixture("version_mismatch")).expect_err("mismatch accepted");
    assert!(
        matches!(
            &error,
            CodegenError::VersionMismatch { type_version: 1, package_version: 2, package, .. }
                if package == "fixture.shop.v2"
        ),
        "unexpected error: {error}"
    );
    assert!(error.to_string().contains("needs a new package version"));
}

#[test]
fn unversioned_package_is_rejected() {
    let error = collect_events(&compile_fixture("unversioned")).expect_err("accepted");
    assert!(
        matches!(error, CodegenError::UnversionedPackage { .. }),
        "unexpected error: {error}"
    );
}

#[test]
fn nested_event_message_is_rejected() {
    let error = collect_events(&compile_fixture("nested")).expect_err("accepted");
    assert!(
        matches!(error, CodegenError::NestedEventMessage { .. }),
        "unexpected error: {error}"
    );
}

#[test]
fn malformed_event_type_is_rejected() {
    let error = collect_events(&compile_fixture("malformed_type")).expect_err("accepted");
    assert!(
        matches!(error, CodegenError::MalformedEventType { .. }),
        "unexpected error: {error}"
    );
}

#[test]
fn garbage_descriptor_set_is_an_error() {
    let error = collect_events(b"\xff\xff\xff not a descriptor set").expect_err("accepted");
    assert!(
        matches!(error, CodegenError::Descriptor(_)),
        "unexpected error: {error}"
    );
}
