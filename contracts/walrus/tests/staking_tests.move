// Cases of the twin's staking tests (`chain/tests/staking.rs`) and unit tests
// (`chain/src/contract/staking.rs`), on this network (votes and commission below), and every
// abort of `staking`. The proofs of possession are
// real BLS signatures, generated and checked against the twin by `contracts/test-vectors`: node
// i registers from `test_vectors::node_senders()[i]`, the address its proof is for, and the
// other candidate from `test_vectors::candidate_sender()`. The values asserted below are the
// twin's (the generator replays these scenarios on it).
#[test_only]
module walrus::staking_tests;

use std::{string::{Self, String}, unit_test::assert_eq};
use sui::{bcs, clock::{Self, Clock}, coin, event, test_utils::destroy};
use wal::wal::WAL;
use walrus::{
    bls_aggregate,
    events::{
        EpochChangeDone,
        EpochChangeStart,
        EpochParametersSelected,
        ShardsReceived,
        StakingPoolCreated
    },
    staking::{Self, StakedWal, Staking, StorageNodeCap},
    system::{Self, System},
    test_vectors
};

const N_SHARDS: u16 = 100;
const EPOCH_MS: u64 = 1000;
const MAX_EPOCHS_AHEAD: u32 = 10;
/// Node i votes `10 * (i + 1)` for the storage price, `WRITE_PRICE` for the write price and
/// `NODE_CAPACITY` (2^40) for the capacity, with commission `COMMISSION`.
const WRITE_PRICE: u64 = 5;
const NODE_CAPACITY: u64 = 1_099_511_627_776;
const COMMISSION: u16 = 100;
const MIB: u64 = 1_048_576;
/// `staking::EPOCH_CHANGE_DONE`, `EPOCH_CHANGE_SYNC`, `NEXT_PARAMS_SELECTED`.
const EPOCH_CHANGE_DONE: u8 = 0;
const EPOCH_CHANGE_SYNC: u8 = 1;
const NEXT_PARAMS_SELECTED: u8 = 2;

/// The twin test's network: the staking and system objects in epoch 0, a clock, and the
/// capabilities of the registered nodes.
public struct Network {
    staking: Staking,
    system: System,
    clock: Clock,
    caps: vector<StorageNodeCap>,
}

// === Helpers ===

/// The context of the test's own transactions (hint 1000; nodes register with hints `0..5`,
/// other candidates with hints from 100, so that every object ID is fresh).
fun test_ctx(): TxContext {
    tx_context::new_from_hint(@0x0, 1000, 0, 0, 0)
}

/// `prefix` followed by the digit `i` (`i < 10`).
fun numbered(prefix: vector<u8>, i: u64): String {
    let mut bytes = prefix;
    bytes.push_back(48 + (i as u8));
    string::utf8(bytes)
}

/// `count` copies of `byte`.
fun repeat(byte: u8, count: u64): vector<u8> {
    let mut bytes = vector[];
    let mut i = 0;
    while (i < count) {
        bytes.push_back(byte);
        i = i + 1;
    };
    bytes
}

/// The shards `start..end`.
fun range(start: u16, end: u16): vector<u16> {
    let mut shards = vector[];
    let mut shard = start;
    while (shard < end) {
        shards.push_back(shard);
        shard = shard + 1;
    };
    shards
}

/// `n_nodes` candidates registered in epoch 0 (clock at 0): node i is `node-i` at
/// `127.0.0.1:900i` with the key and proof of possession of `test_vectors` (registering from
/// its address), commission 1%, storage price vote `10 * (i + 1)`, write price 5, capacity 2^40.
fun network(n_nodes: u64, ctx: &mut TxContext): Network {
    let clock = clock::create_for_testing(ctx);
    let mut staking = staking::create(N_SHARDS, EPOCH_MS, &clock, ctx);
    let empty = bls_aggregate::new_bls_committee(0, vector[]);
    let system = system::create(empty, 0, 0, 0, MAX_EPOCHS_AHEAD, ctx);
    let keys = test_vectors::node_public_keys();
    let senders = test_vectors::node_senders();
    let pops = test_vectors::node_pops();
    let mut caps = vector[];
    let mut i = 0;
    while (i < n_nodes) {
        let mut node_ctx = tx_context::new_from_hint(senders[i], i, 0, 0, 0);
        let cap = staking.register_candidate(
            numbered(b"node-", i),
            numbered(b"127.0.0.1:900", i),
            keys[i],
            repeat(0, 33),
            pops[i],
            COMMISSION,
            10 * (i + 1),
            WRITE_PRICE,
            NODE_CAPACITY,
            &mut node_ctx,
        );
        caps.push_back(cap);
        i = i + 1;
    };
    Network { staking, system, clock, caps }
}

/// Stakes `amount` with node `node`.
fun stake(net: &mut Network, node: u64, amount: u64, ctx: &mut TxContext): StakedWal {
    let node_id = net.caps[node].node_id();
    let coin = coin::mint_for_testing<WAL>(amount, ctx);
    net.staking.stake_with_pool(coin, node_id, ctx)
}

/// Moves the clock to `timestamp_ms` if it is earlier.
fun clock_at_least(net: &mut Network, timestamp_ms: u64) {
    if (net.clock.timestamp_ms() < timestamp_ms) {
        net.clock.set_for_testing(timestamp_ms);
    };
}

/// The clock to half of the epoch (if earlier), then `voting_end`.
fun voting_end(net: &mut Network) {
    let half = net.staking.epoch_start_ms() + EPOCH_MS / 2;
    clock_at_least(net, half);
    net.staking.voting_end(&net.clock);
}

