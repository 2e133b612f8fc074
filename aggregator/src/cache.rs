//! [`BlobCache`]: an in-memory LRU of whole blobs, bounded by bytes.

use std::collections::{BTreeMap, HashMap};

use axum::body::Bytes;
use serde::Serialize;
use walrus_core::{encoding::ConsistencyCheck, BlobId};

/// Counts of a [`BlobCache`] (part of the health answer).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CacheStats {
    /// Blobs held.
    pub entries: u64,
    /// Bytes held.
    pub bytes: u64,
    /// The byte limit.
    pub capacity_bytes: u64,
    /// The largest blob that is cached (a quarter of the limit).
    pub max_entry_bytes: u64,
}

/// A least-recently-used cache of whole blobs holding at most `capacity` bytes. Blobs larger
/// than a quarter of the capacity are not cached, so one huge read cannot flush everything.
/// Each blob is kept with the consistency check it passed, and only serves reads asking for
/// that check or a weaker one. Not synchronised: the caller holds it in a mutex.
#[derive(Debug)]
pub struct BlobCache {
    capacity: u64,
    entries: HashMap<BlobId, Entry>,
    /// Last use (a tick) -> blob; the first entry is the least recently used.
    by_use: BTreeMap<u64, BlobId>,
    tick: u64,
    bytes: u64,
}

/// A cached blob: its bytes, the check they passed and their last use.
#[derive(Debug)]
struct Entry {
    bytes: Bytes,
    check: ConsistencyCheck,
    used: u64,
}

impl BlobCache {
    /// An empty cache of `capacity` bytes (0 disables caching).
    pub fn new(capacity: u64) -> Self {
        Self {
            capacity,
            entries: HashMap::new(),
            by_use: BTreeMap::new(),
            tick: 0,
            bytes: 0,
        }
    }

    /// The largest blob that is cached.
    pub fn max_entry_bytes(&self) -> u64 {
        self.capacity / 4
    }

    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    /// The blob, marked as just used, if it passed `check` or a stronger one.
    pub fn get(&mut self, blob_id: &BlobId, check: ConsistencyCheck) -> Option<Bytes> {
        let tick = self.next_tick();
        let entry = self.entries.get_mut(blob_id)?;
        if entry.check < check {
            return None;
        }
        self.by_use.remove(&entry.used);
        entry.used = tick;
        self.by_use.insert(tick, *blob_id);
        Some(entry.bytes.clone())
    }

    /// Caches `bytes` as `blob_id`, having passed `check`, evicting the least recently used
    /// blobs to make room (an entry that passed a stronger check is kept instead). Returns
    /// whether it was cached (not if larger than [`Self::max_entry_bytes`]).
    pub fn insert(&mut self, blob_id: BlobId, bytes: Bytes, check: ConsistencyCheck) -> bool {
        let size = bytes.len() as u64;
        if size > self.max_entry_bytes() || self.capacity == 0 {
            return false;
        }
        if self
            .entries
            .get(&blob_id)
            .is_some_and(|entry| entry.check > check)
        {
            return false;
        }
        self.remove(&blob_id);
        while self.bytes + size > self.capacity {
            let Some((_, oldest)) = self.by_use.pop_first() else {
                break;
            };
            if let Some(evicted) = self.entries.remove(&oldest) {
                self.bytes -= evicted.bytes.len() as u64;
            }
        }
        let tick = self.next_tick();
        self.by_use.insert(tick, blob_id);
        self.entries.insert(
            blob_id,
            Entry {
                bytes,
                check,
                used: tick,
            },
        );
        self.bytes += size;
        true
    }

    fn remove(&mut self, blob_id: &BlobId) {
        if let Some(entry) = self.entries.remove(blob_id) {
            self.by_use.remove(&entry.used);
            self.bytes -= entry.bytes.len() as u64;
        }
    }

    /// Whether the blob is cached (without marking it used).
    pub fn contains(&self, blob_id: &BlobId) -> bool {
        self.entries.contains_key(blob_id)
    }

    /// The current counts.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            entries: self.entries.len() as u64,
            bytes: self.bytes,
            capacity_bytes: self.capacity,
            max_entry_bytes: self.max_entry_bytes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: ConsistencyCheck = ConsistencyCheck::Default;

    fn id(n: u8) -> BlobId {
        BlobId([n; 32])
    }

    fn blob(len: usize) -> Bytes {
        Bytes::from(vec![7u8; len])
    }

    #[test]
    fn evicts_least_recently_used_past_the_byte_limit() {
        let mut cache = BlobCache::new(100);
        assert!(cache.insert(id(1), blob(25), DEFAULT));
        assert!(cache.insert(id(2), blob(25), DEFAULT));
        assert!(cache.insert(id(3), blob(25), DEFAULT));
        assert!(cache.insert(id(4), blob(25), DEFAULT));
        assert_eq!(cache.stats().bytes, 100);
        // Use 1, so 2 is the least recently used.
        assert!(cache.get(&id(1), DEFAULT).is_some());
        assert!(cache.insert(id(5), blob(10), DEFAULT));
        assert!(!cache.contains(&id(2)));
        assert!(cache.contains(&id(1)) && cache.contains(&id(5)));
        assert_eq!(cache.stats().bytes, 85);
        assert_eq!(cache.stats().entries, 4);
    }

    #[test]
    fn does_not_cache_large_blobs_or_with_zero_capacity() {
        let mut cache = BlobCache::new(100);
        assert!(!cache.insert(id(1), blob(26), DEFAULT));
        assert!(cache.get(&id(1), DEFAULT).is_none());
        let mut disabled = BlobCache::new(0);
        assert!(!disabled.insert(id(1), blob(0), DEFAULT));
        assert_eq!(disabled.stats().entries, 0);
    }

    #[test]
    fn reinserting_replaces_the_entry() {
        let mut cache = BlobCache::new(100);
        cache.insert(id(1), blob(20), DEFAULT);
        cache.insert(id(1), blob(10), DEFAULT);
        assert_eq!(cache.stats().bytes, 10);
        assert_eq!(cache.stats().entries, 1);
    }

    #[test]
    fn serves_only_reads_asking_for_the_check_passed_or_a_weaker_one() {
        let mut cache = BlobCache::new(100);
        assert!(cache.insert(id(1), blob(10), DEFAULT));
        assert!(cache.get(&id(1), ConsistencyCheck::Skip).is_some());
        assert!(cache.get(&id(1), DEFAULT).is_some());
        assert!(cache.get(&id(1), ConsistencyCheck::Strict).is_none());
        // A strict read upgrades the entry; a weaker one does not downgrade it.
        assert!(cache.insert(id(1), blob(10), ConsistencyCheck::Strict));
        assert!(!cache.insert(id(1), blob(10), ConsistencyCheck::Skip));
        assert!(cache.get(&id(1), ConsistencyCheck::Strict).is_some());
        assert_eq!(cache.stats().entries, 1);
    }
}
