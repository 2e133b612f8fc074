// Cases of `chain/src/contract/storage_resource.rs`'s unit tests, and every abort of
// `storage_resource`.
#[test_only]
module walrus::storage_resource_tests;

use std::unit_test::assert_eq;
use sui::{bcs, test_scenario};
use walrus::storage_resource::{Self, Storage};

const OWNER: address = @0xB0B;

/// 1000 bytes for epochs [2, 10).
fun storage(ctx: &mut TxContext): Storage {
    storage_resource::create_storage(2, 10, 1000, ctx)
}

#[test]
fun layout() {
    let mut ctx = tx_context::dummy();
    let value = storage_resource::create_storage(2, 3, 4, &mut ctx);
    let mut expected = object::id_to_bytes(&object::id(&value));
    expected.append(vector[2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(bcs::to_bytes(&value), expected);
    value.destroy();
}

#[test]
fun split_and_fuse_round_trip() {
    let mut scenario = test_scenario::begin(OWNER);
    let mut first = storage(scenario.ctx());
    let second = first.split_by_epoch(5, scenario.ctx());
    assert_eq!(first.end_epoch(), 5);
    assert_eq!(second.start_epoch(), 5);
    assert_eq!(second.end_epoch(), 10);
    first.fuse(second);
    assert_eq!(first.start_epoch(), 2);
    assert_eq!(first.end_epoch(), 10);
    let half = first.split_by_size(400, scenario.ctx());
    assert_eq!(first.storage_size(), 400);
    assert_eq!(half.storage_size(), 600);
    first.fuse(half);
    assert_eq!(first.storage_size(), 1000);
    // Storage is an owned object: it can be transferred and taken back.
    transfer::public_transfer(first, OWNER);
    scenario.next_tx(OWNER);
    let first = scenario.take_from_sender<Storage>();
    assert_eq!(first.storage_size(), 1000);
    first.destroy();
    scenario.end();
}

#[test]
fun fuse_periods_prepends() {
    let mut ctx = tx_context::dummy();
    let mut later = storage_resource::create_storage(5, 10, 1000, &mut ctx);
    let earlier = storage_resource::create_storage(2, 5, 1000, &mut ctx);
    later.fuse_periods(earlier);
    assert_eq!(later.start_epoch(), 2);
    assert_eq!(later.end_epoch(), 10);
    later.destroy();
}

#[test, expected_failure(abort_code = storage_resource::EInvalidEpoch)]
fun split_at_the_start_aborts() {
    let mut ctx = tx_context::dummy();
    let mut value = storage(&mut ctx);
    let rest = value.split_by_epoch(2, &mut ctx);
    rest.destroy();
    value.destroy();
}

#[test, expected_failure(abort_code = storage_resource::EInvalidEpoch)]
fun split_at_the_end_aborts() {
    let mut ctx = tx_context::dummy();
    let mut value = storage(&mut ctx);
    let rest = value.split_by_epoch(10, &mut ctx);
    rest.destroy();
    value.destroy();
}

#[test, expected_failure(abort_code = storage_resource::EIncompatibleAmount)]
fun split_nothing_aborts() {
    let mut ctx = tx_context::dummy();
    let mut value = storage(&mut ctx);
    let rest = value.split_by_size(0, &mut ctx);
    rest.destroy();
    value.destroy();
}

#[test, expected_failure(abort_code = storage_resource::EIncompatibleAmount)]
fun split_everything_aborts() {
    let mut ctx = tx_context::dummy();
    let mut value = storage(&mut ctx);
    let rest = value.split_by_size(1000, &mut ctx);
    rest.destroy();
    value.destroy();
}

#[test, expected_failure(abort_code = storage_resource::EIncompatibleEpochs)]
fun fuse_periods_with_a_gap_aborts() {
    let mut ctx = tx_context::dummy();
    let mut value = storage(&mut ctx);
    value.fuse_periods(storage_resource::create_storage(12, 14, 1000, &mut ctx));
    value.destroy();
}

#[test, expected_failure(abort_code = storage_resource::EIncompatibleAmount)]
fun fuse_periods_of_other_sizes_aborts() {
    let mut ctx = tx_context::dummy();
    let mut value = storage(&mut ctx);
    value.fuse_periods(storage_resource::create_storage(10, 14, 999, &mut ctx));
    value.destroy();
}

#[test, expected_failure(abort_code = storage_resource::EIncompatibleEpochs)]
fun fuse_amount_of_other_periods_aborts() {
    let mut ctx = tx_context::dummy();
    let mut value = storage(&mut ctx);
    value.fuse_amount(storage_resource::create_storage(3, 10, 5, &mut ctx));
    value.destroy();
}
