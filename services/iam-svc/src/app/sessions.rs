//! SignIn (with throttling and lockout), RefreshSession, SignOut, and the
//! session check of IAM's own authenticated RPCs.

use chrono::{DateTime, Utc};
use ecommerce_auth::Caller;
use ecommerce_db::transaction;
use secrecy::SecretString;
use uuid::Uuid;

use super::{IamApp, IamError, RequestContext, UserView};
use crate::domain::email::EmailAddress;
use crate::domain::events::{IamEvent, SignInFailureReason};
use crate::domain::password::PhcString;
use crate::domain::rate_limit::{AttemptDecision, ThrottleState};
use crate::domain::tokens::{OpaqueToken, TokenHash, TokenKind};
use crate::storage::failures::{self, FailureKey};
use crate::storage::sessions::{self, SessionRow};
use crate::storage::users::{self, UserRow};

const WRONG_CREDENTIALS: &str = "wrong email or password";
const INVALID_REFRESH_TOKEN: &str = "the refresh token is invalid, spent or expired; sign in again";
const SESSION_ENDED: &str = "the session has ended; sign in again";

/// A new or refreshed session's tokens.
#[derive(Clone)]
pub struct IssuedSession {
    pub access_token: String,
    pub access_token_expires_at: DateTime<Utc>,
    pub refresh_token: OpaqueToken,
    pub refresh_token_expires_at: DateTime<Utc>,
}

/// Hides both tokens.
impl std::fmt::Debug for IssuedSession {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("IssuedSession")
            .field("access_token_expires_at", &self.access_token_expires_at)
            .field("refresh_token_expires_at", &self.refresh_token_expires_at)
            .finish_non_exhaustive()
    }
}

impl IamApp {
    /// Exchanges email and password for a session.
    ///
    /// Unknown email and wrong password cost the same (a dummy hash is
    /// verified) and answer the same. Failures are counted per account and
    /// per client; past the limit the caller is throttled with a retry delay,
    /// and the account's limit also locks it for a while. Every failure
    /// emits `iam.security.sign_in_failed.v1`.
    #[tracing::instrument(skip_all, err(Display, level = "info"))]
    pub async fn sign_in(
        &self,
        context: &RequestContext,
        email: &EmailAddress,
        password: SecretString,
    ) -> Result<(IssuedSession, UserView), IamError> {
        let now = self.now();
        let user = users::find_by_email(&self.inner.db, email.as_str()).await?;
        let state = self
            .throttle_state(context, email, user.as_ref(), now)
            .await?;
        if let AttemptDecision::Throttled { retry_after } = self
            .inner
            .policies
            .throttle
            .decide_before_attempt(&state, now)
        {
            // Reported, not counted: a client waiting out its throttle by
            // retrying must not keep itself throttled forever.
            self.record_failure(
                context,
                email,
                user.as_ref(),
                SignInFailureReason::AccountLocked,
                now,
            )
            .await?;
            return Err(IamError::Throttled { retry_after });
        }
        let password_matches = match &user {
            Some(user) => self.check_password(&password, &user.password_hash).await?,
            None => {
                let password = password.clone();
                self.blocking(move |hasher| hasher.dummy_verify(&password))
                    .await?
            }
        };
        let user = match (user, password_matches) {
            (Some(user), true) => user,
            (user, _) => {
                let reason = if user.is_some() {
                    SignInFailureReason::WrongPassword
                } else {
                    SignInFailureReason::UnknownEmail
                };
                self.record_failure(context, email, user.as_ref(), reason, now)
                    .await?;
                return Err(IamError::Unauthenticated(WRONG_CREDENTIALS));
            }
        };
        let session = self.open_session(context, &user, now).await?;
        tracing::info!(user_id = %user.id, "user signed in");
        Ok((session, UserView::from(&user)))
    }

