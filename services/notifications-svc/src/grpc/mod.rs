//! gRPC adapter of `ecommerce.notifications.v1.NotificationsService`.
//!
//! Each handler: find the caller, convert the request ([`convert`],
//! INVALID_ARGUMENT naming the field), call the application, convert the
//! result. ListNotifications needs a signed-in caller: a customer lists
//! their own notifications, an `admin` anyone's.

use ecommerce_auth::require_caller;
use ecommerce_platform::grpc::status_of;
use ecommerce_proto::ecommerce::notifications::v1 as pb;
use ecommerce_proto::ecommerce::notifications::v1::notifications_service_server::{
    NotificationsService, NotificationsServiceServer,
};
use tonic::{Request, Response, Status};

use crate::app::error::AppError;
use crate::app::{Actor, ListQuery, NotificationsApp};
use crate::convert::{ListRequest, next_page_token, pb_notification};
use crate::domain::{InvalidField, NotificationsError, UserId};

/// Notifications' gRPC handlers over a [`NotificationsApp`].
#[derive(Clone, Debug)]
pub struct NotificationsGrpc {
    app: NotificationsApp,
}

impl NotificationsGrpc {
    pub fn new(app: NotificationsApp) -> Self {
        Self { app }
    }

    /// The tonic service, ready for `GrpcServer::add_service` (wrap it in
    /// the auth layer so callers are known).
    pub fn into_server(self) -> NotificationsServiceServer<Self> {
        NotificationsServiceServer::new(self)
    }
}

fn to_status(error: AppError) -> Status {
    status_of(&error)
}

fn invalid_request(invalid: InvalidField) -> Status {
    to_status(AppError::Domain(NotificationsError::from(invalid)))
}

#[tonic::async_trait]
impl NotificationsService for NotificationsGrpc {
    async fn list_notifications(
        &self,
        request: Request<pb::ListNotificationsRequest>,
    ) -> Result<Response<pb::ListNotificationsResponse>, Status> {
        let caller = require_caller(&request)?;
        let actor = Actor {
            user_id: UserId::from_uuid(caller.user_id),
            is_admin: caller.is_admin(),
        };
        let request = ListRequest::try_from(request.get_ref()).map_err(invalid_request)?;
        let page = self
            .app
            .list_notifications(
                actor,
                ListQuery {
                    user_id: request.user_id,
                    page_size: request.page_size,
                    before: request.before,
                },
            )
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListNotificationsResponse {
            notifications: page.notifications.iter().map(pb_notification).collect(),
            next_page_token: next_page_token(page.next_before),
        }))
    }
}
