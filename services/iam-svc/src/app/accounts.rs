//! SignUp, VerifyEmail, ResendVerificationEmail.

use ecommerce_db::{StoreError, transaction};
use secrecy::SecretString;
use uuid::Uuid;

use super::{IamApp, IamError, RequestContext, UserView};
use crate::domain::email::EmailAddress;
use crate::domain::events::IamEvent;
use crate::domain::profile::DisplayName;
use crate::domain::tokens::{OpaqueToken, TokenHash, TokenKind};
use crate::domain::verification::{
    RecentVerificationMails, ResendDecision, ResendVerificationPolicy,
};
use crate::mail::verification_mail;
use crate::storage::users::{NewUser, UserRow};
use crate::storage::{USERS_EMAIL_KEY, USERS_SIGNUP_KEY, users, verification};

/// A validated SignUp request.
#[derive(Debug)]
pub struct SignUp {
    pub email: EmailAddress,
    pub password: SecretString,
    pub name: DisplayName,
    /// Makes retries safe: the same key returns the same user.
    pub idempotency_key: Option<String>,
}

/// The longest idempotency key accepted.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 128;

impl IamApp {
    /// Creates a user with an unverified email, emits
    /// `iam.user.registered.v1` and mails a verification token.
    #[tracing::instrument(skip_all, err(Display, level = "info"))]
    pub async fn sign_up(
        &self,
        context: &RequestContext,
        request: SignUp,
    ) -> Result<UserView, IamError> {
        self.inner
            .policies
            .password
            .check(&request.password, &request.email)
            .map_err(|error| IamError::invalid(error.field(), error))?;
        if let Some(key) = &request.idempotency_key {
            if let Some(existing) = users::find_by_signup_key(&self.inner.db, key).await? {
                return replayed_sign_up(&existing, &request.email);
            }
        }
        let password = request.password.clone();
        let password_hash = self
            .blocking(move |hasher| hasher.hash(&password))
            .await?
            .map_err(IamError::internal)?;
        let now = self.now();
        let verification_token =
            OpaqueToken::generate(TokenKind::EmailVerification).map_err(IamError::internal)?;
        let expires_at = self.inner.policies.verification.expires_at(now);
        let new_user = NewUser {
            id: Uuid::now_v7(),
            email: request.email.as_str().to_owned(),
            name: request.name.as_str().to_owned(),
            password_hash: password_hash.into_string(),
            roles: Vec::new(),
            email_verified_at: None,
            signup_key: request.idempotency_key.clone(),
            created_by_bootstrap: false,
            now,
        };
        let (outbox, db) = (&self.inner.outbox, &self.inner.db);
        let inserted = transaction!(IamError, "sign_up", outbox.begin(db), |tx| {
            // Claimed here, inside the attempt, so a taken email or key is
            // answered rather than retried.
            let user = users::insert(tx, new_user.clone())
                .await
                .map_err(sign_up_conflict)?;
            let token_hash = verification_token.hash().as_bytes().to_vec();
            verification::insert(tx, token_hash, user.id, user.email.clone(), now, expires_at)
                .await?;
            let event = IamEvent::UserRegistered {
                user_id: user.id,
                email: &user.email,
                name: &user.name,
            };
            Self::emit(tx, context, &event).await?;
            Ok(user)
        });
        let user = match inserted {
            Ok(user) => user,
            // A concurrent retry with the same key won the race: answer as it did.
            Err(IamError::AlreadyExists(message)) if message == SIGNUP_KEY_TAKEN => {
                let key = request.idempotency_key.as_deref().unwrap_or_default();
                let existing = users::find_by_signup_key(&self.inner.db, key)
                    .await?
                    .ok_or_else(|| IamError::internal(anyhow::anyhow!("sign-up key vanished")))?;
                return replayed_sign_up(&existing, &request.email);
            }
            Err(error) => return Err(error),
        };
        tracing::info!(user_id = %user.id, "user signed up");
        self.send_verification_mail(&user, &verification_token)
            .await;
        Ok(UserView::from(&user))
    }

    /// Marks the email verified (once) and emits `iam.user.email_verified.v1`.
    #[tracing::instrument(skip_all, err(Display, level = "info"))]
    pub async fn verify_email(
        &self,
        context: &RequestContext,
        presented_token: &str,
    ) -> Result<UserView, IamError> {
        let token_hash = TokenHash::of_presented(TokenKind::EmailVerification, presented_token)
            .map_err(|_| invalid_verification_token())?;
        let now = self.now();
        let (outbox, db) = (&self.inner.outbox, &self.inner.db);
        let user = transaction!(IamError, "verify_email", outbox.begin(db), |tx| {
            let token = verification::lock_by_hash(tx, token_hash.as_bytes())
                .await?
                .filter(|token| token.used_at.is_none() && token.expires_at > now)
                .ok_or_else(invalid_verification_token)?;
            let user = users::lock_by_id(tx, token.user_id)
                .await?
                .filter(|user| user.email == token.email)
                .ok_or_else(invalid_verification_token)?;
            verification::mark_used(tx, token_hash.as_bytes(), now).await?;
            if user.email_verified_at.is_some() {
                return Ok(user);
            }
            let changes = crate::storage::entities::user::ActiveModel {
                email_verified_at: sea_orm::ActiveValue::Set(Some(now)),
                ..Default::default()
            };
            let user = users::update(tx, user.id, changes, now).await?;
            let event = IamEvent::UserEmailVerified {
                user_id: user.id,
                email: &user.email,
            };
            Self::emit(tx, context, &event).await?;
            Ok(user)
        })?;
        Ok(UserView::from(&user))
    }

