//! The inbox handler of notifications' three queues:
//!
//! - `notifications.iam-events` (`iam.events`): registered, profile
//!   updated, email verified: the customer's contact;
//! - `notifications.order-events` (`orders.events`): placed (the order's
//!   copy), confirmed, rejected, canceled (a mail each);
//! - `notifications.fulfillment-events` (`fulfillment.events`): shipment
//!   shipped and delivered (a mail each).
//!
//! Each event is converted ([`crate::convert::events::input_of`]) and
//! applied by the app in the inbox's transaction, which also records the
//! message id: the notification is recorded exactly when the message is.
//! Nothing is mailed here; the sender mails what was committed. A storage
//! failure is [`HandlerError::Transient`] (the message comes again); an
//! event that does not convert is [`HandlerError::Permanent`]
//! (dead-lettered, naming the field).

use async_trait::async_trait;
use ecommerce_events::DecodedEvent;
use ecommerce_inbox::{EventHandler, HandlerContext, HandlerError};

use crate::app::NotificationsApp;
use crate::convert::events::{EventInput, input_of};

/// The handler of every notifications queue.
pub struct NotificationsHandler {
    app: NotificationsApp,
}

impl NotificationsHandler {
    pub fn new(app: NotificationsApp) -> Self {
        Self { app }
    }
}

#[async_trait]
impl EventHandler for NotificationsHandler {
    async fn handle(
        &self,
        context: &HandlerContext<'_>,
        event: DecodedEvent,
    ) -> Result<(), HandlerError> {
        let metadata = context.metadata();
        let Some(input) = input_of(&event, metadata) else {
            // Another type bound by an operator: nothing to do.
            return Ok(());
        };
        // Comes out the same however often it is delivered: dead-letter it.
        let input = input.map_err(|invalid| HandlerError::permanent(invalid.to_string()))?;
        let db = context.transaction();
        match input {
            EventInput::Contact { user_id, change } => {
                self.app
                    .note_contact_in(db, user_id, change, metadata.occurred_at)
                    .await?;
            }
            EventInput::OrderPlaced(order) => self.app.note_order_placed_in(db, order).await?,
            EventInput::Notify(notification) => {
                self.app.record_in(db, notification).await?;
            }
        }
        Ok(())
    }
}
