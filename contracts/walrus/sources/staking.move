// Rust twin: chain/src/contract/staking.rs

/// Storage-node registration (with proof of possession of the BLS key), staking pools, staked
/// WAL, epoch changes with committee selection and shard assignment from stake, price and
/// capacity votes, and the distribution of storage rewards.
///
/// Simplification against Walrus (`contracts/DESIGN.md`): stake is not compounded through
/// exchange rates; stakers get their principal back and the rewards of the shards a node held
/// go to the node's pool, collected by the holder of its `StorageNodeCap`. The staked WAL stays
/// in the pool's `wal_balance`; a `StakedWal` records its amount (`principal`).
module walrus::staking;

use std::string::String;
use sui::{balance::{Self, Balance}, clock::Clock, coin::{Self, Coin}};
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
/// Withdrawing stake that was not requested for withdrawal.
const ENotWithdrawing: u64 = 4;
/// Withdrawing before the withdraw epoch.
const EWithdrawTooEarly: u64 = 5;
/// Requesting a withdrawal twice.
const EAlreadyWithdrawing: u64 = 6;
/// An epoch change before the epoch's duration has passed.
const EEpochNotOver: u64 = 7;
/// An epoch-sync report for another epoch, or a repeated one.
const EWrongEpoch: u64 = 8;
/// A candidate with a public key already registered.
const EDuplicateNode: u64 = 9;
/// An epoch change with no stake at all.
const ENoStake: u64 = 10;

/// Commission rates are in basis points.
const MAX_COMMISSION_RATE: u16 = 10_000;
/// Epoch state: the epoch change is done (a quorum synced).
const EPOCH_CHANGE_DONE: u8 = 0;
/// Epoch state: the new committee is syncing its shards.
const EPOCH_CHANGE_SYNC: u8 = 1;
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
    /// BLS12-381 public key (48 bytes).
    public_key: vector<u8>,
    /// Network (TLS) public key.
    network_public_key: vector<u8>,
}

/// A node's staking pool.
public struct StakingPool has store {
    /// The node (pool) ID.
    node_id: ID,
    /// The node's information.
    info: StorageNodeInfo,
    /// Commission in basis points.
    commission_rate: u16,
    /// Stake counted for the committee of the current epoch.
    active_stake: u64,
    /// Stake that becomes active at the next epoch change.
    pending_stake: u64,
    /// Active stake that leaves at the next epoch change.
    pending_withdraw: u64,
    /// All staked principal held by the pool.
    wal_balance: Balance<WAL>,
    /// Rewards earned and not yet collected.
    rewards: Balance<WAL>,
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
    /// The principal, in FROST.
    principal: u64,
    /// First epoch the stake counts.
    activation_epoch: u32,
    /// Epoch from which it can be withdrawn, once requested.
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
    /// Shards whose owners reported them synced in this epoch.
    sync_done_weight: u16,
    /// `EPOCH_CHANGE_DONE` or `EPOCH_CHANGE_SYNC`.
    epoch_state: u8,
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
        sync_done_weight: 0,
        epoch_state: EPOCH_CHANGE_DONE,
    }
}

/// Shares the staking object (a key-only object can only be shared by its own module; the
/// twin has no counterpart).
public(package) fun share(self: Staking) {
    transfer::share_object(self)
}

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
    let mut index = 0;
    while (index < self.pools.length()) {
        assert!(self.pools[index].info.public_key != public_key, EDuplicateNode);
        index = index + 1;
    };
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
            },
            commission_rate,
            active_stake: 0,
            pending_stake: 0,
            pending_withdraw: 0,
            wal_balance: balance::zero(),
            rewards: balance::zero(),
            storage_price,
            write_price,
            node_capacity,
        });
    events::emit_staking_pool_created(node_id);
    StorageNodeCap { id: object::new(ctx), node_id, last_epoch_sync_done: 0 }
}

/// The node's votes for prices and capacity, effective at the next epoch change.
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

