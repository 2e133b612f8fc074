//! The ledger of the gRPC service: executed transactions (as `sui.rpc.v2` messages) and the
//! checkpoints that order them.
//!
//! Executed transactions wait in a pending list until [`Ledger::seal`] puts them, in execution
//! order, into the next checkpoint (the service seals every `checkpoint_interval` when any are
//! pending). Checkpoint 0 is sealed at start, empty; its digest is the chain ID. Checkpoints
//! carry a real `CheckpointSummary` and `CheckpointContents` (Sui's digests) but no validator
//! signature. Sealed checkpoints are broadcast to subscribers.
//!
//! With a [`ChainDb`] attached ([`Ledger::restore`]), a checkpoint is committed to the database
//! before it is applied and broadcast; the executed transactions themselves are written by the
//! executor ([`crate::Executor`]), so the ledger is rebuilt from the database at start, with the
//! executed transactions that no checkpoint holds yet pending again.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use sui_rpc::{
    field::FieldMaskTree,
    merge::Merge,
    proto::{sui::rpc::v2 as pb, timestamp_ms_to_proto},
};
use sui_sdk_types::{
    CheckpointContents, CheckpointSummary, CheckpointTransactionInfo, Digest, GasCostSummary,
    Transaction, TransactionEvents, UserSignature,
};
use tokio::sync::broadcast;

use crate::{
    db::{ChainDb, ChainDbError, StoredCheckpoint, StoredTransaction},
    Effects, SUI_EPOCH,
};

/// How many sealed checkpoints a slow subscriber may fall behind before it is dropped.
const SUBSCRIBER_BUFFER: usize = 1_024;

/// An executed transaction waiting for its checkpoint.
struct Pending {
    info: CheckpointTransactionInfo,
    gas_used: GasCostSummary,
}

/// Executed transactions and checkpoints, in memory.
pub struct Ledger {
    /// Every executed transaction, with all fields (`checkpoint` and `timestamp` once sealed).
    transactions: HashMap<Digest, pb::ExecutedTransaction>,
    /// Executed transactions not yet in a checkpoint, in execution order.
    pending: Vec<Pending>,
    /// Sealed checkpoints, with all fields, by sequence number.
    checkpoints: Vec<Arc<pb::Checkpoint>>,
    /// Checkpoint sequence numbers by checkpoint digest.
    by_digest: HashMap<Digest, u64>,
    previous_digest: Option<Digest>,
    network_total_transactions: u64,
    rolling_gas: GasCostSummary,
    last_timestamp_ms: u64,
    sender: broadcast::Sender<Arc<pb::Checkpoint>>,
    db: Option<Arc<ChainDb>>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("transactions", &self.transactions.len())
            .field("pending", &self.pending.len())
            .field("checkpoints", &self.checkpoints.len())
            .finish()
    }
}

/// The current wall-clock time in milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The `sui.rpc.v2` form of an executed transaction, with every field the localnet fills
/// (`balance_changes`, `objects` and `transaction_index` are not filled).
pub fn executed_transaction(
    transaction: &Transaction,
    signatures: &[UserSignature],
    effects: &Effects,
) -> pb::ExecutedTransaction {
    let all = FieldMaskTree::new_wildcard();
    let mut executed = pb::ExecutedTransaction::default();
    executed.digest = Some(transaction.digest().to_string());
    executed.transaction = Some(pb::Transaction::merge_from(transaction.clone(), &all));
    executed.signatures = signatures
        .iter()
        .map(|signature| pb::UserSignature::merge_from(signature.clone(), &all))
        .collect();
    executed.effects = Some(pb::TransactionEffects::merge_from(&effects.effects, &all));
    executed.events = Some(pb::TransactionEvents::merge_from(
        TransactionEvents(effects.events.clone()),
        &all,
    ));
    executed
}

impl Pending {
    fn new(digest: Digest, signatures: &[UserSignature], effects: &Effects) -> Self {
        Self {
            info: CheckpointTransactionInfo::new(digest, effects.digest(), signatures.to_vec()),
            gas_used: effects.gas_used.clone(),
        }
    }
}

/// The genesis checkpoint (0, empty) at `timestamp_ms`; its digest is the chain ID.
pub fn genesis_checkpoint(timestamp_ms: u64) -> StoredCheckpoint {
    let contents = CheckpointContents::new_v1(Vec::new());
    StoredCheckpoint {
        summary: CheckpointSummary {
            epoch: SUI_EPOCH,
            sequence_number: 0,
            network_total_transactions: 0,
            content_digest: contents.digest(),
            previous_digest: None,
            epoch_rolling_gas_cost_summary: GasCostSummary::new(0, 0, 0, 0),
            timestamp_ms,
            checkpoint_commitments: Vec::new(),
            end_of_epoch_data: None,
            version_specific_data: Vec::new(),
        },
        contents,
    }
}

