//! Self-healing: after a blob is certified, the node rebuilds every sliver of its shards it
//! is missing from peers' recovery symbols (Red Stuff: a primary sliver from `n - f` symbols,
//! a secondary one from `n - 2f`, each a `1/n` share of a sliver, so rebuilding a sliver costs
//! about one sliver of traffic). A rebuilt sliver that does not match the metadata yields an
//! inconsistency proof: the node shares it, collects invalid-blob attestations until they
//! carry `f + 1` shards of weight, and submits the certificate on chain.
//!
//! Work comes from the durable recovery list in the store (filled by the follower in the same
//! transaction as the `BlobCertified` event), so a crash mid-recovery resumes. At most
//! `max_concurrent_blobs` blobs are recovered at once and at most `max_concurrent_requests`
//! symbol requests are in flight, so a node catching up does not flood its peers.
//!
//! Peers may lie, and recovery must not stall on them. Every answer is checked when it arrives,
//! never trusted for arriving first (`collect_symbols`): a peer's answer is capped, before it
//! is decoded, at what the symbols of the shards it holds for the blob can weigh; each symbol
//! must be for the sliver asked (axis and target index), come from a source sliver of a shard
//! the peer holds in the current committee, once, and verify against the verified metadata
//! (large answers are verified on the blocking pool). Only such symbols are kept (one per
//! source sliver); anything else makes the answer a lie. Peers are asked in order, each at
//! most once per sliver, just enough to cover the shortfall; more when answers fall short or
//! when a request has been out for `HEDGE_AFTER` (a silent peer does not hold the recovery
//! up). When every peer was asked and valid symbols are still short, the attempt fails and the
//! blob is retried after `retry_delay`. Liars are recorded in the worker's `LiarBook` (warned
//! about, counted in `walrus_node_recovery_lies_total`) and asked last from then on; a record
//! is forgotten `LIE_MEMORY` after the peer's last lie, and the book is bounded. Metadata
//! fetched from peers are capped by the shard count and must verify against the blob ID, or
//! the answer is a lie too.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque},
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
        recover_sliver, EncodingAxis, EncodingConfig, GeneralRecoverySymbol,
        InconsistencyProofEither, Primary, RecoveryError, RecoverySymbol, Secondary,
        SymbolVerificationError,
    },
    messages::{InvalidBlobCertificate, SignedInvalidBlobIdMsg},
    metadata::{BlobMetadataWithId, VerifiedBlobMetadataWithId},
    BlobId, ObjectId, ShardIndex, SliverIndex, SliverPairIndex, SliverType,
};
use walrus_node_client::{
    client::{metadata_response_limit, recovery_symbols_response_limit},
    NodeClient, NodeClientError,
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
    /// Wait before retrying a blob whose recovery failed.
    pub retry_delay: Duration,
}

