//! Uploads made before the node has seen their blob's registration (`?pending=true`, as
//! Walrus): a client may send metadata and slivers while its registration transaction is still
//! on its way, so that the upload and the chain work overlap.
//!
//! Such uploads are verified exactly as others (metadata against the blob ID, each sliver
//! against the metadata, the pair on one of this node's shards), then held in memory, bounded
//! by [`PendingLimits`]: blobs (each with its metadata), slivers, bytes, bytes of one sliver,
//! and an idle time after which a blob's buffered uploads are dropped. When the registration
//! is applied, the node moves them to its store (see `StorageNode::flush_pending`); a blob
//! proven invalid meanwhile is dropped. Nothing here is durable: a restart forgets buffered
//! uploads, and the client's confirmation request then finds the slivers missing, as for any
//! lost upload.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use walrus_core::{metadata::VerifiedBlobMetadataWithId, BlobId, SliverPairIndex, SliverType};

use crate::store::VerifiedSliver;

/// Bounds of the buffer of pending uploads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingLimits {
    /// Blobs with buffered uploads (each has its metadata buffered first).
    pub max_blobs: usize,
    /// Buffered slivers in all.
    pub max_slivers: usize,
    /// Bytes of buffered slivers in all.
    pub max_bytes: usize,
    /// Bytes of one buffered sliver; larger ones must wait for the registration.
    pub max_sliver_bytes: usize,
    /// A blob's buffered uploads are dropped this long after its last upload.
    pub ttl: Duration,
}

/// Why an upload could not be buffered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PendingError {
    /// A bound of [`PendingLimits`] is reached.
    #[error("the buffer of uploads pending registration is full ({0}); retry once the blob is registered")]
    Saturated(&'static str),
    /// No metadata are buffered for the blob (they must come before its slivers).
    #[error("no metadata buffered for this blob: upload them first")]
    NoMetadata,
}

/// The uploads of one blob.
#[derive(Debug)]
pub struct PendingBlob {
    /// The verified metadata.
    pub metadata: VerifiedBlobMetadataWithId,
    /// Verified slivers by pair and axis, with their BCS size.
    pub slivers: BTreeMap<(SliverPairIndex, SliverType), (VerifiedSliver, usize)>,
    touched: Instant,
}

#[derive(Debug, Default)]
struct Buffer {
    blobs: HashMap<BlobId, PendingBlob>,
    slivers: usize,
    bytes: usize,
}

impl Buffer {
    /// Drops the blobs idle for longer than `ttl`.
    fn expire(&mut self, ttl: Duration, now: Instant) {
        let expired: Vec<BlobId> = self
            .blobs
            .iter()
            .filter(|(_, blob)| now.saturating_duration_since(blob.touched) > ttl)
            .map(|(blob_id, _)| *blob_id)
            .collect();
        for blob_id in expired {
            self.remove(&blob_id);
        }
    }

    fn remove(&mut self, blob_id: &BlobId) -> Option<PendingBlob> {
        let blob = self.blobs.remove(blob_id)?;
        self.slivers -= blob.slivers.len();
        self.bytes -= blob.slivers.values().map(|(_, size)| size).sum::<usize>();
        Some(blob)
    }
}

/// The buffer of uploads pending registration.
#[derive(Debug)]
pub struct PendingUploads {
    limits: PendingLimits,
    buffer: Mutex<Buffer>,
}

impl PendingUploads {
    /// An empty buffer bounded by `limits`.
    pub fn new(limits: PendingLimits) -> Self {
        Self {
            limits,
            buffer: Mutex::new(Buffer::default()),
        }
    }

