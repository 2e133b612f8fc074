//! The node's side of an epoch change: pull the shards it gained from their previous owners,
//! report `epoch_sync_done`, and delete the shards it gave away once the change is done.
//!
//! On a new epoch whose `EpochChangeStart` the follower has applied (so every blob event of the
//! previous epochs is in the store), each shard this node holds now but did not hold in the
//! previous epoch gets a durable [`ShardSync`] record. Its slivers are pulled in batches from
//! the shard's previous owner with `POST /v1/migrate/sync_shard` (primary slivers, then
//! secondary ones, in blob-ID order), each batch signed with the node's BLS key; the metadata
//! of each batch's blobs are synced first (from store or peers), every sliver is verified
//! against them and against the pair the shard holds, and the verified slivers are stored in
//! the same transaction as the new progress, so a crash resumes at the last stored batch.
//! Blobs the previous owner skipped go on the recovery list. If the previous owner is down,
//! keeps failing, or lies (a sliver that does not verify), the sync falls back to recovery
//! from the other nodes' symbols for every blob missing a sliver of the shard.
//!
//! When every gained shard is done, no blob certified before the epoch waits for recovery and
//! the node is a member, it calls `epoch_sync_done` (once per epoch, recorded). Once the chain says the epoch change is
//! done, the slivers of shards the node no longer holds are deleted (once per epoch).

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use tokio::sync::{mpsc, watch};
use walrus_chain::client::{ClientError, WalrusClient};
use walrus_core::{
    encoding::{EncodingAxis, Primary, Secondary, Sliver},
    messages::{SyncShardMsg, SyncShardRequestBody},
    metadata::VerifiedBlobMetadataWithId,
    BlobId, ShardIndex, SliverPairIndex, SliverType,
};
use walrus_node_client::{client::sliver_response_limit, NodeConnector};

use crate::{
    committee::{CommitteeView, MemberInfo},
    node::{blocking, NodeError, StorageNode, SYNC_SHARD_BYTE_BUDGET},
    recovery::Worker,
    store::{ShardSync, SyncPhase},
};

/// How often the driver looks at the committee when nothing happens.
const TICK: Duration = Duration::from_secs(1);
/// Most blobs asked for in one shard-sync batch.
const BATCH_BLOBS: usize = 256;
/// Failed batches in a row after which a shard falls back to recovery.
const MAX_FAILURES: u32 = 3;
/// How long one shard-sync request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Metadata fetched at the same time while syncing a batch.
const METADATA_CONCURRENCY: usize = 8;

/// Why a batch did not go through.
#[derive(Debug, thiserror::Error)]
enum BatchError {
    /// The previous owner failed or was slow (worth a retry).
    #[error("previous owner failed: {0}")]
    Transient(String),
    /// The previous owner sent something that is not what was asked (no retry).
    #[error("previous owner lied: {0}")]
    Lie(String),
    /// Our own store or signing failed.
    #[error(transparent)]
    Node(#[from] NodeError),
}

/// The epoch-change driver's state.
struct Driver {
    node: Arc<StorageNode>,
    chain: Arc<WalrusClient>,
    worker: Arc<Worker>,
    http: NodeConnector,
    recover: mpsc::UnboundedSender<BlobId>,
    /// Failed batches in a row, per shard (in memory: a restart gives the owner new chances).
    failures: std::collections::HashMap<ShardIndex, u32>,
}

/// Runs the epoch-change driver until `shutdown` flips.
pub(crate) async fn run_shard_sync(
    node: Arc<StorageNode>,
    chain: Arc<WalrusClient>,
    worker: Arc<Worker>,
    http: NodeConnector,
    recover: mpsc::UnboundedSender<BlobId>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut driver = Driver {
        node,
        chain,
        worker,
        http,
        recover,
        failures: Default::default(),
    };
    let mut tick = tokio::time::interval(TICK);
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tick.tick() => {}
        }
        let step = driver.step();
        tokio::select! {
            _ = shutdown.changed() => return,
            result = step => if let Err(error) = result {
                tracing::warn!(%error, "epoch change step failed; retrying");
            },
        }
    }
}

