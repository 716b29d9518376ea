//! `orders-svc [serve|migrate]`: settings from the environment, the shared
//! runtime (schema `orders`, broker, relay, consumers), the auth layer, the
//! service.

use anyhow::Context as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    ecommerce_runtime::run::<orders_migration::Migrator, _, _, _>(
        &orders_svc::SERVICE,
        orders_svc::DEFAULT_SCHEMA,
        |runtime| async move {
            // Keys come from iam-svc's GetJwks (IAM_GRPC_URL), fetched lazily.
            let auth = runtime.auth_layer().await?;
            // CHECKOUT_SIGNING_KEY (+ CHECKOUT_VERIFICATION_KEYS), shared with cart-svc.
            let keys = ecommerce_checkout::SnapshotKeys::from_env()
                .context("invalid checkout snapshot keys")?;
            runtime.refuse_development_defaults(&keys.development_defaults())?;
            let app = orders_svc::start(&runtime, keys)?;
            Ok(move |server| orders_svc::register(server, &auth, app))
        },
    )
    .await
}
