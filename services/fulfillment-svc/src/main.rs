//! `fulfillment-svc [serve|migrate]`: settings from the environment, the
//! shared runtime (schema `fulfillment`, broker, relay, consumer), the auth
//! layer, the service.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    ecommerce_runtime::run::<fulfillment_migration::Migrator, _, _, _>(
        &fulfillment_svc::SERVICE,
        fulfillment_svc::DEFAULT_SCHEMA,
        |runtime| async move {
            // Keys come from iam-svc's GetJwks (IAM_GRPC_URL), fetched lazily.
            let auth = runtime.auth_layer().await?;
            let app = fulfillment_svc::start(&runtime)?;
            Ok(move |server| fulfillment_svc::register(server, &auth, app))
        },
    )
    .await
}
