//! IAM's revocation events, from the broker into the auth layer.
//!
//! Every process that serves gRPC follows the revocations stream (see
//! `ecommerce_broker::topology::REVOCATION_EVENT_TYPES`) from one retention
//! ago and records each event in the [`Revocations`] its verifier checks: a
//! sign-out, a role change or an account lock stops the affected tokens as
//! soon as the event arrives, and a restarted process replays what it missed.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ecommerce_auth::{Revocation, Revocations};
use ecommerce_broker::{Delivery, EventOrigin};
use ecommerce_events::DecodedEvent;
use uuid::Uuid;

/// The revocation an incoming message announces; `Ok(None)` for any other
/// event (the stream is bound to exactly the revoking types, so that would
/// be a stale binding), `Err` for a message that is not a valid event.
pub fn revocation_of(delivery: &Delivery) -> Result<Option<Revocation>, String> {
    let received = ecommerce_events::decode(&delivery.properties, &delivery.body)
        .map_err(|error| error.to_string())?;
    let at = received.metadata.occurred_at;
    let revocation = match received.event {
        DecodedEvent::IamUserSignedOutV1(event) => Revocation::SessionEnded {
            session_id: uuid("session_id", &event.session_id)?,
            at,
        },
        DecodedEvent::IamUserAccessSynchronizedV1(event) => Revocation::RolesReplaced {
            user_id: uuid("user_id", &event.user_id)?,
            roles: event.roles,
            at,
        },
        DecodedEvent::IamSecurityAccountLockedV1(event) => Revocation::AccountLocked {
            user_id: uuid("user_id", &event.user_id)?,
            at,
        },
        _ => return Ok(None),
    };
    Ok(Some(revocation))
}

fn uuid(field: &str, value: &str) -> Result<Uuid, String> {
    Uuid::parse_str(value).map_err(|_| format!("`{field}` is not a UUID: {value:?}"))
}

/// Records what `delivery` revokes; logs and skips anything else, and
/// anything not from IAM's exchange and broker user (`origin`).
pub fn record(
    revocations: &Arc<Revocations>,
    origin: &EventOrigin,
    delivery: &Delivery,
    now: DateTime<Utc>,
) {
    if let Err(reason) = origin.check(delivery) {
        tracing::warn!(%reason, "a forged or misrouted message on the revocations stream ignored");
        return;
    }
    match revocation_of(delivery) {
        Ok(Some(revocation)) => {
            tracing::debug!(?revocation, "revocation recorded");
            revocations.record(revocation, now);
        }
        Ok(None) => tracing::warn!(
            event_type = %delivery.properties.event_type,
            "an event that revokes nothing reached the revocations stream"
        ),
        // Never retried or dead-lettered: a stream keeps it for every reader.
        Err(error) => tracing::warn!(%error, "an undecodable message on the revocations stream"),
    }
}
