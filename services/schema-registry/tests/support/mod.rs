//! One isolated schema-registry per test (fresh schema, the real runtime,
//! the auth layer trusting the test's own key), a registry client, and
//! descriptor sets compiled by the vendored protoc or built by hand.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use ecommerce_kernel::SystemClock;
use ecommerce_proto::ecommerce::registry::v1 as pb;
use ecommerce_proto::ecommerce::registry::v1::schema_registry_service_client::SchemaRegistryServiceClient;
use ecommerce_test_support::{TestAuth, TestService, with_bearer};
use prost::Message as _;
use prost_types::{
    DescriptorProto, FieldDescriptorProto, FileDescriptorProto, FileDescriptorSet,
    field_descriptor_proto,
};
use schema_registry::app::settings::RegistrySettings;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status};
use tonic_types::StatusExt as _;

pub type Client = SchemaRegistryServiceClient<Channel>;

/// Who calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum As {
    Anonymous,
    Customer,
    Admin,
}

pub struct World {
    pub service: TestService,
    pub client: Client,
    pub auth: TestAuth,
    admin: String,
    customer: String,
}

impl World {
    pub async fn start() -> Self {
        Self::start_with(RegistrySettings::default()).await
    }

    pub async fn start_with(settings: RegistrySettings) -> Self {
        ecommerce_test_support::init_test_tracing();
        let mut service =
            TestService::start::<registry_migration::Migrator>(&schema_registry::SERVICE, &[])
                .await
                .unwrap();
        let app =
            schema_registry::start_with(&service.runtime, settings, Arc::new(SystemClock)).unwrap();
        let auth = TestAuth::new();
        let layer = auth.layer();
        service
            .serve(&schema_registry::SERVICE, move |server| {
                schema_registry::register(server, &layer, app)
            })
            .await
            .unwrap();
        let client = SchemaRegistryServiceClient::new(service.channel());
        let admin = auth.admin_token();
        let customer = auth.customer_token();
        Self {
            service,
            client,
            auth,
            admin,
            customer,
        }
    }

    /// A client on a connection of its own.
    pub async fn new_client(&self) -> Client {
        let uri = self.service.server.as_ref().unwrap().uri.clone();
        let channel = Endpoint::from_shared(uri).unwrap().connect().await.unwrap();
        SchemaRegistryServiceClient::new(channel)
    }

    pub fn client(&self) -> Client {
        self.client.clone()
    }

    pub fn request<T>(&self, who: As, message: T) -> Request<T> {
        match who {
            As::Anonymous => Request::new(message),
            As::Customer => with_bearer(message, &self.customer),
            As::Admin => with_bearer(message, &self.admin),
        }
    }

    pub async fn register(
        &self,
        subject: &str,
        set: &[u8],
        message_name: &str,
    ) -> Result<pb::Schema, Status> {
        self.client()
            .register_schema(pb::RegisterSchemaRequest {
                subject: subject.to_owned(),
                file_descriptor_set: set.to_vec(),
                message_name: message_name.to_owned(),
            })
            .await
            .map(|response| response.into_inner().schema.unwrap())
    }

    pub async fn check(
        &self,
        subject: &str,
        set: &[u8],
        message_name: &str,
    ) -> Result<pb::CheckCompatibilityResponse, Status> {
        self.client()
            .check_compatibility(pb::CheckCompatibilityRequest {
                subject: subject.to_owned(),
                file_descriptor_set: set.to_vec(),
                message_name: message_name.to_owned(),
            })
            .await
            .map(tonic::Response::into_inner)
    }

    pub async fn get_schema(&self, id: i64) -> Result<pb::Schema, Status> {
        self.client()
            .get_schema(pb::GetSchemaRequest { id })
            .await
            .map(|response| response.into_inner().schema.unwrap())
    }

    pub async fn latest(&self, subject: &str) -> Result<pb::Schema, Status> {
        self.client()
            .get_latest_schema(pb::GetLatestSchemaRequest {
                subject: subject.to_owned(),
            })
            .await
            .map(|response| response.into_inner().schema.unwrap())
    }

    pub async fn by_version(
        &self,
        subject: &str,
        version: i32,
        include_deleted: bool,
    ) -> Result<pb::Schema, Status> {
        self.client()
            .get_schema_by_version(pb::GetSchemaByVersionRequest {
                subject: subject.to_owned(),
                version,
                include_deleted,
            })
            .await
            .map(|response| response.into_inner().schema.unwrap())
    }