impl Ledger {
    fn empty(db: Option<Arc<ChainDb>>) -> Self {
        let (sender, _) = broadcast::channel(SUBSCRIBER_BUFFER);
        Self {
            transactions: HashMap::new(),
            pending: Vec::new(),
            checkpoints: Vec::new(),
            by_digest: HashMap::new(),
            previous_digest: None,
            network_total_transactions: 0,
            rolling_gas: GasCostSummary::new(0, 0, 0, 0),
            last_timestamp_ms: 0,
            sender,
            db,
        }
    }

    /// An in-memory ledger whose checkpoint 0 (empty) is sealed at `genesis_timestamp_ms`.
    pub fn new(genesis_timestamp_ms: u64) -> Self {
        let mut ledger = Self::empty(None);
        ledger.apply(&genesis_checkpoint(genesis_timestamp_ms));
        ledger
    }

    /// The ledger stored in a database: its `checkpoints` (from 0, as loaded) and executed
    /// `transactions` (in execution order); the transactions no checkpoint holds are pending.
    /// New checkpoints are written to `db`.
    pub fn restore(
        checkpoints: &[StoredCheckpoint],
        transactions: &[StoredTransaction],
        db: Arc<ChainDb>,
    ) -> Result<Self, ChainDbError> {
        let corrupt = |reason: String| ChainDbError::Corrupt {
            path: db.path().to_owned(),
            reason,
        };
        let mut ledger = Self::empty(None);
        for stored in transactions {
            let executed =
                executed_transaction(&stored.transaction, &stored.signatures, &stored.effects);
            ledger
                .transactions
                .insert(stored.transaction.digest(), executed);
        }
        let mut sealed = HashSet::new();
        for checkpoint in checkpoints {
            let expected = u64::try_from(ledger.checkpoints.len()).unwrap_or(u64::MAX);
            if checkpoint.summary.sequence_number != expected
                || checkpoint.summary.previous_digest != ledger.previous_digest
            {
                return Err(corrupt(format!(
                    "checkpoint {expected} does not follow the previous one"
                )));
            }
            for info in checkpoint.contents.transactions() {
                if !ledger.transactions.contains_key(info.transaction())
                    || !sealed.insert(*info.transaction())
                {
                    return Err(corrupt(format!(
                        "checkpoint {expected} holds transaction {} unknown or sealed twice",
                        info.transaction()
                    )));
                }
            }
            ledger.apply(checkpoint);
        }
        if ledger.checkpoints.is_empty() {
            return Err(corrupt("no genesis checkpoint".to_owned()));
        }
        ledger.pending = transactions
            .iter()
            .filter_map(|stored| {
                let digest = stored.transaction.digest();
                (!sealed.contains(&digest))
                    .then(|| Pending::new(digest, &stored.signatures, &stored.effects))
            })
            .collect();
        ledger.db = Some(db);
        Ok(ledger)
    }

    /// Records a successfully executed transaction; it goes into the next checkpoint.
    pub fn record(
        &mut self,
        transaction: &Transaction,
        signatures: &[UserSignature],
        effects: &Effects,
    ) -> pb::ExecutedTransaction {
        let digest = transaction.digest();
        let executed = executed_transaction(transaction, signatures, effects);
        self.pending.push(Pending::new(digest, signatures, effects));
        self.transactions.insert(digest, executed.clone());
        executed
    }

    /// Whether executed transactions wait for a checkpoint.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Seals the pending transactions into a checkpoint at `timestamp_ms` (or the previous
    /// checkpoint's timestamp if that is later), writes it to the database if there is one,
    /// and broadcasts it. Does nothing when no transaction is pending. If the write fails,
    /// nothing changes (the transactions stay pending).
    pub fn seal(&mut self, timestamp_ms: u64) -> Result<Option<Arc<pb::Checkpoint>>, ChainDbError> {
        if self.pending.is_empty() {
            return Ok(None);
        }
        let stored = self.next_checkpoint(timestamp_ms);
        if let Some(db) = &self.db {
            db.write_checkpoint(&stored)?;
        }
        self.pending.clear();
        let checkpoint = self.apply(&stored);
        // No subscriber is not an error.
        let _ = self.sender.send(checkpoint.clone());
        Ok(Some(checkpoint))
    }

    /// The checkpoint that seals the pending transactions.
    fn next_checkpoint(&self, timestamp_ms: u64) -> StoredCheckpoint {
        let timestamp_ms = timestamp_ms.max(self.last_timestamp_ms);
        let sequence_number = u64::try_from(self.checkpoints.len()).unwrap_or(u64::MAX);
        let mut gas = self.rolling_gas.clone();
        for entry in &self.pending {
            gas.computation_cost = gas
                .computation_cost
                .saturating_add(entry.gas_used.computation_cost);
            gas.storage_cost = gas.storage_cost.saturating_add(entry.gas_used.storage_cost);
            gas.storage_rebate = gas
                .storage_rebate
                .saturating_add(entry.gas_used.storage_rebate);
            gas.non_refundable_storage_fee = gas
                .non_refundable_storage_fee
                .saturating_add(entry.gas_used.non_refundable_storage_fee);
        }
        let network_total_transactions = self
            .network_total_transactions
            .saturating_add(u64::try_from(self.pending.len()).unwrap_or(u64::MAX));
        let contents = CheckpointContents::new_v1(
            self.pending
                .iter()
                .map(|entry| entry.info.clone())
                .collect(),
        );
        let summary = CheckpointSummary {
            epoch: SUI_EPOCH,
            sequence_number,
            network_total_transactions,
            content_digest: contents.digest(),
            previous_digest: self.previous_digest,
            epoch_rolling_gas_cost_summary: gas,
            timestamp_ms,
            checkpoint_commitments: Vec::new(),
            end_of_epoch_data: None,
            version_specific_data: Vec::new(),
        };
        StoredCheckpoint { summary, contents }
    }