impl Driver {
    /// One pass: start syncs of gained shards, advance them, report, release.
    async fn step(&mut self) -> Result<(), NodeError> {
        let view = self.node.committee();
        let store = self.node.store().clone();
        let epoch = view.epoch;
        // Every blob event before the epoch change must be applied before we know which blobs
        // the shards hold.
        let started = store.epoch_started()?;
        if started.is_none_or(|started| started < epoch) {
            return Ok(());
        }
        let gained: Vec<ShardIndex> = view.gained_shards().into_iter().collect();
        let syncs = store.shard_syncs()?;
        let fresh: Vec<ShardIndex> = gained
            .iter()
            .copied()
            .filter(|shard| syncs.get(shard).is_none_or(|sync| sync.epoch < epoch))
            .collect();
        if !fresh.is_empty() {
            tracing::info!(epoch, shards = ?fresh, "epoch change: syncing gained shards");
            blocking({
                let store = store.clone();
                move || Ok(store.start_shard_syncs(epoch, &fresh)?)
            })
            .await?;
        }
        for (shard, sync) in store.shard_syncs()? {
            if sync.epoch == epoch && sync.phase != SyncPhase::Done && gained.contains(&shard) {
                self.sync_shard(&view, shard, sync).await?;
            }
        }
        self.report(&view).await?;
        self.release(&view).await
    }

    /// Pulls `shard` batch by batch until it is done or a batch fails (retried next step;
    /// after [`MAX_FAILURES`] in a row, or at the first lie, falls back to recovery).
    async fn sync_shard(
        &mut self,
        view: &CommitteeView,
        shard: ShardIndex,
        mut sync: ShardSync,
    ) -> Result<(), NodeError> {
        let owner = view
            .previous
            .as_ref()
            .and_then(|previous| previous.owner(shard))
            .cloned();
        loop {
            let SyncPhase::Direct { axis, from } = sync.phase else {
                return Ok(());
            };
            let result = match &owner {
                Some(owner) => self.sync_batch(view, owner, shard, axis, from).await,
                None => Err(BatchError::Transient("no previous owner".into())),
            };
            match result {
                Ok(next) => {
                    self.failures.remove(&shard);
                    sync = next;
                }
                Err(BatchError::Node(error)) => return Err(error),
                Err(error) => {
                    let failures = self.failures.entry(shard).or_default();
                    *failures += 1;
                    let give_up = matches!(error, BatchError::Lie(_))
                        || owner.is_none()
                        || *failures >= MAX_FAILURES;
                    tracing::warn!(shard = shard.0, %error, failures, give_up, "shard sync batch failed");
                    if let (BatchError::Lie(problem), Some(owner)) = (&error, &owner) {
                        self.worker
                            .note_sync_lie(&from, owner.node_id, problem.clone());
                    }
                    if !give_up {
                        return Ok(());
                    }
                    self.fall_back(view, shard, &sync).await?;
                    self.failures.remove(&shard);
                    return Ok(());
                }
            }
        }
    }