impl Default for RecoveryLimits {
    fn default() -> Self {
        Self {
            max_concurrent_blobs: 4,
            max_concurrent_requests: 16,
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
    http: reqwest::Client,
    limits: RecoveryLimits,
    requests: Arc<Semaphore>,
    in_flight: Mutex<HashSet<BlobId>>,
    liars: LiarBook,
}

impl Worker {
    /// The worker of `node`, asking peers over `http` within `limits`.
    pub(crate) fn new(
        node: Arc<StorageNode>,
        chain: Arc<WalrusClient>,
        http: reqwest::Client,
        limits: RecoveryLimits,
    ) -> Arc<Self> {
        Arc::new(Worker {
            node,
            chain,
            http,
            limits,
            requests: Arc::new(Semaphore::new(limits.max_concurrent_requests.max(1))),
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
        let view = self.node.committee();
        let mut peers: Vec<Peer> = view
            .serving_peers()
            .into_iter()
            .filter_map(|member| {
                let index = view
                    .members
                    .iter()
                    .position(|m| m.node_id == member.node_id);
                NodeClient::with_http(&member.url, self.http.clone())
                    .ok()
                    .map(|client| Peer {
                        index,
                        node_id: member.node_id,
                        client,
                        shards: member.shards,
                    })
            })
            .collect();
        self.liars.order(&mut peers, Instant::now());
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
            self.node
                .store()
                .finish_recovery(&blob_id)
                .map_err(NodeError::from)?;
            return Ok(());
        }
        let mut missing = self.node.missing_slivers(&blob_id)?;
        let has_metadata = self
            .node
            .store()
            .metadata(&blob_id)
            .map_err(NodeError::from)?
            .is_some();
        if missing.is_empty() && has_metadata {
            self.node
                .store()
                .finish_recovery(&blob_id)
                .map_err(NodeError::from)?;
            return Ok(());
        }
        tracing::info!(%blob_id, missing = missing.len(), has_metadata, "recovering");
        let metadata = self.metadata(&blob_id, view.n_shards).await?;
        // Primary slivers first: each one rebuilt is a free symbol for every secondary sliver
        // we rebuild after it. But a primary sliver needs `n - f` symbols: if our peers hold
        // fewer shards (we hold more than `f`), rebuild the secondary slivers first (`n - 2f`
        // symbols each); their symbols then complete the primaries.
        let peer_shards = usize::from(view.n_shards).saturating_sub(view.own_shards.len());
        let primaries_first =
            peer_shards >= metadata.config().n_symbols_in_sliver(SliverType::Primary);
        missing.sort_by_key(|(_, axis)| (*axis == SliverType::Primary) != primaries_first);
        for (pair, axis) in missing {
            let result = match axis {
                SliverType::Primary => self.recover_one::<Primary>(&metadata, pair).await,
                SliverType::Secondary => self.recover_one::<Secondary>(&metadata, pair).await,
            };
            match result {
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
                    self.node
                        .store()
                        .finish_recovery(&blob_id)
                        .map_err(NodeError::from)?;
                    return Ok(());
                }
                Err(error) => return Err(error),
            }
        }
        self.node
            .store()
            .finish_recovery(&blob_id)
            .map_err(NodeError::from)?;
        self.node
            .metrics()
            .recoveries
            .with_label_values(&["ok"])
            .inc();
        tracing::info!(%blob_id, "recovered");
        Ok(())
    }

    /// Metadata from the first peer (fewest lies first) whose answer, capped at what metadata
    /// of `n_shards` shards can weigh, verifies against the blob ID.
    async fn fetch_metadata(
        &self,
        blob_id: &BlobId,
        n_shards: u16,
    ) -> Result<VerifiedBlobMetadataWithId, RecoveryFailure> {
        let config = EncodingConfig::new(n_shards).map_err(|e| {
            NodeError::new(
                walrus_node_client::api::ErrorReason::Internal,
                e.to_string(),
            )
        })?;
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

    /// Rebuilds the sliver of axis `T` in `pair` from our own and peers' verified symbols
    /// ([`collect_symbols`]), and stores it.
    async fn recover_one<T: EncodingAxis>(
        &self,
        metadata: &VerifiedBlobMetadataWithId,
        pair: SliverPairIndex,
    ) -> Result<(), RecoveryFailure>
    where
        InconsistencyProofEither: From<walrus_core::encoding::InconsistencyProof<T>>,
    {
        let blob_id = *metadata.blob_id();
        let n = metadata.config().n_shards();
        let target = pair_sliver_index(T::TYPE, pair, n)?;
        let required = metadata.config().n_symbols_in_sliver(T::TYPE);
        // Our own orthogonal slivers first: free. They are checked like any answer (a corrupt
        // store is no reason to build a wrong sliver), but are no lie.
        let own_answer = self
            .node
            .recovery_symbols(blob_id, target, T::TYPE)
            .await
            .unwrap_or_default();
        let own_sources = source_indices(
            &self.node.committee().own_shards,
            &blob_id,
            n,
            T::Orthogonal::TYPE,
        );
        let own = check_answer_off_runtime::<T>(metadata, target, own_sources, own_answer).await?;
        if let Some(problem) = own.lie {
            tracing::error!(%blob_id, %problem, "own recovery symbol refused");
        }
        let collected = collect_symbols::<T>(
            metadata,
            target,
            own.valid,
            self.peers(),
            &self.requests,
            HEDGE_AFTER,
        )
        .await?;
        self.node
            .metrics()
            .recovery_bytes_fetched
            .inc_by(collected.bytes);
        self.note_lies(&blob_id, collected.lies);
        if collected.symbols.len() < required {
            return Err(RecoveryFailure::Sliver {
                axis: T::TYPE,
                index: target.get(),
                error: RecoveryError::NotEnoughSymbols {
                    available: collected.symbols.len(),
                    required,
                    rejected: collected.rejected,
                },
            });
        }
        // Every symbol verified: this either rebuilds the sliver or proves the encoding
        // inconsistent.
        let candidates: Vec<RecoverySymbol<T>> = collected.symbols.into_values().collect();
        let metadata_clone = metadata.clone();
        let result =
            blocking(move || Ok(recover_sliver::<T>(&metadata_clone, target, candidates))).await?;
        match result {
            Ok(sliver) => {
                self.node.store_recovered(blob_id, pair, sliver).await?;
                Ok(())
            }
            Err(error) => Err(RecoveryFailure::Sliver {
                axis: T::TYPE,
                index: target.get(),
                error,
            }),
        }
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
                walrus_node_client::api::ErrorReason::Unavailable,
                format!("only {weight} shards attested that {blob_id} is invalid"),
            )));
        }
        let certificate = InvalidBlobCertificate::from_signed_messages_and_indices(
            &signed, &signers,
        )
        .map_err(|e| {
            NodeError::new(
                walrus_node_client::api::ErrorReason::Internal,
                e.to_string(),
            )
        })?;
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
    /// A symbol from a source sliver of a shard the peer does not hold.
    #[error("symbol from source sliver {0}, which the peer does not hold")]
    NotHeld(u16),
    /// A second symbol from a source sliver.
    #[error("two symbols from source sliver {0}")]
    Duplicate(u16),
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

