//! Every proto <-> domain conversion of the service, so `grpc` and
//! `events` share one set and neither imports the other. A request or an
//! event that does not convert is an [`InvalidField`] naming its field
//! (INVALID_ARGUMENT for an RPC, dead-lettered for a consumer).
//!
//! - here: ListNotifications' request and response;
//! - [`events`]: the consumed events as the domain's inputs.

pub mod events;

use ecommerce_proto::ecommerce::notifications::v1 as pb;

use crate::domain::{
    InvalidField, InvalidValue, Notification, NotificationId, NotificationStatus, PageSize,
    Template, UserId,
};

pub(crate) fn at(field: &str) -> impl FnOnce(InvalidValue) -> InvalidField + '_ {
    move |invalid| invalid.at(field)
}

/// ListNotifications: whose (`None`: the caller's), how many, from where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListRequest {
    pub user_id: Option<UserId>,
    pub page_size: PageSize,
    pub before: Option<NotificationId>,
}

impl TryFrom<&pb::ListNotificationsRequest> for ListRequest {
    type Error = InvalidField;

    fn try_from(request: &pb::ListNotificationsRequest) -> Result<Self, InvalidField> {
        let user_id = match request.user_id.trim() {
            "" => None,
            raw => Some(UserId::parse(raw).map_err(at("user_id"))?),
        };
        Ok(Self {
            user_id,
            page_size: PageSize::parse(request.page_size).map_err(at("page_size"))?,
            before: page_token(&request.page_token)?,
        })
    }
}

/// The page token is the id of the previous page's last notification.
fn page_token(raw: &str) -> Result<Option<NotificationId>, InvalidField> {
    if raw.is_empty() {
        return Ok(None);
    }
    NotificationId::parse(raw)
        .map(Some)
        .map_err(|_| InvalidValue::new("is not a token this service issued").at("page_token"))
}

pub fn next_page_token(before: Option<NotificationId>) -> String {
    before.map(|id| id.to_string()).unwrap_or_default()
}

pub fn pb_kind(template: Template) -> pb::NotificationKind {
    match template {
        Template::OrderConfirmed => pb::NotificationKind::OrderConfirmed,
        Template::OrderRejected => pb::NotificationKind::OrderRejected,
        Template::OrderCanceled => pb::NotificationKind::OrderCanceled,
        Template::ShipmentShipped => pb::NotificationKind::ShipmentShipped,
        Template::ShipmentDelivered => pb::NotificationKind::ShipmentDelivered,
    }
}

pub fn pb_status(status: NotificationStatus) -> pb::NotificationStatus {
    match status {
        NotificationStatus::Pending => pb::NotificationStatus::Pending,
        NotificationStatus::Sent => pb::NotificationStatus::Sent,
        NotificationStatus::Failed => pb::NotificationStatus::Failed,
    }
}

pub fn pb_notification(notification: &Notification) -> pb::Notification {
    pb::Notification {
        id: notification.id.to_string(),
        user_id: notification
            .user_id
            .map(|user_id| user_id.to_string())
            .unwrap_or_default(),
        order_id: notification.order_id.to_string(),
        kind: pb_kind(notification.template()).into(),
        status: pb_status(notification.status).into(),
        event_id: notification.event_id.to_string(),
        event_type: notification.event_type.clone(),
        recipient: notification.recipient.clone().unwrap_or_default(),
        subject: notification.subject.clone().unwrap_or_default(),
        occurred_at: Some(ecommerce_proto::timestamp(notification.occurred_at)),
        sent_at: notification.sent_at.map(ecommerce_proto::timestamp),
        failed_attempts: i32::try_from(notification.attempts).unwrap_or(i32::MAX),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use uuid::Uuid;

    use super::*;

    #[test]
    fn list_requests_check_user_page_size_and_token() {
        let query = ListRequest::try_from(&pb::ListNotificationsRequest::default()).unwrap();
        assert_eq!(query.user_id, None);
        assert_eq!(query.page_size.get(), 20);
        assert_eq!(query.before, None);
        let user_id = Uuid::now_v7().to_string();
        let query = ListRequest::try_from(&pb::ListNotificationsRequest {
            user_id: user_id.clone(),
            page_size: 500,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(query.user_id.unwrap().to_string(), user_id);
        assert_eq!(query.page_size.get(), 100);
        for (request, field) in [
            (
                pb::ListNotificationsRequest {
                    user_id: "me".to_owned(),
                    ..Default::default()
                },
                "user_id",
            ),
            (
                pb::ListNotificationsRequest {
                    page_size: -1,
                    ..Default::default()
                },
                "page_size",
            ),
            (
                pb::ListNotificationsRequest {
                    page_token: "garbage".to_owned(),
                    ..Default::default()
                },
                "page_token",
            ),
        ] {
            assert_eq!(ListRequest::try_from(&request).unwrap_err().field, field);
        }
        let id = NotificationId::generate();
        assert_eq!(next_page_token(Some(id)), id.to_string());
        assert_eq!(next_page_token(None), "");
    }

    #[test]
    fn every_template_and_status_has_its_proto_value() {
        for template in Template::ALL {
            assert_ne!(pb_kind(template), pb::NotificationKind::Unspecified);
        }
        for status in [
            NotificationStatus::Pending,
            NotificationStatus::Sent,
            NotificationStatus::Failed,
        ] {
            assert_ne!(pb_status(status), pb::NotificationStatus::Unspecified);
        }
    }
}
