//! `reporting-svc [serve|migrate|rebuild]`: settings from the environment,
//! the shared runtime (schema `reporting`, broker, the stream reader), the
//! auth layer, the service; or `rebuild`, which rebuilds the read model
//! from the stream and exits.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().nth(1).as_deref() == Some("rebuild") {
        if let Some(extra) = std::env::args().nth(2) {
            anyhow::bail!("unexpected argument {extra:?}; usage: reporting-svc rebuild");
        }
        return ecommerce_runtime::run_once::<reporting_migration::Migrator, _, _>(
            &reporting_svc::SERVICE,
            reporting_svc::DEFAULT_SCHEMA,
            |runtime| async move {
                let done = reporting_svc::rebuild(&runtime).await?;
                println!(
                    "rebuilt the reports from the stream: {} events applied, {} skipped",
                    done.applied, done.skipped
                );
                Ok(())
            },
        )
        .await;
    }
    ecommerce_runtime::run::<reporting_migration::Migrator, _, _, _>(
        &reporting_svc::SERVICE,
        reporting_svc::DEFAULT_SCHEMA,
        |runtime| async move {
            // Keys come from iam-svc's GetJwks (IAM_GRPC_URL), fetched lazily.
            let auth = runtime.auth_layer().await?;
            let app = reporting_svc::start(&runtime)?;
            Ok(move |server| reporting_svc::register(server, &auth, app))
        },
    )
    .await
}
