//! iam-svc's tables through SeaORM. Every function takes `&impl
//! ConnectionTrait`, so it runs inside whatever transaction the caller
//! opened (the one that also enqueues the events), and returns the shared
//! `ecommerce_db::StoreError`, which classifies the SQLSTATE once. The
//! unique violations that mean something to callers (a taken email or
//! sign-up key, below) are claimed by the application layer inside the
//! transaction, so they are answered rather than retried.
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
