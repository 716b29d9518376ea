//! gRPC adapter of `ecommerce.payments.v1.PaymentService`.
//!
//! Every RPC needs a signed-in caller (UNAUTHENTICATED otherwise). Payments
//! are read by the order's customer (recorded from
//! `orders.order_placed.v1`) or an admin; CapturePayment is admin only.
//! Each handler converts the request ([`crate::convert`], INVALID_ARGUMENT
//! naming the field), calls the application, converts the payment back.

use ecommerce_auth::require_caller;
use ecommerce_platform::grpc::ServiceError as _;
use ecommerce_proto::ecommerce::payments::v1 as pb;
use ecommerce_proto::ecommerce::payments::v1::payment_service_server::{
    PaymentService, PaymentServiceServer,
};
use tonic::{Request, Response, Status};

use crate::app::{Actor, ListPayments, PaymentsApp, PaymentsError};
use crate::convert;

/// The payments' gRPC handlers over a [`PaymentsApp`].
#[derive(Clone, Debug)]
pub struct PaymentGrpc {
    app: PaymentsApp,
}

impl PaymentGrpc {
    pub fn new(app: PaymentsApp) -> Self {
        Self { app }
    }

    /// The tonic service, ready for `GrpcServer::add_service` (wrap it in
    /// the auth layer so callers are known).
    pub fn into_server(self) -> PaymentServiceServer<Self> {
        PaymentServiceServer::new(self)
    }
}

/// The signed-in caller as an [`Actor`].
fn actor<T>(request: &Request<T>) -> Result<Actor, Status> {
    let caller = require_caller(request)?;
    Ok(Actor {
        user_id: caller.user_id,
        is_admin: caller.is_admin(),
    })
}

fn to_status(error: impl Into<PaymentsError>) -> Status {
    error.into().into_status()
}

#[tonic::async_trait]
impl PaymentService for PaymentGrpc {
    async fn get_payment(
        &self,
        request: Request<pb::GetPaymentRequest>,
    ) -> Result<Response<pb::GetPaymentResponse>, Status> {
        let actor = actor(&request)?;
        let payment_id = convert::payment_id(&request.get_ref().payment_id).map_err(to_status)?;
        let stored = self
            .app
            .get_payment(actor, payment_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::GetPaymentResponse {
            payment: Some(convert::pb_payment(&stored)),
        }))
    }

    async fn list_payments(
        &self,
        request: Request<pb::ListPaymentsRequest>,
    ) -> Result<Response<pb::ListPaymentsResponse>, Status> {
        let actor = actor(&request)?;
        let query = ListPayments::try_from(request.into_inner()).map_err(to_status)?;
        let page = self
            .app
            .list_payments(actor, query)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListPaymentsResponse {
            payments: page.payments.iter().map(convert::pb_payment).collect(),
            next_page_token: page
                .next_after
                .map(|payment_id| payment_id.to_string())
                .unwrap_or_default(),
        }))
    }

    async fn capture_payment(
        &self,
        request: Request<pb::CapturePaymentRequest>,
    ) -> Result<Response<pb::CapturePaymentResponse>, Status> {
        let actor = actor(&request)?;
        let payment_id = convert::capture_request(request.get_ref()).map_err(to_status)?;
        let stored = self
            .app
            .capture_payment(actor, payment_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::CapturePaymentResponse {
            payment: Some(convert::pb_payment(&stored)),
        }))
    }
}
