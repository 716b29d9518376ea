//! payments-svc's table through SeaORM. Every function takes `&impl
//! ConnectionTrait`, so it runs inside whatever transaction the caller
//! opened (the one that also enqueues the events), and returns the shared
//! `ecommerce_db::StoreError`, which classifies the SQLSTATE once.
//!
//! Table names are unqualified: the pool's `search_path` is the service's
//! schema (see `payments-migration`). Rows become a domain [`Payment`] here
//! and nowhere else, through [`PaymentColumns`]; a row that does not make a
//! valid payment (which only a bug or a hand edit can cause, the CHECKs
//! forbid it) is an internal `StoreError` naming the payment.
//!
//! [`Payment`]: crate::domain::Payment
//! [`PaymentColumns`]: crate::domain::PaymentColumns

pub mod entities;
pub mod payments;
