#[test_only]
module wal::wal_tests;

use std::unit_test::assert_eq;
use sui::{coin::{Coin, CoinMetadata, TreasuryCap}, test_scenario};
use wal::wal::{Self, WAL};

const PUBLISHER: address = @0xA11CE;

#[test]
fun init_mints_the_supply_and_gives_the_cap_to_the_publisher() {
    let mut scenario = test_scenario::begin(PUBLISHER);
    wal::init_for_testing(scenario.ctx());
    scenario.next_tx(PUBLISHER);

    let supply = scenario.take_from_sender<Coin<WAL>>();
    assert_eq!(supply.value(), wal::total_supply_for_testing());
    assert_eq!(supply.value(), 5_000_000_000 * wal::frost_per_wal());
    let cap = scenario.take_from_sender<TreasuryCap<WAL>>();
    assert_eq!(cap.total_supply(), supply.value());

    let metadata = scenario.take_immutable<CoinMetadata<WAL>>();
    assert_eq!(metadata.get_decimals(), 9);
    assert_eq!(metadata.get_symbol(), b"WAL".to_ascii_string());

    test_scenario::return_immutable(metadata);
    scenario.return_to_sender(cap);
    scenario.return_to_sender(supply);
    scenario.end();
}

#[test]
fun frost_per_wal_is_ten_to_the_ninth() {
    assert_eq!(wal::frost_per_wal(), 1_000_000_000);
}
