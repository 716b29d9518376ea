//! catalog-svc through [`CatalogApp`](catalog_svc::app::CatalogApp), its
//! storage and its gRPC surface: one file a resource, in one test binary so
//! the suite links once.

mod grpc_surface;
mod listing;
mod outbox;
mod prices;
mod products;
mod storage;
mod support;
mod variants;
