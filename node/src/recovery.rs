//! Self-healing: after a blob is certified, the node rebuilds every sliver of its shards it
//! is missing from peers' recovery symbols (Red Stuff: a primary sliver from `n - f` symbols,
//! a secondary one from `n - 2f`, each a `1/n` share of a sliver, so rebuilding a sliver costs
//! about one sliver of traffic). A rebuilt sliver that does not match the metadata yields an
//! inconsistency proof: the node shares it, collects invalid-blob attestations until they
//! carry `f + 1` shards of weight, and submits the certificate on chain.
//!
//! Work comes from the durable recovery list in the store (filled by the follower in the same
//! transaction as the `BlobCertified` event), so a crash mid-recovery resumes. At most
//! `max_concurrent_blobs` blobs are recovered at once, at most `max_concurrent_requests` symbol
//! requests are in flight (so a node catching up does not flood its peers), and the symbols
//! and rebuilt slivers held at once are bounded by `max_in_flight_bytes`, estimated from each
//! blob's layout before its symbols are asked: memory stays bounded however many blobs wait.
//!
//! A blob's missing slivers are rebuilt one axis at a time, all slivers of the axis together:
//! each peer is asked once for the symbols of every missing sliver it can help with, in one
//! request of the list form of `GET recoverySymbols` (`?id=<P-S>&...&proofAxis=`, named symbol
//! by symbol, so that a peer sends only what is still missing); the rebuilt slivers are stored
//! concurrently (one group commit).
//!
//! Peers may lie, and recovery must not stall on them. Every answer is checked when it arrives,
//! never trusted for arriving first (`collect_symbols`): a peer's answer is capped, before it
//! is decoded, at what the symbols asked can weigh; each symbol must be one that was asked of
//! that peer (axis, target sliver and source sliver, which is one of a shard the peer holds in
//! the current committee), once, and verify against the verified metadata (large answers are
//! verified on the blocking pool). Only such symbols are kept (one per source sliver and
//! target); anything else makes the answer a lie. Peers are asked in order, each at most once
//! per sliver, just enough to cover every sliver's shortfall; more when answers fall short or
//! when a request has been out for `HEDGE_AFTER` (a silent peer does not hold the recovery
//! up). A peer that answers 429 (its symbol computations are busy) is asked again after a
//! short pause, a few times. When every peer was asked and valid symbols are still short, the
//! slivers rebuilt are kept and the blob is retried after `retry_delay`. Liars are recorded in
//! the worker's `LiarBook` (warned about, counted in `walrus_node_recovery_lies_total`) and
//! asked last from then on; a record is forgotten `LIE_MEMORY` after the peer's last lie, and
//! the book is bounded. Metadata fetched from peers are capped by the shard count and must
//! verify against the blob ID, or the answer is a lie too.

use std::{
    cmp::Reverse,
    collections::{BTreeMap, BTreeSet, HashMap, HashSet},
    sync::{Arc, Mutex, OnceLock},
    time::{Duration, Instant},
};

use tokio::{
    sync::{mpsc, watch, Semaphore},
    task::JoinSet,
};
use walrus_chain::client::WalrusClient;
use walrus_core::{
    crypto::Threshold,
    encoding::{
        recover_slivers_from_verified, verify_recovery_symbols, EitherDecodingSymbol, EncodingAxis,
        EncodingConfig, GeneralRecoverySymbol, InconsistencyProofEither, Primary, RecoveryError,
        Secondary, SymbolVerificationError, VerifiedRecoverySymbol,
    },
    merkle::Node,
    messages::{InvalidBlobCertificate, SignedInvalidBlobIdMsg},
    metadata::{BlobMetadataWithId, VerifiedBlobMetadataWithId},
    BlobId, ObjectId, ShardIndex, SliverIndex, SliverPairIndex, SliverType,
};
use walrus_node_client::{
    api::{max_symbol_ids_per_request, ErrorReason, SymbolId},
    client::{metadata_response_limit, recovery_symbols_response_limit},
    NodeClient, NodeClientError, NodeConnector,
};

use crate::node::{blocking, pair_sliver_index, NodeError, StorageNode};

/// How long a symbol request may be out before a collection stops counting on it and asks the
/// next peers to cover its share (its answer is still used if it comes): a peer that stalls
/// does not hold a recovery up for its whole request timeout.
const HEDGE_AFTER: Duration = Duration::from_secs(3);

/// Answers with more symbol bytes than this are verified on the blocking pool.
const INLINE_VERIFY_BYTES: usize = 64 << 10;

/// How long the [`LiarBook`] remembers a peer after its last lie.
const LIE_MEMORY: Duration = Duration::from_secs(30 * 60);

/// Most peers the [`LiarBook`] remembers (the one whose last lie is oldest goes first).
const MAX_LIAR_RECORDS: usize = 1024;

/// Limits of the recovery worker.
#[derive(Debug, Clone, Copy)]
pub struct RecoveryLimits {
    /// Blobs recovered at the same time.
    pub max_concurrent_blobs: usize,
    /// Symbol (and metadata) requests to peers in flight at the same time.
    pub max_concurrent_requests: usize,
    /// Bytes of symbols and rebuilt slivers held at the same time (estimated per blob from its
    /// layout; a blob larger than this is rebuilt a few slivers at a time), and a quarter more
    /// of symbols kept between a blob's two axes.
    pub max_in_flight_bytes: usize,
    /// Wait before retrying a blob whose recovery failed.
    pub retry_delay: Duration,
}

impl Default for RecoveryLimits {
    fn default() -> Self {
        Self {
            max_concurrent_blobs: 16,
            max_concurrent_requests: 64,
            max_in_flight_bytes: 256 << 20,
            retry_delay: Duration::from_secs(2),
        }
    }
}

/// Why one blob's recovery did not finish.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RecoveryFailure {
    #[error("no peer returned valid metadata")]
    NoMetadata,
    #[error("sliver {axis:?} {index}: {error}")]
    Sliver {
        axis: SliverType,
        index: u16,
        error: RecoveryError,
    },
    #[error(transparent)]
    Node(#[from] NodeError),
}

/// The recovery worker's shared state (also used by the shard sync for metadata and the
/// lies of previous owners).
#[derive(Debug)]
pub(crate) struct Worker {
    node: Arc<StorageNode>,
    chain: Arc<WalrusClient>,
    http: NodeConnector,
    limits: RecoveryLimits,
    requests: Arc<Semaphore>,
    /// The memory budget, in KiB (`max_in_flight_bytes`).
    memory: Arc<Semaphore>,
    in_flight: Mutex<HashSet<BlobId>>,
    liars: LiarBook,
}

impl Worker {
    /// The worker of `node`, asking peers through `http` (pinned to their network keys when
    /// they serve HTTPS) within `limits`.
    pub(crate) fn new(
        node: Arc<StorageNode>,
        chain: Arc<WalrusClient>,
        http: NodeConnector,
        limits: RecoveryLimits,
    ) -> Arc<Self> {
        Arc::new(Worker {
            node,
            chain,
            http,
            limits,
            requests: Arc::new(Semaphore::new(limits.max_concurrent_requests.max(1))),
            memory: Arc::new(Semaphore::new(budget_kib(limits.max_in_flight_bytes))),
            in_flight: Mutex::new(HashSet::new()),
            liars: LiarBook::default(),
        })
    }
}

/// Runs the recovery worker until `shutdown` flips: blobs from the store's recovery list at
/// start, then from `queue`.
pub(crate) async fn run_recovery(
    worker: Arc<Worker>,
    queue_sender: mpsc::UnboundedSender<BlobId>,
    mut queue: mpsc::UnboundedReceiver<BlobId>,
    mut shutdown: watch::Receiver<bool>,
) {
    let limits = worker.limits;
    match worker.node.store().pending_recoveries() {
        Ok(pending) => {
            for blob_id in pending {
                let _ = queue_sender.send(blob_id);
            }
        }
        Err(error) => tracing::error!(%error, "cannot read the recovery list"),
    }
    let blobs = Arc::new(Semaphore::new(limits.max_concurrent_blobs.max(1)));
    let mut tasks = JoinSet::new();
    loop {
        let blob_id = tokio::select! {
            _ = shutdown.changed() => break,
            next = queue.recv() => match next {
                Some(blob_id) => blob_id,
                None => break,
            },
        };
        {
            let mut in_flight = worker.in_flight.lock().unwrap_or_else(|p| p.into_inner());
            if !in_flight.insert(blob_id) {
                continue;
            }
        }
        let Ok(permit) = blobs.clone().acquire_owned().await else {
            break;
        };
        let worker = worker.clone();
        let retry = queue_sender.clone();
        tasks.spawn(async move {
            let result = worker.recover_blob(blob_id).await;
            drop(permit);
            worker
                .in_flight
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&blob_id);
            if let Err(error) = result {
                worker
                    .node
                    .metrics()
                    .recoveries
                    .with_label_values(&["failed"])
                    .inc();
                tracing::warn!(%blob_id, %error, "recovery failed; will retry");
                tokio::time::sleep(worker.limits.retry_delay).await;
                let _ = retry.send(blob_id);
            }
        });
        while tasks.try_join_next().is_some() {}
    }
    tasks.abort_all();
}

