//! [`BlobCache`]: an in-memory LRU of whole blobs, bounded by bytes.

use std::collections::{BTreeMap, HashMap};

use axum::body::Bytes;
use serde::Serialize;
use walrus_core::BlobId;

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
/// Not synchronised: the caller holds it in a mutex.
#[derive(Debug)]
pub struct BlobCache {
    capacity: u64,
    entries: HashMap<BlobId, (Bytes, u64)>,
    /// Last use (a tick) -> blob; the first entry is the least recently used.
    by_use: BTreeMap<u64, BlobId>,
    tick: u64,
    bytes: u64,
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

    /// The blob, marked as just used.
    pub fn get(&mut self, blob_id: &BlobId) -> Option<Bytes> {
        let tick = self.next_tick();
        let (bytes, used) = self.entries.get_mut(blob_id)?;
        self.by_use.remove(used);
        *used = tick;
        self.by_use.insert(tick, *blob_id);
        Some(bytes.clone())
    }

    /// Caches `bytes` as `blob_id`, evicting the least recently used blobs to make room.
    /// Returns whether it was cached (not if larger than [`Self::max_entry_bytes`]).
    pub fn insert(&mut self, blob_id: BlobId, bytes: Bytes) -> bool {
        let size = bytes.len() as u64;
        if size > self.max_entry_bytes() || self.capacity == 0 {
            return false;
        }
        self.remove(&blob_id);
        while self.bytes + size > self.capacity {
            let Some((_, oldest)) = self.by_use.pop_first() else {
                break;
            };
            if let Some((evicted, _)) = self.entries.remove(&oldest) {
                self.bytes -= evicted.len() as u64;
            }
        }
        let tick = self.next_tick();
        self.by_use.insert(tick, blob_id);
        self.entries.insert(blob_id, (bytes, tick));
        self.bytes += size;
        true
    }

    fn remove(&mut self, blob_id: &BlobId) {
        if let Some((bytes, used)) = self.entries.remove(blob_id) {
            self.by_use.remove(&used);
            self.bytes -= bytes.len() as u64;
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

    fn id(n: u8) -> BlobId {
        BlobId([n; 32])
    }

    fn blob(len: usize) -> Bytes {
        Bytes::from(vec![7u8; len])
    }

    #[test]
    fn evicts_least_recently_used_past_the_byte_limit() {
        let mut cache = BlobCache::new(100);
        assert!(cache.insert(id(1), blob(25)));
        assert!(cache.insert(id(2), blob(25)));
        assert!(cache.insert(id(3), blob(25)));
        assert!(cache.insert(id(4), blob(25)));
        assert_eq!(cache.stats().bytes, 100);
        // Use 1, so 2 is the least recently used.
        assert!(cache.get(&id(1)).is_some());
        assert!(cache.insert(id(5), blob(10)));
        assert!(!cache.contains(&id(2)));
        assert!(cache.contains(&id(1)) && cache.contains(&id(5)));
        assert_eq!(cache.stats().bytes, 85);
        assert_eq!(cache.stats().entries, 4);
    }

    #[test]
    fn does_not_cache_large_blobs_or_with_zero_capacity() {
        let mut cache = BlobCache::new(100);
        assert!(!cache.insert(id(1), blob(26)));
        assert!(cache.get(&id(1)).is_none());
        let mut disabled = BlobCache::new(0);
        assert!(!disabled.insert(id(1), blob(0)));
        assert_eq!(disabled.stats().entries, 0);
    }

    #[test]
    fn reinserting_replaces_the_entry() {
        let mut cache = BlobCache::new(100);
        cache.insert(id(1), blob(20));
        cache.insert(id(1), blob(10));
        assert_eq!(cache.stats().bytes, 10);
        assert_eq!(cache.stats().entries, 1);
    }
}
