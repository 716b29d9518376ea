//! gRPC adapter of `ecommerce.orders.v1.OrderService`.
//!
//! Every RPC needs a signed-in caller (UNAUTHENTICATED otherwise); the
//! caller becomes an [`Actor`] (customer, or admin with the `admin` role).
//! Each handler converts the request ([`crate::convert`], INVALID_ARGUMENT
//! naming the field), calls the application, converts the order back. The
//! caller's correlation id (`x-correlation-id`, else `x-request-id`, else a
//! new one) is what PlaceOrder stores on the order for its whole saga.

use ecommerce_auth::require_caller;
use ecommerce_platform::grpc::{ServiceError as _, correlation_id};
use ecommerce_proto::ecommerce::orders::v1 as pb;
use ecommerce_proto::ecommerce::orders::v1::order_service_server::{
    OrderService, OrderServiceServer,
};
use tonic::{Request, Response, Status};

use crate::app::{ListOrders, OrdersApp, OrdersError, RequestContext};
use crate::convert;
use crate::domain::Actor;

/// The orders' gRPC handlers over an [`OrdersApp`].
#[derive(Clone, Debug)]
pub struct OrderGrpc {
    app: OrdersApp,
}

impl OrderGrpc {
    pub fn new(app: OrdersApp) -> Self {
        Self { app }
    }

    /// The tonic service, ready for `GrpcServer::add_service` (wrap it in
    /// the auth layer so callers are known).
    pub fn into_server(self) -> OrderServiceServer<Self> {
        OrderServiceServer::new(self)
    }
}

/// The signed-in caller as an [`Actor`], with the call's correlation id.
fn context<T>(request: &Request<T>) -> Result<RequestContext, Status> {
    let caller = require_caller(request)?;
    Ok(RequestContext {
        actor: Actor::new(caller.user_id, caller.is_admin()),
        correlation_id: correlation_id(request.metadata()),
    })
}

fn to_status(error: impl Into<OrdersError>) -> Status {
    error.into().into_status()
}

#[tonic::async_trait]
impl OrderService for OrderGrpc {
    async fn place_order(
        &self,
        request: Request<pb::PlaceOrderRequest>,
    ) -> Result<Response<pb::PlaceOrderResponse>, Status> {
        let context = context(&request)?;
        let signed = convert::signed_snapshot(request.into_inner());
        let order = self
            .app
            .place_order(&context, &signed)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::PlaceOrderResponse {
            order: Some(convert::pb_order(&order)),
        }))
    }

    async fn get_order(
        &self,
        request: Request<pb::GetOrderRequest>,
    ) -> Result<Response<pb::GetOrderResponse>, Status> {
        let context = context(&request)?;
        let order_id = convert::order_id(&request.get_ref().order_id).map_err(to_status)?;
        let order = self
            .app
            .get_order(context.actor, order_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::GetOrderResponse {
            order: Some(convert::pb_order(&order)),
        }))
    }

    async fn list_orders(
        &self,
        request: Request<pb::ListOrdersRequest>,
    ) -> Result<Response<pb::ListOrdersResponse>, Status> {
        let context = context(&request)?;
        let query = ListOrders::try_from(request.into_inner()).map_err(to_status)?;
        let page = self
            .app
            .list_orders(context.actor, query)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListOrdersResponse {
            orders: page.orders.iter().map(convert::pb_order).collect(),
            next_page_token: page
                .next_after
                .map(|order_id| order_id.to_string())
                .unwrap_or_default(),
        }))
    }

    async fn cancel_order(
        &self,
        request: Request<pb::CancelOrderRequest>,
    ) -> Result<Response<pb::CancelOrderResponse>, Status> {
        let context = context(&request)?;
        let (order_id, reason) = convert::cancel_request(request.get_ref()).map_err(to_status)?;
        let order = self
            .app
            .cancel_order(&context, order_id, reason)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::CancelOrderResponse {
            order: Some(convert::pb_order(&order)),
        }))
    }
}
