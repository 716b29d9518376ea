//! The verifier's cache of public keys.
//!
//! Keys are loaded on first use and refreshed lazily: by the first lookup
//! after `refresh_interval`, or by a lookup for a `kid` the cache does not
//! know (IAM rotated its key). Fetches are single-flight and rate-limited:
//! after a successful fetch, the next one comes no sooner than
//! `min_refresh_interval`, after a failed one no sooner than
//! `retry_after_failure`, so tokens with made-up `kid`s cannot turn into a
//! stream of calls to IAM. A failed refresh keeps the keys already held.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use jsonwebtoken::DecodingKey;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::key_source::{KeySource, KeySourceError};

/// How the cache refreshes; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyCacheConfig {
    /// Keys older than this are refetched on the next lookup (5 minutes).
    pub refresh_interval: Duration,
    /// Least time between a successful fetch and the next one (30 seconds).
    pub min_refresh_interval: Duration,
    /// Least time between a failed fetch and the next one (1 second): short,
    /// so a service started before IAM recovers quickly.
    pub retry_after_failure: Duration,
    /// How long one fetch may take (5 seconds).
    pub fetch_timeout: Duration,
}

impl Default for KeyCacheConfig {
    fn default() -> Self {
        Self {
            refresh_interval: Duration::from_secs(300),
            min_refresh_interval: Duration::from_secs(30),
            retry_after_failure: Duration::from_secs(1),
            fetch_timeout: Duration::from_secs(5),
        }
    }
}

/// What a lookup found.
pub(crate) enum Lookup {
    Found(DecodingKey),
    /// The keys are known and `kid` is not among them.
    Unknown,
    /// No keys could ever be loaded, or a needed fetch failed.
    Unavailable,
}

#[derive(Default)]
struct State {
    keys: Arc<HashMap<String, DecodingKey>>,
    /// When the keys were last fetched successfully.
    loaded_at: Option<Instant>,
    /// When the last fetch ended and whether it succeeded.
    last_attempt: Option<(Instant, bool)>,
}

pub(crate) struct KeyCache {
    source: Arc<dyn KeySource>,
    config: KeyCacheConfig,
    state: RwLock<State>,
    /// Held while fetching, so concurrent lookups share one fetch.
    fetching: Mutex<()>,
}

impl KeyCache {
    pub(crate) fn new(source: Arc<dyn KeySource>, config: KeyCacheConfig) -> Self {
        Self {
            source,
            config,
            state: RwLock::new(State::default()),
            fetching: Mutex::new(()),
        }
    }

    /// The key for `kid`, if held, and whether the keys are due for a refresh.
    fn snapshot(&self, kid: &str, now: Instant) -> (Option<DecodingKey>, bool) {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        let key = state.keys.get(kid).cloned();
        let stale = state
            .loaded_at
            .is_none_or(|loaded_at| now >= loaded_at + self.config.refresh_interval);
        (key, stale)
    }

    fn may_fetch(&self, now: Instant) -> bool {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        match state.last_attempt {
            None => true,
            Some((at, true)) => now >= at + self.config.min_refresh_interval,
            Some((at, false)) => now >= at + self.config.retry_after_failure,
        }
    }

    pub(crate) async fn lookup(&self, kid: &str) -> Lookup {
        let (cached, stale) = self.snapshot(kid, Instant::now());
        if let Some(key) = cached {
            if !stale {
                return Lookup::Found(key);
            }
            // Stale but present: refresh unless someone else already is, and
            // answer from whatever the cache holds afterwards.
            if let Ok(guard) = self.fetching.try_lock() {
                if self.may_fetch(Instant::now()) {
                    self.fetch().await;
                }
                drop(guard);
            }
            return match self.snapshot(kid, Instant::now()).0 {
                Some(key) => Lookup::Found(key),
                None => Lookup::Unknown,
            };
        }

        let _guard = self.fetching.lock().await;
        // Another lookup may have fetched while this one waited.
        let (cached, _) = self.snapshot(kid, Instant::now());
        if let Some(key) = cached {
            return Lookup::Found(key);
        }
        if self.may_fetch(Instant::now()) {
            self.fetch().await;
        }
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(key) = state.keys.get(kid) {
            return Lookup::Found(key.clone());
        }
        match (state.loaded_at, state.last_attempt) {
            // Never loaded: nothing can be verified yet.
            (None, _) => Lookup::Unavailable,
            // The last fetch failed: the kid may be a new key IAM could not tell us about.
            (Some(_), Some((_, false))) => Lookup::Unavailable,
            // Keys at most `min_refresh_interval` old do not know this kid.
            (Some(_), Some((_, true)) | None) => Lookup::Unknown,
        }
    }

    /// Fetches and installs the keys, or records the failure. The caller
    /// holds `fetching`.
    async fn fetch(&self) {
        let fetched =
            match tokio::time::timeout(self.config.fetch_timeout, self.source.fetch_keys()).await {
                Ok(result) => result,
                Err(_) => Err(KeySourceError::new(format!(
                    "fetching keys took longer than {:?}",
                    self.config.fetch_timeout
                ))),
            };
        let keys = fetched.and_then(|jwks| {
            let mut keys = HashMap::with_capacity(jwks.len());
            for jwk in jwks {
                match jwk.verifying_key() {
                    Ok(public_key) => {
                        keys.insert(
                            jwk.kid.clone(),
                            DecodingKey::from_ed_der(public_key.as_bytes()),
                        );
                    }
                    Err(error) => {
                        tracing::warn!(kid = %jwk.kid, error = %error, "ignoring unusable verification key");
                    }
                }
            }
            if keys.is_empty() {
                return Err(KeySourceError::new("the key source returned no usable key"));
            }
            Ok(keys)
        });
        let now = Instant::now();
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        match keys {
            Ok(keys) => {
                tracing::debug!(keys = keys.len(), "verification keys loaded");
                state.keys = Arc::new(keys);
                state.loaded_at = Some(now);
                state.last_attempt = Some((now, true));
            }
            Err(error) => {
                tracing::warn!(
                    error = %error,
                    source = ?std::error::Error::source(&error).map(ToString::to_string),
                    keys_held = state.keys.len(),
                    "could not fetch verification keys"
                );
                state.last_attempt = Some((now, false));
            }
        }
    }
}