    fn buffer(&self) -> MutexGuard<'_, Buffer> {
        // The critical sections do not panic; a poisoned lock still holds consistent data.
        self.buffer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Buffers verified `metadata`; `true` if they were not buffered yet.
    pub fn insert_metadata(
        &self,
        metadata: VerifiedBlobMetadataWithId,
    ) -> Result<bool, PendingError> {
        let now = Instant::now();
        let mut buffer = self.buffer();
        buffer.expire(self.limits.ttl, now);
        let blob_id = *metadata.blob_id();
        if let Some(blob) = buffer.blobs.get_mut(&blob_id) {
            blob.touched = now;
            return Ok(false);
        }
        if buffer.blobs.len() >= self.limits.max_blobs || self.limits.ttl.is_zero() {
            return Err(PendingError::Saturated("blobs"));
        }
        buffer.blobs.insert(
            blob_id,
            PendingBlob {
                metadata,
                slivers: BTreeMap::new(),
                touched: now,
            },
        );
        Ok(true)
    }

    /// The buffered metadata of `blob_id`.
    pub fn metadata(&self, blob_id: &BlobId) -> Option<VerifiedBlobMetadataWithId> {
        let mut buffer = self.buffer();
        buffer.expire(self.limits.ttl, Instant::now());
        buffer.blobs.get(blob_id).map(|blob| blob.metadata.clone())
    }

    /// Whether the bytes of one sliver of `size` may be buffered at all.
    pub fn admits_sliver_size(&self, size: usize) -> Result<(), PendingError> {
        if size > self.limits.max_sliver_bytes {
            return Err(PendingError::Saturated("sliver too large to buffer"));
        }
        Ok(())
    }

    /// Buffers a verified sliver of `pair` (BCS `size` bytes); `true` if it was not buffered
    /// yet. A refused sliver comes back with the reason.
    pub fn insert_sliver(
        &self,
        blob_id: &BlobId,
        pair: SliverPairIndex,
        sliver: VerifiedSliver,
        size: usize,
    ) -> Result<bool, (PendingError, VerifiedSliver)> {
        if let Err(error) = self.admits_sliver_size(size) {
            return Err((error, sliver));
        }
        let now = Instant::now();
        let mut buffer = self.buffer();
        buffer.expire(self.limits.ttl, now);
        let (slivers, bytes) = (buffer.slivers, buffer.bytes);
        let Some(blob) = buffer.blobs.get_mut(blob_id) else {
            return Err((PendingError::NoMetadata, sliver));
        };
        blob.touched = now;
        let key = (pair, sliver.sliver.sliver_type());
        if blob.slivers.contains_key(&key) {
            return Ok(false);
        }
        if slivers >= self.limits.max_slivers {
            return Err((PendingError::Saturated("slivers"), sliver));
        }
        if bytes + size > self.limits.max_bytes {
            return Err((PendingError::Saturated("bytes"), sliver));
        }
        blob.slivers.insert(key, (sliver, size));
        buffer.slivers += 1;
        buffer.bytes += size;
        Ok(true)
    }

    /// Whether metadata of `blob_id` are buffered.
    pub fn has_metadata(&self, blob_id: &BlobId) -> bool {
        self.buffer().blobs.contains_key(blob_id)
    }

    /// Whether the sliver of `pair` and `axis` of `blob_id` is buffered.
    pub fn has_sliver(&self, blob_id: &BlobId, pair: SliverPairIndex, axis: SliverType) -> bool {
        self.buffer()
            .blobs
            .get(blob_id)
            .is_some_and(|blob| blob.slivers.contains_key(&(pair, axis)))
    }

    /// The blobs with buffered uploads (after dropping the expired ones).
    pub fn blob_ids(&self) -> Vec<BlobId> {
        let mut buffer = self.buffer();
        buffer.expire(self.limits.ttl, Instant::now());
        buffer.blobs.keys().copied().collect()
    }

    /// Removes and returns the buffered uploads of `blob_id`.
    pub fn take(&self, blob_id: &BlobId) -> Option<PendingBlob> {
        self.buffer().remove(blob_id)
    }

    /// Buffered blobs, slivers and bytes.
    pub fn usage(&self) -> (usize, usize, usize) {
        let buffer = self.buffer();
        (buffer.blobs.len(), buffer.slivers, buffer.bytes)
    }
}

#[cfg(test)]
mod tests {
    use walrus_core::encoding::{encode_blob, EncodedBlob, EncodingConfig, Sliver};

    use super::*;

