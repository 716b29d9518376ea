//! A payload type that exists nowhere in `proto/`, compiled with protoc in a
//! tempdir; an in-memory schema source; envelopes built by hand.

use std::cell::Cell;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Once, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use ecommerce_events::{FetchedSchema, SchemaCache, SchemaFetchError, SchemaSource};
use ecommerce_proto::ecommerce::events::v1::{AggregateRef, EventEnvelope, SchemaRef};
use prost::Message as _;
use rand::{Rng, rngs::StdRng};

pub const WIDGET_SCHEMA_ID: i64 = 41;
pub const WIDGET_MESSAGE: &str = "test.dynamic.v1.WidgetPainted";
pub const WIDGET_EVENT_TYPE: &str = "test.widget_painted.v1";

/// Shared types in a file of their own, so the set needs `--include_imports`
/// for more than the well-known types.
pub const COMMON_PROTO: &str = r#"
syntax = "proto3";
package test.dynamic.v1;

enum Finish {
  FINISH_UNSPECIFIED = 0;
  FINISH_MATTE = 1;
  FINISH_GLOSS = 2;
}

message Nested {
  string color = 1;
  repeated uint32 layers = 2;
}
"#;

/// A payload type that exists nowhere in `proto/`.
pub const WIDGET_PROTO: &str = r#"
syntax = "proto3";
package test.dynamic.v1;

import "google/protobuf/any.proto";
import "google/protobuf/timestamp.proto";
import "test/dynamic/v1/common.proto";

message WidgetPainted {
  string widget_id = 1;
  int64 coats = 2;
  Nested n = 3;
  Finish finish = 4;
  repeated string tags = 5;
  map<string, int32> drying_minutes = 6;
  google.protobuf.Timestamp painted_at = 7;
  bytes signature = 8;
  optional bool touched_up = 9;
  google.protobuf.Any extra = 10;
}
"#;

/// A payload in protobuf text format, encoded by protoc (not by the library
/// under test).
pub const WIDGET_TEXT: &str = r#"
widget_id: "w-1"
coats: 3
n { color: "teal" layers: 1 layers: 2 }
finish: FINISH_GLOSS
tags: "a"
tags: "b"
drying_minutes { key: "first" value: 30 }
painted_at { seconds: 1767225600 nanos: 500000000 }
signature: "\001\002"
touched_up: false
extra {
  type_url: "type.googleapis.com/test.dynamic.v1.Nested"
  value: "\n\004pink"
}
"#;

/// The widget proto compiled (once per test binary): its descriptor set and protoc's
/// encoding of [`WIDGET_TEXT`].
pub struct CompiledWidget {
    pub descriptor_set: Vec<u8>,
    pub payload: Vec<u8>,
}

pub fn protoc(directory: &Path) -> Command {
    let mut command =
        Command::new(protoc_bin_vendored::protoc_bin_path().expect("vendored protoc"));
    command
        .arg(format!("--proto_path={}", directory.display()))
        .arg(format!(
            "--proto_path={}",
            protoc_bin_vendored::include_path()
                .expect("vendored includes")
                .display()
        ));
    command
}

/// The widget proto, compiled by the first test that asks.
pub fn compile_widget() -> &'static CompiledWidget {
    static COMPILED: OnceLock<CompiledWidget> = OnceLock::new();
    COMPILED.get_or_init(run_protoc)
}

fn run_protoc() -> CompiledWidget {
    let directory = tempfile::tempdir().expect("tempdir");
    let package_directory = directory.path().join("test/dynamic/v1");
    std::fs::create_dir_all(&package_directory).expect("package directory");
    std::fs::write(package_directory.join("common.proto"), COMMON_PROTO).expect("write");
    std::fs::write(package_directory.join("widget.proto"), WIDGET_PROTO).expect("write");
    let descriptor_path = directory.path().join("widget.binpb");

    let status = protoc(directory.path())
        .arg("--include_imports")
        .arg(format!(
            "--descriptor_set_out={}",
            descriptor_path.display()
        ))
        .arg("test/dynamic/v1/widget.proto")
        .status()
        .expect("protoc runs");
    assert!(status.success(), "protoc failed: {status}");

    let mut encoder = protoc(directory.path())
        .arg(format!("--encode={WIDGET_MESSAGE}"))
        .arg("test/dynamic/v1/widget.proto")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("protoc runs");
    std::io::Write::write_all(
        &mut encoder.stdin.take().expect("stdin"),
        WIDGET_TEXT.as_bytes(),
    )
    .expect("text format written");
    let output = encoder.wait_with_output().expect("protoc --encode");
    assert!(output.status.success(), "protoc --encode failed");

    CompiledWidget {
        descriptor_set: std::fs::read(&descriptor_path).expect("descriptor set"),
        payload: output.stdout,
    }
}

pub fn widget_schema(descriptor_set: Vec<u8>) -> FetchedSchema {
    FetchedSchema {
        subject: WIDGET_EVENT_TYPE.into(),
        version: 2,
        message_name: WIDGET_MESSAGE.into(),
        file_descriptor_set: descriptor_set,
    }
}