    /// Rotates the refresh token. A spent token presented again means it
    /// leaked: the whole session is revoked.
    #[tracing::instrument(skip_all, err(Display, level = "info"))]
    pub async fn refresh_session(
        &self,
        _context: &RequestContext,
        presented_token: &str,
    ) -> Result<IssuedSession, IamError> {
        let token_hash = TokenHash::of_presented(TokenKind::Refresh, presented_token)
            .map_err(|_| IamError::Unauthenticated(INVALID_REFRESH_TOKEN))?;
        let now = self.now();
        let new_token = OpaqueToken::generate(TokenKind::Refresh).map_err(IamError::internal)?;
        let (outbox, db) = (&self.inner.outbox, &self.inner.db);
        let outcome = transaction!(IamError, "refresh_session", outbox.begin(db), |tx| {
            let Some((token, session)) =
                sessions::lock_by_refresh_token(tx, token_hash.as_bytes()).await?
            else {
                return Ok(Refresh::Refused);
            };
            if token.spent_at.is_some() {
                sessions::revoke(tx, session.id, now, "refresh token reused").await?;
                tracing::warn!(session_id = %session.id, "spent refresh token presented; session revoked");
                return Ok(Refresh::Refused);
            }
            if session.revoked_at.is_some() || session.expires_at <= now {
                return Ok(Refresh::Refused);
            }
            let Some(user) = users::find_by_id(tx, session.user_id).await? else {
                return Ok(Refresh::Refused);
            };
            let expires_at = self
                .inner
                .policies
                .sessions
                .slide(now, session.absolute_expires_at);
            let new_hash = new_token.hash().as_bytes().to_vec();
            sessions::spend_refresh_token(tx, token_hash.as_bytes(), now).await?;
            sessions::insert_refresh_token(tx, new_hash, session.id, now).await?;
            sessions::slide(tx, session.id, now, expires_at).await?;
            Ok(Refresh::Rotated {
                user: Box::new(user),
                session_id: session.id,
                expires_at,
            })
        })?;
        match outcome {
            Refresh::Refused => Err(IamError::Unauthenticated(INVALID_REFRESH_TOKEN)),
            Refresh::Rotated {
                user,
                session_id,
                expires_at,
            } => self.tokens_for(&user, session_id, new_token, expires_at, now),
        }
    }

    /// Ends the session of a refresh token and emits
    /// `iam.user.signed_out.v1`; unknown or ended sessions succeed silently.
    #[tracing::instrument(skip_all, err(Display, level = "info"))]
    pub async fn sign_out(
        &self,
        context: &RequestContext,
        presented_token: &str,
    ) -> Result<(), IamError> {
        let Ok(token_hash) = TokenHash::of_presented(TokenKind::Refresh, presented_token) else {
            return Err(IamError::invalid(
                "refresh_token",
                "refresh_token is not a refresh token",
            ));
        };
        let now = self.now();
        let (outbox, db) = (&self.inner.outbox, &self.inner.db);
        transaction!(IamError, "sign_out", outbox.begin(db), |tx| {
            let Some((_, session)) =
                sessions::lock_by_refresh_token(tx, token_hash.as_bytes()).await?
            else {
                return Ok(());
            };
            if sessions::revoke(tx, session.id, now, "signed out").await? {
                let event = IamEvent::UserSignedOut {
                    user_id: session.user_id,
                    session_id: session.id,
                };
                Self::emit(tx, context, &event).await?;
            }
            Ok(())
        })
    }

    /// IAM's own authenticated RPCs also refuse a valid access token whose
    /// session was signed out or revoked (other services accept it until it
    /// expires, at most 15 minutes).
    pub(crate) async fn require_active_session(
        &self,
        caller: &Caller,
    ) -> Result<UserRow, IamError> {
        let now = self.now();
        let session = sessions::find(&self.inner.db, caller.session_id).await?;
        let session = session.filter(|session| session.user_id == caller.user_id);
        let active =
            session.is_some_and(|session| session.revoked_at.is_none() && session.expires_at > now);
        if !active {
            return Err(IamError::Unauthenticated(SESSION_ENDED));
        }
        users::find_by_id(&self.inner.db, caller.user_id)
            .await?
            .ok_or(IamError::Unauthenticated(SESSION_ENDED))
    }

    async fn check_password(
        &self,
        password: &SecretString,
        stored: &str,
    ) -> Result<bool, IamError> {
        let Ok(hash) = PhcString::parse(stored) else {
            tracing::error!("a stored password hash does not parse");
            return Ok(false);
        };
        let password = password.clone();
        self.blocking(move |hasher| hasher.verify(&password, &hash))
            .await
    }

