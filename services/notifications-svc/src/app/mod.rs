//! Notifications' use cases, independent of the transport.
//!
//! The consumers' methods (`…_in`) run inside the inbox's transaction,
//! which also records the message id: the contact, the order copy and the
//! notification commit together with it, or not at all. The sender
//! ([`sender`]) mails the recorded notifications, each in a transaction of
//! its own.

pub mod error;
pub mod sender;
pub mod settings;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ecommerce_kernel::Clock;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use tracing::instrument;

use crate::app::error::AppError;
use crate::domain::{
    ContactChange, NewNotification, Notification, NotificationId, NotificationsError, OrderCopy,
    PageSize, UserId, apply_contact_change,
};
use crate::storage;

/// Who calls ListNotifications.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Actor {
    pub user_id: UserId,
    pub is_admin: bool,
}

/// ListNotifications: whose, how many, from where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListQuery {
    /// `None`: the caller's own.
    pub user_id: Option<UserId>,
    pub page_size: PageSize,
    /// The last notification of the previous page.
    pub before: Option<NotificationId>,
}

/// One page of ListNotifications.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotificationPage {
    pub notifications: Vec<Notification>,
    /// The last notification of this page when another page follows.
    pub next_before: Option<NotificationId>,
}

/// The notifications service.
#[derive(Clone, Debug)]
pub struct NotificationsApp {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
}

impl NotificationsApp {
    /// `db` must be migrated with `notifications_migration::Migrator`.
    pub fn new(db: DatabaseConnection, clock: Arc<dyn Clock>) -> Self {
        Self { db, clock }
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    // ----------------------------------------------------------- events

    /// On an IAM user event, inside `db` (the inbox's transaction): applies
    /// what it says of the customer to their contact, unless a newer event
    /// said otherwise already. A contact whose address becomes known lets
    /// the mails waiting for it go.
    #[instrument(skip_all, fields(%user_id), err(level = "info"))]
    pub async fn note_contact_in<C: ConnectionTrait>(
        &self,
        db: &C,
        user_id: UserId,
        change: ContactChange,
        occurred_at: DateTime<Utc>,
    ) -> Result<(), AppError> {
        storage::lock_user(db, user_id).await?;
        let existing = storage::find_contact(db, user_id).await?;
        match apply_contact_change(existing.as_ref(), user_id, change, occurred_at) {
            Some(contact) => storage::store_contact(db, &contact, self.now()).await?,
            None => tracing::info!("contact unchanged (a duplicate or an older event)"),
        }
        Ok(())
    }

    /// On `orders.order_placed.v1`, inside `db`: keeps the order's copy for
    /// its mails and names its customer on the notifications recorded
    /// before it (a shipment event overtaking it).
    #[instrument(skip_all, fields(order_id = %order.order_id), err(level = "info"))]
    pub async fn note_order_placed_in<C: ConnectionTrait>(
        &self,
        db: &C,
        order: OrderCopy,
    ) -> Result<(), AppError> {
        if !storage::insert_order(db, &order).await? {
            tracing::info!("order noted already; nothing to do");
            return Ok(());
        }
        let assigned = storage::assign_owner(db, order.order_id, order.user_id).await?;
        if assigned > 0 {
            tracing::info!(assigned, "earlier notifications now name their customer");
        }
        Ok(())
    }

    /// On an event that mails the customer, inside `db`: records the
    /// notification (once per event and template), naming the customer from
    /// the order's copy when the event does not. Returns whether it was new.
    #[instrument(
        skip_all,
        fields(event_id = %notification.event_id, template = notification.template().as_str()),
        err(level = "info")
    )]
    pub async fn record_in<C: ConnectionTrait>(
        &self,
        db: &C,
        mut notification: NewNotification,
    ) -> Result<bool, AppError> {
        if notification.user_id.is_none() {
            notification.user_id = storage::find_order_owner(db, notification.order_id).await?;
        }
        let recorded = storage::insert_notification(db, &notification, self.now()).await?;
        if recorded {
            tracing::info!(
                customer_known = notification.user_id.is_some(),
                "notification recorded"
            );
        } else {
            tracing::info!("notification recorded already; nothing to do");
        }
        Ok(recorded)
    }

    // ------------------------------------------------------------- reads

    /// ListNotifications: the customer's notifications (the caller's own
    /// unless an admin names another), newest first.
    pub async fn list_notifications(
        &self,
        actor: Actor,
        query: ListQuery,
    ) -> Result<NotificationPage, AppError> {
        let user_id = match query.user_id {
            Some(user_id) if user_id != actor.user_id && !actor.is_admin => {
                return Err(NotificationsError::NotYours.into());
            }
            Some(user_id) => user_id,
            None => actor.user_id,
        };
        // One more than asked tells whether another page follows.
        let mut notifications =
            storage::list_notifications(&self.db, user_id, query.before, query.page_size.get() + 1)
                .await?;
        let has_more =
            u64::try_from(notifications.len()).unwrap_or(u64::MAX) > query.page_size.get();
        if has_more {
            notifications.pop();
        }
        let next_before = if has_more {
            notifications.last().map(|notification| notification.id)
        } else {
            None
        };
        Ok(NotificationPage {
            notifications,
            next_before,
        })
    }
}