impl Worker {
    /// The nodes serving slivers now (the other committee members and, while shards move, the
    /// previous owners of the moved shards), those with the fewest remembered lies first
    /// (committee order among equals).
    fn peers(&self) -> Vec<Peer> {
        self.peers_by(|_| ())
    }

    /// Like [`Self::peers`], ordered by `key` among peers with as many remembered lies.
    fn peers_by<K: Ord>(&self, key: impl Fn(&Peer) -> K) -> Vec<Peer> {
        let view = self.node.committee();
        let mut peers: Vec<Peer> = view
            .serving_peers()
            .into_iter()
            .filter_map(|member| {
                let index = view
                    .members
                    .iter()
                    .position(|m| m.node_id == member.node_id);
                self.http
                    .client(&member.url, &member.network_public_key)
                    .ok()
                    .map(|client| Peer {
                        index,
                        node_id: member.node_id,
                        client,
                        shards: member.shards,
                    })
            })
            .collect();
        self.liars.order(&mut peers, Instant::now(), key);
        peers
    }

    /// Records `lies` told while recovering `blob_id`: in the liar book, the metrics and the
    /// log.
    fn note_lies(&self, blob_id: &BlobId, lies: impl IntoIterator<Item = (ObjectId, Lie)>) {
        let now = Instant::now();
        for (node, lie) in lies {
            let count = self.liars.record(node, now);
            self.node.metrics().recovery_lies.inc();
            tracing::warn!(
                %blob_id, %node, lies = count, %lie,
                "peer lied to recovery; asking it last"
            );
        }
    }

    /// The verified metadata of `blob_id`: stored, or fetched from peers, verified and stored.
    pub(crate) async fn metadata(
        &self,
        blob_id: &BlobId,
        n_shards: u16,
    ) -> Result<VerifiedBlobMetadataWithId, RecoveryFailure> {
        if let Ok(metadata) = self.node.verified_metadata(blob_id).await {
            return Ok(metadata);
        }
        let metadata = self.fetch_metadata(blob_id, n_shards).await?;
        self.node.store_fetched_metadata(&metadata).await?;
        Ok(metadata)
    }

    /// Records that `node` (a previous shard owner) lied in a shard sync.
    pub(crate) fn note_sync_lie(&self, blob_id: &BlobId, node: ObjectId, problem: String) {
        self.note_lies(blob_id, [(node, Lie::Malformed(problem))]);
    }

    /// Takes `blob_id` off the recovery list (off the runtime: the commit may wait for a group
    /// commit in progress).
    async fn finish(&self, blob_id: BlobId) -> Result<(), NodeError> {
        let store = self.node.store().clone();
        blocking(move || Ok(store.finish_recovery(&blob_id)?)).await
    }

    /// Recovers whatever `blob_id` misses on our shards; `Ok` when nothing is left to do.
    async fn recover_blob(&self, blob_id: BlobId) -> Result<(), RecoveryFailure> {
        let view = self.node.committee();
        let info = self
            .node
            .store()
            .blob_info(&blob_id)
            .map_err(NodeError::from)?;
        if !info.is_certified(view.epoch) {
            // Deleted, expired or invalid meanwhile: nothing to recover.
            self.finish(blob_id).await?;
            return Ok(());
        }
        let missing = self.node.missing_slivers(&blob_id)?;
        let has_metadata = self
            .node
            .store()
            .metadata(&blob_id)
            .map_err(NodeError::from)?
            .is_some();
        if missing.is_empty() && has_metadata {
            self.finish(blob_id).await?;
            return Ok(());
        }
        tracing::debug!(%blob_id, missing = missing.len(), has_metadata, "recovering");
        // Fetched metadata are stored with the first slivers rebuilt (one commit).
        let (metadata, mut unstored) = match self.node.verified_metadata(&blob_id).await {
            Ok(metadata) => (metadata, None),
            Err(_) => {
                let metadata = self.fetch_metadata(&blob_id, view.n_shards).await?;
                (metadata.clone(), Some(metadata))
            }
        };
        let rebuilt = self
            .rebuild_missing(&metadata, &missing, &mut unstored)
            .await;
        if let Some(metadata) = unstored {
            self.node.store_fetched_metadata(&metadata).await?;
        }
        match rebuilt {
            Ok(()) => {}
            Err(RecoveryFailure::Sliver {
                error: RecoveryError::Inconsistent(proof),
                ..
            }) => {
                self.node
                    .metrics()
                    .recoveries
                    .with_label_values(&["inconsistent"])
                    .inc();
                tracing::warn!(%blob_id, "inconsistent encoding: proving the blob invalid");
                self.prove_invalid(blob_id, *proof).await?;
                self.finish(blob_id).await?;
                return Ok(());
            }
            Err(error) => return Err(error),
        }
        self.finish(blob_id).await?;
        self.node
            .metrics()
            .recoveries
            .with_label_values(&["ok"])
            .inc();
        tracing::debug!(%blob_id, "recovered");
        Ok(())
    }

    /// Metadata from the first peer (fewest lies first) whose answer, capped at what metadata
    /// of `n_shards` shards can weigh, verifies against the blob ID.
    async fn fetch_metadata(
        &self,
        blob_id: &BlobId,
        n_shards: u16,
    ) -> Result<VerifiedBlobMetadataWithId, RecoveryFailure> {
        let config = EncodingConfig::new(n_shards)
            .map_err(|e| NodeError::new(ErrorReason::Internal, e.to_string()))?;
        let limit = metadata_response_limit(n_shards);
        // Peers in order (fewest lies first), one more each time `HEDGE_AFTER` passes
        // without a valid answer, so a silent peer cannot stall the recovery.
        let mut peers = self.peers().into_iter();
        let mut requests = JoinSet::new();
        loop {
            let next = if requests.is_empty() {
                None
            } else {
                tokio::time::timeout(HEDGE_AFTER, requests.join_next())
                    .await
                    .ok()
                    .flatten()
            };
            let joined = match next {
                Some(joined) => joined,
                // Nothing in flight, or the ones in flight are slow: ask the next peer.
                None => match peers.next() {
                    Some(peer) => {
                        let requests_limit = self.requests.clone();
                        let blob_id = *blob_id;
                        requests.spawn(async move {
                            let _permit = requests_limit.acquire_owned().await;
                            let answer = peer.client.get_metadata_with_limit(&blob_id, limit).await;
                            (peer.node_id, answer)
                        });
                        continue;
                    }
                    None if requests.is_empty() => break,
                    None => match requests.join_next().await {
                        Some(joined) => joined,
                        None => break,
                    },
                },
            };
            let Ok((node_id, answer)) = joined else {
                continue;
            };
            let metadata = match answer {
                Ok(metadata) => metadata,
                Err(error) => {
                    self.note_lies(blob_id, Lie::from_error(&error).map(|l| (node_id, l)));
                    continue;
                }
            };
            let size = bcs::serialized_size(&metadata).unwrap_or(0);
            self.node
                .metrics()
                .recovery_bytes_fetched
                .inc_by(size as u64);
            if metadata.blob_id != *blob_id {
                self.note_lies(
                    blob_id,
                    [(
                        node_id,
                        Lie::Malformed(format!("metadata of blob {}", metadata.blob_id)),
                    )],
                );
                continue;
            }
            match BlobMetadataWithId::verify(metadata, &config) {
                Ok(verified) => {
                    requests.abort_all();
                    return Ok(verified);
                }
                Err(error) => {
                    self.note_lies(blob_id, [(node_id, Lie::BadMetadata(error.to_string()))]);
                }
            }
        }
        Err(RecoveryFailure::NoMetadata)
    }

    /// Rebuilds and stores the `missing` slivers of the blob of `metadata`, one axis at a time
    /// (`unstored`: metadata to store with the first slivers, taken once stored).
    async fn rebuild_missing(
        &self,
        metadata: &VerifiedBlobMetadataWithId,
        missing: &[(SliverPairIndex, SliverType)],
        unstored: &mut Option<VerifiedBlobMetadataWithId>,
    ) -> Result<(), RecoveryFailure> {
        // One axis first, then the other: each sliver rebuilt first is a free symbol for every
        // sliver of the other axis rebuilt after it, so the second axis has every source
        // sliver, its systematic ones included (a copy, no Reed-Solomon decode). The first axis
        // decodes only if we miss one of its systematic source slivers (of the other axis):
        // start with the axis for which we miss none, if any (primaries by default). A
        // primary sliver needs `n - f` symbols: if our peers hold fewer shards (we hold more
        // than `f`), the secondary slivers (`n - 2f` symbols each) come first regardless.
        let view = self.node.committee();
        let config = metadata.config();
        let n = config.n_shards();
        let peer_shards = usize::from(n).saturating_sub(view.own_shards.len());
        let decodes_first = |axis: SliverType| {
            let systematic = required_u16(config.n_symbols_in_sliver(axis));
            missing.iter().any(|(pair, missing_axis)| {
                *missing_axis == axis.orthogonal()
                    && pair
                        .sliver_index(*missing_axis, n)
                        .is_some_and(|index| index.get() < systematic)
            })
        };
        let primaries_first = peer_shards >= config.n_symbols_in_sliver(SliverType::Primary)
            && (!decodes_first(SliverType::Primary) || decodes_first(SliverType::Secondary));
        if primaries_first {
            self.recover_both::<Primary>(metadata, missing, unstored)
                .await
        } else {
            self.recover_both::<Secondary>(metadata, missing, unstored)
                .await
        }
    }