    async fn throttle_state(
        &self,
        context: &RequestContext,
        email: &EmailAddress,
        user: Option<&UserRow>,
        now: DateTime<Utc>,
    ) -> Result<ThrottleState, IamError> {
        let since = now - self.inner.policies.throttle.window_as_chrono();
        let account =
            failures::recent(&self.inner.db, FailureKey::Account(email.as_str()), since).await?;
        let client = failures::recent(
            &self.inner.db,
            FailureKey::Client(&context.client_address),
            since,
        )
        .await?;
        Ok(ThrottleState {
            account_failures: u32::try_from(account.count).unwrap_or(u32::MAX),
            oldest_account_failure: account.oldest,
            client_failures: u32::try_from(client.count).unwrap_or(u32::MAX),
            oldest_client_failure: client.oldest,
            locked_until: user.and_then(|user| user.locked_until),
        })
    }

    /// Emits `sign_in_failed` and, for a checked password (not a throttled
    /// attempt, reported with reason `ACCOUNT_LOCKED`), counts the failure
    /// and emits `account_locked` when it reaches the account's limit; all
    /// in one transaction.
    async fn record_failure(
        &self,
        context: &RequestContext,
        email: &EmailAddress,
        user: Option<&UserRow>,
        reason: SignInFailureReason,
        now: DateTime<Utc>,
    ) -> Result<(), IamError> {
        let state = self.throttle_state(context, email, user, now).await?;
        let outcome = self.inner.policies.throttle.after_failure(&state, now);
        let user_id = user.map(|user| user.id);
        let counted = reason != SignInFailureReason::AccountLocked;
        let (outbox, db) = (&self.inner.outbox, &self.inner.db);
        transaction!(IamError, "record_sign_in_failure", outbox.begin(db), |tx| {
            if counted {
                failures::record(tx, email.as_str(), &context.client_address, now).await?;
            }
            let event = IamEvent::SignInFailed {
                email: email.as_str(),
                user_id,
                reason,
                client_address: &context.client_address,
                attempt_count: outcome.attempt_count,
            };
            Self::emit(tx, context, &event).await?;
            if let (Some(user_id), Some(lock_until)) = (user_id, outcome.lock_until) {
                if counted {
                    users::lock_sign_in_until(tx, user_id, lock_until).await?;
                    let event = IamEvent::AccountLocked {
                        user_id,
                        locked_until: lock_until,
                        attempt_count: outcome.attempt_count,
                    };
                    Self::emit(tx, context, &event).await?;
                    tracing::warn!(%user_id, %lock_until, "account locked after repeated sign-in failures");
                }
            }
            Ok(())
        })
    }

    async fn open_session(
        &self,
        context: &RequestContext,
        user: &UserRow,
        now: DateTime<Utc>,
    ) -> Result<IssuedSession, IamError> {
        let refresh_token =
            OpaqueToken::generate(TokenKind::Refresh).map_err(IamError::internal)?;
        let (expires_at, absolute_expires_at) = self.inner.policies.sessions.initial_expiry(now);
        let session = SessionRow {
            id: Uuid::now_v7(),
            user_id: user.id,
            created_at: now,
            last_refreshed_at: now,
            expires_at,
            absolute_expires_at,
            revoked_at: None,
            revoked_reason: None,
            client_address: context.client_address.clone(),
        };
        let session_id = session.id;
        let (outbox, db) = (&self.inner.outbox, &self.inner.db);
        transaction!(IamError, "open_session", outbox.begin(db), |tx| {
            failures::forget_account(tx, &user.email).await?;
            sessions::insert_session(tx, session.clone()).await?;
            let token_hash = refresh_token.hash().as_bytes().to_vec();
            sessions::insert_refresh_token(tx, token_hash, session_id, now).await?;
            let event = IamEvent::UserSignedIn {
                user_id: user.id,
                session_id,
                client_address: &context.client_address,
            };
            Self::emit(tx, context, &event).await?;
            Ok(())
        })?;
        self.tokens_for(user, session_id, refresh_token, expires_at, now)
    }

    fn tokens_for(
        &self,
        user: &UserRow,
        session_id: Uuid,
        refresh_token: OpaqueToken,
        refresh_token_expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<IssuedSession, IamError> {
        let (access_token, access_token_expires_at) = self
            .inner
            .keys
            .issuer()
            .issue(user.id, session_id, &user.roles, now)
            .map_err(IamError::internal)?;
        Ok(IssuedSession {
            access_token,
            access_token_expires_at,
            refresh_token,
            refresh_token_expires_at,
        })
    }
}

enum Refresh {
    Refused,
    Rotated {
        user: Box<UserRow>,
        session_id: Uuid,
        expires_at: DateTime<Utc>,
    },
}