/// The clock to the end of the epoch (if earlier), then the epoch change.
fun initiate(net: &mut Network) {
    let end = net.staking.epoch_start_ms() + EPOCH_MS;
    clock_at_least(net, end);
    net.staking.initiate_epoch_change(&mut net.system, &net.clock);
}

/// The next epoch as the keeper and the nodes run it: if the epoch change is syncing, every
/// node that has not reported reports; then `voting_end` and `initiate_epoch_change`.
fun next_epoch(net: &mut Network) {
    if (net.staking.epoch_state() == EPOCH_CHANGE_SYNC) {
        let epoch = net.staking.epoch();
        let mut i = 0;
        while (i < net.caps.length()) {
            if (net.caps[i].last_epoch_sync_done() < epoch) {
                net.staking.epoch_sync_done(&mut net.caps[i], epoch);
            };
            i = i + 1;
        };
    };
    voting_end(net);
    initiate(net);
}

/// Buys `mib` MiB of storage for the current epoch: rewards for its committee at the current
/// price.
fun pay(net: &mut Network, mib: u64, ctx: &mut TxContext) {
    let mut payment = coin::mint_for_testing<WAL>(1_000_000_000, ctx);
    let storage = net.system.reserve_space(mib * MIB, 1, &mut payment, ctx);
    destroy(storage);
    destroy(payment);
}

/// Withdraws `staked`; returns the amount.
fun withdraw(net: &mut Network, staked: StakedWal, ctx: &mut TxContext): u64 {
    net.staking.withdraw_stake(staked, ctx).burn_for_testing()
}

/// Collects node `node`'s commission; returns the amount.
fun collect(net: &mut Network, node: u64, ctx: &mut TxContext): u64 {
    net.staking.collect_commission(&net.caps[node], ctx).burn_for_testing()
}

/// The weights of the current committee's members.
fun weights(net: &Network): vector<u16> {
    let members = net.system.committee().members();
    let mut weights = vector[];
    let mut i = 0;
    while (i < members.length()) {
        weights.push_back(members[i].weight());
        i = i + 1;
    };
    weights
}

/// Registers the test candidate (`test_vectors::candidate_*`) from its address.
fun register_candidate(
    net: &mut Network,
    public_key: vector<u8>,
    proof_of_possession: vector<u8>,
    commission_rate: u16,
    hint: u64,
): StorageNodeCap {
    let mut ctx = tx_context::new_from_hint(test_vectors::candidate_sender(), hint, 0, 0, 0);
    net
        .staking
        .register_candidate(
            string::utf8(b"candidate"),
            string::utf8(b"127.0.0.1:9100"),
            public_key,
            vector[],
            proof_of_possession,
            commission_rate,
            1,
            1,
            1,
            &mut ctx,
        )
}

/// The BCS of `ShardsReceived { epoch, shards }`.
fun shards_received(epoch: u32, shards: vector<u16>): vector<u8> {
    let mut bytes = bcs::to_bytes(&epoch);
    bytes.append(bcs::to_bytes(&shards));
    bytes
}

// === Registration ===

#[test]
fun candidates_need_a_valid_proof_of_possession() {
    let mut ctx = test_ctx();
    let mut net = network(1, &mut ctx);
    let cap = register_candidate(
        &mut net,
        test_vectors::candidate_public_key(),
        test_vectors::candidate_pop(),
        10_000,
        100,
    );
    let pools = net.staking.pools();
    assert_eq!(pools.length(), 2);
    let pool = &pools[1];
    assert_eq!(pool.pool_node_id(), cap.node_id());
    assert_eq!(pool.commission_rate(), 10_000);
    assert_eq!(*pool.info().public_key(), test_vectors::candidate_public_key());
    assert_eq!(*pool.info().name(), string::utf8(b"candidate"));
    assert_eq!(cap.last_epoch_sync_done(), 0);
    let created = event::events_by_type<StakingPoolCreated>();
    assert_eq!(created.length(), 2);
    assert_eq!(bcs::to_bytes(&created[1]), object::id_to_bytes(&cap.node_id()));
    destroy(cap);
    destroy(net);
}

#[test, expected_failure(abort_code = staking::EInvalidProofOfPossession)]
fun proof_of_possession_for_another_address_aborts() {
    let mut ctx = test_ctx();
    let mut net = network(1, &mut ctx);
    let cap = register_candidate(
        &mut net,
        test_vectors::candidate_public_key(),
        test_vectors::candidate_pop_other_sender(),
        0,
        100,
    );
    destroy(cap);
    destroy(net);
}

#[test, expected_failure(abort_code = staking::EInvalidProofOfPossession)]
fun garbage_proof_of_possession_aborts() {
    let mut ctx = test_ctx();
    let mut net = network(1, &mut ctx);
    let cap = register_candidate(
        &mut net,
        test_vectors::candidate_public_key(),
        repeat(1, 96),
        0,
        100,
    );
    destroy(cap);
    destroy(net);
}

#[test, expected_failure(abort_code = staking::EInvalidProofOfPossession)]
fun garbage_public_key_aborts() {
    // 48 zero bytes are no G1 point: `bls12381_min_pk_verify` returns false, as the twin.
    let mut ctx = test_ctx();
    let mut net = network(1, &mut ctx);
    let cap = register_candidate(&mut net, repeat(0, 48), test_vectors::candidate_pop(), 0, 100);
    destroy(cap);
    destroy(net);
}

#[test]
fun proofs_of_possession_are_for_one_epoch() {
    let mut ctx = test_ctx();
    let mut net = network(1, &mut ctx);
    let staked = stake(&mut net, 0, 1, &mut ctx);
    next_epoch(&mut net);
    assert_eq!(net.staking.epoch(), 1);
    let cap = register_candidate(
        &mut net,
        test_vectors::candidate_public_key(),
        test_vectors::candidate_pop_epoch_1(),
        0,
        100,
    );
    assert_eq!(net.staking.pools().length(), 2);
    destroy(cap);
    destroy(staked);
    destroy(net);
}

