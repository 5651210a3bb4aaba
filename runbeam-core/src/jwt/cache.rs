//! The verified-token cache: SHA-256 of a token → its claims, bounded, approximately LRU
//! (two generations of up to `capacity` entries each: a hit in the older one moves the entry
//! to the newer one; when the newer one is full the older one is dropped). The `capacity`
//! most recently used tokens are always cached; at most `2 × capacity` entries are held.

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

#[derive(Default)]
struct Generations {
    young: HashMap<TokenHash, Entry>,
    old: HashMap<TokenHash, Entry>,
}

/// At least the `capacity` most recent tokens, at most `2 × capacity` entries; `capacity == 0`
/// disables it.
pub(crate) struct VerifiedCache {
    generation_size: usize,
    inner: Mutex<Generations>,
}

impl VerifiedCache {
    pub(crate) fn new(capacity: usize) -> VerifiedCache {
        VerifiedCache {
            generation_size: capacity,
            inner: Mutex::new(Generations::default()),
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.generation_size > 0
    }

    pub(crate) fn get(&self, hash: &TokenHash) -> Option<Entry> {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = g.young.get(hash) {
            return Some(entry.clone());
        }
        let entry = g.old.remove(hash)?;
        Self::put(&mut g, self.generation_size, *hash, entry.clone());
        Some(entry)
    }

    pub(crate) fn insert(&self, hash: TokenHash, entry: Entry) {
        if !self.enabled() {
            return;
        }
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        Self::put(&mut g, self.generation_size, hash, entry);
    }

    pub(crate) fn remove(&self, hash: &TokenHash) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.young.remove(hash);
        g.old.remove(hash);
    }

    fn put(g: &mut Generations, generation_size: usize, hash: TokenHash, entry: Entry) {
        if g.young.len() >= generation_size && !g.young.contains_key(&hash) {
            g.old = std::mem::take(&mut g.young);
        }
        g.young.insert(hash, entry);
    }

    /// Drops every entry (the key set changed).
    pub(crate) fn clear(&self) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.young.clear();
        g.old.clear();
    }

    pub(crate) fn len(&self) -> usize {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.young.len() + g.old.len()
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
        for i in 0..10_000 {
            cache.insert(token_hash(&i.to_string()), entry());
            assert!(cache.len() <= 200);
            if i % 10 == 0 {
                assert!(cache.get(&hot).is_some(), "a token used often stays cached");
            }
        }
        // Cycling through exactly `capacity` tokens hits on every later pass.
        cache.clear();
        for pass in 0..3 {
            for i in 0..100 {
                let h = token_hash(&format!("cycle-{i}"));
                if pass > 0 {
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
        assert!(off.get(&hot).is_none());
    }
}
