//! Twin of `walrus::staking`: storage-node registration (with proof of possession of the BLS
//! key), staking pools with shares and exchange rates (rewards compound for the stakers, the
//! commission goes to the operator), staked WAL, the epoch state machine of Walrus
//! (`voting_end` selects the next committee and parameters, `initiate_epoch_change` installs
//! them and pays the finished epoch's rewards, `epoch_sync_done` ends the change), committee
//! selection and shard assignment from stake, and price and capacity votes.
//!
//! Pool accounting (`contracts/DESIGN.md`): a pool's active stake (`active_stake`, in FROST) is
//! divided into `num_shares` shares. Stake activates, and withdrawals leave, only at epoch
//! changes, at the exchange rate of that moment (after the finished epoch's rewards), which the
//! pool records in `exchange_rates`; a `StakedWal` is worth its principal's shares at its
//! activation epoch's rate, valued at the rate of its withdraw epoch.

use serde::{Deserialize, Serialize};
use walrus_core::ObjectId;

use super::{
    bls_aggregate::{self, new_bls_committee, BlsCommitteeMember},
    ensure,
    events::{
        EpochChangeDone, EpochChangeStart, EpochParametersSelected, Event, ShardsReceived,
        StakingPoolCreated,
    },
    messages,
    sui::{take_balance, Clock, Coin, TxContext, VecMap},
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
/// `ENotWithdrawing`: withdrawing active stake that was not requested for withdrawal.
pub const E_NOT_WITHDRAWING: Abort = Abort::new("staking", 4, "ENotWithdrawing");
/// `EWithdrawTooEarly`: withdrawing before the withdraw epoch.
pub const E_WITHDRAW_TOO_EARLY: Abort = Abort::new("staking", 5, "EWithdrawTooEarly");
/// `EAlreadyWithdrawing`: requesting a withdrawal twice.
pub const E_ALREADY_WITHDRAWING: Abort = Abort::new("staking", 6, "EAlreadyWithdrawing");
/// `EEpochNotOver`: an epoch change before the epoch's duration has passed.
pub const E_EPOCH_NOT_OVER: Abort = Abort::new("staking", 7, "EEpochNotOver");
/// `EWrongEpoch`: an epoch-sync report for another epoch, or a repeated one.
pub const E_WRONG_EPOCH: Abort = Abort::new("staking", 8, "EWrongEpoch");
/// `EDuplicateNode`: a public key already registered (current or next key of some pool).
pub const E_DUPLICATE_NODE: Abort = Abort::new("staking", 9, "EDuplicateNode");
/// `ENoStake`: selecting a committee with no stake at all.
pub const E_NO_STAKE: Abort = Abort::new("staking", 10, "ENoStake");
/// `EWrongEpochState`: `voting_end` outside `EPOCH_CHANGE_DONE`, or `initiate_epoch_change`
/// outside `NEXT_PARAMS_SELECTED`.
pub const E_WRONG_EPOCH_STATE: Abort = Abort::new("staking", 11, "EWrongEpochState");
/// `EVotingNotOver`: `voting_end` before half of the epoch's duration has passed.
pub const E_VOTING_NOT_OVER: Abort = Abort::new("staking", 12, "EVotingNotOver");

/// Commission rates are in basis points.
pub const MAX_COMMISSION_RATE: u16 = 10_000;
/// Epoch state: the epoch change is done (a quorum synced, or there was nothing to sync);
/// `voting_end` may run once half of the epoch has passed.
pub const EPOCH_CHANGE_DONE: u8 = 0;
/// Epoch state: the new committee is syncing its shards.
pub const EPOCH_CHANGE_SYNC: u8 = 1;
/// Epoch state: the next committee and parameters are selected (after `voting_end`);
/// `initiate_epoch_change` may run once the epoch is over.
pub const NEXT_PARAMS_SELECTED: u8 = 2;

/// What a node publishes about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageNodeInfo {
    /// Human-readable name.
    pub name: String,
    /// The node (pool) ID.
    pub node_id: ObjectId,
    /// Where its REST API listens (`host:port`).
    pub network_address: String,
    /// BLS12-381 public key (48 bytes): the key of the latest committee selection (a key set
    /// with `set_next_public_key` replaces it at the next `voting_end`).
    pub public_key: Vec<u8>,
    /// Network (TLS) public key.
    pub network_public_key: Vec<u8>,
    /// The key that replaces `public_key` at the next `voting_end`, if any.
    pub next_epoch_public_key: Option<Vec<u8>>,
}

