//! Twin of `walrus::staking`: storage-node registration (with proof of possession of the BLS
//! key), staking pools, staked WAL, epoch changes with committee selection and shard
//! assignment from stake, price and capacity votes, and the distribution of storage rewards.
//!
//! Simplification against Walrus (documented in `contracts/DESIGN.md`): stake is not
//! compounded through exchange rates; stakers get their principal back and the rewards of the
//! shards a node held go to the node's pool, collected by the holder of its `StorageNodeCap`.

use serde::{Deserialize, Serialize};
use walrus_core::ObjectId;

use super::{
    bls_aggregate::{self, new_bls_committee, BlsCommitteeMember},
    ensure,
    events::{EpochChangeDone, EpochChangeStart, Event, ShardsReceived, StakingPoolCreated},
    messages,
    sui::{take_balance, Clock, Coin, TxContext},
    system::System,
    Abort, MoveResult,
};

/// `EInvalidProofOfPossession`: the proof of possession does not verify for the key.
pub const E_INVALID_PROOF_OF_POSSESSION: Abort =
    Abort::new("staking", 0, "EInvalidProofOfPossession");
/// `ECommissionTooHigh`: commission above 100% (10000 basis points).
pub const E_COMMISSION_TOO_HIGH: Abort = Abort::new("staking", 1, "ECommissionTooHigh");
/// `EZeroStake`: staking a zero coin.
pub const E_ZERO_STAKE: Abort = Abort::new("staking", 2, "EZeroStake");
/// `EPoolNotFound`: no pool for the node ID.
pub const E_POOL_NOT_FOUND: Abort = Abort::new("staking", 3, "EPoolNotFound");
/// `ENotWithdrawing`: withdrawing stake that was not requested for withdrawal.
pub const E_NOT_WITHDRAWING: Abort = Abort::new("staking", 4, "ENotWithdrawing");
/// `EWithdrawTooEarly`: withdrawing before the withdraw epoch.
pub const E_WITHDRAW_TOO_EARLY: Abort = Abort::new("staking", 5, "EWithdrawTooEarly");
/// `EAlreadyWithdrawing`: requesting a withdrawal twice.
pub const E_ALREADY_WITHDRAWING: Abort = Abort::new("staking", 6, "EAlreadyWithdrawing");
/// `EEpochNotOver`: an epoch change before the epoch's duration has passed.
pub const E_EPOCH_NOT_OVER: Abort = Abort::new("staking", 7, "EEpochNotOver");
/// `EWrongEpoch`: an epoch-sync report for another epoch, or a repeated one.
pub const E_WRONG_EPOCH: Abort = Abort::new("staking", 8, "EWrongEpoch");
/// `EDuplicateNode`: a candidate with a public key already registered.
pub const E_DUPLICATE_NODE: Abort = Abort::new("staking", 9, "EDuplicateNode");
/// `ENoStake`: an epoch change with no stake at all.
pub const E_NO_STAKE: Abort = Abort::new("staking", 10, "ENoStake");

/// Commission rates are in basis points.
pub const MAX_COMMISSION_RATE: u16 = 10_000;
/// Epoch state: the epoch change is done (a quorum synced).
pub const EPOCH_CHANGE_DONE: u8 = 0;
/// Epoch state: the new committee is syncing its shards.
pub const EPOCH_CHANGE_SYNC: u8 = 1;

/// What a node publishes about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageNodeInfo {
    /// Human-readable name.
    pub name: String,
    /// The node (pool) ID.
    pub node_id: ObjectId,
    /// Where its REST API listens (`host:port`).
    pub network_address: String,
    /// BLS12-381 public key (48 bytes).
    pub public_key: Vec<u8>,
    /// Network (TLS) public key.
    pub network_public_key: Vec<u8>,
}