    /// Rebuilds the `missing` slivers of axis `T`, then those of the other axis. The slivers
    /// rebuilt first keep the symbols they give the second axis' slivers (taken from the
    /// expansions their verification computes, verified by it), if those fit in
    /// [`kept_symbols_limit`]: the second axis gets them without reading the slivers back and
    /// expanding them again.
    async fn recover_both<T: EncodingAxis>(
        &self,
        metadata: &VerifiedBlobMetadataWithId,
        missing: &[(SliverPairIndex, SliverType)],
        unstored: &mut Option<VerifiedBlobMetadataWithId>,
    ) -> Result<(), RecoveryFailure>
    where
        InconsistencyProofEither: From<walrus_core::encoding::InconsistencyProof<T>>
            + From<walrus_core::encoding::InconsistencyProof<T::Orthogonal>>,
    {
        let pairs_of = |axis: SliverType| -> Vec<SliverPairIndex> {
            missing
                .iter()
                .filter(|(_, missing_axis)| *missing_axis == axis)
                .map(|(pair, _)| *pair)
                .collect()
        };
        let (first, second) = (pairs_of(T::TYPE), pairs_of(T::Orthogonal::TYPE));
        let n = metadata.config().n_shards();
        let kept_bytes = first
            .len()
            .saturating_mul(second.len())
            .saturating_mul(metadata.layout().symbol_size());
        let keep = if kept_bytes <= kept_symbols_limit(&self.limits) {
            second
                .iter()
                .map(|pair| pair_sliver_index(T::Orthogonal::TYPE, *pair, n))
                .collect::<Result<Vec<SliverIndex>, NodeError>>()?
        } else {
            Vec::new()
        };
        let kept = if first.is_empty() {
            Vec::new()
        } else {
            self.recover_axis::<T>(metadata, &first, &keep, Vec::new(), unstored)
                .await?
        };
        self.node
            .metrics()
            .recovery_symbols_kept
            .inc_by(kept.len() as u64);
        if !second.is_empty() {
            self.recover_axis::<T::Orthogonal>(metadata, &second, &[], kept, unstored)
                .await?;
        }
        Ok(())
    }

    /// Rebuilds the slivers of axis `T` in `pairs` from `given` symbols (verified), our own and
    /// peers' verified symbols ([`collect_symbols`]) and stores them: as many at a time as the
    /// memory budget allows. Slivers rebuilt are stored even if others fall short (the first
    /// shortfall is the error); an inconsistent encoding is the error at once (nothing of its
    /// chunk stored). Returns the symbols the rebuilt slivers give the slivers `keep` of the
    /// other axis.
    async fn recover_axis<T: EncodingAxis>(
        &self,
        metadata: &VerifiedBlobMetadataWithId,
        pairs: &[SliverPairIndex],
        keep: &[SliverIndex],
        mut given: Vec<VerifiedRecoverySymbol<T>>,
        unstored: &mut Option<VerifiedBlobMetadataWithId>,
    ) -> Result<Vec<VerifiedRecoverySymbol<T::Orthogonal>>, RecoveryFailure>
    where
        InconsistencyProofEither: From<walrus_core::encoding::InconsistencyProof<T>>,
    {
        let n = metadata.config().n_shards();
        let per_sliver = sliver_memory(metadata, T::TYPE);
        let budget = self.limits.max_in_flight_bytes.max(1);
        // At least two chunks (of this or other blobs) fit in the budget at once.
        let chunk = (budget / 2 / per_sliver).clamp(1, pairs.len().max(1));
        let mut shortfall = None;
        let mut kept = Vec::new();
        for pairs in pairs.chunks(chunk) {
            let kib = budget_kib(per_sliver.saturating_mul(pairs.len()))
                .min(budget_kib(budget))
                .max(1);
            let _memory = self
                .memory
                .clone()
                .acquire_many_owned(u32::try_from(kib).unwrap_or(u32::MAX))
                .await
                .map_err(|error| NodeError::new(ErrorReason::Unavailable, error.to_string()))?;
            let targets = pairs
                .iter()
                .map(|pair| Ok((pair_sliver_index(T::TYPE, *pair, n)?, *pair)))
                .collect::<Result<BTreeMap<SliverIndex, SliverPairIndex>, NodeError>>()?;
            let (this_chunk, later) = given
                .into_iter()
                .partition(|symbol| targets.contains_key(&symbol.target_index()));
            given = later;
            match self
                .recover_targets::<T>(metadata, &targets, this_chunk, keep, unstored)
                .await
            {
                Ok(symbols) => kept.extend(symbols),
                Err(error) => match error {
                    RecoveryFailure::Sliver {
                        error: RecoveryError::NotEnoughSymbols { .. },
                        ..
                    } => {
                        shortfall.get_or_insert(error);
                    }
                    error => return Err(error),
                },
            }
        }
        shortfall.map_or(Ok(kept), Err)
    }

    /// Rebuilds and stores the slivers of axis `T` of `targets` (sliver index -> pair), and
    /// `unstored` metadata with them, from `given` symbols (verified), our own and peers'.
    /// Returns the symbols the rebuilt slivers give the slivers `keep` of the other axis.
    async fn recover_targets<T: EncodingAxis>(
        &self,
        metadata: &VerifiedBlobMetadataWithId,
        targets: &BTreeMap<SliverIndex, SliverPairIndex>,
        given: Vec<VerifiedRecoverySymbol<T>>,
        keep: &[SliverIndex],
        unstored: &mut Option<VerifiedBlobMetadataWithId>,
    ) -> Result<Vec<VerifiedRecoverySymbol<T::Orthogonal>>, RecoveryFailure>
    where
        InconsistencyProofEither: From<walrus_core::encoding::InconsistencyProof<T>>,
    {
        let blob_id = *metadata.blob_id();
        let n = metadata.config().n_shards();
        let required = metadata.config().n_symbols_in_sliver(T::TYPE);
        // Our own orthogonal slivers first (those stored): free. They are checked like any
        // answer (a corrupt store is no reason to build a wrong sliver), but are no lie.
        let store = self.node.store().clone();
        let own_pairs = self.node.committee().own_pairs(&blob_id);
        let own_sources: BTreeSet<u16> = blocking(move || {
            let mut sources = BTreeSet::new();
            for pair in own_pairs {
                if store.has_sliver(&blob_id, pair, T::Orthogonal::TYPE)? {
                    sources.extend(pair.sliver_index(T::Orthogonal::TYPE, n).map(|i| i.get()));
                }
            }
            Ok(sources)
        })
        .await?;
        // Those of our slivers whose symbols are given need not be read and expanded again.
        let mut given_sources: Asked = Asked::new();
        for symbol in &given {
            given_sources
                .entry(symbol.target_index().get())
                .or_default()
                .insert(symbol.source_index());
        }
        let own_asked: Asked = targets
            .keys()
            .map(|target| {
                let given = given_sources.get(&target.get());
                let sources = own_sources
                    .iter()
                    .filter(|source| !given.is_some_and(|given| given.contains(source)))
                    .copied()
                    .collect::<BTreeSet<u16>>();
                (target.get(), sources)
            })
            .filter(|(_, sources)| !sources.is_empty())
            .collect();
        let mut own_answer = Vec::new();
        for ids in symbol_ids::<T>(&own_asked).chunks(max_symbol_ids_per_request(metadata.layout()))
        {
            let symbols = self
                .node
                .symbols_by_id(metadata.clone(), ids, Some(T::Orthogonal::TYPE))
                .await
                .ok()
                .and_then(|bcs_bytes| {
                    bcs::from_bytes::<Vec<GeneralRecoverySymbol>>(&bcs_bytes).ok()
                })
                .unwrap_or_default();
            own_answer.extend(symbols);
        }
        let mut own =
            check_answer_off_runtime::<T>(metadata, Arc::new(own_asked), own_answer).await?;
        if let Some(problem) = own.lie {
            tracing::error!(%blob_id, %problem, "own recovery symbol refused");
        }
        own.valid.extend(given);
        // Among honest peers, those holding the most systematic source slivers first (index
        // below `required`): a sliver whose symbols include every systematic one is a copy,
        // not a Reed-Solomon decode.
        let peers = self.peers_by(|peer| {
            let sources = source_indices(&peer.shards, &blob_id, n, T::Orthogonal::TYPE);
            Reverse(sources.range(..required_u16(required)).count())
        });
        let collected = collect_symbols::<T>(
            metadata,
            targets.keys().copied().collect(),
            own.valid,
            peers,
            &self.requests,
            HEDGE_AFTER,
        )
        .await?;
        self.node
            .metrics()
            .recovery_bytes_fetched
            .inc_by(collected.bytes);
        self.note_lies(&blob_id, collected.lies);
        // Every symbol verified: each sliver with enough of them is either rebuilt or proves
        // the encoding inconsistent.
        let mut shortfall = None;
        let mut work = Vec::new();
        let mut symbols = collected.symbols;
        for (target, pair) in targets {
            let candidates = symbols.remove(&target.get()).unwrap_or_default();
            if candidates.len() < required {
                shortfall.get_or_insert(RecoveryFailure::Sliver {
                    axis: T::TYPE,
                    index: target.get(),
                    error: RecoveryError::NotEnoughSymbols {
                        available: candidates.len(),
                        required,
                        rejected: collected.rejected,
                    },
                });
                continue;
            }
            // Verified on arrival (`check_answer`): decoded without a second check.
            let used = candidates.into_values().take(required).collect::<Vec<_>>();
            work.push((*target, *pair, used));
        }
        let metadata_clone = metadata.clone();
        let keep = keep.to_vec();
        let rebuilt = blocking(move || {
            let (pairs, work): (Vec<_>, Vec<_>) = work
                .into_iter()
                .map(|(target, pair, candidates)| ((target, pair), (target, candidates)))
                .unzip();
            // All together: slivers from the same source slivers share one decode plan.
            let results = recover_slivers_from_verified::<T>(&metadata_clone, work, &keep);
            let mut slivers = Vec::with_capacity(results.len());
            for ((target, pair), result) in pairs.into_iter().zip(results) {
                match result {
                    Ok(sliver) => slivers.push((pair, sliver)),
                    Err(error) => {
                        return Ok(Err(RecoveryFailure::Sliver {
                            axis: T::TYPE,
                            index: target.get(),
                            error,
                        }))
                    }
                }
            }
            Ok(Ok(slivers))
        })
        .await??;
        // Stored concurrently (with the metadata if not stored yet): the store commits them
        // together.
        let mut stores = JoinSet::new();
        if let Some(metadata) = unstored.take_if(|_| !rebuilt.is_empty()) {
            let node = self.node.clone();
            stores.spawn(async move { node.store_fetched_metadata(&metadata).await });
        }
        let mut kept = Vec::new();
        if !rebuilt.is_empty() {
            let node = self.node.clone();
            let slivers = rebuilt
                .into_iter()
                .map(|(pair, rebuilt)| {
                    kept.extend(rebuilt.kept);
                    (pair, rebuilt.sliver, rebuilt.tree.into_nodes())
                })
                .collect();
            stores.spawn(async move { node.store_recovered::<T>(blob_id, slivers).await });
        }
        while let Some(stored) = stores.join_next().await {
            stored.map_err(|error| NodeError::new(ErrorReason::Internal, error.to_string()))??;
        }
        shortfall.map_or(Ok(kept), Err)
    }

