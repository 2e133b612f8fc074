// Rust twin: chain/src/contract/staking.rs

/// Storage-node registration (with proof of possession of the BLS key), staking pools with
/// shares and exchange rates (rewards compound for the stakers, the commission goes to the
/// operator), staked WAL, the epoch state machine of Walrus (`voting_end` selects the next
/// committee and parameters, `initiate_epoch_change` installs them and pays the finished
/// epoch's rewards, `epoch_sync_done` ends the change), committee selection and shard
/// assignment from stake, and price and capacity votes.
///
/// Pool accounting (`contracts/DESIGN.md`): a pool's active stake (`active_stake`) is divided
/// into `num_shares` shares. Stake activates, and withdrawals leave, only at epoch changes, at
/// the exchange rate of that moment (after the finished epoch's rewards), which the pool records
/// in `exchange_rates`; a `StakedWal` is worth its principal's shares at its activation
/// epoch's rate, valued at the rate of its withdraw epoch. All the pool's staked WAL is in its
/// `wal_balance`; a `StakedWal` records its amount (`principal`).
module walrus::staking;

use std::string::String;
use sui::{balance::{Self, Balance}, clock::Clock, coin::{Self, Coin}, vec_map::{Self, VecMap}};
use wal::wal::WAL;
use walrus::{bls_aggregate::{Self, BlsCommittee}, events, messages, system::System};

// === Errors (codes = position, as the twin's `Abort::new("staking", code, name)`) ===

/// The proof of possession does not verify for the key.
const EInvalidProofOfPossession: u64 = 0;
/// Commission above 100% (10000 basis points).
const ECommissionTooHigh: u64 = 1;
/// Staking a zero coin.
const EZeroStake: u64 = 2;
/// No pool for the node ID.
const EPoolNotFound: u64 = 3;
/// Withdrawing active stake that was not requested for withdrawal.
const ENotWithdrawing: u64 = 4;
/// Withdrawing before the withdraw epoch.
const EWithdrawTooEarly: u64 = 5;
/// Requesting a withdrawal twice.
const EAlreadyWithdrawing: u64 = 6;
/// An epoch change before the epoch's duration has passed.
const EEpochNotOver: u64 = 7;
/// An epoch-sync report for another epoch, or a repeated one.
const EWrongEpoch: u64 = 8;
/// A public key already registered (current or next key of some pool).
const EDuplicateNode: u64 = 9;
/// Selecting a committee with no stake at all.
const ENoStake: u64 = 10;
/// `voting_end` outside `EPOCH_CHANGE_DONE`, or `initiate_epoch_change` outside
/// `NEXT_PARAMS_SELECTED`.
const EWrongEpochState: u64 = 11;
/// `voting_end` before half of the epoch's duration has passed.
const EVotingNotOver: u64 = 12;

/// Commission rates are in basis points.
const MAX_COMMISSION_RATE: u16 = 10_000;
/// Epoch state: the epoch change is done (a quorum synced, or there was nothing to sync).
const EPOCH_CHANGE_DONE: u8 = 0;
/// Epoch state: the new committee is syncing its shards.
const EPOCH_CHANGE_SYNC: u8 = 1;
/// Epoch state: the next committee and parameters are selected (after `voting_end`).
const NEXT_PARAMS_SELECTED: u8 = 2;
/// `u64::MAX`, as a `u128`.
const MAX_U64: u128 = 18_446_744_073_709_551_615;

/// The vote `votes` collects (the twin passes a closure instead).
const VOTE_STORAGE_PRICE: u8 = 0;
const VOTE_WRITE_PRICE: u8 = 1;
const VOTE_NODE_CAPACITY: u8 = 2;

/// What a node publishes about itself.
public struct StorageNodeInfo has copy, drop, store {
    /// Human-readable name.
    name: String,
    /// The node (pool) ID.
    node_id: ID,
    /// Where its REST API listens (`host:port`).
    network_address: String,
    /// BLS12-381 public key (48 bytes): the key of the latest committee selection.
    public_key: vector<u8>,
    /// Network (TLS) public key.
    network_public_key: vector<u8>,
    /// The key that replaces `public_key` at the next `voting_end`, if any.
    next_epoch_public_key: Option<vector<u8>>,
}

/// A pool's exchange rate at the start of an epoch: `wal_amount` FROST of active stake for
/// `share_amount` shares (no shares: one share per FROST).
public struct ExchangeRate has copy, drop, store {
    /// The epoch that started at this rate.
    epoch: u32,
    /// Active stake, in FROST.
    wal_amount: u64,
    /// Shares of the active stake.
    share_amount: u64,
}

/// A node's staking pool.
public struct StakingPool has store {
    /// The node (pool) ID.
    node_id: ID,
    /// The node's information.
    info: StorageNodeInfo,
    /// Commission in basis points, taken from the pool's rewards.
    commission_rate: u16,
    /// The commission rate from the next epoch change on.
    next_commission_rate: u16,
    /// Active stake in the current epoch (principal and compounded rewards), in FROST.
    active_stake: u64,
    /// Shares of the active stake.
    num_shares: u64,
    /// FROST that activates at the epoch change into each epoch (key).
    pending_stake: VecMap<u32, u64>,
    /// Shares that leave at the epoch change into each epoch (key).
    pending_shares_withdraw: VecMap<u32, u64>,
    /// The rate at each epoch change where stake activated or withdrew, by increasing epoch.
    exchange_rates: vector<ExchangeRate>,
    /// All the pool's staked WAL: active, pending, withdrawn but not yet paid out, and
    /// rounding dust.
    wal_balance: Balance<WAL>,
    /// Commission earned and not yet collected.
    commission: Balance<WAL>,
    /// Vote for the storage price per unit per epoch.
    storage_price: u64,
    /// Vote for the write price per unit.
    write_price: u64,
    /// Vote for the capacity (encoded bytes) the node can store.
    node_capacity: u64,
}

