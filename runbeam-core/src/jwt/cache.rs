//! The verified-token cache: a token's key (see [`TokenKey`]) → its claims, bounded,
//! approximately LRU (two generations per shard: a hit in the older one moves the entry to the
//! newer one; when the newer one is full the older one is dropped). The `capacity` most
//! recently used tokens are always cached; at most `2.5 × capacity` entries are held (see
//! [`Shards`]). Claims are kept from a token's second verification on (see
//! [`VerifiedCache::insert`]).
//!
//! The distinct-token path (a token never seen before) is the hot one: it costs one SHA-256 of
//! the signing input, shared with the signature check (see [`TokenKey`]), and two short
//! critical sections on tables hashed by the first 8 bytes of that SHA-256. A large cache is
//! split into shards by another byte of that SHA-256, each with its own lock and tables, so
//! threads validating at once rarely wait for each other or pull the same cache lines back and
//! forth between cores.

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
    #[inline]
    pub(crate) fn of(token: &'t str) -> TokenKey<'t> {
        TokenKey::of_parts(Parts::of(token))
    }

    /// The key of the token `parts` cut (see [`Parts`]).
    #[inline]
    pub(crate) fn of_parts(parts: Parts<'t>) -> TokenKey<'t> {
        let mut context = Context::new(&SHA256);
        context.update(parts.input.as_bytes());
        TokenKey {
            digest: context.finish(),
            input_len: parts.input.len(),
            signature: parts.signature,
        }
    }

    #[inline]
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
    #[inline]
    fn prefix(&self) -> u64 {
        let [a, b, c, d, e, f, g, h, ..] = self.0;
        u64::from_le_bytes([a, b, c, d, e, f, g, h])
    }

    /// The byte that picks a shard: not one of the tables' hash bytes, so the tokens of one
    /// shard still spread over its tables.
    #[inline]
    fn shard_byte(&self) -> usize {
        usize::from(self.0[8])
    }
}

impl Hash for Sha {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.prefix());
    }
}

/// The identity on a `u64` (what [`Sha`] and the doorkeeper's fingerprints write).
#[derive(Default)]
struct Passthrough(u64);

impl Hasher for Passthrough {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        // Not used by the keys of this module; a plain fold keeps it correct if ever used.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    #[inline]
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
    #[inline]
    fn new() -> Self {
        TwoGen {
            young: Table::default(),
            old: Table::default(),
        }
    }

    /// `read` of the value of `key`, if held.
    #[inline]
    fn get<R>(&mut self, size: usize, key: &K, read: impl FnOnce(&V) -> R) -> Option<R> {
        if let Some(value) = self.young.get(key) {
            return Some(read(value));
        }
        let value = self.old.remove(key)?;
        let answer = read(&value);
        self.put(size, *key, value);
        Some(answer)
    }

    #[inline]
    fn put(&mut self, size: usize, key: K, value: V) {
        if self.young.len() >= size && !self.young.contains_key(&key) {
            std::mem::swap(&mut self.young, &mut self.old);
            self.young.clear();
        }
        self.young.insert(key, value);
    }

    #[inline]
    fn remove(&mut self, key: &K) -> bool {
        self.young.remove(key).is_some() | self.old.remove(key).is_some()
    }

    #[inline]
    fn clear(&mut self) {
        self.young.clear();
        self.old.clear();
    }

    #[inline]
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

/// How a cache of `capacity` is split: `count` shards (a power of two, at most
/// [`Shards::MAX`]) of two generations of `generation_size` entries each.
///
/// A token goes to the shard its SHA-256 picks, so the `capacity` most recent tokens are spread
/// binomially over the shards; each shard's generation holds its share plus 25% (with at least
/// [`Shards::MIN_SHARE`] tokens per share, that is eight standard deviations or more: a shard
/// gets more than that with a probability under 10⁻¹⁴), so the `capacity` most recent tokens
/// are still held, and at most `2.5 × capacity` entries in all. A cache smaller than `2 × MIN_SHARE` is one shard of exactly `capacity` per generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shards {
    count: usize,
    generation_size: usize,
}

impl Shards {
    /// Enough that two or three threads validating at once rarely take the same lock.
    const MAX: usize = 8;
    /// A shard's share of `capacity` is at least this many tokens.
    const MIN_SHARE: usize = 1024;

    #[inline]
    fn of(capacity: usize) -> Shards {
        let wanted = (capacity / Self::MIN_SHARE).clamp(1, Self::MAX);
        // The largest power of two not above `wanted` (so a share stays ≥ MIN_SHARE).
        let count = 1usize << (usize::BITS - 1 - wanted.leading_zeros());
        let generation_size = if count == 1 {
            capacity
        } else {
            (capacity / count).saturating_add(capacity / count / 4)
        };
        Shards {
            count,
            generation_size,
        }
    }
}

