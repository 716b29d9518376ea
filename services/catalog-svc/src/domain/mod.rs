//! The catalog's rules, without I/O: validated values, the product and
//! variant state machines, money, price selection over time, update diffs,
//! page tokens, and what the rules refuse ([`DomainError`]).
//!
//! Nothing here imports tonic or sea_orm: `grpc` converts requests into the
//! commands defined here, `storage` maps rows to the models defined here,
//! and `app` runs the rules inside transactions.

pub mod actor;
pub mod commands;
pub mod error;
pub mod lifecycle;
pub mod model;
pub mod money;
pub mod page;
pub mod price;
pub mod validation;

pub use actor::{Actor, RequestContext};
pub use ecommerce_kernel::{Clock, ManualClock, SystemClock};
pub use error::{DomainError, Resource};
pub use lifecycle::{LifecycleAction, ProductStatus, VariantStatus};
pub use model::{Product, ProductDetails, ProductId, Variant, VariantId, Version};
pub use money::{Currency, Money};
pub use price::{Price, QuoteStatus};
