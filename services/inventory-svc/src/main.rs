//! `inventory-svc [serve|migrate]`: settings from the environment, the
//! shared runtime (schema `inventory`, broker, relay, consumers, expiry
//! worker), the auth layer, the service.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    ecommerce_runtime::run::<inventory_migration::Migrator, _, _, _>(
        &inventory_svc::SERVICE,
        inventory_svc::DEFAULT_SCHEMA,
        |runtime| async move {
            // Keys come from iam-svc's GetJwks (IAM_GRPC_URL), fetched lazily.
            let auth = runtime.auth_layer().await?;
            let app = inventory_svc::start(&runtime)?;
            Ok(move |server| inventory_svc::register(server, &auth, app))
        },
    )
    .await
}