/// Staked WAL: a staker's principal in a pool. The WAL itself is in the pool's `wal_balance`
/// (as in the twin, which counts it there and here); `principal` is its amount in FROST.
public struct StakedWal has key, store {
    id: UID,
    /// The pool.
    node_id: ID,
    /// The amount staked, in FROST.
    principal: u64,
    /// First epoch the stake counts.
    activation_epoch: u32,
    /// Once requested: the epoch from which it can be withdrawn.
    withdraw_epoch: Option<u32>,
}

/// The capability of a storage node's operator.
public struct StorageNodeCap has key, store {
    id: UID,
    /// The node (pool) ID.
    node_id: ID,
    /// Last epoch the node reported its shards synced.
    last_epoch_sync_done: u32,
}

/// The parameters of the next epoch, fixed at `voting_end`.
public struct EpochParams has copy, drop, store {
    /// The capacity a quorum of the next committee's shards voted for.
    total_capacity_size: u64,
    /// The shard-weighted median of the storage price votes.
    storage_price_per_unit_size: u64,
    /// The shard-weighted median of the write price votes.
    write_price_per_unit_size: u64,
}

/// The `Staking` shared object.
public struct Staking has key {
    id: UID,
    /// Number of shards (fixed at genesis).
    n_shards: u16,
    /// Epoch length.
    epoch_duration_ms: u64,
    /// The current epoch.
    epoch: u32,
    /// When the current epoch started.
    epoch_start_ms: u64,
    /// The pools, in registration order.
    pools: vector<StakingPool>,
    /// Owner (node ID) of each shard in the current epoch (empty before the first committee).
    shard_assignment: vector<ID>,
    /// Owner of each shard in epoch `epoch - 1` (empty when there was no previous committee).
    previous_shard_assignment: vector<ID>,
    /// Owner of each shard in epoch `epoch + 1`, selected at `voting_end` (empty otherwise).
    next_shard_assignment: vector<ID>,
    /// Shards whose owners reported them synced in this epoch.
    sync_done_weight: u16,
    /// `EPOCH_CHANGE_DONE`, `EPOCH_CHANGE_SYNC` or `NEXT_PARAMS_SELECTED`.
    epoch_state: u8,
    /// The next epoch's parameters (`some` exactly in `NEXT_PARAMS_SELECTED`).
    next_epoch_params: Option<EpochParams>,
}

/// At genesis (`init::initialize_walrus`): epoch 0, no pools and no committee.
public(package) fun create(
    n_shards: u16,
    epoch_duration_ms: u64,
    clock: &Clock,
    ctx: &mut TxContext,
): Staking {
    Staking {
        id: object::new(ctx),
        n_shards,
        epoch_duration_ms,
        epoch: 0,
        epoch_start_ms: clock.timestamp_ms(),
        pools: vector[],
        shard_assignment: vector[],
        previous_shard_assignment: vector[],
        next_shard_assignment: vector[],
        sync_done_weight: 0,
        epoch_state: EPOCH_CHANGE_DONE,
        next_epoch_params: option::none(),
    }
}

/// Shares the staking object (a key-only object can only be shared by its own module; the
/// twin has no counterpart).
public(package) fun share(self: Staking) {
    transfer::share_object(self)
}

// === Exchange rates ===

/// The shares `amount` FROST buy at this rate (rounded down).
public fun shares_for(self: &ExchangeRate, amount: u64): u64 {
    if (self.share_amount == 0 || self.wal_amount == 0) return amount;
    mul_div(amount, self.share_amount, self.wal_amount)
}

/// The FROST `shares` are worth at this rate (rounded down).
public fun wal_for(self: &ExchangeRate, shares: u64): u64 {
    if (self.share_amount == 0) return 0;
    mul_div(shares, self.wal_amount, self.share_amount)
}

/// The rate recorded at the latest epoch change into an epoch `<= epoch` (one share per FROST
/// if none).
public fun rate_at(self: &StakingPool, epoch: u32): ExchangeRate {
    let mut index = self.exchange_rates.length();
    while (index > 0) {
        let rate = self.exchange_rates[index - 1];
        if (rate.epoch <= epoch) return rate;
        index = index - 1;
    };
    ExchangeRate { epoch: 0, wal_amount: 0, share_amount: 0 }
}

/// The pool's expected stake in `epoch` (from the current epoch on): the active stake, minus
/// the withdrawals and plus the activations due by then, withdrawals valued at the current
/// rate. For the current epoch it is `active_stake`.
public fun stake_at_epoch(self: &StakingPool, epoch: u32): u64 {
    let rate = self.current_rate(epoch);
    let withdrawing = sum_until(&self.pending_shares_withdraw, epoch);
    let activating = sum_until(&self.pending_stake, epoch);
    self.active_stake - rate.wal_for(withdrawing) + activating
}

// === Registration and the operator's settings ===