    /// Every subject, one page of up to 1000.
    pub async fn subjects(&self, include_deleted: bool) -> Vec<String> {
        let page = self
            .client()
            .list_subjects(pb::ListSubjectsRequest {
                page_size: 1000,
                page_token: String::new(),
                include_deleted,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(page.next_page_token, "");
        page.subjects
    }

    /// Every version of `subject` as (version, schema id, deleted).
    pub async fn versions(
        &self,
        subject: &str,
        include_deleted: bool,
    ) -> Result<Vec<(i32, i64, bool)>, Status> {
        let page = self
            .client()
            .list_versions(pb::ListVersionsRequest {
                subject: subject.to_owned(),
                page_size: 1000,
                page_token: String::new(),
                include_deleted,
            })
            .await?
            .into_inner();
        assert_eq!(page.next_page_token, "");
        Ok(page
            .versions
            .iter()
            .map(|version| (version.version, version.schema_id, version.deleted))
            .collect())
    }

    pub async fn compatibility(&self, subject: &str) -> (pb::CompatibilityLevel, bool) {
        let answer = self
            .client()
            .get_compatibility(pb::GetCompatibilityRequest {
                subject: subject.to_owned(),
            })
            .await
            .unwrap()
            .into_inner();
        (answer.level(), answer.inherited)
    }

    pub async fn set_compatibility(
        &self,
        who: As,
        subject: &str,
        level: i32,
    ) -> Result<pb::SetCompatibilityResponse, Status> {
        self.client()
            .set_compatibility(self.request(
                who,
                pb::SetCompatibilityRequest {
                    subject: subject.to_owned(),
                    level,
                },
            ))
            .await
            .map(tonic::Response::into_inner)
    }

    pub async fn delete_version(
        &self,
        who: As,
        subject: &str,
        version: i32,
    ) -> Result<pb::SchemaVersion, Status> {
        self.client()
            .delete_schema_version(self.request(
                who,
                pb::DeleteSchemaVersionRequest {
                    subject: subject.to_owned(),
                    version,
                },
            ))
            .await
            .map(|response| response.into_inner().version.unwrap())
    }

    pub async fn delete_subject(&self, who: As, subject: &str) -> Result<Vec<i32>, Status> {
        self.client()
            .delete_subject(self.request(
                who,
                pb::DeleteSubjectRequest {
                    subject: subject.to_owned(),
                },
            ))
            .await
            .map(|response| response.into_inner().versions)
    }

    pub async fn references(
        &self,
        subject: &str,
        version: i32,
    ) -> Result<pb::GetReferencesResponse, Status> {
        self.client()
            .get_references(pb::GetReferencesRequest {
                subject: subject.to_owned(),
                version,
            })
            .await
            .map(tonic::Response::into_inner)
    }

    pub async fn finish(self) {
        self.service.finish().await.unwrap();
    }
}

/// Asserts `result` failed with `code`.
pub fn assert_code<T: std::fmt::Debug>(result: Result<T, Status>, code: Code) -> Status {
    let status = result.expect_err("the call should fail");
    assert_eq!(status.code(), code, "unexpected status: {status:?}");
    status
}

/// Asserts `result` is INVALID_ARGUMENT whose message and BadRequest
/// details name `field`.
pub fn assert_invalid<T: std::fmt::Debug>(result: Result<T, Status>, field: &str) -> Status {
    let status = assert_code(result, Code::InvalidArgument);
    let details = status.get_error_details();
    let violations = &details
        .bad_request()
        .expect("BadRequest details")
        .field_violations;
    assert_eq!(violations[0].field, field, "{status:?}");
    assert!(
        status.message().contains(field),
        "the message should name {field}: {}",
        status.message()
    );
    status
}

// ------------------------------------------------------------ descriptors

/// The workspace's proto root (for `ecommerce/events/v1/options.proto`).
fn workspace_protos() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto")
}

/// How protoc is run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceInfo {
    Included,
    Left,
}

