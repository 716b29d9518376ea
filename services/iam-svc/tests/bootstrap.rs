//! The bootstrap admin: granted only to the account bootstrap created, and
//! an admin still on the documented development password stops a
//! production start.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use ecommerce_broker::EventsExchange;
use ecommerce_kernel::ManualClock;
use ecommerce_platform::run_mode::RunMode;
use ecommerce_platform::settings::EnvSource;
use ecommerce_proto::ecommerce::iam::v1 as pb;
use ecommerce_test_support::{TestService, with_bearer};
use iam_svc::app::{BootstrapAdmin, DEFAULT_BOOTSTRAP_ADMIN_PASSWORD, IamSettings, Policies};
use iam_svc::domain::email::EmailAddress;
use iam_svc::domain::password::PasswordHasher;
use iam_svc::domain::profile::DisplayName;
use iam_svc::storage::users::{self, NewUser};
use secrecy::{ExposeSecret as _, SecretString};
use support::*;
use tonic::Code;

#[tokio::test]
async fn bootstrap_never_makes_an_earlier_sign_up_with_its_email_an_admin() {
    let world = IamWorld::start_configured(
        Policies::default(),
        &[("IAM_BOOTSTRAP_ADMIN_ENABLED", "false")],
    )
    .await;
    // Someone signs up under the email the operator is about to configure.
    let squatter = world.sign_up(ADMIN_EMAIL, "corr").await;
    let admin = BootstrapAdmin {
        email: EmailAddress::parse(ADMIN_EMAIL).unwrap(),
        password: SecretString::from(ADMIN_PASSWORD),
        name: DisplayName::parse("Administrator").unwrap(),
    };
    // Bootstrap runs (twice: every start runs it) and starts anyway.
    world.app.ensure_bootstrap_admin(&admin).await.unwrap();
    world.app.ensure_bootstrap_admin(&admin).await.unwrap();

    let db = world.service.runtime.db();
    let stored = users::find_by_email(db, ADMIN_EMAIL)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.id.to_string(), squatter.id);
    assert!(stored.roles.is_empty(), "{:?}", stored.roles);
    assert!(!stored.created_by_bootstrap);
    // The squatter's token carries no admin role, and the admin RPC refuses it.
    let signed_in = world.sign_in(ADMIN_EMAIL, PASSWORD).await.unwrap();
    assert!(signed_in.user.unwrap().roles.is_empty());
    let token = signed_in.tokens.unwrap().access_token;
    assert_status(
        world
            .client()
            .set_user_roles(with_bearer(
                pb::SetUserRolesRequest {
                    user_id: squatter.id.clone(),
                    roles: vec!["admin".to_owned()],
                },
                &token,
            ))
            .await,
        Code::PermissionDenied,
        None,
    );
    assert_eq!(
        world
            .service
            .count("SELECT count(*) AS n FROM users WHERE 'admin' = ANY (roles)")
            .await,
        0
    );
    world.finish().await;
}

#[tokio::test]
async fn the_account_bootstrap_created_is_marked_and_keeps_its_admin_role() {
    let world = IamWorld::start().await;
    world.sign_up("someone@example.test", "corr").await;
    let marked = world
        .service
        .count("SELECT count(*) AS n FROM users WHERE created_by_bootstrap")
        .await;
    assert_eq!(marked, 1);
    let db = world.service.runtime.db();
    let admin = users::find_by_email(db, ADMIN_EMAIL)
        .await
        .unwrap()
        .unwrap();
    assert!(admin.created_by_bootstrap);
    assert_eq!(admin.roles, vec!["admin".to_owned()]);
    world.finish().await;
}