/// Registers the sender as a storage-node candidate with a new pool; the proof of possession
/// is the BLS signature of the proof-of-possession message (this epoch, the sender's address,
/// the key).
public fun register_candidate(
    self: &mut Staking,
    name: String,
    network_address: String,
    public_key: vector<u8>,
    network_public_key: vector<u8>,
    proof_of_possession: vector<u8>,
    commission_rate: u16,
    storage_price: u64,
    write_price: u64,
    node_capacity: u64,
    ctx: &mut TxContext,
): StorageNodeCap {
    assert!(
        messages::verify_proof_of_possession(
            self.epoch,
            ctx.sender(),
            &public_key,
            &proof_of_possession,
        ),
        EInvalidProofOfPossession,
    );
    assert!(commission_rate <= MAX_COMMISSION_RATE, ECommissionTooHigh);
    assert!(self.key_is_new(&public_key), EDuplicateNode);
    // A fresh ID, as the twin's `ctx.fresh_id()` (the same derivation as `object::new`).
    let node_id = object::id_from_address(ctx.fresh_object_address());
    self
        .pools
        .push_back(StakingPool {
            node_id,
            info: StorageNodeInfo {
                name,
                node_id,
                network_address,
                public_key,
                network_public_key,
                next_epoch_public_key: option::none(),
            },
            commission_rate,
            next_commission_rate: commission_rate,
            active_stake: 0,
            num_shares: 0,
            pending_stake: vec_map::empty(),
            pending_shares_withdraw: vec_map::empty(),
            exchange_rates: vector[],
            wal_balance: balance::zero(),
            commission: balance::zero(),
            storage_price,
            write_price,
            node_capacity,
        });
    events::emit_staking_pool_created(node_id);
    StorageNodeCap { id: object::new(ctx), node_id, last_epoch_sync_done: 0 }
}

/// The node's votes for prices and capacity, counted at the next `voting_end`.
public fun set_votes(
    self: &mut Staking,
    cap: &StorageNodeCap,
    storage_price: u64,
    write_price: u64,
    node_capacity: u64,
) {
    let index = self.pool_index(&cap.node_id);
    let pool = &mut self.pools[index];
    pool.storage_price = storage_price;
    pool.write_price = write_price;
    pool.node_capacity = node_capacity;
}

/// The node's commission (basis points) from the next epoch change on (the finished epoch's
/// rewards still pay the current rate).
public fun set_commission_rate(self: &mut Staking, cap: &StorageNodeCap, rate: u16) {
    assert!(rate <= MAX_COMMISSION_RATE, ECommissionTooHigh);
    let index = self.pool_index(&cap.node_id);
    self.pools[index].next_commission_rate = rate;
}

/// The node's name, at once.
public fun set_name(self: &mut Staking, cap: &StorageNodeCap, name: String) {
    let index = self.pool_index(&cap.node_id);
    self.pools[index].info.name = name;
}

/// The node's network address (`host:port`), at once.
public fun set_network_address(self: &mut Staking, cap: &StorageNodeCap, network_address: String) {
    let index = self.pool_index(&cap.node_id);
    self.pools[index].info.network_address = network_address;
}

/// The node's next BLS key, with its proof of possession for this epoch and the sender (as at
/// registration), used from the committee selected at the next `voting_end` on. No pool may
/// have it as its key or next key.
public fun set_next_public_key(
    self: &mut Staking,
    cap: &StorageNodeCap,
    public_key: vector<u8>,
    proof_of_possession: vector<u8>,
    ctx: &TxContext,
) {
    let index = self.pool_index(&cap.node_id);
    assert!(
        messages::verify_proof_of_possession(
            self.epoch,
            ctx.sender(),
            &public_key,
            &proof_of_possession,
        ),
        EInvalidProofOfPossession,
    );
    assert!(self.key_is_new(&public_key), EDuplicateNode);
    self.pools[index].info.next_epoch_public_key = option::some(public_key);
}

/// The node's uncollected commission, to the holder of its capability.
public fun collect_commission(
    self: &mut Staking,
    cap: &StorageNodeCap,
    ctx: &mut TxContext,
): Coin<WAL> {
    let index = self.pool_index(&cap.node_id);
    let pool = &mut self.pools[index];
    let commission = pool.commission.withdraw_all();
    coin::from_balance(commission, ctx)
}

// === Stake ===

/// Stakes the coin with `node_id`; it counts from the next epoch if the next committee is not
/// selected yet, else from the one after. The coin's WAL goes into the pool's `wal_balance`.
public fun stake_with_pool(
    self: &mut Staking,
    to_stake: Coin<WAL>,
    node_id: ID,
    ctx: &mut TxContext,
): StakedWal {
    assert!(to_stake.value() > 0, EZeroStake);
    let index = self.pool_index(&node_id);
    let principal = to_stake.value();
    let activation_epoch = self.next_stake_epoch();
    let pool = &mut self.pools[index];
    add_to(&mut pool.pending_stake, activation_epoch, principal);
    pool.wal_balance.join(to_stake.into_balance());
    StakedWal {
        id: object::new(ctx),
        node_id,
        principal,
        activation_epoch,
        withdraw_epoch: option::none(),
    }
}

