//! An orders service with no RPC implemented: the server plumbing under
//! test (health, reflection, limits, tracing) answers around it.

use ecommerce_proto::ecommerce::orders::v1::order_service_server::OrderService;
use ecommerce_proto::ecommerce::orders::v1::{
    CancelOrderRequest, CancelOrderResponse, GetOrderRequest, GetOrderResponse, ListOrdersRequest,
    ListOrdersResponse, PlaceOrderRequest, PlaceOrderResponse,
};
use tonic::{Request, Response, Status};

/// Every RPC answers UNIMPLEMENTED (the generated code has no default
/// stubs, so a test stub says so itself); GetOrder only after `delay`.
#[derive(Default)]
pub struct EmptyOrders {
    pub delay: std::time::Duration,
}

#[tonic::async_trait]
impl OrderService for EmptyOrders {
    async fn place_order(
        &self,
        _: Request<PlaceOrderRequest>,
    ) -> Result<Response<PlaceOrderResponse>, Status> {
        Err(Status::unimplemented("PlaceOrder"))
    }

    async fn get_order(
        &self,
        _: Request<GetOrderRequest>,
    ) -> Result<Response<GetOrderResponse>, Status> {
        tokio::time::sleep(self.delay).await;
        Err(Status::unimplemented("GetOrder"))
    }

    async fn list_orders(
        &self,
        _: Request<ListOrdersRequest>,
    ) -> Result<Response<ListOrdersResponse>, Status> {
        Err(Status::unimplemented("ListOrders"))
    }

    async fn cancel_order(
        &self,
        _: Request<CancelOrderRequest>,
    ) -> Result<Response<CancelOrderResponse>, Status> {
        Err(Status::unimplemented("CancelOrder"))
    }
}