/// A fresh runtime in `run_mode` whose schema already holds an admin whose
/// stored password is the documented development one (as a clean clone's
/// bootstrap admin would), and iam-svc's settings with a proper password.
async fn service_with_development_admin(run_mode: RunMode) -> (TestService, IamSettings) {
    let service = TestService::start_configured::<iam_migration::Migrator>(
        &iam_svc::SERVICE,
        &[EventsExchange::Iam, EventsExchange::IamSecurity],
        |settings| settings.run_mode = run_mode,
    )
    .await
    .unwrap();
    let hasher = PasswordHasher::insecure_for_tests().unwrap();
    let development = SecretString::from(DEFAULT_BOOTSTRAP_ADMIN_PASSWORD);
    let now = chrono::Utc::now();
    for (email, roles) in [
        (ADMIN_EMAIL, vec!["admin".to_owned()]),
        ("second-admin@example.test", vec!["admin".to_owned()]),
        // Not an admin: not checked.
        ("customer@example.test", Vec::new()),
    ] {
        users::insert(
            service.runtime.db(),
            NewUser {
                id: uuid::Uuid::now_v7(),
                email: email.to_owned(),
                name: "Administrator".to_owned(),
                password_hash: hasher.hash(&development).unwrap().into_string(),
                roles,
                email_verified_at: Some(now),
                signup_key: None,
                created_by_bootstrap: email == ADMIN_EMAIL,
                now,
            },
        )
        .await
        .unwrap();
    }
    let mail_dir = std::env::temp_dir().join(format!("iam-mail-{}", uuid::Uuid::now_v7()));
    let mail_dir = mail_dir.to_string_lossy().into_owned();
    let settings = IamSettings::from_source(&EnvSource::from_pairs([
        ("IAM_MAIL_DIR", mail_dir.as_str()),
        ("IAM_BOOTSTRAP_ADMIN_EMAIL", ADMIN_EMAIL),
        ("IAM_BOOTSTRAP_ADMIN_PASSWORD", ADMIN_PASSWORD),
    ]))
    .unwrap();
    assert_ne!(
        settings
            .bootstrap_admin
            .as_ref()
            .unwrap()
            .password
            .expose_secret(),
        DEFAULT_BOOTSTRAP_ADMIN_PASSWORD
    );
    (service, settings)
}

async fn start_iam(service: &TestService, settings: IamSettings) -> anyhow::Result<()> {
    iam_svc::start_with(
        service.runtime.clone(),
        settings,
        PasswordHasher::insecure_for_tests().unwrap(),
        Arc::new(ManualClock::starting_now()),
        Policies::default(),
    )
    .await
    .map(drop)
}

#[tokio::test]
async fn production_refuses_to_start_while_an_admin_keeps_the_development_password() {
    let (service, settings) = service_with_development_admin(RunMode::Production).await;
    let error = start_iam(&service, settings).await.unwrap_err();
    let message = format!("{error:#}");
    assert!(message.contains(ADMIN_EMAIL), "{message}");
    assert!(message.contains("second-admin@example.test"), "{message}");
    assert!(!message.contains("customer@example.test"), "{message}");
    assert!(
        message.contains("change that account's password"),
        "{message}"
    );
    assert!(
        !message.contains(DEFAULT_BOOTSTRAP_ADMIN_PASSWORD),
        "no password in the message: {message}"
    );
    service.finish().await.unwrap();
}

#[tokio::test]
async fn development_only_warns_about_an_admin_on_the_development_password() {
    let (service, settings) = service_with_development_admin(RunMode::Development).await;
    start_iam(&service, settings)
        .await
        .expect("development starts anyway");
    service.finish().await.unwrap();
}

#[tokio::test]
async fn production_starts_when_every_admin_has_a_password_of_its_own() {
    let service = TestService::start_configured::<iam_migration::Migrator>(
        &iam_svc::SERVICE,
        &[EventsExchange::Iam, EventsExchange::IamSecurity],
        |settings| settings.run_mode = RunMode::Production,
    )
    .await
    .unwrap();
    let mail_dir = std::env::temp_dir().join(format!("iam-mail-{}", uuid::Uuid::now_v7()));
    let mail_dir = mail_dir.to_string_lossy().into_owned();
    let settings = IamSettings::from_source(&EnvSource::from_pairs([
        ("IAM_MAIL_DIR", mail_dir.as_str()),
        ("IAM_BOOTSTRAP_ADMIN_EMAIL", ADMIN_EMAIL),
        ("IAM_BOOTSTRAP_ADMIN_PASSWORD", ADMIN_PASSWORD),
    ]))
    .unwrap();
    start_iam(&service, settings)
        .await
        .expect("bootstrap creates the admin with the configured password");
    service.finish().await.unwrap();
}