    /// Shares `proof`, collects invalid-blob attestations of `f + 1` shards and submits the
    /// certificate on chain.
    async fn prove_invalid(
        &self,
        blob_id: BlobId,
        proof: InconsistencyProofEither,
    ) -> Result<(), RecoveryFailure> {
        let view = self.node.committee();
        let mut signed: Vec<SignedInvalidBlobIdMsg> = Vec::new();
        let mut signers: Vec<u16> = Vec::new();
        let mut weight: u16 = 0;
        if let Some(own) = view.own_index {
            signed.push(self.node.sign_invalid(blob_id));
            signers.push(u16::try_from(own).unwrap_or(u16::MAX));
            weight += view.committee.members()[own].weight;
        }
        let proof = Arc::new(proof);
        let mut requests = JoinSet::new();
        for peer in self.peers() {
            // Only members of the current committee attest.
            let Some(index) = peer.index else {
                continue;
            };
            let proof = proof.clone();
            requests.spawn(async move {
                (
                    index,
                    peer.client
                        .submit_inconsistency_proof(&blob_id, &proof)
                        .await,
                )
            });
        }
        while !Threshold::Validity.is_met(weight, view.n_shards) {
            let Some(joined) = requests.join_next().await else {
                break;
            };
            let Ok((index, Ok(message))) = joined else {
                continue;
            };
            let member = &view.members[index];
            let valid = message
                .verify_signature_and_get_message(&member.public_key, view.epoch, &blob_id)
                .is_ok();
            if !valid {
                tracing::warn!(%blob_id, node = %member.node_id, "bad invalid-blob attestation");
                continue;
            }
            signed.push(message);
            signers.push(u16::try_from(index).unwrap_or(u16::MAX));
            weight += view.committee.members()[index].weight;
        }
        requests.abort_all();
        if !Threshold::Validity.is_met(weight, view.n_shards) {
            return Err(RecoveryFailure::Node(NodeError::new(
                ErrorReason::Unavailable,
                format!("only {weight} shards attested that {blob_id} is invalid"),
            )));
        }
        let certificate =
            InvalidBlobCertificate::from_signed_messages_and_indices(&signed, &signers)
                .map_err(|e| NodeError::new(ErrorReason::Internal, e.to_string()))?;
        match self.chain.invalidate_blob_id(&certificate).await {
            Ok(_) => tracing::info!(%blob_id, "submitted the invalid-blob certificate"),
            Err(error) => {
                // Another node may have been faster; the InvalidBlobID event settles it.
                tracing::warn!(%blob_id, %error, "invalid-blob certificate not accepted");
            }
        }
        Ok(())
    }
}

/// A committee member, as recovery asks it.
#[derive(Debug, Clone)]
struct Peer {
    /// Its position in the committee (signer index); `None` for a previous owner that left
    /// the committee but still serves the shards it gave away.
    index: Option<usize>,
    /// Its node ID: the key of its record in the [`LiarBook`].
    node_id: ObjectId,
    /// Its REST API.
    client: NodeClient,
    /// The shards it holds in the current committee.
    shards: Vec<ShardIndex>,
}

/// The indices of the slivers of `axis` that the holder of `shards` stores for `blob_id`: the
/// only source slivers it can give recovery symbols from.
fn source_indices<'a>(
    shards: impl IntoIterator<Item = &'a ShardIndex>,
    blob_id: &BlobId,
    n_shards: u16,
    axis: SliverType,
) -> BTreeSet<u16> {
    shards
        .into_iter()
        .filter_map(|shard| {
            let pair = shard.to_pair_index(n_shards, blob_id);
            pair.sliver_index(axis, n_shards).map(|index| index.get())
        })
        .collect()
}

/// How an answer of a peer was a lie (an honest node never answers so).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum Lie {
    /// The answer was larger than what the peer can legitimately send (refused unread).
    #[error("answer larger than the {limit} bytes the peer's shards allow")]
    Oversize { limit: usize },
    /// The answer did not decode, or was about another blob.
    #[error("malformed answer: {0}")]
    Malformed(String),
    /// Metadata that do not verify against the blob ID.
    #[error("metadata do not verify: {0}")]
    BadMetadata(String),
    /// A symbol for another sliver than the one asked.
    #[error("symbol for {axis} sliver {index}, not the one asked")]
    WrongTarget { axis: SliverType, index: u16 },
    /// A symbol from a source sliver that was not asked for its target (the peer does not
    /// hold it, or it was not needed).
    #[error("symbol from source sliver {from} for sliver {target}, which was not asked")]
    NotAsked { target: u16, from: u16 },
    /// A second symbol from a source sliver for the same target.
    #[error("two symbols from source sliver {from} for sliver {target}")]
    Duplicate { target: u16, from: u16 },
    /// A symbol that does not verify against the metadata.
    #[error("symbol from source sliver {index} does not verify: {error}")]
    Invalid {
        index: u16,
        error: SymbolVerificationError,
    },
}

impl Lie {
    /// The lie in a failed request, if it is one: an oversize or malformed answer. Refusals,
    /// missing data and transport failures are not lies.
    fn from_error(error: &NodeClientError) -> Option<Self> {
        match error {
            NodeClientError::ResponseTooLarge { limit } => Some(Lie::Oversize { limit: *limit }),
            NodeClientError::Decode(message) => Some(Lie::Malformed(message.clone())),
            _ => None,
        }
    }
}

/// The worker's record of the peers that lied, by node ID: how many lies and when the last one
/// was. Peers are asked in order of their remembered lies, none first. A record is forgotten
/// [`LIE_MEMORY`] after its last lie, and at most [`MAX_LIAR_RECORDS`] are kept.
#[derive(Debug, Default)]
struct LiarBook {
    records: Mutex<HashMap<ObjectId, LieRecord>>,
}

/// One peer's entry in the [`LiarBook`].
#[derive(Debug, Clone, Copy)]
struct LieRecord {
    lies: u32,
    last: Instant,
}

