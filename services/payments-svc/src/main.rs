//! `payments-svc [serve|migrate]`: settings from the environment, the
//! shared runtime (schema `payments`, broker, relay, consumers), the auth
//! layer, the service.

use std::sync::Arc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    ecommerce_runtime::run::<payments_migration::Migrator, _, _, _>(
        &payments_svc::SERVICE,
        payments_svc::DEFAULT_SCHEMA,
        |runtime| async move {
            // Keys come from iam-svc's GetJwks (IAM_GRPC_URL), fetched lazily.
            let auth = runtime.auth_layer().await?;
            // PAYMENTS_SIMULATED_LIMIT_MINOR: amounts above it are declined.
            let provider = Arc::new(payments_svc::simulated_provider_from_env()?);
            let app = payments_svc::start(&runtime, provider)?;
            Ok(move |server| payments_svc::register(server, &auth, app))
        },
    )
    .await
}