#[test, expected_failure(abort_code = staking::EInvalidProofOfPossession)]
fun proof_of_possession_of_another_epoch_aborts() {
    let mut ctx = test_ctx();
    let mut net = network(1, &mut ctx);
    let staked = stake(&mut net, 0, 1, &mut ctx);
    next_epoch(&mut net);
    // The epoch-0 proof, in epoch 1.
    let cap = register_candidate(
        &mut net,
        test_vectors::candidate_public_key(),
        test_vectors::candidate_pop(),
        0,
        100,
    );
    destroy(cap);
    destroy(staked);
    destroy(net);
}

#[test, expected_failure(abort_code = staking::ECommissionTooHigh)]
fun commission_above_100_percent_aborts() {
    let mut ctx = test_ctx();
    let mut net = network(1, &mut ctx);
    let cap = register_candidate(
        &mut net,
        test_vectors::candidate_public_key(),
        test_vectors::candidate_pop(),
        10_001,
        100,
    );
    destroy(cap);
    destroy(net);
}

#[test, expected_failure(abort_code = staking::EDuplicateNode)]
fun registering_a_key_twice_aborts() {
    let mut ctx = test_ctx();
    let mut net = network(1, &mut ctx);
    let first = register_candidate(
        &mut net,
        test_vectors::candidate_public_key(),
        test_vectors::candidate_pop(),
        10_000,
        100,
    );
    let second = register_candidate(
        &mut net,
        test_vectors::candidate_public_key(),
        test_vectors::candidate_pop(),
        0,
        101,
    );
    destroy(first);
    destroy(second);
    destroy(net);
}

// === Epochs ===

#[test]
fun the_epoch_state_machine_runs_as_on_walrus() {
    let mut ctx = test_ctx();
    let mut net = network(3, &mut ctx);
    let staked_0 = stake(&mut net, 0, 100, &mut ctx);
    let staked_1 = stake(&mut net, 1, 300, &mut ctx);
    let staked_2 = stake(&mut net, 2, 600, &mut ctx);
    voting_end(&mut net);
    assert_eq!(net.staking.epoch_state(), NEXT_PARAMS_SELECTED);
    assert_eq!(net.staking.next_shard_assignment().length(), 100);
    assert_eq!(net.staking.shard_assignment().length(), 0);
    let selected = event::events_by_type<EpochParametersSelected>();
    assert_eq!(selected.length(), 1);
    assert_eq!(bcs::to_bytes(&selected[0]), bcs::to_bytes(&1u32));

    // The first committee: nothing to sync, so the epoch change is done at once.
    initiate(&mut net);
    assert_eq!(net.staking.epoch(), 1);
    assert_eq!(net.system.epoch(), 1);
    assert_eq!(net.staking.epoch_start_ms(), EPOCH_MS);
    assert_eq!(net.staking.epoch_state(), EPOCH_CHANGE_DONE);
    assert_eq!(net.staking.previous_shard_assignment().length(), 0);
    assert_eq!(net.staking.next_shard_assignment().length(), 0);
    assert!(net.staking.next_epoch_params().is_none());
    assert_eq!(weights(&net), vector[10, 30, 60]);
    let members = net.system.committee().members();
    assert_eq!(members[2].node_id(), net.caps[2].node_id());
    assert_eq!(net.system.n_shards(), N_SHARDS);
    // Prices: shard-weighted median of the votes 10, 20, 30 -> 30 (60% of shards voted 30).
    assert_eq!(net.system.storage_price_per_unit_size(), 30);
    assert_eq!(net.system.write_price_per_unit_size(), WRITE_PRICE);
    assert_eq!(net.system.total_capacity_size(), NODE_CAPACITY);
    let pools = net.staking.pools();
    assert_eq!(pools[2].active_stake(), 600);
    assert_eq!(pools[2].num_shares(), 600);
    assert_eq!(pools[2].pending_stake().size(), 0);
    assert_eq!(pools[2].wal_balance(), 600);
    // Shards in pool order, each node's announced as received.
    let received = event::events_by_type<ShardsReceived>();
    assert_eq!(received.length(), 3);
    assert_eq!(bcs::to_bytes(&received[0]), shards_received(1, range(0, 10)));
    assert_eq!(bcs::to_bytes(&received[1]), shards_received(1, range(10, 40)));
    assert_eq!(bcs::to_bytes(&received[2]), shards_received(1, range(40, 100)));
    assert_eq!(event::events_by_type<EpochChangeStart>().length(), 1);
    assert_eq!(event::events_by_type<EpochChangeDone>().length(), 1);
    let node_1 = net.caps[1].node_id();
    assert_eq!(net.staking.shards_of(&node_1), range(10, 40));

    // Stake moves: node 0 grows (1100 of 2000: 55 shards), shards it held stay in place.
    let node_0 = net.caps[0].node_id();
    let before = net.staking.shards_of(&node_0);
    let first_assignment = *net.staking.shard_assignment();
    let staked_3 = stake(&mut net, 0, 1000, &mut ctx);
    next_epoch(&mut net);
    assert_eq!(net.staking.epoch(), 2);
    assert_eq!(net.staking.epoch_state(), EPOCH_CHANGE_SYNC);
    assert_eq!(*net.staking.previous_shard_assignment(), first_assignment);
    let after = net.staking.shards_of(&node_0);
    assert_eq!(after.length(), 55);
    let mut i = 0;
    while (i < before.length()) {
        assert!(after.contains(&before[i]));
        i = i + 1;
    };
    // Node 1 keeps 10..25, node 2 40..70; node 0 receives the freed 25..40 and 70..100.
    let mut expected = range(0, 10);
    expected.append(range(25, 40));
    expected.append(range(70, 100));
    assert_eq!(after, expected);
    let received = event::events_by_type<ShardsReceived>();
    assert_eq!(received.length(), 4);
    let mut moved = range(25, 40);
    moved.append(range(70, 100));
    assert_eq!(bcs::to_bytes(&received[3]), shards_received(2, moved));

    // Sync: node 2's 30 shards are not a quorum, 30 + 55 are.
    net.staking.epoch_sync_done(&mut net.caps[2], 2);
    assert_eq!(net.staking.epoch_state(), EPOCH_CHANGE_SYNC);
    assert_eq!(net.staking.sync_done_weight(), 30);
    net.staking.epoch_sync_done(&mut net.caps[0], 2);
    assert_eq!(net.staking.epoch_state(), EPOCH_CHANGE_DONE);
    assert_eq!(net.caps[0].last_epoch_sync_done(), 2);
    assert_eq!(event::events_by_type<EpochChangeDone>().length(), 2);
    destroy(staked_0);
    destroy(staked_1);
    destroy(staked_2);
    destroy(staked_3);
    destroy(net);
}

