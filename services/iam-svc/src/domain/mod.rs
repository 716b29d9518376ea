//! IAM rules that need no I/O: input validation, password policy and hashing,
//! opaque tokens and session expiry, sign-in throttling, the rules of an
//! unverified email, role sets and admin access, profile updates and the
//! events IAM announces.
//!
//! Nothing here imports tonic or sea_orm. Every validation error names the
//! request field it is about ([`email::EmailError::field`], …) and its
//! `Display` is a sentence fit for an `INVALID_ARGUMENT` message; none of them
//! ever contains a password, a token or a hash.
//!
//! Secrets (passwords, opaque tokens, token and password hashes) have a
//! `Debug` that hides them, so a stray `?value` in a log line cannot leak one.

pub mod email;
pub mod events;
pub mod password;
pub mod profile;
mod random;
pub mod rate_limit;
pub mod roles;
mod time;
pub mod tokens;
pub mod verification;

pub use random::RandomnessUnavailable;
