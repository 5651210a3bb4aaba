//! The verified-token cache: a token's key (see [`TokenKey`]) → its claims, bounded,
//! approximately LRU (two generations of up to `capacity` entries each: a hit in the older one
//! moves the entry to the newer one; when the newer one is full the older one is dropped). The
//! `capacity` most recently used tokens are always cached; at most `2 × capacity` entries are
//! held. Claims are kept from a token's second verification on (see [`VerifiedCache::insert`]).
//!
//! The distinct-token path (a token never seen before) is the hot one: it costs one SHA-256 of
//! the signing input, shared with the signature check (see [`TokenKey`]), and two short
//! critical sections on tables hashed by the first 8 bytes of that SHA-256.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::{Arc, Mutex};

use aws_lc_rs::digest::{Context, Digest, SHA256};

use super::claims::Claims;
use super::compact::Parts;

/// What identifies a token in the cache: the SHA-256 of its signing input (`header.payload`,
/// everything before its second `.`; see [`Parts`]) and the rest, its signature segment,
/// compared byte for byte on a hit.
/// Together they are the whole token, so a hit is the same token, never one with the same
/// claims and another signature. The SHA-256 is the one an RS256/PS256 signature check needs:
/// a token never seen before is hashed once, not twice.
pub(crate) struct TokenKey<'t> {
    pub(crate) digest: Digest,
    /// Length of the signing input hashed (before the second `.`, or the only one; the whole
    /// text when none).
    pub(crate) input_len: usize,
    /// The signature segment's text (empty when the token has no `.`).
    pub(crate) signature: &'t str,
}

impl<'t> TokenKey<'t> {
    pub(crate) fn of(token: &'t str) -> TokenKey<'t> {
        TokenKey::of_parts(Parts::of(token))
    }

    /// The key of the token `parts` cut (see [`Parts`]).
    pub(crate) fn of_parts(parts: Parts<'t>) -> TokenKey<'t> {
        let mut context = Context::new(&SHA256);
        context.update(parts.input.as_bytes());
        TokenKey {
            digest: context.finish(),
            input_len: parts.input.len(),
            signature: parts.signature,
        }
    }

    fn hash(&self) -> Sha {
        let mut out = [0u8; 32];
        for (o, b) in out.iter_mut().zip(self.digest.as_ref()) {
            *o = *b;
        }
        Sha(out)
    }
}

/// A SHA-256, hashed for the tables by its first 8 bytes (already uniformly distributed).
/// Entries are only ever inserted for verified tokens, so nobody can fill a table with chosen
/// colliding keys.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Sha([u8; 32]);

impl Sha {
    fn prefix(&self) -> u64 {
        let [a, b, c, d, e, f, g, h, ..] = self.0;
        u64::from_le_bytes([a, b, c, d, e, f, g, h])
    }
}

impl Hash for Sha {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.prefix());
    }
}

/// The identity on a `u64` (what [`Sha`] and the doorkeeper's fingerprints write).
#[derive(Default)]
struct Passthrough(u64);

impl Hasher for Passthrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not used by the keys of this module; a plain fold keeps it correct if ever used.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }
}

type Table<K, V> = HashMap<K, V, BuildHasherDefault<Passthrough>>;

/// A remembered token: its claims and the key set (source, generation) that verified it.
pub(crate) struct Hit {
    pub(crate) claims: Arc<Claims>,
    pub(crate) source: usize,
    pub(crate) generation: u64,
}

/// A verified token as stored: a [`Hit`] and its signature segment (a hit must match it).
struct Entry {
    claims: Arc<Claims>,
    signature: Box<str>,
    source: usize,
    generation: u64,
}

/// Two generations of up to `size` entries each: a hit in the older one moves the entry to the
/// newer one; when the newer one is full, the older one is emptied and becomes the newer one
/// (its table's memory is reused: no allocation or regrowth on the hot path).
struct TwoGen<K, V> {
    young: Table<K, V>,
    old: Table<K, V>,
}

impl<K: Hash + Eq + Copy, V> TwoGen<K, V> {
    fn new() -> Self {
        TwoGen {
            young: Table::default(),
            old: Table::default(),
        }
    }

    /// `read` of the value of `key`, if held.
    fn get<R>(&mut self, size: usize, key: &K, read: impl FnOnce(&V) -> R) -> Option<R> {
        if let Some(value) = self.young.get(key) {
            return Some(read(value));
        }
        let value = self.old.remove(key)?;
        let answer = read(&value);
        self.put(size, *key, value);
        Some(answer)
    }

    fn put(&mut self, size: usize, key: K, value: V) {
        if self.young.len() >= size && !self.young.contains_key(&key) {
            std::mem::swap(&mut self.young, &mut self.old);
            self.young.clear();
        }
        self.young.insert(key, value);
    }

    fn remove(&mut self, key: &K) -> bool {
        self.young.remove(key).is_some() | self.old.remove(key).is_some()
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
    entries: TwoGen<Sha, Entry>,
    /// Fingerprints (first 8 bytes of the key's SHA-256) of tokens verified once: a token's
    /// claims are kept from its second verification on, so a stream of one-off tokens neither
    /// holds claims nor evicts the tokens that repeat (the "doorkeeper" of TinyLFU). A
    /// fingerprint collision (2⁻⁶⁴) would only remember a verified token one verification early.
    seen: TwoGen<u64, ()>,
}

/// At least the `capacity` most recent repeated tokens, at most `2 × capacity` entries (plus
/// as many 8-byte fingerprints of tokens seen once); `capacity == 0` disables it.
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

