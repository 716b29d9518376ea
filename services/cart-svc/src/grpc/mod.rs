//! gRPC adapter of `ecommerce.cart.v1.CartService`.
//!
//! Anonymous callers are allowed where the proto allows them (an anonymous
//! cart is reachable by its id); MergeCarts and Checkout require sign-in.
//! Each handler converts the request ([`crate::convert`], INVALID_ARGUMENT
//! naming the field), calls the application, converts the cart back.

use ecommerce_auth::optional_caller;
use ecommerce_platform::grpc::{ServiceError as _, correlation_id};
use ecommerce_proto::ecommerce::cart::v1 as pb;
use ecommerce_proto::ecommerce::cart::v1::cart_service_server::{CartService, CartServiceServer};
use tonic::{Request, Response, Status};

use crate::app::{AppError, Caller, CartApp};
use crate::convert;

/// The cart's gRPC handlers over a [`CartApp`].
#[derive(Clone, Debug)]
pub struct CartGrpc {
    app: CartApp,
}

impl CartGrpc {
    pub fn new(app: CartApp) -> Self {
        Self { app }
    }

    /// The tonic service, ready for `GrpcServer::add_service` (wrap it in
    /// the auth layer so callers are known).
    pub fn into_server(self) -> CartServiceServer<Self> {
        CartServiceServer::new(self)
    }
}

/// The caller (signed in or not), its bearer token and correlation id.
fn caller<T>(request: &Request<T>) -> Caller {
    let bearer = request
        .metadata()
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    Caller {
        user_id: optional_caller(request).map(|caller| caller.user_id),
        bearer,
        correlation_id: correlation_id(request.metadata()),
        client_address: client_address(request),
    }
}

/// The gRPC peer's IP address, as iam-svc's sign-in throttle takes it
/// (`x-forwarded-for` is not read: any client can set it). An IPv4 address
/// mapped into IPv6 counts as the IPv4 one. Empty when the transport does
/// not say; such callers share one limit.
fn client_address<T>(request: &Request<T>) -> String {
    request
        .remote_addr()
        .map(|address| address.ip().to_canonical().to_string())
        .unwrap_or_default()
}

fn to_status(error: impl Into<AppError>) -> Status {
    error.into().into_status()
}

#[tonic::async_trait]
impl CartService for CartGrpc {
    async fn get_cart(
        &self,
        request: Request<pb::GetCartRequest>,
    ) -> Result<Response<pb::GetCartResponse>, Status> {
        let caller = caller(&request);
        let cart = convert::cart_ref(&request.get_ref().cart_id, "cart_id").map_err(to_status)?;
        let priced = self.app.get_cart(&caller, cart).await.map_err(to_status)?;
        Ok(Response::new(pb::GetCartResponse {
            cart: Some(convert::pb_cart(&priced)),
        }))
    }

    async fn add_item(
        &self,
        request: Request<pb::AddItemRequest>,
    ) -> Result<Response<pb::AddItemResponse>, Status> {
        let caller = caller(&request);
        let command = request.into_inner().try_into().map_err(to_status)?;
        let priced = self
            .app
            .add_item(&caller, command)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::AddItemResponse {
            cart: Some(convert::pb_cart(&priced)),
        }))
    }

    async fn update_item(
        &self,
        request: Request<pb::UpdateItemRequest>,
    ) -> Result<Response<pb::UpdateItemResponse>, Status> {
        let caller = caller(&request);
        let command = request.into_inner().try_into().map_err(to_status)?;
        let priced = self
            .app
            .update_item(&caller, command)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::UpdateItemResponse {
            cart: Some(convert::pb_cart(&priced)),
        }))
    }

    async fn remove_item(
        &self,
        request: Request<pb::RemoveItemRequest>,
    ) -> Result<Response<pb::RemoveItemResponse>, Status> {
        let caller = caller(&request);
        let command = request.into_inner().try_into().map_err(to_status)?;
        let priced = self
            .app
            .remove_item(&caller, command)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::RemoveItemResponse {
            cart: Some(convert::pb_cart(&priced)),
        }))
    }

    async fn merge_carts(
        &self,
        request: Request<pb::MergeCartsRequest>,
    ) -> Result<Response<pb::MergeCartsResponse>, Status> {
        let caller = caller(&request);
        let anonymous = convert::cart_id(&request.get_ref().anonymous_cart_id, "anonymous_cart_id")
            .map_err(to_status)?;
        let priced = self
            .app
            .merge_carts(&caller, anonymous)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::MergeCartsResponse {
            cart: Some(convert::pb_cart(&priced)),
        }))
    }

    async fn checkout(
        &self,
        request: Request<pb::CheckoutRequest>,
    ) -> Result<Response<pb::CheckoutResponse>, Status> {
        let caller = caller(&request);
        let command = request.into_inner().try_into().map_err(to_status)?;
        let placed = self
            .app
            .checkout(&caller, command)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::CheckoutResponse {
            order_id: placed.order_id.to_string(),
            order_status: placed.order_status,
        }))
    }
}
