//! gRPC adapter of `ecommerce.inventory.v1.InventoryService`.
//!
//! Each handler: check who may call (stock reads are open, writes and
//! GetReservation need the `admin` role), convert the request ([`convert`], INVALID_ARGUMENT naming
//! the field), call the application, convert the result. The caller's
//! correlation id (`x-correlation-id`, else `x-request-id`, else a new one)
//! is copied onto every event the call emits.

use ecommerce_auth::{Role, require_role};
use ecommerce_platform::grpc::{correlation_id, status_of};
use ecommerce_proto::ecommerce::inventory::v1 as pb;
use ecommerce_proto::ecommerce::inventory::v1::inventory_service_server::{
    InventoryService, InventoryServiceServer,
};
use tonic::{Request, Response, Status};

use crate::app::InventoryApp;
use crate::app::error::AppError;
use crate::convert::{self, AdjustRequest, pb_reservation, pb_stock_level};
use crate::domain::{InvalidField, InventoryError, ReservationRequest};

/// Inventory's gRPC handlers over an [`InventoryApp`].
#[derive(Clone, Debug)]
pub struct InventoryGrpc {
    app: InventoryApp,
}

impl InventoryGrpc {
    pub fn new(app: InventoryApp) -> Self {
        Self { app }
    }

    /// The tonic service, ready for `GrpcServer::add_service` (wrap it in
    /// the auth layer so callers are known).
    pub fn into_server(self) -> InventoryServiceServer<Self> {
        InventoryServiceServer::new(self)
    }
}

fn to_status(error: AppError) -> Status {
    status_of(&error)
}

fn invalid_request(invalid: InvalidField) -> Status {
    to_status(AppError::Domain(InventoryError::from(invalid)))
}

/// The caller's correlation id, after checking it is an admin.
fn admin<T>(request: &Request<T>) -> Result<String, Status> {
    require_role(request, Role::ADMIN)?;
    Ok(correlation_id(request.metadata()))
}

fn reservation_response(reservation: &crate::domain::Reservation) -> Option<pb::Reservation> {
    Some(pb_reservation(reservation))
}

#[tonic::async_trait]
impl InventoryService for InventoryGrpc {
    async fn get_stock(
        &self,
        request: Request<pb::GetStockRequest>,
    ) -> Result<Response<pb::GetStockResponse>, Status> {
        let sku = convert::sku(&request.get_ref().sku, "sku").map_err(invalid_request)?;
        let level = self.app.get_stock(&sku).await.map_err(to_status)?;
        Ok(Response::new(pb::GetStockResponse {
            stock_level: Some(pb_stock_level(&level)),
        }))
    }

    async fn batch_get_stock(
        &self,
        request: Request<pb::BatchGetStockRequest>,
    ) -> Result<Response<pb::BatchGetStockResponse>, Status> {
        let skus = convert::skus(&request.get_ref().skus).map_err(invalid_request)?;
        let levels = self.app.batch_get_stock(&skus).await.map_err(to_status)?;
        Ok(Response::new(pb::BatchGetStockResponse {
            stock_levels: levels.iter().map(pb_stock_level).collect(),
        }))
    }

    async fn adjust_stock(
        &self,
        request: Request<pb::AdjustStockRequest>,
    ) -> Result<Response<pb::AdjustStockResponse>, Status> {
        let correlation = admin(&request)?;
        let adjust = AdjustRequest::try_from(request.into_inner()).map_err(invalid_request)?;
        let adjusted = self
            .app
            .adjust_stock(
                &adjust.command,
                adjust.idempotency_key.as_deref(),
                &correlation,
            )
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::AdjustStockResponse {
            adjustment_id: adjusted
                .adjustment_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
            stock_level: Some(pb_stock_level(&adjusted.level)),
        }))
    }

    async fn reserve_stock(
        &self,
        request: Request<pb::ReserveStockRequest>,
    ) -> Result<Response<pb::ReserveStockResponse>, Status> {
        let correlation = admin(&request)?;
        let reservation_request =
            ReservationRequest::try_from(request.into_inner()).map_err(invalid_request)?;
        let reservation = self
            .app
            .reserve_stock(&reservation_request, &correlation)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ReserveStockResponse {
            reservation: reservation_response(&reservation),
        }))
    }

    async fn commit_reservation(
        &self,
        request: Request<pb::CommitReservationRequest>,
    ) -> Result<Response<pb::CommitReservationResponse>, Status> {
        let correlation = admin(&request)?;
        let id =
            convert::reservation_id(&request.get_ref().reservation_id).map_err(invalid_request)?;
        let reservation = self
            .app
            .commit_reservation(id, &correlation)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::CommitReservationResponse {
            reservation: reservation_response(&reservation),
        }))
    }

    async fn release_reservation(
        &self,
        request: Request<pb::ReleaseReservationRequest>,
    ) -> Result<Response<pb::ReleaseReservationResponse>, Status> {
        let correlation = admin(&request)?;
        let id =
            convert::reservation_id(&request.get_ref().reservation_id).map_err(invalid_request)?;
        let reason = convert::release_reason(&request.get_ref().reason).map_err(invalid_request)?;
        let reservation = self
            .app
            .release_reservation(id, &reason, &correlation)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ReleaseReservationResponse {
            reservation: reservation_response(&reservation),
        }))
    }

    /// Admins only: UNAUTHENTICATED when anonymous, PERMISSION_DENIED for
    /// a caller without the `admin` role. A reservation names an order and
    /// its lines but no owner, so inventory cannot tell a customer's own
    /// reservation from another's; and its only callers are operators and
    /// tests (the saga runs on events), like the other reservation RPCs.
    async fn get_reservation(
        &self,
        request: Request<pb::GetReservationRequest>,
    ) -> Result<Response<pb::GetReservationResponse>, Status> {
        require_role(&request, Role::ADMIN)?;
        let id =
            convert::reservation_id(&request.get_ref().reservation_id).map_err(invalid_request)?;
        let reservation = self.app.get_reservation(id).await.map_err(to_status)?;
        Ok(Response::new(pb::GetReservationResponse {
            reservation: reservation_response(&reservation),
        }))
    }
}
