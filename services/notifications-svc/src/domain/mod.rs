//! Notifications' rules, without I/O: the validated values, the contact
//! copy kept from IAM's events (and which event wins), the order copy kept
//! from `orders.order_placed.v1`, and the notification (its template, what
//! the event carried for it, its status and retry schedule).
//!
//! Nothing here imports tonic, sea_orm or the generated messages:
//! `crate::convert` turns events and requests into these values, storage
//! writes what these functions return.

pub mod contact;
pub mod error;
pub mod notification;
pub mod order;
pub mod values;

pub use contact::{Contact, ContactChange, apply_contact_change};
pub use error::{InvalidField, InvalidValue, NotificationsError};
pub use notification::{
    CancelCause, MailDetails, NewNotification, Notification, NotificationStatus, RejectionReason,
    RetryPolicy, ShortLine, Template,
};
pub use order::{OrderCopy, OrderLine};
pub use values::{ContactEmail, EventId, NotificationId, OrderId, PageSize, UserId};
