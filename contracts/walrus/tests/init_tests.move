// Cases of `chain/src/contract/init.rs`'s unit test, every abort of `init`, and a genesis run
// through to the first committee.
#[test_only]
module walrus::init_tests;

use std::{string, unit_test::assert_eq};
use sui::{bcs, clock::{Self, Clock}, coin, test_scenario::{Self, Scenario}};
use wal::wal::WAL;
use walrus::{init::{Self, InitCap}, staking::Staking, system::System, test_vectors};

const PUBLISHER: address = @0xA11CE;

/// Publishes the package (runs `init`) and starts the publisher's next transaction; a clock at
/// 5 ms.
fun publish(): (Scenario, Clock) {
    let mut scenario = test_scenario::begin(PUBLISHER);
    init::init_for_testing(scenario.ctx());
    scenario.next_tx(PUBLISHER);
    let mut clock = clock::create_for_testing(scenario.ctx());
    clock.set_for_testing(5);
    (scenario, clock)
}

#[test]
fun initializes_epoch_zero() {
    let (mut scenario, clock) = publish();
    // `init` gave the publisher the InitCap (whose BCS is its ID).
    let cap = scenario.take_from_sender<InitCap>();
    assert_eq!(bcs::to_bytes(&cap), object::id_to_bytes(&object::id(&cap)));
    init::initialize_walrus(cap, 10, 1000, 4, &clock, scenario.ctx());
    scenario.next_tx(PUBLISHER);
    // The cap is spent; System and Staking are shared.
    assert!(!scenario.has_most_recent_for_sender<InitCap>());
    let system = scenario.take_shared<System>();
    let staking = scenario.take_shared<Staking>();
    assert_eq!(system.epoch(), 0);
    assert_eq!(staking.epoch(), 0);
    assert_eq!(staking.n_shards(), 10);
    assert_eq!(staking.epoch_duration_ms(), 1000);
    assert_eq!(staking.epoch_start_ms(), 5);
    assert_eq!(staking.epoch_state(), 0);
    assert_eq!(staking.pools().length(), 0);
    assert_eq!(system.future_accounting().length(), 4);
    assert_eq!(system.max_epochs_ahead(), 4);
    assert_eq!(system.committee().members().length(), 0);
    assert_eq!(system.n_shards(), 0);
    assert_eq!(system.total_capacity_size(), 0);
    assert_eq!(system.storage_price_per_unit_size(), 0);
    test_scenario::return_shared(system);
    test_scenario::return_shared(staking);
    clock.destroy_for_testing();
    scenario.end();
}

#[test]
fun genesis_to_the_first_committee() {
    let (mut scenario, mut clock) = publish();
    let cap = scenario.take_from_sender<InitCap>();
    init::initialize_walrus(cap, 10, 1000, 4, &clock, scenario.ctx());

    // Node 0 registers from the address its proof of possession is for, and stakes.
    let senders = test_vectors::node_senders();
    let node = senders[0];
    scenario.next_tx(node);
    {
        let mut staking = scenario.take_shared<Staking>();
        let keys = test_vectors::node_public_keys();
        let pops = test_vectors::node_pops();
        let node_cap = staking.register_candidate(
            string::utf8(b"node-0"),
            string::utf8(b"127.0.0.1:9000"),
            keys[0],
            vector[],
            pops[0],
            0,
            100,
            7,
            1_073_741_824,
            scenario.ctx(),
        );
        let coin = coin::mint_for_testing<WAL>(1_000, scenario.ctx());
        let staked = staking.stake_with_pool(coin, node_cap.node_id(), scenario.ctx());
        transfer::public_transfer(node_cap, node);
        transfer::public_transfer(staked, node);
        test_scenario::return_shared(staking);
    };

    // Anyone selects the first committee once half of the epoch has passed, and starts the
    // first epoch once the epoch duration has passed; it has nothing to sync.
    scenario.next_tx(PUBLISHER);
    {
        let mut staking = scenario.take_shared<Staking>();
        let mut system = scenario.take_shared<System>();
        clock.increment_for_testing(500);
        staking.voting_end(&clock);
        assert_eq!(staking.epoch_state(), 2);
        clock.increment_for_testing(500);
        staking.initiate_epoch_change(&mut system, &clock);
        assert_eq!(staking.epoch_state(), 0);
        assert_eq!(staking.previous_shard_assignment().length(), 0);
        assert_eq!(staking.shard_assignment().length(), 10);
        assert_eq!(system.epoch(), 1);
        assert_eq!(system.n_shards(), 10);
        assert_eq!(system.committee().members().length(), 1);
        assert_eq!(system.storage_price_per_unit_size(), 100);
        assert_eq!(system.write_price_per_unit_size(), 7);
        assert_eq!(system.total_capacity_size(), 1_073_741_824);
        assert_eq!(system.future_accounting().length(), 4);
        assert_eq!(staking.epoch_start_ms(), 1005);
        test_scenario::return_shared(system);
        test_scenario::return_shared(staking);
    };
    clock.destroy_for_testing();
    scenario.end();
}

#[test, expected_failure(abort_code = init::EInvalidParameters)]
fun zero_shards_abort() {
    let (mut scenario, clock) = publish();
    let cap = scenario.take_from_sender<InitCap>();
    init::initialize_walrus(cap, 0, 1000, 4, &clock, scenario.ctx());
    clock.destroy_for_testing();
    scenario.end();
}

#[test, expected_failure(abort_code = init::EInvalidParameters)]
fun zero_epoch_duration_aborts() {
    let (mut scenario, clock) = publish();
    let cap = scenario.take_from_sender<InitCap>();
    init::initialize_walrus(cap, 10, 0, 4, &clock, scenario.ctx());
    clock.destroy_for_testing();
    scenario.end();
}

#[test, expected_failure(abort_code = init::EInvalidParameters)]
fun zero_epochs_ahead_abort() {
    let (mut scenario, clock) = publish();
    let cap = scenario.take_from_sender<InitCap>();
    init::initialize_walrus(cap, 10, 1000, 0, &clock, scenario.ctx());
    clock.destroy_for_testing();
    scenario.end();
}