/// Stake not yet active leaves its pool's pending stake and can be withdrawn at once; active
/// stake keeps earning until it leaves at the next epoch change (before `voting_end`) or the
/// one after (once the next committee is selected).
public fun request_withdraw_stake(self: &mut Staking, staked_wal: &mut StakedWal) {
    assert!(staked_wal.withdraw_epoch.is_none(), EAlreadyWithdrawing);
    let index = self.pool_index(&staked_wal.node_id);
    let epoch = self.epoch;
    let withdraw_epoch = self.next_stake_epoch();
    let pool = &mut self.pools[index];
    if (staked_wal.activation_epoch > epoch) {
        subtract_from(&mut pool.pending_stake, staked_wal.activation_epoch, staked_wal.principal);
        staked_wal.withdraw_epoch = option::some(epoch);
    } else {
        let shares = pool.shares_of(staked_wal);
        add_to(&mut pool.pending_shares_withdraw, withdraw_epoch, shares);
        staked_wal.withdraw_epoch = option::some(withdraw_epoch);
    };
}

/// Pays out the staked WAL: the principal of stake that never activated (at once, requested
/// or not), else, once the withdraw epoch has come, the value of its shares at the withdraw
/// epoch's rate (principal plus its rewards minus commission), taken out of the pool.
public fun withdraw_stake(
    self: &mut Staking,
    staked_wal: StakedWal,
    ctx: &mut TxContext,
): Coin<WAL> {
    let requested = staked_wal.withdraw_epoch.is_some();
    if (requested) {
        assert!(self.epoch >= *staked_wal.withdraw_epoch.borrow(), EWithdrawTooEarly);
    } else {
        assert!(staked_wal.activation_epoch > self.epoch, ENotWithdrawing);
    };
    let index = self.pool_index(&staked_wal.node_id);
    let pool = &mut self.pools[index];
    let was_active = requested && staked_wal.activation_epoch <= *staked_wal.withdraw_epoch.borrow();
    let amount = if (was_active) {
        let rate = pool.rate_at(*staked_wal.withdraw_epoch.borrow());
        rate.wal_for(pool.shares_of(&staked_wal))
    } else {
        staked_wal.principal
    };
    // Aborts with `sui::balance::ENotEnough` as the twin's `take_balance`.
    let balance = pool.wal_balance.split(amount);
    if (!requested) {
        subtract_from(&mut pool.pending_stake, staked_wal.activation_epoch, staked_wal.principal);
    };
    let StakedWal { id, node_id: _, principal: _, activation_epoch: _, withdraw_epoch: _ } =
        staked_wal;
    id.delete();
    coin::from_balance(balance, ctx)
}

/// What withdrawing `staked_wal` pays: its principal if it never activated, its value at the
/// withdraw epoch's rate once that has come, else (still active) its value at the pool's
/// current rate (an estimate: rewards still to come are not in it). Zero for an unknown pool.
public fun staked_wal_value(self: &Staking, staked_wal: &StakedWal): u64 {
    let mut index = 0;
    while (index < self.pools.length() && self.pools[index].node_id != staked_wal.node_id) {
        index = index + 1;
    };
    if (index == self.pools.length()) return 0;
    let pool = &self.pools[index];
    let not_active_by = staked_wal.withdraw_epoch.get_with_default(self.epoch);
    if (staked_wal.activation_epoch > not_active_by) return staked_wal.principal;
    let shares = pool.shares_of(staked_wal);
    let withdrawn = staked_wal.withdraw_epoch.is_some() && not_active_by <= self.epoch;
    let rate = if (withdrawn) pool.rate_at(not_active_by) else pool.current_rate(self.epoch);
    rate.wal_for(shares)
}

// === Epochs ===

/// Anyone, once half of the epoch has passed and the epoch change is done: selects the next
/// epoch's committee from the stake each pool will have then (shards apportioned by largest
/// remainders, kept in place where possible) into `next_shard_assignment`, applies the pools'
/// next keys, and fixes the next prices (shard-weighted medians of the votes) and capacity
/// (the largest value a quorum of shards voted for).
public fun voting_end(self: &mut Staking, clock: &Clock) {
    assert!(self.epoch_state == EPOCH_CHANGE_DONE, EWrongEpochState);
    assert!(
        clock.timestamp_ms() >= saturating_add(self.epoch_start_ms, self.epoch_duration_ms / 2),
        EVotingNotOver,
    );
    let next_epoch = self.epoch + 1;
    let n_pools = self.pools.length();
    let mut stakes = vector[];
    let mut node_ids = vector[];
    let mut any_stake = false;
    let mut index = 0;
    while (index < n_pools) {
        let stake = self.pools[index].stake_at_epoch(next_epoch);
        if (stake > 0) {
            any_stake = true;
        };
        stakes.push_back(stake);
        node_ids.push_back(self.pools[index].node_id);
        index = index + 1;
    };
    assert!(any_stake, ENoStake);
    let counts = apportion(self.n_shards, &stakes);
    let assignment = assign_shards(&self.shard_assignment, &node_ids, &counts);
    let (values, weights) = self.votes(&counts, VOTE_NODE_CAPACITY);
    let total_capacity_size = quorum_capacity(values, weights, self.n_shards);
    let (values, weights) = self.votes(&counts, VOTE_STORAGE_PRICE);
    let storage_price_per_unit_size = weighted_median(values, weights);
    let (values, weights) = self.votes(&counts, VOTE_WRITE_PRICE);
    let write_price_per_unit_size = weighted_median(values, weights);

    // Every check has passed: apply.
    index = 0;
    while (index < n_pools) {
        let info = &mut self.pools[index].info;
        if (info.next_epoch_public_key.is_some()) {
            info.public_key = info.next_epoch_public_key.extract();
        };
        index = index + 1;
    };
    self.next_shard_assignment = assignment;
    self.next_epoch_params =
        option::some(EpochParams {
            total_capacity_size,
            storage_price_per_unit_size,
            write_price_per_unit_size,
        });
    self.epoch_state = NEXT_PARAMS_SELECTED;
    events::emit_epoch_parameters_selected(next_epoch);
}

