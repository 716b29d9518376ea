//! `iam-svc [serve|migrate]`: settings from the environment, the shared
//! runtime (schema `auth`, broker, relay), then the service.

use iam_svc::app::IamSettings;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    ecommerce_runtime::run::<iam_migration::Migrator, _, _, _>(
        &iam_svc::SERVICE,
        iam_svc::DEFAULT_SCHEMA,
        |runtime| async move {
            let started = iam_svc::start(runtime, IamSettings::from_env()?).await?;
            Ok(move |server| started.register(server))
        },
    )
    .await
}