    /// The entry of this very token (same signing input and same signature), if remembered.
    pub(crate) fn get(&self, key: &TokenKey<'_>) -> Option<Hit> {
        self.state()
            .entries
            .get(self.generation_size, &key.hash(), |entry| {
                (*entry.signature == *key.signature).then(|| Hit {
                    claims: Arc::clone(&entry.claims),
                    source: entry.source,
                    generation: entry.generation,
                })
            })
            .flatten()
    }

    /// Records a verified token: remembered on its second verification.
    pub(crate) fn insert(
        &self,
        key: &TokenKey<'_>,
        claims: &Arc<Claims>,
        source: usize,
        generation: u64,
    ) {
        if !self.enabled() {
            return;
        }
        let hash = key.hash();
        let mut state = self.state();
        if state.seen.remove(&hash.prefix()) {
            // Built under the lock only on a second verification (rare on the distinct path).
            let entry = Entry {
                claims: Arc::clone(claims),
                signature: Box::from(key.signature),
                source,
                generation,
            };
            state.entries.put(self.generation_size, hash, entry);
        } else {
            state.seen.put(self.generation_size, hash.prefix(), ());
        }
    }

    pub(crate) fn remove(&self, key: &TokenKey<'_>) {
        self.state().entries.remove(&key.hash());
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

    fn claims() -> Arc<Claims> {
        let mut all = Map::new();
        all.insert("exp".into(), 1.into());
        Arc::new(Claims::from_payload(all, "{\"exp\":1}".into()).unwrap())
    }

    fn insert(cache: &VerifiedCache, token: &str) {
        cache.insert(&TokenKey::of(token), &claims(), 0, 0);
    }

    fn get(cache: &VerifiedCache, token: &str) -> Option<Hit> {
        cache.get(&TokenKey::of(token))
    }

    #[test]
    fn stays_bounded_and_keeps_recent_hits() {
        let cache = VerifiedCache::new(100);
        let hot = "hot.x.sig";
        insert(&cache, hot);
        assert!(
            get(&cache, hot).is_none(),
            "claims are kept from the second verification"
        );
        insert(&cache, hot);
        for i in 0..10_000 {
            let t = format!("h.{i}.s");
            insert(&cache, &t);
            if i % 2 == 0 {
                insert(&cache, &t);
            }
            assert!(cache.len() <= 200);
            if i % 10 == 0 {
                assert!(
                    get(&cache, hot).is_some(),
                    "a token used often stays cached"
                );
            }
        }
        // Cycling through exactly `capacity` repeated tokens hits on every later pass.
        cache.clear();
        for pass in 0..4 {
            for i in 0..100 {
                let t = format!("cycle.{i}.s");
                if pass > 1 {
                    assert!(get(&cache, &t).is_some(), "pass {pass} token {i}");
                } else {
                    insert(&cache, &t);
                }
            }
        }
        cache.clear();
        assert_eq!(cache.len(), 0);
        let off = VerifiedCache::new(0);
        insert(&off, hot);
        insert(&off, hot);
        assert!(get(&off, hot).is_none());
    }

    #[test]
    fn one_off_tokens_hold_no_claims_and_do_not_evict_repeated_ones() {
        let cache = VerifiedCache::new(10);
        let hot = "hot.x.sig";
        insert(&cache, hot);
        insert(&cache, hot);
        for i in 0..1_000 {
            insert(&cache, &format!("once.{i}.s"));
        }
        assert_eq!(cache.len(), 1, "only the repeated token's claims are held");
        assert!(get(&cache, hot).is_some());
    }

    #[test]
    fn a_hit_is_the_same_token_not_the_same_claims_with_another_signature() {
        let cache = VerifiedCache::new(10);
        insert(&cache, "h.p.good");
        insert(&cache, "h.p.good");
        assert!(get(&cache, "h.p.good").is_some());
        assert!(get(&cache, "h.p.forged").is_none());
        assert!(get(&cache, "h.p.").is_none());
        assert!(get(&cache, "h.p").is_none());
        assert!(get(&cache, "h.pgood").is_none());
        // A token without a '.' is keyed by its whole text and never matches a signed one.
        assert!(get(&cache, "h").is_none());
        assert_eq!(TokenKey::of("abc").signature, "");
        assert_eq!(TokenKey::of("abc").input_len, 3);
        assert_eq!(TokenKey::of("a.b.c").input_len, 3);
        // More than three segments: cut at the second '.', the rest (with its '.') is the
        // "signature", which never matches a verified token's.
        assert_eq!(TokenKey::of("a.b.c.d").input_len, 3);
        assert_eq!(TokenKey::of("a.b.c.d").signature, "c.d");
        assert_eq!(TokenKey::of("a.b").input_len, 1);
        assert_eq!(TokenKey::of("a.b").signature, "b");
        assert!(get(&cache, "h.p.good.x").is_none());
    }
}