/// Anyone, once the epoch is over and the next committee is selected: pays the finished
/// epoch's rewards to its committee's pools by shards, moves `system` to the next epoch with
/// the selected committee and parameters, activates and withdraws the stake due, and installs
/// the selected shard assignment. The committee's shards then sync (`epoch_sync_done`), except
/// for the first committee, which has nothing to sync: its epoch change is done at once.
public fun initiate_epoch_change(self: &mut Staking, system: &mut System, clock: &Clock) {
    assert!(self.epoch_state == NEXT_PARAMS_SELECTED, EWrongEpochState);
    assert!(
        clock.timestamp_ms() >= saturating_add(self.epoch_start_ms, self.epoch_duration_ms),
        EEpochNotOver,
    );
    let params = *self.next_epoch_params.borrow();
    let next_epoch = self.epoch + 1;
    let n_pools = self.pools.length();
    let mut counts = vector[];
    let mut members = vector[];
    let mut index = 0;
    while (index < n_pools) {
        let pool = &self.pools[index];
        let count = count_shards(&self.next_shard_assignment, &pool.node_id);
        if (count > 0) {
            members.push_back(
                bls_aggregate::new_bls_committee_member(pool.info.public_key, count, pool.node_id),
            );
        };
        counts.push_back(count);
        index = index + 1;
    };
    let committee = bls_aggregate::new_bls_committee(next_epoch, members);

    // Every check has passed: apply.
    let old_committee = *system.committee();
    let rewards = system.advance_epoch(
        committee,
        params.total_capacity_size,
        params.storage_price_per_unit_size,
        params.write_price_per_unit_size,
    );
    self.pay_rewards(&old_committee, rewards);
    index = 0;
    while (index < n_pools) {
        self.pools[index].process_epoch_change(next_epoch);
        index = index + 1;
    };
    index = 0;
    while (index < n_pools) {
        let node_id = self.pools[index].node_id;
        let mut received = vector[];
        let mut shard = 0;
        while (shard < self.next_shard_assignment.length()) {
            if (
                self.next_shard_assignment[shard] == node_id &&
                (shard >= self.shard_assignment.length() || self.shard_assignment[shard] != node_id)
            ) {
                received.push_back((shard as u16));
            };
            shard = shard + 1;
        };
        if (counts[index] > 0 && !received.is_empty()) {
            events::emit_shards_received(next_epoch, received);
        };
        index = index + 1;
    };
    self.previous_shard_assignment = self.shard_assignment;
    self.shard_assignment = self.next_shard_assignment;
    self.next_shard_assignment = vector[];
    self.epoch = next_epoch;
    self.epoch_start_ms = clock.timestamp_ms();
    self.sync_done_weight = 0;
    self.next_epoch_params = option::none();
    let first_committee = self.previous_shard_assignment.is_empty();
    self.epoch_state = if (first_committee) EPOCH_CHANGE_DONE else EPOCH_CHANGE_SYNC;
    events::emit_epoch_change_start(next_epoch);
    if (first_committee) {
        events::emit_epoch_change_done(next_epoch);
    };
}

/// The node reports that it holds its shards of `epoch`; when a quorum of shards has, the
/// epoch change is done.
public fun epoch_sync_done(self: &mut Staking, cap: &mut StorageNodeCap, epoch: u32) {
    assert!(epoch == self.epoch && cap.last_epoch_sync_done < epoch, EWrongEpoch);
    let weight = count_shards(&self.shard_assignment, &cap.node_id);
    cap.last_epoch_sync_done = epoch;
    self.sync_done_weight = self.sync_done_weight + weight;
    if (
        self.epoch_state == EPOCH_CHANGE_SYNC &&
        bls_aggregate::is_quorum(self.sync_done_weight, self.n_shards)
    ) {
        self.epoch_state = EPOCH_CHANGE_DONE;
        events::emit_epoch_change_done(epoch);
    };
}

/// The shards of `node_id` in the current epoch.
public fun shards_of(self: &Staking, node_id: &ID): vector<u16> {
    let mut shards = vector[];
    let mut shard = 0;
    while (shard < self.shard_assignment.length()) {
        if (&self.shard_assignment[shard] == node_id) {
            shards.push_back((shard as u16));
        };
        shard = shard + 1;
    };
    shards
}

/// Splits `n_shards` among stakes by largest remainders: each gets `floor(n * s / S)`, the
/// leftover shards go to the largest fractional parts (ties to the earlier pool). Every count
/// is within one shard of the exact proportional share.
public fun apportion(n_shards: u16, stakes: &vector<u64>): vector<u16> {
    let counts = apportion_amount((n_shards as u64), stakes);
    let mut shards = vector[];
    let mut index = 0;
    while (index < counts.length()) {
        shards.push_back((counts[index] as u16));
        index = index + 1;
    };
    shards
}

