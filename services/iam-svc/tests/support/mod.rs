//! One isolated iam-svc per test: fresh schema, private topology with a tap
//! on both IAM exchanges, a mail directory of its own, a clock the test moves.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, SubsecRound as _, Utc};
use ecommerce_broker::EventsExchange;
use ecommerce_kernel::Clock;
use ecommerce_platform::settings::EnvSource;
use ecommerce_proto::ecommerce::iam::v1 as pb;
use ecommerce_proto::ecommerce::iam::v1::iam_service_client::IamServiceClient;
use ecommerce_test_support::TestService;
use iam_svc::app::{IamApp, IamSettings, Policies};
use iam_svc::domain::password::PasswordHasher;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

pub const ADMIN_EMAIL: &str = "root@example.test";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple admin";
pub const PASSWORD: &str = "a long enough passphrase 42";

/// A clock that stands still until the test moves it.
#[derive(Debug)]
pub struct TestClock(Mutex<DateTime<Utc>>);

impl TestClock {
    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self.0.lock().unwrap();
        *now += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

pub struct IamWorld {
    pub service: TestService,
    pub app: IamApp,
    pub clock: Arc<TestClock>,
    pub mail_dir: PathBuf,
}

impl IamWorld {
    pub async fn start() -> Self {
        Self::start_with_policies(Policies::default()).await
    }

    pub async fn start_with_policies(policies: Policies) -> Self {
        Self::start_configured(policies, &[]).await
    }

    /// [`IamWorld::start_with_policies`] with more settings (`IAM_*`
    /// variables) than the mail directory and the bootstrap admin.
    pub async fn start_configured(policies: Policies, settings: &[(&str, &str)]) -> Self {
        let mut service = TestService::start::<iam_migration::Migrator>(
            &iam_svc::SERVICE,
            &[EventsExchange::Iam, EventsExchange::IamSecurity],
        )
        .await
        .expect("service runtime");
        let mail_dir = std::env::temp_dir().join(format!("iam-mail-{}", uuid::Uuid::now_v7()));
        let clock = Arc::new(TestClock(Mutex::new(Utc::now().trunc_subsecs(6))));
        let mail_dir_text = mail_dir.to_string_lossy().into_owned();
        let mut pairs = vec![
            ("IAM_MAIL_DIR", mail_dir_text.as_str()),
            ("IAM_BOOTSTRAP_ADMIN_EMAIL", ADMIN_EMAIL),
            ("IAM_BOOTSTRAP_ADMIN_PASSWORD", ADMIN_PASSWORD),
        ];
        pairs.extend_from_slice(settings);
        let settings = IamSettings::from_source(&EnvSource::from_pairs(pairs)).expect("settings");
        let started = iam_svc::start_with(
            service.runtime.clone(),
            settings,
            PasswordHasher::insecure_for_tests().expect("hasher"),
            clock.clone(),
            policies,
        )
        .await
        .expect("iam-svc starts");
        let app = started.app.clone();
        service
            .serve(&iam_svc::SERVICE, move |server| started.register(server))
            .await
            .expect("server");
        Self {
            service,
            app,
            clock,
            mail_dir,
        }
    }

    pub fn client(&self) -> IamServiceClient<Channel> {
        IamServiceClient::new(self.service.channel())
    }

    /// The verification token of the newest mail to `email`.
    pub fn latest_verification_token(&self, email: &str) -> String {
        let mut mails: Vec<_> = std::fs::read_dir(&self.mail_dir)
            .expect("mail dir")
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "eml"))
            .collect();
        mails.sort();
        for path in mails.iter().rev() {
            let text = std::fs::read_to_string(path).unwrap();
            if !text.to_lowercase().contains(&email.to_lowercase()) {
                continue;
            }
            let line = text
                .lines()
                .find_map(|line| line.trim().strip_prefix("Verification token: "))
                .unwrap_or_else(|| panic!("no token line in {}", path.display()));
            return line.trim().to_owned();
        }
        panic!("no mail to {email} in {}", self.mail_dir.display());
    }

    pub fn mail_count(&self) -> usize {
        std::fs::read_dir(&self.mail_dir)
            .map(|dir| dir.count())
            .unwrap_or(0)
    }

    /// Signs up `email` with [`PASSWORD`] under correlation id `correlation`.
    pub async fn sign_up(&self, email: &str, correlation: &str) -> pb::User {
        let request = with_request_id(
            pb::SignUpRequest {
                email: email.to_owned(),
                password: PASSWORD.to_owned(),
                name: "Ada Lovelace".to_owned(),
                idempotency_key: String::new(),
            },
            correlation,
        );
        self.client()
            .sign_up(request)
            .await
            .expect("sign up")
            .into_inner()
            .user
            .unwrap()
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> Result<pb::SignInResponse, Status> {
        self.client()
            .sign_in(pb::SignInRequest {
                email: email.to_owned(),
                password: password.to_owned(),
            })
            .await
            .map(tonic::Response::into_inner)
    }

    pub async fn admin_token(&self) -> String {
        self.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD)
            .await
            .expect("admin signs in")
            .tokens
            .unwrap()
            .access_token
    }

    pub async fn finish(self) {
        let _ = std::fs::remove_dir_all(&self.mail_dir);
        self.service.finish().await.expect("clean finish");
    }
}

pub fn with_request_id<T>(message: T, request_id: &str) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("x-request-id", request_id.parse().unwrap());
    request
}

/// Asserts `result` failed with `code`, and, for INVALID_ARGUMENT, that the
/// BadRequest details name `field`.
pub fn assert_status<T: std::fmt::Debug>(
    result: Result<T, Status>,
    code: Code,
    field: Option<&str>,
) -> Status {
    let status = result.expect_err("the call should fail");
    assert_eq!(status.code(), code, "unexpected status: {status:?}");
    if let Some(field) = field {
        use tonic_types::StatusExt as _;
        let details = status.get_error_details();
        let violations = &details
            .bad_request()
            .expect("BadRequest details")
            .field_violations;
        assert_eq!(violations[0].field, field, "{status:?}");
        assert!(
            status.message().contains(field),
            "message should name {field}: {}",
            status.message()
        );
    }
    status
}