impl LiarBook {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ObjectId, LieRecord>> {
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a lie of `node` at `now`; returns the lies of `node` remembered.
    fn record(&self, node: ObjectId, now: Instant) -> u32 {
        let mut records = self.lock();
        records.retain(|_, record| now.saturating_duration_since(record.last) < LIE_MEMORY);
        if records.len() >= MAX_LIAR_RECORDS && !records.contains_key(&node) {
            let oldest = records
                .iter()
                .min_by_key(|(_, record)| record.last)
                .map(|(id, _)| *id);
            if let Some(oldest) = oldest {
                records.remove(&oldest);
            }
        }
        let record = records
            .entry(node)
            .or_insert(LieRecord { lies: 0, last: now });
        record.lies = record.lies.saturating_add(1);
        record.last = now;
        record.lies
    }

    /// The lies of `node` remembered at `now`.
    fn lies(&self, node: &ObjectId, now: Instant) -> u32 {
        self.lock()
            .get(node)
            .filter(|record| now.saturating_duration_since(record.last) < LIE_MEMORY)
            .map_or(0, |record| record.lies)
    }

    /// Sorts `peers` by their lies remembered at `now`, fewest first, then by `key` (stable).
    fn order<K: Ord>(&self, peers: &mut [Peer], now: Instant, key: impl Fn(&Peer) -> K) {
        peers.sort_by_cached_key(|peer| (self.lies(&peer.node_id, now), key(peer)));
    }
}

/// The symbols asked of a peer (or of our own slivers): target sliver index -> source sliver
/// indices (on the orthogonal axis).
type Asked = BTreeMap<u16, BTreeSet<u16>>;

/// The IDs of the symbols of `asked`, for targets of axis `T`.
fn symbol_ids<T: EncodingAxis>(asked: &Asked) -> Vec<SymbolId> {
    asked
        .iter()
        .flat_map(|(target, sources)| {
            sources.iter().map(move |source| {
                SymbolId::for_target(SliverIndex(*target), T::TYPE, SliverIndex(*source))
            })
        })
        .collect()
}

/// `required` (a symbol count, at most `n_shards`) as a sliver index bound.
fn required_u16(required: usize) -> u16 {
    u16::try_from(required).unwrap_or(u16::MAX)
}

/// The length of the BCS encoding of `symbols` (what a peer sent), computed without encoding
/// them again.
fn wire_len(symbols: &[GeneralRecoverySymbol]) -> usize {
    let uleb_len = |value: usize| (usize::BITS - value.max(1).leading_zeros()).div_ceil(7) as usize;
    let symbol_len = |symbol: &GeneralRecoverySymbol| {
        let data = match &symbol.symbol {
            EitherDecodingSymbol::Primary(symbol) => symbol.data.len(),
            EitherDecodingSymbol::Secondary(symbol) => symbol.data.len(),
        };
        let path = &symbol.proof.path;
        let nodes: usize = path
            .iter()
            .map(|node| match node {
                Node::Empty => 1,
                Node::Digest(_) => 33,
            })
            .sum();
        // Axis tag, source index, data, target index, proof path.
        1 + 2 + uleb_len(data) + data + 2 + uleb_len(path.len()) + nodes
    };
    uleb_len(symbols.len()) + symbols.iter().map(symbol_len).sum::<usize>()
}

/// The memory one sliver of `axis` of the blob of `metadata` takes to rebuild: a symbol with
/// its proof from every source sliver (at most all of them are collected) and the sliver.
fn sliver_memory(metadata: &VerifiedBlobMetadataWithId, axis: SliverType) -> usize {
    let layout = metadata.layout();
    layout
        .config
        .n()
        .saturating_mul(walrus_core::bounded::max_recovery_symbol_len(layout))
        .saturating_add(layout.sliver_length(axis))
        .max(1)
}

/// Most bytes of symbols one blob's recovery keeps from its first axis' rebuilt slivers for
/// its second axis: a quarter of the memory budget shared by the blobs recovered at once.
fn kept_symbols_limit(limits: &RecoveryLimits) -> usize {
    limits.max_in_flight_bytes / 4 / limits.max_concurrent_blobs.max(1)
}

/// `bytes` in the KiB units of the worker's memory budget (at least one).
fn budget_kib(bytes: usize) -> usize {
    bytes.div_ceil(1024).clamp(1, Semaphore::MAX_PERMITS)
}

/// An answer split by [`check_answer`].
#[derive(Debug)]
struct CheckedAnswer<T: EncodingAxis> {
    /// The symbols that are what was asked and verify, one per target and source sliver.
    valid: Vec<VerifiedRecoverySymbol<T>>,
    /// How many symbols were refused.
    rejected: usize,
    /// The first reason a symbol was refused.
    lie: Option<Lie>,
}

/// Splits `answer` into the symbols that are what was asked (for a target sliver of axis `T`
/// in `asked`, from a source sliver asked for it, proven against `metadata`; the first valid
/// one per target and source) and the refused ones.
fn check_answer<T: EncodingAxis>(
    metadata: &VerifiedBlobMetadataWithId,
    asked: &Asked,
    answer: Vec<GeneralRecoverySymbol>,
) -> CheckedAnswer<T> {
    let mut checked = CheckedAnswer {
        valid: Vec::new(),
        rejected: 0,
        lie: None,
    };
    let mut refuse = |lie: Lie| {
        checked.rejected += 1;
        checked.lie.get_or_insert(lie);
    };
    // What was asked, all verified together (leaves hashed multi-buffer), then the first valid
    // one per target and source kept: a forged copy does not hide the genuine symbol.
    let mut candidates = Vec::with_capacity(answer.len());
    for symbol in answer {
        let (axis, target) = (symbol.target_type(), symbol.target_index);
        let sources = asked.get(&target.get()).filter(|_| axis == T::TYPE);
        match (sources, symbol.into_recovery_symbol::<T>(target)) {
            (Some(sources), Ok(symbol)) if sources.contains(&symbol.symbol.index) => {
                candidates.push((target, symbol));
            }
            (Some(_), Ok(symbol)) => refuse(Lie::NotAsked {
                target: target.get(),
                from: symbol.symbol.index,
            }),
            _ => refuse(Lie::WrongTarget {
                axis,
                index: target.get(),
            }),
        }
    }
    let sources: Vec<u16> = candidates
        .iter()
        .map(|(_, symbol)| symbol.symbol.index)
        .collect();
    let mut seen = BTreeSet::new();
    let verdicts = verify_recovery_symbols(metadata, candidates);
    for (verdict, index) in verdicts.into_iter().zip(sources) {
        match verdict {
            Ok(symbol) if seen.insert((symbol.target_index(), index)) => checked.valid.push(symbol),
            Ok(symbol) => refuse(Lie::Duplicate {
                target: symbol.target_index().get(),
                from: index,
            }),
            Err(error) => refuse(Lie::Invalid { index, error }),
        }
    }
    checked
}

/// [`check_answer`], on the blocking pool if the answer holds more than
/// [`INLINE_VERIFY_BYTES`] of symbols.
async fn check_answer_off_runtime<T: EncodingAxis>(
    metadata: &VerifiedBlobMetadataWithId,
    asked: Arc<Asked>,
    answer: Vec<GeneralRecoverySymbol>,
) -> Result<CheckedAnswer<T>, NodeError> {
    let bytes = answer.len().saturating_mul(metadata.layout().symbol_size());
    if bytes <= INLINE_VERIFY_BYTES {
        return Ok(check_answer(metadata, &asked, answer));
    }
    let metadata = metadata.clone();
    blocking(move || Ok(check_answer(&metadata, &asked, answer))).await
}

/// What [`collect_symbols`] gathered.
#[derive(Debug)]
struct Collected<T: EncodingAxis> {
    /// Verified symbols by target sliver index and source sliver index: at least the
    /// required number per target unless every peer that could help was asked.
    symbols: BTreeMap<u16, BTreeMap<u16, VerifiedRecoverySymbol<T>>>,
    /// Symbols refused.
    rejected: usize,
    /// Bytes of the peers' answers.
    bytes: u64,
    /// The peers that lied, once per lying answer.
    lies: Vec<(ObjectId, Lie)>,
}

/// A symbol request in flight.
#[derive(Debug)]
struct InFlight {
    node_id: ObjectId,
    /// The symbols asked.
    asked: Arc<Asked>,
    /// How many missing symbols of each target its answer is counted on for (none once it is
    /// slow).
    weights: BTreeMap<u16, usize>,
    /// When it was sent (after waiting for a request permit).
    sent: Arc<OnceLock<Instant>>,
}

/// Most times a request answered 429 (the peer's symbol computations are busy) is sent again.
const BUSY_RETRIES: u32 = 3;

/// Pause before sending a request answered 429 again (doubling each time).
const BUSY_PAUSE: Duration = Duration::from_millis(100);

/// Asks `client` for the symbols `ids` of `blob_id` proven in slivers of `proof_axis`, with a
/// request permit of `permits` while the request is out; `sent` records when it first went
/// out. A 429 answer is retried after a pause (without holding the permit), a few times.
async fn ask_symbols(
    client: NodeClient,
    blob_id: BlobId,
    ids: Vec<SymbolId>,
    proof_axis: SliverType,
    limit: usize,
    permits: Arc<Semaphore>,
    sent: Arc<OnceLock<Instant>>,
) -> Result<Vec<GeneralRecoverySymbol>, NodeClientError> {
    let mut attempt = 0;
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return Ok(Vec::new());
        };
        let _ = sent.set(Instant::now());
        let answer = client
            .list_recovery_symbols_with_limit(&blob_id, &ids, Some(proof_axis), limit)
            .await;
        drop(permit);
        match answer {
            Err(error)
                if error.reason() == Some(ErrorReason::RateLimited) && attempt < BUSY_RETRIES =>
            {
                tokio::time::sleep(BUSY_PAUSE * 2u32.pow(attempt)).await;
                attempt += 1;
            }
            answer => return answer,
        }
    }
}

