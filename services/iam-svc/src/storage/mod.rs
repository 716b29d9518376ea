//! iam-svc's tables through SeaORM. Every function takes `&impl
//! ConnectionTrait`, so it runs inside whatever transaction the caller
//! opened (the one that also enqueues the events), and returns SeaORM's
//! `DbErr`, which the application layer classifies once with
//! `ecommerce_db::DbFailure`.
//!
//! Table names are unqualified: the pool's `search_path` is the service's
//! schema (see `iam-migration`).

pub mod entities;
pub mod failures;
pub mod keys;
pub mod sessions;
pub mod users;
pub mod verification;

/// The unique index that makes an email belong to one user.
pub const USERS_EMAIL_KEY: &str = "users_email_key";
/// The unique index that makes a SignUp retry return the same user.
pub const USERS_SIGNUP_KEY: &str = "users_signup_key_key";