#[test, expected_failure(abort_code = staking::ENoStake)]
fun voting_end_without_stake_aborts() {
    let mut ctx = test_ctx();
    let mut net = network(3, &mut ctx);
    voting_end(&mut net);
    destroy(net);
}

#[test, expected_failure(abort_code = staking::EVotingNotOver)]
fun voting_end_before_half_of_the_epoch_aborts() {
    let mut ctx = test_ctx();
    let mut net = network(3, &mut ctx);
    let staked = stake(&mut net, 0, 100, &mut ctx);
    net.clock.increment_for_testing(EPOCH_MS / 2 - 1);
    net.staking.voting_end(&net.clock);
    destroy(staked);
    destroy(net);
}

#[test, expected_failure(abort_code = staking::EWrongEpochState)]
fun voting_end_twice_aborts() {
    let mut ctx = test_ctx();
    let mut net = network(3, &mut ctx);
    let staked = stake(&mut net, 0, 100, &mut ctx);
    voting_end(&mut net);
    voting_end(&mut net);
    destroy(staked);
    destroy(net);
}

#[test, expected_failure(abort_code = staking::EWrongEpochState)]
fun voting_end_while_the_committee_syncs_aborts() {
    let mut ctx = test_ctx();
    let mut net = network(3, &mut ctx);
    let staked = stake(&mut net, 0, 100, &mut ctx);
    next_epoch(&mut net);
    next_epoch(&mut net);
    assert_eq!(net.staking.epoch_state(), EPOCH_CHANGE_SYNC);
    voting_end(&mut net);
    destroy(staked);
    destroy(net);
}

#[test, expected_failure(abort_code = staking::EWrongEpochState)]
fun epoch_change_before_voting_end_aborts() {
    let mut ctx = test_ctx();
    let mut net = network(3, &mut ctx);
    let staked = stake(&mut net, 0, 100, &mut ctx);
    initiate(&mut net);
    destroy(staked);
    destroy(net);
}

#[test, expected_failure(abort_code = staking::EEpochNotOver)]
fun epoch_change_before_the_epoch_is_over_aborts() {
    let mut ctx = test_ctx();
    let mut net = network(3, &mut ctx);
    let staked = stake(&mut net, 0, 100, &mut ctx);
    voting_end(&mut net);
    net.clock.set_for_testing(EPOCH_MS - 1);
    net.staking.initiate_epoch_change(&mut net.system, &net.clock);
    destroy(staked);
    destroy(net);
}

#[test, expected_failure(abort_code = staking::EWrongEpoch)]
fun epoch_sync_done_twice_aborts() {
    let mut ctx = test_ctx();
    let mut net = network(3, &mut ctx);
    let staked = stake(&mut net, 2, 600, &mut ctx);
    next_epoch(&mut net);
    net.staking.epoch_sync_done(&mut net.caps[2], 1);
    net.staking.epoch_sync_done(&mut net.caps[2], 1);
    destroy(staked);
    destroy(net);
}

#[test, expected_failure(abort_code = staking::EWrongEpoch)]
fun epoch_sync_done_for_another_epoch_aborts() {
    let mut ctx = test_ctx();
    let mut net = network(3, &mut ctx);
    let staked = stake(&mut net, 0, 100, &mut ctx);
    next_epoch(&mut net);
    net.staking.epoch_sync_done(&mut net.caps[0], 2);
    destroy(staked);
    destroy(net);
}

#[test]
fun the_committee_and_parameters_are_fixed_at_voting_end() {
    let mut ctx = test_ctx();
    let mut net = network(2, &mut ctx);
    let staked_0 = stake(&mut net, 0, 1, &mut ctx);
    let staked_1 = stake(&mut net, 1, 3, &mut ctx);
    next_epoch(&mut net);
    voting_end(&mut net);
    // After voting_end: new stake counts from the epoch after next, votes from the next
    // selection.
    let late = stake(&mut net, 1, 4, &mut ctx);
    assert_eq!(late.activation_epoch(), 3);
    net.staking.set_votes(&net.caps[1], 7, 3, 1_073_741_824);
    let pools = net.staking.pools();
    assert_eq!(pools[1].storage_price(), 7);
    assert_eq!(pools[1].write_price(), 3);
    assert_eq!(pools[1].node_capacity(), 1_073_741_824);
    initiate(&mut net);
    // Node 1 (75 of the shards) voted 20 at the selection.
    assert_eq!(net.system.storage_price_per_unit_size(), 20);
    assert_eq!(net.system.write_price_per_unit_size(), WRITE_PRICE);
    assert_eq!(net.system.total_capacity_size(), NODE_CAPACITY);
    let pools = net.staking.pools();
    assert_eq!(pools[1].stake_at_epoch(3), 7);
    next_epoch(&mut net);
    // 1 : 7 of the stake, 13 : 87 of the shards (the tie of remainders to the earlier pool).
    assert_eq!(weights(&net), vector[13, 87]);
    assert_eq!(net.system.storage_price_per_unit_size(), 7);
    assert_eq!(net.system.write_price_per_unit_size(), 3);
    // The largest capacity a quorum (more than 2/3 of the shards) voted for: node 1's.
    assert_eq!(net.system.total_capacity_size(), 1_073_741_824);
    destroy(late);
    destroy(staked_0);
    destroy(staked_1);
    destroy(net);
}

