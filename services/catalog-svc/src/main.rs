//! `catalog-svc [serve|migrate]`: settings from the environment, the shared
//! runtime (schema `catalog`, broker, relay), the auth layer, the service.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    ecommerce_runtime::run::<catalog_migration::Migrator, _, _, _>(
        &catalog_svc::SERVICE,
        catalog_svc::DEFAULT_SCHEMA,
        |runtime| async move {
            // Keys come from iam-svc's GetJwks (IAM_GRPC_URL), fetched lazily.
            let auth = runtime.auth_layer().await?;
            let app = catalog_svc::start(&runtime)?;
            Ok(move |server| catalog_svc::register(server, &auth, app))
        },
    )
    .await
}
