//! Access revoked before tokens expire: what IAM's events say, in memory.
//!
//! An access token is verified locally, so a signed-out session or a
//! demoted admin would keep working until the token expires. IAM announces
//! each such change as an event; the service's runtime feeds them into a
//! [`Revocations`], and the verifier refuses every token they cover:
//!
//! - a session ended (`iam.user.signed_out.v1`): every token of that session;
//! - a user's roles replaced (`iam.user.access_synchronized.v1`): every token
//!   of that user whose roles differ from the new set, so the client
//!   refreshes and gets the new ones;
//! - an account locked (`iam.security.account_locked.v1`): every token of
//!   that user issued up to the lock.
//!
//! An entry is kept for `retention` after its event (longer than any token
//! lives), then forgotten: every token it covered has expired by then.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::claims::AccessClaims;
use crate::verifier::AuthError;

/// One change that ends access granted before it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Revocation {
    SessionEnded {
        session_id: Uuid,
        at: DateTime<Utc>,
    },
    RolesReplaced {
        user_id: Uuid,
        roles: Vec<String>,
        at: DateTime<Utc>,
    },
    AccountLocked {
        user_id: Uuid,
        at: DateTime<Utc>,
    },
}

impl Revocation {
    fn at(&self) -> DateTime<Utc> {
        match self {
            Self::SessionEnded { at, .. }
            | Self::RolesReplaced { at, .. }
            | Self::AccountLocked { at, .. } => *at,
        }
    }
}

#[derive(Debug)]
struct CurrentRoles {
    roles: BTreeSet<String>,
    at: DateTime<Utc>,
}

#[derive(Debug, Default)]
struct State {
    ended_sessions: HashMap<Uuid, DateTime<Utc>>,
    roles: HashMap<Uuid, CurrentRoles>,
    /// The latest lock of each user.
    locks: HashMap<Uuid, DateTime<Utc>>,
    /// The last time entries older than the retention were dropped.
    pruned_at: Option<DateTime<Utc>>,
}

/// The revocations a service knows of. Cheap to check: one mutex, three maps.
#[derive(Debug)]
pub struct Revocations {
    retention: chrono::Duration,
    state: Mutex<State>,
}