/// A pool's exchange rate at the start of an epoch: `wal_amount` FROST of active stake for
/// `share_amount` shares (no shares: one share per FROST).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangeRate {
    /// The epoch that started at this rate.
    pub epoch: u32,
    /// Active stake, in FROST.
    pub wal_amount: u64,
    /// Shares of the active stake.
    pub share_amount: u64,
}

impl ExchangeRate {
    /// The shares `amount` FROST buy at this rate (rounded down).
    pub fn shares_for(&self, amount: u64) -> u64 {
        if self.share_amount == 0 || self.wal_amount == 0 {
            return amount;
        }
        mul_div(amount, self.share_amount, self.wal_amount)
    }

    /// The FROST `shares` are worth at this rate (rounded down).
    pub fn wal_for(&self, shares: u64) -> u64 {
        if self.share_amount == 0 {
            return 0;
        }
        mul_div(shares, self.wal_amount, self.share_amount)
    }
}

/// A node's staking pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StakingPool {
    /// The node (pool) ID.
    pub node_id: ObjectId,
    /// The node's information.
    pub info: StorageNodeInfo,
    /// Commission in basis points, taken from the pool's rewards.
    pub commission_rate: u16,
    /// The commission rate from the next epoch change on.
    pub next_commission_rate: u16,
    /// Active stake in the current epoch (principal and compounded rewards), in FROST.
    pub active_stake: u64,
    /// Shares of the active stake.
    pub num_shares: u64,
    /// FROST that activates at the epoch change into each epoch (key).
    pub pending_stake: VecMap<u32, u64>,
    /// Shares that leave at the epoch change into each epoch (key).
    pub pending_shares_withdraw: VecMap<u32, u64>,
    /// The rate at each epoch change where stake activated or withdrew, by increasing epoch.
    pub exchange_rates: Vec<ExchangeRate>,
    /// All the pool's staked WAL (`Balance<WAL>`): active, pending, withdrawn but not yet paid
    /// out, and rounding dust.
    pub wal_balance: u64,
    /// Commission earned and not yet collected (`Balance<WAL>`).
    pub commission: u64,
    /// Vote for the storage price per unit per epoch.
    pub storage_price: u64,
    /// Vote for the write price per unit.
    pub write_price: u64,
    /// Vote for the capacity (encoded bytes) the node can store.
    pub node_capacity: u64,
}

impl StakingPool {
    /// The pool's current exchange rate, as a record of `epoch`.
    fn current_rate(&self, epoch: u32) -> ExchangeRate {
        ExchangeRate {
            epoch,
            wal_amount: self.active_stake,
            share_amount: self.num_shares,
        }
    }

    /// The rate recorded at the latest epoch change into an epoch `<= epoch` (one share per
    /// FROST if none).
    pub fn rate_at(&self, epoch: u32) -> ExchangeRate {
        self.exchange_rates
            .iter()
            .rev()
            .find(|rate| rate.epoch <= epoch)
            .copied()
            .unwrap_or(ExchangeRate {
                epoch: 0,
                wal_amount: 0,
                share_amount: 0,
            })
    }

    /// The pool's expected stake in `epoch` (from the current epoch on): the active stake,
    /// minus the withdrawals and plus the activations due by then, withdrawals valued at the
    /// current rate. For the current epoch it is `active_stake`.
    pub fn stake_at_epoch(&self, epoch: u32) -> u64 {
        let rate = self.current_rate(epoch);
        let withdrawing: u64 = self
            .pending_shares_withdraw
            .contents
            .iter()
            .filter(|entry| entry.key <= epoch)
            .map(|entry| entry.value)
            .sum();
        let activating: u64 = self
            .pending_stake
            .contents
            .iter()
            .filter(|entry| entry.key <= epoch)
            .map(|entry| entry.value)
            .sum();
        self.active_stake - rate.wal_for(withdrawing) + activating
    }

    /// The shares of `staked` (of this pool, active since its activation epoch).
    fn shares_of(&self, staked: &StakedWal) -> u64 {
        self.rate_at(staked.activation_epoch)
            .shares_for(staked.principal)
    }