// === Stake and withdrawals ===

#[test]
fun stake_and_withdrawals_take_effect_at_the_epoch_boundaries() {
    let mut ctx = test_ctx();
    let mut net = network(2, &mut ctx);
    let mut keep = stake(&mut net, 1, 1000, &mut ctx);
    let mut first = stake(&mut net, 0, 100, &mut ctx);
    assert_eq!(first.activation_epoch(), 1);
    assert_eq!(first.principal(), 100);
    voting_end(&mut net);
    let mut second = stake(&mut net, 0, 100, &mut ctx);
    assert_eq!(second.activation_epoch(), 2);
    // Not active yet: withdrawn at once, with or without a request.
    let pending = stake(&mut net, 0, 50, &mut ctx);
    assert_eq!(net.staking.staked_wal_value(&pending), 50);
    assert_eq!(withdraw(&mut net, pending, &mut ctx), 50);
    initiate(&mut net);
    let pools = net.staking.pools();
    assert_eq!(pools[0].active_stake(), 100);
    assert_eq!(pools[0].stake_at_epoch(2), 200);

    // Epoch 1, before voting_end: active stake leaves at epoch 2.
    net.staking.request_withdraw_stake(&mut first);
    assert_eq!(first.withdraw_epoch(), option::some(2));
    let third = stake(&mut net, 0, 100, &mut ctx);
    voting_end(&mut net);
    // After voting_end: stake activates at epoch 3 and active stake leaves at epoch 3; stake
    // not active yet still leaves at once.
    let fourth = stake(&mut net, 0, 100, &mut ctx);
    assert_eq!(fourth.activation_epoch(), 3);
    net.staking.request_withdraw_stake(&mut keep);
    assert_eq!(keep.withdraw_epoch(), option::some(3));
    net.staking.request_withdraw_stake(&mut second);
    assert_eq!(second.withdraw_epoch(), option::some(1));
    assert_eq!(withdraw(&mut net, second, &mut ctx), 100);
    initiate(&mut net);

    // Epoch 2: the committee selected at epoch 1's voting_end still counts node 1.
    assert_eq!(weights(&net), vector[17, 83]);
    assert_eq!(withdraw(&mut net, first, &mut ctx), 100);
    next_epoch(&mut net);
    let members = net.system.committee().members();
    assert_eq!(members.length(), 1);
    assert_eq!(members[0].node_id(), net.caps[0].node_id());
    assert_eq!(withdraw(&mut net, keep, &mut ctx), 1000);
    let pools = net.staking.pools();
    assert_eq!(pools[0].active_stake(), 200);
    assert_eq!(pools[1].wal_balance(), 0);
    assert_eq!(net.staking.staked_wal_value(&third), 100);
    assert_eq!(net.staking.staked_wal_value(&fourth), 100);
    destroy(third);
    destroy(fourth);
    destroy(net);
}

#[test, expected_failure(abort_code = staking::EAlreadyWithdrawing)]
fun requesting_a_withdrawal_twice_aborts() {
    let mut ctx = test_ctx();
    let mut net = network(1, &mut ctx);
    let mut staked = stake(&mut net, 0, 50, &mut ctx);
    net.staking.request_withdraw_stake(&mut staked);
    net.staking.request_withdraw_stake(&mut staked);
    destroy(staked);
    destroy(net);
}

#[test, expected_failure(abort_code = staking::ENotWithdrawing)]
fun withdrawing_active_stake_without_a_request_aborts() {
    let mut ctx = test_ctx();
    let mut net = network(1, &mut ctx);
    let staked = stake(&mut net, 0, 70, &mut ctx);
    next_epoch(&mut net);
    let coin = net.staking.withdraw_stake(staked, &mut ctx);
    destroy(coin);
    destroy(net);
}

#[test, expected_failure(abort_code = staking::EWithdrawTooEarly)]
fun withdrawing_active_stake_in_the_same_epoch_aborts() {
    let mut ctx = test_ctx();
    let mut net = network(2, &mut ctx);
    let mut staked = stake(&mut net, 0, 70, &mut ctx);
    let kept = stake(&mut net, 1, 70, &mut ctx);
    next_epoch(&mut net);
    // Active: it leaves at the next epoch change.
    net.staking.request_withdraw_stake(&mut staked);
    let coin = net.staking.withdraw_stake(staked, &mut ctx);
    destroy(coin);
    destroy(kept);
    destroy(net);
}

#[test, expected_failure(abort_code = staking::EZeroStake)]
fun staking_zero_aborts() {
    let mut ctx = test_ctx();
    let mut net = network(1, &mut ctx);
    let staked = stake(&mut net, 0, 0, &mut ctx);
    destroy(staked);
    destroy(net);
}