/// Splits `amount` in proportion to `weights` by largest remainders (all zero weights:
/// nothing).
public fun apportion_amount(amount: u64, weights: &vector<u64>): vector<u64> {
    let n = weights.length();
    let mut total: u128 = 0;
    let mut index = 0;
    while (index < n) {
        total = total + (weights[index] as u128);
        index = index + 1;
    };
    let mut counts = vector[];
    if (total == 0) {
        index = 0;
        while (index < n) {
            counts.push_back(0);
            index = index + 1;
        };
        return counts
    };
    // The floor and the remainder of each exact share `amount * w / total`.
    let mut remainders = vector[];
    index = 0;
    while (index < n) {
        let product = (amount as u128) * (weights[index] as u128);
        counts.push_back(((product / total) as u64));
        remainders.push_back(product % total);
        index = index + 1;
    };
    let mut assigned = 0;
    index = 0;
    while (index < n) {
        assigned = assigned + counts[index];
        index = index + 1;
    };
    // The indices by decreasing remainder, ties by increasing index (a stable insertion sort of
    // `0..n`, as the twin's `sort_by(remainder desc, then index)`).
    let mut order = vector[];
    index = 0;
    while (index < n) {
        let mut position = order.length();
        order.push_back(index);
        while (position > 0 && remainders[order[position - 1]] < remainders[index]) {
            order.swap(position - 1, position);
            position = position - 1;
        };
        index = index + 1;
    };
    // The first `amount - assigned` of them get one more.
    let leftover = amount - assigned;
    let mut taken = 0;
    while (taken < leftover && taken < n) {
        let count = &mut counts[order[taken]];
        *count = *count + 1;
        taken = taken + 1;
    };
    counts
}

/// The new owner of every shard: shards stay with their current owner up to its new count;
/// freed and unowned shards go, in order, to the nodes below their count, in pool order.
public fun assign_shards(
    current: &vector<ID>,
    node_ids: &vector<ID>,
    counts: &vector<u16>,
): vector<ID> {
    let mut n_shards = 0;
    let mut remaining = vector[];
    let mut index = 0;
    while (index < counts.length()) {
        n_shards = n_shards + (counts[index] as u64);
        remaining.push_back((counts[index] as u64));
        index = index + 1;
    };
    let mut assignment: vector<Option<ID>> = vector[];
    let mut shard = 0;
    while (shard < n_shards) {
        assignment.push_back(option::none());
        shard = shard + 1;
    };
    shard = 0;
    while (shard < current.length() && shard < n_shards) {
        let owner = current[shard];
        let (found, position) = node_ids.index_of(&owner);
        if (found && remaining[position] > 0) {
            let count = &mut remaining[position];
            *count = *count - 1;
            let slot = &mut assignment[shard];
            *slot = option::some(owner);
        };
        shard = shard + 1;
    };
    let mut next = 0;
    shard = 0;
    while (shard < n_shards) {
        if (assignment[shard].is_none()) {
            while (remaining[next] == 0) {
                next = next + 1;
            };
            let count = &mut remaining[next];
            *count = *count - 1;
            let slot = &mut assignment[shard];
            *slot = option::some(node_ids[next]);
        };
        shard = shard + 1;
    };
    let mut owners = vector[];
    shard = 0;
    while (shard < n_shards) {
        owners.push_back(*assignment[shard].borrow());
        shard = shard + 1;
    };
    owners
}

// === Accessors (the twin's fields are `pub`) ===

public fun n_shards(self: &Staking): u16 {
    self.n_shards
}

public fun epoch_duration_ms(self: &Staking): u64 {
    self.epoch_duration_ms
}

public fun epoch(self: &Staking): u32 {
    self.epoch
}

public fun epoch_start_ms(self: &Staking): u64 {
    self.epoch_start_ms
}

public fun pools(self: &Staking): &vector<StakingPool> {
    &self.pools
}

public fun shard_assignment(self: &Staking): &vector<ID> {
    &self.shard_assignment
}

public fun previous_shard_assignment(self: &Staking): &vector<ID> {
    &self.previous_shard_assignment
}

public fun next_shard_assignment(self: &Staking): &vector<ID> {
    &self.next_shard_assignment
}

public fun sync_done_weight(self: &Staking): u16 {
    self.sync_done_weight
}

public fun epoch_state(self: &Staking): u8 {
    self.epoch_state
}

public fun next_epoch_params(self: &Staking): Option<EpochParams> {
    self.next_epoch_params
}

public fun total_capacity_size(self: &EpochParams): u64 {
    self.total_capacity_size
}

public fun storage_price_per_unit_size(self: &EpochParams): u64 {
    self.storage_price_per_unit_size
}

public fun write_price_per_unit_size(self: &EpochParams): u64 {
    self.write_price_per_unit_size
}

/// `StakingPool.node_id` (one Move module cannot have two functions named `node_id`:
/// `node_id` is `StorageNodeCap`'s).
public fun pool_node_id(self: &StakingPool): ID {
    self.node_id
}

public fun info(self: &StakingPool): &StorageNodeInfo {
    &self.info
}

public fun commission_rate(self: &StakingPool): u16 {
    self.commission_rate
}

public fun next_commission_rate(self: &StakingPool): u16 {
    self.next_commission_rate
}

public fun active_stake(self: &StakingPool): u64 {
    self.active_stake
}

public fun num_shares(self: &StakingPool): u64 {
    self.num_shares
}

public fun pending_stake(self: &StakingPool): &VecMap<u32, u64> {
    &self.pending_stake
}

public fun pending_shares_withdraw(self: &StakingPool): &VecMap<u32, u64> {
    &self.pending_shares_withdraw
}

public fun exchange_rates(self: &StakingPool): &vector<ExchangeRate> {
    &self.exchange_rates
}

/// The value of the pool's WAL, in FROST (the twin's `wal_balance: u64`).
public fun wal_balance(self: &StakingPool): u64 {
    self.wal_balance.value()
}

