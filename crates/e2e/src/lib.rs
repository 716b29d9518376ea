//! The checkout saga end to end, as real processes.
//!
//! [`Stack`] starts the seven saga services' binaries against the local
//! Postgres and RabbitMQ, each stack isolated (its own schemas and topology
//! prefix) so stacks run in parallel; [`Shop`] drives it over gRPC like a
//! client would. The end-to-end tests (`tests/`) and `saga-bench` (in
//! `crates/bench`) are built on both.
//!
//! The binaries must be built first: `cargo build --bins` (the tests look in
//! their own `target/<profile>`), or set `E2E_BIN_DIR`.

pub mod shop;
pub mod stack;

pub use shop::{CheckoutArgs, SellableSku, Session, Shop};
pub use stack::{Stack, StackOptions, Svc};
