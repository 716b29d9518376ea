//! iam-svc: users, credentials, sessions, email verification and roles;
//! publishes to `iam.events` and, for security events, `iam.security-events`.
//!
//! - `domain/`: validation, password policy and Argon2id hashing, opaque
//!   tokens, throttling, roles: no I/O.
//! - `storage/`: the tables of `iam-migration`, through SeaORM.
//! - `app/`: the use cases, each one transaction with its events.
//! - `convert`: every proto <-> domain conversion, event payloads included.
//! - `grpc/`: thin handlers; `mail/`: the verification mail and the shared
//!   mailer (`ecommerce-mailer`) it goes out through.

pub mod app;
mod convert;
pub mod domain;
pub mod grpc;
pub mod mail;
pub mod storage;

use std::sync::Arc;

use anyhow::Context as _;
use ecommerce_auth::{AccessTokenVerifier, AuthLayer};
use ecommerce_broker::EventsExchange;
use ecommerce_outbox::OutboxTable;
use ecommerce_platform::grpc::GrpcServer;
use ecommerce_platform::run_mode::DevelopmentDefault;
use ecommerce_platform::settings::ServiceInfo;
use ecommerce_runtime::ServiceRuntime;
use tower::Layer as _;

use ecommerce_kernel::{Clock, SystemClock};

use crate::app::{IamApp, IamParts, IamSettings, KeyRing, Policies};
use crate::domain::password::{HashingParams, PasswordHasher};

/// Name, env prefix (`IAM_GRPC_ADDR`) and default port of this
/// service: its row of the one service table.
pub const SERVICE: ServiceInfo = ecommerce_platform::services::IAM;

/// The schema iam-svc owns unless `IAM_DB_SCHEMA` says otherwise.
pub const DEFAULT_SCHEMA: &str = "auth";

/// What a started iam-svc hands to the gRPC server, and its application for
/// tests that want to look inside.
pub struct StartedIam {
    pub app: IamApp,
    pub auth: AuthLayer,
}

impl StartedIam {
    /// Adds the IAM service, behind its auth layer, to `server`.
    pub fn register(self, server: GrpcServer) -> GrpcServer {
        server.add_service(self.auth.layer(grpc::IamGrpc::server(self.app)))
    }
}

/// Starts iam-svc on `runtime` with production parameters: the signing key
/// (created on first start), the bootstrap admin, the outbox relay, and the
/// policies `settings` choose.
pub async fn start(runtime: ServiceRuntime, settings: IamSettings) -> anyhow::Result<StartedIam> {
    let hasher = PasswordHasher::new(HashingParams::default())
        .context("invalid password hashing parameters")?;
    let policies = settings.policies();
    start_with(runtime, settings, hasher, Arc::new(SystemClock), policies).await
}

/// [`start`] with a chosen hasher, clock and policies, for tests.
pub async fn start_with(
    runtime: ServiceRuntime,
    settings: IamSettings,
    hasher: PasswordHasher,
    clock: Arc<dyn Clock>,
    policies: Policies,
) -> anyhow::Result<StartedIam> {
    runtime.refuse_development_defaults(&settings.development_defaults())?;
    let names = runtime.names();
    let outbox = runtime
        .outbox(&OutboxTable::IAM, EventsExchange::Iam)?
        .with_route("iam.security.", names.exchange(EventsExchange::IamSecurity));
    runtime.spawn_relay(&outbox);
    let keys = KeyRing::load_or_create(runtime.db(), &settings.auth, clock.now()).await?;
    let verifier = Arc::new(AccessTokenVerifier::new(
        keys.key_source(),
        settings.auth.verifier_config(),
    ));
    let auth = AuthLayer::new(verifier).with_open_methods(grpc::OPEN_METHODS);
    let mailer = settings
        .mail
        .build()
        .context("could not set up the mailer")?;
    let app = IamApp::new(
        IamParts {
            db: runtime.db().clone(),
            outbox,
            hasher,
            mailer,
            mail_settings: settings.mail.clone(),
            keys,
            clock,
        },
        policies,
    );
    if let Some(admin) = &settings.bootstrap_admin {
        app.ensure_bootstrap_admin(admin)
            .await
            .context("could not create the bootstrap admin")?;
    }
    refuse_admins_with_development_password(&runtime, &settings, &app).await?;
    Ok(StartedIam { app, auth })
}

/// An admin whose stored password is still the documented development one
/// is a development default like any other: a warning in development, a
/// refused start in production, naming the account. The bootstrap account
/// is skipped while `IAM_BOOTSTRAP_ADMIN_PASSWORD` itself is that password:
/// [`IamSettings::development_defaults`] already reported it.
async fn refuse_admins_with_development_password(
    runtime: &ServiceRuntime,
    settings: &IamSettings,
    app: &IamApp,
) -> anyhow::Result<()> {
    let reported_by_settings = settings
        .bootstrap_admin
        .as_ref()
        .filter(|_| !settings.development_defaults().is_empty())
        .map(|admin| admin.email.as_str());
    let defaults: Vec<DevelopmentDefault> = app
        .admins_with_development_password()
        .await
        .context("could not check the admins' passwords")?
        .into_iter()
        .filter(|email| Some(email.as_str()) != reported_by_settings)
        .map(|email| {
            DevelopmentDefault::new(
                format!("a new password for admin account {email}"),
                "its stored password is still the documented development password \
                 of the bootstrap admin; change that account's password",
            )
        })
        .collect();
    runtime.refuse_development_defaults(&defaults)
}
