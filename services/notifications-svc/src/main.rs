//! `notifications-svc [serve|migrate]`: settings from the environment, the
//! shared runtime (schema `notifications`, broker, consumers, the mail
//! sender), the auth layer, the service.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    ecommerce_runtime::run::<notifications_migration::Migrator, _, _, _>(
        &notifications_svc::SERVICE,
        notifications_svc::DEFAULT_SCHEMA,
        |runtime| async move {
            // Keys come from iam-svc's GetJwks (IAM_GRPC_URL), fetched lazily.
            let auth = runtime.auth_layer().await?;
            let settings = notifications_svc::NotificationsSettings::from_env()?;
            let app = notifications_svc::start(&runtime, &settings)?;
            Ok(move |server| notifications_svc::register(server, &auth, app))
        },
    )
    .await
}