    /// Pulls one batch of `shard`'s slivers of `axis` from `owner`, starting at `from`;
    /// returns the new progress (stored with the slivers).
    async fn sync_batch(
        &self,
        view: &CommitteeView,
        owner: &MemberInfo,
        shard: ShardIndex,
        axis: SliverType,
        from: BlobId,
    ) -> Result<ShardSync, BatchError> {
        let store = self.node.store().clone();
        let (epoch, n_shards) = (view.epoch, view.n_shards);
        let blobs = blocking({
            let store = store.clone();
            move || Ok(store.certified_blobs_from(&from, BATCH_BLOBS, epoch)?)
        })
        .await?;
        let Some(last) = blobs.last().copied() else {
            // This axis is complete: on to the next one, or done.
            let next = ShardSync {
                epoch,
                phase: next_axis(axis),
            };
            blocking({
                let next = next.clone();
                move || Ok(store.set_shard_sync(shard, &next)?)
            })
            .await?;
            if next.phase == SyncPhase::Done {
                tracing::info!(epoch, shard = shard.0, "shard synced");
            }
            return Ok(next);
        };
        // Metadata first (ours, or fetched and verified), then as many blobs as fit the byte
        // budget; the answer can be no larger than their slivers.
        let metadata = self.batch_metadata(&blobs, n_shards).await;
        let mut asked: Vec<(BlobId, VerifiedBlobMetadataWithId)> = Vec::new();
        let mut limit = 16;
        for (blob_id, metadata) in blobs.iter().zip(metadata) {
            let Some(metadata) = metadata else {
                // No valid metadata anywhere now: recovery retries it.
                self.schedule_recovery(*blob_id).await?;
                continue;
            };
            let size = sliver_response_limit(metadata.layout(), axis) + 40;
            if !asked.is_empty() && limit + size > SYNC_SHARD_BYTE_BUDGET {
                break;
            }
            limit += size;
            asked.push((*blob_id, metadata));
        }
        let end = asked.last().map_or(last, |(blob_id, _)| *blob_id);
        let slivers = if asked.is_empty() {
            Vec::new()
        } else {
            self.request(owner, shard, axis, from, asked.len(), limit, epoch)
                .await?
        };
        // Verify everything (off the runtime: slivers are expanded and hashed) before storing
        // anything.
        let mut candidates = Vec::with_capacity(slivers.len());
        for (blob_id, sliver) in slivers {
            // A blob we do not know as certified (yet) is not ours to judge here.
            if let Some((_, metadata)) = asked.iter().find(|(id, _)| *id == blob_id) {
                candidates.push((blob_id, sliver, metadata.clone()));
            }
        }
        let verified = blocking(move || {
            let mut verified = Vec::with_capacity(candidates.len());
            for (blob_id, sliver, metadata) in candidates {
                let pair = shard.to_pair_index(n_shards, &blob_id);
                if let Err(problem) = check_sliver(&sliver, &metadata, pair, n_shards) {
                    return Ok(Err(format!("blob {blob_id}: {problem}")));
                }
                verified.push((blob_id, pair, sliver));
            }
            Ok(Ok(verified))
        })
        .await?
        .map_err(BatchError::Lie)?;
        let received: u64 = verified
            .iter()
            .map(|(_, _, sliver)| bcs::serialized_size(sliver).unwrap_or(0) as u64)
            .sum();
        let returned: BTreeSet<BlobId> = verified.iter().map(|(blob_id, _, _)| *blob_id).collect();
        // The answer is in blob-ID order: blobs up to its last one that it skipped are missing
        // on the previous owner; an empty answer means it has none of the batch.
        let covered = if returned.len() == asked.len() || returned.is_empty() {
            end
        } else {
            *returned.last().unwrap_or(&end)
        };
        let skipped: Vec<BlobId> = asked
            .iter()
            .map(|(blob_id, _)| *blob_id)
            .filter(|blob_id| *blob_id <= covered && !returned.contains(blob_id))
            .collect();
        let next = ShardSync {
            epoch,
            phase: match successor(&covered) {
                Some(from) => SyncPhase::Direct { axis, from },
                // The largest blob ID: this axis is complete.
                None => next_axis(axis),
            },
        };
        let count = verified.len();
        let added = blocking({
            let next = next.clone();
            move || Ok(store.put_synced_batch(shard, &verified, &next)?)
        })
        .await?;
        let metrics = self.node.metrics();
        metrics.add_stored(added.bytes, added.slivers);
        metrics.shard_sync_slivers.inc_by(count as u64);
        metrics.shard_sync_bytes.inc_by(received);
        for blob_id in &skipped {
            self.schedule_recovery(*blob_id).await?;
        }
        tracing::debug!(
            shard = shard.0,
            ?axis,
            slivers = count,
            skipped = skipped.len(),
            bytes = received,
            "shard sync batch stored"
        );
        Ok(next)
    }

    /// The metadata of `blobs` (stored, or fetched from peers and verified), `None` where no
    /// peer gave valid ones.
    async fn batch_metadata(
        &self,
        blobs: &[BlobId],
        n_shards: u16,
    ) -> Vec<Option<VerifiedBlobMetadataWithId>> {
        use futures::StreamExt;
        futures::stream::iter(blobs.iter().copied())
            .map(|blob_id| {
                let worker = self.worker.clone();
                async move { worker.metadata(&blob_id, n_shards).await.ok() }
            })
            .buffered(METADATA_CONCURRENCY)
            .collect()
            .await
    }

