//! A notification: one mail about one event, recorded in the event's inbox
//! transaction and sent later by the sender.
//!
//! Its key is (event id, template), so an event delivered twice (or
//! published twice under one id) records one notification. The mail is
//! rendered when it is sent, from what the event carried (its
//! [`MailDetails`]), the order copy and the customer's contact.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::values::{EventId, NotificationId, OrderId, UserId};

/// Which mail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Template {
    OrderConfirmed,
    OrderRejected,
    OrderCanceled,
    ShipmentShipped,
    ShipmentDelivered,
}

impl Template {
    pub const ALL: [Self; 5] = [
        Self::OrderConfirmed,
        Self::OrderRejected,
        Self::OrderCanceled,
        Self::ShipmentShipped,
        Self::ShipmentDelivered,
    ];

    /// The stored name (`notifications.template`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::OrderConfirmed => "order_confirmed",
            Self::OrderRejected => "order_rejected",
            Self::OrderCanceled => "order_canceled",
            Self::ShipmentShipped => "shipment_shipped",
            Self::ShipmentDelivered => "shipment_delivered",
        }
    }

    pub fn from_stored(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|template| template.as_str() == value)
    }

    /// Whether the mail waits for the order's copy: the confirmation shows
    /// the lines and totals, and the shipment events name no customer. The
    /// rejected and canceled events name the customer and carry what their
    /// mail needs (the order's titles are used when known).
    pub const fn needs_order(self) -> bool {
        match self {
            Self::OrderConfirmed | Self::ShipmentShipped | Self::ShipmentDelivered => true,
            Self::OrderRejected | Self::OrderCanceled => false,
        }
    }
}

/// Why an order was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectionReason {
    OutOfStock,
    /// A reason this service does not know (or none).
    Other,
}

/// What canceled an order (`OrderCanceled.cause`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelCause {
    Customer,
    Admin,
    PaymentFailed,
    ReservationExpired,
    ReservationReleased,
    /// Not set (an older orders-svc) or a cause this service does not know:
    /// the mail shows the event's text reason.
    Unspecified,
}

impl CancelCause {
    /// The sentence the mail explains the cancel with.
    pub const fn explanation(self) -> &'static str {
        match self {
            Self::Customer => "You canceled the order.",
            Self::Admin => "Our staff canceled the order.",
            Self::PaymentFailed => "Your payment was declined.",
            Self::ReservationExpired => {
                "The items were held for you, but the payment did not complete in time."
            }
            Self::ReservationReleased => "The items could no longer be held for your order.",
            Self::Unspecified => "The order was canceled.",
        }
    }
}

/// A SKU that could not be reserved in full.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShortLine {
    pub sku: String,
    pub requested: i32,
    pub available: i32,
}

/// What the event carried for its mail, stored with the notification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "template", rename_all = "snake_case")]
pub enum MailDetails {
    OrderConfirmed,
    OrderRejected {
        reason: RejectionReason,
        short_lines: Vec<ShortLine>,
    },
    OrderCanceled {
        cause: CancelCause,
        reason: String,
    },
    ShipmentShipped {
        carrier: String,
        tracking_number: String,
    },
    ShipmentDelivered,
}

impl MailDetails {
    pub const fn template(&self) -> Template {
        match self {
            Self::OrderConfirmed => Template::OrderConfirmed,
            Self::OrderRejected { .. } => Template::OrderRejected,
            Self::OrderCanceled { .. } => Template::OrderCanceled,
            Self::ShipmentShipped { .. } => Template::ShipmentShipped,
            Self::ShipmentDelivered => Template::ShipmentDelivered,
        }
    }
}

/// A notification to record for an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewNotification {
    pub id: NotificationId,
    pub event_id: EventId,
    pub event_type: &'static str,
    pub order_id: OrderId,
    /// The customer when the event names them (order events do; shipment
    /// events do not, and the order's copy supplies them).
    pub user_id: Option<UserId>,
    pub occurred_at: DateTime<Utc>,
    pub details: MailDetails,
}

impl NewNotification {
    pub const fn template(&self) -> Template {
        self.details.template()
    }
}