/// Collects verified symbols for the slivers `targets` of axis `T` of the blob of `metadata`:
/// `own` (already checked) and then peers' answers. Peers are asked in their order, each at
/// most once per target and only for symbols still missing from source slivers it holds: just
/// enough to cover every target's shortfall; the next ones when answers fall short or a
/// request has been out for `hedge_after` (a slow request's answer is still used, but no longer
/// counted on), with at most the permits of `requests` in flight. One request asks a peer for
/// all the targets it can help with (split if more symbols than one request may name). Each
/// answer is capped at what the symbols asked can weigh ([`recovery_symbols_response_limit`])
/// and checked ([`check_answer`]) as it arrives, so a liar answering first costs nothing but
/// its own answer. Returns once every target has the required number of symbols, or no peer
/// is left to ask and every request has answered.
async fn collect_symbols<T: EncodingAxis>(
    metadata: &VerifiedBlobMetadataWithId,
    targets: Vec<SliverIndex>,
    own: Vec<VerifiedRecoverySymbol<T>>,
    peers: Vec<Peer>,
    requests: &Arc<Semaphore>,
    hedge_after: Duration,
) -> Result<Collected<T>, NodeError> {
    let blob_id = *metadata.blob_id();
    let layout = *metadata.layout();
    let n = layout.config.n_shards();
    let required = layout.config.n_symbols_in_sliver(T::TYPE);
    let per_request = max_symbol_ids_per_request(&layout);
    let mut collected = Collected {
        symbols: targets
            .iter()
            .map(|target| (target.get(), BTreeMap::new()))
            .collect(),
        rejected: 0,
        bytes: 0,
        lies: Vec::new(),
    };
    for symbol in own {
        if let Some(symbols) = collected.symbols.get_mut(&symbol.target_index().get()) {
            symbols.entry(symbol.source_index()).or_insert(symbol);
        }
    }
    // Each peer with its source slivers and the targets it was asked for.
    let mut peers: Vec<(Peer, BTreeSet<u16>, BTreeSet<u16>)> = peers
        .into_iter()
        .map(|peer| {
            let sources = source_indices(&peer.shards, &blob_id, n, T::Orthogonal::TYPE);
            (peer, sources, BTreeSet::new())
        })
        .collect();
    let mut fetches = JoinSet::new();
    let mut in_flight: HashMap<tokio::task::Id, InFlight> = HashMap::new();
    loop {
        // What each target still lacks beyond what requests in flight are counted on for.
        let mut pending: BTreeMap<u16, usize> = BTreeMap::new();
        for request in in_flight.values() {
            for (target, weight) in &request.weights {
                *pending.entry(*target).or_default() += weight;
            }
        }
        let short = |symbols: &BTreeMap<u16, BTreeMap<u16, VerifiedRecoverySymbol<T>>>,
                     pending: &BTreeMap<u16, usize>,
                     target: u16| {
            let have = symbols.get(&target).map_or(0, BTreeMap::len);
            have + pending.get(&target).copied().unwrap_or(0) < required
        };
        // Ask peers, in order, for what the short targets lack, until it is covered.
        for (peer, sources, asked_targets) in &mut peers {
            let mut asked = Asked::new();
            for (target, symbols) in &collected.symbols {
                if asked_targets.contains(target) || !short(&collected.symbols, &pending, *target) {
                    continue;
                }
                let missing: BTreeSet<u16> = sources
                    .iter()
                    .filter(|source| !symbols.contains_key(source))
                    .copied()
                    .collect();
                if missing.is_empty() {
                    continue;
                }
                *pending.entry(*target).or_default() += missing.len();
                asked_targets.insert(*target);
                asked.insert(*target, missing);
            }
            if asked.is_empty() {
                continue;
            }
            // Split into requests of at most `per_request` symbols, whole targets each unless
            // one target alone has more sources.
            let mut batches: Vec<Asked> = vec![Asked::new()];
            for (target, sources) in asked {
                let sources: Vec<u16> = sources.into_iter().collect();
                for part in sources.chunks(per_request) {
                    let last = batches.last_mut().expect("at least one batch");
                    let size: usize = last.values().map(BTreeSet::len).sum();
                    if size + part.len() > per_request {
                        batches.push(Asked::new());
                    }
                    batches
                        .last_mut()
                        .expect("at least one batch")
                        .entry(target)
                        .or_default()
                        .extend(part.iter().copied());
                }
            }
            for batch in batches.into_iter().filter(|batch| !batch.is_empty()) {
                let ids = symbol_ids::<T>(&batch);
                let limit = recovery_symbols_response_limit(&layout, ids.len());
                let sent = Arc::new(OnceLock::new());
                let handle = fetches.spawn(ask_symbols(
                    peer.client.clone(),
                    blob_id,
                    ids,
                    T::Orthogonal::TYPE,
                    limit,
                    requests.clone(),
                    sent.clone(),
                ));
                in_flight.insert(
                    handle.id(),
                    InFlight {
                        node_id: peer.node_id,
                        weights: batch
                            .iter()
                            .map(|(target, sources)| (*target, sources.len()))
                            .collect(),
                        asked: Arc::new(batch),
                        sent,
                    },
                );
            }
        }
        let done = collected
            .symbols
            .values()
            .all(|symbols| symbols.len() >= required);
        if done || fetches.is_empty() {
            break;
        }
        let joined = match tokio::time::timeout(hedge_after, fetches.join_next_with_id()).await {
            Ok(Some(joined)) => joined,
            Ok(None) => break,
            Err(_) => {
                // Requests out for `hedge_after` are no longer counted on (their answers are
                // still used): the next peers are asked to cover the shortfall.
                for request in in_flight.values_mut() {
                    if request
                        .sent
                        .get()
                        .is_some_and(|at| at.elapsed() >= hedge_after)
                    {
                        request.weights.clear();
                    }
                }
                continue;
            }
        };
        let (id, answer) = match joined {
            Ok((id, answer)) => (id, answer),
            Err(error) => {
                in_flight.remove(&error.id());
                continue;
            }
        };
        let Some(request) = in_flight.remove(&id) else {
            continue;
        };
        match answer {
            Ok(answer) => {
                collected.bytes += wire_len(&answer) as u64;
                let checked =
                    check_answer_off_runtime::<T>(metadata, request.asked, answer).await?;
                collected.rejected += checked.rejected;
                if let Some(lie) = checked.lie {
                    collected.lies.push((request.node_id, lie));
                }
                for symbol in checked.valid {
                    if let Some(symbols) = collected.symbols.get_mut(&symbol.target_index().get()) {
                        symbols.entry(symbol.source_index()).or_insert(symbol);
                    }
                }
            }
            Err(error) => match Lie::from_error(&error) {
                Some(lie) => collected.lies.push((request.node_id, lie)),
                None => tracing::debug!(
                    %blob_id, node = %request.node_id, %error, "no recovery symbols from a peer"
                ),
            },
        }
    }
    fetches.abort_all();
    Ok(collected)
}

#[cfg(test)]
mod tests {
    use walrus_core::encoding::{recover_sliver_from_verified, EncodedBlob, SliverData};
    use walrus_node_client::testing::{
        encoded_blob, forge, recovery_symbols, Behavior, MockNode, Route,
    };

    use super::*;

    const N: u16 = 10;

    /// A blob of `len` bytes over `N` shards (`f = 3`: a primary sliver takes 7 symbols, a
    /// secondary one 4).
    fn blob(len: usize) -> Arc<EncodedBlob> {
        Arc::new(encoded_blob(N, len, 0))
    }

    /// The pairs of `blob` on `shards`.
    fn pairs_of(blob: &EncodedBlob, shards: &[u16]) -> Vec<SliverPairIndex> {
        shards
            .iter()
            .map(|shard| ShardIndex(*shard).to_pair_index(N, blob.metadata.blob_id()))
            .collect()
    }

    /// The genuine symbols the holder of `shards` gives for sliver `target` of `axis`.
    fn genuine(
        blob: &EncodedBlob,
        shards: &[u16],
        target: SliverIndex,
        axis: SliverType,
    ) -> Vec<GeneralRecoverySymbol> {
        recovery_symbols(blob, &pairs_of(blob, shards), target, axis)
    }

