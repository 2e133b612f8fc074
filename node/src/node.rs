//! [`StorageNode`]: what the REST API does, independent of HTTP. Every operation checks the
//! chain's view of the blob (registered, not expired, not invalid), the shard assignment and
//! the metadata before it touches the store; every write is durable before it returns.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex, MutexGuard, PoisonError, RwLock,
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use walrus_core::bounded;
use walrus_core::{
    crypto::ProtocolKeyPair,
    encoding::{
        DecodingSymbol, EitherDecodingSymbol, EncodingAxis, EncodingConfig, ExpandedSliver,
        InconsistencyProofEither, Primary, RecoverySymbolsBcs, Secondary, Sliver, SliverBytes,
        SliverData,
    },
    merkle::Digest,
    messages::{
        BlobPersistenceType, Confirmation, InvalidBlobIdMsg, ProtocolMessageKind,
        SignedInvalidBlobIdMsg, SignedStorageConfirmation, SignedSyncShardRequest,
    },
    metadata::{BlobMetadata, BlobMetadataWithId, VerifiedBlobMetadataWithId},
    BlobId, ObjectId, SliverIndex, SliverPairIndex, SliverType,
};
use walrus_node_client::api::{
    self, BlobStatus, ErrorReason, StoredOnNodeStatus, SymbolId, SyncShardResponse, UploadIntent,
};

use crate::{
    committee::CommitteeView,
    config::RequestLimits,
    metrics::Metrics,
    pending::{PendingError, PendingUploads},
    store::{NodeStore, StoreError, VerifiedSliver},
};

/// The answer to an upload that cannot be buffered (CACHE_SATURATED, or METADATA_NOT_FOUND
/// for a sliver that came before its metadata).
fn pending_refusal(error: PendingError) -> NodeError {
    let reason = match error {
        PendingError::Saturated(_) => ErrorReason::CacheSaturated,
        PendingError::NoMetadata => ErrorReason::MetadataNotFound,
    };
    NodeError::new(reason, error.to_string())
}

/// Flushes buffered uploads whose registration was applied (after every applied event, and
/// every second for those left over) until `shutdown` flips to `true`.
pub async fn run_pending_flusher(node: Arc<StorageNode>, mut shutdown: watch::Receiver<bool>) {
    let mut events = node.events_processed.subscribe();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = events.changed() => {}
            _ = tick.tick() => {}
        }
        node.flush_pending().await;
    }
}

/// An error answered to a client: a stable reason and a message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{reason}: {message}")]
pub struct NodeError {
    /// The stable reason (also decides the HTTP status).
    pub reason: ErrorReason,
    /// Human-readable detail.
    pub message: String,
}

impl NodeError {
    /// An error with `reason` and `message`.
    pub fn new(reason: ErrorReason, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
        }
    }
}

impl From<StoreError> for NodeError {
    fn from(error: StoreError) -> Self {
        tracing::error!(%error, "store failure");
        Self::new(ErrorReason::Internal, error.to_string())
    }
}

/// Runs blocking store or CPU work off the async runtime.
/// The answer to a body that is not the BCS of a sliver.
fn malformed_sliver(error: bcs::Error) -> NodeError {
    NodeError::new(
        ErrorReason::InvalidSliver,
        format!("malformed sliver: {error}"),
    )
}

/// Refuses a sliver whose `index` is not the one `pair` holds on `axis` (`expected`).
fn check_sliver_index(
    axis: SliverType,
    pair: SliverPairIndex,
    expected: SliverIndex,
    index: SliverIndex,
) -> Result<(), NodeError> {
    if index == expected {
        return Ok(());
    }
    Err(NodeError::new(
        ErrorReason::SliverIndexMismatch,
        format!(
            "pair {} holds {axis} sliver {}, the body has index {}",
            pair.0,
            expected.get(),
            index.get()
        ),
    ))
}

pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, NodeError> + Send + 'static,
) -> Result<T, NodeError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| NodeError::new(ErrorReason::Internal, error.to_string()))?
}

/// A storage node's state: its store, keys, committee view and metrics.
#[derive(Debug)]
pub struct StorageNode {
    store: Arc<NodeStore>,
    keys: ProtocolKeyPair,
    committee: RwLock<Arc<CommitteeView>>,
    metrics: Metrics,
    started: Instant,
    events_processed: watch::Sender<u64>,
    registration_wait: Duration,
    limits: RequestLimits,
    max_body_bytes: usize,
    symbol_slots: Arc<Semaphore>,
    symbol_queue: AtomicUsize,
    registration_waits: Semaphore,
    sync_shard_slots: Semaphore,
    /// Verified metadata of the blobs being uploaded: every sliver of a blob is checked
    /// against them, so they are read, decoded and verified once, not once per sliver.
    metadata_cache: Mutex<HashMap<BlobId, VerifiedBlobMetadataWithId>>,
    /// Verified uploads made before their blob's registration was seen (`?pending=true`).
    pending: PendingUploads,
    /// Held while buffered uploads move to the store: a confirmation that finds nothing
    /// buffered any more waits for a move in progress before it looks at the store.
    flush_lock: tokio::sync::Mutex<()>,
}

/// Verified metadata kept in memory (then the cache starts afresh): 16 MiB at 1000 shards.
const METADATA_CACHE_ENTRIES: usize = 256;

/// Decrements a queue length when the waiting request finishes or is cancelled.
struct QueuePlace<'a>(&'a AtomicUsize);

impl Drop for QueuePlace<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl StorageNode {
    /// A node over `store` with `keys`, the committee `view`, how long an upload for a blob
    /// not yet registered waits for the registration event, and the request `limits`.
    pub fn new(
        store: Arc<NodeStore>,
        keys: ProtocolKeyPair,
        view: CommitteeView,
        metrics: Metrics,
        registration_wait: Duration,
        limits: RequestLimits,
        max_body_bytes: usize,
    ) -> Result<Self, StoreError> {
        metrics.set_stored(store.usage()?);
        let (_, processed) = store.event_progress()?;
        Ok(Self {
            store,
            keys,
            committee: RwLock::new(Arc::new(view)),
            metrics,
            started: Instant::now(),
            events_processed: watch::channel(processed).0,
            registration_wait,
            limits,
            max_body_bytes,
            symbol_slots: Arc::new(Semaphore::new(limits.max_concurrent_symbol_requests.max(1))),
            symbol_queue: AtomicUsize::new(0),
            registration_waits: Semaphore::new(limits.max_registration_waits.max(1)),
            sync_shard_slots: Semaphore::new(limits.max_concurrent_sync_shard_requests.max(1)),
            metadata_cache: Mutex::new(HashMap::new()),
            pending: PendingUploads::new(limits.pending_limits()),
            flush_lock: tokio::sync::Mutex::new(()),
        })
    }

    /// The request limits.
    pub fn limits(&self) -> &RequestLimits {
        &self.limits
    }

    /// The largest request body of any route.
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// Counts a request refused by a limit.
    pub fn refused(&self, reason: &str) {
        self.metrics
            .requests_refused
            .with_label_values(&[reason])
            .inc();
    }