/// A node's staking pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StakingPool {
    /// The node (pool) ID.
    pub node_id: ObjectId,
    /// The node's information.
    pub info: StorageNodeInfo,
    /// Commission in basis points.
    pub commission_rate: u16,
    /// Stake counted for the committee of the current epoch.
    pub active_stake: u64,
    /// Stake that becomes active at the next epoch change.
    pub pending_stake: u64,
    /// Active stake that leaves at the next epoch change.
    pub pending_withdraw: u64,
    /// All staked principal held by the pool (`Balance<WAL>`).
    pub wal_balance: u64,
    /// Rewards earned and not yet collected (`Balance<WAL>`).
    pub rewards: u64,
    /// Vote for the storage price per unit per epoch.
    pub storage_price: u64,
    /// Vote for the write price per unit.
    pub write_price: u64,
    /// Vote for the capacity (encoded bytes) the node can store.
    pub node_capacity: u64,
}

/// Staked WAL: a staker's principal in a pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StakedWal {
    /// Object ID.
    pub id: ObjectId,
    /// The pool.
    pub node_id: ObjectId,
    /// The principal in FROST (the WAL itself is held in the pool's `wal_balance`).
    pub principal: u64,
    /// First epoch the stake counts.
    pub activation_epoch: u32,
    /// Epoch from which it can be withdrawn, once requested.
    pub withdraw_epoch: Option<u32>,
}

/// The capability of a storage node's operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageNodeCap {
    /// Object ID.
    pub id: ObjectId,
    /// The node (pool) ID.
    pub node_id: ObjectId,
    /// Last epoch the node reported its shards synced.
    pub last_epoch_sync_done: u32,
}

/// The `Staking` shared object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Staking {
    /// Object ID.
    pub id: ObjectId,
    /// Number of shards (fixed at genesis).
    pub n_shards: u16,
    /// Epoch length.
    pub epoch_duration_ms: u64,
    /// The current epoch.
    pub epoch: u32,
    /// When the current epoch started.
    pub epoch_start_ms: u64,
    /// The pools, in registration order.
    pub pools: Vec<StakingPool>,
    /// Owner (node ID) of each shard in the current epoch (empty before the first committee).
    pub shard_assignment: Vec<ObjectId>,
    /// Shards whose owners reported them synced in this epoch.
    pub sync_done_weight: u16,
    /// `EPOCH_CHANGE_DONE` or `EPOCH_CHANGE_SYNC`.
    pub epoch_state: u8,
}

impl Staking {
    /// `create` (package-internal, at genesis): epoch 0, no pools and no committee.
    pub fn create(
        n_shards: u16,
        epoch_duration_ms: u64,
        clock: &Clock,
        ctx: &mut TxContext,
    ) -> Self {
        Self {
            id: ctx.fresh_id(),
            n_shards,
            epoch_duration_ms,
            epoch: 0,
            epoch_start_ms: clock.timestamp_ms,
            pools: Vec::new(),
            shard_assignment: Vec::new(),
            sync_done_weight: 0,
            epoch_state: EPOCH_CHANGE_DONE,
        }
    }

    fn pool_index(&self, node_id: &ObjectId) -> MoveResult<usize> {
        self.pools
            .iter()
            .position(|pool| pool.node_id == *node_id)
            .ok_or(E_POOL_NOT_FOUND)
    }

    /// `register_candidate`: registers the sender as a storage-node candidate with a new pool;
    /// the proof of possession is the BLS signature of the proof-of-possession message (this
    /// epoch, the sender's address, the key).
    #[allow(clippy::too_many_arguments)]
    pub fn register_candidate(
        &mut self,
        name: String,
        network_address: String,
        public_key: Vec<u8>,
        network_public_key: Vec<u8>,
        proof_of_possession: Vec<u8>,
        commission_rate: u16,
        storage_price: u64,
        write_price: u64,
        node_capacity: u64,
        ctx: &mut TxContext,
    ) -> MoveResult<StorageNodeCap> {
        ensure(
            messages::verify_proof_of_possession(
                self.epoch,
                &ctx.sender(),
                &public_key,
                &proof_of_possession,
            ),
            E_INVALID_PROOF_OF_POSSESSION,
        )?;
        ensure(
            commission_rate <= MAX_COMMISSION_RATE,
            E_COMMISSION_TOO_HIGH,
        )?;
        ensure(
            self.pools
                .iter()
                .all(|pool| pool.info.public_key != public_key),
            E_DUPLICATE_NODE,
        )?;
        let node_id = ctx.fresh_id();
        self.pools.push(StakingPool {
            node_id,
            info: StorageNodeInfo {
                name,
                node_id,
                network_address,
                public_key,
                network_public_key,
            },
            commission_rate,
            active_stake: 0,
            pending_stake: 0,
            pending_withdraw: 0,
            wal_balance: 0,
            rewards: 0,
            storage_price,
            write_price,
            node_capacity,
        });
        ctx.emit(Event::StakingPoolCreated(StakingPoolCreated { node_id }));
        Ok(StorageNodeCap {
            id: ctx.fresh_id(),
            node_id,
            last_epoch_sync_done: 0,
        })
    }