    /// Member `index` holding `shards`, served on 127.0.0.1 by a [`MockNode`] that answers as
    /// `behavior` after `delay`.
    async fn member(
        blob: &Arc<EncodedBlob>,
        index: u8,
        shards: &[u16],
        behavior: Behavior,
        delay: Duration,
    ) -> (Peer, MockNode) {
        let node = MockNode::builder(blob.clone())
            .pairs(pairs_of(blob, shards))
            .behavior(behavior)
            .delay(delay)
            .start()
            .await;
        let peer = Peer {
            index: Some(usize::from(index)),
            node_id: ObjectId([index; 32]),
            client: NodeClient::new(node.url()).unwrap(),
            shards: shards.iter().map(|s| ShardIndex(*s)).collect(),
        };
        (peer, node)
    }

    /// Member `index` holding `shards`, answering `body` to every request at once.
    async fn peer(
        blob: &Arc<EncodedBlob>,
        index: u8,
        shards: &[u16],
        body: Vec<u8>,
    ) -> (Peer, MockNode) {
        member(blob, index, shards, Behavior::Body(body), Duration::ZERO).await
    }

    /// An honest member holding `shards`, answering after `delay`.
    async fn honest(
        blob: &Arc<EncodedBlob>,
        index: u8,
        shards: &[u16],
        delay: Duration,
    ) -> (Peer, MockNode) {
        member(blob, index, shards, Behavior::Honest, delay).await
    }

    /// Symbol requests `node` received.
    fn hits(node: &MockNode) -> usize {
        node.requests(Route::RecoverySymbols)
    }

    async fn collect<T: EncodingAxis>(
        blob: &EncodedBlob,
        target: SliverIndex,
        peers: Vec<Peer>,
        hedge_after: Duration,
    ) -> Collected<T> {
        collect_many(blob, vec![target], peers, hedge_after).await
    }

    async fn collect_many<T: EncodingAxis>(
        blob: &EncodedBlob,
        targets: Vec<SliverIndex>,
        peers: Vec<Peer>,
        hedge_after: Duration,
    ) -> Collected<T> {
        let requests = Arc::new(Semaphore::new(16));
        collect_symbols::<T>(
            &blob.metadata,
            targets,
            Vec::new(),
            peers,
            &requests,
            hedge_after,
        )
        .await
        .unwrap()
    }

    /// The symbols collected for `target`.
    fn count<T: EncodingAxis>(collected: &Collected<T>, target: SliverIndex) -> usize {
        collected
            .symbols
            .get(&target.get())
            .map_or(0, BTreeMap::len)
    }

    /// Rebuilds the sliver from what was collected and checks it is the original.
    fn assert_rebuilds<T: EncodingAxis>(
        blob: &EncodedBlob,
        target: SliverIndex,
        collected: &Collected<T>,
        original: &SliverData<T>,
    ) where
        InconsistencyProofEither: From<walrus_core::encoding::InconsistencyProof<T>>,
    {
        let required = blob.metadata.config().n_symbols_in_sliver(T::TYPE);
        let symbols = collected.symbols[&target.get()].values();
        let used = symbols.take(required).cloned().collect();
        let rebuilt = recover_sliver_from_verified::<T>(&blob.metadata, target, used).unwrap();
        assert_eq!(&rebuilt.sliver, original);
    }

    fn lies_of(collected_lies: &[(ObjectId, Lie)], index: u8) -> Vec<Lie> {
        collected_lies
            .iter()
            .filter(|(node, _)| *node == ObjectId([index; 32]))
            .map(|(_, lie)| lie.clone())
            .collect()
    }

    const FAST: Duration = Duration::ZERO;
    const SLOW: Duration = Duration::from_millis(150);

    #[tokio::test]
    async fn a_fast_liar_does_not_shadow_the_honest_symbols() {
        // Large enough that each answer is verified on the blocking pool.
        let blob = blob(1 << 20);
        let target = SliverIndex(2);
        let axis = SliverType::Primary;
        // The liar holds shards 0..3 and answers at once with forged symbols claiming its own
        // source sliver and those of honest peers (as many as it may send).
        let lies = forge(genuine(&blob, &[0, 3, 6], target, axis));
        let (liar, liar_mock) = peer(&blob, 0, &[0, 1, 2], bcs::to_bytes(&lies).unwrap()).await;
        let (a, a_mock) = honest(&blob, 1, &[3, 4, 5], SLOW).await;
        let (b, b_mock) = honest(&blob, 2, &[6, 7], SLOW).await;
        let (c, c_mock) = honest(&blob, 3, &[8, 9], SLOW).await;
        let collected = collect::<Primary>(&blob, target, vec![liar, a, b, c], HEDGE_AFTER).await;
        assert_eq!(count(&collected, target), 7);
        assert_eq!(collected.rejected, 3);
        assert_eq!(collected.lies.len(), 1);
        let liar_lies = lies_of(&collected.lies, 0);
        assert!(
            matches!(
                liar_lies[..],
                [Lie::Invalid { .. }] | [Lie::NotAsked { .. }]
            ),
            "{liar_lies:?}"
        );
        for mock in [&liar_mock, &a_mock, &b_mock, &c_mock] {
            assert_eq!(hits(mock), 1);
        }
        let pair = &blob.sliver_pairs[usize::from(target.get())];
        assert_rebuilds(&blob, target, &collected, &pair.primary);
    }

    #[tokio::test]
    async fn an_oversize_answer_is_refused_without_being_decoded() {
        let blob = blob(20_000);
        let target = SliverIndex(5);
        let axis = SliverType::Secondary;
        // Junk one byte over the cap of three symbols: decoding it would fail as malformed.
        let limit = recovery_symbols_response_limit(blob.metadata.layout(), 3);
        let (junk, _) = peer(&blob, 0, &[0, 1, 2], vec![0xff; limit + 1]).await;
        // Forged symbols for every source sliver: more than its three shards allow.
        let all: Vec<u16> = (0..N).collect();
        let every = forge(genuine(&blob, &all, target, axis));
        let (greedy, _) = peer(&blob, 1, &[3, 4, 5], bcs::to_bytes(&every).unwrap()).await;
        let (a, _) = honest(&blob, 2, &[6, 7], SLOW).await;
        let (b, _) = honest(&blob, 3, &[8, 9], SLOW).await;
        let collected =
            collect::<Secondary>(&blob, target, vec![junk, greedy, a, b], HEDGE_AFTER).await;
        assert_eq!(lies_of(&collected.lies, 0), [Lie::Oversize { limit }]);
        assert_eq!(lies_of(&collected.lies, 1), [Lie::Oversize { limit }]);
        assert_eq!(count(&collected, target), 4);
        let pair = &blob.sliver_pairs[usize::from(N - 1 - target.get())];
        assert_rebuilds(&blob, target, &collected, &pair.secondary);
    }

    #[tokio::test]
    async fn symbols_for_another_target_or_axis_are_lies() {
        let blob = blob(20_000);
        let target = SliverIndex(4);
        // Genuine symbols, but for the next secondary sliver, and for the primary sliver 4.
        let other_target = genuine(&blob, &[0, 1, 2], SliverIndex(5), SliverType::Secondary);
        let other_axis = genuine(&blob, &[3, 4, 5], target, SliverType::Primary);
        let (x, _) = peer(&blob, 0, &[0, 1, 2], bcs::to_bytes(&other_target).unwrap()).await;
        let (y, _) = peer(&blob, 1, &[3, 4, 5], bcs::to_bytes(&other_axis).unwrap()).await;
        let (a, _) = honest(&blob, 2, &[6, 7], SLOW).await;
        let (b, _) = honest(&blob, 3, &[8, 9], SLOW).await;
        let collected = collect::<Secondary>(&blob, target, vec![x, y, a, b], HEDGE_AFTER).await;
        assert_eq!(
            lies_of(&collected.lies, 0),
            [Lie::WrongTarget {
                axis: SliverType::Secondary,
                index: 5
            }]
        );
        assert_eq!(
            lies_of(&collected.lies, 1),
            [Lie::WrongTarget {
                axis: SliverType::Primary,
                index: 4
            }]
        );
        assert_eq!(collected.rejected, 6);
        let pair = &blob.sliver_pairs[usize::from(N - 1 - target.get())];
        assert_rebuilds(&blob, target, &collected, &pair.secondary);
    }

    #[tokio::test]
    async fn recorded_liars_are_asked_last() {
        let blob = blob(20_000);
        let target = SliverIndex(0);
        let axis = SliverType::Primary;
        let lies = forge(genuine(&blob, &[0, 1, 2], target, axis));
        let (liar, liar_mock) = peer(&blob, 0, &[0, 1, 2], bcs::to_bytes(&lies).unwrap()).await;
        let (a, _) = honest(&blob, 1, &[3, 4, 5], FAST).await;
        let (b, _) = honest(&blob, 2, &[6, 7], FAST).await;
        let (c, _) = honest(&blob, 3, &[8, 9], FAST).await;
        let book = LiarBook::default();
        let now = Instant::now();
        assert_eq!(book.record(liar.node_id, now), 1);
        let mut peers = vec![liar, a, b, c];
        book.order(&mut peers, now, |_| ());
        let order: Vec<Option<usize>> = peers.iter().map(|peer| peer.index).collect();
        assert_eq!(order, [Some(1), Some(2), Some(3), Some(0)]);
        // The honest peers hold exactly the 7 symbols needed: the liar is never asked.
        let collected = collect::<Primary>(&blob, target, peers, HEDGE_AFTER).await;
        assert_eq!(count(&collected, target), 7);
        assert!(collected.lies.is_empty());
        assert_eq!(hits(&liar_mock), 0);
    }

