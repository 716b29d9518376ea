//! gRPC adapter of `ecommerce.catalog.v1.CatalogService`.
//!
//! Each handler: check who may call (writes need the `admin` role), convert
//! the request ([`crate::convert`], INVALID_ARGUMENT naming the field), call the
//! application, convert the result. The caller's correlation id
//! (`x-correlation-id`, else `x-request-id`, else a new one) is copied onto
//! every event the call emits.

use ecommerce_auth::{Role, optional_caller, require_role};
use ecommerce_platform::grpc::{ServiceError as _, correlation_id};
use ecommerce_proto::ecommerce::catalog::v1 as pb;
use ecommerce_proto::ecommerce::catalog::v1::catalog_service_server::{
    CatalogService, CatalogServiceServer,
};
use tonic::{Request, Response, Status};

use crate::app::{CatalogApp, CatalogError};
use crate::convert;
use crate::domain::actor::{Actor, RequestContext};

/// The catalog's gRPC handlers over a [`CatalogApp`].
#[derive(Clone, Debug)]
pub struct CatalogGrpc {
    app: CatalogApp,
}

impl CatalogGrpc {
    pub fn new(app: CatalogApp) -> Self {
        Self { app }
    }

    /// The tonic service, ready for `GrpcServer::add_service` (wrap it in
    /// the auth layer so callers are known).
    pub fn into_server(self) -> CatalogServiceServer<Self> {
        CatalogServiceServer::new(self)
    }
}

/// The caller as the catalog sees it, with the call's correlation id.
fn context<T>(request: &Request<T>) -> RequestContext {
    let actor = match optional_caller(request) {
        None => Actor::Anonymous,
        Some(caller) if caller.is_admin() => Actor::Admin {
            user_id: caller.user_id,
        },
        Some(caller) => Actor::Customer {
            user_id: caller.user_id,
        },
    };
    RequestContext::new(actor).with_correlation_id(correlation_id(request.metadata()))
}

/// [`context`] for a write: UNAUTHENTICATED when anonymous,
/// PERMISSION_DENIED without the admin role.
fn admin_context<T>(request: &Request<T>) -> Result<RequestContext, Status> {
    require_role(request, Role::ADMIN)?;
    Ok(context(request))
}

/// The status a caller sees: INVALID_ARGUMENT naming the field of a
/// request that did not convert, or the application error's code.
fn to_status(error: impl Into<CatalogError>) -> Status {
    error.into().into_status()
}