    /// Sorts `peers` by their lies remembered at `now`, fewest first (stable).
    fn order(&self, peers: &mut [Peer], now: Instant) {
        peers.sort_by_cached_key(|peer| self.lies(&peer.node_id, now));
    }
}

/// An answer split by [`check_answer`].
#[derive(Debug)]
struct CheckedAnswer<T: EncodingAxis> {
    /// The symbols that are what was asked and verify, one per source sliver.
    valid: Vec<RecoverySymbol<T>>,
    /// How many symbols were refused.
    rejected: usize,
    /// The first reason a symbol was refused.
    lie: Option<Lie>,
}

/// Splits `answer` into the symbols that are what was asked (for sliver `target` of axis `T`,
/// from a source sliver in `sources`, proven against `metadata`; the first valid one per
/// source sliver) and the refused ones.
fn check_answer<T: EncodingAxis>(
    metadata: &VerifiedBlobMetadataWithId,
    target: SliverIndex,
    sources: &BTreeSet<u16>,
    answer: Vec<GeneralRecoverySymbol>,
) -> CheckedAnswer<T> {
    let mut checked = CheckedAnswer {
        valid: Vec::new(),
        rejected: 0,
        lie: None,
    };
    let mut seen = BTreeSet::new();
    for symbol in answer {
        let (axis, index) = (symbol.target_type(), symbol.target_index.get());
        let verdict = match symbol.into_recovery_symbol::<T>(target) {
            Err(_) => Err(Lie::WrongTarget { axis, index }),
            Ok(symbol) => {
                let source = symbol.symbol.index;
                if !sources.contains(&source) {
                    Err(Lie::NotHeld(source))
                } else if seen.contains(&source) {
                    Err(Lie::Duplicate(source))
                } else {
                    match symbol.verify(metadata, target) {
                        Ok(()) => {
                            seen.insert(source);
                            Ok(symbol)
                        }
                        Err(error) => Err(Lie::Invalid {
                            index: source,
                            error,
                        }),
                    }
                }
            }
        };
        match verdict {
            Ok(symbol) => checked.valid.push(symbol),
            Err(lie) => {
                checked.rejected += 1;
                checked.lie.get_or_insert(lie);
            }
        }
    }
    checked
}