    #[tokio::test]
    async fn a_short_attempt_fails_after_asking_every_peer_once() {
        let blob = blob(20_000);
        let target = SliverIndex(1);
        let axis = SliverType::Primary;
        let lies = forge(genuine(&blob, &[0, 1, 2], target, axis));
        let (liar, liar_mock) = peer(&blob, 0, &[0, 1, 2], bcs::to_bytes(&lies).unwrap()).await;
        let (a, a_mock) = honest(&blob, 1, &[3, 4, 5], FAST).await;
        let (b, b_mock) = honest(&blob, 2, &[6, 7], FAST).await;
        // Holds its shards but has nothing yet (an honest answer).
        let empty: Vec<GeneralRecoverySymbol> = Vec::new();
        let (c, c_mock) = peer(&blob, 3, &[8, 9], bcs::to_bytes(&empty).unwrap()).await;
        let collected = collect::<Primary>(&blob, target, vec![liar, a, b, c], HEDGE_AFTER).await;
        assert_eq!(count(&collected, target), 5);
        assert_eq!(collected.lies.len(), 1);
        for mock in [&liar_mock, &a_mock, &b_mock, &c_mock] {
            assert_eq!(hits(mock), 1);
        }
    }

    #[tokio::test]
    async fn a_silent_peer_does_not_hold_the_recovery_up() {
        let blob = blob(20_000);
        let target = SliverIndex(3);
        let (silent, _) = honest(&blob, 0, &[3, 4, 5], Duration::from_secs(60)).await;
        let (a, _) = honest(&blob, 1, &[0, 1, 2], FAST).await;
        let (b, _) = honest(&blob, 2, &[6, 7], FAST).await;
        let (c, _) = honest(&blob, 3, &[8, 9], FAST).await;
        let started = Instant::now();
        let collected = collect::<Secondary>(
            &blob,
            target,
            vec![silent, a, b, c],
            Duration::from_millis(100),
        )
        .await;
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(count(&collected, target) >= 4);
        let pair = &blob.sliver_pairs[usize::from(N - 1 - target.get())];
        assert_rebuilds(&blob, target, &collected, &pair.secondary);
    }

    #[tokio::test]
    async fn one_request_per_peer_covers_every_missing_sliver() {
        let blob = blob(1 << 16);
        let targets = vec![
            SliverIndex(0),
            SliverIndex(2),
            SliverIndex(5),
            SliverIndex(9),
        ];
        let (a, a_mock) = honest(&blob, 1, &[0, 1, 2], FAST).await;
        let (b, b_mock) = honest(&blob, 2, &[3, 4, 5], FAST).await;
        let (c, c_mock) = honest(&blob, 3, &[6, 7], FAST).await;
        let (d, d_mock) = honest(&blob, 4, &[8, 9], FAST).await;
        let collected =
            collect_many::<Primary>(&blob, targets.clone(), vec![a, b, c, d], HEDGE_AFTER).await;
        // 3 + 3 + 2 shards cover the 7 symbols of every target: the fourth peer is not asked,
        // the others once each.
        assert_eq!([&a_mock, &b_mock, &c_mock, &d_mock].map(hits), [1, 1, 1, 0]);
        assert!(collected.lies.is_empty());
        for target in targets {
            assert_eq!(count(&collected, target), 8);
            let pair = &blob.sliver_pairs[usize::from(target.get())];
            assert_rebuilds(&blob, target, &collected, &pair.primary);
        }
    }

    #[tokio::test]
    async fn only_missing_symbols_are_asked() {
        let blob = blob(20_000);
        let target = SliverIndex(3);
        let pairs = pairs_of(&blob, &[0, 1, 2]);
        // Our own slivers of shards 0..3 give three symbols; a peer holding the same shards
        // (a previous owner, say) has nothing to add and is not asked.
        let own = recovery_symbols(&blob, &pairs, target, SliverType::Secondary)
            .into_iter()
            .map(|symbol| (target, symbol.into_recovery_symbol(target).unwrap()))
            .collect();
        let own = verify_recovery_symbols::<Secondary>(&blob.metadata, own)
            .into_iter()
            .collect::<Result<_, _>>()
            .unwrap();
        let (same, same_mock) = honest(&blob, 1, &[0, 1, 2], FAST).await;
        let (other, other_mock) = honest(&blob, 2, &[3, 4, 5], FAST).await;
        let requests = Arc::new(Semaphore::new(16));
        let collected = collect_symbols::<Secondary>(
            &blob.metadata,
            vec![target],
            own,
            vec![same, other],
            &requests,
            HEDGE_AFTER,
        )
        .await
        .unwrap();
        assert_eq!([&same_mock, &other_mock].map(hits), [0, 1]);
        assert_eq!(count(&collected, target), 6);
        let pair = &blob.sliver_pairs[usize::from(N - 1 - target.get())];
        assert_rebuilds(&blob, target, &collected, &pair.secondary);
    }

    #[tokio::test]
    async fn a_busy_peer_is_asked_again_a_few_times() {
        let blob = blob(20_000);
        let target = SliverIndex(1);
        let busy = Behavior::Refuse(walrus_node_client::api::ErrorReason::RateLimited);
        let (busy, busy_mock) = member(&blob, 0, &[0, 1, 2], busy, FAST).await;
        let (a, _) = honest(&blob, 1, &[3, 4, 5], FAST).await;
        let (b, _) = honest(&blob, 2, &[6, 7], FAST).await;
        let (c, _) = honest(&blob, 3, &[8, 9], FAST).await;
        let collected = collect::<Secondary>(&blob, target, vec![busy, a, b, c], HEDGE_AFTER).await;
        // The first attempt and the retries, then the others cover its share; no lie.
        assert_eq!(hits(&busy_mock), 1 + BUSY_RETRIES as usize);
        assert!(collected.lies.is_empty());
        assert!(count(&collected, target) >= 4);
    }

    #[test]
    fn symbols_are_deduplicated_after_verification() {
        let blob = blob(20_000);
        let target = SliverIndex(6);
        let axis = SliverType::Primary;
        let honest = genuine(&blob, &[4], target, axis);
        // A forged copy first, then the genuine one, then the genuine one again.
        let mut answer = forge(honest.clone());
        answer.extend(honest.clone());
        answer.extend(honest);
        let source = source_indices(
            &[ShardIndex(4)],
            blob.metadata.blob_id(),
            N,
            SliverType::Secondary,
        );
        let asked = Asked::from([(target.get(), source)]);
        let checked = check_answer::<Primary>(&blob.metadata, &asked, answer);
        assert_eq!(checked.valid.len(), 1);
        assert_eq!(checked.valid[0].target_index(), target);
        assert!(checked.valid[0]
            .symbol()
            .verify(&blob.metadata, target)
            .is_ok());
        assert_eq!(checked.rejected, 2);
        assert!(matches!(checked.lie, Some(Lie::Invalid { .. })));
    }

    #[test]
    fn wire_len_is_the_bcs_length() {
        let blob = blob(20_000);
        let pairs = pairs_of(&blob, &[0, 1, 2]);
        let mut symbols = recovery_symbols(&blob, &pairs, SliverIndex(4), SliverType::Primary);
        symbols[0].proof.path.push(Node::Empty);
        assert_eq!(wire_len(&symbols), bcs::serialized_size(&symbols).unwrap());
        assert_eq!(wire_len(&[]), 1);
    }

    #[test]
    fn the_liar_book_forgets_and_stays_bounded() {
        let book = LiarBook::default();
        let start = Instant::now();
        let liar = ObjectId([1; 32]);
        assert_eq!(book.record(liar, start), 1);
        assert_eq!(book.record(liar, start), 2);
        assert_eq!(book.lies(&liar, start + LIE_MEMORY / 2), 2);
        assert_eq!(book.lies(&liar, start + LIE_MEMORY), 0);
        assert_eq!(book.record(liar, start + LIE_MEMORY), 1);
        // Distinct liars beyond the bound: the one whose last lie is oldest goes.
        let later = start + LIE_MEMORY;
        for i in 0..MAX_LIAR_RECORDS {
            let mut id = [0u8; 32];
            id[..8].copy_from_slice(&(i as u64 + 2).to_le_bytes());
            book.record(ObjectId(id), later + Duration::from_millis(i as u64 + 1));
        }
        assert_eq!(book.lock().len(), MAX_LIAR_RECORDS);
        assert_eq!(book.lies(&liar, later + Duration::from_secs(1)), 0);
    }
}