#[test, expected_failure(abort_code = staking::EPoolNotFound)]
fun staking_with_an_unknown_pool_aborts() {
    let mut ctx = test_ctx();
    let mut net = network(1, &mut ctx);
    let coin = coin::mint_for_testing<WAL>(1, &mut ctx);
    let unknown = object::id_from_address(@0xEE);
    let staked = net.staking.stake_with_pool(coin, unknown, &mut ctx);
    destroy(staked);
    destroy(net);
}

// === Rewards ===

#[test]
fun rewards_pay_the_commission_then_compound() {
    let mut ctx = test_ctx();
    let mut net = network(2, &mut ctx);
    let staked = stake(&mut net, 0, 1000, &mut ctx);
    let leaving = stake(&mut net, 1, 1000, &mut ctx);
    voting_end(&mut net);
    // Node 1's only stake leaves before it activates: node 1 is in the committee of epoch 1
    // without active stake, so all its rewards are commission.
    assert_eq!(withdraw(&mut net, leaving, &mut ctx), 1000);
    initiate(&mut net);
    // 50 shards each; the median storage price of the votes 10 and 20 is 10.
    assert_eq!(net.system.storage_price_per_unit_size(), 10);
    let pools = net.staking.pools();
    assert_eq!(pools[1].active_stake(), 0);
    // 100 units at 10: 1000 FROST for epoch 1, 500 per node.
    pay(&mut net, 100, &mut ctx);
    next_epoch(&mut net);
    let pools = net.staking.pools();
    // Node 0 keeps 1% (5) and compounds 495; node 1 keeps everything.
    assert_eq!(pools[0].commission(), 5);
    assert_eq!(pools[0].active_stake(), 1495);
    assert_eq!(pools[1].commission(), 500);
    assert_eq!(net.staking.staked_wal_value(&staked), 1495);
    assert_eq!(collect(&mut net, 0, &mut ctx), 5);
    assert_eq!(collect(&mut net, 0, &mut ctx), 0);
    assert_eq!(collect(&mut net, 1, &mut ctx), 500);
    assert_eq!(net.system.rewards_pool(), 0);

    // A new rate applies from the next epoch change on: epoch 2's rewards still pay 1%.
    net.staking.set_commission_rate(&net.caps[0], 5000);
    let pools = net.staking.pools();
    assert_eq!(pools[0].commission_rate(), COMMISSION);
    assert_eq!(pools[0].next_commission_rate(), 5000);
    pay(&mut net, 10, &mut ctx);
    next_epoch(&mut net);
    let pools = net.staking.pools();
    assert_eq!(pools[0].commission(), 1);
    assert_eq!(pools[0].active_stake(), 1594);
    assert_eq!(pools[0].commission_rate(), 5000);
    pay(&mut net, 10, &mut ctx);
    next_epoch(&mut net);
    let pools = net.staking.pools();
    assert_eq!(pools[0].commission(), 51);
    assert_eq!(net.staking.staked_wal_value(&staked), 1644);
    destroy(staked);
    destroy(net);
}

#[test, expected_failure(abort_code = staking::ECommissionTooHigh)]
fun a_commission_rate_above_100_percent_aborts() {
    let mut ctx = test_ctx();
    let mut net = network(1, &mut ctx);
    net.staking.set_commission_rate(&net.caps[0], 10_001);
    destroy(net);
}

#[test]
fun rewards_are_shared_pro_rata_between_stakers() {
    let mut ctx = test_ctx();
    let mut net = network(1, &mut ctx);
    let mut first = stake(&mut net, 0, 1000, &mut ctx);
    next_epoch(&mut net);
    // Staked in epoch 1: active from epoch 2, so epoch 1's rewards are all the first staker's.
    let second = stake(&mut net, 0, 1000, &mut ctx);
    assert_eq!(second.activation_epoch(), 2);
    pay(&mut net, 50, &mut ctx);
    next_epoch(&mut net);
    // Epoch 2 starts at 1495 FROST (500 minus 1%) for 1000 shares: the second stake buys 668.
    let pools = net.staking.pools();
    let pool = &pools[0];
    assert_eq!(pool.active_stake(), 2495);
    assert_eq!(pool.num_shares(), 1668);
    let rate = pool.rate_at(2);
    assert_eq!(rate.wal_amount(), 1495);
    assert_eq!(rate.share_amount(), 1000);
    assert_eq!(net.staking.staked_wal_value(&first), 1495);
    assert_eq!(net.staking.staked_wal_value(&second), 999);
    pay(&mut net, 30, &mut ctx);
    next_epoch(&mut net);
    assert_eq!(net.staking.staked_wal_value(&first), 1673);
    assert_eq!(net.staking.staked_wal_value(&second), 1118);
    // The first staker leaves at the next epoch change and still earns epoch 3's rewards.
    net.staking.request_withdraw_stake(&mut first);
    assert_eq!(first.withdraw_epoch(), option::some(4));
    pay(&mut net, 167, &mut ctx);
    next_epoch(&mut net);
    assert_eq!(withdraw(&mut net, first, &mut ctx), 2665);
    assert_eq!(net.staking.staked_wal_value(&second), 1781);
    let pools = net.staking.pools();
    let pool = &pools[0];
    assert_eq!(pool.wal_balance(), 1781);
    assert_eq!(pool.commission(), 24);
    destroy(second);
    destroy(net);
}

// === The operator's settings ===

