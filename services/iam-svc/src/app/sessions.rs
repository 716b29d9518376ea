//! SignIn (with throttling and lockout), RefreshSession, SignOut, and the
//! session check of IAM's own authenticated RPCs.

use chrono::{DateTime, Utc};
use ecommerce_auth::Caller;
use ecommerce_db::transaction;
use sea_orm::{ConnectionTrait, TransactionTrait as _};
use secrecy::SecretString;
use uuid::Uuid;

use super::hashing::Admission;
use super::{IamApp, IamError, RequestContext, UserView};
use crate::domain::email::EmailAddress;
use crate::domain::events::{IamEvent, SignInFailureReason};
use crate::domain::password::PhcString;
use crate::domain::rate_limit::{AttemptDecision, SignInThrottlePolicy, ThrottleState};
use crate::domain::roles::{AdminAccess, admin_access};
use crate::domain::tokens::{OpaqueToken, TokenHash, TokenKind};
use crate::domain::verification::UnverifiedSignIn;
use crate::storage::failures::{self, FailureKey};
use crate::storage::sessions::{self, SessionRow};
use crate::storage::users::{self, UserRow};

const WRONG_CREDENTIALS: &str = "wrong email or password";
const INVALID_REFRESH_TOKEN: &str = "the refresh token is invalid, spent or expired; sign in again";
const SESSION_ENDED: &str = "the session has ended; sign in again";
const VERIFY_EMAIL_FIRST: &str =
    "verify your email address first (ResendVerificationEmail sends a new link)";
