//! What fulfillment emits and consumes.
//!
//! - [`payloads`]: the domain's [`FulfillmentEvent`]s as the generated
//!   `ecommerce.fulfillment.v1` messages, and [`enqueue`] writing them
//!   through the outbox.
//! - [`consumers`]: the inbox handler of `fulfillment.inventory-events`.

pub mod consumers;
pub mod payloads;

use ecommerce_db::StoreError;
use ecommerce_events::EventMetadata;
use ecommerce_outbox::Outbox;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use crate::domain::FulfillmentEvent;

/// Enqueues `event` through `outbox` in `db` (the caller's transaction)
/// with `metadata`; returns the event's id. The one door fulfillment's
/// events leave by, for the RPCs' outbox transactions and the consumer's
/// inbox transaction alike (which is why it is not
/// `OutboxTransaction::emit`); fails with the [`StoreError`] the service's
/// error wraps.
pub async fn enqueue<C: ConnectionTrait>(
    outbox: &Outbox,
    db: &C,
    event: &FulfillmentEvent,
    metadata: EventMetadata,
) -> Result<Uuid, StoreError> {
    let enqueued = match event {
        FulfillmentEvent::Created(event) => {
            outbox
                .enqueue(db, &payloads::created(event), metadata)
                .await
        }
        FulfillmentEvent::Shipped(event) => {
            outbox
                .enqueue(db, &payloads::shipped(event), metadata)
                .await
        }
        FulfillmentEvent::Delivered(event) => {
            outbox
                .enqueue(db, &payloads::delivered(event), metadata)
                .await
        }
    };
    Ok(enqueued?)
}