/// `files` (path, text) compiled by the vendored protoc with
/// `--include_imports`: the encoded FileDescriptorSet of `compile`d files
/// and everything they import. The workspace's `proto/` and protoc's
/// well-known types are on the import path.
pub fn protoc(files: &[(&str, &str)], compile: &[&str], source_info: SourceInfo) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let target = dir.path().join(path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, text).unwrap();
    }
    let out = dir.path().join("set.binpb");
    let mut command = Command::new(protoc_bin_vendored::protoc_bin_path().unwrap());
    command
        .arg(format!("-I{}", dir.path().display()))
        .arg(format!("-I{}", workspace_protos().display()))
        .arg(format!(
            "-I{}",
            protoc_bin_vendored::include_path().unwrap().display()
        ))
        .arg("--include_imports")
        .arg(format!("--descriptor_set_out={}", out.display()));
    if source_info == SourceInfo::Included {
        command.arg("--include_source_info");
    }
    command.args(compile);
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "protoc failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::read(out).unwrap()
}

pub const MONEY_PROTO: &str = r#"syntax = "proto3";

package shop.v1;

// An amount in minor units.
message Money {
  int64 amount_minor = 1;
  string currency = 2;
}

message Currency {
  string code = 1;
}
"#;

/// `shop/order.proto` with `quantity` of `quantity_type`.
pub fn order_proto(quantity_type: &str) -> String {
    format!(
        r#"syntax = "proto3";

package shop.v1;

import "ecommerce/events/v1/options.proto";
import "shop/money.proto";

// An order was placed.
message OrderPlaced {{
  option (ecommerce.events.v1.event_type) = "shop.order_placed.v1";

  // The order's id.
  string order_id = 1;
  Money total = 2;
  {quantity_type} quantity = 3;
}}
"#
    )
}

pub const ORDER_PLACED: &str = "shop.v1.OrderPlaced";
pub const MONEY: &str = "shop.v1.Money";
pub const CURRENCY: &str = "shop.v1.Currency";

/// OrderPlaced (its `quantity` an `int32` or a `string`), compiled by protoc.
pub fn order_set(quantity_type: &str, source_info: SourceInfo) -> Vec<u8> {
    let order = order_proto(quantity_type);
    protoc(
        &[
            ("shop/money.proto", MONEY_PROTO),
            ("shop/order.proto", &order),
        ],
        &["shop/order.proto"],
        source_info,
    )
}

/// `shop/money.proto` alone, compiled by protoc.
pub fn money_set() -> Vec<u8> {
    protoc(
        &[("shop/money.proto", MONEY_PROTO)],
        &["shop/money.proto"],
        SourceInfo::Left,
    )
}

/// An unrelated file, compiled by protoc.
pub fn unrelated_set() -> Vec<u8> {
    protoc(
        &[(
            "misc/unrelated.proto",
            "syntax = \"proto3\";\npackage misc.v1;\nmessage Unrelated { bool flag = 1; }\n",
        )],
        &["misc/unrelated.proto"],
        SourceInfo::Included,
    )
}

/// The top-level records (one encoded FileDescriptorProto each) of an
/// encoded FileDescriptorSet, as raw bytes: reordering or dropping records
/// keeps every byte of each file (prost_types would drop custom options).
pub fn file_records(set: &[u8]) -> Vec<Vec<u8>> {
    let mut records = Vec::new();
    let mut rest = set;
    while !rest.is_empty() {
        let start = rest;
        let tag = prost::encoding::decode_varint(&mut rest).unwrap();
        assert_eq!(tag, (1 << 3) | 2, "field 1, length-delimited");
        let len = usize::try_from(prost::encoding::decode_varint(&mut rest).unwrap()).unwrap();
        rest = &rest[len..];
        records.push(start[..start.len() - rest.len()].to_vec());
    }
    records
}

/// The file name of a record from [`file_records`].
pub fn record_file_name(record: &[u8]) -> String {
    FileDescriptorSet::decode(record).unwrap().file[0]
        .name()
        .to_owned()
}

/// A file `thing.proto` with message `thing.v1.Thing` of `fields` string
/// fields (`f1` = 1, ...): adding fields keeps every level's compatibility.
pub fn thing_set(fields: i32) -> Vec<u8> {
    FileDescriptorSet {
        file: vec![FileDescriptorProto {
            name: Some("thing.proto".to_owned()),
            package: Some("thing.v1".to_owned()),
            syntax: Some("proto3".to_owned()),
            message_type: vec![DescriptorProto {
                name: Some("Thing".to_owned()),
                field: (1..=fields)
                    .map(|number| FieldDescriptorProto {
                        name: Some(format!("f{number}")),
                        number: Some(number),
                        label: Some(field_descriptor_proto::Label::Optional as i32),
                        r#type: Some(field_descriptor_proto::Type::String as i32),
                        json_name: Some(format!("f{number}")),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

pub const THING: &str = "thing.v1.Thing";
