//! The catalog's rules, without I/O: validated values, the product and
//! variant state machines, price selection over time, update diffs, page
//! tokens, the events the catalog announces ([`CatalogEvent`]) and what the
//! rules refuse ([`DomainError`]). Money, ids and the clock come from
//! `ecommerce_kernel`.
//!
//! Nothing here imports tonic or sea_orm: `grpc` converts requests into the
//! commands defined here, `storage` maps rows to the models defined here,
//! and `app` runs the rules inside transactions.

pub mod actor;
pub mod commands;
pub mod error;
pub mod events;
pub mod lifecycle;
pub mod model;
pub mod page;
pub mod price;
pub mod validation;

pub use actor::{Actor, RequestContext};
pub use error::{DomainError, Resource};
pub use events::CatalogEvent;
pub use lifecycle::{LifecycleAction, ProductStatus, VariantStatus};
pub use model::{Product, ProductDetails, ProductId, Variant, VariantId, Version};
pub use price::{Price, QuoteStatus};
