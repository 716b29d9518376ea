//! gRPC adapter of `ecommerce.reporting.v1.ReportingService`.
//!
//! Each handler: require an `admin` caller, convert the request
//! ([`crate::convert`], INVALID_ARGUMENT naming the field), ask the
//! application, convert the answer.

use ecommerce_auth::{Role, require_role};
use ecommerce_platform::grpc::status_of;
use ecommerce_proto::ecommerce::reporting::v1 as pb;
use ecommerce_proto::ecommerce::reporting::v1::reporting_service_server::{
    ReportingService, ReportingServiceServer,
};
use tonic::{Request, Response, Status};

use crate::app::{AppError, ReportingApp};
use crate::convert::{
    LowStockQuery, SalesQuery, funnel_range, next_sales_token, next_stock_token, pb_funnel,
    pb_period, pb_products, pb_stock_level, top_products_query,
};
use crate::domain::{InvalidField, ReportingError};

/// Reporting's gRPC handlers over a [`ReportingApp`].
#[derive(Clone, Debug)]
pub struct ReportingGrpc {
    app: ReportingApp,
}

impl ReportingGrpc {
    pub fn new(app: ReportingApp) -> Self {
        Self { app }
    }

    /// The tonic service, ready for `GrpcServer::add_service` (wrap it in
    /// the auth layer so callers are known).
    pub fn into_server(self) -> ReportingServiceServer<Self> {
        ReportingServiceServer::new(self)
    }
}

fn to_status(error: impl Into<AppError>) -> Status {
    status_of(&error.into())
}

fn invalid_request(invalid: InvalidField) -> Status {
    to_status(ReportingError::from(invalid))
}

#[tonic::async_trait]
impl ReportingService for ReportingGrpc {
    async fn get_sales_summary(
        &self,
        request: Request<pb::GetSalesSummaryRequest>,
    ) -> Result<Response<pb::GetSalesSummaryResponse>, Status> {
        require_role(&request, Role::ADMIN)?;
        let query = SalesQuery::try_from(request.get_ref()).map_err(invalid_request)?;
        let page = self.app.sales_summary(&query).await.map_err(to_status)?;
        let next_page_token = match page.items.last() {
            Some(last) if page.more => next_sales_token(last),
            _ => String::new(),
        };
        Ok(Response::new(pb::GetSalesSummaryResponse {
            periods: page.items.iter().map(pb_period).collect(),
            next_page_token,
        }))
    }

    async fn top_products(
        &self,
        request: Request<pb::TopProductsRequest>,
    ) -> Result<Response<pb::TopProductsResponse>, Status> {
        require_role(&request, Role::ADMIN)?;
        let (range, limit) = top_products_query(request.get_ref()).map_err(invalid_request)?;
        let rows = self
            .app
            .top_products(range, limit)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::TopProductsResponse {
            products: pb_products(&rows),
        }))
    }

    async fn get_funnel(
        &self,
        request: Request<pb::GetFunnelRequest>,
    ) -> Result<Response<pb::GetFunnelResponse>, Status> {
        require_role(&request, Role::ADMIN)?;
        let range = funnel_range(request.get_ref()).map_err(invalid_request)?;
        let funnel = self.app.funnel(range).await.map_err(to_status)?;
        Ok(Response::new(pb_funnel(&funnel)))
    }

    async fn list_low_stock(
        &self,
        request: Request<pb::ListLowStockRequest>,
    ) -> Result<Response<pb::ListLowStockResponse>, Status> {
        require_role(&request, Role::ADMIN)?;
        let query = LowStockQuery::try_from(request.get_ref()).map_err(invalid_request)?;
        let page = self.app.low_stock(&query).await.map_err(to_status)?;
        let next_page_token = match page.items.last() {
            Some(last) if page.more => next_stock_token(last),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListLowStockResponse {
            stock_levels: page.items.iter().map(pb_stock_level).collect(),
            next_page_token,
        }))
    }
}