#[tonic::async_trait]
impl CatalogService for CatalogGrpc {
    async fn create_product(
        &self,
        request: Request<pb::CreateProductRequest>,
    ) -> Result<Response<pb::CreateProductResponse>, Status> {
        let context = admin_context(&request)?;
        let command = request.into_inner().try_into().map_err(to_status)?;
        let product = self
            .app
            .create_product(&context, command)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::CreateProductResponse {
            product: Some(convert::pb_product(&product)),
        }))
    }

    async fn update_product(
        &self,
        request: Request<pb::UpdateProductRequest>,
    ) -> Result<Response<pb::UpdateProductResponse>, Status> {
        let context = admin_context(&request)?;
        let command = request.into_inner().try_into().map_err(to_status)?;
        let product = self
            .app
            .update_product(&context, command)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::UpdateProductResponse {
            product: Some(convert::pb_product(&product)),
        }))
    }

    async fn publish_product(
        &self,
        request: Request<pb::PublishProductRequest>,
    ) -> Result<Response<pb::PublishProductResponse>, Status> {
        let context = admin_context(&request)?;
        let command = request.into_inner().try_into().map_err(to_status)?;
        let product = self
            .app
            .change_product_status(&context, command)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::PublishProductResponse {
            product: Some(convert::pb_product(&product)),
        }))
    }

    async fn unpublish_product(
        &self,
        request: Request<pb::UnpublishProductRequest>,
    ) -> Result<Response<pb::UnpublishProductResponse>, Status> {
        let context = admin_context(&request)?;
        let command = request.into_inner().try_into().map_err(to_status)?;
        let product = self
            .app
            .change_product_status(&context, command)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::UnpublishProductResponse {
            product: Some(convert::pb_product(&product)),
        }))
    }

    async fn archive_product(
        &self,
        request: Request<pb::ArchiveProductRequest>,
    ) -> Result<Response<pb::ArchiveProductResponse>, Status> {
        let context = admin_context(&request)?;
        let command = request.into_inner().try_into().map_err(to_status)?;
        let product = self
            .app
            .change_product_status(&context, command)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ArchiveProductResponse {
            product: Some(convert::pb_product(&product)),
        }))
    }

    async fn get_product(
        &self,
        request: Request<pb::GetProductRequest>,
    ) -> Result<Response<pb::GetProductResponse>, Status> {
        let context = context(&request);
        let command = request.into_inner().try_into().map_err(to_status)?;
        let product = self
            .app
            .get_product(&context, command)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::GetProductResponse {
            product: Some(convert::pb_product(&product)),
        }))
    }

    async fn list_products(
        &self,
        request: Request<pb::ListProductsRequest>,
    ) -> Result<Response<pb::ListProductsResponse>, Status> {
        let context = context(&request);
        let command = request.into_inner().try_into().map_err(to_status)?;
        let page = self
            .app
            .list_products(&context, command)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListProductsResponse {
            products: page.products.iter().map(convert::pb_product).collect(),
            next_page_token: page.next_page_token.unwrap_or_default(),
        }))
    }

    async fn create_variant(
        &self,
        request: Request<pb::CreateVariantRequest>,
    ) -> Result<Response<pb::CreateVariantResponse>, Status> {
        let context = admin_context(&request)?;
        let command = request.into_inner().try_into().map_err(to_status)?;
        let variant = self
            .app
            .create_variant(&context, command)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::CreateVariantResponse {
            variant: Some(convert::pb_variant(&variant)),
        }))
    }

    async fn update_variant(
        &self,
        request: Request<pb::UpdateVariantRequest>,
    ) -> Result<Response<pb::UpdateVariantResponse>, Status> {
        let context = admin_context(&request)?;
        let command = request.into_inner().try_into().map_err(to_status)?;
        let variant = self
            .app
            .update_variant(&context, command)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::UpdateVariantResponse {
            variant: Some(convert::pb_variant(&variant)),
        }))
    }

    async fn discontinue_variant(
        &self,
        request: Request<pb::DiscontinueVariantRequest>,
    ) -> Result<Response<pb::DiscontinueVariantResponse>, Status> {
        let context = admin_context(&request)?;
        let command = request.into_inner().try_into().map_err(to_status)?;
        let variant = self
            .app
            .discontinue_variant(&context, command)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::DiscontinueVariantResponse {
            variant: Some(convert::pb_variant(&variant)),
        }))
    }

    async fn set_price(
        &self,
        request: Request<pb::SetPriceRequest>,
    ) -> Result<Response<pb::SetPriceResponse>, Status> {
        let context = admin_context(&request)?;
        let command = request.into_inner().try_into().map_err(to_status)?;
        let price = self
            .app
            .set_price(&context, command)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::SetPriceResponse {
            price: Some(convert::pb_price(&price)),
        }))
    }

    async fn quote_prices(
        &self,
        request: Request<pb::QuotePricesRequest>,
    ) -> Result<Response<pb::QuotePricesResponse>, Status> {
        let context = context(&request);
        let command = request.into_inner().try_into().map_err(to_status)?;
        let quotes = self
            .app
            .quote_prices(&context, command)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::QuotePricesResponse {
            quotes: quotes.iter().map(convert::pb_quote).collect(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::validation::InvalidField;

    #[test]
    fn an_invalid_request_names_its_field() {
        let status = to_status(InvalidField::new("title", "must not be empty"));
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert_eq!(status.message(), "title: must not be empty");
    }
}
