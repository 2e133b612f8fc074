//! [`BlobReader`]: a [`BlobSource`] behind the cache, with single-flight whole reads, bounded
//! concurrency of reads from the source, and read metrics.

use std::{
    collections::HashMap,
    future::Future,
    ops::Range,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Instant,
};

use axum::body::Bytes;
use futures::{
    future::{BoxFuture, FutureExt, Shared, WeakShared},
    stream::{BoxStream, StreamExt},
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use walrus_core::{encoding::ConsistencyCheck, BlobId, ObjectId};
use walrus_node_client::api::ErrorReason;
use walrus_sdk::client::{BlobStream, SdkError};

use crate::{
    cache::{BlobCache, CacheStats},
    error::AggregatorError,
    metrics::Metrics,
    source::{BlobObjectInfo, BlobSource},
    AggregatorConfig,
};

type ReadFuture = BoxFuture<'static, Result<Bytes, AggregatorError>>;

/// Seconds a client is told to wait (`Retry-After`) when the aggregator is at capacity.
pub(crate) const RETRY_AFTER_SECS: u64 = 5;

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

/// Reads through the cache. Whole reads of the same uncached blob with the same consistency
/// check share one read of the source (single flight): the first request starts it, later ones
/// wait for the same result. The read
/// is driven by the requests waiting for it and is cancelled when the last of them goes away
/// (the client closed its connection); the in-flight table holds it only weakly.
///
/// Every read of the source's data (whole or range) first takes a place (at most
/// `max_concurrent_reads + max_queued_reads`, refused at once beyond: 503 with `Retry-After`),
/// then waits for one of `max_concurrent_reads` running slots.
pub(crate) struct BlobReader {
    source: Arc<dyn BlobSource>,
    metrics: Metrics,
    /// Lock order: `in_flight`, then `cache`.
    in_flight: Mutex<InFlight>,
    cache: Mutex<BlobCache>,
    /// Sizes and content types of blobs served, so that range and `HEAD` requests of uncached
    /// blobs (e.g. a video played piece by piece) read neither metadata nor first bytes again.
    facts: Mutex<HashMap<BlobId, BlobFacts>>,
    /// Reads admitted (running or waiting): `max_concurrent_reads + max_queued_reads` permits.
    admission: Arc<Semaphore>,
    /// Reads running: `max_concurrent_reads` permits.
    running: Arc<Semaphore>,
    max_concurrent_reads: usize,
    max_queued_reads: usize,
}

/// The whole reads in progress, each tagged with a generation so that a finished or cancelled
/// read removes its own entry and never a newer read's.
#[derive(Default)]
struct InFlight {
    reads: HashMap<ReadKey, (u64, WeakShared<ReadFuture>)>,
    next_generation: u64,
}

/// What a whole read is of: the blob and the consistency check it runs.
type ReadKey = (BlobId, ConsistencyCheck);

impl InFlight {
    fn remove(&mut self, key: &ReadKey, generation: u64) {
        if self
            .reads
            .get(key)
            .is_some_and(|(current, _)| *current == generation)
        {
            self.reads.remove(key);
        }
    }
}

/// Removes a whole read from the in-flight table when its future is dropped before it
/// finished (every waiting client went away), and counts the cancellation.
struct CancelGuard {
    reader: Arc<BlobReader>,
    key: ReadKey,
    generation: u64,
    armed: bool,
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if self.armed {
            // Never dropped with `in_flight` locked: the last `Shared` handle of a read is
            // only ever dropped outside that lock.
            lock(&self.reader.in_flight).remove(&self.key, self.generation);
            self.reader.metrics.reads_cancelled.inc();
            tracing::debug!(blob_id = %self.key.0, "whole read cancelled: no client waits for it");
        }
    }
}

