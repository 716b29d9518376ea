//! Outbox integration tests against a real Postgres (`DATABASE_URL`, by
//! default the local `ecommerce` database). Each test works in a fresh,
//! uniquely named schema that is dropped at its end, even when it fails, so
//! the tests run in parallel.
//!
//! One binary with modules: every test binary links SeaORM, and one link is
//! much cheaper than five.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod enqueue;
mod migration;
mod relay;
mod support;