/// Stakes the coin with `node_id`; it counts from the next epoch. The coin's WAL goes into the
/// pool's `wal_balance`.
public fun stake_with_pool(
    self: &mut Staking,
    to_stake: Coin<WAL>,
    node_id: ID,
    ctx: &mut TxContext,
): StakedWal {
    assert!(to_stake.value() > 0, EZeroStake);
    let index = self.pool_index(&node_id);
    let principal = to_stake.value();
    let activation_epoch = self.epoch + 1;
    let pool = &mut self.pools[index];
    pool.pending_stake = pool.pending_stake + principal;
    pool.wal_balance.join(to_stake.into_balance());
    StakedWal {
        id: object::new(ctx),
        node_id,
        principal,
        activation_epoch,
        withdraw_epoch: option::none(),
    }
}

/// Stake not yet active can be withdrawn at once; active stake leaves the committee at the
/// next epoch change and can be withdrawn from then on.
public fun request_withdraw_stake(self: &mut Staking, staked_wal: &mut StakedWal) {
    assert!(staked_wal.withdraw_epoch.is_none(), EAlreadyWithdrawing);
    let index = self.pool_index(&staked_wal.node_id);
    let epoch = self.epoch;
    let pool = &mut self.pools[index];
    if (staked_wal.activation_epoch > epoch) {
        pool.pending_stake = pool.pending_stake - staked_wal.principal;
        staked_wal.withdraw_epoch = option::some(epoch);
    } else {
        pool.pending_withdraw = pool.pending_withdraw + staked_wal.principal;
        staked_wal.withdraw_epoch = option::some(epoch + 1);
    };
}

/// Returns the principal, taken out of the pool, once the withdraw epoch has come.
public fun withdraw_stake(
    self: &mut Staking,
    staked_wal: StakedWal,
    ctx: &mut TxContext,
): Coin<WAL> {
    assert!(staked_wal.withdraw_epoch.is_some(), ENotWithdrawing);
    let withdraw_epoch = *staked_wal.withdraw_epoch.borrow();
    assert!(self.epoch >= withdraw_epoch, EWithdrawTooEarly);
    let index = self.pool_index(&staked_wal.node_id);
    let StakedWal { id, node_id: _, principal, activation_epoch: _, withdraw_epoch: _ } =
        staked_wal;
    // Aborts with `sui::balance::ENotEnough` as the twin's `take_balance`.
    let pool = &mut self.pools[index];
    let balance = pool.wal_balance.split(principal);
    id.delete();
    coin::from_balance(balance, ctx)
}

/// The node's uncollected rewards, to the holder of its capability.
public fun collect_rewards(
    self: &mut Staking,
    cap: &StorageNodeCap,
    ctx: &mut TxContext,
): Coin<WAL> {
    let index = self.pool_index(&cap.node_id);
    let pool = &mut self.pools[index];
    let rewards = pool.rewards.withdraw_all();
    coin::from_balance(rewards, ctx)
}