/// [`check_answer`], on the blocking pool if the answer holds more than
/// [`INLINE_VERIFY_BYTES`] of symbols.
async fn check_answer_off_runtime<T: EncodingAxis>(
    metadata: &VerifiedBlobMetadataWithId,
    target: SliverIndex,
    sources: BTreeSet<u16>,
    answer: Vec<GeneralRecoverySymbol>,
) -> Result<CheckedAnswer<T>, NodeError> {
    let bytes = answer.len().saturating_mul(metadata.layout().symbol_size());
    if bytes <= INLINE_VERIFY_BYTES {
        return Ok(check_answer(metadata, target, &sources, answer));
    }
    let metadata = metadata.clone();
    blocking(move || Ok(check_answer(&metadata, target, &sources, answer))).await
}

/// What [`collect_symbols`] gathered for one sliver.
#[derive(Debug)]
struct Collected<T: EncodingAxis> {
    /// Verified symbols by source sliver index: at least the required number unless every
    /// peer was asked.
    symbols: BTreeMap<u16, RecoverySymbol<T>>,
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
    /// The source slivers the peer holds.
    sources: BTreeSet<u16>,
    /// How many missing symbols its answer is counted on for (none once it is slow).
    weight: usize,
    /// When it was sent (after waiting for a request permit).
    sent: Arc<OnceLock<Instant>>,
}

