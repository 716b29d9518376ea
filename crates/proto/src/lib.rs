//! Generated code for every protobuf package in the repository's `proto/`
//! directory: messages (prost), gRPC clients and servers (tonic), and the
//! encoded `FileDescriptorSet` used by gRPC reflection and the event codec.
//!
//! Modules mirror the packages: `ecommerce.orders.v1` is
//! [`ecommerce::orders::v1`]. Generated code is never committed.
//!
//! The messages that hold a secret (passwords, session and verification
//! tokens, payment method tokens, checkout signatures; see
//! [`REDACTED_MESSAGE_NAMES`]) print [`REDACTED`] in its place under `{:?}`,
//! so `tracing::debug!(?request)` cannot leak one into a log.

#![allow(clippy::all, clippy::pedantic, missing_docs)]

include!(concat!(env!("OUT_DIR"), "/modules.rs"));

mod redacted;
mod time;

pub use redacted::{REDACTED, REDACTED_MESSAGE_NAMES};
pub use time::timestamp;

/// The encoded `google.protobuf.FileDescriptorSet` of every file in `proto/`
/// (imports included), as produced by `protoc --include_imports`.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/ecommerce_descriptor.bin"));
