//! notifications-svc: mails to customers about their orders and shipments,
//! built on events alone (it never calls another service and emits no
//! events).
//!
//! - [`domain`]: the rules, without I/O (the contact copy and which IAM
//!   event wins, the order copy, the notification and its retries).
//! - [`storage`]: the tables through SeaORM (migrations:
//!   `notifications-migration`).
//! - [`app`]: the use cases: the consumers' writes in the inbox's
//!   transaction, ListNotifications, and the [`app::sender`] that mails
//!   what was recorded.
//! - [`mail`]: the mails, rendered from askama templates (text and HTML).
//! - [`events`]: the inbox handler of `notifications.iam-events`,
//!   `notifications.order-events` and `notifications.fulfillment-events`.
//! - [`grpc`]: the tonic adapter ([`grpc::NotificationsGrpc`]).
//! - [`convert`]: every proto <-> domain conversion, for `grpc` and
//!   `events` alike.
//!
//! Exactly one mail per event: the notification is recorded under the key
//! (event id, template) in the transaction that records the event's
//! message id in the inbox, and the sender marks it sent in the
//! transaction that holds its lock while the mailer sends it. A crash
//! between the send and that commit sends that one mail again; nothing
//! else is ever sent twice, and nothing recorded is lost.
//!
//! The binary runs it on `ecommerce-runtime` (schema `notifications`,
//! migrator `notifications-migration`, the consumers and the sender
//! in-process) behind the auth layer.

pub mod app;
pub mod convert;
pub mod domain;
pub mod events;
pub mod grpc;
pub mod mail;
pub mod storage;

use std::sync::Arc;

use anyhow::Context as _;
use ecommerce_auth::AuthLayer;
use ecommerce_broker::ConsumerQueue;
use ecommerce_kernel::{Clock, SystemClock};
use ecommerce_mailer::Mailer;
use ecommerce_platform::grpc::GrpcServer;
use ecommerce_platform::settings::ServiceInfo;
use ecommerce_runtime::{Role, ServiceRuntime};
use tower::Layer as _;

use crate::app::NotificationsApp;
use crate::app::sender::MailSender;
pub use crate::app::settings::{NotificationsSettings, SenderSettings};
use crate::events::consumers::NotificationsHandler;
use crate::grpc::NotificationsGrpc;

/// Name, env prefix (`NOTIFICATIONS_GRPC_ADDR`) and default port of this
/// service: its row of the one service table.
pub const SERVICE: ServiceInfo = ecommerce_platform::services::NOTIFICATIONS;

/// The schema notifications-svc owns unless `NOTIFICATIONS_DB_SCHEMA` says
/// otherwise.
pub const DEFAULT_SCHEMA: &str = "notifications";

/// Its three queues, each consumed by [`NotificationsHandler`].
pub const QUEUES: [ConsumerQueue; 3] = [
    ConsumerQueue::NotificationsIamEvents,
    ConsumerQueue::NotificationsOrderEvents,
    ConsumerQueue::NotificationsFulfillmentEvents,
];

/// [`start_with`] on the wall clock and the mailer `settings` select.
pub fn start(
    runtime: &ServiceRuntime,
    settings: &NotificationsSettings,
) -> anyhow::Result<NotificationsApp> {
    let mailer = settings
        .mail
        .build()
        .context("could not set up the mailer")?;
    start_with(runtime, settings.sender, mailer, Arc::new(SystemClock))
}

/// The application on `runtime`: the consumers of its three queues (with
/// the `consumers` role) and the mail sender over `mailer` (with the
/// `relay` role: it is the relay of the service's own outbox of mails),
/// all stopped by the runtime's shutdown.
pub fn start_with(
    runtime: &ServiceRuntime,
    sender: SenderSettings,
    mailer: Arc<dyn Mailer>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<NotificationsApp> {
    let app = start_consumers(runtime, clock.clone())?;
    let sender = MailSender::new(runtime.db().clone(), mailer, clock, sender);
    runtime.spawn_task(Role::Relay, "mail sender", sender.run(runtime.stopping()));
    Ok(app)
}

/// The application on `runtime` with its consumers only: notifications are
/// recorded, and mailed by whatever [`MailSender`] the caller runs (tests
/// run their own, to stop one in the middle of a send).
pub fn start_consumers(
    runtime: &ServiceRuntime,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<NotificationsApp> {
    let app = NotificationsApp::new(runtime.db().clone(), clock);
    for queue in QUEUES {
        runtime.spawn_consumer(queue, NotificationsHandler::new(app.clone()), None)?;
    }
    Ok(app)
}

/// Adds notifications' handlers over `app`, behind the auth layer that
/// verifies bearer access tokens, to the shared server.
pub fn register(server: GrpcServer, auth: &AuthLayer, app: NotificationsApp) -> GrpcServer {
    server.add_service(auth.layer(NotificationsGrpc::new(app).into_server()))
}