/// Where a notification is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotificationStatus {
    Pending,
    Sent,
    Failed,
}

impl NotificationStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }

    pub fn from_stored(value: &str) -> Option<Self> {
        [Self::Pending, Self::Sent, Self::Failed]
            .into_iter()
            .find(|status| status.as_str() == value)
    }
}

/// A recorded notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    pub id: NotificationId,
    pub event_id: EventId,
    pub event_type: String,
    pub order_id: OrderId,
    pub user_id: Option<UserId>,
    pub status: NotificationStatus,
    pub details: MailDetails,
    pub occurred_at: DateTime<Utc>,
    /// Failed attempts so far.
    pub attempts: u32,
    pub recipient: Option<String>,
    pub subject: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl Notification {
    pub const fn template(&self) -> Template {
        self.details.template()
    }
}

/// When a failed send is tried again, and when it is given up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Failed attempts after which the notification is FAILED.
    pub max_attempts: u32,
    /// Wait after the first failure; doubled after each further one.
    pub base: Duration,
    /// Longest wait.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// The wait after `failed_attempts` failures (at least 1), before
    /// jitter: base * 2^(failures - 1), at most `cap`.
    pub fn delay(&self, failed_attempts: u32) -> Duration {
        let doublings = failed_attempts.saturating_sub(1).min(30);
        self.base
            .checked_mul(1_u32 << doublings)
            .unwrap_or(self.cap)
            .min(self.cap)
    }

    /// Whether a notification that has failed `failed_attempts` times
    /// (this failure included) is given up.
    pub const fn gives_up(&self, failed_attempts: u32) -> bool {
        failed_attempts >= self.max_attempts
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn templates_round_trip_their_stored_names() {
        for template in Template::ALL {
            assert_eq!(Template::from_stored(template.as_str()), Some(template));
        }
        assert_eq!(Template::from_stored("welcome"), None);
        for status in [
            NotificationStatus::Pending,
            NotificationStatus::Sent,
            NotificationStatus::Failed,
        ] {
            assert_eq!(
                NotificationStatus::from_stored(status.as_str()),
                Some(status)
            );
        }
    }

    #[test]
    fn details_round_trip_through_json_and_name_their_template() {
        let details = [
            MailDetails::OrderConfirmed,
            MailDetails::OrderRejected {
                reason: RejectionReason::OutOfStock,
                short_lines: vec![ShortLine {
                    sku: "A".to_owned(),
                    requested: 3,
                    available: 1,
                }],
            },
            MailDetails::OrderCanceled {
                cause: CancelCause::PaymentFailed,
                reason: "card declined".to_owned(),
            },
            MailDetails::ShipmentShipped {
                carrier: "DHL".to_owned(),
                tracking_number: "JJD1".to_owned(),
            },
            MailDetails::ShipmentDelivered,
        ];
        for (details, template) in details.iter().zip(Template::ALL) {
            assert_eq!(details.template(), template);
            let json = serde_json::to_value(details).unwrap();
            assert_eq!(json["template"], template.as_str());
            let back: MailDetails = serde_json::from_value(json).unwrap();
            assert_eq!(&back, details);
        }
    }

    #[test]
    fn only_the_mails_that_show_the_order_or_lack_a_customer_wait_for_it() {
        assert!(Template::OrderConfirmed.needs_order());
        assert!(Template::ShipmentShipped.needs_order());
        assert!(Template::ShipmentDelivered.needs_order());
        assert!(!Template::OrderRejected.needs_order());
        assert!(!Template::OrderCanceled.needs_order());
    }

    #[test]
    fn retries_back_off_exponentially_up_to_the_cap_and_give_up() {
        let policy = RetryPolicy {
            max_attempts: 3,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(5),
        };
        assert_eq!(policy.delay(1), Duration::from_secs(1));
        assert_eq!(policy.delay(2), Duration::from_secs(2));
        assert_eq!(policy.delay(3), Duration::from_secs(4));
        assert_eq!(policy.delay(4), Duration::from_secs(5));
        assert_eq!(policy.delay(100), Duration::from_secs(5));
        assert!(!policy.gives_up(2));
        assert!(policy.gives_up(3));
    }
}