    /// `set_votes`: the node's votes for prices and capacity, effective at the next epoch change.
    pub fn set_votes(
        &mut self,
        cap: &StorageNodeCap,
        storage_price: u64,
        write_price: u64,
        node_capacity: u64,
    ) -> MoveResult<()> {
        let index = self.pool_index(&cap.node_id)?;
        let pool = &mut self.pools[index];
        pool.storage_price = storage_price;
        pool.write_price = write_price;
        pool.node_capacity = node_capacity;
        Ok(())
    }

    /// `stake_with_pool`: stakes the coin with `node_id`; it counts from the next epoch.
    pub fn stake_with_pool(
        &mut self,
        to_stake: Coin,
        node_id: ObjectId,
        ctx: &mut TxContext,
    ) -> MoveResult<StakedWal> {
        ensure(to_stake.value() > 0, E_ZERO_STAKE)?;
        let index = self.pool_index(&node_id)?;
        let pool = &mut self.pools[index];
        pool.pending_stake += to_stake.balance;
        pool.wal_balance += to_stake.balance;
        Ok(StakedWal {
            id: ctx.fresh_id(),
            node_id,
            principal: to_stake.balance,
            activation_epoch: self.epoch + 1,
            withdraw_epoch: None,
        })
    }

    /// `request_withdraw_stake`: stake not yet active can be withdrawn at once; active stake
    /// leaves the committee at the next epoch change and can be withdrawn from then on.
    pub fn request_withdraw_stake(&mut self, staked_wal: &mut StakedWal) -> MoveResult<()> {
        ensure(staked_wal.withdraw_epoch.is_none(), E_ALREADY_WITHDRAWING)?;
        let index = self.pool_index(&staked_wal.node_id)?;
        let pool = &mut self.pools[index];
        if staked_wal.activation_epoch > self.epoch {
            pool.pending_stake -= staked_wal.principal;
            staked_wal.withdraw_epoch = Some(self.epoch);
        } else {
            pool.pending_withdraw += staked_wal.principal;
            staked_wal.withdraw_epoch = Some(self.epoch + 1);
        }
        Ok(())
    }

    /// `withdraw_stake`: returns the principal once the withdraw epoch has come.
    pub fn withdraw_stake(
        &mut self,
        staked_wal: StakedWal,
        ctx: &mut TxContext,
    ) -> MoveResult<Coin> {
        let withdraw_epoch = staked_wal.withdraw_epoch.ok_or(E_NOT_WITHDRAWING)?;
        ensure(self.epoch >= withdraw_epoch, E_WITHDRAW_TOO_EARLY)?;
        let index = self.pool_index(&staked_wal.node_id)?;
        let balance = take_balance(&mut self.pools[index].wal_balance, staked_wal.principal)?;
        Ok(Coin {
            id: ctx.fresh_id(),
            balance,
        })
    }

    /// `collect_rewards`: the node's uncollected rewards, to the holder of its capability.
    pub fn collect_rewards(
        &mut self,
        cap: &StorageNodeCap,
        ctx: &mut TxContext,
    ) -> MoveResult<Coin> {
        let index = self.pool_index(&cap.node_id)?;
        let balance = std::mem::take(&mut self.pools[index].rewards);
        Ok(Coin {
            id: ctx.fresh_id(),
            balance,
        })
    }