    /// Sends one signed shard-sync request.
    #[allow(clippy::too_many_arguments)]
    async fn request(
        &self,
        owner: &MemberInfo,
        shard: ShardIndex,
        axis: SliverType,
        from: BlobId,
        count: usize,
        limit: usize,
        epoch: u32,
    ) -> Result<Vec<(BlobId, Sliver)>, BatchError> {
        let message = SyncShardMsg::new(
            epoch,
            SyncShardRequestBody {
                shard_index: shard,
                sliver_type: axis,
                starting_blob_id: from,
                sliver_count: count as u64,
            },
        );
        let signed = self.node.keys().sign_message(&message);
        let client = self
            .http
            .client(&owner.url, &owner.network_public_key)
            .map_err(|error| BatchError::Transient(error.to_string()))?;
        match tokio::time::timeout(REQUEST_TIMEOUT, client.sync_shard(&signed, limit)).await {
            Err(_) => Err(BatchError::Transient("timed out".into())),
            Ok(Ok(slivers)) => Ok(slivers),
            Ok(Err(error)) => match error {
                walrus_node_client::NodeClientError::ResponseTooLarge { .. }
                | walrus_node_client::NodeClientError::Decode(_) => {
                    Err(BatchError::Lie(error.to_string()))
                }
                other => Err(BatchError::Transient(other.to_string())),
            },
        }
    }

    /// Hands `shard` to recovery: every certified blob missing a sliver of it goes on the
    /// recovery list (durably), then the shard is done.
    async fn fall_back(
        &self,
        view: &CommitteeView,
        shard: ShardIndex,
        sync: &ShardSync,
    ) -> Result<(), NodeError> {
        let store = self.node.store().clone();
        let (epoch, n_shards) = (view.epoch, view.n_shards);
        let missing = blocking({
            let store = store.clone();
            move || {
                let mut missing = Vec::new();
                let mut from = BlobId([0; 32]);
                loop {
                    let blobs = store.certified_blobs_from(&from, 4096, epoch)?;
                    let Some(last) = blobs.last().copied() else {
                        break;
                    };
                    for blob_id in blobs {
                        let pair = shard.to_pair_index(n_shards, &blob_id);
                        let complete = store.has_sliver(&blob_id, pair, SliverType::Primary)?
                            && store.has_sliver(&blob_id, pair, SliverType::Secondary)?;
                        if !complete {
                            store.schedule_recovery(&blob_id)?;
                            missing.push(blob_id);
                        }
                    }
                    match successor(&last) {
                        Some(next) => from = next,
                        None => break,
                    }
                }
                Ok(missing)
            }
        })
        .await?;
        self.node.metrics().shard_sync_fallbacks.inc();
        tracing::warn!(
            epoch, shard = shard.0, blobs = missing.len(), at = ?sync.phase,
            "shard sync falls back to recovery from symbols"
        );
        for blob_id in missing {
            let _ = self.recover.send(blob_id);
        }
        let done = ShardSync {
            epoch,
            phase: SyncPhase::Done,
        };
        blocking(move || Ok(store.set_shard_sync(shard, &done)?)).await
    }

    /// Puts `blob_id` on the durable recovery list and wakes the recovery worker.
    async fn schedule_recovery(&self, blob_id: BlobId) -> Result<(), NodeError> {
        let store = self.node.store().clone();
        blocking(move || Ok(store.schedule_recovery(&blob_id)?)).await?;
        let _ = self.recover.send(blob_id);
        Ok(())
    }

    /// Calls `epoch_sync_done` once every gained shard of this epoch is done and no blob
    /// certified before the epoch waits for recovery.
    async fn report(&self, view: &CommitteeView) -> Result<(), NodeError> {
        let store = self.node.store().clone();
        let epoch = view.epoch;
        if view.own_index.is_none() || store.sync_reported_epoch()? >= Some(epoch) {
            return Ok(());
        }
        let syncs = store.shard_syncs()?;
        let pending = view.gained_shards().into_iter().any(|shard| {
            syncs
                .get(&shard)
                .is_none_or(|sync| sync.epoch < epoch || sync.phase != SyncPhase::Done)
        });
        if pending {
            return Ok(());
        }
        // Blobs certified before this epoch are the ones the gained shards must hold; blobs
        // certified since were uploaded to this committee (their recoveries do not hold the
        // report up).
        for blob_id in store.pending_recoveries()? {
            let info = store.blob_info(&blob_id)?;
            let older = info.objects.values().any(|object| {
                object
                    .certified_epoch
                    .is_some_and(|certified| certified < epoch)
            });
            if older && info.is_certified(epoch) {
                return Ok(());
            }
        }
        let cap = match self.chain.owned_node_caps().await {
            Ok(caps) => caps
                .into_iter()
                .find(|cap| Some(cap.node_id) == view.own_index.map(|i| view.members[i].node_id)),
            Err(error) => {
                tracing::warn!(%error, "cannot read the node's capability");
                return Ok(());
            }
        };
        let Some(cap) = cap else {
            tracing::warn!("this node's wallet holds no StorageNodeCap: cannot report epoch sync");
            return Ok(());
        };
        if cap.last_epoch_sync_done >= epoch {
            store.set_sync_reported_epoch(epoch)?;
            return Ok(());
        }
        match self.chain.epoch_sync_done(cap.id, epoch).await {
            Ok(_) => {
                tracing::info!(epoch, "reported epoch sync done");
            }
            Err(ClientError::MoveAbort { .. }) => {
                // Another epoch began meanwhile, or it was reported already: nothing to redo.
                tracing::info!(epoch, "epoch sync report refused by the chain");
            }
            Err(error) => {
                tracing::warn!(%error, "cannot report epoch sync; retrying");
                return Ok(());
            }
        }
        store.set_sync_reported_epoch(epoch)?;
        self.node.metrics().epoch_synced.set(i64::from(epoch));
        Ok(())
    }