    /// Appends a sealed checkpoint: its transactions get their checkpoint and timestamp.
    fn apply(&mut self, stored: &StoredCheckpoint) -> Arc<pb::Checkpoint> {
        let summary = &stored.summary;
        let sequence_number = summary.sequence_number;
        let digest = summary.digest();
        let all = FieldMaskTree::new_wildcard();
        let mut checkpoint = pb::Checkpoint::default();
        checkpoint.merge(summary, &all);
        checkpoint.merge(stored.contents.clone(), &all);
        let timestamp = timestamp_ms_to_proto(summary.timestamp_ms);
        for info in stored.contents.transactions() {
            if let Some(executed) = self.transactions.get_mut(info.transaction()) {
                executed.checkpoint = Some(sequence_number);
                executed.timestamp = Some(timestamp);
                checkpoint.transactions.push(executed.clone());
            }
        }
        let checkpoint = Arc::new(checkpoint);
        self.checkpoints.push(checkpoint.clone());
        self.by_digest.insert(digest, sequence_number);
        self.previous_digest = Some(digest);
        self.network_total_transactions = summary.network_total_transactions;
        self.rolling_gas = summary.epoch_rolling_gas_cost_summary.clone();
        self.last_timestamp_ms = summary.timestamp_ms;
        checkpoint
    }

    /// A receiver of the checkpoints sealed from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<pb::Checkpoint>> {
        self.sender.subscribe()
    }

    /// An executed transaction (with its checkpoint and timestamp once sealed).
    pub fn transaction(&self, digest: &Digest) -> Option<&pb::ExecutedTransaction> {
        self.transactions.get(digest)
    }

    /// The checkpoint with this sequence number.
    pub fn checkpoint(&self, sequence_number: u64) -> Option<&Arc<pb::Checkpoint>> {
        usize::try_from(sequence_number)
            .ok()
            .and_then(|index| self.checkpoints.get(index))
    }

    /// The checkpoint with this digest.
    pub fn checkpoint_by_digest(&self, digest: &Digest) -> Option<&Arc<pb::Checkpoint>> {
        self.by_digest
            .get(digest)
            .and_then(|sequence_number| self.checkpoint(*sequence_number))
    }

    /// The latest sealed checkpoint.
    pub fn latest_checkpoint(&self) -> &Arc<pb::Checkpoint> {
        // Checkpoint 0 is sealed by `new`, so the list is never empty.
        &self.checkpoints[self.checkpoints.len() - 1]
    }

    /// The sequence number of the latest sealed checkpoint.
    pub fn latest_sequence_number(&self) -> u64 {
        u64::try_from(self.checkpoints.len().saturating_sub(1)).unwrap_or(u64::MAX)
    }

    /// The timestamp of the latest sealed checkpoint.
    pub fn latest_timestamp_ms(&self) -> u64 {
        self.last_timestamp_ms
    }

    /// The genesis checkpoint's digest (the chain ID, as on Sui).
    pub fn chain_id(&self) -> String {
        self.checkpoints
            .first()
            .and_then(|checkpoint| checkpoint.digest.clone())
            .unwrap_or_default()
    }

    /// The genesis checkpoint's timestamp.
    pub fn genesis_timestamp(&self) -> Option<prost_types::Timestamp> {
        self.checkpoints
            .first()
            .and_then(|checkpoint| checkpoint.summary.as_ref())
            .and_then(|summary| summary.timestamp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genesis_checkpoint_and_empty_seals() {
        let mut ledger = Ledger::new(5_000);
        assert_eq!(ledger.latest_sequence_number(), 0);
        assert_eq!(ledger.latest_timestamp_ms(), 5_000);
        let genesis = ledger.latest_checkpoint().clone();
        assert_eq!(genesis.digest.as_deref(), Some(ledger.chain_id().as_str()));
        assert!(genesis.transactions.is_empty());
        let digest: Digest = ledger.chain_id().parse().unwrap();
        assert_eq!(ledger.checkpoint_by_digest(&digest), Some(&genesis));
        // Nothing pending: nothing sealed.
        assert!(!ledger.has_pending());
        assert!(ledger.seal(9_000).unwrap().is_none());
        assert_eq!(ledger.latest_sequence_number(), 0);
        assert!(ledger.checkpoint(1).is_none());
    }
}