    /// `initiate_epoch_change`: once the epoch's duration has passed, activates pending stake
    /// and withdrawals, selects the next committee (shards apportioned to stake by largest
    /// remainders, kept in place where possible), sets prices (stake-weighted medians of the
    /// votes) and capacity (the largest value a quorum of shards voted for), pays the finished
    /// epoch's rewards to its committee and moves `system` to the next epoch.
    pub fn initiate_epoch_change(
        &mut self,
        system: &mut System,
        clock: &Clock,
        ctx: &mut TxContext,
    ) -> MoveResult<()> {
        ensure(
            clock.timestamp_ms >= self.epoch_start_ms.saturating_add(self.epoch_duration_ms),
            E_EPOCH_NOT_OVER,
        )?;
        let stakes: Vec<u64> = self
            .pools
            .iter()
            .map(|pool| pool.active_stake + pool.pending_stake - pool.pending_withdraw)
            .collect();
        ensure(stakes.iter().any(|stake| *stake > 0), E_NO_STAKE)?;
        let counts = apportion(self.n_shards, &stakes);
        let node_ids: Vec<ObjectId> = self.pools.iter().map(|pool| pool.node_id).collect();
        let assignment = assign_shards(&self.shard_assignment, &node_ids, &counts);
        let next_epoch = self.epoch + 1;
        let members: Vec<BlsCommitteeMember> = self
            .pools
            .iter()
            .zip(&counts)
            .filter(|(_, count)| **count > 0)
            .map(|(pool, count)| BlsCommitteeMember {
                public_key: pool.info.public_key.clone(),
                weight: *count,
                node_id: pool.node_id,
            })
            .collect();
        let committee = new_bls_committee(next_epoch, members)?;
        let votes = |vote: fn(&StakingPool) -> u64| -> Vec<(u64, u16)> {
            self.pools
                .iter()
                .zip(&counts)
                .filter(|(_, count)| **count > 0)
                .map(|(pool, count)| (vote(pool), *count))
                .collect()
        };
        let storage_price = weighted_median(votes(|pool| pool.storage_price));
        let write_price = weighted_median(votes(|pool| pool.write_price));
        let capacity = quorum_capacity(votes(|pool| pool.node_capacity), self.n_shards);

        // Every check has passed: apply.
        let old_committee = system.committee.clone();
        let rewards = system.advance_epoch(committee, capacity, storage_price, write_price)?;
        self.pay_rewards(&old_committee, rewards);
        for (pool, stake) in self.pools.iter_mut().zip(&stakes) {
            pool.active_stake = *stake;
            pool.pending_stake = 0;
            pool.pending_withdraw = 0;
        }
        for (node_id, count) in node_ids.iter().zip(&counts) {
            let received: Vec<u16> = assignment
                .iter()
                .enumerate()
                .filter(|(shard, owner)| {
                    *owner == node_id && self.shard_assignment.get(*shard) != Some(owner)
                })
                .map(|(shard, _)| u16::try_from(shard).expect("fewer than 2^16 shards"))
                .collect();
            if *count > 0 && !received.is_empty() {
                ctx.emit(Event::ShardsReceived(ShardsReceived {
                    epoch: next_epoch,
                    shards: received,
                }));
            }
        }
        self.shard_assignment = assignment;
        self.epoch = next_epoch;
        self.epoch_start_ms = clock.timestamp_ms;
        self.sync_done_weight = 0;
        self.epoch_state = EPOCH_CHANGE_SYNC;
        ctx.emit(Event::EpochChangeStart(EpochChangeStart {
            epoch: next_epoch,
        }));
        Ok(())
    }

    /// Pays `rewards` to the members of `committee` in proportion to their shards.
    fn pay_rewards(&mut self, committee: &bls_aggregate::BlsCommittee, rewards: u64) {
        if committee.members.is_empty() || rewards == 0 {
            return;
        }
        let weights: Vec<u64> = committee
            .members
            .iter()
            .map(|m| u64::from(m.weight))
            .collect();
        let shares = apportion_amount(rewards, &weights);
        for (member, share) in committee.members.iter().zip(shares) {
            if let Some(pool) = self
                .pools
                .iter_mut()
                .find(|pool| pool.node_id == member.node_id)
            {
                pool.rewards += share;
            }
        }
    }