#[test]
fun the_next_public_key_is_used_from_the_selected_committee_on() {
    let mut ctx = test_ctx();
    let mut net = network(2, &mut ctx);
    let staked_0 = stake(&mut net, 0, 100, &mut ctx);
    let staked_1 = stake(&mut net, 1, 100, &mut ctx);
    next_epoch(&mut net);
    let node_ctx = tx_context::new_from_hint(test_vectors::node_senders()[0], 200, 0, 0, 0);
    net
        .staking
        .set_next_public_key(
            &net.caps[0],
            test_vectors::candidate_public_key(),
            test_vectors::candidate_pop_node_0_epoch_1(),
            &node_ctx,
        );
    let keys = test_vectors::node_public_keys();
    let candidate_key = test_vectors::candidate_public_key();
    let pools = net.staking.pools();
    let info = pools[0].info();
    assert_eq!(*info.public_key(), keys[0]);
    assert_eq!(*info.next_epoch_public_key(), option::some(candidate_key));
    // The selection at voting_end uses it; the current committee keeps the old key.
    voting_end(&mut net);
    let pools = net.staking.pools();
    let info = pools[0].info();
    assert_eq!(*info.public_key(), candidate_key);
    assert!(info.next_epoch_public_key().is_none());
    let members = net.system.committee().members();
    assert_eq!(*members[0].public_key(), keys[0]);
    initiate(&mut net);
    let members = net.system.committee().members();
    assert_eq!(*members[0].public_key(), candidate_key);
    // Name and address change at once.
    net.staking.set_name(&net.caps[0], string::utf8(b"renamed"));
    net.staking.set_network_address(&net.caps[0], string::utf8(b"10.0.0.1:1"));
    let pools = net.staking.pools();
    assert_eq!(*pools[0].info().name(), string::utf8(b"renamed"));
    assert_eq!(*pools[0].info().network_address(), string::utf8(b"10.0.0.1:1"));
    destroy(staked_0);
    destroy(staked_1);
    destroy(net);
}

#[test, expected_failure(abort_code = staking::EInvalidProofOfPossession)]
fun a_next_public_key_with_another_senders_proof_aborts() {
    let mut ctx = test_ctx();
    let mut net = network(1, &mut ctx);
    let staked = stake(&mut net, 0, 100, &mut ctx);
    next_epoch(&mut net);
    let node_ctx = tx_context::new_from_hint(test_vectors::node_senders()[0], 200, 0, 0, 0);
    // The candidate's own proof for epoch 1 is for the candidate's address.
    net
        .staking
        .set_next_public_key(
            &net.caps[0],
            test_vectors::candidate_public_key(),
            test_vectors::candidate_pop_epoch_1(),
            &node_ctx,
        );
    destroy(staked);
    destroy(net);
}

#[test, expected_failure(abort_code = staking::EDuplicateNode)]
fun registering_a_pending_next_key_aborts() {
    let mut ctx = test_ctx();
    let mut net = network(1, &mut ctx);
    let staked = stake(&mut net, 0, 100, &mut ctx);
    next_epoch(&mut net);
    let node_ctx = tx_context::new_from_hint(test_vectors::node_senders()[0], 200, 0, 0, 0);
    net
        .staking
        .set_next_public_key(
            &net.caps[0],
            test_vectors::candidate_public_key(),
            test_vectors::candidate_pop_node_0_epoch_1(),
            &node_ctx,
        );
    let cap = register_candidate(
        &mut net,
        test_vectors::candidate_public_key(),
        test_vectors::candidate_pop_epoch_1(),
        0,
        100,
    );
    destroy(cap);
    destroy(staked);
    destroy(net);
}

// === Invariants (the twin's property test, on a fixed sequence; no rewards, so every rate is
// one share per FROST and a withdrawal pays its principal) ===

#[test]
fun wal_is_conserved_and_shards_follow_stake() {
    let mut ctx = test_ctx();
    let mut net = network(5, &mut ctx);
    let mut staked = vector[];
    let mut withdrawn = 0;
    let mut minted = 0;
    let amounts = vector[17, 230_000, 999, 1, 64_000, 5, 123_456];
    let mut round = 0;
    while (round < 6) {
        let mut i = 0;
        while (i < amounts.length()) {
            let amount = amounts[i] * (round + 1);
            staked.push_back(stake(&mut net, (i + round) % 5, amount, &mut ctx));
            minted = minted + amount;
            i = i + 1;
        };
        // Request a withdrawal of every third stake; withdraw whatever may be withdrawn.
        let mut j = 0;
        while (j < staked.length()) {
            if (j % 3 == round % 3 && staked[j].withdraw_epoch().is_none()) {
                net.staking.request_withdraw_stake(&mut staked[j]);
            };
            j = j + 1;
        };
        let mut kept = vector[];
        while (!staked.is_empty()) {
            let next = staked.pop_back();
            let ready =
                next.withdraw_epoch().is_some() &&
                next.withdraw_epoch().destroy_some() <= net.staking.epoch();
            if (ready) {
                withdrawn =
                    withdrawn + net.staking.withdraw_stake(next, &mut ctx).burn_for_testing();
            } else {
                kept.push_back(next);
            };
        };
        staked = kept;
        next_epoch(&mut net);

        // Every minted FROST is in a pool or was withdrawn; the pools hold the principals.
        let pools = net.staking.pools();
        let mut in_pools = 0;
        let mut total_stake = 0;
        let mut p = 0;
        while (p < pools.length()) {
            in_pools = in_pools + pools[p].wal_balance();
            total_stake = total_stake + pools[p].active_stake();
            p = p + 1;
        };
        assert_eq!(in_pools + withdrawn, minted);
        let mut principals = 0;
        let mut k = 0;
        while (k < staked.length()) {
            principals = principals + staked[k].principal();
            k = k + 1;
        };
        assert_eq!(in_pools, principals);
        // Every shard has one owner, each pool's count within one shard of its exact share.
        assert_eq!(net.staking.shard_assignment().length(), (N_SHARDS as u64));
        let mut counted = 0;
        p = 0;
        while (p < pools.length()) {
            let node_id = pools[p].pool_node_id();
            let shards = (net.staking.shards_of(&node_id).length() as u128);
            let exact_times_total = (N_SHARDS as u128) * (pools[p].active_stake() as u128);
            let total = (total_stake as u128);
            // |shards - n * s / S| < 1, i.e. |shards * S - n * s| < S.
            let scaled = shards * total;
            if (scaled >= exact_times_total) {
                assert!(scaled - exact_times_total < total);
            } else {
                assert!(exact_times_total - scaled < total);
            };
            counted = counted + shards;
            p = p + 1;
        };
        assert_eq!(counted, (N_SHARDS as u128));
        assert_eq!(net.system.n_shards(), N_SHARDS);
        round = round + 1;
    };
    destroy(staked);
    destroy(net);
}