    /// Mails a new verification token to an unverified account; does the
    /// same nothing, visibly, for unknown and already verified emails.
    ///
    /// Throttled per address ([`ResendVerificationPolicy`]: one mail a
    /// minute, five a day, the sign-up's included). Over the limit it also
    /// answers OK and sends nothing: a `RESOURCE_EXHAUSTED` only known,
    /// unverified accounts could get would tell which emails have one.
    #[tracing::instrument(skip_all, err(Display, level = "info"))]
    pub async fn resend_verification_email(
        &self,
        _context: &RequestContext,
        email: &EmailAddress,
    ) -> Result<(), IamError> {
        let Some(user) = users::find_by_email(&self.inner.db, email.as_str()).await? else {
            return Ok(());
        };
        if user.email_verified_at.is_some() {
            return Ok(());
        }
        let now = self.now();
        let token =
            OpaqueToken::generate(TokenKind::EmailVerification).map_err(IamError::internal)?;
        let expires_at = self.inner.policies.verification.expires_at(now);
        let policy = self.inner.policies.resend_verification;
        let (outbox, db) = (&self.inner.outbox, &self.inner.db);
        let decision = transaction!(
            IamError,
            "resend_verification_email",
            outbox.begin(db),
            |tx| {
                // Locked, so concurrent resends for one user count one by one.
                let Some(current) = users::lock_by_id(tx, user.id).await? else {
                    return Ok(None);
                };
                if current.email_verified_at.is_some() || current.email != user.email {
                    return Ok(None);
                }
                let since = ResendVerificationPolicy::day_start(now);
                let recent =
                    verification::recent_to_address(tx, user.id, &user.email, since).await?;
                let recent = RecentVerificationMails {
                    count: u32::try_from(recent.count).unwrap_or(u32::MAX),
                    oldest: recent.oldest,
                    newest: recent.newest,
                };
                let decision = policy.decide(&recent, now);
                if decision == ResendDecision::Send {
                    verification::spend_all_of_user(tx, user.id, now).await?;
                    let token_hash = token.hash().as_bytes().to_vec();
                    verification::insert(
                        tx,
                        token_hash,
                        user.id,
                        user.email.clone(),
                        now,
                        expires_at,
                    )
                    .await?;
                }
                Ok(Some(decision))
            }
        )?;
        match decision {
            Some(ResendDecision::Send) => self.send_verification_mail(&user, &token).await,
            Some(ResendDecision::Wait { retry_after }) => {
                tracing::info!(
                    user_id = %user.id,
                    retry_after_s = retry_after.as_secs(),
                    "verification mail not re-sent: the address had its share"
                );
            }
            None => {}
        }
        Ok(())
    }

    /// Mail is sent after the commit: a failed send leaves a valid account
    /// whose owner can ask for another mail, rather than no account.
    async fn send_verification_mail(&self, user: &UserRow, token: &OpaqueToken) {
        let Ok(to) = EmailAddress::parse(&user.email) else {
            tracing::error!(user_id = %user.id, "stored email no longer parses; no mail sent");
            return;
        };
        let mail = verification_mail(&to, &user.name, token, &self.inner.mail_settings);
        if let Err(error) = self.inner.mailer.send(&mail).await {
            tracing::error!(user_id = %user.id, %error, "verification mail not sent");
        }
    }
}

/// Tells "a concurrent retry with the same key won" from "email taken".
const SIGNUP_KEY_TAKEN: &str = "a sign-up with this idempotency key is in progress";

fn sign_up_conflict(error: StoreError) -> IamError {
    if error.is_unique_violation_of(USERS_EMAIL_KEY) {
        return IamError::AlreadyExists("email already in use");
    }
    if error.is_unique_violation_of(USERS_SIGNUP_KEY) {
        return IamError::AlreadyExists(SIGNUP_KEY_TAKEN);
    }
    IamError::Store(error)
}

/// The answer to a SignUp whose idempotency key was used before.
fn replayed_sign_up(existing: &UserRow, email: &EmailAddress) -> Result<UserView, IamError> {
    if existing.email == email.as_str() {
        Ok(UserView::from(existing))
    } else {
        Err(IamError::invalid(
            "idempotency_key",
            "idempotency_key was already used for a different sign-up",
        ))
    }
}

fn invalid_verification_token() -> IamError {
    IamError::invalid(
        "token",
        "the verification token is unknown, used or expired",
    )
}