    /// `epoch_sync_done`: the node reports that it holds its shards of `epoch`; when a quorum
    /// of shards has, the epoch change is done.
    pub fn epoch_sync_done(
        &mut self,
        cap: &mut StorageNodeCap,
        epoch: u32,
        ctx: &mut TxContext,
    ) -> MoveResult<()> {
        ensure(
            epoch == self.epoch && cap.last_epoch_sync_done < epoch,
            E_WRONG_EPOCH,
        )?;
        let weight = self
            .shard_assignment
            .iter()
            .filter(|owner| **owner == cap.node_id)
            .count();
        let weight = u16::try_from(weight).expect("fewer than 2^16 shards");
        cap.last_epoch_sync_done = epoch;
        self.sync_done_weight += weight;
        if self.epoch_state == EPOCH_CHANGE_SYNC
            && bls_aggregate::is_quorum(self.sync_done_weight, self.n_shards)
        {
            self.epoch_state = EPOCH_CHANGE_DONE;
            ctx.emit(Event::EpochChangeDone(EpochChangeDone { epoch }));
        }
        Ok(())
    }

    /// The shards of `node_id` in the current epoch.
    pub fn shards_of(&self, node_id: &ObjectId) -> Vec<u16> {
        self.shard_assignment
            .iter()
            .enumerate()
            .filter(|(_, owner)| *owner == node_id)
            .map(|(shard, _)| u16::try_from(shard).expect("fewer than 2^16 shards"))
            .collect()
    }
}

/// Splits `n_shards` among stakes by largest remainders: each gets `floor(n * s / S)`, the
/// leftover shards go to the largest fractional parts (ties to the earlier pool). Every count is
/// within one shard of the exact proportional share.
pub fn apportion(n_shards: u16, stakes: &[u64]) -> Vec<u16> {
    let weights: Vec<u64> = stakes.to_vec();
    apportion_amount(u64::from(n_shards), &weights)
        .into_iter()
        .map(|count| u16::try_from(count).expect("a share of n_shards fits in u16"))
        .collect()
}

/// Splits `amount` in proportion to `weights` by largest remainders (all zero weights: nothing).
pub fn apportion_amount(amount: u64, weights: &[u64]) -> Vec<u64> {
    let total: u128 = weights.iter().map(|w| u128::from(*w)).sum();
    if total == 0 {
        return vec![0; weights.len()];
    }
    let exact: Vec<(u64, u128)> = weights
        .iter()
        .map(|w| {
            let product = u128::from(amount) * u128::from(*w);
            let floor = u64::try_from(product / total).expect("a share of amount fits in u64");
            (floor, product % total)
        })
        .collect();
    let mut counts: Vec<u64> = exact.iter().map(|(floor, _)| *floor).collect();
    let assigned: u64 = counts.iter().sum();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|a, b| exact[*b].1.cmp(&exact[*a].1).then(a.cmp(b)));
    for index in order
        .into_iter()
        .take(usize::try_from(amount - assigned).unwrap_or(usize::MAX))
    {
        counts[index] += 1;
    }
    counts
}

/// The new owner of every shard: shards stay with their current owner up to its new count;
/// freed and unowned shards go, in order, to the nodes below their count, in pool order.
pub fn assign_shards(current: &[ObjectId], node_ids: &[ObjectId], counts: &[u16]) -> Vec<ObjectId> {
    let n_shards: usize = counts.iter().map(|c| usize::from(*c)).sum();
    let mut remaining: Vec<usize> = counts.iter().map(|c| usize::from(*c)).collect();
    let mut assignment: Vec<Option<ObjectId>> = vec![None; n_shards];
    for (shard, owner) in current.iter().enumerate().take(n_shards) {
        if let Some(index) = node_ids.iter().position(|id| id == owner) {
            if remaining[index] > 0 {
                remaining[index] -= 1;
                assignment[shard] = Some(*owner);
            }
        }
    }
    let mut next = 0;
    for slot in assignment.iter_mut().filter(|slot| slot.is_none()) {
        while remaining[next] == 0 {
            next += 1;
        }
        remaining[next] -= 1;
        *slot = Some(node_ids[next]);
    }
    assignment
        .into_iter()
        .map(|owner| owner.expect("every shard was assigned"))
        .collect()
}