    const LIMITS: PendingLimits = PendingLimits {
        max_blobs: 2,
        max_slivers: 3,
        max_bytes: 10_000,
        max_sliver_bytes: 4_000,
        ttl: Duration::from_secs(60),
    };

    fn blob(seed: u8) -> EncodedBlob {
        encode_blob(&EncodingConfig::new(10).unwrap(), &[seed; 1000]).unwrap()
    }

    fn primary(blob: &EncodedBlob, pair: usize) -> VerifiedSliver {
        VerifiedSliver {
            sliver: Sliver::Primary(blob.sliver_pairs[pair].primary.clone()),
            tree_nodes: Vec::new(),
        }
    }

    /// [`PendingUploads::insert_sliver`] with only the reason of a refusal.
    fn insert(
        pending: &PendingUploads,
        blob_id: &BlobId,
        pair: SliverPairIndex,
        sliver: VerifiedSliver,
        size: usize,
    ) -> Result<bool, PendingError> {
        pending
            .insert_sliver(blob_id, pair, sliver, size)
            .map_err(|(error, _)| error)
    }

    #[test]
    fn bounds_blobs_slivers_and_bytes() {
        let pending = PendingUploads::new(LIMITS);
        let (a, b, c) = (blob(1), blob(2), blob(3));
        let id = |blob: &EncodedBlob| *blob.metadata.blob_id();
        let pair = |index: u16| SliverPairIndex(index);
        assert_eq!(
            insert(&pending, &id(&a), pair(0), primary(&a, 0), 100),
            Err(PendingError::NoMetadata)
        );
        assert_eq!(pending.insert_metadata(a.metadata.clone()), Ok(true));
        assert_eq!(pending.insert_metadata(a.metadata.clone()), Ok(false));
        assert_eq!(pending.insert_metadata(b.metadata.clone()), Ok(true));
        assert_eq!(
            pending.insert_metadata(c.metadata.clone()),
            Err(PendingError::Saturated("blobs"))
        );
        assert_eq!(
            insert(&pending, &id(&a), pair(0), primary(&a, 0), 100),
            Ok(true)
        );
        assert_eq!(
            insert(&pending, &id(&a), pair(0), primary(&a, 0), 100),
            Ok(false)
        );
        assert!(pending.has_sliver(&id(&a), pair(0), SliverType::Primary));
        assert!(!pending.has_sliver(&id(&a), pair(0), SliverType::Secondary));
        assert_eq!(
            insert(&pending, &id(&a), pair(1), primary(&a, 1), 4_001),
            Err(PendingError::Saturated("sliver too large to buffer"))
        );
        assert_eq!(
            insert(&pending, &id(&b), pair(1), primary(&b, 1), 3_999),
            Ok(true)
        );
        assert_eq!(
            insert(&pending, &id(&b), pair(2), primary(&b, 2), 3_999),
            Ok(true)
        );
        assert_eq!(pending.usage(), (2, 3, 8_098));
        assert_eq!(
            insert(&pending, &id(&b), pair(3), primary(&b, 3), 10),
            Err(PendingError::Saturated("slivers"))
        );
        let taken = pending.take(&id(&b)).unwrap();
        assert_eq!(taken.slivers.len(), 2);
        assert_eq!(pending.usage(), (1, 1, 100));
        assert!(pending.take(&id(&b)).is_none());
        assert_eq!(pending.blob_ids(), vec![id(&a)]);
    }

    #[test]
    fn idle_blobs_expire_and_a_zero_ttl_buffers_nothing() {
        let pending = PendingUploads::new(PendingLimits {
            ttl: Duration::from_millis(20),
            ..LIMITS
        });
        let a = blob(1);
        assert_eq!(pending.insert_metadata(a.metadata.clone()), Ok(true));
        std::thread::sleep(Duration::from_millis(40));
        assert!(pending.blob_ids().is_empty());
        assert_eq!(pending.usage(), (0, 0, 0));

        let disabled = PendingUploads::new(PendingLimits {
            ttl: Duration::ZERO,
            ..LIMITS
        });
        assert_eq!(
            disabled.insert_metadata(a.metadata.clone()),
            Err(PendingError::Saturated("blobs"))
        );
    }
}