/// Counts of the read limits (part of the health answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReadLimits {
    /// Reads that may run at once.
    pub(crate) max_concurrent: usize,
    /// Reads that may wait.
    pub(crate) max_queued: usize,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The critical sections do not panic; a poisoned lock still holds consistent data.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl BlobReader {
    /// A reader of `source` with `config`'s cache size and read limits
    /// (`max_concurrent_reads` at least 1).
    pub(crate) fn new(
        source: Arc<dyn BlobSource>,
        config: &AggregatorConfig,
        metrics: Metrics,
    ) -> Self {
        let running = config.max_concurrent_reads.clamp(1, Semaphore::MAX_PERMITS);
        let admitted = running
            .saturating_add(config.max_queued_reads)
            .min(Semaphore::MAX_PERMITS);
        Self {
            source,
            metrics,
            in_flight: Mutex::new(InFlight::default()),
            cache: Mutex::new(BlobCache::new(config.cache_bytes)),
            facts: Mutex::new(HashMap::new()),
            admission: Arc::new(Semaphore::new(admitted)),
            running: Arc::new(Semaphore::new(running)),
            max_concurrent_reads: running,
            max_queued_reads: admitted - running,
        }
    }

    pub(crate) fn limits(&self) -> ReadLimits {
        ReadLimits {
            max_concurrent: self.max_concurrent_reads,
            max_queued: self.max_queued_reads,
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

    /// The cached blob, if it passed `check` or a stronger one, counting a cache hit or miss.
    pub(crate) fn cached(&self, blob_id: &BlobId, check: ConsistencyCheck) -> Option<Bytes> {
        let found = lock(&self.cache).get(blob_id, check);
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

    /// The bytes `range` of the blob (a bounded read: 503 when the aggregator is at capacity).
    pub(crate) async fn range(
        &self,
        blob_id: &BlobId,
        range: Range<u64>,
    ) -> Result<Bytes, AggregatorError> {
        let expected = range.end - range.start;
        let admitted = self.admit()?;
        let bytes = self
            .limited(admitted, || {
                timed(
                    &self.metrics,
                    "range",
                    self.source.read_range(blob_id, range),
                )
            })
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

    /// The source of blobs.
    pub(crate) fn source(&self) -> &dyn BlobSource {
        self.source.as_ref()
    }

    /// A bounded read of quilt data (an index or patches) through the source: 503 when the
    /// aggregator is at capacity.
    pub(crate) async fn quilt<T>(
        &self,
        kind: &str,
        read: impl Future<Output = Result<T, walrus_sdk::client::SdkError>>,
    ) -> Result<T, AggregatorError> {
        let admitted = self.admit()?;
        self.limited(admitted, || timed(&self.metrics, kind, read))
            .await
    }

    /// The `Blob` object.
    pub(crate) async fn object(
        &self,
        object_id: ObjectId,
    ) -> Result<BlobObjectInfo, AggregatorError> {
        timed(&self.metrics, "object", self.source.blob_object(object_id)).await
    }

    /// The whole blob, having passed `check`: from the cache, or one shared read of the
    /// source that fills the cache. Only the request that starts a read takes a place (503
    /// when the aggregator is at capacity); requests for a blob already being read with the
    /// same check join that read.
    pub(crate) async fn whole(
        self: &Arc<Self>,
        blob_id: BlobId,
        check: ConsistencyCheck,
    ) -> Result<Bytes, AggregatorError> {
        let key = (blob_id, check);
        let read: Shared<ReadFuture> = {
            let mut in_flight = lock(&self.in_flight);
            if let Some(bytes) = lock(&self.cache).get(&blob_id, check) {
                return Ok(bytes);
            }
            // A dead entry (a read being cancelled) does not upgrade and is replaced.
            match in_flight
                .reads
                .get(&key)
                .and_then(|(_, read)| read.upgrade())
            {
                Some(read) => read,
                None => {
                    let admitted = self.admit()?;
                    in_flight.next_generation += 1;
                    let generation = in_flight.next_generation;
                    let read = self
                        .clone()
                        .read_whole(key, generation, admitted)
                        .boxed()
                        .shared();
                    // Not polled yet, so it downgrades.
                    if let Some(weak) = read.downgrade() {
                        in_flight.reads.insert(key, (generation, weak));
                    }
                    read
                }
            }
        };
        read.await
    }

    /// One whole read of the source: waits for a running slot, reads, fills the cache and
    /// leaves the in-flight table. Dropped before its end, it leaves the table too.
    async fn read_whole(
        self: Arc<Self>,
        key: ReadKey,
        generation: u64,
        admitted: OwnedSemaphorePermit,
    ) -> Result<Bytes, AggregatorError> {
        let mut guard = CancelGuard {
            reader: self.clone(),
            key,
            generation,
            armed: true,
        };
        let (blob_id, check) = key;
        let result = self
            .limited(admitted, || {
                timed(&self.metrics, "blob", self.source.read(&blob_id, check))
            })
            .await
            .map(Bytes::from);
        guard.armed = false;
        let mut in_flight = lock(&self.in_flight);
        if let Ok(bytes) = &result {
            self.cache_insert(blob_id, bytes.clone(), check);
        }
        in_flight.remove(&key, generation);
        result
    }

    /// Caches a blob that passed `check` (if small enough) and updates the cache gauges.
    fn cache_insert(&self, blob_id: BlobId, bytes: Bytes, check: ConsistencyCheck) {
        let mut cache = lock(&self.cache);
        cache.insert(blob_id, bytes, check);
        let stats = cache.stats();
        self.metrics.cache_bytes.set(gauge(stats.bytes));
        self.metrics.cache_entries.set(gauge(stats.entries));
    }

    /// Streams the blob as it is read (a bounded read: 503 when the aggregator is at
    /// capacity; the place is held until the stream ends or is dropped). A blob small enough
    /// for the cache is cached once streamed whole. Not shared with other requests.
    pub(crate) async fn stream(
        self: &Arc<Self>,
        blob_id: BlobId,
        check: ConsistencyCheck,
    ) -> Result<(u64, BoxStream<'static, Result<Bytes, SdkError>>), AggregatorError> {
        let admitted = self.admit()?;
        let (running, running_gauge) = self.running_slot().await?;
        let BlobStream { size, chunks } = timed(
            &self.metrics,
            "stream",
            self.source.read_stream(&blob_id, check),
        )
        .await?;
        let cacheable = size <= lock(&self.cache).max_entry_bytes();
        let state = StreamState {
            chunks,
            reader: self.clone(),
            blob_id,
            check,
            tee: cacheable.then(Vec::new),
            size,
            _places: (admitted, running, running_gauge),
        };
        let stream = futures::stream::unfold(Some(state), |state| async move {
            let mut state = state?;
            let item = state.chunks.next().await?;
            match &item {
                Ok(chunk) => {
                    state.reader.metrics.bytes_served.inc_by(chunk.len() as u64);
                    if let Some(tee) = &mut state.tee {
                        tee.extend_from_slice(chunk);
                        if tee.len() as u64 == state.size {
                            let bytes = Bytes::from(std::mem::take(tee));
                            state.reader.cache_insert(state.blob_id, bytes, state.check);
                            state.tee = None;
                        }
                    }
                    Some((item, Some(state)))
                }
                Err(error) => {
                    tracing::warn!(blob_id = %state.blob_id, %error, "a streamed read failed");
                    // Ends the stream after the error.
                    Some((item, None))
                }
            }
        });
        Ok((size, stream.boxed()))
    }

    /// A place for one read of the source, or 503 UNAVAILABLE with `Retry-After` when
    /// `max_concurrent_reads + max_queued_reads` reads are running or waiting.
    fn admit(&self) -> Result<OwnedSemaphorePermit, AggregatorError> {
        self.admission.clone().try_acquire_owned().map_err(|_| {
            self.metrics.reads_rejected.inc();
            AggregatorError::new(
                ErrorReason::Unavailable,
                format!(
                    "the aggregator is busy ({} reads running, {} waiting); retry later",
                    self.max_concurrent_reads, self.max_queued_reads
                ),
            )
            .retry_after(RETRY_AFTER_SECS)
        })
    }

    /// Starts and runs `read` in a running slot (waiting for one first), holding its place
    /// throughout.
    async fn limited<T, F>(
        &self,
        admitted: OwnedSemaphorePermit,
        read: impl FnOnce() -> F,
    ) -> Result<T, AggregatorError>
    where
        F: Future<Output = Result<T, AggregatorError>>,
    {
        let (running, _running_gauge) = self.running_slot().await?;
        let result = read().await;
        drop((running, admitted));
        result
    }

    /// Waits for one of the `max_concurrent_reads` running slots (counted as queued
    /// meanwhile); the slot and the running gauge's count last until both are dropped.
    async fn running_slot(
        &self,
    ) -> Result<(OwnedSemaphorePermit, walrus_service::GaugeGuard), AggregatorError> {
        let running = {
            let _queued = walrus_service::GaugeGuard::new(&self.metrics.reads_queued);
            self.running.clone().acquire_owned().await.map_err(|_| {
                AggregatorError::new(ErrorReason::Unavailable, "the aggregator is stopping")
            })?
        };
        Ok((
            running,
            walrus_service::GaugeGuard::new(&self.metrics.reads_running),
        ))
    }
}

/// A streamed read in progress: the source's chunks, the bytes kept for the cache, and the
/// read's places, released when the stream ends or is dropped.
struct StreamState {
    chunks: BoxStream<'static, Result<Bytes, SdkError>>,
    reader: Arc<BlobReader>,
    blob_id: BlobId,
    check: ConsistencyCheck,
    tee: Option<Vec<u8>>,
    size: u64,
    _places: (
        OwnedSemaphorePermit,
        OwnedSemaphorePermit,
        walrus_service::GaugeGuard,
    ),
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