/// Serves fixed schemas, counts fetches, and can be slow or failing.
#[derive(Default)]
pub struct FakeSchemaSource {
    schemas: HashMap<i64, FetchedSchema>,
    fetches: AtomicUsize,
    /// How many of the next fetches fail as if the registry were down.
    failures_left: AtomicUsize,
    delay: Duration,
}

impl FakeSchemaSource {
    pub fn with(schemas: impl IntoIterator<Item = (i64, FetchedSchema)>) -> Self {
        Self {
            schemas: schemas.into_iter().collect(),
            ..Self::default()
        }
    }

    pub fn slow(self, delay: Duration) -> Self {
        Self { delay, ..self }
    }

    pub fn failing(self, failures: usize) -> Self {
        self.failures_left.store(failures, Ordering::SeqCst);
        self
    }

    pub fn fetch_count(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl SchemaSource for FakeSchemaSource {
    async fn fetch_schema(&self, id: i64) -> Result<FetchedSchema, SchemaFetchError> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        let failing = self
            .failures_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(1)
            })
            .is_ok();
        if failing {
            return Err(SchemaFetchError::Unavailable {
                id,
                source: Arc::new(std::io::Error::other("registry down")),
            });
        }
        self.schemas
            .get(&id)
            .cloned()
            .ok_or(SchemaFetchError::UnknownSchemaId(id))
    }
}

pub fn cache_over(source: &Arc<FakeSchemaSource>) -> SchemaCache {
    SchemaCache::new(Arc::clone(source) as Arc<dyn SchemaSource>)
}

pub const WIDGET_EVENT_ID: &str = "0190a3c4-5f6e-7a8b-9c0d-1e2f3a4b5c6d";

/// An envelope built by hand, as a producer unknown to this build would.
pub fn widget_envelope(payload: Vec<u8>) -> EventEnvelope {
    EventEnvelope {
        id: WIDGET_EVENT_ID.into(),
        r#type: WIDGET_EVENT_TYPE.into(),
        occurred_at: Some(prost_types::Timestamp {
            seconds: 1_767_225_600,
            nanos: 123_000,
        }),
        aggregate: Some(AggregateRef {
            r#type: "widget".into(),
            id: "w-1".into(),
        }),
        correlation_id: Some("paint-run-9".into()),
        causation_id: None,
        schema: Some(SchemaRef {
            message_name: WIDGET_MESSAGE.into(),
            version: 1,
            registry_id: Some(WIDGET_SCHEMA_ID),
        }),
        payload: Some(prost_types::Any {
            type_url: format!("type.googleapis.com/{WIDGET_MESSAGE}"),
            value: payload,
        }),
        trace_context: None,
    }
}

pub fn widget_body(widget: &CompiledWidget, edit: impl FnOnce(&mut EventEnvelope)) -> Vec<u8> {
    let mut envelope = widget_envelope(widget.payload.clone());
    edit(&mut envelope);
    envelope.encode_to_vec()
}

pub fn widget_source(widget: &CompiledWidget) -> Arc<FakeSchemaSource> {
    Arc::new(FakeSchemaSource::with([(
        WIDGET_SCHEMA_ID,
        widget_schema(widget.descriptor_set.clone()),
    )]))
}

thread_local! {
    static PANICS_ON_THIS_THREAD: Cell<usize> = const { Cell::new(0) };
}

/// Panics so far on the calling thread, caught ones included (the decoder
/// catches prost-reflect's panics; this tells whether it had to).
pub fn panics_on_this_thread() -> usize {
    static COUNTING_HOOK: Once = Once::new();
    COUNTING_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS_ON_THIS_THREAD.with(|panics| panics.set(panics.get() + 1));
            previous(info);
        }));
    });
    PANICS_ON_THIS_THREAD.with(Cell::get)
}

pub fn mutated(rng: &mut StdRng, bytes: &[u8]) -> Vec<u8> {
    let mut mutated = bytes.to_vec();
    for _ in 0..rng.random_range(1..8) {
        let index = rng.random_range(0..mutated.len());
        mutated[index] ^= 1 << rng.random_range(0..8);
    }
    mutated
}

/// The smallest descriptor set for `message_name` out of the full one: its
/// file and that file's transitive imports, as a producer would register it.
pub fn descriptor_set_for(message_name: &str) -> Vec<u8> {
    let full = prost_types::FileDescriptorSet::decode(ecommerce_proto::FILE_DESCRIPTOR_SET)
        .expect("descriptor set");
    let (package, name) = message_name.rsplit_once('.').expect("qualified name");
    let by_name: HashMap<&str, &prost_types::FileDescriptorProto> =
        full.file.iter().map(|file| (file.name(), file)).collect();
    let root = full
        .file
        .iter()
        .find(|file| {
            file.package() == package && file.message_type.iter().any(|m| m.name() == name)
        })
        .expect("the message's file");
    let mut needed = BTreeSet::new();
    let mut pending = vec![root.name()];
    while let Some(file_name) = pending.pop() {
        if needed.insert(file_name) {
            pending.extend(by_name[file_name].dependency.iter().map(String::as_str));
        }
    }
    let subset = prost_types::FileDescriptorSet {
        file: full
            .file
            .iter()
            .filter(|file| needed.contains(file.name()))
            .cloned()
            .collect(),
    };
    assert!(subset.file.len() < full.file.len(), "a real subset");
    subset.encode_to_vec()
}
