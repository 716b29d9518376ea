//! `orders-svc` binary: settings and telemetry come from the platform crate; the
//! service itself lives in the library so tests can start it in-process.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    ecommerce_platform::service::run(&orders_svc::SERVICE, orders_svc::register).await
}