const ADMIN_REQUIRED: &str = "the admin role is required";
const ACCOUNT_LOCKED: &str = "the account is locked after repeated failed sign-ins; retry later";

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
    ///
    /// An attempt is counted *before* its password is checked, under a lock
    /// per account and per client, and uncounted when the password is right:
    /// a burst of parallel guesses gets exactly the limit's worth of checks.
    /// The check itself waits behind the hashing gate, which refuses with
    /// `RESOURCE_EXHAUSTED` when full, before anything is counted.
    ///
    /// A right password of an account whose email is not verified opens a
    /// session only within the grace period after sign-up
    /// ([`UnverifiedSignInPolicy`](crate::domain::verification::UnverifiedSignInPolicy));
    /// after it, `FAILED_PRECONDITION`.
    #[tracing::instrument(skip_all, err(Display, level = "info"))]
    pub async fn sign_in(
        &self,
        context: &RequestContext,
        email: &EmailAddress,
        password: SecretString,
    ) -> Result<(IssuedSession, UserView), IamError> {
        let admission = self.inner.password_work.admit()?;
        let now = self.now();
        let user = users::find_by_email(&self.inner.db, email.as_str()).await?;
        let (attempt_id, state) = match self
            .begin_attempt(context, email, user.as_ref(), now)
            .await?
        {
            Attempt::Counted { id, state } => (id, state),
            Attempt::Throttled { retry_after, state } => {
                drop(admission);
                // Reported, not counted: a client waiting out its throttle by
                // retrying must not keep itself throttled forever.
                self.report_failure(
                    context,
                    email,
                    user.as_ref(),
                    SignInFailureReason::AccountLocked,
                    &state,
                    now,
                )
                .await?;
                return Err(IamError::Throttled { retry_after });
            }
        };
        let password_matches = match &user {
            Some(user) => {
                self.check_password(admission, &password, &user.password_hash)
                    .await?
            }
            None => {
                let password = password.clone();
                admission
                    .run(move |hasher| hasher.dummy_verify(&password))
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
                self.report_failure(context, email, user.as_ref(), reason, &state, now)
                    .await?;
                return Err(IamError::Unauthenticated(WRONG_CREDENTIALS));
            }
        };
        let verified = user.email_verified_at.is_some();
        match self
            .inner
            .policies
            .unverified_sign_in
            .decide(verified, user.created_at, now)
        {
            UnverifiedSignIn::Verified => {}
            UnverifiedSignIn::WithinGrace { grace_ends_at } => {
                tracing::info!(user_id = %user.id, %grace_ends_at, "unverified account signs in within its grace period");
            }
            UnverifiedSignIn::Refused { grace_ended_at } => {
                // The password was right: not a failure.
                failures::delete(&self.inner.db, attempt_id).await?;
                tracing::info!(user_id = %user.id, %grace_ended_at, "sign-in refused: email not verified and the grace period is over");
                return Err(IamError::FailedPrecondition(VERIFY_EMAIL_FIRST.to_owned()));
            }
        }
        // Opening the session forgets the account's failures, this
        // attempt's included.
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

    /// [`Self::require_active_session`], then the admin role as stored now
    /// (not as the token claims it) and no sign-in lock: the check of IAM's
    /// back-office RPCs. `PERMISSION_DENIED` without the role or while locked.
    pub(crate) async fn require_admin(&self, caller: &Caller) -> Result<UserRow, IamError> {
        let user = self.require_active_session(caller).await?;
        match admin_access(&user.roles, user.locked_until, self.now()) {
            AdminAccess::Granted => Ok(user),
            AdminAccess::NotAdmin => {
                tracing::warn!(user_id = %user.id, "admin RPC refused: the stored roles lack admin");
                Err(IamError::PermissionDenied(ADMIN_REQUIRED))
            }
            AdminAccess::Locked => {
                tracing::warn!(user_id = %user.id, "admin RPC refused: the account is locked");
                Err(IamError::PermissionDenied(ACCOUNT_LOCKED))
            }
        }
    }

    /// Verifies `password` in `admission`'s turn; a stored hash that does
    /// not parse verifies nothing.
    async fn check_password(
        &self,
        admission: Admission,
        password: &SecretString,
        stored: &str,
    ) -> Result<bool, IamError> {
        let Ok(hash) = PhcString::parse(stored) else {
            tracing::error!("a stored password hash does not parse");
            return Ok(false);
        };
        let password = password.clone();
        admission
            .run(move |hasher| hasher.verify(&password, &hash))
            .await
    }

    /// Counts the attempt unless it is throttled, in one transaction that
    /// waits for the attempts before it on the same account or client.
    async fn begin_attempt(
        &self,
        context: &RequestContext,
        email: &EmailAddress,
        user: Option<&UserRow>,
        now: DateTime<Utc>,
    ) -> Result<Attempt, IamError> {
        let policy = self.inner.policies.throttle;
        let locked_until = user.and_then(|user| user.locked_until);
        let db = &self.inner.db;
        transaction!(IamError, "begin_sign_in_attempt", db.begin(), |tx| {
            failures::serialize_attempts(tx, email.as_str(), &context.client_address).await?;
            let state =
                Self::throttle_state(tx, &policy, context, email, locked_until, now).await?;
            match policy.decide_before_attempt(&state, now) {
                AttemptDecision::Throttled { retry_after } => {
                    Ok(Attempt::Throttled { retry_after, state })
                }
                AttemptDecision::Allowed => {
                    let id =
                        failures::record(tx, email.as_str(), &context.client_address, now).await?;
                    Ok(Attempt::Counted { id, state })
                }
            }
        })
    }

    async fn throttle_state<C: ConnectionTrait>(
        db: &C,
        policy: &SignInThrottlePolicy,
        context: &RequestContext,
        email: &EmailAddress,
        locked_until: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<ThrottleState, IamError> {
        let since = policy.window_start(now);
        let account = failures::recent(db, FailureKey::Account(email.as_str()), since).await?;
        let client =
            failures::recent(db, FailureKey::Client(&context.client_address), since).await?;
        Ok(ThrottleState {
            account_failures: u32::try_from(account.count).unwrap_or(u32::MAX),
            oldest_account_failure: account.oldest,
            client_failures: u32::try_from(client.count).unwrap_or(u32::MAX),
            oldest_client_failure: client.oldest,
            locked_until,
        })
    }

    /// Emits `sign_in_failed` for an attempt and, for a checked password
    /// (already counted by [`Self::begin_attempt`]; not a throttled attempt,
    /// reported with reason `ACCOUNT_LOCKED`), emits `account_locked` and
    /// locks the account when it reached the account's limit; all in one
    /// transaction. `state` is what the attempt saw before it was counted.
    async fn report_failure(
        &self,
        context: &RequestContext,
        email: &EmailAddress,
        user: Option<&UserRow>,
        reason: SignInFailureReason,
        state: &ThrottleState,
        now: DateTime<Utc>,
    ) -> Result<(), IamError> {
        let outcome = self.inner.policies.throttle.after_failure(state, now);
        let user_id = user.map(|user| user.id);
        let counted = reason != SignInFailureReason::AccountLocked;
        let (outbox, db) = (&self.inner.outbox, &self.inner.db);
        transaction!(IamError, "record_sign_in_failure", outbox.begin(db), |tx| {
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

/// Whether a sign-in attempt may check its password.
enum Attempt {
    /// Counted as a failure (row `id`) until the password proves right.
    Counted { id: i64, state: ThrottleState },
    Throttled {
        retry_after: std::time::Duration,
        state: ThrottleState,
    },
}

enum Refresh {
    Refused,
    Rotated {
        user: Box<UserRow>,
        session_id: Uuid,
        expires_at: DateTime<Utc>,
    },
}