// === Layouts and apportionment (the twin's unit tests) ===

#[test]
fun staking_layout() {
    // BCS as the twin's `Staking` (a `Balance` is its u64 value, a `VecMap` its entries).
    let mut ctx = test_ctx();
    let mut net = network(1, &mut ctx);
    let staked = stake(&mut net, 0, 5, &mut ctx);
    let node_id = net.caps[0].node_id();
    let mut pool = object::id_to_bytes(&node_id);
    pool.append(bcs::to_bytes(&string::utf8(b"node-0")));
    pool.append(object::id_to_bytes(&node_id));
    pool.append(bcs::to_bytes(&string::utf8(b"127.0.0.1:9000")));
    let keys = test_vectors::node_public_keys();
    pool.append(bcs::to_bytes(&keys[0]));
    pool.append(bcs::to_bytes(&repeat(0, 33)));
    pool.push_back(0); // no next_epoch_public_key
    pool.append(bcs::to_bytes(&COMMISSION)); // commission_rate
    pool.append(bcs::to_bytes(&COMMISSION)); // next_commission_rate
    pool.append(bcs::to_bytes(&0u64)); // active_stake
    pool.append(bcs::to_bytes(&0u64)); // num_shares
    pool.push_back(1); // pending_stake: epoch 1 -> 5
    pool.append(bcs::to_bytes(&1u32));
    pool.append(bcs::to_bytes(&5u64));
    pool.push_back(0); // pending_shares_withdraw
    pool.push_back(0); // exchange_rates
    pool.append(bcs::to_bytes(&5u64)); // wal_balance
    pool.append(bcs::to_bytes(&0u64)); // commission
    pool.append(bcs::to_bytes(&10u64));
    pool.append(bcs::to_bytes(&WRITE_PRICE));
    pool.append(bcs::to_bytes(&NODE_CAPACITY));
    let pools = net.staking.pools();
    assert_eq!(bcs::to_bytes(&pools[0]), pool);
    let mut expected = object::id_to_bytes(&object::id(&net.staking));
    expected.append(bcs::to_bytes(&N_SHARDS));
    expected.append(bcs::to_bytes(&EPOCH_MS));
    expected.append(bcs::to_bytes(&0u32)); // epoch
    expected.append(bcs::to_bytes(&0u64)); // epoch_start_ms
    expected.push_back(1);
    expected.append(pool);
    expected.push_back(0); // no shard assignment yet
    expected.push_back(0); // no previous one
    expected.push_back(0); // no next one
    expected.append(bcs::to_bytes(&0u16)); // sync_done_weight
    expected.push_back(EPOCH_CHANGE_DONE);
    expected.push_back(0); // no next_epoch_params
    assert_eq!(bcs::to_bytes(&net.staking), expected);
    destroy(staked);
    destroy(net);
}

#[test]
fun staked_wal_and_cap_layout() {
    let mut ctx = test_ctx();
    let mut net = network(1, &mut ctx);
    let mut staked = stake(&mut net, 0, 3, &mut ctx);
    net.staking.request_withdraw_stake(&mut staked);
    let node_id = net.caps[0].node_id();
    assert_eq!(staked.staked_wal_node_id(), node_id);
    // id, node_id, principal, activation_epoch, withdraw_epoch: Some(0).
    let mut expected = object::id_to_bytes(&object::id(&staked));
    expected.append(object::id_to_bytes(&node_id));
    expected.append(bcs::to_bytes(&3u64));
    expected.append(bcs::to_bytes(&1u32));
    expected.push_back(1);
    expected.append(bcs::to_bytes(&0u32));
    assert_eq!(bcs::to_bytes(&staked), expected);
    let cap = &net.caps[0];
    let mut expected = object::id_to_bytes(&object::id(cap));
    expected.append(object::id_to_bytes(&node_id));
    expected.append(bcs::to_bytes(&0u32));
    assert_eq!(bcs::to_bytes(cap), expected);
    destroy(staked);
    destroy(net);
}

#[test]
fun apportionment_is_exact_and_proportional() {
    assert_eq!(staking::apportion(10, &vector[1, 1, 1]), vector[4, 3, 3]);
    assert_eq!(staking::apportion(100, &vector[0, 5, 0]), vector[0, 100, 0]);
    assert_eq!(staking::apportion(7, &vector[0, 0]), vector[0, 0]);
    assert_eq!(staking::apportion_amount(40, &vector[1, 3]), vector[10, 30]);
    // Largest remainders first (2/3 before 1/3), ties to the earlier pool.
    assert_eq!(staking::apportion(2, &vector[1, 2, 3]), vector[0, 1, 1]);
    assert_eq!(staking::apportion(2, &vector[1, 1, 1]), vector[1, 1, 0]);
    let a = object::id_from_address(@0x1);
    let b = object::id_from_address(@0x2);
    // b shrinks from 3 to 1 shard and keeps its first one; a gets the freed shards.
    assert_eq!(
        staking::assign_shards(&vector[b, b, b, a], &vector[a, b], &vector[3, 1]),
        vector[b, a, a, a],
    );
}