/// The value of the uncollected commission, in FROST (the twin's `commission: u64`).
public fun commission(self: &StakingPool): u64 {
    self.commission.value()
}

public fun storage_price(self: &StakingPool): u64 {
    self.storage_price
}

public fun write_price(self: &StakingPool): u64 {
    self.write_price
}

public fun node_capacity(self: &StakingPool): u64 {
    self.node_capacity
}

public fun wal_amount(self: &ExchangeRate): u64 {
    self.wal_amount
}

public fun share_amount(self: &ExchangeRate): u64 {
    self.share_amount
}

public fun name(self: &StorageNodeInfo): &String {
    &self.name
}

public fun network_address(self: &StorageNodeInfo): &String {
    &self.network_address
}

public fun public_key(self: &StorageNodeInfo): &vector<u8> {
    &self.public_key
}

public fun network_public_key(self: &StorageNodeInfo): &vector<u8> {
    &self.network_public_key
}

public fun next_epoch_public_key(self: &StorageNodeInfo): &Option<vector<u8>> {
    &self.next_epoch_public_key
}

/// `StakedWal.node_id` (see `pool_node_id`).
public fun staked_wal_node_id(self: &StakedWal): ID {
    self.node_id
}

public fun principal(self: &StakedWal): u64 {
    self.principal
}

public fun activation_epoch(self: &StakedWal): u32 {
    self.activation_epoch
}

public fun withdraw_epoch(self: &StakedWal): Option<u32> {
    self.withdraw_epoch
}

/// `StorageNodeCap.node_id`.
public fun node_id(self: &StorageNodeCap): ID {
    self.node_id
}

public fun last_epoch_sync_done(self: &StorageNodeCap): u32 {
    self.last_epoch_sync_done
}

// === Internal ===

/// The index of `node_id`'s pool.
fun pool_index(self: &Staking, node_id: &ID): u64 {
    let mut index = 0;
    while (index < self.pools.length()) {
        if (&self.pools[index].node_id == node_id) return index;
        index = index + 1;
    };
    abort EPoolNotFound
}

/// Whether no pool has `public_key` as its key or its next key.
fun key_is_new(self: &Staking, public_key: &vector<u8>): bool {
    let mut index = 0;
    while (index < self.pools.length()) {
        let info = &self.pools[index].info;
        if (&info.public_key == public_key || info.next_epoch_public_key.contains(public_key)) {
            return false
        };
        index = index + 1;
    };
    true
}

/// The first epoch in which stake added now counts: the next one before `voting_end`, the one
/// after once the next committee is selected.
fun next_stake_epoch(self: &Staking): u32 {
    if (self.epoch_state == NEXT_PARAMS_SELECTED) self.epoch + 2 else self.epoch + 1
}

/// The pool's current exchange rate, as a record of `epoch`.
fun current_rate(self: &StakingPool, epoch: u32): ExchangeRate {
    ExchangeRate { epoch, wal_amount: self.active_stake, share_amount: self.num_shares }
}

/// The shares of `staked_wal` (of this pool, active since its activation epoch).
fun shares_of(self: &StakingPool, staked_wal: &StakedWal): u64 {
    let rate = self.rate_at(staked_wal.activation_epoch);
    rate.shares_for(staked_wal.principal)
}

/// Books `rewards`: the commission first, the rest compounds into the active stake (all of it
/// is commission if the pool has no active stake).
fun receive_rewards(self: &mut StakingPool, mut rewards: Balance<WAL>) {
    let amount = rewards.value();
    let commission = if (self.active_stake == 0) {
        amount
    } else {
        mul_div(amount, (self.commission_rate as u64), (MAX_COMMISSION_RATE as u64))
    };
    self.commission.join(rewards.split(commission));
    self.active_stake = self.active_stake + rewards.value();
    self.wal_balance.join(rewards);
}

/// The epoch change into `epoch`: withdrawals due leave and pending stake activates, both at
/// the rate of this moment (recorded if either happened); the next commission rate applies.
/// (The twin's `StakingPool::advance_epoch`.)
fun process_epoch_change(self: &mut StakingPool, epoch: u32) {
    let rate = self.current_rate(epoch);
    let withdrawing = self.pending_shares_withdraw.contains(&epoch);
    let activating = self.pending_stake.contains(&epoch);
    if (withdrawing) {
        let (_, shares) = self.pending_shares_withdraw.remove(&epoch);
        self.active_stake = self.active_stake - rate.wal_for(shares);
        self.num_shares = self.num_shares - shares;
    };
    if (activating) {
        let (_, amount) = self.pending_stake.remove(&epoch);
        self.active_stake = self.active_stake + amount;
        self.num_shares = self.num_shares + rate.shares_for(amount);
    };
    if (withdrawing || activating) {
        self.exchange_rates.push_back(rate);
    };
    self.commission_rate = self.next_commission_rate;
}

/// Pays `rewards` to the pools of the members of `committee` in proportion to their shards.
///
/// The twin drops what it cannot pay (no member, or a member without a pool); Move cannot drop
/// WAL, and `destroy_zero` aborts on a nonzero remainder. Neither happens: the only committee
/// without members is the genesis one of epoch 0, whose prices are zero (its rewards are zero),
/// every later committee has members, and pools are never removed.
fun pay_rewards(self: &mut Staking, committee: &BlsCommittee, mut rewards: Balance<WAL>) {
    let members = committee.members();
    if (members.is_empty() || rewards.value() == 0) {
        rewards.destroy_zero();
        return
    };
    let mut weights = vector[];
    let mut index = 0;
    while (index < members.length()) {
        weights.push_back((members[index].weight() as u64));
        index = index + 1;
    };
    let shares = apportion_amount(rewards.value(), &weights);
    index = 0;
    while (index < members.length()) {
        let node_id = members[index].node_id();
        let mut pool = 0;
        while (pool < self.pools.length() && self.pools[pool].node_id != node_id) {
            pool = pool + 1;
        };
        if (pool < self.pools.length()) {
            let share = rewards.split(shares[index]);
            self.pools[pool].receive_rewards(share);
        };
        index = index + 1;
    };
    rewards.destroy_zero();
}

