//! gRPC adapter of `ecommerce.fulfillment.v1.FulfillmentService`.
//!
//! Each handler: check who may call, convert the request ([`convert`],
//! INVALID_ARGUMENT naming the field), call the application, convert the
//! result. Shipping options are open to every caller (anonymous too);
//! shipments are read and changed by the `admin` role only: fulfillment
//! does not know who placed an order (inventory's committed event does not
//! say), so it cannot tell a customer's own shipments from others'.

use ecommerce_auth::{Role, require_role};
use ecommerce_platform::grpc::{correlation_id, status_of};
use ecommerce_proto::ecommerce::fulfillment::v1 as pb;
use ecommerce_proto::ecommerce::fulfillment::v1::fulfillment_service_server::{
    FulfillmentService, FulfillmentServiceServer,
};
use tonic::{Request, Response, Status};

use crate::app::FulfillmentApp;
use crate::app::error::AppError;
use crate::convert::{
    self, ListQuery, ShipCommand, ShippingOptionsQuery, next_page_token, pb_shipment,
    pb_shipping_option,
};
use crate::domain::{FulfillmentError, InvalidField};

/// Fulfillment's gRPC handlers over a [`FulfillmentApp`].
#[derive(Clone, Debug)]
pub struct FulfillmentGrpc {
    app: FulfillmentApp,
}

impl FulfillmentGrpc {
    pub fn new(app: FulfillmentApp) -> Self {
        Self { app }
    }

    /// The tonic service, ready for `GrpcServer::add_service` (wrap it in
    /// the auth layer so callers are known).
    pub fn into_server(self) -> FulfillmentServiceServer<Self> {
        FulfillmentServiceServer::new(self)
    }
}

fn to_status(error: AppError) -> Status {
    status_of(&error)
}

fn invalid_request(invalid: InvalidField) -> Status {
    to_status(AppError::Domain(FulfillmentError::from(invalid)))
}

/// The caller's correlation id, after checking it is an admin.
fn admin<T>(request: &Request<T>) -> Result<String, Status> {
    require_role(request, Role::ADMIN)?;
    Ok(correlation_id(request.metadata()))
}

#[tonic::async_trait]
impl FulfillmentService for FulfillmentGrpc {
    async fn get_shipping_options(
        &self,
        request: Request<pb::GetShippingOptionsRequest>,
    ) -> Result<Response<pb::GetShippingOptionsResponse>, Status> {
        // Validated, then unused: every option ships everywhere, every order.
        ShippingOptionsQuery::try_from(request.get_ref()).map_err(invalid_request)?;
        let options = self.app.shipping_options().await.map_err(to_status)?;
        Ok(Response::new(pb::GetShippingOptionsResponse {
            shipping_options: options.iter().map(pb_shipping_option).collect(),
        }))
    }

    async fn get_shipment(
        &self,
        request: Request<pb::GetShipmentRequest>,
    ) -> Result<Response<pb::GetShipmentResponse>, Status> {
        admin(&request)?;
        let id = convert::shipment_id(&request.get_ref().shipment_id).map_err(invalid_request)?;
        let shipment = self.app.get_shipment(id).await.map_err(to_status)?;
        Ok(Response::new(pb::GetShipmentResponse {
            shipment: Some(pb_shipment(&shipment)),
        }))
    }

    async fn list_shipments(
        &self,
        request: Request<pb::ListShipmentsRequest>,
    ) -> Result<Response<pb::ListShipmentsResponse>, Status> {
        admin(&request)?;
        let query = ListQuery::try_from(request.get_ref()).map_err(invalid_request)?;
        let page = self
            .app
            .list_shipments(query.order_id, query.page_size, query.after)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListShipmentsResponse {
            shipments: page.shipments.iter().map(pb_shipment).collect(),
            next_page_token: next_page_token(page.next_after),
        }))
    }

    async fn mark_shipped(
        &self,
        request: Request<pb::MarkShippedRequest>,
    ) -> Result<Response<pb::MarkShippedResponse>, Status> {
        let correlation = admin(&request)?;
        let command = ShipCommand::try_from(request.get_ref()).map_err(invalid_request)?;
        let shipment = self
            .app
            .mark_shipped(command.shipment_id, &command.tracking, &correlation)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::MarkShippedResponse {
            shipment: Some(pb_shipment(&shipment)),
        }))
    }

    async fn mark_delivered(
        &self,
        request: Request<pb::MarkDeliveredRequest>,
    ) -> Result<Response<pb::MarkDeliveredResponse>, Status> {
        let correlation = admin(&request)?;
        let id = convert::shipment_id(&request.get_ref().shipment_id).map_err(invalid_request)?;
        let shipment = self
            .app
            .mark_delivered(id, &correlation)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::MarkDeliveredResponse {
            shipment: Some(pb_shipment(&shipment)),
        }))
    }
}