/// Collects verified symbols for sliver `target` of axis `T` of the blob of `metadata`: `own`
/// (already checked) and then peers' answers, asking `peers` in their order, at most once each
/// and only those holding a source sliver still missing: just enough to cover the shortfall,
/// the next ones when answers fall short or a request has been out for `hedge_after` (a slow
/// request's answer is still used, but no longer counted on), with at most the permits of
/// `requests` in flight. Each answer is capped at what the peer's shards allow
/// ([`recovery_symbols_response_limit`]) and checked ([`check_answer`]) as it arrives, so a
/// liar answering first costs nothing but its own answer. Returns once the required number
/// of symbols is in or every peer asked has answered.
async fn collect_symbols<T: EncodingAxis>(
    metadata: &VerifiedBlobMetadataWithId,
    target: SliverIndex,
    own: Vec<RecoverySymbol<T>>,
    peers: Vec<Peer>,
    requests: &Arc<Semaphore>,
    hedge_after: Duration,
) -> Result<Collected<T>, NodeError> {
    let blob_id = *metadata.blob_id();
    let layout = *metadata.layout();
    let n = layout.config.n_shards();
    let required = layout.config.n_symbols_in_sliver(T::TYPE);
    let mut collected = Collected {
        symbols: own.into_iter().map(|s| (s.symbol.index, s)).collect(),
        rejected: 0,
        bytes: 0,
        lies: Vec::new(),
    };
    let mut queue: VecDeque<(Peer, BTreeSet<u16>)> = peers
        .into_iter()
        .map(|peer| {
            let sources = source_indices(&peer.shards, &blob_id, n, T::Orthogonal::TYPE);
            (peer, sources)
        })
        .collect();
    let mut fetches = JoinSet::new();
    let mut in_flight: HashMap<tokio::task::Id, InFlight> = HashMap::new();
    // Asks the next peer that can still bring a missing symbol; false when there is none.
    let mut ask_next = |symbols: &BTreeMap<u16, RecoverySymbol<T>>,
                        fetches: &mut JoinSet<_>,
                        in_flight: &mut HashMap<tokio::task::Id, InFlight>| {
        while let Some((peer, sources)) = queue.pop_front() {
            let weight = sources.iter().filter(|s| !symbols.contains_key(s)).count();
            if weight == 0 {
                continue;
            }
            let limit = recovery_symbols_response_limit(&layout, sources.len());
            let permits = requests.clone();
            let client = peer.client;
            let sent = Arc::new(OnceLock::new());
            let sent_at = sent.clone();
            let handle = fetches.spawn(async move {
                let Ok(_permit) = permits.acquire_owned().await else {
                    return Ok(Vec::new());
                };
                let _ = sent_at.set(Instant::now());
                client
                    .get_recovery_symbols_with_limit(&blob_id, target, T::TYPE, limit)
                    .await
            });
            in_flight.insert(
                handle.id(),
                InFlight {
                    node_id: peer.node_id,
                    sources,
                    weight,
                    sent,
                },
            );
            return true;
        }
        false
    };
    while collected.symbols.len() < required {
        let mut pending: usize = in_flight.values().map(|request| request.weight).sum();
        while collected.symbols.len() + pending < required
            && ask_next(&collected.symbols, &mut fetches, &mut in_flight)
        {
            pending = in_flight.values().map(|request| request.weight).sum();
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
                        request.weight = 0;
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
                let size = bcs::serialized_size(&answer).unwrap_or(0);
                collected.bytes += size as u64;
                let checked =
                    check_answer_off_runtime::<T>(metadata, target, request.sources, answer)
                        .await?;
                collected.rejected += checked.rejected;
                if let Some(lie) = checked.lie {
                    collected.lies.push((request.node_id, lie));
                }
                for symbol in checked.valid {
                    collected
                        .symbols
                        .entry(symbol.symbol.index)
                        .or_insert(symbol);
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
    use walrus_core::encoding::{EncodedBlob, SliverData};
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
        let requests = Arc::new(Semaphore::new(16));
        collect_symbols::<T>(
            &blob.metadata,
            target,
            Vec::new(),
            peers,
            &requests,
            hedge_after,
        )
        .await
        .unwrap()
    }

    /// Rebuilds the sliver from what was collected and checks it is the original.
    fn assert_rebuilds<T: EncodingAxis>(
        blob: &EncodedBlob,
        target: SliverIndex,
        collected: Collected<T>,
        original: &SliverData<T>,
    ) where
        InconsistencyProofEither: From<walrus_core::encoding::InconsistencyProof<T>>,
    {
        let symbols = collected.symbols.into_values();
        let sliver = recover_sliver::<T>(&blob.metadata, target, symbols).unwrap();
        assert_eq!(&sliver, original);
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
        assert_eq!(collected.symbols.len(), 7);
        assert_eq!(collected.rejected, 3);
        assert_eq!(collected.lies.len(), 1);
        let liar_lies = lies_of(&collected.lies, 0);
        assert!(
            matches!(liar_lies[..], [Lie::Invalid { .. }] | [Lie::NotHeld(_)]),
            "{liar_lies:?}"
        );
        for mock in [&liar_mock, &a_mock, &b_mock, &c_mock] {
            assert_eq!(hits(mock), 1);
        }
        let pair = &blob.sliver_pairs[usize::from(target.get())];
        assert_rebuilds(&blob, target, collected, &pair.primary);
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
        assert_eq!(collected.symbols.len(), 4);
        let pair = &blob.sliver_pairs[usize::from(N - 1 - target.get())];
        assert_rebuilds(&blob, target, collected, &pair.secondary);
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
        assert_rebuilds(&blob, target, collected, &pair.secondary);
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
        book.order(&mut peers, now);
        let order: Vec<Option<usize>> = peers.iter().map(|peer| peer.index).collect();
        assert_eq!(order, [Some(1), Some(2), Some(3), Some(0)]);
        // The honest peers hold exactly the 7 symbols needed: the liar is never asked.
        let collected = collect::<Primary>(&blob, target, peers, HEDGE_AFTER).await;
        assert_eq!(collected.symbols.len(), 7);
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
        assert_eq!(collected.symbols.len(), 5);
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
        assert!(collected.symbols.len() >= 4);
        let pair = &blob.sliver_pairs[usize::from(N - 1 - target.get())];
        assert_rebuilds(&blob, target, collected, &pair.secondary);
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
        let checked = check_answer::<Primary>(&blob.metadata, target, &source, answer);
        assert_eq!(checked.valid.len(), 1);
        assert!(checked.valid[0].verify(&blob.metadata, target).is_ok());
        assert_eq!(checked.rejected, 2);
        assert!(matches!(checked.lie, Some(Lie::Invalid { .. })));
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
