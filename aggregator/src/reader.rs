//! [`BlobReader`]: a [`BlobSource`] behind the cache, with single-flight whole reads and read
//! metrics.

use std::{
    collections::HashMap,
    future::Future,
    ops::Range,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Instant,
};

use axum::body::Bytes;
use futures::future::{BoxFuture, FutureExt, Shared};
use walrus_core::{BlobId, ObjectId};
use walrus_node_client::api::ErrorReason;

use crate::{
    cache::{BlobCache, CacheStats},
    error::AggregatorError,
    metrics::Metrics,
    source::{BlobObjectInfo, BlobSource},
};

type SharedRead = Shared<BoxFuture<'static, Result<Bytes, AggregatorError>>>;

/// How many blobs' size and content type are remembered (then the memo starts afresh).
const MAX_FACTS: usize = 65_536;

/// What is known of a blob without holding its bytes (blobs are immutable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlobFacts {
    /// Size in bytes.
    pub(crate) size: u64,
    /// The content type guessed from its first bytes.
    pub(crate) content_type: &'static str,
}

/// Reads through the cache. Whole reads of the same uncached blob share one read of the source
/// (single flight): the first request spawns it, later ones wait for the same result; the read
/// finishes (and fills the cache) even if every waiting client goes away.
pub(crate) struct BlobReader {
    source: Arc<dyn BlobSource>,
    metrics: Metrics,
    /// Lock order: `in_flight`, then `cache`.
    in_flight: Mutex<HashMap<BlobId, SharedRead>>,
    cache: Mutex<BlobCache>,
    /// Sizes and content types of blobs served, so that range and `HEAD` requests of uncached
    /// blobs (e.g. a video played piece by piece) read neither metadata nor first bytes again.
    facts: Mutex<HashMap<BlobId, BlobFacts>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The critical sections do not panic; a poisoned lock still holds consistent data.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl BlobReader {
    pub(crate) fn new(source: Arc<dyn BlobSource>, cache_bytes: u64, metrics: Metrics) -> Self {
        Self {
            source,
            metrics,
            in_flight: Mutex::new(HashMap::new()),
            cache: Mutex::new(BlobCache::new(cache_bytes)),
            facts: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn cache_stats(&self) -> CacheStats {
        lock(&self.cache).stats()
    }

    /// The remembered size and content type of the blob.
    pub(crate) fn facts(&self, blob_id: &BlobId) -> Option<BlobFacts> {
        lock(&self.facts).get(blob_id).copied()
    }

    /// Remembers the size and content type of the blob.
    pub(crate) fn remember(&self, blob_id: BlobId, facts: BlobFacts) {
        let mut memo = lock(&self.facts);
        if memo.len() >= MAX_FACTS {
            memo.clear();
        }
        memo.insert(blob_id, facts);
    }

    /// The cached blob, counting a cache hit or miss.
    pub(crate) fn cached(&self, blob_id: &BlobId) -> Option<Bytes> {
        let found = lock(&self.cache).get(blob_id);
        match found {
            Some(_) => self.metrics.cache_hits.inc(),
            None => self.metrics.cache_misses.inc(),
        }
        found
    }

    /// The blob's size from its metadata.
    pub(crate) async fn size(&self, blob_id: &BlobId) -> Result<u64, AggregatorError> {
        timed(&self.metrics, "size", self.source.blob_size(blob_id)).await
    }

    /// The bytes `range` of the blob.
    pub(crate) async fn range(
        &self,
        blob_id: &BlobId,
        range: Range<u64>,
    ) -> Result<Bytes, AggregatorError> {
        let expected = range.end - range.start;
        let bytes = timed(
            &self.metrics,
            "range",
            self.source.read_range(blob_id, range),
        )
        .await?;
        if bytes.len() as u64 != expected {
            return Err(AggregatorError::new(
                ErrorReason::Internal,
                format!(
                    "the range read returned {} of {expected} bytes",
                    bytes.len()
                ),
            ));
        }
        Ok(Bytes::from(bytes))
    }

    /// The `Blob` object.
    pub(crate) async fn object(
        &self,
        object_id: ObjectId,
    ) -> Result<BlobObjectInfo, AggregatorError> {
        timed(&self.metrics, "object", self.source.blob_object(object_id)).await
    }

    /// The whole blob: from the cache, or one shared read of the source that fills the cache.
    pub(crate) async fn whole(self: &Arc<Self>, blob_id: BlobId) -> Result<Bytes, AggregatorError> {
        let read = {
            let mut in_flight = lock(&self.in_flight);
            if let Some(bytes) = lock(&self.cache).get(&blob_id) {
                return Ok(bytes);
            }
            in_flight
                .entry(blob_id)
                .or_insert_with(|| self.spawn_read(blob_id))
                .clone()
        };
        read.await
    }

    /// Spawns the read of `blob_id`; called with `in_flight` locked, so the task's own removal
    /// from `in_flight` happens after its insertion.
    fn spawn_read(self: &Arc<Self>, blob_id: BlobId) -> SharedRead {
        let this = self.clone();
        let task = tokio::spawn(async move {
            let result = timed(&this.metrics, "blob", this.source.read(&blob_id))
                .await
                .map(Bytes::from);
            let mut in_flight = lock(&this.in_flight);
            if let Ok(bytes) = &result {
                let mut cache = lock(&this.cache);
                cache.insert(blob_id, bytes.clone());
                let stats = cache.stats();
                this.metrics.cache_bytes.set(gauge(stats.bytes));
                this.metrics.cache_entries.set(gauge(stats.entries));
            }
            in_flight.remove(&blob_id);
            result
        });
        async move {
            task.await.unwrap_or_else(|error| {
                Err(AggregatorError::new(
                    ErrorReason::Internal,
                    format!("the read task failed: {error}"),
                ))
            })
        }
        .boxed()
        .shared()
    }
}

async fn timed<T>(
    metrics: &Metrics,
    kind: &str,
    read: impl Future<Output = Result<T, walrus_sdk::client::SdkError>>,
) -> Result<T, AggregatorError> {
    let start = Instant::now();
    let result = read.await;
    let outcome = if result.is_ok() { "ok" } else { "error" };
    metrics
        .read_latency
        .with_label_values(&[kind, outcome])
        .observe(start.elapsed().as_secs_f64());
    result.map_err(|error| {
        tracing::debug!(%error, kind, "read failed");
        AggregatorError::from(error)
    })
}

fn gauge(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
