//! reporting-svc: sales, best sellers, the checkout funnel and stock
//! levels, built on events alone (it never calls another service and emits
//! no events).
//!
//! - [`domain`]: what each event means to the reports ([`domain::Fact`])
//!   and the questions asked of them, without I/O.
//! - [`storage`]: the read model's tables (migrations:
//!   `reporting-migration`), the facts applied, the reports' queries.
//! - [`app`]: the use cases over them.
//! - [`events`]: the handler of the `reporting.event-stream` stream.
//! - [`grpc`]: the tonic adapter ([`grpc::ReportingGrpc`]), admin only.
//! - [`convert`]: every proto <-> domain conversion.
//!
//! Its events arrive on a RabbitMQ **stream** rather than a queue, read by
//! an [`ecommerce_inbox::StreamInbox`]: the stream keeps what was read, so
//! [`rebuild`] can empty the read model and read the stream again from its
//! first offset. Each batch of events is applied in one transaction that
//! also records their ids in the inbox and moves the stream's cursor past
//! them, so every event counts exactly once, across crashes, duplicates
//! from a relay and a rebuild running beside the service.

pub mod app;
pub mod convert;
pub mod domain;
pub mod events;
pub mod grpc;
pub mod storage;

use std::time::{Duration, Instant};

use anyhow::Context as _;
use ecommerce_auth::AuthLayer;
use ecommerce_inbox::{ReadProgress, StreamInbox};
use ecommerce_platform::grpc::GrpcServer;
use ecommerce_platform::settings::ServiceInfo;
use ecommerce_runtime::ServiceRuntime;
use sea_orm::TransactionTrait as _;
use tower::Layer as _;

use crate::app::ReportingApp;
use crate::events::ReportingHandler;
use crate::grpc::ReportingGrpc;

/// Name, env prefix (`REPORTING_GRPC_ADDR`) and default port of this
/// service: its row of the one service table.
pub const SERVICE: ServiceInfo = ecommerce_platform::services::REPORTING;

/// The schema reporting-svc owns unless `REPORTING_DB_SCHEMA` says otherwise.
pub const DEFAULT_SCHEMA: &str = "reporting";

/// How long a rebuild waits for the next event before it calls the stream
/// read: the stream delivers what it holds without pauses this long.
pub const REBUILD_IDLE: Duration = Duration::from_secs(2);

/// The reader of the reporting stream (its configured name) into `app`.
pub fn stream_inbox(
    runtime: &ServiceRuntime,
    app: &ReportingApp,
) -> anyhow::Result<StreamInbox<ReportingHandler>> {
    runtime.stream_inbox(
        runtime.names().reporting_stream(),
        ReportingHandler::new(app.clone()),
    )
}

/// The application on `runtime`, with the reader of the reporting stream
/// (with the `consumers` role) stopped by the runtime's shutdown.
pub fn start(runtime: &ServiceRuntime) -> anyhow::Result<ReportingApp> {
    let app = ReportingApp::new(runtime.db().clone());
    runtime.spawn_stream_consumer(stream_inbox(runtime, &app)?);
    Ok(app)
}

/// Adds reporting's handlers over `app`, behind the auth layer that
/// verifies bearer access tokens, to the shared server.
pub fn register(server: GrpcServer, auth: &AuthLayer, app: ReportingApp) -> GrpcServer {
    server.add_service(auth.layer(ReportingGrpc::new(app).into_server()))
}

/// `reporting-svc rebuild`: empties the read model and puts the stream's
/// cursor back to its first offset in one transaction, then reads the
/// whole stream again until it has caught up, logging progress. A serving
/// reporting-svc may keep running: its reader notices the reset and
/// attaches again, and each event still counts once.
pub async fn rebuild(runtime: &ServiceRuntime) -> anyhow::Result<ReadProgress> {
    let app = ReportingApp::new(runtime.db().clone());
    let inbox = stream_inbox(runtime, &app)?;
    let transaction = runtime.db().begin().await?;
    storage::clear(&transaction)
        .await
        .context("could not empty the read model")?;
    inbox
        .reset_in(&transaction)
        .await
        .context("could not reset the stream's cursor")?;
    transaction.commit().await?;
    tracing::info!(
        stream = inbox.stream(),
        "read model emptied; reading the stream from its first offset"
    );
    let started = Instant::now();
    let mut logged = Instant::now();
    let done = inbox
        .catch_up(runtime.broker(), REBUILD_IDLE, |progress| {
            if logged.elapsed() >= Duration::from_secs(1) {
                logged = Instant::now();
                tracing::info!(
                    applied = progress.applied,
                    skipped = progress.skipped,
                    "rebuilding"
                );
            }
        })
        .await
        .context("could not read the stream")?;
    tracing::info!(
        applied = done.applied,
        skipped = done.skipped,
        seconds = started.elapsed().as_secs_f64(),
        "rebuilt"
    );
    Ok(done)
}