    /// Deletes the slivers of shards this node no longer holds, once the epoch change is done.
    async fn release(&self, view: &CommitteeView) -> Result<(), NodeError> {
        let store = self.node.store().clone();
        let epoch = view.epoch;
        if view.in_transition || store.released_epoch()? >= Some(epoch) {
            return Ok(());
        }
        let own = view.own_shards.clone();
        let n_shards = view.n_shards;
        let freed = blocking(move || Ok(store.release_shards(&own, n_shards, epoch)?)).await?;
        if freed.slivers > 0 {
            tracing::info!(
                epoch,
                slivers = freed.slivers,
                bytes = freed.bytes,
                "deleted the slivers of shards given away"
            );
        }
        self.node.metrics().remove_stored(freed);
        self.node.metrics().slivers_released.inc_by(freed.slivers);
        Ok(())
    }
}

/// The phase after the last batch of `axis`: secondary slivers after primary ones, then done.
fn next_axis(axis: SliverType) -> SyncPhase {
    match axis {
        SliverType::Primary => SyncPhase::Direct {
            axis: SliverType::Secondary,
            from: BlobId([0; 32]),
        },
        SliverType::Secondary => SyncPhase::Done,
    }
}

/// Checks a synced sliver: the axis asked, the sliver index pair `pair` holds, and the
/// metadata's hash of it.
fn check_sliver(
    sliver: &Sliver,
    metadata: &VerifiedBlobMetadataWithId,
    pair: SliverPairIndex,
    n_shards: u16,
) -> Result<(), String> {
    fn check<T: EncodingAxis>(
        sliver: &walrus_core::encoding::SliverData<T>,
        metadata: &VerifiedBlobMetadataWithId,
        pair: SliverPairIndex,
        n_shards: u16,
    ) -> Result<(), String> {
        let expected = pair.sliver_index(T::TYPE, n_shards);
        if Some(sliver.index) != expected {
            return Err(format!(
                "sliver {} of {}, not the one of pair {}",
                sliver.index.get(),
                T::TYPE,
                pair.0
            ));
        }
        sliver.verify(metadata).map_err(|error| error.to_string())
    }
    match sliver {
        Sliver::Primary(sliver) => check::<Primary>(sliver, metadata, pair, n_shards),
        Sliver::Secondary(sliver) => check::<Secondary>(sliver, metadata, pair, n_shards),
    }
}

/// The next blob ID in order (`None` after the largest).
fn successor(blob_id: &BlobId) -> Option<BlobId> {
    let mut bytes = blob_id.0;
    for byte in bytes.iter_mut().rev() {
        if *byte == u8::MAX {
            *byte = 0;
        } else {
            *byte += 1;
            return Some(BlobId(bytes));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successor_counts_in_big_endian() {
        assert_eq!(
            successor(&BlobId([0; 32])),
            Some(BlobId({
                let mut b = [0; 32];
                b[31] = 1;
                b
            }))
        );
        let mut carry = [0; 32];
        carry[30] = 1;
        let mut before = [0; 32];
        before[31] = 0xff;
        assert_eq!(successor(&BlobId(before)), Some(BlobId(carry)));
        assert_eq!(successor(&BlobId([0xff; 32])), None);
    }
}
