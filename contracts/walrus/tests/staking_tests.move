// Cases of the twin's staking tests (`chain/tests/staking.rs`) and unit tests
// (`chain/src/contract/staking.rs`), and every abort of `staking`. The proofs of possession are
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
    events::{EpochChangeDone, EpochChangeStart, ShardsReceived, StakingPoolCreated},
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

/// Advances the clock by an epoch and changes the epoch.
fun next_epoch(net: &mut Network) {
    net.clock.increment_for_testing(EPOCH_MS);
    net.staking.initiate_epoch_change(&mut net.system, &net.clock);
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

#[test]
fun votes_take_effect_at_the_next_epoch_change() {
    let mut ctx = test_ctx();
    let mut net = network(2, &mut ctx);
    let staked_0 = stake(&mut net, 0, 1, &mut ctx);
    let staked_1 = stake(&mut net, 1, 3, &mut ctx);
    // Node 1 (75 of the 100 shards) votes 7, 3 and 1 GiB.
    net.staking.set_votes(&net.caps[1], 7, 3, 1_073_741_824);
    let pools = net.staking.pools();
    assert_eq!(pools[1].storage_price(), 7);
    assert_eq!(pools[1].write_price(), 3);
    assert_eq!(pools[1].node_capacity(), 1_073_741_824);
    next_epoch(&mut net);
    assert_eq!(net.system.storage_price_per_unit_size(), 7);
    assert_eq!(net.system.write_price_per_unit_size(), 3);
    // The largest capacity a quorum (more than 2/3 of the shards) voted for: node 1's.
    assert_eq!(net.system.total_capacity_size(), 1_073_741_824);
    destroy(staked_0);
    destroy(staked_1);
    destroy(net);
}

// === Epoch changes ===

#[test]
fun epoch_change_builds_the_committee_from_stake() {
    let mut ctx = test_ctx();
    let mut net = network(3, &mut ctx);
    let staked_0 = stake(&mut net, 0, 100, &mut ctx);
    let staked_1 = stake(&mut net, 1, 300, &mut ctx);
    let staked_2 = stake(&mut net, 2, 600, &mut ctx);
    next_epoch(&mut net);
    assert_eq!(net.staking.epoch(), 1);
    assert_eq!(net.system.epoch(), 1);
    assert_eq!(net.staking.epoch_start_ms(), EPOCH_MS);
    let members = net.system.committee().members();
    assert_eq!(members.length(), 3);
    assert_eq!(members[0].weight(), 10);
    assert_eq!(members[1].weight(), 30);
    assert_eq!(members[2].weight(), 60);
    assert_eq!(members[2].node_id(), net.caps[2].node_id());
    assert_eq!(net.system.n_shards(), N_SHARDS);
    // Prices: stake-weighted median of the votes 10, 20, 30 -> 30 (60% of shards voted 30).
    assert_eq!(net.system.storage_price_per_unit_size(), 30);
    assert_eq!(net.system.write_price_per_unit_size(), WRITE_PRICE);
    assert_eq!(net.system.total_capacity_size(), NODE_CAPACITY);
    let pools = net.staking.pools();
    assert_eq!(pools[2].active_stake(), 600);
    assert_eq!(pools[2].pending_stake(), 0);
    assert_eq!(pools[2].wal_balance(), 600);
    // Shards in pool order, each node's announced as received.
    let received = event::events_by_type<ShardsReceived>();
    assert_eq!(received.length(), 3);
    assert_eq!(bcs::to_bytes(&received[0]), shards_received(1, range(0, 10)));
    assert_eq!(bcs::to_bytes(&received[1]), shards_received(1, range(10, 40)));
    assert_eq!(bcs::to_bytes(&received[2]), shards_received(1, range(40, 100)));
    assert_eq!(event::events_by_type<EpochChangeStart>().length(), 1);
    let node_1 = net.caps[1].node_id();
    assert_eq!(net.staking.shards_of(&node_1), range(10, 40));
    assert_eq!(net.staking.shard_assignment().length(), 100);

    // Sync: 60 shards are not a quorum, 60 + 10 are.
    net.staking.epoch_sync_done(&mut net.caps[2], 1);
    assert_eq!(net.staking.epoch_state(), 1);
    assert_eq!(net.staking.sync_done_weight(), 60);
    net.staking.epoch_sync_done(&mut net.caps[0], 1);
    assert_eq!(net.staking.epoch_state(), 0);
    assert_eq!(net.caps[0].last_epoch_sync_done(), 1);
    assert_eq!(event::events_by_type<EpochChangeDone>().length(), 1);

    // Stake moves: node 0 grows (1100 of 2000: 55 shards), shards it held stay in place.
    let node_0 = net.caps[0].node_id();
    let before = net.staking.shards_of(&node_0);
    let staked_3 = stake(&mut net, 0, 1000, &mut ctx);
    next_epoch(&mut net);
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
    destroy(staked_0);
    destroy(staked_1);
    destroy(staked_2);
    destroy(staked_3);
    destroy(net);
}

#[test, expected_failure(abort_code = staking::ENoStake)]
fun epoch_change_without_stake_aborts() {
    let mut ctx = test_ctx();
    let mut net = network(3, &mut ctx);
    next_epoch(&mut net);
    destroy(net);
}

#[test, expected_failure(abort_code = staking::EEpochNotOver)]
fun epoch_change_before_the_epoch_is_over_aborts() {
    let mut ctx = test_ctx();
    let mut net = network(3, &mut ctx);
    let staked = stake(&mut net, 0, 100, &mut ctx);
    net.clock.increment_for_testing(EPOCH_MS - 1);
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

// === Stake and withdrawals ===

#[test]
fun withdrawals() {
    let mut ctx = test_ctx();
    let mut net = network(2, &mut ctx);
    let mut pending = stake(&mut net, 0, 50, &mut ctx);
    let mut active = stake(&mut net, 1, 70, &mut ctx);
    assert_eq!(pending.activation_epoch(), 1);
    assert_eq!(pending.principal(), 50);
    // Not yet active: withdrawable at once.
    net.staking.request_withdraw_stake(&mut pending);
    assert_eq!(pending.withdraw_epoch(), option::some(0));
    let coin = net.staking.withdraw_stake(pending, &mut ctx);
    assert_eq!(coin.burn_for_testing(), 50);
    next_epoch(&mut net);
    // Node 0 has no stake left: the committee is node 1.
    assert_eq!(net.system.committee().members().length(), 1);
    net.staking.request_withdraw_stake(&mut active);
    assert_eq!(active.withdraw_epoch(), option::some(2));
    let pools = net.staking.pools();
    assert_eq!(pools[1].pending_withdraw(), 70);
    // Keep some stake so that the epoch can change.
    let kept = stake(&mut net, 0, 10, &mut ctx);
    next_epoch(&mut net);
    let coin = net.staking.withdraw_stake(active, &mut ctx);
    assert_eq!(coin.burn_for_testing(), 70);
    let members = net.system.committee().members();
    assert_eq!(members.length(), 1);
    assert_eq!(members[0].node_id(), net.caps[0].node_id());
    let pools = net.staking.pools();
    assert_eq!(pools[1].active_stake(), 0);
    assert_eq!(pools[1].wal_balance(), 0);
    assert_eq!(pools[0].wal_balance(), 10);
    destroy(kept);
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
fun withdrawing_without_a_request_aborts() {
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
    let mut net = network(1, &mut ctx);
    let mut staked = stake(&mut net, 0, 70, &mut ctx);
    next_epoch(&mut net);
    // Active: it leaves at the next epoch change.
    net.staking.request_withdraw_stake(&mut staked);
    let coin = net.staking.withdraw_stake(staked, &mut ctx);
    destroy(coin);
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
fun storage_fees_become_node_rewards() {
    let mut ctx = test_ctx();
    let mut net = network(2, &mut ctx);
    let staked_0 = stake(&mut net, 0, 1, &mut ctx);
    let staked_1 = stake(&mut net, 1, 3, &mut ctx);
    next_epoch(&mut net);
    // 25 and 75 shards; the median storage price is node 1's vote, 20.
    assert_eq!(net.system.storage_price_per_unit_size(), 20);
    let mut payment = coin::mint_for_testing<WAL>(1_000_000, &mut ctx);
    // 2 units for 1 epoch at 20: 40 FROST for epoch 1.
    let storage = net.system.reserve_space(2 * MIB, 1, &mut payment, &mut ctx);
    assert_eq!(payment.value(), 1_000_000 - 40);
    next_epoch(&mut net);
    let rewards_0 = net.staking.collect_rewards(&net.caps[0], &mut ctx);
    let rewards_1 = net.staking.collect_rewards(&net.caps[1], &mut ctx);
    assert_eq!(rewards_0.burn_for_testing(), 10);
    assert_eq!(rewards_1.burn_for_testing(), 30);
    assert_eq!(net.system.rewards_pool(), 0);
    // Collected: nothing is left.
    let again = net.staking.collect_rewards(&net.caps[1], &mut ctx);
    assert_eq!(again.burn_for_testing(), 0);
    let pools = net.staking.pools();
    assert_eq!(pools[1].rewards(), 0);
    destroy(storage);
    destroy(payment);
    destroy(staked_0);
    destroy(staked_1);
    destroy(net);
}

// === Invariants (the twin's property test, on a fixed sequence) ===

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
    // BCS as the twin's `Staking` (a `Balance` is its u64 value).
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
    pool.append(bcs::to_bytes(&COMMISSION));
    pool.append(bcs::to_bytes(&0u64)); // active_stake
    pool.append(bcs::to_bytes(&5u64)); // pending_stake
    pool.append(bcs::to_bytes(&0u64)); // pending_withdraw
    pool.append(bcs::to_bytes(&5u64)); // wal_balance
    pool.append(bcs::to_bytes(&0u64)); // rewards
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
    expected.append(bcs::to_bytes(&0u16)); // sync_done_weight
    expected.push_back(0); // EPOCH_CHANGE_DONE
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
