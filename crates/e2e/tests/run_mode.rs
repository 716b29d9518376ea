//! `ECOMMERCE_ENV=production` at the process level: a service binary on the
//! development defaults (no password for Postgres, RabbitMQ's guest) exits
//! before it connects anywhere, naming every variable to set. (Every other
//! e2e test runs the same binaries in development, where the same defaults
//! only warn.)
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::process::Stdio;
use std::time::Duration;

use ecommerce_e2e::stack::bin_dir;
use ecommerce_platform::services;

#[tokio::test]
async fn production_refuses_to_start_on_development_defaults() {
    let binary = bin_dir().unwrap().join(services::ORDERS.name);
    let output = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new(&binary)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("ECOMMERCE_ENV", "production")
            // A port nobody listens on: the refusal must come before any
            // connection, so nothing may be bound or dialed.
            .env("ORDERS_GRPC_ADDR", "127.0.0.1:1")
            .stdin(Stdio::null())
            .output(),
    )
    .await
    .expect("the refusal is immediate")
    .expect("the binary runs");
    assert!(!output.status.success(), "{output:?}");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    for named in [
        "ECOMMERCE_ENV=production",
        "ORDERS_DATABASE_URL or DATABASE_URL",
        "AMQP_URL",
    ] {
        assert!(log.contains(named), "{named} not in: {log}");
    }
    assert!(
        !log.contains("database schema up to date"),
        "it connected: {log}"
    );
}
