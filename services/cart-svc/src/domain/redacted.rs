//! A stand-in for a secret in hand-written `Debug` impls.

use std::fmt;

/// Prints `<redacted>`: put it in a secret field's place, e.g.
/// `.field("token", &Redacted)` or
/// `.field("bearer", &self.bearer.as_ref().map(|_| Redacted))`.
#[derive(Clone, Copy)]
pub(crate) struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("<redacted>")
    }
}