    /// Books `amount` of rewards: the commission first, the rest compounds into the active
    /// stake (all of it is commission if the pool has no active stake).
    fn receive_rewards(&mut self, amount: u64) {
        let commission = if self.active_stake == 0 {
            amount
        } else {
            mul_div(
                amount,
                u64::from(self.commission_rate),
                u64::from(MAX_COMMISSION_RATE),
            )
        };
        self.commission += commission;
        self.active_stake += amount - commission;
        self.wal_balance += amount - commission;
    }

    /// The epoch change into `epoch`: withdrawals due leave and pending stake activates, both
    /// at the rate of this moment (recorded if either happened); the next commission rate
    /// applies.
    fn process_epoch_change(&mut self, epoch: u32) {
        let rate = self.current_rate(epoch);
        let withdrawing = self.pending_shares_withdraw.remove(&epoch);
        let activating = self.pending_stake.remove(&epoch);
        if let Some(shares) = withdrawing {
            self.active_stake -= rate.wal_for(shares);
            self.num_shares -= shares;
        }
        if let Some(amount) = activating {
            self.active_stake += amount;
            self.num_shares += rate.shares_for(amount);
        }
        if withdrawing.is_some() || activating.is_some() {
            self.exchange_rates.push(rate);
        }
        self.commission_rate = self.next_commission_rate;
    }
}

/// Staked WAL: a staker's principal in a pool (the WAL itself is in the pool's `wal_balance`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StakedWal {
    /// Object ID.
    pub id: ObjectId,
    /// The pool.
    pub node_id: ObjectId,
    /// The amount staked, in FROST.
    pub principal: u64,
    /// First epoch the stake counts.
    pub activation_epoch: u32,
    /// Once requested: the epoch from which it can be withdrawn.
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