/// The smallest vote such that voters holding at least half the shards voted no more than it.
fn weighted_median(mut votes: Vec<(u64, u16)>) -> u64 {
    votes.sort_unstable();
    let total: u64 = votes.iter().map(|(_, w)| u64::from(*w)).sum();
    let mut cumulative = 0;
    for (value, weight) in &votes {
        cumulative += u64::from(*weight);
        if 2 * cumulative >= total {
            return *value;
        }
    }
    0
}

/// The largest capacity that voters holding a quorum of shards voted at least.
fn quorum_capacity(mut votes: Vec<(u64, u16)>, n_shards: u16) -> u64 {
    votes.sort_unstable_by(|a, b| b.cmp(a));
    let mut cumulative: u16 = 0;
    for (value, weight) in &votes {
        cumulative += weight;
        if bls_aggregate::is_quorum(cumulative, n_shards) {
            return *value;
        }
    }
    votes.last().map_or(0, |(value, _)| *value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staked_wal_and_cap_layout() {
        let staked = StakedWal {
            id: ObjectId([1; 32]),
            node_id: ObjectId([2; 32]),
            principal: 3,
            activation_epoch: 4,
            withdraw_epoch: Some(5),
        };
        let mut expected = vec![1; 32];
        expected.extend([2; 32]);
        expected.extend([3, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 1, 5, 0, 0, 0]);
        assert_eq!(bcs::to_bytes(&staked).unwrap(), expected);
        let cap = StorageNodeCap {
            id: ObjectId([1; 32]),
            node_id: ObjectId([2; 32]),
            last_epoch_sync_done: 7,
        };
        assert_eq!(bcs::to_bytes(&cap).unwrap()[64..], [7, 0, 0, 0]);
    }

    #[test]
    fn pool_layout() {
        let pool = StakingPool {
            node_id: ObjectId([1; 32]),
            info: StorageNodeInfo {
                name: "n".into(),
                node_id: ObjectId([1; 32]),
                network_address: "a:1".into(),
                public_key: vec![2; 48],
                network_public_key: vec![3],
            },
            commission_rate: 4,
            active_stake: 5,
            pending_stake: 6,
            pending_withdraw: 7,
            wal_balance: 8,
            rewards: 9,
            storage_price: 10,
            write_price: 11,
            node_capacity: 12,
        };
        let mut expected = vec![1; 32];
        expected.extend([1, b'n']);
        expected.extend([1; 32]);
        expected.extend([3, b'a', b':', b'1', 48]);
        expected.extend([2; 48]);
        expected.extend([1, 3, 4, 0]);
        for value in 5u64..=12 {
            expected.extend(value.to_le_bytes());
        }
        assert_eq!(bcs::to_bytes(&pool).unwrap(), expected);
    }

    #[test]
    fn staking_layout() {
        let staking = Staking {
            id: ObjectId([1; 32]),
            n_shards: 2,
            epoch_duration_ms: 3,
            epoch: 4,
            epoch_start_ms: 5,
            pools: Vec::new(),
            shard_assignment: vec![ObjectId([6; 32])],
            sync_done_weight: 7,
            epoch_state: 1,
        };
        let mut expected = vec![1; 32];
        expected.extend([2, 0]);
        expected.extend(3u64.to_le_bytes());
        expected.extend(4u32.to_le_bytes());
        expected.extend(5u64.to_le_bytes());
        expected.push(0);
        expected.push(1);
        expected.extend([6; 32]);
        expected.extend([7, 0, 1]);
        assert_eq!(bcs::to_bytes(&staking).unwrap(), expected);
    }

    #[test]
    fn apportionment_is_exact_and_proportional() {
        assert_eq!(apportion(10, &[1, 1, 1]), [4, 3, 3]);
        assert_eq!(apportion(100, &[0, 5, 0]), [0, 100, 0]);
        assert_eq!(apportion(7, &[0, 0]), [0, 0]);
        assert_eq!(apportion_amount(40, &[1, 3]), [10, 30]);
        let a = ObjectId([1; 32]);
        let b = ObjectId([2; 32]);
        // b shrinks from 3 to 1 shard and keeps its first one; a gets the freed shards.
        assert_eq!(assign_shards(&[b, b, b, a], &[a, b], &[3, 1]), [b, a, a, a]);
    }
}