    /// A slot to compute recovery symbols in: waits in a queue of at most
    /// `max_queued_symbol_requests`; RATE_LIMITED when the queue is full.
    pub async fn symbol_slot(&self) -> Result<OwnedSemaphorePermit, NodeError> {
        if let Ok(permit) = self.symbol_slots.clone().try_acquire_owned() {
            return Ok(permit);
        }
        let queued = self.symbol_queue.fetch_add(1, Ordering::SeqCst);
        let _place = QueuePlace(&self.symbol_queue);
        if queued >= self.limits.max_queued_symbol_requests {
            self.refused("busy");
            return Err(NodeError::new(
                ErrorReason::RateLimited,
                "too many recovery-symbol requests; retry later",
            ));
        }
        self.symbol_slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|error| NodeError::new(ErrorReason::Unavailable, error.to_string()))
    }

    /// The store.
    pub fn store(&self) -> &Arc<NodeStore> {
        &self.store
    }

    /// The node's BLS key pair.
    pub fn keys(&self) -> &ProtocolKeyPair {
        &self.keys
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Seconds since start.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// The current committee view.
    pub fn committee(&self) -> Arc<CommitteeView> {
        self.committee
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Replaces the committee view (epoch change).
    pub fn set_committee(&self, view: CommitteeView) {
        *self
            .committee
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(view);
    }

    /// Signals that an event was applied (wakes uploads waiting for a registration).
    pub fn event_applied(&self) {
        self.metrics.events_processed.inc();
        self.events_processed.send_modify(|count| *count += 1);
    }

    /// Waits until `blob_id` is registered (or the registration wait passes); errors with
    /// NOT_REGISTERED or BLOB_INVALID.
    async fn require_registered(&self, blob_id: &BlobId) -> Result<(), NodeError> {
        self.await_registration(blob_id, self.registration_wait)
            .await
    }

    /// Whether `blob_id` is registered now (no wait); BLOB_INVALID if it was proven invalid.
    fn registered_now(&self, blob_id: &BlobId) -> Result<bool, NodeError> {
        let info = self.store.blob_info(blob_id)?;
        if info.invalid.is_some() {
            return Err(NodeError::new(
                ErrorReason::BlobInvalid,
                format!("blob {blob_id} was proven invalid"),
            ));
        }
        Ok(info.is_registered(self.committee().epoch))
    }

    /// Waits up to `wait` until `blob_id` is registered; errors with NOT_REGISTERED or
    /// BLOB_INVALID.
    async fn await_registration(&self, blob_id: &BlobId, wait: Duration) -> Result<(), NodeError> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut progress = self.events_processed.subscribe();
        let mut wait_slot = None;
        loop {
            let info = self.store.blob_info(blob_id)?;
            if info.invalid.is_some() {
                return Err(NodeError::new(
                    ErrorReason::BlobInvalid,
                    format!("blob {blob_id} was proven invalid"),
                ));
            }
            if info.is_registered(self.committee().epoch) {
                return Ok(());
            }
            if wait_slot.is_none() {
                // Waiting costs a task and a connection: bounded.
                let Ok(slot) = self.registration_waits.try_acquire() else {
                    self.refused("busy");
                    return Err(NodeError::new(
                        ErrorReason::RateLimited,
                        "too many requests waiting for registrations; retry later",
                    ));
                };
                wait_slot = Some(slot);
            }
            if tokio::time::timeout_at(deadline, progress.changed())
                .await
                .is_err()
            {
                return Err(NodeError::new(
                    ErrorReason::NotRegistered,
                    format!(
                        "blob {blob_id} is not registered on chain (or expired) in epoch {}",
                        self.committee().epoch
                    ),
                ));
            }
        }
    }

    fn encoding_config(view: &CommitteeView) -> Result<EncodingConfig, NodeError> {
        EncodingConfig::new(view.n_shards)
            .map_err(|error| NodeError::new(ErrorReason::Internal, error.to_string()))
    }

    /// The verified metadata an upload checks its slivers against: from the cache of the
    /// blobs being uploaded, else as [`Self::verified_metadata`] and cached. Metadata verified
    /// against the blob ID never change; the caller checks that the blob is still registered
    /// (a deleted blob's metadata may linger here).
    async fn upload_metadata(
        &self,
        blob_id: &BlobId,
    ) -> Result<VerifiedBlobMetadataWithId, NodeError> {
        if let Some(metadata) = self.cached_metadata().get(blob_id) {
            return Ok(metadata.clone());
        }
        self.verified_metadata_cached(blob_id).await
    }

    /// [`Self::verified_metadata`], kept in the cache of [`Self::upload_metadata`].
    async fn verified_metadata_cached(
        &self,
        blob_id: &BlobId,
    ) -> Result<VerifiedBlobMetadataWithId, NodeError> {
        let metadata = self.verified_metadata(blob_id).await?;
        let mut cache = self.cached_metadata();
        if cache.len() >= METADATA_CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(*blob_id, metadata.clone());
        Ok(metadata)
    }

    /// The verified metadata of a stored blob whose symbols are asked (a recovering node asks
    /// for many of a blob's symbols): from the cache if they are still stored (one look-up, no
    /// decoding nor verification), else as [`Self::verified_metadata`] and cached.
    async fn serving_metadata(
        &self,
        blob_id: &BlobId,
    ) -> Result<VerifiedBlobMetadataWithId, NodeError> {
        let cached = self.cached_metadata().get(blob_id).cloned();
        let Some(metadata) = cached else {
            return self.verified_metadata_cached(blob_id).await;
        };
        let store = self.store.clone();
        let id = *blob_id;
        if blocking(move || Ok(store.has_metadata(&id)?)).await? {
            Ok(metadata)
        } else {
            Err(self.not_found_reason(blob_id, ErrorReason::MetadataNotFound)?)
        }
    }

    fn cached_metadata(&self) -> MutexGuard<'_, HashMap<BlobId, VerifiedBlobMetadataWithId>> {
        // The critical sections do not panic; a poisoned lock still holds consistent data.
        self.metadata_cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The stored metadata of `blob_id`, verified (they were verified before being stored;
    /// verification again is cheap and guards against a corrupt store).
    pub async fn verified_metadata(
        &self,
        blob_id: &BlobId,
    ) -> Result<VerifiedBlobMetadataWithId, NodeError> {
        let view = self.committee();
        let store = self.store.clone();
        let id = *blob_id;
        let metadata = blocking(move || Ok(store.metadata(&id)?)).await?;
        let Some(metadata) = metadata else {
            return Err(self.not_found_reason(blob_id, ErrorReason::MetadataNotFound)?);
        };
        BlobMetadataWithId {
            blob_id: *blob_id,
            metadata,
        }
        .verify(&Self::encoding_config(&view)?)
        .map_err(|error| NodeError::new(ErrorReason::Internal, format!("stored metadata: {error}")))
    }

    /// `reason` for missing data, or BLOB_INVALID if the blob was proven invalid.
    fn not_found_reason(
        &self,
        blob_id: &BlobId,
        reason: ErrorReason,
    ) -> Result<NodeError, NodeError> {
        if self.store.blob_info(blob_id)?.invalid.is_some() {
            return Ok(NodeError::new(
                ErrorReason::BlobInvalid,
                format!("blob {blob_id} was proven invalid"),
            ));
        }
        let what = match reason {
            ErrorReason::MetadataNotFound => "metadata",
            _ => "sliver",
        };
        Ok(NodeError::new(
            reason,
            format!("no {what} stored for blob {blob_id}"),
        ))
    }

    /// Admits a `PUT metadata` before its body is read: the blob must be registered; returns
    /// the largest body legitimate metadata can have for this committee's shard count.
    /// With `Pending` intent, a blob not registered yet is admitted at once (its metadata
    /// will be buffered).
    pub async fn admit_metadata(
        &self,
        blob_id: &BlobId,
        intent: UploadIntent,
    ) -> Result<usize, NodeError> {
        match intent {
            UploadIntent::Immediate => self.require_registered(blob_id).await?,
            UploadIntent::Pending => {
                self.registered_now(blob_id)?;
            }
        }
        Ok(bounded::max_metadata_len(self.committee().n_shards))
    }

    /// `PUT metadata` body (admitted by [`Self::admit_metadata`]): decodes it only if it is no
    /// larger than legitimate metadata, verifies it against `blob_id` and stores it; `true` if
    /// newly stored.
    pub async fn put_metadata_bytes(
        &self,
        blob_id: BlobId,
        body: &[u8],
        intent: UploadIntent,
    ) -> Result<bool, NodeError> {
        let limit = bounded::max_metadata_len(self.committee().n_shards);
        if body.len() > limit {
            self.refused("too_large");
            return Err(NodeError::new(
                ErrorReason::PayloadTooLarge,
                format!(
                    "metadata of {} bytes; at most {limit} for this committee",
                    body.len()
                ),
            ));
        }
        let metadata = bcs::from_bytes(body).map_err(|error| {
            NodeError::new(
                ErrorReason::InvalidMetadata,
                format!("malformed metadata: {error}"),
            )
        })?;
        self.put_metadata(blob_id, metadata, intent).await
    }

    /// `PUT metadata`: verifies `metadata` against `blob_id` and stores them; `true` if newly
    /// stored. With `Pending` intent, metadata of a blob not registered yet are buffered
    /// (`true` if newly buffered).
    pub async fn put_metadata(
        &self,
        blob_id: BlobId,
        metadata: BlobMetadata,
        intent: UploadIntent,
    ) -> Result<bool, NodeError> {
        if intent == UploadIntent::Immediate {
            self.require_registered(&blob_id).await?;
        }
        let config = Self::encoding_config(&self.committee())?;
        let verified = BlobMetadataWithId {
            blob_id,
            metadata: metadata.clone(),
        }
        .verify(&config)
        .map_err(|error| NodeError::new(ErrorReason::InvalidMetadata, error.to_string()))?;
        if intent == UploadIntent::Pending && !self.registered_now(&blob_id)? {
            if self.store.metadata(&blob_id)?.is_some() {
                return Ok(false);
            }
            let fresh = self
                .pending
                .insert_metadata(verified)
                .map_err(pending_refusal)?;
            // The registration may have been applied since it was checked.
            self.flush_pending_blob(&blob_id).await?;
            return Ok(fresh);
        }
        let store = self.store.clone();
        let size = bcs::serialized_size(&metadata).unwrap_or(0) as u64;
        let fresh = blocking(move || Ok(store.put_metadata(&blob_id, &metadata)?)).await?;
        if fresh {
            self.metrics.add_stored(size, 0);
        }
        Ok(fresh)
    }

    /// `GET metadata`.
    pub async fn get_metadata(&self, blob_id: &BlobId) -> Result<BlobMetadataWithId, NodeError> {
        Ok(self.verified_metadata(blob_id).await?.into_unverified())
    }

    /// Whether the metadata are stored (or buffered pending the blob's registration).
    pub async fn metadata_status(&self, blob_id: &BlobId) -> Result<StoredOnNodeStatus, NodeError> {
        Ok(if self.store.metadata(blob_id)?.is_some() {
            StoredOnNodeStatus::Stored
        } else if self.pending.has_metadata(blob_id) {
            StoredOnNodeStatus::Buffered
        } else {
            StoredOnNodeStatus::Nonexistent
        })
    }

    /// Checks that pair `pair` of `blob_id` is on a shard this node holds (`reading`: or
    /// still serves after giving it away, until the epoch change is done).
    fn check_pair(
        &self,
        blob_id: &BlobId,
        pair: SliverPairIndex,
        reading: bool,
    ) -> Result<(), NodeError> {
        let view = self.committee();
        if pair.0 >= view.n_shards {
            return Err(NodeError::new(
                ErrorReason::InvalidRequest,
                format!("pair index {} out of range (n = {})", pair.0, view.n_shards),
            ));
        }
        let held = if reading {
            view.serves_pair(blob_id, pair)
        } else {
            view.holds_pair(blob_id, pair)
        };
        if !held {
            return Err(NodeError::new(
                ErrorReason::ShardNotAssigned,
                format!(
                    "pair {} of blob {blob_id} is on shard {}, not held by this node in epoch {}",
                    pair.0,
                    pair.to_shard_index(view.n_shards, blob_id).0,
                    view.epoch
                ),
            ));
        }
        Ok(())
    }

    /// Admits a `PUT sliver` before its body is read: the blob must be registered, the pair
    /// on one of our shards and the metadata stored; returns the metadata and the exact BCS
    /// length of the sliver.
    ///
    /// With `Pending` intent, a blob not registered yet is admitted at once if its metadata
    /// are buffered (or stored) and the sliver is small enough to be buffered.
    pub async fn admit_sliver(
        &self,
        blob_id: &BlobId,
        pair: SliverPairIndex,
        axis: SliverType,
        intent: UploadIntent,
    ) -> Result<(VerifiedBlobMetadataWithId, usize), NodeError> {
        if intent == UploadIntent::Pending && !self.registered_now(blob_id)? {
            self.check_pair(blob_id, pair, false)?;
            let metadata = match self.pending.metadata(blob_id) {
                Some(metadata) => metadata,
                None => self.stored_upload_metadata(blob_id).await?,
            };
            let length = bounded::sliver_len(metadata.layout(), axis);
            self.pending
                .admits_sliver_size(length)
                .map_err(pending_refusal)?;
            return Ok((metadata, length));
        }
        self.require_registered(blob_id).await?;
        self.check_pair(blob_id, pair, false)?;
        let metadata = self.stored_upload_metadata(blob_id).await?;
        let length = bounded::sliver_len(metadata.layout(), axis);
        Ok((metadata, length))
    }

    /// The stored metadata a sliver upload is checked against. Metadata buffered before the
    /// blob's registration was seen are moved to the store first; an upload that races that
    /// move (the buffer already emptied, the store's commit still running) waits for it
    /// rather than being told that no metadata exist.
    async fn stored_upload_metadata(
        &self,
        blob_id: &BlobId,
    ) -> Result<VerifiedBlobMetadataWithId, NodeError> {
        if self.pending.has_metadata(blob_id) {
            self.flush_pending_blob(blob_id).await?;
        }
        match self.upload_metadata(blob_id).await {
            Err(error) if error.reason == ErrorReason::MetadataNotFound => {
                // Holding the flush lock means no move is half done.
                self.flush_pending_blob(blob_id).await?;
                match self.pending.metadata(blob_id) {
                    Some(metadata) => Ok(metadata),
                    None => self.upload_metadata(blob_id).await,
                }
            }
            answer => answer,
        }
    }

    /// `PUT sliver` after [`Self::admit_sliver`] returned `metadata` and `length`: decodes
    /// the BCS sliver of `axis` only if `body` has exactly that length, checks its index and
    /// that it verifies against the metadata, and stores it; `true` if newly stored.
    /// With `Pending` intent, the sliver of a blob not registered yet is buffered (`true` if
    /// newly buffered).
    #[allow(clippy::too_many_arguments)]
    pub async fn put_admitted_sliver(
        &self,
        blob_id: BlobId,
        pair: SliverPairIndex,
        axis: SliverType,
        metadata: VerifiedBlobMetadataWithId,
        length: usize,
        body: Bytes,
        intent: UploadIntent,
    ) -> Result<bool, NodeError> {
        if body.len() != length {
            if body.len() > length {
                self.refused("too_large");
            }
            return Err(NodeError::new(
                if body.len() > length {
                    ErrorReason::PayloadTooLarge
                } else {
                    ErrorReason::InvalidSliver
                },
                format!(
                    "a {} sliver of this blob has {length} bytes, the body {}",
                    axis,
                    body.len()
                ),
            ));
        }
        if intent == UploadIntent::Pending && !self.registered_now(&blob_id)? {
            let (sliver, tree_nodes) = match axis {
                SliverType::Primary => self
                    .verified_sliver::<Primary>(pair, metadata, &body)
                    .await
                    .map(|(sliver, hashes)| (Sliver::Primary(sliver), hashes)),
                SliverType::Secondary => self
                    .verified_sliver::<Secondary>(pair, metadata, &body)
                    .await
                    .map(|(sliver, hashes)| (Sliver::Secondary(sliver), hashes)),
            }?;
            let sliver = VerifiedSliver { sliver, tree_nodes };
            match self
                .pending
                .insert_sliver(&blob_id, pair, sliver, body.len())
            {
                Ok(fresh) => {
                    if fresh {
                        self.metrics.slivers_buffered.inc();
                    }
                    // The registration may have been applied since it was checked.
                    self.flush_pending_blob(&blob_id).await?;
                    return Ok(fresh);
                }
                // The blob's buffered uploads were moved to the store since the check: its
                // registration is applied now, so the sliver is stored like any other.
                Err((PendingError::NoMetadata, sliver)) if self.registered_now(&blob_id)? => {
                    self.flush_pending_blob(&blob_id).await?;
                    return self
                        .store_verified_sliver(blob_id, pair, sliver, body.len())
                        .await;
                }
                Err((error, _)) => return Err(pending_refusal(error)),
            }
        }
        let size = body.len();
        let fresh = match axis {
            SliverType::Primary => {
                self.put_typed::<Primary>(blob_id, pair, metadata, body)
                    .await
            }
            SliverType::Secondary => {
                self.put_typed::<Secondary>(blob_id, pair, metadata, body)
                    .await
            }
        }?;
        if fresh {
            self.metrics.slivers_uploaded.inc();
            self.metrics.add_stored(size as u64, 1);
        }
        Ok(fresh)
    }

    /// Verifies the BCS sliver of `T` in `body` (read in place) and stores the body as it came.
    async fn put_typed<T: EncodingAxis>(
        &self,
        blob_id: BlobId,
        pair: SliverPairIndex,
        metadata: VerifiedBlobMetadataWithId,
        body: Bytes,
    ) -> Result<bool, NodeError> {
        let n = metadata.config().n_shards();
        let expected = pair_sliver_index(T::TYPE, pair, n)?;
        let store = self.store.clone();
        blocking(move || {
            let sliver = SliverBytes::<T>::decode(&body).map_err(malformed_sliver)?;
            check_sliver_index(T::TYPE, pair, expected, sliver.index())?;
            let tree = sliver
                .verify_with_tree(&metadata)
                .map_err(|error| NodeError::new(ErrorReason::InvalidSliver, error.to_string()))?;
            Ok(store.put_sliver_bcs::<T>(&blob_id, pair, body, tree.nodes())?)
        })
        .await
    }

    /// Stores a verified `sliver` (`size` bytes of BCS) of a registered blob, counted as
    /// uploaded; `true` if new.
    async fn store_verified_sliver(
        &self,
        blob_id: BlobId,
        pair: SliverPairIndex,
        sliver: VerifiedSliver,
        size: usize,
    ) -> Result<bool, NodeError> {
        let store = self.store.clone();
        let fresh = blocking(move || {
            let VerifiedSliver { sliver, tree_nodes } = sliver;
            Ok(store.put_sliver(&blob_id, pair, sliver, &tree_nodes)?)
        })
        .await?;
        if fresh {
            self.metrics.slivers_uploaded.inc();
            self.metrics.add_stored(size as u64, 1);
        }
        Ok(fresh)
    }

    /// Decodes the BCS sliver of `T` in `body` and checks that it is the sliver of `pair` on
    /// that axis and verifies against `metadata`; with the nodes of the tree the check built.
    async fn verified_sliver<T: EncodingAxis>(
        &self,
        pair: SliverPairIndex,
        metadata: VerifiedBlobMetadataWithId,
        body: &[u8],
    ) -> Result<(SliverData<T>, Vec<Digest>), NodeError> {
        let sliver: SliverData<T> = bcs::from_bytes(body).map_err(malformed_sliver)?;
        let n = metadata.config().n_shards();
        let expected = pair_sliver_index(T::TYPE, pair, n)?;
        check_sliver_index(T::TYPE, pair, expected, sliver.index)?;
        blocking(move || {
            let tree = sliver
                .verify_with_tree(&metadata)
                .map_err(|error| NodeError::new(ErrorReason::InvalidSliver, error.to_string()))?;
            Ok((sliver, tree.into_nodes()))
        })
        .await
    }

    /// Moves the buffered uploads of `blob_id` to the store once its registration is applied
    /// (only the slivers of shards this node still holds); drops them if the blob was proven
    /// invalid.
    pub async fn flush_pending_blob(&self, blob_id: &BlobId) -> Result<(), NodeError> {
        let _flushing = self.flush_lock.lock().await;
        if !self.pending.has_metadata(blob_id) {
            return Ok(());
        }
        let info = self.store.blob_info(blob_id)?;
        let view = self.committee();
        if info.invalid.is_none() && !info.is_registered(view.epoch) {
            return Ok(());
        }
        let Some(blob) = self.pending.take(blob_id) else {
            return Ok(());
        };
        if info.invalid.is_some() {
            return Ok(());
        }
        let store = self.store.clone();
        let id = *blob_id;
        let slivers: Vec<_> = blob
            .slivers
            .into_iter()
            .filter(|((pair, _), _)| view.holds_pair(&id, *pair))
            .collect();
        let metadata = blob.metadata.metadata().clone();
        let metadata_size = bcs::serialized_size(&metadata).unwrap_or(0) as u64;
        // One group commit (one fsync) for the blob's metadata and all its slivers.
        let (metadata_fresh, stored) = blocking(move || {
            let items: Vec<(SliverPairIndex, &Sliver, &[Digest])> = slivers
                .iter()
                .map(|((pair, _), (sliver, _))| {
                    (*pair, &sliver.sliver, sliver.tree_nodes.as_slice())
                })
                .collect();
            let (metadata_fresh, fresh) = store.put_blob_data(&id, &metadata, &items)?;
            let stored: Vec<u64> = slivers
                .iter()
                .zip(fresh)
                .filter(|(_, fresh)| *fresh)
                .map(|((_, (_, size)), _)| *size as u64)
                .collect();
            Ok((metadata_fresh, stored))
        })
        .await?;
        if metadata_fresh {
            self.metrics.add_stored(metadata_size, 0);
        }
        for size in stored {
            self.metrics.slivers_uploaded.inc();
            self.metrics.add_stored(size, 1);
        }
        Ok(())
    }

    /// Flushes (or drops) the buffered uploads of every blob whose registration (or proof of
    /// invalidity) was applied; drops those idle past their time.
    pub async fn flush_pending(&self) {
        for blob_id in self.pending.blob_ids() {
            if let Err(error) = self.flush_pending_blob(&blob_id).await {
                tracing::warn!(%blob_id, %error, "cannot store buffered uploads");
            }
        }
    }

    /// Stores slivers of axis `T` this node rebuilt and verified itself (with the nodes of the
    /// tree the check built), in one call: one group commit and one blocking thread for all.
    pub(crate) async fn store_recovered<T: EncodingAxis>(
        &self,
        blob_id: BlobId,
        slivers: Vec<(SliverPairIndex, SliverData<T>, Vec<Digest>)>,
    ) -> Result<(), NodeError> {
        let store = self.store.clone();
        let sizes: Vec<u64> = slivers
            .iter()
            .map(|(_, sliver, _)| bcs::serialized_size(sliver).unwrap_or(0) as u64)
            .collect();
        let fresh = blocking(move || {
            let (slivers, tree_nodes): (Vec<(SliverPairIndex, Sliver)>, Vec<Vec<Digest>>) = slivers
                .into_iter()
                .map(|(pair, sliver, tree_nodes)| ((pair, sliver.into()), tree_nodes))
                .unzip();
            let items = slivers
                .into_iter()
                .zip(&tree_nodes)
                .map(|((pair, sliver), tree_nodes)| (pair, sliver, tree_nodes.as_slice()));
            Ok(store.put_slivers(&blob_id, items)?)
        })
        .await?;
        for (size, fresh) in sizes.into_iter().zip(fresh) {
            if fresh {
                self.metrics.slivers_recovered.inc();
                self.metrics.add_stored(size, 1);
            }
        }
        Ok(())
    }

    /// Stores metadata this node fetched and verified itself.
    pub(crate) async fn store_fetched_metadata(
        &self,
        metadata: &VerifiedBlobMetadataWithId,
    ) -> Result<(), NodeError> {
        let store = self.store.clone();
        let blob_id = *metadata.blob_id();
        let inner = metadata.metadata().clone();
        blocking(move || Ok(store.put_metadata(&blob_id, &inner)?)).await?;
        Ok(())
    }

    /// `GET sliver`: the stored BCS bytes of the sliver.
    pub async fn get_sliver(
        &self,
        blob_id: BlobId,
        pair: SliverPairIndex,
        axis: SliverType,
    ) -> Result<Vec<u8>, NodeError> {
        self.check_pair(&blob_id, pair, true)?;
        let store = self.store.clone();
        let bytes = blocking(move || Ok(store.sliver_bytes(&blob_id, pair, axis)?)).await?;
        match bytes {
            Some(bytes) => Ok(bytes),
            None => Err(self.not_found_reason(&blob_id, ErrorReason::SliverNotFound)?),
        }
    }

    /// Whether a sliver is stored.
    pub async fn sliver_status(
        &self,
        blob_id: BlobId,
        pair: SliverPairIndex,
        axis: SliverType,
    ) -> Result<StoredOnNodeStatus, NodeError> {
        self.check_pair(&blob_id, pair, true)?;
        Ok(if self.store.has_sliver(&blob_id, pair, axis)? {
            StoredOnNodeStatus::Stored
        } else if self.pending.has_sliver(&blob_id, pair, axis) {
            StoredOnNodeStatus::Buffered
        } else {
            StoredOnNodeStatus::Nonexistent
        })
    }

    /// The pairs (and axes) of our shards still missing for `blob_id`.
    pub fn missing_slivers(
        &self,
        blob_id: &BlobId,
    ) -> Result<Vec<(SliverPairIndex, SliverType)>, NodeError> {
        let view = self.committee();
        let mut missing = Vec::new();
        for pair in view.own_pairs(blob_id) {
            for axis in [SliverType::Primary, SliverType::Secondary] {
                if !self.store.has_sliver(blob_id, pair, axis)? {
                    missing.push((pair, axis));
                }
            }
        }
        Ok(missing)
    }

    /// `GET confirmation`: signs a storage confirmation once the blob is registered (as
    /// permanent, or as the deletable object `deletable_object`) and the metadata and every
    /// sliver of our shards are durable.
    ///
    /// `wait_for_registration` (Walrus's long poll): if uploads of the blob are buffered
    /// pending its registration, wait up to that long (at most
    /// `max_confirmation_wait_ms`) for it, then store them and confirm.
    pub async fn confirmation(
        &self,
        blob_id: BlobId,
        deletable_object: Option<ObjectId>,
        wait_for_registration: Option<Duration>,
    ) -> Result<SignedStorageConfirmation, NodeError> {
        let max_wait = Duration::from_millis(self.limits.max_confirmation_wait_ms);
        match wait_for_registration.map(|wait| wait.min(max_wait)) {
            Some(wait) if !wait.is_zero() && self.pending.has_metadata(&blob_id) => {
                self.await_registration(&blob_id, wait.max(self.registration_wait))
                    .await?;
            }
            _ => self.require_registered(&blob_id).await?,
        }
        self.flush_pending_blob(&blob_id).await?;
        let view = self.committee();
        let info = self.store.blob_info(&blob_id)?;
        if !info.can_confirm(view.epoch, deletable_object) {
            return Err(NodeError::new(
                ErrorReason::NotRegistered,
                match deletable_object {
                    None => format!("blob {blob_id} has no live permanent registration"),
                    Some(id) => format!("blob {blob_id} has no live deletable object {id}"),
                },
            ));
        }
        if self.store.metadata(&blob_id)?.is_none() {
            return Err(NodeError::new(
                ErrorReason::MissingSlivers,
                format!("metadata of blob {blob_id} are not stored"),
            ));
        }
        let missing = self.missing_slivers(&blob_id)?;
        if !missing.is_empty() {
            return Err(NodeError::new(
                ErrorReason::MissingSlivers,
                format!(
                    "{} slivers of blob {blob_id} are missing, e.g. pair {} {}",
                    missing.len(),
                    missing[0].0 .0,
                    missing[0].1
                ),
            ));
        }
        let blob_type = match deletable_object {
            None => BlobPersistenceType::Permanent,
            Some(object_id) => BlobPersistenceType::Deletable { object_id },
        };
        Ok(self
            .keys
            .sign_message(&Confirmation::for_blob(view.epoch, blob_id, blob_type)))
    }

    /// `GET recoverySymbols?targetSliver&targetType`: one symbol (with its proof) from every
    /// sliver of the orthogonal axis this node serves, for rebuilding sliver `target` of
    /// `target_type`; BCS `Vec<GeneralRecoverySymbol>`.
    pub async fn recovery_symbols(
        &self,
        blob_id: BlobId,
        target: SliverIndex,
        target_type: SliverType,
    ) -> Result<Bytes, NodeError> {
        let metadata = self.serving_metadata(&blob_id).await?;
        let n = metadata.config().n_shards();
        if target.get() >= n {
            return Err(NodeError::new(
                ErrorReason::InvalidRequest,
                format!("target sliver {} out of range (n = {n})", target.get()),
            ));
        }
        let source_axis = target_type.orthogonal();
        let mut plan = SymbolPlan::new();
        for pair in self.committee().served_pairs(&blob_id) {
            if pair.sliver_index(source_axis, n).is_some() {
                plan.entry((source_axis, pair)).or_default().push(target);
            }
        }
        self.compute_symbols(blob_id, metadata, plan).await
    }

    /// `GET decodingSymbols?targetSlivers=..&targetType=..` (Walrus's): for each target source
    /// sliver, its symbols from the slivers of the other axis this node serves and stores,
    /// without proofs (a target source sliver's symbols are in the stored slivers as they are:
    /// nothing is expanded). Targets must be source slivers of their axis; at most
    /// [`api::MAX_RECOVERY_SYMBOL_LIST_BYTES`] of symbols per answer (INVALID_REQUEST beyond).
    pub async fn decoding_symbols(
        &self,
        blob_id: BlobId,
        query: &api::DecodingSymbolsQuery,
    ) -> Result<BTreeMap<u16, Vec<EitherDecodingSymbol>>, NodeError> {
        let metadata = self.serving_metadata(&blob_id).await?;
        let config = metadata.config();
        let n = config.n_shards();
        let target_type = query.target_type;
        let sources = config.n_source_symbols(target_type);
        if let Some(target) = query
            .target_slivers
            .iter()
            .find(|&&target| usize::from(target) >= sources)
        {
            return Err(NodeError::new(
                ErrorReason::InvalidRequest,
                format!(
                    "target sliver {target} is not a source sliver: {target_type} source slivers \
                     are 0..{sources}"
                ),
            ));
        }
        let source_axis = target_type.orthogonal();
        let pairs: Vec<(SliverPairIndex, SliverIndex)> = self
            .committee()
            .served_pairs(&blob_id)
            .into_iter()
            .filter_map(|pair| Some((pair, pair.sliver_index(source_axis, n)?)))
            .collect();
        let answer_bytes =
            query.target_slivers.len() * pairs.len() * metadata.layout().symbol_size();
        if answer_bytes > api::MAX_RECOVERY_SYMBOL_LIST_BYTES {
            return Err(NodeError::new(
                ErrorReason::InvalidRequest,
                format!(
                    "the answer would hold {answer_bytes} bytes of symbols; at most {} per \
                     request: ask for fewer target slivers",
                    api::MAX_RECOVERY_SYMBOL_LIST_BYTES
                ),
            ));
        }
        let store = self.store.clone();
        let targets = query.target_slivers.clone();
        blocking(move || {
            let mut answer: BTreeMap<u16, Vec<EitherDecodingSymbol>> =
                targets.iter().map(|&target| (target, Vec::new())).collect();
            for (pair, source_index) in pairs {
                let symbols = match source_axis {
                    SliverType::Primary => store
                        .sliver::<Primary>(&blob_id, pair)?
                        .map(|sliver| sliver.symbols),
                    SliverType::Secondary => store
                        .sliver::<Secondary>(&blob_id, pair)?
                        .map(|sliver| sliver.symbols),
                };
                let Some(symbols) = symbols else { continue };
                for (&target, list) in answer.iter_mut() {
                    let Some(data) = symbols.get(usize::from(target)) else {
                        continue;
                    };
                    let (index, data) = (source_index.get(), data.to_vec());
                    list.push(match target_type {
                        SliverType::Primary => {
                            EitherDecodingSymbol::Primary(DecodingSymbol::new(index, data))
                        }
                        SliverType::Secondary => {
                            EitherDecodingSymbol::Secondary(DecodingSymbol::new(index, data))
                        }
                    });
                }
            }
            Ok(answer)
        })
        .await
    }

    /// `GET recoverySymbols?id=...[&proofAxis]`: the symbols named by `ids` that this node can
    /// prove from the slivers it serves: symbol `(P, S)` from secondary sliver `S` (a symbol
    /// for rebuilding primary sliver `P`) or from primary sliver `P` (for secondary sliver
    /// `S`), of `proof_axis` if given, else whichever is served (secondary first). Symbols of
    /// slivers not served or not stored are left out. Each source sliver is read and expanded
    /// once, however many of its symbols are asked. At most
    /// [`api::max_symbol_ids_per_request`] IDs for the blob's layout (INVALID_REQUEST
    /// beyond). BCS `Vec<GeneralRecoverySymbol>`.
    pub async fn recovery_symbols_by_id(
        &self,
        blob_id: BlobId,
        ids: &[SymbolId],
        proof_axis: Option<SliverType>,
    ) -> Result<Bytes, NodeError> {
        let metadata = self.serving_metadata(&blob_id).await?;
        let n = metadata.config().n_shards();
        let most = api::max_symbol_ids_per_request(metadata.layout());
        if ids.len() > most {
            return Err(NodeError::new(
                ErrorReason::InvalidRequest,
                format!(
                    "{} symbol IDs asked; at most {most} per request for this blob",
                    ids.len()
                ),
            ));
        }
        if let Some(id) = ids
            .iter()
            .find(|id| id.primary.get() >= n || id.secondary.get() >= n)
        {
            return Err(NodeError::new(
                ErrorReason::InvalidRequest,
                format!("symbol {id} out of range (n = {n})"),
            ));
        }
        self.symbols_by_id(metadata, ids, proof_axis).await
    }

    /// The symbols named by `ids` that this node can prove from the slivers it serves (as
    /// [`Self::recovery_symbols_by_id`], without its checks) for the blob of `metadata`; BCS
    /// `Vec<GeneralRecoverySymbol>`.
    pub(crate) async fn symbols_by_id(
        &self,
        metadata: VerifiedBlobMetadataWithId,
        ids: &[SymbolId],
        proof_axis: Option<SliverType>,
    ) -> Result<Bytes, NodeError> {
        let blob_id = *metadata.blob_id();
        let n = metadata.config().n_shards();
        let view = self.committee();
        let mut plan = SymbolPlan::new();
        for id in ids {
            // The pair holding secondary sliver `S` is `n - 1 - S`; primary sliver `P`, `P`.
            let (Some(in_secondary), in_primary) = (
                n.saturating_sub(1)
                    .checked_sub(id.secondary.get())
                    .map(SliverPairIndex),
                SliverPairIndex(id.primary.get()),
            ) else {
                continue;
            };
            let by_secondary = view.serves_pair(&blob_id, in_secondary).then_some((
                SliverType::Secondary,
                in_secondary,
                id.primary,
            ));
            let by_primary = view.serves_pair(&blob_id, in_primary).then_some((
                SliverType::Primary,
                in_primary,
                id.secondary,
            ));
            let source = match proof_axis {
                Some(SliverType::Secondary) => by_secondary,
                Some(SliverType::Primary) => by_primary,
                None => by_secondary.or(by_primary),
            };
            if let Some((axis, pair, target)) = source {
                plan.entry((axis, pair)).or_default().push(target);
            }
        }
        self.compute_symbols(blob_id, metadata, plan).await
    }

    /// The symbols of `plan` (source sliver -> targets) as BCS `Vec<GeneralRecoverySymbol>`,
    /// off the runtime: each source sliver read and expanded once, each symbol written
    /// straight from it; sources not stored give nothing.
    async fn compute_symbols(
        &self,
        blob_id: BlobId,
        metadata: VerifiedBlobMetadataWithId,
        plan: SymbolPlan,
    ) -> Result<Bytes, NodeError> {
        let store = self.store.clone();
        blocking(move || {
            let asked = plan.values().map(Vec::len).sum();
            let mut symbols = RecoverySymbolsBcs::with_capacity(asked, metadata.layout());
            for ((axis, pair), targets) in plan {
                match axis {
                    SliverType::Primary => source_symbols::<Primary>(
                        &store,
                        &blob_id,
                        pair,
                        &metadata,
                        &targets,
                        &mut symbols,
                    )?,
                    SliverType::Secondary => source_symbols::<Secondary>(
                        &store,
                        &blob_id,
                        pair,
                        &metadata,
                        &targets,
                        &mut symbols,
                    )?,
                }
            }
            Ok(symbols.into_bytes())
        })
        .await
    }

    /// `POST sync_shard`: the slivers of the request's shard and axis for the certified blobs
    /// from its starting blob ID, in blob-ID order, to the shard's owner in the current epoch
    /// (the signature must be its key's). Served by the node that held the shard before (or
    /// holds it now), from what it stores; blobs whose sliver it lacks are skipped. At most
    /// `max_concurrent_sync_shard_requests` at once (429 beyond), [`MAX_SYNC_SHARD_SLIVERS`]
    /// slivers and about [`SYNC_SHARD_BYTE_BUDGET`] bytes per answer.
    pub async fn sync_shard(
        &self,
        request: SignedSyncShardRequest,
    ) -> Result<SyncShardResponse, NodeError> {
        let message = request.decode_message().map_err(|error| {
            NodeError::new(
                ErrorReason::InvalidRequest,
                format!("invalid sync-shard request: {error}"),
            )
        })?;
        let view = self.committee();
        if message.epoch() != view.epoch {
            return Err(NodeError::new(
                ErrorReason::InvalidEpoch,
                format!(
                    "the request is for epoch {}, this node is in epoch {}",
                    message.epoch(),
                    view.epoch
                ),
            ));
        }
        let body = *message.contents();
        let shard = body.shard_index;
        if shard.0 >= view.n_shards {
            return Err(NodeError::new(
                ErrorReason::InvalidRequest,
                format!("shard {} out of range (n = {})", shard.0, view.n_shards),
            ));
        }
        let owner = view.shard_owner(shard).map(|index| &view.members[index]);
        let signed_by_owner =
            owner.is_some_and(|owner| request.verify_signature(&owner.public_key).is_ok());
        if !signed_by_owner {
            return Err(NodeError::new(
                ErrorReason::Unauthorized,
                format!(
                    "only the owner of shard {} in epoch {} may sync it",
                    shard.0, view.epoch
                ),
            ));
        }
        let held_before = view
            .previous
            .as_ref()
            .is_some_and(|previous| previous.own_shards.contains(&shard));
        if !held_before && !view.own_shards.contains(&shard) {
            return Err(NodeError::new(
                ErrorReason::ShardNotAssigned,
                format!(
                    "this node did not hold shard {} in epoch {}",
                    shard.0,
                    view.epoch - 1
                ),
            ));
        }
        let Ok(_slot) = self.sync_shard_slots.try_acquire() else {
            self.refused("busy");
            return Err(NodeError::new(
                ErrorReason::RateLimited,
                "too many shard-sync requests; retry later",
            ));
        };
        let store = self.store.clone();
        let (n_shards, epoch) = (view.n_shards, view.epoch);
        let wanted = body.sliver_count.min(MAX_SYNC_SHARD_SLIVERS);
        blocking(move || {
            let mut slivers = Vec::new();
            let mut bytes = 0;
            let blobs =
                store.certified_blobs_from(&body.starting_blob_id, MAX_SYNC_SHARD_SCAN, epoch)?;
            for blob_id in blobs {
                if slivers.len() as u64 >= wanted || bytes >= SYNC_SHARD_BYTE_BUDGET {
                    break;
                }
                let pair = shard.to_pair_index(n_shards, &blob_id);
                let sliver = match body.sliver_type {
                    SliverType::Primary => store
                        .sliver::<Primary>(&blob_id, pair)?
                        .map(Sliver::Primary),
                    SliverType::Secondary => store
                        .sliver::<Secondary>(&blob_id, pair)?
                        .map(Sliver::Secondary),
                };
                if let Some(sliver) = sliver {
                    bytes += bcs::serialized_size(&sliver).unwrap_or(0);
                    slivers.push((blob_id, sliver));
                }
            }
            Ok(SyncShardResponse::V1(slivers))
        })
        .await
    }

    /// Admits a `POST inconsistencyProof` before its body is read: the metadata must be
    /// stored; returns them and the largest legitimate proof body for `axis`.
    pub async fn admit_inconsistency_proof(
        &self,
        blob_id: &BlobId,
        axis: SliverType,
    ) -> Result<(VerifiedBlobMetadataWithId, usize), NodeError> {
        let metadata = self.verified_metadata(blob_id).await?;
        let limit = bounded::max_inconsistency_proof_len(metadata.layout(), axis);
        Ok((metadata, limit))
    }

    /// Decodes an inconsistency proof body for `axis`: refused unless it is at most the
    /// legitimate size and declares exactly the number of symbols a rebuild takes.
    pub fn decode_inconsistency_proof(
        metadata: &VerifiedBlobMetadataWithId,
        axis: SliverType,
        body: &[u8],
    ) -> Result<InconsistencyProofEither, NodeError> {
        let limit = bounded::max_inconsistency_proof_len(metadata.layout(), axis);
        if body.len() > limit {
            return Err(NodeError::new(
                ErrorReason::PayloadTooLarge,
                format!(
                    "proof of {} bytes; at most {limit} for this blob",
                    body.len()
                ),
            ));
        }
        let required = metadata.config().n_symbols_in_sliver(axis);
        // `{target_sliver_index: u16, recovery_symbols: Vec<_>}`: the count follows the index.
        let declared = bounded::sequence_length_at(body, 2);
        if declared != Some(required) {
            return Err(NodeError::new(
                ErrorReason::InvalidProof,
                format!("a proof carries {required} symbols, the body declares {declared:?}"),
            ));
        }
        let malformed = |error: bcs::Error| {
            NodeError::new(
                ErrorReason::InvalidProof,
                format!("malformed proof: {error}"),
            )
        };
        Ok(match axis {
            SliverType::Primary => {
                InconsistencyProofEither::Primary(bcs::from_bytes(body).map_err(malformed)?)
            }
            SliverType::Secondary => {
                InconsistencyProofEither::Secondary(bcs::from_bytes(body).map_err(malformed)?)
            }
        })
    }

    /// `POST inconsistencyProof`: verifies the proof against the stored metadata and, if it
    /// holds, signs an invalid-blob-ID attestation for the current epoch.
    pub async fn verify_inconsistency_proof(
        &self,
        blob_id: BlobId,
        proof: InconsistencyProofEither,
    ) -> Result<SignedInvalidBlobIdMsg, NodeError> {
        let metadata = self.verified_metadata(&blob_id).await?;
        blocking(move || {
            proof
                .verify(&metadata)
                .map_err(|error| NodeError::new(ErrorReason::InvalidProof, error.to_string()))
        })
        .await?;
        tracing::warn!(%blob_id, "verified an inconsistency proof; attesting the blob is invalid");
        Ok(self.sign_invalid(blob_id))
    }

    /// Signs an invalid-blob-ID attestation for the current epoch.
    pub(crate) fn sign_invalid(&self, blob_id: BlobId) -> SignedInvalidBlobIdMsg {
        self.keys
            .sign_message(&InvalidBlobIdMsg::new(self.committee().epoch, blob_id))
    }

    /// `GET status`.
    pub fn blob_status(&self, blob_id: &BlobId) -> Result<BlobStatus, NodeError> {
        Ok(self
            .store
            .blob_info(blob_id)?
            .status(self.committee().epoch))
    }
}

/// Most slivers one shard-sync answer carries (a request asking for more gets this many).
pub const MAX_SYNC_SHARD_SLIVERS: u64 = 1_000;
/// A shard-sync answer stops adding slivers once it holds this many bytes (at least one
/// sliver is always sent).
pub const SYNC_SHARD_BYTE_BUDGET: usize = 32 << 20;
/// Most certified blobs one shard-sync request scans (4x [`MAX_SYNC_SHARD_SLIVERS`]; blobs whose sliver is missing here are
/// skipped; the new owner recovers them).
const MAX_SYNC_SHARD_SCAN: usize = 4_000;
/// The largest legitimate shard-sync request body (a signed 50-byte message, 147 bytes).
pub const MAX_SYNC_SHARD_REQUEST_BYTES: usize = 256;

/// The sliver index pair `pair` holds on `axis`; a pair out of range is a bad request.
pub(crate) fn pair_sliver_index(
    axis: SliverType,
    pair: SliverPairIndex,
    n_shards: u16,
) -> Result<SliverIndex, NodeError> {
    pair.sliver_index(axis, n_shards).ok_or_else(|| {
        NodeError::new(
            ErrorReason::InvalidRequest,
            format!("pair {} is out of range for {n_shards} shards", pair.0),
        )
    })
}

/// Which symbols to compute: the targets of each source sliver (axis, pair).
type SymbolPlan = BTreeMap<(SliverType, SliverPairIndex), Vec<SliverIndex>>;

/// Appends to `out` the recovery symbols for `targets` from our sliver of axis `T` in pair
/// `pair`, if stored, read in place. With the sliver's stored tree nodes (if they lead to its
/// root in the metadata) nothing is hashed (an older store's leaf hashes alone are hashed up to
/// the root), and the sliver is expanded only if a target lies beyond its source part; without
/// them it is expanded and hashed once for all targets.
fn source_symbols<T: EncodingAxis>(
    store: &NodeStore,
    blob_id: &BlobId,
    pair: SliverPairIndex,
    metadata: &VerifiedBlobMetadataWithId,
    targets: &[SliverIndex],
    out: &mut RecoverySymbolsBcs,
) -> Result<(), NodeError> {
    let layout = metadata.layout();
    let expanded =
        store.with_sliver_and_tree_nodes::<T, _>(blob_id, pair, |sliver, tree_nodes| {
            let root = metadata.sliver_hash(T::TYPE, sliver.index());
            let from_nodes = match (tree_nodes, root) {
                (Some(nodes), Some(root)) => {
                    ExpandedSliver::with_tree_nodes(sliver, layout, nodes, root, targets)
                }
                _ => None,
            };
            from_nodes.unwrap_or_else(|| ExpandedSliver::from_bytes(sliver, layout))
        })?;
    let Some(expanded) = expanded else {
        return Ok(());
    };
    let expanded =
        expanded.map_err(|error| NodeError::new(ErrorReason::Internal, error.to_string()))?;
    for target in targets {
        out.push(&expanded, *target);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use walrus_core::{
        crypto::{Committee, CommitteeMember},
        encoding::GeneralRecoverySymbol,
        encoding::{encode_blob, EncodedBlob},
        messages::{SyncShardMsg, SyncShardRequestBody},
        ShardIndex,
    };
    use walrus_node_client::api::{EventCursor, EventId};

    use super::*;
    use crate::{
        committee::{MemberInfo, PreviousCommittee},
        store::{BlobObjectInfo, EventEffect},
    };

    const N: u16 = 4;
    const EPOCH: u32 = 5;

    fn keys(id: u8) -> ProtocolKeyPair {
        ProtocolKeyPair::from_seed([id; 32])
    }

    fn member(id: u8, shards: &[u16]) -> MemberInfo {
        MemberInfo {
            node_id: ObjectId([id; 32]),
            public_key: keys(id).public().clone(),
            url: String::new(),
            network_public_key: Vec::new(),
            shards: shards.iter().copied().map(ShardIndex).collect(),
        }
    }

    /// Node 1 (this node) held shards 0 and 1 and gave shard 1 to node 2; node 3 holds 2, 3.
    fn node(dir: &std::path::Path, in_transition: bool) -> StorageNode {
        let members = vec![member(1, &[0]), member(2, &[1]), member(3, &[2, 3])];
        let committee = Committee::new(
            EPOCH,
            N,
            members
                .iter()
                .map(|m| CommitteeMember {
                    public_key: m.public_key.clone(),
                    weight: u16::try_from(m.shards.len()).unwrap(),
                })
                .collect(),
        )
        .unwrap();
        let view = CommitteeView {
            epoch: EPOCH,
            n_shards: N,
            committee,
            members,
            own_index: Some(0),
            own_shards: [ShardIndex(0)].into(),
            previous: Some(PreviousCommittee {
                members: vec![member(1, &[0, 1]), member(3, &[2, 3])],
                own_shards: [ShardIndex(0), ShardIndex(1)].into(),
            }),
            in_transition,
        };
        let store = Arc::new(NodeStore::open(dir).unwrap());
        StorageNode::new(
            store,
            keys(1),
            view,
            Metrics::new(),
            Duration::ZERO,
            RequestLimits::default(),
            1 << 20,
        )
        .unwrap()
    }

    /// Stores certified blobs with all their slivers; returns them by blob ID.
    fn store_blobs(node: &StorageNode, count: u8) -> Vec<EncodedBlob> {
        let config = EncodingConfig::new(N).unwrap();
        let mut blobs: Vec<EncodedBlob> = (0..count)
            .map(|i| encode_blob(&config, &[i; 100]).unwrap())
            .collect();
        blobs.sort_by_key(|blob| *blob.metadata.blob_id());
        for (i, blob) in blobs.iter().enumerate() {
            register(node, blob.metadata.blob_id(), i as u64 + 1, Some(EPOCH - 1));
            crate::store::put_whole_blob(node.store(), blob);
        }
        blobs
    }

    /// Applies the registration of `blob_id` (a permanent blob object, certified in
    /// `certified_epoch` if given) as the event of `checkpoint`.
    fn register(
        node: &StorageNode,
        blob_id: &BlobId,
        checkpoint: u64,
        certified_epoch: Option<u32>,
    ) {
        node.store()
            .apply_event(
                EventCursor {
                    checkpoint,
                    event_index: 0,
                },
                Some(blob_id),
                |info| {
                    info.objects.insert(
                        ObjectId([9; 32]),
                        BlobObjectInfo {
                            deletable: false,
                            end_epoch: EPOCH + 10,
                            certified_epoch,
                            event: EventId::default(),
                        },
                    );
                    EventEffect::None
                },
            )
            .unwrap();
    }

    fn request(
        signer: u8,
        epoch: u32,
        shard: u16,
        from: BlobId,
        count: u64,
    ) -> SignedSyncShardRequest {
        keys(signer).sign_message(&SyncShardMsg::new(
            epoch,
            SyncShardRequestBody {
                shard_index: ShardIndex(shard),
                sliver_type: SliverType::Secondary,
                starting_blob_id: from,
                sliver_count: count,
            },
        ))
    }

    #[tokio::test]
    async fn a_pending_upload_right_after_the_registration_finds_the_buffered_metadata() {
        use walrus_node_client::api::UploadIntent;
        let dir = tempfile::tempdir().unwrap();
        let node = node(dir.path(), false);
        let config = EncodingConfig::new(N).unwrap();
        let blob = encode_blob(&config, &[7; 100]).unwrap();
        let blob_id = *blob.metadata.blob_id();
        // The metadata are buffered before the registration is seen.
        let buffered = node
            .put_metadata(
                blob_id,
                blob.metadata.metadata().clone(),
                UploadIntent::Pending,
            )
            .await
            .unwrap();
        assert!(buffered);
        assert!(node.store().metadata(&blob_id).unwrap().is_none());
        // The registration is applied, the buffer not flushed yet (the flusher's next round).
        register(&node, &blob_id, 1, None);
        assert!(node.registered_now(&blob_id).unwrap());
        // A sliver of this node's shard, uploaded as pending in that window, is stored.
        let pair = blob
            .sliver_pairs
            .iter()
            .find(|pair| pair.index().to_shard_index(N, &blob_id) == ShardIndex(0))
            .unwrap();
        let body = bcs::to_bytes(&pair.primary).unwrap();
        let stored = upload(
            &node,
            blob_id,
            pair.index(),
            SliverType::Primary,
            &body,
            UploadIntent::Pending,
        )
        .await;
        assert!(stored);
        assert!(node.store().metadata(&blob_id).unwrap().is_some());
        assert!(node
            .store()
            .sliver::<Primary>(&blob_id, pair.index())
            .unwrap()
            .is_some());
    }

    /// Uploads the BCS sliver `body` of `axis` in `pair` as a client does (admitted, then
    /// put); whether it was new.
    async fn upload(
        node: &StorageNode,
        blob_id: BlobId,
        pair: SliverPairIndex,
        axis: SliverType,
        body: &[u8],
        intent: walrus_node_client::api::UploadIntent,
    ) -> bool {
        let body = Bytes::copy_from_slice(body);
        let (metadata, length) = node
            .admit_sliver(&blob_id, pair, axis, intent)
            .await
            .unwrap();
        node.put_admitted_sliver(blob_id, pair, axis, metadata, length, body, intent)
            .await
            .unwrap()
    }

    /// The symbols of a BCS `Vec<GeneralRecoverySymbol>` answer.
    fn decoded(bcs_bytes: Bytes) -> Vec<GeneralRecoverySymbol> {
        bcs::from_bytes(&bcs_bytes).expect("a BCS list of recovery symbols")
    }

    /// Checks that `symbol` is a recovery symbol for `target` (on its own axis) proven against
    /// `metadata`.
    fn assert_symbol_verifies(
        symbol: GeneralRecoverySymbol,
        target: SliverIndex,
        metadata: &VerifiedBlobMetadataWithId,
    ) {
        match symbol.target_type() {
            SliverType::Primary => symbol
                .into_recovery_symbol::<Primary>(target)
                .unwrap()
                .verify(metadata, target),
            SliverType::Secondary => symbol
                .into_recovery_symbol::<Secondary>(target)
                .unwrap()
                .verify(metadata, target),
        }
        .unwrap();
    }

    /// `data` encoded, registered on `node` and its metadata stored there.
    async fn registered_with_metadata(node: &StorageNode, data: &[u8]) -> EncodedBlob {
        let config = EncodingConfig::new(N).unwrap();
        let blob = encode_blob(&config, data).unwrap();
        let blob_id = *blob.metadata.blob_id();
        register(node, &blob_id, 1, None);
        node.put_metadata(
            blob_id,
            blob.metadata.metadata().clone(),
            walrus_node_client::api::UploadIntent::Immediate,
        )
        .await
        .unwrap();
        blob
    }

    #[tokio::test]
    async fn registered_uploads_are_checked_in_place_and_stored_byte_for_byte() {
        use walrus_node_client::api::UploadIntent;
        let dir = tempfile::tempdir().unwrap();
        let node = node(dir.path(), false);
        let data: Vec<u8> = (0..20_000u32).map(|i| i.to_le_bytes()[0] ^ 0x5a).collect();
        let blob = registered_with_metadata(&node, &data).await;
        let blob_id = *blob.metadata.blob_id();
        let own = blob
            .sliver_pairs
            .iter()
            .find(|pair| node.committee().holds_pair(&blob_id, pair.index()))
            .expect("the node holds a pair");
        let other = blob
            .sliver_pairs
            .iter()
            .find(|pair| pair.index() != own.index())
            .unwrap();
        let refusal = |axis, body: Vec<u8>| {
            let node = &node;
            async move {
                let (metadata, length) = node
                    .admit_sliver(&blob_id, own.index(), axis, UploadIntent::Immediate)
                    .await
                    .unwrap();
                node.put_admitted_sliver(
                    blob_id,
                    own.index(),
                    axis,
                    metadata,
                    length,
                    Bytes::from(body),
                    UploadIntent::Immediate,
                )
                .await
                .unwrap_err()
                .reason
            }
        };
        // Another pair's sliver (same length): the index is not the one this pair holds.
        let foreign = bcs::to_bytes(&other.primary).unwrap();
        assert_eq!(
            refusal(SliverType::Primary, foreign).await,
            ErrorReason::SliverIndexMismatch
        );
        // The right length, but a symbol size of zero: not a sliver.
        let mut malformed = bcs::to_bytes(&own.primary).unwrap();
        let symbol_size_at = malformed.len() - 4;
        malformed[symbol_size_at..symbol_size_at + 2].fill(0);
        assert_eq!(
            refusal(SliverType::Primary, malformed).await,
            ErrorReason::InvalidSliver
        );
        // A flipped symbol byte: decodes, does not verify.
        let mut flipped = bcs::to_bytes(&own.secondary).unwrap();
        flipped[10] ^= 1;
        assert_eq!(
            refusal(SliverType::Secondary, flipped).await,
            ErrorReason::InvalidSliver
        );
        assert!(node
            .store()
            .sliver::<Primary>(&blob_id, own.index())
            .unwrap()
            .is_none());
        // The honest bodies are stored as they came: read back byte for byte.
        for (axis, body) in [
            (SliverType::Primary, bcs::to_bytes(&own.primary).unwrap()),
            (
                SliverType::Secondary,
                bcs::to_bytes(&own.secondary).unwrap(),
            ),
        ] {
            assert!(
                upload(
                    &node,
                    blob_id,
                    own.index(),
                    axis,
                    &body,
                    UploadIntent::Immediate
                )
                .await
            );
        }
        let primary = node
            .store()
            .sliver::<Primary>(&blob_id, own.index())
            .unwrap();
        assert_eq!(
            bcs::to_bytes(&primary.unwrap()).unwrap(),
            bcs::to_bytes(&own.primary).unwrap()
        );
        let secondary = node
            .store()
            .sliver::<Secondary>(&blob_id, own.index())
            .unwrap();
        assert_eq!(secondary.as_ref(), Some(&own.secondary));
    }

    #[tokio::test]
    async fn uploaded_large_slivers_serve_recovery_symbols_from_their_tree_nodes() {
        use walrus_node_client::api::UploadIntent;
        let dir = tempfile::tempdir().unwrap();
        let node = node(dir.path(), false);
        let data: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        let blob = registered_with_metadata(&node, &data).await;
        let blob_id = *blob.metadata.blob_id();
        let served: Vec<_> = blob
            .sliver_pairs
            .iter()
            .filter(|pair| node.committee().holds_pair(&blob_id, pair.index()))
            .collect();
        assert!(!served.is_empty());
        for pair in &served {
            for (axis, body) in [
                (SliverType::Primary, bcs::to_bytes(&pair.primary).unwrap()),
                (
                    SliverType::Secondary,
                    bcs::to_bytes(&pair.secondary).unwrap(),
                ),
            ] {
                let stored = upload(
                    &node,
                    blob_id,
                    pair.index(),
                    axis,
                    &body,
                    UploadIntent::Immediate,
                )
                .await;
                assert!(stored);
            }
            // The upload's verification left the whole tree beside both slivers.
            let (_, primary_nodes) = node
                .store()
                .with_sliver_and_tree_nodes::<Primary, _>(&blob_id, pair.index(), |_, nodes| {
                    ((), nodes)
                })
                .unwrap()
                .unwrap();
            let (_, secondary_nodes) = node
                .store()
                .with_sliver_and_tree_nodes::<Secondary, _>(&blob_id, pair.index(), |_, nodes| {
                    ((), nodes)
                })
                .unwrap()
                .unwrap();
            let tree_nodes = walrus_core::merkle::MerkleTree::node_count(usize::from(N));
            assert_eq!(primary_nodes.map(|nodes| nodes.len()), Some(tree_nodes));
            assert_eq!(secondary_nodes.map(|nodes| nodes.len()), Some(tree_nodes));
        }
        // Every target of both axes, source and repair: one verified symbol per served pair.
        for target in (0..N).map(SliverIndex) {
            for target_type in [SliverType::Primary, SliverType::Secondary] {
                let symbols = node
                    .recovery_symbols(blob_id, target, target_type)
                    .await
                    .map(decoded)
                    .unwrap();
                assert_eq!(symbols.len(), served.len(), "{target_type} {target:?}");
                for symbol in symbols {
                    assert_symbol_verifies(symbol, target, &blob.metadata);
                }
            }
        }
    }

    #[tokio::test]
    async fn decoding_symbols_are_the_recovery_symbols_of_source_slivers_without_proofs() {
        let dir = tempfile::tempdir().unwrap();
        let node = node(dir.path(), false);
        let blob = store_blobs(&node, 1).remove(0);
        let blob_id = *blob.metadata.blob_id();
        let config = EncodingConfig::new(N).unwrap();
        for target_type in [SliverType::Primary, SliverType::Secondary] {
            let sources = u16::try_from(config.n_source_symbols(target_type)).unwrap();
            let query = api::DecodingSymbolsQuery {
                target_slivers: (0..sources).collect(),
                target_type,
            };
            let answer = node.decoding_symbols(blob_id, &query).await.unwrap();
            assert_eq!(answer.len(), usize::from(sources), "{target_type}");
            for (target, symbols) in answer {
                // The node serves one pair: one symbol per target, the same bytes as the
                // (verified) recovery symbol for that target.
                let recovery = node
                    .recovery_symbols(blob_id, SliverIndex(target), target_type)
                    .await
                    .map(decoded)
                    .unwrap();
                assert_eq!(symbols.len(), 1);
                assert_eq!(recovery.len(), 1);
                assert_eq!(symbols[0], recovery[0].symbol, "{target_type} {target}");
                assert_symbol_verifies(recovery[0].clone(), SliverIndex(target), &blob.metadata);
            }
            // A repair sliver is not a target.
            let repair = api::DecodingSymbolsQuery {
                target_slivers: vec![0, sources],
                target_type,
            };
            let error = node.decoding_symbols(blob_id, &repair).await.unwrap_err();
            assert_eq!(error.reason, ErrorReason::InvalidRequest, "{error:?}");
        }
        let unknown = api::DecodingSymbolsQuery {
            target_slivers: vec![0],
            target_type: SliverType::Primary,
        };
        let error = node
            .decoding_symbols(BlobId([7; 32]), &unknown)
            .await
            .unwrap_err();
        assert_eq!(error.reason, ErrorReason::MetadataNotFound, "{error:?}");
    }

    #[tokio::test]
    async fn symbols_are_served_with_cached_metadata_only_while_they_are_stored() {
        let dir = tempfile::tempdir().unwrap();
        let node = node(dir.path(), false);
        let blob = store_blobs(&node, 1).remove(0);
        let blob_id = *blob.metadata.blob_id();
        let ask = || node.recovery_symbols(blob_id, SliverIndex(0), SliverType::Primary);
        // The first request verifies and caches the metadata, the second takes them from the
        // cache: the same answer.
        let first = ask().await.unwrap();
        assert!(node.cached_metadata().contains_key(&blob_id));
        assert_eq!(ask().await.unwrap(), first);
        assert!(!decoded(first).is_empty());
        // Deleted: the cached metadata no longer answer.
        node.store().delete_blob_data(&blob_id).unwrap();
        assert!(node.cached_metadata().contains_key(&blob_id));
        let error = ask().await.unwrap_err();
        assert_eq!(error.reason, ErrorReason::MetadataNotFound);
    }

    #[tokio::test]
    async fn symbols_by_id_come_from_the_served_slivers() {
        let dir = tempfile::tempdir().unwrap();
        let node = node(dir.path(), false);
        let blob = store_blobs(&node, 1).remove(0);
        let blob_id = *blob.metadata.blob_id();
        let [pair] = node.committee().own_pairs(&blob_id)[..] else {
            panic!("one pair");
        };
        let primary = pair.primary_sliver_index();
        let secondary = pair.secondary_sliver_index(N).unwrap();
        // Every symbol of the served secondary sliver, every symbol of the served primary
        // sliver, and one in neither.
        let mut ids: Vec<SymbolId> = (0..N)
            .map(|p| SymbolId::new(SliverIndex(p), secondary))
            .chain((0..N).map(|s| SymbolId::new(primary, SliverIndex(s))))
            .chain([SymbolId::new(
                SliverIndex((primary.get() + 1) % N),
                SliverIndex((secondary.get() + 1) % N),
            )])
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let metadata = &blob.metadata;

        // Proven in the secondary sliver: one symbol per primary target, as the one-target
        // form answers them, each verifying.
        let symbols = node
            .recovery_symbols_by_id(blob_id, &ids, Some(SliverType::Secondary))
            .await
            .map(decoded)
            .unwrap();
        assert_eq!(symbols.len(), usize::from(N));
        for symbol in &symbols {
            let target = symbol.target_index;
            assert_eq!(symbol.target_type(), SliverType::Primary);
            let single = node
                .recovery_symbols(blob_id, target, SliverType::Primary)
                .await
                .map(decoded)
                .unwrap();
            assert_eq!(single, std::slice::from_ref(symbol));
            let typed = symbol
                .clone()
                .into_recovery_symbol::<Primary>(target)
                .unwrap();
            assert_eq!(typed.symbol.index, secondary.get());
            typed.verify(metadata, target).unwrap();
        }
        // Proven in the primary sliver: one symbol per secondary target.
        let symbols = node
            .recovery_symbols_by_id(blob_id, &ids, Some(SliverType::Primary))
            .await
            .map(decoded)
            .unwrap();
        assert_eq!(symbols.len(), usize::from(N));
        for symbol in symbols {
            let target = symbol.target_index;
            let typed = symbol.into_recovery_symbol::<Secondary>(target).unwrap();
            assert_eq!(typed.symbol.index, primary.get());
            typed.verify(metadata, target).unwrap();
        }
        // Either: the secondary sliver's where both hold the symbol.
        let symbols = node
            .recovery_symbols_by_id(blob_id, &ids, None)
            .await
            .map(decoded)
            .unwrap();
        assert_eq!(symbols.len(), usize::from(2 * N - 1));

        // Out of range, or more IDs than one answer may hold.
        let out_of_range = [SymbolId::new(SliverIndex(N), SliverIndex(0))];
        let error = node
            .recovery_symbols_by_id(blob_id, &out_of_range, None)
            .await
            .map(decoded)
            .unwrap_err();
        assert_eq!(error.reason, ErrorReason::InvalidRequest);
        let most = api::max_symbol_ids_per_request(metadata.layout());
        let too_many = vec![ids[0]; most + 1];
        let error = node
            .recovery_symbols_by_id(blob_id, &too_many, None)
            .await
            .map(decoded)
            .unwrap_err();
        assert_eq!(error.reason, ErrorReason::InvalidRequest);
    }

    #[tokio::test]
    async fn the_new_owner_pulls_a_given_away_shard_in_blob_order() {
        let dir = tempfile::tempdir().unwrap();
        let node = node(dir.path(), true);
        let blobs = store_blobs(&node, 3);
        let ids: Vec<BlobId> = blobs.iter().map(|b| *b.metadata.blob_id()).collect();
        // Node 2 owns shard 1 now: all three secondary slivers, in blob-ID order.
        let SyncShardResponse::V1(slivers) = node
            .sync_shard(request(2, EPOCH, 1, BlobId([0; 32]), 10))
            .await
            .unwrap();
        assert_eq!(slivers.iter().map(|(id, _)| *id).collect::<Vec<_>>(), ids);
        for ((blob_id, sliver), blob) in slivers.iter().zip(&blobs) {
            let pair = ShardIndex(1).to_pair_index(N, blob_id);
            assert_eq!(
                sliver,
                &Sliver::Secondary(blob.sliver_pairs[usize::from(pair.0)].secondary.clone())
            );
        }
        // From the second blob, at most one sliver.
        let SyncShardResponse::V1(slivers) = node
            .sync_shard(request(2, EPOCH, 1, ids[1], 1))
            .await
            .unwrap();
        assert_eq!(slivers.len(), 1);
        assert_eq!(slivers[0].0, ids[1]);
        // A blob whose sliver this node lacks is skipped.
        node.store().delete_blob_data(&ids[0]).unwrap();
        let SyncShardResponse::V1(slivers) = node
            .sync_shard(request(2, EPOCH, 1, BlobId([0; 32]), 10))
            .await
            .unwrap();
        assert_eq!(
            slivers.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
            ids[1..]
        );
    }

    #[tokio::test]
    async fn only_the_current_owner_may_pull_and_only_what_this_node_held() {
        let dir = tempfile::tempdir().unwrap();
        let node = node(dir.path(), true);
        store_blobs(&node, 1);
        let refused = |result: Result<SyncShardResponse, NodeError>| result.unwrap_err().reason;
        // Node 3 does not own shard 1; nobody unknown does either.
        assert_eq!(
            refused(
                node.sync_shard(request(3, EPOCH, 1, BlobId([0; 32]), 1))
                    .await
            ),
            ErrorReason::Unauthorized
        );
        assert_eq!(
            refused(
                node.sync_shard(request(7, EPOCH, 1, BlobId([0; 32]), 1))
                    .await
            ),
            ErrorReason::Unauthorized
        );
        // Another epoch.
        assert_eq!(
            refused(
                node.sync_shard(request(2, EPOCH - 1, 1, BlobId([0; 32]), 1))
                    .await
            ),
            ErrorReason::InvalidEpoch
        );
        // Shard 2 was never ours, even asked by its owner.
        assert_eq!(
            refused(
                node.sync_shard(request(3, EPOCH, 2, BlobId([0; 32]), 1))
                    .await
            ),
            ErrorReason::ShardNotAssigned
        );
        // Out of range.
        assert_eq!(
            refused(
                node.sync_shard(request(2, EPOCH, N, BlobId([0; 32]), 1))
                    .await
            ),
            ErrorReason::InvalidRequest
        );
        // A signature over other bytes.
        let mut forged = request(2, EPOCH, 1, BlobId([0; 32]), 1);
        forged.serialized_message[10] ^= 1;
        assert_eq!(
            refused(node.sync_shard(forged).await),
            ErrorReason::Unauthorized
        );
    }

    #[tokio::test]
    async fn given_away_slivers_are_read_until_the_change_is_done() {
        let dir = tempfile::tempdir().unwrap();
        let (blob_id, pair) = {
            let node = node(dir.path(), true);
            let blobs = store_blobs(&node, 1);
            let blob_id = *blobs[0].metadata.blob_id();
            let pair = ShardIndex(1).to_pair_index(N, &blob_id);
            assert!(node
                .get_sliver(blob_id, pair, SliverType::Primary)
                .await
                .is_ok());
            // Uploads to a given-away shard are refused.
            assert_eq!(
                node.check_pair(&blob_id, pair, false).unwrap_err().reason,
                ErrorReason::ShardNotAssigned
            );
            (blob_id, pair)
        };
        let node = node(dir.path(), false);
        assert_eq!(
            node.get_sliver(blob_id, pair, SliverType::Primary)
                .await
                .unwrap_err()
                .reason,
            ErrorReason::ShardNotAssigned
        );
        let own_pair = ShardIndex(0).to_pair_index(N, &blob_id);
        assert!(node
            .get_sliver(blob_id, own_pair, SliverType::Primary)
            .await
            .is_ok());
    }
}
