//! `cart-svc [serve|migrate]`: settings from the environment, the shared
//! runtime (schema `cart`, broker, the catalog consumer), the auth layer,
//! the service.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    ecommerce_runtime::run::<cart_migration::Migrator, _, _, _>(
        &cart_svc::SERVICE,
        cart_svc::DEFAULT_SCHEMA,
        |runtime| async move {
            // Keys come from iam-svc's GetJwks (IAM_GRPC_URL), fetched lazily.
            let auth = runtime.auth_layer().await?;
            let app = cart_svc::start(&runtime)?;
            Ok(move |server| cart_svc::register(server, &auth, app))
        },
    )
    .await
}