/// How many shards `node_id` owns in `assignment`.
fun count_shards(assignment: &vector<ID>, node_id: &ID): u16 {
    let mut count: u64 = 0;
    let mut shard = 0;
    while (shard < assignment.length()) {
        if (&assignment[shard] == node_id) {
            count = count + 1;
        };
        shard = shard + 1;
    };
    (count as u16)
}

/// The sum of the values of `map` whose key is at most `epoch`.
fun sum_until(map: &VecMap<u32, u64>, epoch: u32): u64 {
    let mut sum = 0;
    let mut index = 0;
    while (index < map.size()) {
        let (key, value) = map.get_entry_by_idx(index);
        if (*key <= epoch) {
            sum = sum + *value;
        };
        index = index + 1;
    };
    sum
}

/// Adds `amount` to the value under `key` (inserted at the end if absent).
fun add_to(map: &mut VecMap<u32, u64>, key: u32, amount: u64) {
    if (map.contains(&key)) {
        let value = map.get_mut(&key);
        *value = *value + amount;
    } else {
        map.insert(key, amount);
    };
}

/// Subtracts `amount` from the value under `key`, removing the entry when it reaches zero.
fun subtract_from(map: &mut VecMap<u32, u64>, key: u32, amount: u64) {
    let value = *map.get(&key) - amount;
    if (value == 0) {
        let (_, _) = map.remove(&key);
    } else {
        *map.get_mut(&key) = value;
    };
}

/// `floor(a * b / c)` in `u128`.
fun mul_div(a: u64, b: u64, c: u64): u64 {
    (((a as u128) * (b as u128) / (c as u128)) as u64)
}

/// The votes for `kind` of the pools that get shards (`counts[i] > 0`), each weighted by its
/// shards: `(values, weights)`.
fun votes(self: &Staking, counts: &vector<u16>, kind: u8): (vector<u64>, vector<u16>) {
    let mut values = vector[];
    let mut weights = vector[];
    let mut index = 0;
    while (index < self.pools.length()) {
        if (counts[index] > 0) {
            let pool = &self.pools[index];
            let value = if (kind == VOTE_STORAGE_PRICE) {
                pool.storage_price
            } else if (kind == VOTE_WRITE_PRICE) {
                pool.write_price
            } else {
                pool.node_capacity
            };
            values.push_back(value);
            weights.push_back(counts[index]);
        };
        index = index + 1;
    };
    (values, weights)
}

/// The smallest vote such that voters holding at least half the shards voted no more than it.
fun weighted_median(mut values: vector<u64>, mut weights: vector<u16>): u64 {
    sort_votes(&mut values, &mut weights, false);
    let mut total = 0;
    let mut index = 0;
    while (index < weights.length()) {
        total = total + (weights[index] as u64);
        index = index + 1;
    };
    let mut cumulative = 0;
    index = 0;
    while (index < values.length()) {
        cumulative = cumulative + (weights[index] as u64);
        if (2 * cumulative >= total) return values[index];
        index = index + 1;
    };
    0
}

/// The largest capacity that voters holding a quorum of shards voted at least.
fun quorum_capacity(mut values: vector<u64>, mut weights: vector<u16>, n_shards: u16): u64 {
    sort_votes(&mut values, &mut weights, true);
    let mut cumulative: u16 = 0;
    let mut index = 0;
    while (index < values.length()) {
        cumulative = cumulative + weights[index];
        if (bls_aggregate::is_quorum(cumulative, n_shards)) return values[index];
        index = index + 1;
    };
    if (values.is_empty()) 0 else values[values.length() - 1]
}

/// Sorts the `(value, weight)` pairs, ascending or descending (lexicographically, as the twin
/// sorts its tuples; equal pairs are indistinguishable, so the order among them is moot).
fun sort_votes(values: &mut vector<u64>, weights: &mut vector<u16>, descending: bool) {
    let n = values.length();
    let mut index = 1;
    while (index < n) {
        let mut position = index;
        while (
            position > 0 &&
            out_of_order(
                values[position - 1],
                weights[position - 1],
                values[position],
                weights[position],
                descending,
            )
        ) {
            values.swap(position - 1, position);
            weights.swap(position - 1, position);
            position = position - 1;
        };
        index = index + 1;
    };
}

/// Whether the pair `(value_a, weight_a)` must come after `(value_b, weight_b)`.
fun out_of_order(value_a: u64, weight_a: u16, value_b: u64, weight_b: u16, descending: bool): bool {
    if (descending) {
        value_a < value_b || (value_a == value_b && weight_a < weight_b)
    } else {
        value_a > value_b || (value_a == value_b && weight_a > weight_b)
    }
}

/// `a.saturating_add(b)`.
fun saturating_add(a: u64, b: u64): u64 {
    let sum = (a as u128) + (b as u128);
    if (sum > MAX_U64) (MAX_U64 as u64) else (sum as u64)
}
