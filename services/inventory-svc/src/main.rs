//! `inventory-svc` binary: settings and telemetry come from the platform crate; the
//! service itself lives in the library so tests can start it in-process.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Keys come from iam-svc's GetJwks (IAM_GRPC_URL), fetched lazily.
    let auth = ecommerce_auth::AuthSettings::from_env()?.layer()?;
    ecommerce_platform::service::run(&inventory_svc::SERVICE, move |server| {
        inventory_svc::register(server, &auth)
    })
    .await
}
