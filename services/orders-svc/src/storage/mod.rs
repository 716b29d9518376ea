//! orders-svc's tables through SeaORM. Every function takes `&impl
//! ConnectionTrait`, so it runs inside whatever transaction the caller
//! opened (the one that also enqueues the events), and returns the shared
//! `ecommerce_db::StoreError`, which classifies the SQLSTATE once.
//!
//! Table names are unqualified: the pool's `search_path` is the service's
//! schema (see `orders-migration`). Rows become a domain [`Order`] here and
//! nowhere else; a row that does not make a valid order (which only a bug
//! or a hand edit can cause) is an internal `StoreError` naming the order.
//!
//! [`Order`]: crate::domain::Order

pub mod entities;
pub mod orders;

/// The unique index that makes a PlaceOrder retry return the same order.
pub const ORDERS_CHECKOUT_KEY_KEY: &str = "orders_checkout_key_key";