impl Revocations {
    /// Remembers each revocation for `retention` after it happened: at least
    /// the longest access token lifetime plus the verifier's leeway.
    pub fn new(retention: Duration) -> Self {
        Self {
            retention: chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX),
            state: Mutex::new(State::default()),
        }
    }

    /// How long an entry is kept.
    pub fn retention(&self) -> Duration {
        self.retention.to_std().unwrap_or(Duration::MAX)
    }

    /// Records `revocation` as of `now`. Idempotent, and order-insensitive
    /// for roles (the newest set wins); one older than the retention is ignored.
    pub fn record(&self, revocation: Revocation, now: DateTime<Utc>) {
        if revocation.at() + self.retention < now {
            return;
        }
        let mut state = self.lock();
        match revocation {
            Revocation::SessionEnded { session_id, at } => {
                let ended = state.ended_sessions.entry(session_id).or_insert(at);
                *ended = (*ended).max(at);
            }
            Revocation::RolesReplaced { user_id, roles, at } => {
                let newer = state.roles.get(&user_id).is_none_or(|known| known.at <= at);
                if newer {
                    let roles = roles.into_iter().collect();
                    state.roles.insert(user_id, CurrentRoles { roles, at });
                }
            }
            Revocation::AccountLocked { user_id, at } => {
                let locked = state.locks.entry(user_id).or_insert(at);
                *locked = (*locked).max(at);
            }
        }
        self.prune(&mut state, now);
    }

    /// `Ok` unless a recorded revocation covers the token of `claims`.
    pub fn check(&self, claims: &AccessClaims, now: DateTime<Utc>) -> Result<(), AuthError> {
        let mut state = self.lock();
        self.prune(&mut state, now);
        if state.ended_sessions.contains_key(&claims.sid) {
            return Err(AuthError::Revoked("the session has ended; sign in again"));
        }
        if let Some(current) = state.roles.get(&claims.sub) {
            let token_roles: BTreeSet<&str> = claims.roles.iter().map(String::as_str).collect();
            let current_roles: BTreeSet<&str> = current.roles.iter().map(String::as_str).collect();
            if token_roles != current_roles {
                return Err(AuthError::Revoked(
                    "the account's roles changed; refresh the session",
                ));
            }
        }
        if let Some(locked_at) = state.locks.get(&claims.sub) {
            // `iat` has whole seconds: a token of the lock's own second is refused too.
            if claims.iat <= locked_at.timestamp() {
                return Err(AuthError::Revoked("the account was locked; sign in again"));
            }
        }
        Ok(())
    }

    /// How many entries are held (sessions, role sets, locks), for logs and tests.
    pub fn len(&self) -> usize {
        let state = self.lock();
        state.ended_sessions.len() + state.roles.len() + state.locks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops what has outlived the retention, at most once a second.
    fn prune(&self, state: &mut State, now: DateTime<Utc>) {
        if state
            .pruned_at
            .is_some_and(|pruned_at| now - pruned_at < chrono::Duration::seconds(1))
        {
            return;
        }
        state.pruned_at = Some(now);
        let horizon = now - self.retention;
        state.ended_sessions.retain(|_, at| *at >= horizon);
        state.roles.retain(|_, current| current.at >= horizon);
        state.locks.retain(|_, at| *at >= horizon);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The maps stay consistent even if a holder panicked: each change is one insert.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const RETENTION: Duration = Duration::from_secs(20 * 60);

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-06T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn claims(user_id: Uuid, session_id: Uuid, roles: &[&str], iat: DateTime<Utc>) -> AccessClaims {
        AccessClaims {
            iss: "ecommerce-iam".to_owned(),
            aud: "ecommerce".to_owned(),
            sub: user_id,
            exp: iat.timestamp() + 900,
            nbf: iat.timestamp(),
            iat: iat.timestamp(),
            jti: Uuid::now_v7(),
            sid: session_id,
            roles: roles.iter().map(|role| (*role).to_owned()).collect(),
        }
    }

    fn message(result: Result<(), AuthError>) -> String {
        result.unwrap_err().to_string()
    }

    #[test]
    fn an_ended_session_refuses_its_tokens_and_no_other() {
        let revocations = Revocations::new(RETENTION);
        let (user, ended, other) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let issued = now() - chrono::Duration::minutes(5);
        revocations.record(
            Revocation::SessionEnded {
                session_id: ended,
                at: now(),
            },
            now(),
        );
        let later = now() + chrono::Duration::seconds(5);
        assert!(
            message(revocations.check(&claims(user, ended, &[], issued), later))
                .contains("session has ended")
        );
        revocations
            .check(&claims(user, other, &[], issued), later)
            .unwrap();
        let status = tonic::Status::from(
            revocations
                .check(&claims(user, ended, &[], issued), later)
                .unwrap_err(),
        );
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
    }

    #[test]
    fn replaced_roles_refuse_tokens_carrying_other_roles() {
        let revocations = Revocations::new(RETENTION);
        let (user, session) = (Uuid::now_v7(), Uuid::now_v7());
        let issued = now() - chrono::Duration::minutes(1);
        revocations.record(
            Revocation::RolesReplaced {
                user_id: user,
                roles: vec![],
                at: now(),
            },
            now(),
        );
        assert!(
            message(revocations.check(&claims(user, session, &["admin"], issued), now()))
                .contains("roles changed")
        );
        // A token with the new roles (refreshed) passes.
        revocations
            .check(&claims(user, session, &[], now()), now())
            .unwrap();
        // An older event arriving late does not undo the newer one.
        revocations.record(
            Revocation::RolesReplaced {
                user_id: user,
                roles: vec!["admin".to_owned()],
                at: now() - chrono::Duration::minutes(2),
            },
            now(),
        );
        assert!(
            revocations
                .check(&claims(user, session, &["admin"], issued), now())
                .is_err()
        );
        // Order of roles is irrelevant.
        revocations.record(
            Revocation::RolesReplaced {
                user_id: user,
                roles: vec!["support".to_owned(), "admin".to_owned()],
                at: now() + chrono::Duration::seconds(1),
            },
            now(),
        );
        revocations
            .check(&claims(user, session, &["admin", "support"], now()), now())
            .unwrap();
    }

    #[test]
    fn a_lock_refuses_tokens_issued_up_to_it() {
        let revocations = Revocations::new(RETENTION);
        let (user, session) = (Uuid::now_v7(), Uuid::now_v7());
        revocations.record(
            Revocation::AccountLocked {
                user_id: user,
                at: now(),
            },
            now(),
        );
        for issued in [now() - chrono::Duration::minutes(3), now()] {
            assert!(
                message(revocations.check(&claims(user, session, &[], issued), now()))
                    .contains("locked")
            );
        }
        let after = now() + chrono::Duration::seconds(1);
        revocations
            .check(&claims(user, session, &[], after), after)
            .unwrap();
    }

    #[test]
    fn entries_are_forgotten_after_the_retention_and_old_events_ignored() {
        let revocations = Revocations::new(RETENTION);
        let session = Uuid::now_v7();
        let too_old = now() - chrono::Duration::minutes(21);
        revocations.record(
            Revocation::SessionEnded {
                session_id: session,
                at: too_old,
            },
            now(),
        );
        assert!(revocations.is_empty());
        revocations.record(
            Revocation::SessionEnded {
                session_id: session,
                at: now(),
            },
            now(),
        );
        assert_eq!(revocations.len(), 1);
        let past_retention = now() + chrono::Duration::minutes(21);
        revocations
            .check(
                &claims(Uuid::now_v7(), Uuid::now_v7(), &[], past_retention),
                past_retention,
            )
            .unwrap();
        assert!(revocations.is_empty());
    }
}
