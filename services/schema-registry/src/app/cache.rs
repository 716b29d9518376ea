//! GetSchema's cache: schemas by id, held for a short time.
//!
//! A registered version never changes except for its `deleted` flag (soft
//! delete), so serving it from memory is safe but for that flag: this
//! process drops a subject's entries when it deletes there, and another
//! registry process's delete shows here within the time to live. Without
//! it, every GetSchema is a Postgres round trip (a third of the CPU of a
//! GetSchema-bound registry, see the README's benchmark).

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::domain::{Fingerprint, RegisteredSchema, SchemaId, Subject};

/// Schemas by id, each for at most `ttl`; at most `capacity` of them.
#[derive(Debug)]
pub struct SchemaCache {
    ttl: Duration,
    capacity: usize,
    entries: RwLock<HashMap<SchemaId, Entry>>,
}

#[derive(Debug)]
struct Entry {
    loaded_at: Instant,
    schema: Arc<RegisteredSchema>,
}

impl SchemaCache {
    /// `ttl` zero disables the cache.
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            ttl,
            capacity,
            entries: RwLock::new(HashMap::new()),
        }
    }

    /// The schema, when loaded less than `ttl` ago.
    pub fn get(&self, id: SchemaId) -> Option<Arc<RegisteredSchema>> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        let entry = entries.get(&id)?;
        (entry.loaded_at.elapsed() < self.ttl).then(|| entry.schema.clone())
    }

    /// Remembers `schema`, loaded from the database just now.
    pub fn insert(&self, schema: Arc<RegisteredSchema>) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.capacity && !entries.contains_key(&schema.id) {
            // Rare (more live ids than the capacity within one ttl): start
            // over rather than track recency on every read.
            entries.retain(|_, entry| entry.loaded_at.elapsed() < self.ttl);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(
            schema.id,
            Entry {
                loaded_at: Instant::now(),
                schema,
            },
        );
    }

    /// Forgets every version of `subject` (its `deleted` flags changed).
    pub fn forget_subject(&self, subject: &Subject) {
        self.entries
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, entry| entry.schema.subject != *subject);
    }
}

/// RegisterSchema's shortcut for a producer registering what it registered
/// before (every start-up): the canonical fingerprint of each descriptor set
/// already canonicalized, by the SHA-256 of its bytes as sent and the message
/// name. Canonicalizing re-encodes every descriptor (2.7 ms of CPU for an
/// event schema); hashing the bytes as sent is a few microseconds.
#[derive(Debug)]
pub struct KnownSubmissions {
    capacity: usize,
    fingerprints: RwLock<HashMap<(Fingerprint, String), Fingerprint>>,
}

impl KnownSubmissions {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            fingerprints: RwLock::new(HashMap::new()),
        }
    }

    /// The canonical fingerprint of these bytes as sent, if seen before.
    pub fn canonical_of(&self, sent: Fingerprint, message_name: &str) -> Option<Fingerprint> {
        self.fingerprints
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(sent, message_name.to_owned()))
            .copied()
    }

    /// Remembers that `sent` canonicalizes to `canonical`; the mapping never
    /// goes stale (both are digests of immutable bytes).
    pub fn remember(&self, sent: Fingerprint, message_name: &str, canonical: Fingerprint) {
        let mut fingerprints = self
            .fingerprints
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if fingerprints.len() >= self.capacity {
            fingerprints.clear();
        }
        fingerprints.insert((sent, message_name.to_owned()), canonical);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::{DateTime, Utc};

    use super::*;
    use crate::domain::{Fingerprint, Version};

    fn schema(id: i64, subject: &str) -> Arc<RegisteredSchema> {
        Arc::new(RegisteredSchema {
            id: SchemaId::parse(id).unwrap(),
            subject: Subject::parse(subject).unwrap(),
            version: Version::FIRST,
            message_name: "shop.v1.Order".to_owned(),
            message_file: "order.proto".to_owned(),
            imports: Vec::new(),
            event_type: String::new(),
            file_descriptor_set: vec![1, 2, 3],
            fingerprint: Fingerprint::of(&[1, 2, 3]),
            created_at: DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap(),
            deleted: false,
        })
    }

    fn id(raw: i64) -> SchemaId {
        SchemaId::parse(raw).unwrap()
    }

    #[test]
    fn a_schema_is_served_until_its_ttl_ends() {
        let cache = SchemaCache::new(Duration::from_millis(50), 10);
        assert!(cache.get(id(1)).is_none());
        cache.insert(schema(1, "orders.order_placed.v1"));
        assert_eq!(cache.get(id(1)).unwrap().id, id(1));
        std::thread::sleep(Duration::from_millis(60));
        assert!(cache.get(id(1)).is_none());
    }

    #[test]
    fn a_deleting_subject_is_forgotten_and_the_others_stay() {
        let cache = SchemaCache::new(Duration::from_secs(60), 10);
        cache.insert(schema(1, "orders.order_placed.v1"));
        cache.insert(schema(2, "orders.order_placed.v1"));
        cache.insert(schema(3, "orders.order_canceled.v1"));
        cache.forget_subject(&Subject::parse("orders.order_placed.v1").unwrap());
        assert!(cache.get(id(1)).is_none());
        assert!(cache.get(id(2)).is_none());
        assert!(cache.get(id(3)).is_some());
    }

    #[test]
    fn known_submissions_map_sent_bytes_to_their_canonical_fingerprint() {
        let known = KnownSubmissions::new(2);
        let sent = Fingerprint::of(b"as sent");
        let canonical = Fingerprint::of(b"canonical");
        assert_eq!(known.canonical_of(sent, "shop.v1.Order"), None);
        known.remember(sent, "shop.v1.Order", canonical);
        assert_eq!(known.canonical_of(sent, "shop.v1.Order"), Some(canonical));
        assert_eq!(known.canonical_of(sent, "shop.v1.Cart"), None);
        known.remember(Fingerprint::of(b"b"), "m", canonical);
        known.remember(Fingerprint::of(b"c"), "m", canonical);
        assert_eq!(
            known.canonical_of(sent, "shop.v1.Order"),
            None,
            "full: started over"
        );
    }

    #[test]
    fn a_full_cache_starts_over_and_a_zero_ttl_caches_nothing() {
        let cache = SchemaCache::new(Duration::from_secs(60), 2);
        cache.insert(schema(1, "a"));
        cache.insert(schema(2, "b"));
        cache.insert(schema(3, "c"));
        assert!(cache.get(id(3)).is_some());
        assert!(cache.get(id(1)).is_none() && cache.get(id(2)).is_none());

        let disabled = SchemaCache::new(Duration::ZERO, 2);
        disabled.insert(schema(1, "a"));
        assert!(disabled.get(id(1)).is_none());
    }
}