/// One shard's lock, alone on its cache lines (two 64-byte lines: the adjacent-line prefetcher
/// pulls pairs).
#[repr(align(128))]
struct Shard(Mutex<State>);

/// At least the `capacity` most recent repeated tokens, at most `2.5 × capacity` entries (plus
/// as many 8-byte fingerprints of tokens seen once); `capacity == 0` disables it. See
/// [`Shards`].
pub(crate) struct VerifiedCache {
    generation_size: usize,
    shards: Box<[Shard]>,
}

impl VerifiedCache {
    #[inline]
    pub(crate) fn new(capacity: usize) -> VerifiedCache {
        let Shards {
            count,
            generation_size,
        } = Shards::of(capacity);
        let shards = (0..count)
            .map(|_| {
                Shard(Mutex::new(State {
                    entries: TwoGen::new(),
                    seen: TwoGen::new(),
                }))
            })
            .collect();
        VerifiedCache {
            generation_size,
            shards,
        }
    }

    /// The shard of `hash`, locked.
    #[inline]
    fn state(&self, hash: &Sha) -> std::sync::MutexGuard<'_, State> {
        // `count` is a power of two: the mask keeps the index in range.
        let shard = &self.shards[hash.shard_byte() & (self.shards.len() - 1)];
        lock(shard)
    }

    #[inline]
    pub(crate) fn enabled(&self) -> bool {
        self.generation_size > 0
    }

    /// The entry of this very token (same signing input and same signature), if remembered.
    #[inline]
    pub(crate) fn get(&self, key: &TokenKey<'_>) -> Option<Hit> {
        let hash = key.hash();
        self.state(&hash)
            .entries
            .get(self.generation_size, &hash, |entry| {
                (*entry.signature == *key.signature).then(|| Hit {
                    claims: Arc::clone(&entry.claims),
                    source: entry.source,
                    generation: entry.generation,
                })
            })
            .flatten()
    }

    /// Records a verified token: remembered on its second verification.
    #[inline]
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
        let mut state = self.state(&hash);
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

    #[inline]
    pub(crate) fn remove(&self, key: &TokenKey<'_>) {
        let hash = key.hash();
        self.state(&hash).entries.remove(&hash);
    }

    /// Drops every entry (the key set changed).
    #[inline]
    pub(crate) fn clear(&self) {
        for shard in &self.shards {
            let mut state = lock(shard);
            state.entries.clear();
            state.seen.clear();
        }
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).entries.len()).sum()
    }
}

/// A shard's lock; a poisoned one is used as it is (at worst it remembers a token less).
#[inline]
fn lock(shard: &Shard) -> std::sync::MutexGuard<'_, State> {
    shard.0.lock().unwrap_or_else(|e| e.into_inner())
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
    fn a_large_cache_is_sharded_and_still_keeps_its_capacity_of_recent_tokens() {
        assert_eq!(Shards::of(0).count, 1);
        assert_eq!(Shards::of(0).generation_size, 0);
        assert_eq!(
            Shards::of(2047).count,
            1,
            "a small cache stays one exact LRU"
        );
        assert_eq!(Shards::of(2047).generation_size, 2047);
        assert_eq!(Shards::of(2048).count, 2);
        assert_eq!(
            Shards::of(3 * 1024).count,
            2,
            "a share never falls below MIN_SHARE"
        );
        let default = Shards::of(10_000);
        assert_eq!((default.count, default.generation_size), (8, 1250 + 312));
        assert_eq!(Shards::of(usize::MAX).count, Shards::MAX);

        let capacity = 10_000;
        let cache = VerifiedCache::new(capacity);
        assert_eq!(cache.shards.len(), 8);
        let tokens: Vec<String> = (0..capacity).map(|i| format!("t.{i}.s")).collect();
        // Cycling through exactly `capacity` repeated tokens hits on every later pass,
        // whichever shards they fall in.
        for t in &tokens {
            insert(&cache, t);
            insert(&cache, t);
        }
        for pass in 0..3 {
            let misses = tokens.iter().filter(|t| get(&cache, t).is_none()).count();
            assert_eq!(misses, 0, "pass {pass}");
        }
        // Then many more: the held entries stay bounded by 2.5 × capacity.
        for i in 0..4 * capacity {
            let t = format!("more.{i}.s");
            insert(&cache, &t);
            insert(&cache, &t);
        }
        assert!(cache.len() <= capacity * 5 / 2, "{}", cache.len());
        assert!(cache.len() >= capacity);
        cache.clear();
        assert_eq!(cache.len(), 0);
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