/// The parameters of the next epoch, fixed at `voting_end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochParams {
    /// The capacity a quorum of the next committee's shards voted for.
    pub total_capacity_size: u64,
    /// The shard-weighted median of the storage price votes.
    pub storage_price_per_unit_size: u64,
    /// The shard-weighted median of the write price votes.
    pub write_price_per_unit_size: u64,
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
    /// Owner of each shard in epoch `epoch - 1` (empty when there was no previous committee).
    pub previous_shard_assignment: Vec<ObjectId>,
    /// Owner of each shard in epoch `epoch + 1`, selected at `voting_end` (empty otherwise).
    pub next_shard_assignment: Vec<ObjectId>,
    /// Shards whose owners reported them synced in this epoch.
    pub sync_done_weight: u16,
    /// `EPOCH_CHANGE_DONE`, `EPOCH_CHANGE_SYNC` or `NEXT_PARAMS_SELECTED`.
    pub epoch_state: u8,
    /// The next epoch's parameters (`Some` exactly in `NEXT_PARAMS_SELECTED`).
    pub next_epoch_params: Option<EpochParams>,
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
            previous_shard_assignment: Vec::new(),
            next_shard_assignment: Vec::new(),
            sync_done_weight: 0,
            epoch_state: EPOCH_CHANGE_DONE,
            next_epoch_params: None,
        }
    }

    fn pool_index(&self, node_id: &ObjectId) -> MoveResult<usize> {
        self.pools
            .iter()
            .position(|pool| pool.node_id == *node_id)
            .ok_or(E_POOL_NOT_FOUND)
    }

    /// Whether no pool has `public_key` as its key or its next key.
    fn key_is_new(&self, public_key: &[u8]) -> bool {
        self.pools.iter().all(|pool| {
            pool.info.public_key != public_key
                && pool.info.next_epoch_public_key.as_deref() != Some(public_key)
        })
    }

    /// The first epoch in which stake added now counts: the next one before `voting_end`, the
    /// one after once the next committee is selected.
    fn next_stake_epoch(&self) -> u32 {
        if self.epoch_state == NEXT_PARAMS_SELECTED {
            self.epoch + 2
        } else {
            self.epoch + 1
        }
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
        ensure(self.key_is_new(&public_key), E_DUPLICATE_NODE)?;
        let node_id = ctx.fresh_id();
        self.pools.push(StakingPool {
            node_id,
            info: StorageNodeInfo {
                name,
                node_id,
                network_address,
                public_key,
                network_public_key,
                next_epoch_public_key: None,
            },
            commission_rate,
            next_commission_rate: commission_rate,
            active_stake: 0,
            num_shares: 0,
            pending_stake: VecMap::default(),
            pending_shares_withdraw: VecMap::default(),
            exchange_rates: Vec::new(),
            wal_balance: 0,
            commission: 0,
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

    /// `set_votes`: the node's votes for prices and capacity, counted at the next `voting_end`.
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

    /// `set_commission_rate`: the node's commission (basis points) from the next epoch change
    /// on (the finished epoch's rewards still pay the current rate).
    pub fn set_commission_rate(&mut self, cap: &StorageNodeCap, rate: u16) -> MoveResult<()> {
        ensure(rate <= MAX_COMMISSION_RATE, E_COMMISSION_TOO_HIGH)?;
        let index = self.pool_index(&cap.node_id)?;
        self.pools[index].next_commission_rate = rate;
        Ok(())
    }

    /// `set_name`: the node's name, at once.
    pub fn set_name(&mut self, cap: &StorageNodeCap, name: String) -> MoveResult<()> {
        let index = self.pool_index(&cap.node_id)?;
        self.pools[index].info.name = name;
        Ok(())
    }

    /// `set_network_address`: the node's network address (`host:port`), at once.
    pub fn set_network_address(
        &mut self,
        cap: &StorageNodeCap,
        network_address: String,
    ) -> MoveResult<()> {
        let index = self.pool_index(&cap.node_id)?;
        self.pools[index].info.network_address = network_address;
        Ok(())
    }

    /// `set_next_public_key`: the node's next BLS key, with its proof of possession for this
    /// epoch and the sender (as at registration), used from the committee selected at the
    /// next `voting_end` on. No pool may have it as its key or next key.
    pub fn set_next_public_key(
        &mut self,
        cap: &StorageNodeCap,
        public_key: Vec<u8>,
        proof_of_possession: Vec<u8>,
        ctx: &mut TxContext,
    ) -> MoveResult<()> {
        let index = self.pool_index(&cap.node_id)?;
        ensure(
            messages::verify_proof_of_possession(
                self.epoch,
                &ctx.sender(),
                &public_key,
                &proof_of_possession,
            ),
            E_INVALID_PROOF_OF_POSSESSION,
        )?;
        ensure(self.key_is_new(&public_key), E_DUPLICATE_NODE)?;
        self.pools[index].info.next_epoch_public_key = Some(public_key);
        Ok(())
    }

    /// `stake_with_pool`: stakes the coin with `node_id`; it counts from the next epoch if the
    /// next committee is not selected yet, else from the one after.
    pub fn stake_with_pool(
        &mut self,
        to_stake: Coin,
        node_id: ObjectId,
        ctx: &mut TxContext,
    ) -> MoveResult<StakedWal> {
        ensure(to_stake.value() > 0, E_ZERO_STAKE)?;
        let index = self.pool_index(&node_id)?;
        let activation_epoch = self.next_stake_epoch();
        let pool = &mut self.pools[index];
        add_to(&mut pool.pending_stake, activation_epoch, to_stake.balance);
        pool.wal_balance += to_stake.balance;
        Ok(StakedWal {
            id: ctx.fresh_id(),
            node_id,
            principal: to_stake.balance,
            activation_epoch,
            withdraw_epoch: None,
        })
    }

    /// `request_withdraw_stake`: stake not yet active leaves its pool's pending stake and can
    /// be withdrawn at once; active stake keeps earning until it leaves at the next epoch
    /// change (before `voting_end`) or the one after (once the next committee is selected).
    pub fn request_withdraw_stake(&mut self, staked_wal: &mut StakedWal) -> MoveResult<()> {
        ensure(staked_wal.withdraw_epoch.is_none(), E_ALREADY_WITHDRAWING)?;
        let index = self.pool_index(&staked_wal.node_id)?;
        let epoch = self.epoch;
        let withdraw_epoch = self.next_stake_epoch();
        let pool = &mut self.pools[index];
        if staked_wal.activation_epoch > epoch {
            subtract_from(
                &mut pool.pending_stake,
                staked_wal.activation_epoch,
                staked_wal.principal,
            );
            staked_wal.withdraw_epoch = Some(epoch);
        } else {
            let shares = pool.shares_of(staked_wal);
            add_to(&mut pool.pending_shares_withdraw, withdraw_epoch, shares);
            staked_wal.withdraw_epoch = Some(withdraw_epoch);
        }
        Ok(())
    }

    /// `withdraw_stake`: pays out the staked WAL: the principal of stake that never activated
    /// (at once, requested or not), else, once the withdraw epoch has come, the value of its
    /// shares at the withdraw epoch's rate (principal plus its rewards minus commission).
    pub fn withdraw_stake(
        &mut self,
        staked_wal: StakedWal,
        ctx: &mut TxContext,
    ) -> MoveResult<Coin> {
        match staked_wal.withdraw_epoch {
            None => ensure(staked_wal.activation_epoch > self.epoch, E_NOT_WITHDRAWING)?,
            Some(withdraw_epoch) => ensure(self.epoch >= withdraw_epoch, E_WITHDRAW_TOO_EARLY)?,
        }
        let index = self.pool_index(&staked_wal.node_id)?;
        let pool = &mut self.pools[index];
        let amount = match staked_wal.withdraw_epoch {
            Some(withdraw_epoch) if staked_wal.activation_epoch <= withdraw_epoch => pool
                .rate_at(withdraw_epoch)
                .wal_for(pool.shares_of(&staked_wal)),
            _ => staked_wal.principal,
        };
        let balance = take_balance(&mut pool.wal_balance, amount)?;
        if staked_wal.withdraw_epoch.is_none() {
            subtract_from(
                &mut pool.pending_stake,
                staked_wal.activation_epoch,
                staked_wal.principal,
            );
        }
        Ok(Coin {
            id: ctx.fresh_id(),
            balance,
        })
    }

    /// `staked_wal_value`: what withdrawing `staked_wal` pays: its principal if it never
    /// activated, its value at the withdraw epoch's rate once that has come, else (still
    /// active) its value at the pool's current rate (an estimate: rewards still to come are
    /// not in it). Zero for an unknown pool.
    pub fn staked_wal_value(&self, staked_wal: &StakedWal) -> u64 {
        let Some(pool) = self
            .pools
            .iter()
            .find(|pool| pool.node_id == staked_wal.node_id)
        else {
            return 0;
        };
        let not_active_by = staked_wal.withdraw_epoch.unwrap_or(self.epoch);
        if staked_wal.activation_epoch > not_active_by {
            return staked_wal.principal;
        }
        let shares = pool.shares_of(staked_wal);
        match staked_wal.withdraw_epoch {
            Some(withdraw_epoch) if withdraw_epoch <= self.epoch => {
                pool.rate_at(withdraw_epoch).wal_for(shares)
            }
            _ => pool.current_rate(self.epoch).wal_for(shares),
        }
    }

    /// `collect_commission`: the node's uncollected commission, to the holder of its
    /// capability.
    pub fn collect_commission(
        &mut self,
        cap: &StorageNodeCap,
        ctx: &mut TxContext,
    ) -> MoveResult<Coin> {
        let index = self.pool_index(&cap.node_id)?;
        let balance = std::mem::take(&mut self.pools[index].commission);
        Ok(Coin {
            id: ctx.fresh_id(),
            balance,
        })
    }

    /// `voting_end` (anyone, once half of the epoch has passed and the epoch change is done):
    /// selects the next epoch's committee from the stake each pool will have then (shards
    /// apportioned by largest remainders, kept in place where possible) into
    /// `next_shard_assignment`, applies the pools' next keys, and fixes the next prices
    /// (shard-weighted medians of the votes) and capacity (the largest value a quorum of
    /// shards voted for).
    pub fn voting_end(&mut self, clock: &Clock, ctx: &mut TxContext) -> MoveResult<()> {
        ensure(self.epoch_state == EPOCH_CHANGE_DONE, E_WRONG_EPOCH_STATE)?;
        ensure(
            clock.timestamp_ms
                >= self
                    .epoch_start_ms
                    .saturating_add(self.epoch_duration_ms / 2),
            E_VOTING_NOT_OVER,
        )?;
        let next_epoch = self.epoch + 1;
        let stakes: Vec<u64> = self
            .pools
            .iter()
            .map(|pool| pool.stake_at_epoch(next_epoch))
            .collect();
        ensure(stakes.iter().any(|stake| *stake > 0), E_NO_STAKE)?;
        let counts = apportion(self.n_shards, &stakes);
        let node_ids: Vec<ObjectId> = self.pools.iter().map(|pool| pool.node_id).collect();
        let assignment = assign_shards(&self.shard_assignment, &node_ids, &counts);
        let votes = |vote: fn(&StakingPool) -> u64| -> Vec<(u64, u16)> {
            self.pools
                .iter()
                .zip(&counts)
                .filter(|(_, count)| **count > 0)
                .map(|(pool, count)| (vote(pool), *count))
                .collect()
        };
        let params = EpochParams {
            total_capacity_size: quorum_capacity(votes(|pool| pool.node_capacity), self.n_shards),
            storage_price_per_unit_size: weighted_median(votes(|pool| pool.storage_price)),
            write_price_per_unit_size: weighted_median(votes(|pool| pool.write_price)),
        };

        // Every check has passed: apply.
        for pool in &mut self.pools {
            if let Some(key) = pool.info.next_epoch_public_key.take() {
                pool.info.public_key = key;
            }
        }
        self.next_shard_assignment = assignment;
        self.next_epoch_params = Some(params);
        self.epoch_state = NEXT_PARAMS_SELECTED;
        ctx.emit(Event::EpochParametersSelected(EpochParametersSelected {
            next_epoch,
        }));
        Ok(())
    }

    /// `initiate_epoch_change` (anyone, once the epoch is over and the next committee is
    /// selected): pays the finished epoch's rewards to its committee's pools by shards,
    /// moves `system` to the next epoch with the selected committee and parameters, activates
    /// and withdraws the stake due, and installs the selected shard assignment. The committee's
    /// shards then sync (`epoch_sync_done`), except for the first committee, which has nothing
    /// to sync: its epoch change is done at once.
    pub fn initiate_epoch_change(
        &mut self,
        system: &mut System,
        clock: &Clock,
        ctx: &mut TxContext,
    ) -> MoveResult<()> {
        ensure(
            self.epoch_state == NEXT_PARAMS_SELECTED,
            E_WRONG_EPOCH_STATE,
        )?;
        ensure(
            clock.timestamp_ms >= self.epoch_start_ms.saturating_add(self.epoch_duration_ms),
            E_EPOCH_NOT_OVER,
        )?;
        let params = self.next_epoch_params.ok_or(E_WRONG_EPOCH_STATE)?;
        let next_epoch = self.epoch + 1;
        let counts: Vec<u16> = self
            .pools
            .iter()
            .map(|pool| count_shards(&self.next_shard_assignment, &pool.node_id))
            .collect();
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

        // Every check has passed: apply.
        let old_committee = system.committee.clone();
        let rewards = system.advance_epoch(
            committee,
            params.total_capacity_size,
            params.storage_price_per_unit_size,
            params.write_price_per_unit_size,
        )?;
        self.pay_rewards(&old_committee, rewards);
        for pool in &mut self.pools {
            pool.process_epoch_change(next_epoch);
        }
        for (pool, count) in self.pools.iter().zip(&counts) {
            let received: Vec<u16> = self
                .next_shard_assignment
                .iter()
                .enumerate()
                .filter(|(shard, owner)| {
                    **owner == pool.node_id && self.shard_assignment.get(*shard) != Some(owner)
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
        let next = std::mem::take(&mut self.next_shard_assignment);
        self.previous_shard_assignment = std::mem::replace(&mut self.shard_assignment, next);
        self.epoch = next_epoch;
        self.epoch_start_ms = clock.timestamp_ms;
        self.sync_done_weight = 0;
        self.next_epoch_params = None;
        let first_committee = self.previous_shard_assignment.is_empty();
        self.epoch_state = if first_committee {
            EPOCH_CHANGE_DONE
        } else {
            EPOCH_CHANGE_SYNC
        };
        ctx.emit(Event::EpochChangeStart(EpochChangeStart {
            epoch: next_epoch,
        }));
        if first_committee {
            ctx.emit(Event::EpochChangeDone(EpochChangeDone {
                epoch: next_epoch,
            }));
        }
        Ok(())
    }

    /// Pays `rewards` to the pools of the members of `committee` in proportion to their
    /// shards.
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
                pool.receive_rewards(share);
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
        let weight = count_shards(&self.shard_assignment, &cap.node_id);
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

/// How many shards `node_id` owns in `assignment`.
fn count_shards(assignment: &[ObjectId], node_id: &ObjectId) -> u16 {
    let count = assignment.iter().filter(|owner| *owner == node_id).count();
    u16::try_from(count).expect("fewer than 2^16 shards")
}

/// `floor(a * b / c)` in `u128` (`c > 0`; the result fits `u64` where it is used: `b <= c`).
fn mul_div(a: u64, b: u64, c: u64) -> u64 {
    let result = u128::from(a) * u128::from(b) / u128::from(c);
    u64::try_from(result).unwrap_or(u64::MAX)
}

/// Adds `amount` to the value under `key` (inserted at the end if absent).
fn add_to(map: &mut VecMap<u32, u64>, key: u32, amount: u64) {
    let value = map.get(&key).copied().unwrap_or(0);
    map.insert_or_replace(key, value + amount);
}

/// Subtracts `amount` from the value under `key`, removing the entry when it reaches zero.
fn subtract_from(map: &mut VecMap<u32, u64>, key: u32, amount: u64) {
    let value = map.get(&key).copied().unwrap_or(0) - amount;
    if value == 0 {
        map.remove(&key);
    } else {
        map.insert_or_replace(key, value);
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
        let mut pending_stake = VecMap::default();
        pending_stake.insert_or_replace(9u32, 10u64);
        let mut pending_shares_withdraw = VecMap::default();
        pending_shares_withdraw.insert_or_replace(11u32, 12u64);
        let pool = StakingPool {
            node_id: ObjectId([1; 32]),
            info: StorageNodeInfo {
                name: "n".into(),
                node_id: ObjectId([1; 32]),
                network_address: "a:1".into(),
                public_key: vec![2; 48],
                network_public_key: vec![3],
                next_epoch_public_key: Some(vec![4]),
            },
            commission_rate: 5,
            next_commission_rate: 6,
            active_stake: 7,
            num_shares: 8,
            pending_stake,
            pending_shares_withdraw,
            exchange_rates: vec![ExchangeRate {
                epoch: 13,
                wal_amount: 14,
                share_amount: 15,
            }],
            wal_balance: 16,
            commission: 17,
            storage_price: 18,
            write_price: 19,
            node_capacity: 20,
        };
        let mut expected = vec![1; 32];
        expected.extend([1, b'n']);
        expected.extend([1; 32]);
        expected.extend([3, b'a', b':', b'1', 48]);
        expected.extend([2; 48]);
        expected.extend([1, 3]);
        expected.extend([1, 1, 4]);
        expected.extend([5, 0, 6, 0]);
        expected.extend(7u64.to_le_bytes());
        expected.extend(8u64.to_le_bytes());
        expected.push(1);
        expected.extend(9u32.to_le_bytes());
        expected.extend(10u64.to_le_bytes());
        expected.push(1);
        expected.extend(11u32.to_le_bytes());
        expected.extend(12u64.to_le_bytes());
        expected.push(1);
        expected.extend(13u32.to_le_bytes());
        expected.extend(14u64.to_le_bytes());
        expected.extend(15u64.to_le_bytes());
        for value in 16u64..=20 {
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
            previous_shard_assignment: vec![ObjectId([7; 32])],
            next_shard_assignment: vec![ObjectId([8; 32])],
            sync_done_weight: 9,
            epoch_state: NEXT_PARAMS_SELECTED,
            next_epoch_params: Some(EpochParams {
                total_capacity_size: 10,
                storage_price_per_unit_size: 11,
                write_price_per_unit_size: 12,
            }),
        };
        let mut expected = vec![1; 32];
        expected.extend([2, 0]);
        expected.extend(3u64.to_le_bytes());
        expected.extend(4u32.to_le_bytes());
        expected.extend(5u64.to_le_bytes());
        expected.push(0);
        for byte in [6, 7, 8] {
            expected.push(1);
            expected.extend([byte; 32]);
        }
        expected.extend([9, 0, 2, 1]);
        for value in 10u64..=12 {
            expected.extend(value.to_le_bytes());
        }
        assert_eq!(bcs::to_bytes(&staking).unwrap(), expected);
    }

    #[test]
    fn exchange_rates_round_down() {
        let identity = ExchangeRate {
            epoch: 0,
            wal_amount: 0,
            share_amount: 0,
        };
        assert_eq!((identity.shares_for(7), identity.wal_for(7)), (7, 0));
        let rate = ExchangeRate {
            epoch: 1,
            wal_amount: 3,
            share_amount: 2,
        };
        assert_eq!(rate.shares_for(4), 2);
        assert_eq!(rate.shares_for(1), 0);
        assert_eq!(rate.wal_for(1), 1);
        assert_eq!(rate.wal_for(2), 3);
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
