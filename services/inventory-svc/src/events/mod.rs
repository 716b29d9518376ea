//! What inventory emits and consumes.
//!
//! - [`payloads`]: the domain's [`InventoryEvent`]s as the generated
//!   `ecommerce.inventory.v1` messages, and [`enqueue`] / [`emit`] writing
//!   them through the outbox.
//! - [`consumers`]: the inbox handlers of `inventory.order-events` and
//!   `inventory.catalog-events`.

pub mod consumers;
pub mod payloads;

use ecommerce_db::StoreError;
use ecommerce_events::EventMetadata;
use ecommerce_inbox::{HandlerContext, HandlerError};
use ecommerce_outbox::OutboxTransaction;
use uuid::Uuid;

use crate::domain::InventoryEvent;

/// Enqueues `event` in `tx` with `metadata`, through the outbox's one door
/// ([`OutboxTransaction::emit`]).
pub async fn enqueue(
    tx: &OutboxTransaction,
    event: &InventoryEvent,
    metadata: EventMetadata,
) -> Result<Uuid, StoreError> {
    match event {
        InventoryEvent::AdjustmentApplied(event) => {
            tx.emit(&payloads::adjustment_applied(event), metadata)
                .await
        }
        InventoryEvent::Reserved(event) => tx.emit(&payloads::reserved(event), metadata).await,
        InventoryEvent::ReservationFailed(event) => {
            tx.emit(&payloads::reservation_failed(event), metadata)
                .await
        }
        InventoryEvent::Committed(event) => tx.emit(&payloads::committed(event), metadata).await,
        InventoryEvent::Released(event) => tx.emit(&payloads::released(event), metadata).await,
        InventoryEvent::Expired(event) => tx.emit(&payloads::expired(event), metadata).await,
    }
}

/// Emits `event` from a consumer: same transaction as the inbox record,
/// causation = the incoming event, correlation passed through.
pub async fn emit(
    context: &HandlerContext<'_>,
    event: &InventoryEvent,
) -> Result<Uuid, HandlerError> {
    let aggregate = event.aggregate();
    let (kind, id) = (aggregate.aggregate_type, aggregate.id);
    match event {
        InventoryEvent::AdjustmentApplied(event) => {
            context
                .emit(&payloads::adjustment_applied(event), kind, id)
                .await
        }
        InventoryEvent::Reserved(event) => context.emit(&payloads::reserved(event), kind, id).await,
        InventoryEvent::ReservationFailed(event) => {
            context
                .emit(&payloads::reservation_failed(event), kind, id)
                .await
        }
        InventoryEvent::Committed(event) => {
            context.emit(&payloads::committed(event), kind, id).await
        }
        InventoryEvent::Released(event) => context.emit(&payloads::released(event), kind, id).await,
        InventoryEvent::Expired(event) => context.emit(&payloads::expired(event), kind, id).await,
    }
}
