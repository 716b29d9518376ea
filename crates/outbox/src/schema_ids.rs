//! The schema registry ids of the event types a process emits.
//!
//! Filled in by the start-up registration (`ecommerce-runtime`), read by
//! [`Outbox::enqueue`](crate::Outbox::enqueue) for every event: the id goes
//! into the envelope (`schema.registry_id`) and, through the row's
//! `schema_ref`, into the `x-schema-id` header the relay sends. Until an
//! event type is registered its events go out without an id.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use ecommerce_events::EVENT_TYPES;

/// Registry id per generated event type; cheap to clone, clones share the ids.
#[derive(Clone, Debug)]
pub struct SchemaIds {
    /// Indexed like [`EVENT_TYPES`]; 0 means "not registered yet" (registry
    /// ids are positive).
    ids: Arc<[AtomicI64]>,
}

impl Default for SchemaIds {
    fn default() -> Self {
        Self {
            ids: EVENT_TYPES.iter().map(|_| AtomicI64::new(0)).collect(),
        }
    }
}

impl SchemaIds {
    /// No event type registered yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records the registry id of `event_type`. False when the type is not
    /// in the generated table or the id is not positive (nothing recorded).
    pub fn set(&self, event_type: &str, registry_id: i64) -> bool {
        match (index_of(event_type), registry_id > 0) {
            (Some(index), true) => {
                self.ids[index].store(registry_id, Ordering::Relaxed);
                true
            }
            _ => false,
        }
    }

    /// The registry id of `event_type`, once registered.
    pub fn get(&self, event_type: &str) -> Option<i64> {
        let registry_id = self.ids[index_of(event_type)?].load(Ordering::Relaxed);
        (registry_id > 0).then_some(registry_id)
    }
}

fn index_of(event_type: &str) -> Option<usize> {
    EVENT_TYPES
        .binary_search_by(|info| info.event_type.cmp(event_type))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_shared_by_clones_and_unknown_types_are_refused() {
        let ids = SchemaIds::new();
        let clone = ids.clone();
        assert_eq!(ids.get("orders.order_placed.v1"), None);
        assert!(clone.set("orders.order_placed.v1", 42));
        assert_eq!(ids.get("orders.order_placed.v1"), Some(42));
        assert!(!ids.set("orders.no_such_event.v1", 7));
        assert!(!ids.set("orders.order_canceled.v1", 0));
        assert_eq!(ids.get("orders.order_canceled.v1"), None);
        assert_eq!(ids.get("orders.no_such_event.v1"), None);
    }
}
