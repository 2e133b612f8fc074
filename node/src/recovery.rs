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

use std::{
    collections::{BTreeMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
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
    },
    messages::{InvalidBlobCertificate, SignedInvalidBlobIdMsg},
    metadata::{BlobMetadataWithId, VerifiedBlobMetadataWithId},
    BlobId, SliverPairIndex, SliverType,
};
use walrus_node_client::NodeClient;

use crate::node::{expected_sliver_index, StorageNode};

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
enum RecoveryFailure {
    #[error("no peer returned valid metadata")]
    NoMetadata,
    #[error("sliver {axis:?} {index}: {error}")]
    Sliver {
        axis: SliverType,
        index: u16,
        error: RecoveryError,
    },
    #[error(transparent)]
    Node(#[from] crate::node::NodeError),
}

/// The recovery worker's shared state.
#[derive(Debug)]
struct Worker {
    node: Arc<StorageNode>,
    chain: Arc<WalrusClient>,
    http: reqwest::Client,
    limits: RecoveryLimits,
    requests: Arc<Semaphore>,
    in_flight: Mutex<HashSet<BlobId>>,
}

/// Runs the recovery worker until `shutdown` flips: blobs from the store's recovery list at
/// start, then from `queue`.
pub async fn run_recovery(
    node: Arc<StorageNode>,
    chain: Arc<WalrusClient>,
    http: reqwest::Client,
    limits: RecoveryLimits,
    queue_sender: mpsc::UnboundedSender<BlobId>,
    mut queue: mpsc::UnboundedReceiver<BlobId>,
    mut shutdown: watch::Receiver<bool>,
) {
    let worker = Arc::new(Worker {
        node,
        chain,
        http,
        limits,
        requests: Arc::new(Semaphore::new(limits.max_concurrent_requests.max(1))),
        in_flight: Mutex::new(HashSet::new()),
    });
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
    fn peer_clients(&self) -> Vec<(usize, NodeClient)> {
        self.node
            .committee()
            .peers()
            .filter_map(|(index, member)| {
                NodeClient::with_http(&member.url, self.http.clone())
                    .ok()
                    .map(|client| (index, client))
            })
            .collect()
    }

    /// Recovers whatever `blob_id` misses on our shards; `Ok` when nothing is left to do.
    async fn recover_blob(&self, blob_id: BlobId) -> Result<(), RecoveryFailure> {
        let view = self.node.committee();
        let info = self
            .node
            .store()
            .blob_info(&blob_id)
            .map_err(crate::node::NodeError::from)?;
        if !info.is_certified(view.epoch) {
            // Deleted, expired or invalid meanwhile: nothing to recover.
            self.node
                .store()
                .finish_recovery(&blob_id)
                .map_err(crate::node::NodeError::from)?;
            return Ok(());
        }
        let mut missing = self.node.missing_slivers(&blob_id)?;
        let has_metadata = self
            .node
            .store()
            .metadata(&blob_id)
            .map_err(crate::node::NodeError::from)?
            .is_some();
        if missing.is_empty() && has_metadata {
            self.node
                .store()
                .finish_recovery(&blob_id)
                .map_err(crate::node::NodeError::from)?;
            return Ok(());
        }
        tracing::info!(%blob_id, missing = missing.len(), has_metadata, "recovering");
        let metadata = match self.node.verified_metadata(&blob_id).await {
            Ok(metadata) => metadata,
            Err(_) => {
                let metadata = self.fetch_metadata(&blob_id, view.n_shards).await?;
                self.node.store_fetched_metadata(&metadata).await?;
                metadata
            }
        };
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
                        .map_err(crate::node::NodeError::from)?;
                    return Ok(());
                }
                Err(error) => return Err(error),
            }
        }
        self.node
            .store()
            .finish_recovery(&blob_id)
            .map_err(crate::node::NodeError::from)?;
        self.node
            .metrics()
            .recoveries
            .with_label_values(&["ok"])
            .inc();
        tracing::info!(%blob_id, "recovered");
        Ok(())
    }

    /// Metadata from the first peer whose answer verifies against the blob ID.
    async fn fetch_metadata(
        &self,
        blob_id: &BlobId,
        n_shards: u16,
    ) -> Result<VerifiedBlobMetadataWithId, RecoveryFailure> {
        let config = EncodingConfig::new(n_shards).map_err(|e| {
            crate::node::NodeError::new(
                walrus_node_client::api::ErrorReason::Internal,
                e.to_string(),
            )
        })?;
        for (_, peer) in self.peer_clients() {
            let Ok(_permit) = self.requests.acquire().await else {
                break;
            };
            let Ok(metadata) = peer.get_metadata(blob_id).await else {
                continue;
            };
            let size = bcs::serialized_size(&metadata).unwrap_or(0);
            self.node
                .metrics()
                .recovery_bytes_fetched
                .inc_by(size as u64);
            if metadata.blob_id != *blob_id {
                continue;
            }
            if let Ok(verified) = BlobMetadataWithId::verify(metadata, &config) {
                return Ok(verified);
            }
        }
        Err(RecoveryFailure::NoMetadata)
    }

    /// Rebuilds the sliver of axis `T` in `pair` from our own and peers' symbols, and stores
    /// it.
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
        let target = expected_sliver_index(T::TYPE, pair, n);
        let required = metadata.config().n_symbols_in_sliver(T::TYPE);
        // Our own orthogonal slivers first: free.
        let mut symbols: BTreeMap<u16, RecoverySymbol<T>> = BTreeMap::new();
        let own = self
            .node
            .recovery_symbols(blob_id, target, T::TYPE)
            .await
            .unwrap_or_default();
        add_symbols::<T>(&mut symbols, own, target);

        let mut last_error = RecoveryError::NotEnoughSymbols {
            available: symbols.len(),
            required,
            rejected: 0,
        };
        let mut fetches = JoinSet::new();
        let mut peers = self.peer_clients();
        // Ask just enough peers at first (by shard count), then more as answers fall short.
        peers.sort_by_key(|(index, _)| *index);
        let mut peers = peers.into_iter();
        let mut pending_weight = 0usize;
        loop {
            if symbols.len() >= required {
                let candidates: Vec<RecoverySymbol<T>> = symbols.values().cloned().collect();
                let metadata_clone = metadata.clone();
                let result = crate::node::blocking(move || {
                    Ok(recover_sliver::<T>(&metadata_clone, target, candidates))
                })
                .await?;
                match result {
                    Ok(sliver) => {
                        fetches.abort_all();
                        self.node.store_recovered(blob_id, pair, sliver).await?;
                        return Ok(());
                    }
                    Err(error @ RecoveryError::Inconsistent(_)) => {
                        fetches.abort_all();
                        return Err(RecoveryFailure::Sliver {
                            axis: T::TYPE,
                            index: target.get(),
                            error,
                        });
                    }
                    Err(error) => {
                        // Some symbols were invalid: drop them all but keep asking.
                        symbols.retain(|_, symbol| symbol.verify(metadata, target).is_ok());
                        last_error = error;
                    }
                }
            }
            // Keep enough requests in flight to cover the shortfall.
            let view = self.node.committee();
            while symbols.len() + pending_weight < required {
                let Some((index, peer)) = peers.next() else {
                    break;
                };
                let weight = view.members.get(index).map_or(1, |m| m.shards.len());
                pending_weight += weight;
                let permit = self.requests.clone().acquire_owned().await;
                fetches.spawn(async move {
                    let _permit = permit;
                    (
                        weight,
                        peer.get_recovery_symbols(&blob_id, target, T::TYPE).await,
                    )
                });
            }
            let Some(joined) = fetches.join_next().await else {
                let error = match last_error {
                    RecoveryError::NotEnoughSymbols { rejected, .. } => {
                        RecoveryError::NotEnoughSymbols {
                            available: symbols.len(),
                            required,
                            rejected,
                        }
                    }
                    other => other,
                };
                return Err(RecoveryFailure::Sliver {
                    axis: T::TYPE,
                    index: target.get(),
                    error,
                });
            };
            let Ok((weight, answer)) = joined else {
                continue;
            };
            pending_weight = pending_weight.saturating_sub(weight);
            if let Ok(answer) = answer {
                let size = bcs::serialized_size(&answer).unwrap_or(0);
                self.node
                    .metrics()
                    .recovery_bytes_fetched
                    .inc_by(size as u64);
                add_symbols::<T>(&mut symbols, answer, target);
            }
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
        for (index, peer) in self.peer_clients() {
            let proof = proof.clone();
            requests.spawn(async move {
                (
                    index,
                    peer.submit_inconsistency_proof(&blob_id, &proof).await,
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
            return Err(RecoveryFailure::Node(crate::node::NodeError::new(
                walrus_node_client::api::ErrorReason::Unavailable,
                format!("only {weight} shards attested that {blob_id} is invalid"),
            )));
        }
        let certificate = InvalidBlobCertificate::from_signed_messages_and_indices(
            &signed, &signers,
        )
        .map_err(|e| {
            crate::node::NodeError::new(
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

/// Adds the symbols of `answer` that target sliver `target` of axis `T` (deduplicated by
/// source index; verification happens in `recover_sliver`).
fn add_symbols<T: EncodingAxis>(
    symbols: &mut BTreeMap<u16, RecoverySymbol<T>>,
    answer: Vec<GeneralRecoverySymbol>,
    target: walrus_core::SliverIndex,
) {
    for symbol in answer {
        if let Ok(symbol) = symbol.into_recovery_symbol::<T>(target) {
            symbols.entry(symbol.symbol.index).or_insert(symbol);
        }
    }
}
