//! The IAM use cases: each one validates, then changes state and enqueues
//! its events in one transaction, then (outside it) sends mail. Every
//! transaction runs in the shared [`ecommerce_db::transaction!`], which
//! runs it again from the start on a retryable storage failure (a
//! serialization failure, a deadlock, a lost connection), so its body
//! touches the database only through its transaction and sends nothing
//! elsewhere.
//!
//! Handlers in `grpc/` only convert; everything a caller can observe is
//! decided here, on domain types, with a clock that tests control. Events
//! are emitted as the domain's `IamEvent`s (`crate::convert` builds the
//! payloads).

mod accounts;
mod bootstrap;
mod error;
mod hashing;
mod keys;
mod profile;
mod sessions;
mod settings;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ecommerce_db::StoreError;
use ecommerce_events::EventMetadata;
use ecommerce_kernel::Clock;
use ecommerce_outbox::{Outbox, OutboxTransaction};
use sea_orm::DatabaseConnection;
use uuid::Uuid;

pub use self::accounts::{MAX_IDEMPOTENCY_KEY_LEN, SignUp};
pub use self::bootstrap::BootstrapAdmin;
pub use self::error::IamError;
pub use self::hashing::HashingLimits;
use self::hashing::PasswordWork;
pub use self::keys::KeyRing;
pub use self::sessions::IssuedSession;
pub use self::settings::{DEFAULT_BOOTSTRAP_ADMIN_PASSWORD, IamSettings};
use crate::domain::events::{IamEvent, USER_AGGREGATE};
use crate::domain::password::{PasswordHasher, PasswordPolicy};
use crate::domain::rate_limit::SignInThrottlePolicy;
use crate::domain::tokens::{SessionPolicy, VerificationTokenPolicy};
use crate::domain::verification::{ResendVerificationPolicy, UnverifiedSignInPolicy};
use crate::mail::Mailer;
use crate::storage::users::UserRow;

/// Who asks, as far as the use cases care.
#[derive(Clone, Debug, Default)]
pub struct RequestContext {
    /// Copied into every event the request causes.
    pub correlation_id: String,
    /// The client's IP address, empty when unknown. Throttling key and a
    /// field of the security events.
    pub client_address: String,
}

/// A user as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub email_verified: bool,
    pub name: String,
    pub image_url: String,
    pub roles: Vec<String>,
    pub created_at: DateTime<Utc>,
}

impl From<&UserRow> for UserView {
    fn from(row: &UserRow) -> Self {
        Self {
            id: row.id,
            email: row.email.clone(),
            email_verified: row.email_verified_at.is_some(),
            name: row.name.clone(),
            image_url: row.image_url.clone(),
            roles: row.roles.clone(),
            created_at: row.created_at,
        }
    }
}

/// The policies the use cases apply; defaults from the issue.
#[derive(Clone, Debug, Default)]
pub struct Policies {
    pub password: PasswordPolicy,
    pub throttle: SignInThrottlePolicy,
    pub sessions: SessionPolicy,
    pub verification: VerificationTokenPolicy,
    /// How long an unverified account may sign in.
    pub unverified_sign_in: UnverifiedSignInPolicy,
    /// How often an address gets a verification mail.
    pub resend_verification: ResendVerificationPolicy,
    /// How many password hashes run and wait at once.
    pub hashing: HashingLimits,
}

/// The IAM application: cheap to clone, shared by every handler.
#[derive(Clone, Debug)]
pub struct IamApp {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: DatabaseConnection,
    outbox: Outbox,
    password_work: PasswordWork,
    mailer: Arc<dyn Mailer>,
    keys: KeyRing,
    policies: Policies,
    clock: Arc<dyn Clock>,
    mail_settings: crate::mail::MailSettings,
}

/// What [`IamApp::new`] needs besides its policies.
pub struct IamParts {
    pub db: DatabaseConnection,
    pub outbox: Outbox,
    pub hasher: PasswordHasher,
    pub mailer: Arc<dyn Mailer>,
    pub mail_settings: crate::mail::MailSettings,
    pub keys: KeyRing,
    pub clock: Arc<dyn Clock>,
}

impl IamApp {
    pub fn new(parts: IamParts, policies: Policies) -> Self {
        Self {
            inner: Arc::new(Inner {
                db: parts.db,
                outbox: parts.outbox,
                password_work: PasswordWork::new(parts.hasher, policies.hashing),
                mailer: parts.mailer,
                keys: parts.keys,
                policies,
                clock: parts.clock,
                mail_settings: parts.mail_settings,
            }),
        }
    }

    pub fn keys(&self) -> &KeyRing {
        &self.inner.keys
    }

    fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// Emits `event` in `tx`, about its user, with the correlation id of
    /// `context`'s request.
    async fn emit(
        tx: &OutboxTransaction,
        context: &RequestContext,
        event: &IamEvent<'_>,
    ) -> Result<(), StoreError> {
        let metadata = EventMetadata::new(USER_AGGREGATE, event.user_id().to_string())
            .with_correlation_id(context.correlation_id.clone());
        tx.emit(event, metadata).await?;
        Ok(())
    }

    /// Runs a password hash or verification off the async threads, behind
    /// the hashing gate (see [`hashing`]): Argon2id with OWASP parameters
    /// costs tens of milliseconds of CPU and 19 MiB. [`IamError::Busy`]
    /// when the gate is full.
    async fn blocking<T, F>(&self, work: F) -> Result<T, IamError>
    where
        T: Send + 'static,
        F: FnOnce(&PasswordHasher) -> T + Send + 'static,
    {
        self.inner.password_work.admit()?.run(work).await
    }
}
