//! `schema-registry [serve|migrate]`: settings from the environment, the
//! shared runtime (schema `registry`; no relay or consumer: the registry
//! publishes no events), the auth layer, the service.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    ecommerce_runtime::run::<registry_migration::Migrator, _, _, _>(
        &schema_registry::SERVICE,
        schema_registry::DEFAULT_SCHEMA,
        |runtime| async move {
            // Keys come from iam-svc's GetJwks (IAM_GRPC_URL), fetched lazily.
            let auth = runtime.auth_layer().await?;
            let app = schema_registry::start(&runtime)?;
            Ok(move |server| schema_registry::register(server, &auth, app))
        },
    )
    .await
}
