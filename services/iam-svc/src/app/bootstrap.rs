//! The administrator that exists from the first start.

use ecommerce_db::transaction;
use secrecy::SecretString;
use uuid::Uuid;

use super::settings::DEFAULT_BOOTSTRAP_ADMIN_PASSWORD;
use super::{IamApp, IamError, RequestContext};
use crate::domain::email::EmailAddress;
use crate::domain::events::IamEvent;
use crate::domain::password::PhcString;
use crate::domain::profile::DisplayName;
use crate::domain::roles::ADMIN;
use crate::storage::USERS_EMAIL_KEY;
use crate::storage::users::{self, NewUser};

/// `IAM_BOOTSTRAP_ADMIN_EMAIL` / `IAM_BOOTSTRAP_ADMIN_PASSWORD`.
pub struct BootstrapAdmin {
    pub email: EmailAddress,
    pub password: SecretString,
    pub name: DisplayName,
}

impl std::fmt::Debug for BootstrapAdmin {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("BootstrapAdmin")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

impl IamApp {
    /// Makes sure the bootstrap admin exists and has the `admin` role; safe
    /// on every start and from replicas starting together. An existing
    /// user's password is left alone: the variable only seeds the account.
    ///
    /// Only the account bootstrap itself created (`created_by_bootstrap`)
    /// gets the role. When someone else signed up under the email first,
    /// nothing is granted: the start goes on (in production too, so a
    /// sign-up cannot keep the service down) with an error naming that
    /// account's id, for an operator to look into.
    pub async fn ensure_bootstrap_admin(&self, admin: &BootstrapAdmin) -> Result<(), IamError> {
        let context = RequestContext {
            correlation_id: Uuid::now_v7().to_string(),
            client_address: String::new(),
        };
        let now = self.now();
        let (outbox, db) = (&self.inner.outbox, &self.inner.db);
        if let Some(existing) = users::find_by_email(db, admin.email.as_str()).await? {
            let is_admin = existing.roles.iter().any(|role| role == ADMIN);
            if !existing.created_by_bootstrap {
                if !is_admin {
                    tracing::error!(
                        user_id = %existing.id,
                        "the bootstrap admin email belongs to an account that signed up, not one the bootstrap created; \
                         the admin role is NOT granted to it (grant it with SetUserRoles if it is yours, \
                         or set IAM_BOOTSTRAP_ADMIN_EMAIL to another address)"
                    );
                }
                return Ok(());
            }
            if !is_admin {
                let mut roles = existing.roles.clone();
                roles.push(ADMIN.to_owned());
                roles.sort();
                transaction!(IamError, "grant_bootstrap_admin", outbox.begin(db), |tx| {
                    Self::store_roles(tx, &context, existing.id, roles.clone(), now).await?;
                    Ok(())
                })?;
                tracing::info!(user_id = %existing.id, "bootstrap admin granted the admin role");
            }
            return Ok(());
        }
        let password = admin.password.clone();
        let password_hash = self
            .blocking(move |hasher| hasher.hash(&password))
            .await?
            .map_err(IamError::internal)?;
        let new_user = NewUser {
            id: Uuid::now_v7(),
            email: admin.email.as_str().to_owned(),
            name: admin.name.as_str().to_owned(),
            password_hash: password_hash.into_string(),
            roles: vec![ADMIN.to_owned()],
            email_verified_at: Some(now),
            signup_key: None,
            created_by_bootstrap: true,
            now,
        };
        let created = transaction!(IamError, "create_bootstrap_admin", outbox.begin(db), |tx| {
            let user = match users::insert(tx, new_user.clone()).await {
                Ok(user) => user,
                // Another replica created it first; claimed here, inside
                // the attempt, so it is not retried.
                Err(error) if error.is_unique_violation_of(USERS_EMAIL_KEY) => return Ok(None),
                Err(error) => return Err(error.into()),
            };
            let registered = IamEvent::UserRegistered {
                user_id: user.id,
                email: &user.email,
                name: &user.name,
            };
            Self::emit(tx, &context, &registered).await?;
            let synchronized = IamEvent::UserAccessSynchronized {
                user_id: user.id,
                roles: &user.roles,
            };
            Self::emit(tx, &context, &synchronized).await?;
            Ok(Some(user))
        })?;
        if let Some(user) = created {
            tracing::info!(user_id = %user.id, "bootstrap admin created");
        }
        Ok(())
    }
}

impl IamApp {
    /// The emails of the admins whose stored password hash still verifies
    /// the documented development password of the bootstrap admin
    /// ([`DEFAULT_BOOTSTRAP_ADMIN_PASSWORD`]): a clean clone's admin carried
    /// into production. One Argon2id verification per admin, at start.
    pub async fn admins_with_development_password(&self) -> Result<Vec<String>, IamError> {
        let mut found = Vec::new();
        for admin in users::admins(&self.inner.db).await? {
            let Ok(stored) = PhcString::parse(&admin.password_hash) else {
                continue;
            };
            let development = SecretString::from(DEFAULT_BOOTSTRAP_ADMIN_PASSWORD);
            if self
                .blocking(move |hasher| hasher.verify(&development, &stored))
                .await?
            {
                found.push(admin.email);
            }
        }
        Ok(found)
    }
}
