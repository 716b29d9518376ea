//! GetCurrentUser, UpdateProfile, SetUserRoles.

use ecommerce_auth::Caller;
use ecommerce_db::{StoreError, transaction};
use ecommerce_outbox::OutboxTransaction;
use sea_orm::ActiveValue::Set;
use uuid::Uuid;

use super::{IamApp, IamError, RequestContext, UserView};
use crate::domain::events::IamEvent;
use crate::domain::profile::{ProfileUpdate, changed_fields};
use crate::domain::roles::RoleSet;
use crate::storage::entities::user;
use crate::storage::users;

impl IamApp {
    #[tracing::instrument(skip_all, err(Display, level = "info"))]
    pub async fn current_user(&self, caller: &Caller) -> Result<UserView, IamError> {
        let user = self.require_active_session(caller).await?;
        Ok(UserView::from(&user))
    }

    /// Applies the named profile fields; emits
    /// `iam.user.profile_updated.v1` only when a value actually changed.
    #[tracing::instrument(skip_all, err(Display, level = "info"))]
    pub async fn update_profile(
        &self,
        context: &RequestContext,
        caller: &Caller,
        update: ProfileUpdate,
    ) -> Result<UserView, IamError> {
        self.require_active_session(caller).await?;
        let now = self.now();
        let (outbox, db) = (&self.inner.outbox, &self.inner.db);
        let user = transaction!(IamError, "update_profile", outbox.begin(db), |tx| {
            let current = users::lock_by_id(tx, caller.user_id)
                .await?
                .ok_or_else(|| {
                    IamError::NotFound("the caller's user no longer exists".to_owned())
                })?;
            let changed = changed_fields(&current.name, &current.image_url, &update);
            if changed.is_empty() {
                return Ok(current);
            }
            let (name, image_url) = update.apply(&current.name, &current.image_url);
            let changes = user::ActiveModel {
                name: Set(name),
                image_url: Set(image_url),
                ..Default::default()
            };
            let updated = users::update(tx, current.id, changes, now).await?;
            let event = IamEvent::UserProfileUpdated {
                user_id: updated.id,
                changed_fields: &changed,
                name: &updated.name,
                image_url: &updated.image_url,
            };
            Self::emit(tx, context, &event).await?;
            Ok(updated)
        })?;
        Ok(UserView::from(&user))
    }

    /// Replaces a user's roles; the same set again changes nothing and
    /// emits nothing. Admin only: the handler checks the token's claims,
    /// this checks the caller's session and roles as stored now, so a
    /// signed-out session or a revoked role stops working at once.
    #[tracing::instrument(skip_all, fields(%user_id), err(Display, level = "info"))]
    pub async fn set_user_roles(
        &self,
        context: &RequestContext,
        caller: &Caller,
        user_id: Uuid,
        roles: RoleSet,
    ) -> Result<UserView, IamError> {
        self.require_admin(caller).await?;
        let now = self.now();
        let (outbox, db) = (&self.inner.outbox, &self.inner.db);
        let user = transaction!(IamError, "set_user_roles", outbox.begin(db), |tx| {
            let current = users::lock_by_id(tx, user_id)
                .await?
                .ok_or_else(|| IamError::NotFound(format!("no user has id {user_id}")))?;
            let new_roles = roles.clone().into_vec();
            if sorted(&current.roles) == new_roles {
                return Ok(current);
            }
            Ok(Self::store_roles(tx, context, current.id, new_roles, now).await?)
        })?;
        Ok(UserView::from(&user))
    }

    /// Writes `roles` and emits `iam.user.access_synchronized.v1`.
    pub(crate) async fn store_roles(
        tx: &OutboxTransaction,
        context: &RequestContext,
        user_id: Uuid,
        roles: Vec<String>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<user::Model, StoreError> {
        let changes = user::ActiveModel {
            roles: Set(roles),
            ..Default::default()
        };
        let updated = users::update(tx, user_id, changes, now).await?;
        let event = IamEvent::UserAccessSynchronized {
            user_id: updated.id,
            roles: &updated.roles,
        };
        Self::emit(tx, context, &event).await?;
        Ok(updated)
    }
}

fn sorted(roles: &[String]) -> Vec<String> {
    let mut roles = roles.to_vec();
    roles.sort();
    roles.dedup();
    roles
}
