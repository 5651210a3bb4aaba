//! The verified-token cache: SHA-256 of a token → its claims, bounded, approximately LRU
//! (two generations of up to `capacity` entries each: a hit in the older one moves the entry
//! to the newer one; when the newer one is full the older one is dropped). The `capacity`
//! most recently used tokens are always cached; at most `2 × capacity` entries are held.
//! Claims are kept from a token's second verification on (see [`VerifiedCache::insert`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_lc_rs::digest::{SHA256, digest};

use super::claims::Claims;

pub(crate) type TokenHash = [u8; 32];

pub(crate) fn token_hash(token: &str) -> TokenHash {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, token.as_bytes()).as_ref());
    out
}

/// A verified token: its claims and the key set (source, generation) that verified it.
#[derive(Clone)]
pub(crate) struct Entry {
    pub(crate) claims: Arc<Claims>,
    pub(crate) source: usize,
    pub(crate) generation: u64,
}

/// Two generations of up to `size` entries each: a hit in the older one moves the entry to the
/// newer one; when the newer one is full, the older one is dropped.
struct TwoGen<V> {
    young: HashMap<TokenHash, V>,
    old: HashMap<TokenHash, V>,
}

impl<V: Clone> TwoGen<V> {
    fn new() -> Self {
        TwoGen {
            young: HashMap::new(),
            old: HashMap::new(),
        }
    }

    fn get(&mut self, size: usize, hash: &TokenHash) -> Option<V> {
        if let Some(value) = self.young.get(hash) {
            return Some(value.clone());
        }
        let value = self.old.remove(hash)?;
        self.put(size, *hash, value.clone());
        Some(value)
    }

    fn put(&mut self, size: usize, hash: TokenHash, value: V) {
        if self.young.len() >= size && !self.young.contains_key(&hash) {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(hash, value);
    }

    fn remove(&mut self, hash: &TokenHash) -> bool {
        self.young.remove(hash).is_some() | self.old.remove(hash).is_some()
    }

    fn clear(&mut self) {
        self.young.clear();
        self.old.clear();
    }

    fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }
}

struct State {
    entries: TwoGen<Entry>,
    /// Hashes of tokens verified once: a token's claims are kept from its second
    /// verification on, so a stream of one-off tokens neither holds memory nor evicts the
    /// tokens that repeat (the "doorkeeper" of TinyLFU).
    seen: TwoGen<()>,
}

/// At least the `capacity` most recent repeated tokens, at most `2 × capacity` entries (plus
/// as many 32-byte hashes of tokens seen once); `capacity == 0` disables it.
pub(crate) struct VerifiedCache {
    generation_size: usize,
    inner: Mutex<State>,
}

impl VerifiedCache {
    pub(crate) fn new(capacity: usize) -> VerifiedCache {
        VerifiedCache {
            generation_size: capacity,
            inner: Mutex::new(State {
                entries: TwoGen::new(),
                seen: TwoGen::new(),
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn enabled(&self) -> bool {
        self.generation_size > 0
    }

    pub(crate) fn get(&self, hash: &TokenHash) -> Option<Entry> {
        self.state().entries.get(self.generation_size, hash)
    }

    /// Records a verified token: remembered on its second verification.
    pub(crate) fn insert(&self, hash: TokenHash, entry: Entry) {
        if !self.enabled() {
            return;
        }
        let mut state = self.state();
        if state.seen.remove(&hash) {
            state.entries.put(self.generation_size, hash, entry);
        } else {
            state.seen.put(self.generation_size, hash, ());
        }
    }

    pub(crate) fn remove(&self, hash: &TokenHash) {
        self.state().entries.remove(hash);
    }

    /// Drops every entry (the key set changed).
    pub(crate) fn clear(&self) {
        let mut state = self.state();
        state.entries.clear();
        state.seen.clear();
    }

    pub(crate) fn len(&self) -> usize {
        self.state().entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    fn entry() -> Entry {
        let mut all = Map::new();
        all.insert("exp".into(), 1.into());
        Entry {
            claims: Arc::new(Claims::from_payload(all, "{\"exp\":1}".into()).unwrap()),
            source: 0,
            generation: 0,
        }
    }

    #[test]
    fn stays_bounded_and_keeps_recent_hits() {
        let cache = VerifiedCache::new(100);
        let hot = token_hash("hot");
        cache.insert(hot, entry());
        assert!(
            cache.get(&hot).is_none(),
            "claims are kept from the second verification"
        );
        cache.insert(hot, entry());
        for i in 0..10_000 {
            let h = token_hash(&i.to_string());
            cache.insert(h, entry());
            if i % 2 == 0 {
                cache.insert(h, entry());
            }
            assert!(cache.len() <= 200);
            if i % 10 == 0 {
                assert!(cache.get(&hot).is_some(), "a token used often stays cached");
            }
        }
        // Cycling through exactly `capacity` repeated tokens hits on every later pass.
        cache.clear();
        for pass in 0..4 {
            for i in 0..100 {
                let h = token_hash(&format!("cycle-{i}"));
                if pass > 1 {
                    assert!(cache.get(&h).is_some(), "pass {pass} token {i}");
                } else {
                    cache.insert(h, entry());
                }
            }
        }
        cache.clear();
        assert_eq!(cache.len(), 0);
        let off = VerifiedCache::new(0);
        off.insert(hot, entry());
        off.insert(hot, entry());
        assert!(off.get(&hot).is_none());
    }

    #[test]
    fn one_off_tokens_hold_no_claims_and_do_not_evict_repeated_ones() {
        let cache = VerifiedCache::new(10);
        let hot = token_hash("hot");
        cache.insert(hot, entry());
        cache.insert(hot, entry());
        for i in 0..1_000 {
            cache.insert(token_hash(&format!("once-{i}")), entry());
        }
        assert_eq!(cache.len(), 1, "only the repeated token's claims are held");
        assert!(cache.get(&hot).is_some());
    }
}