/// Once the epoch's duration has passed, activates pending stake and withdrawals, selects the
/// next committee (shards apportioned to stake by largest remainders, kept in place where
/// possible), sets prices (stake-weighted medians of the votes) and capacity (the largest value
/// a quorum of shards voted for), pays the finished epoch's rewards to its committee and moves
/// `system` to the next epoch.
public fun initiate_epoch_change(self: &mut Staking, system: &mut System, clock: &Clock) {
    assert!(
        clock.timestamp_ms() >= saturating_add(self.epoch_start_ms, self.epoch_duration_ms),
        EEpochNotOver,
    );
    let n_pools = self.pools.length();
    let mut stakes = vector[];
    let mut index = 0;
    while (index < n_pools) {
        let pool = &self.pools[index];
        stakes.push_back(pool.active_stake + pool.pending_stake - pool.pending_withdraw);
        index = index + 1;
    };
    let mut any_stake = false;
    index = 0;
    while (index < n_pools) {
        if (stakes[index] > 0) {
            any_stake = true;
        };
        index = index + 1;
    };
    assert!(any_stake, ENoStake);
    let counts = apportion(self.n_shards, &stakes);
    let mut node_ids = vector[];
    index = 0;
    while (index < n_pools) {
        node_ids.push_back(self.pools[index].node_id);
        index = index + 1;
    };
    let assignment = assign_shards(&self.shard_assignment, &node_ids, &counts);
    let next_epoch = self.epoch + 1;
    let mut members = vector[];
    index = 0;
    while (index < n_pools) {
        if (counts[index] > 0) {
            let pool = &self.pools[index];
            members.push_back(
                bls_aggregate::new_bls_committee_member(
                    pool.info.public_key,
                    counts[index],
                    pool.node_id,
                ),
            );
        };
        index = index + 1;
    };
    let committee = bls_aggregate::new_bls_committee(next_epoch, members);
    let (values, weights) = self.votes(&counts, VOTE_STORAGE_PRICE);
    let storage_price = weighted_median(values, weights);
    let (values, weights) = self.votes(&counts, VOTE_WRITE_PRICE);
    let write_price = weighted_median(values, weights);
    let (values, weights) = self.votes(&counts, VOTE_NODE_CAPACITY);
    let capacity = quorum_capacity(values, weights, self.n_shards);

    // Every check has passed: apply.
    let old_committee = *system.committee();
    let rewards = system.advance_epoch(committee, capacity, storage_price, write_price);
    self.pay_rewards(&old_committee, rewards);
    index = 0;
    while (index < n_pools) {
        let pool = &mut self.pools[index];
        pool.active_stake = stakes[index];
        pool.pending_stake = 0;
        pool.pending_withdraw = 0;
        index = index + 1;
    };
    index = 0;
    while (index < n_pools) {
        let node_id = node_ids[index];
        let mut received = vector[];
        let mut shard = 0;
        while (shard < assignment.length()) {
            if (
                assignment[shard] == node_id &&
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
    self.shard_assignment = assignment;
    self.epoch = next_epoch;
    self.epoch_start_ms = clock.timestamp_ms();
    self.sync_done_weight = 0;
    self.epoch_state = EPOCH_CHANGE_SYNC;
    events::emit_epoch_change_start(next_epoch);
}

/// The node reports that it holds its shards of `epoch`; when a quorum of shards has, the
/// epoch change is done.
public fun epoch_sync_done(self: &mut Staking, cap: &mut StorageNodeCap, epoch: u32) {
    assert!(epoch == self.epoch && cap.last_epoch_sync_done < epoch, EWrongEpoch);
    let mut weight: u64 = 0;
    let mut shard = 0;
    while (shard < self.shard_assignment.length()) {
        if (self.shard_assignment[shard] == cap.node_id) {
            weight = weight + 1;
        };
        shard = shard + 1;
    };
    let weight = (weight as u16);
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

public fun sync_done_weight(self: &Staking): u16 {
    self.sync_done_weight
}

public fun epoch_state(self: &Staking): u8 {
    self.epoch_state
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

public fun active_stake(self: &StakingPool): u64 {
    self.active_stake
}

public fun pending_stake(self: &StakingPool): u64 {
    self.pending_stake
}

public fun pending_withdraw(self: &StakingPool): u64 {
    self.pending_withdraw
}

/// The value of the pool's WAL, in FROST (the twin's `wal_balance: u64`).
public fun wal_balance(self: &StakingPool): u64 {
    self.wal_balance.value()
}

/// The value of the uncollected rewards, in FROST (the twin's `rewards: u64`).
public fun rewards(self: &StakingPool): u64 {
    self.rewards.value()
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

/// Pays `rewards` to the members of `committee` in proportion to their shards.
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
            self.pools[pool].rewards.join(share);
        };
        index = index + 1;
    };
    rewards.destroy_zero();
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
