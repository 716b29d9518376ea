//! Dynamic decoding by schema registry id, against an in-memory schema source
//! serving descriptor sets compiled here with protoc: a type the codec has
//! never seen, a known type both ways, single-flight fetching, every error.

// In tests a failed expectation is a test failure with its message.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod cache;
mod decode;
mod errors;
mod fixtures;
#[path = "../support/mod.rs"]
mod support;
