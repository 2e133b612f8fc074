// Cases of the twin's system tests (`chain/tests/system_lifecycle.rs`) and every abort of
// `system`. The certificates are real aggregate signatures of the test committee, generated
// and checked against the Rust twin by `contracts/test-vectors`; where a check aborts before
// the signature is verified (bitmap, stake), the signature does not matter.
#[test_only]
module walrus::system_tests;

use std::unit_test::assert_eq;
use sui::{bcs, coin::{Self, Coin}, event, test_scenario, test_utils::destroy};
use wal::wal::WAL;
use walrus::{
    blob::Blob,
    bls_aggregate,
    events::{BlobCertified, BlobDeleted, BlobRegistered, InvalidBlobID},
    fixtures,
    messages,
    redstuff,
    storage_resource,
    system::{Self, System},
    test_vectors
};

const USER: address = @0xCAFE;

// === Helpers ===

/// A system in epoch 1 and 1 WAL.
fun setup(ctx: &mut TxContext): (System, Coin<WAL>) {
    let system = fixtures::system(ctx);
    let coin = fixtures::wal(ctx);
    (system, coin)
}

/// `hello walrus`, registered for 3 epochs.
fun register_hello(
    system: &mut System,
    deletable: bool,
    coin: &mut Coin<WAL>,
    ctx: &mut TxContext,
): Blob {
    fixtures::register(
        system,
        test_vectors::hello_blob_id(),
        test_vectors::hello_root_hash(),
        test_vectors::hello_size(),
        deletable,
        3,
        coin,
        ctx,
    )
}

/// `permanent`, registered for 2 epochs (epochs 1 and 2) and certified.
fun certified_permanent(system: &mut System, coin: &mut Coin<WAL>, ctx: &mut TxContext): Blob {
    let mut blob = fixtures::register(
        system,
        test_vectors::permanent_blob_id(),
        test_vectors::permanent_root_hash(),
        test_vectors::permanent_size(),
        false,
        2,
        coin,
        ctx,
    );
    system.certify_blob(
        &mut blob,
        test_vectors::permanent_23_signature(),
        test_vectors::permanent_23_bitmap(),
        test_vectors::permanent_23_message(),
    );
    blob
}

/// `uncertified`, deletable, registered for 2 epochs.
fun uncertified_deletable(system: &mut System, coin: &mut Coin<WAL>, ctx: &mut TxContext): Blob {
    fixtures::register(
        system,
        test_vectors::uncertified_blob_id(),
        test_vectors::uncertified_root_hash(),
        test_vectors::uncertified_size(),
        true,
        2,
        coin,
        ctx,
    )
}

// === Life cycle ===

#[test]
fun full_life_cycle() {
    let mut ctx = tx_context::dummy();
    let (mut system, mut coin) = setup(&mut ctx);
    let before = coin.value();
    let encoded = test_vectors::hello_encoded_length();
    let storage = system.reserve_space(encoded, 3, &mut coin, &mut ctx);

    // Register in a transaction whose first new object is the blob, so that its ID is the one
    // the deletable certificate names (`test_vectors::hello_object_id`: Blake2b-256 of
    // `0xf1 || digest || 0u64`, as Sui derives object IDs and the twin's `TxContext` does).
    let mut ctx = tx_context::new(USER, test_vectors::hello_tx_digest(), 0, 0, 0);
    let mut blob = system.register_blob(
        storage,
        test_vectors::hello_blob_id(),
        test_vectors::hello_root_hash(),
        test_vectors::hello_size(),
        1,
        true,
        &mut coin,
        &mut ctx,
    );
    assert_eq!(blob.object_id(), object::id_from_address(test_vectors::hello_object_id()));

    // Storage: 1 unit * 100 * 3 epochs; write: 1 unit * 7, booked to the current epoch.
    let paid = 3 * fixtures::price() + fixtures::write_price();
    assert_eq!(before - coin.value(), paid);
    assert_eq!(system.rewards_pool(), paid);
    assert_eq!(system.used_capacity_size(), encoded);
    let accounting = system.future_accounting();
    assert_eq!(accounting[0].rewards(), fixtures::price() + fixtures::write_price());
    assert_eq!(accounting[1].rewards(), fixtures::price());
    assert_eq!(accounting[2].used_capacity(), encoded);
    assert_eq!(accounting[3].used_capacity(), 0);
    assert_eq!(blob.end_epoch(), 4);
    assert_eq!(blob.registered_epoch(), 1);
    assert!(blob.deletable());

    system.certify_blob(
        &mut blob,
        test_vectors::hello_deletable_23_signature(),
        test_vectors::hello_deletable_23_bitmap(),
        test_vectors::hello_deletable_23_message(),
    );
    assert_eq!(blob.certified_epoch(), option::some(1));

    system.extend_blob(&mut blob, 2, &mut coin);
    assert_eq!(blob.end_epoch(), 6);

    let mut tail = system.reserve_space(encoded, 7, &mut coin, &mut ctx);
    let later = tail.split_by_epoch(6, &mut ctx);
    system.extend_blob_with_resource(&mut blob, later);
    assert_eq!(blob.end_epoch(), 8);
    tail.destroy();

    let object_id = blob.object_id();
    let storage = system.delete_blob(blob);
    assert_eq!(storage.end_epoch(), 8);
    storage.destroy();

    let registered = event::events_by_type<BlobRegistered>();
    assert_eq!(registered.length(), 1);
    // BlobRegistered { epoch: 1, blob_id, size, encoding_type: 1, end_epoch: 4,
    // deletable: true, object_id }.
    let mut expected = bcs::to_bytes(&1u32);
    expected.append(bcs::to_bytes(&test_vectors::hello_blob_id()));
    expected.append(bcs::to_bytes(&test_vectors::hello_size()));
    expected.append(vector[1, 4, 0, 0, 0, 1]);
    expected.append(bcs::to_bytes(&object_id));
    assert_eq!(bcs::to_bytes(&registered[0]), expected);
    assert_eq!(event::events_by_type<BlobCertified>().length(), 3);
    let deleted = event::events_by_type<BlobDeleted>();
    assert_eq!(deleted.length(), 1);
    // BlobDeleted { epoch: 1, blob_id, end_epoch: 8, object_id, was_certified: true }.
    let mut expected = bcs::to_bytes(&1u32);
    expected.append(bcs::to_bytes(&test_vectors::hello_blob_id()));
    expected.append(bcs::to_bytes(&8u32));
    expected.append(bcs::to_bytes(&object_id));
    expected.push_back(1);
    assert_eq!(bcs::to_bytes(&deleted[0]), expected);
    destroy(system);
    destroy(coin);
}

#[test]
fun register_and_certify_across_transactions() {
    let mut scenario = test_scenario::begin(USER);
    {
        let system = fixtures::system(scenario.ctx());
        system.share();
        transfer::public_transfer(fixtures::wal(scenario.ctx()), USER);
    };
    scenario.next_tx(USER);
    {
        let mut system = scenario.take_shared<System>();
        let mut coin = scenario.take_from_sender<Coin<WAL>>();
        let blob = fixtures::register_certify_me(&mut system, &mut coin, scenario.ctx());
        transfer::public_transfer(blob, USER);
        test_scenario::return_shared(system);
        scenario.return_to_sender(coin);
    };
    let effects = scenario.next_tx(USER);
    // BlobRegistered.
    assert_eq!(effects.num_user_events(), 1);
    {
        let system = scenario.take_shared<System>();
        let mut blob = scenario.take_from_sender<Blob>();
        assert!(!blob.is_certified());
        system.certify_blob(
            &mut blob,
            test_vectors::certify_me_23_signature(),
            test_vectors::certify_me_23_bitmap(),
            test_vectors::certify_me_23_message(),
        );
        assert_eq!(blob.certified_epoch(), option::some(1));
        scenario.return_to_sender(blob);
        test_scenario::return_shared(system);
    };
    let effects = scenario.next_tx(USER);
    // BlobCertified.
    assert_eq!(effects.num_user_events(), 1);
    scenario.end();
}

#[test]
fun advancing_the_epoch_pays_the_finished_epochs_rewards() {
    let mut ctx = tx_context::dummy();
    let (mut system, mut coin) = setup(&mut ctx);
    let blob = register_hello(&mut system, false, &mut coin, &mut ctx);
    let rewards = system.advance_epoch(
        fixtures::committee(2),
        fixtures::capacity(),
        fixtures::price(),
        fixtures::write_price(),
    );
    assert_eq!(rewards.value(), fixtures::price() + fixtures::write_price());
    assert_eq!(system.rewards_pool(), 2 * fixtures::price());
    assert_eq!(system.epoch(), 2);
    assert_eq!(system.future_accounting().length(), 10);
    assert_eq!(system.used_capacity_size(), test_vectors::hello_encoded_length());
    rewards.destroy_for_testing();
    destroy(blob);
    destroy(system);
    destroy(coin);
}

#[test, expected_failure(abort_code = system::EInvalidCommitteeEpoch)]
fun next_committee_must_be_for_the_next_epoch() {
    let mut ctx = tx_context::dummy();
    let (mut system, coin) = setup(&mut ctx);
    let rewards = system.advance_epoch(
        fixtures::committee(3),
        fixtures::capacity(),
        fixtures::price(),
        fixtures::write_price(),
    );
    rewards.destroy_for_testing();
    destroy(system);
    destroy(coin);
}

#[test]
fun system_layout() {
    // BCS as the twin's `System`: id, committee, capacity, prices, the accounting of epochs
    // 1..=10, the rewards pool (a `Balance` is its u64 value) and max_epochs_ahead.
    let mut ctx = tx_context::dummy();
    let system = fixtures::system(&mut ctx);
    let mut expected = object::id_to_bytes(&object::id(&system));
    expected.append(bcs::to_bytes(system.committee()));
    expected.append(bcs::to_bytes(&fixtures::capacity()));
    expected.append(bcs::to_bytes(&fixtures::price()));
    expected.append(bcs::to_bytes(&fixtures::write_price()));
    expected.push_back(10);
    let mut epoch: u32 = 1;
    while (epoch <= 10) {
        expected.append(bcs::to_bytes(&epoch));
        expected.append(bcs::to_bytes(&0u64));
        expected.append(bcs::to_bytes(&0u64));
        epoch = epoch + 1;
    };
    expected.append(bcs::to_bytes(&0u64));
    expected.append(bcs::to_bytes(&10u32));
    assert_eq!(bcs::to_bytes(&system), expected);
    destroy(system);
}

#[test]
fun storage_units_round_up() {
    assert_eq!(system::storage_units(0), 0);
    assert_eq!(system::storage_units(1), 1);
    assert_eq!(system::storage_units(1_048_576), 1);
    assert_eq!(system::storage_units(1_048_577), 2);
}

// === reserve_space ===

#[test]
fun reserve_up_to_the_capacity() {
    let mut ctx = tx_context::dummy();
    let (mut system, mut coin) = setup(&mut ctx);
    let storage = system.reserve_space(fixtures::capacity(), 1, &mut coin, &mut ctx);
    assert_eq!(system.used_capacity_size(), fixtures::capacity());
    // 1 GiB = 1024 units, at 100 per unit.
    assert_eq!(system.rewards_pool(), 1024 * fixtures::price());
    assert_eq!(storage.start_epoch(), 1);
    assert_eq!(storage.end_epoch(), 2);
    assert_eq!(storage.storage_size(), fixtures::capacity());
    storage.destroy();
    destroy(system);
    destroy(coin);
}

#[test, expected_failure(abort_code = system::EInvalidEpochsAhead)]
fun reserve_for_zero_epochs_aborts() {
    let mut ctx = tx_context::dummy();
    let (mut system, mut coin) = setup(&mut ctx);
    let storage = system.reserve_space(1, 0, &mut coin, &mut ctx);
    storage.destroy();
    destroy(system);
    destroy(coin);
}

#[test, expected_failure(abort_code = system::EInvalidEpochsAhead)]
fun reserve_beyond_max_epochs_ahead_aborts() {
    let mut ctx = tx_context::dummy();
    let (mut system, mut coin) = setup(&mut ctx);
    let storage = system.reserve_space(1, 11, &mut coin, &mut ctx);
    storage.destroy();
    destroy(system);
    destroy(coin);
}

#[test, expected_failure(abort_code = system::EStorageExceeded)]
fun reserve_beyond_the_capacity_aborts() {
    let mut ctx = tx_context::dummy();
    let (mut system, mut coin) = setup(&mut ctx);
    let storage = system.reserve_space(fixtures::capacity() + 1, 1, &mut coin, &mut ctx);
    storage.destroy();
    destroy(system);
    destroy(coin);
}

#[test, expected_failure(abort_code = system::EStorageExceeded)]
fun reserve_beyond_the_free_capacity_aborts() {
    let mut ctx = tx_context::dummy();
    let (mut system, mut coin) = setup(&mut ctx);
    let full = system.reserve_space(fixtures::capacity(), 2, &mut coin, &mut ctx);
    let storage = system.reserve_space(1, 1, &mut coin, &mut ctx);
    full.destroy();
    storage.destroy();
    destroy(system);
    destroy(coin);
}

#[test, expected_failure(abort_code = system::EInsufficientPayment)]
fun reserve_with_too_little_payment_aborts() {
    let mut ctx = tx_context::dummy();
    let (mut system, coin) = setup(&mut ctx);
    let mut poor = coin::mint_for_testing<WAL>(2 * fixtures::price() - 1, &mut ctx);
    let storage = system.reserve_space(1, 2, &mut poor, &mut ctx);
    storage.destroy();
    destroy(system);
    destroy(coin);
    destroy(poor);
}

#[test, expected_failure(abort_code = system::EInsufficientPayment)]
fun reserve_at_a_price_beyond_any_coin_aborts() {
    // 2^44 units at u64::MAX per unit: the price exceeds u64 (the twin's `price_of` is None).
    let mut ctx = tx_context::dummy();
    let max = 18_446_744_073_709_551_615;
    let mut system = system::create(fixtures::committee(1), max, max, max, 10, &mut ctx);
    let mut coin = fixtures::wal(&mut ctx);
    let storage = system.reserve_space(max, 2, &mut coin, &mut ctx);
    storage.destroy();
    destroy(system);
    destroy(coin);
}

// === register_blob ===

#[test, expected_failure(abort_code = system::EResourceSize)]
fun register_in_too_little_storage_aborts() {
    let mut ctx = tx_context::dummy();
    let (mut system, mut coin) = setup(&mut ctx);
    let encoded = test_vectors::some_bytes_encoded_length();
    let small = system.reserve_space(encoded - 1, 2, &mut coin, &mut ctx);
    let blob = system.register_blob(
        small,
        test_vectors::some_bytes_blob_id(),
        test_vectors::some_bytes_root_hash(),
        test_vectors::some_bytes_size(),
        1,
        false,
        &mut coin,
        &mut ctx,
    );
    destroy(blob);
    destroy(system);
    destroy(coin);
}

#[test, expected_failure(abort_code = system::EInvalidBlobId)]
fun register_with_a_blob_id_not_of_the_root_hash_aborts() {
    let mut ctx = tx_context::dummy();
    let (mut system, mut coin) = setup(&mut ctx);
    let storage = system.reserve_space(
        test_vectors::some_bytes_encoded_length(),
        2,
        &mut coin,
        &mut ctx,
    );
    let blob = system.register_blob(
        storage,
        test_vectors::some_bytes_root_hash(),
        test_vectors::some_bytes_root_hash(),
        test_vectors::some_bytes_size(),
        1,
        false,
        &mut coin,
        &mut ctx,
    );
    destroy(blob);
    destroy(system);
    destroy(coin);
}

#[test, expected_failure(abort_code = redstuff::EInvalidEncodingType)]
fun register_with_another_encoding_aborts() {
    let mut ctx = tx_context::dummy();
    let (mut system, mut coin) = setup(&mut ctx);
    let storage = system.reserve_space(
        test_vectors::some_bytes_encoded_length(),
        2,
        &mut coin,
        &mut ctx,
    );
    let blob = system.register_blob(
        storage,
        test_vectors::some_bytes_blob_id(),
        test_vectors::some_bytes_root_hash(),
        test_vectors::some_bytes_size(),
        0,
        false,
        &mut coin,
        &mut ctx,
    );
    destroy(blob);
    destroy(system);
    destroy(coin);
}

#[test, expected_failure(abort_code = system::EInsufficientPayment)]
fun register_with_too_little_write_payment_aborts() {
    let mut ctx = tx_context::dummy();
    let (mut system, mut coin) = setup(&mut ctx);
    let storage = system.reserve_space(
        test_vectors::some_bytes_encoded_length(),
        2,
        &mut coin,
        &mut ctx,
    );
    let mut poor = coin::mint_for_testing<WAL>(fixtures::write_price() - 1, &mut ctx);
    let blob = system.register_blob(
        storage,
        test_vectors::some_bytes_blob_id(),
        test_vectors::some_bytes_root_hash(),
        test_vectors::some_bytes_size(),
        1,
        false,
        &mut poor,
        &mut ctx,
    );
    destroy(blob);
    destroy(system);
    destroy(coin);
    destroy(poor);
}

#[test, expected_failure(abort_code = system::EResourceBounds)]
fun register_in_expired_storage_aborts() {
    let mut ctx = tx_context::dummy();
    let (mut system, mut coin) = setup(&mut ctx);
    let storage = system.reserve_space(
        test_vectors::some_bytes_encoded_length(),
        2,
        &mut coin,
        &mut ctx,
    );
    fixtures::advance_epoch(&mut system);
    fixtures::advance_epoch(&mut system);
    let blob = system.register_blob(
        storage,
        test_vectors::some_bytes_blob_id(),
        test_vectors::some_bytes_root_hash(),
        test_vectors::some_bytes_size(),
        1,
        false,
        &mut coin,
        &mut ctx,
    );
    destroy(blob);
    destroy(system);
    destroy(coin);
}

#[test, expected_failure(abort_code = system::EResourceBounds)]
fun register_in_storage_starting_later_aborts() {
    let mut ctx = tx_context::dummy();
    let (mut system, mut coin) = setup(&mut ctx);
    // Storage for epochs [2, 4) while the system is in epoch 1.
    let storage = storage_resource::create_storage(
        2,
        4,
        test_vectors::some_bytes_encoded_length(),
        &mut ctx,
    );
    let blob = system.register_blob(
        storage,
        test_vectors::some_bytes_blob_id(),
        test_vectors::some_bytes_root_hash(),
        test_vectors::some_bytes_size(),
        1,
        false,
        &mut coin,
        &mut ctx,
    );
    destroy(blob);
    destroy(system);
    destroy(coin);
}

// === certify_blob ===

#[test]
fun certify_with_a_larger_quorum() {
    let mut ctx = tx_context::dummy();
    let (mut system, mut coin) = setup(&mut ctx);
    let mut blob = fixtures::register_certify_me(&mut system, &mut coin, &mut ctx);
    // Members 0, 2 and 3: 8 shards.
    system.certify_blob(
        &mut blob,
        test_vectors::certify_me_023_signature(),
        test_vectors::certify_me_023_bitmap(),
        test_vectors::certify_me_023_message(),
    );
    assert_eq!(blob.certified_epoch(), option::some(1));
    let certified = event::events_by_type<BlobCertified>();
    assert_eq!(certified.length(), 1);
    // BlobCertified { epoch: 1, blob_id, end_epoch: 3, deletable: false, object_id,
    // is_extension: false }.
    let mut expected = bcs::to_bytes(&1u32);
    expected.append(bcs::to_bytes(&test_vectors::certify_me_blob_id()));
    expected.append(bcs::to_bytes(&3u32));
    expected.push_back(0);
    expected.append(bcs::to_bytes(&blob.object_id()));
    expected.push_back(0);
    assert_eq!(bcs::to_bytes(&certified[0]), expected);
    destroy(blob);
    destroy(system);
    destroy(coin);
}

#[test, expected_failure(abort_code = bls_aggregate::ENotEnoughStake)]
fun certify_under_quorum_aborts() {
    // Members 0, 1 and 2: 1 + 2 + 3 = 6 of 10 shards. Aborts before the signature is checked.
    let mut ctx = tx_context::dummy();
    let (mut system, mut coin) = setup(&mut ctx);
    let mut blob = fixtures::register_certify_me(&mut system, &mut coin, &mut ctx);
    system.certify_blob(
        &mut blob,
        test_vectors::certify_me_23_signature(),
        vector[0x07],
        test_vectors::certify_me_23_message(),
    );
    destroy(blob);
    destroy(system);
    destroy(coin);
}

#[test, expected_failure(abort_code = bls_aggregate::EInvalidBitmap)]
fun certify_with_a_malformed_bitmap_aborts() {
    let mut ctx = tx_context::dummy();
    let (mut system, mut coin) = setup(&mut ctx);
    let mut blob = fixtures::register_certify_me(&mut system, &mut coin, &mut ctx);
    system.certify_blob(
        &mut blob,
        test_vectors::certify_me_23_signature(),
        vector[0x0c, 0x00],
        test_vectors::certify_me_23_message(),
    );
    destroy(blob);
    destroy(system);
    destroy(coin);
}

#[test, expected_failure(abort_code = messages::EIncorrectEpoch)]
fun certify_with_a_certificate_of_another_epoch_aborts() {
    let mut ctx = tx_context::dummy();
    let (mut system, mut coin) = setup(&mut ctx);
    let mut blob = fixtures::register_certify_me(&mut system, &mut coin, &mut ctx);
    system.certify_blob(
        &mut blob,
        test_vectors::certify_me_epoch2_23_signature(),
        test_vectors::certify_me_epoch2_23_bitmap(),
        test_vectors::certify_me_epoch2_23_message(),
    );
    destroy(blob);
    destroy(system);
    destroy(coin);
}

#[test, expected_failure(abort_code = bls_aggregate::ESigVerification)]
fun certify_with_a_forged_signature_aborts() {
    // The signature is over another blob's confirmation.
    let mut ctx = tx_context::dummy();
    let (mut system, mut coin) = setup(&mut ctx);
    let mut blob = fixtures::register_certify_me(&mut system, &mut coin, &mut ctx);
    system.certify_blob(
        &mut blob,
        test_vectors::another_blob_23_signature(),
        test_vectors::another_blob_23_bitmap(),
        test_vectors::certify_me_23_message(),
    );
    destroy(blob);
    destroy(system);
    destroy(coin);
}

#[test, expected_failure(abort_code = bls_aggregate::ESigVerification)]
fun certify_with_a_duplicate_signer_aborts() {
    // Member 3's signature aggregated twice with member 2's, bitmap {2, 3}.
    let mut ctx = tx_context::dummy();
    let (mut system, mut coin) = setup(&mut ctx);
    let mut blob = fixtures::register_certify_me(&mut system, &mut coin, &mut ctx);
    system.certify_blob(
        &mut blob,
        test_vectors::certify_me_duplicate_signature(),
        test_vectors::certify_me_duplicate_bitmap(),
        test_vectors::certify_me_duplicate_message(),
    );
    destroy(blob);
    destroy(system);
    destroy(coin);
}

#[test, expected_failure(abort_code = system::EInvalidBlobId)]
fun certify_with_another_blobs_certificate_aborts() {
    let mut ctx = tx_context::dummy();
    let (mut system, mut coin) = setup(&mut ctx);
    let mut blob = fixtures::register_certify_me(&mut system, &mut coin, &mut ctx);
    system.certify_blob(
        &mut blob,
        test_vectors::another_blob_23_signature(),
        test_vectors::another_blob_23_bitmap(),
        test_vectors::another_blob_23_message(),
    );
    destroy(blob);
    destroy(system);
    destroy(coin);
}

#[test, expected_failure(abort_code = system::EInvalidBlobPersistenceType)]
fun certify_a_permanent_blob_as_deletable_aborts() {
    let mut ctx = tx_context::dummy();
    let (mut system, mut coin) = setup(&mut ctx);
    let mut blob = fixtures::register_certify_me(&mut system, &mut coin, &mut ctx);
    system.certify_blob(
        &mut blob,
        test_vectors::certify_me_deletable_23_signature(),
        test_vectors::certify_me_deletable_23_bitmap(),
        test_vectors::certify_me_deletable_23_message(),
    );
    destroy(blob);
    destroy(system);
    destroy(coin);
}

#[test, expected_failure(abort_code = system::EInvalidBlobPersistenceType)]
fun certify_a_deletable_blob_as_permanent_aborts() {
    let mut ctx = tx_context::dummy();
    let (mut system, mut coin) = setup(&mut ctx);
    let mut blob = register_hello(&mut system, true, &mut coin, &mut ctx);
    system.certify_blob(
        &mut blob,
        test_vectors::hello_permanent_23_signature(),
        test_vectors::hello_permanent_23_bitmap(),
        test_vectors::hello_permanent_23_message(),
    );
    destroy(blob);
    destroy(system);
    destroy(coin);
}

#[test, expected_failure(abort_code = system::EInvalidBlobPersistenceType)]
fun certify_a_deletable_blob_for_another_object_aborts() {
    let mut ctx = tx_context::dummy();
    let (mut system, mut coin) = setup(&mut ctx);
    let mut blob = register_hello(&mut system, true, &mut coin, &mut ctx);
    system.certify_blob(
        &mut blob,
        test_vectors::hello_other_object_23_signature(),
        test_vectors::hello_other_object_23_bitmap(),
        test_vectors::hello_other_object_23_message(),
    );
    destroy(blob);
    destroy(system);
    destroy(coin);
}

#[test, expected_failure(abort_code = system::EAlreadyCertified)]
fun certify_twice_aborts() {
    let mut ctx = tx_context::dummy();
    let (mut system, mut coin) = setup(&mut ctx);
    let mut blob = fixtures::register_certify_me(&mut system, &mut coin, &mut ctx);
    system.certify_blob(
        &mut blob,
        test_vectors::certify_me_023_signature(),
        test_vectors::certify_me_023_bitmap(),
        test_vectors::certify_me_023_message(),
    );
    system.certify_blob(
        &mut blob,
        test_vectors::certify_me_23_signature(),
        test_vectors::certify_me_23_bitmap(),
        test_vectors::certify_me_23_message(),
    );
    destroy(blob);
    destroy(system);
    destroy(coin);
}

#[test, expected_failure(abort_code = system::EBlobExpired)]
fun certify_an_expired_blob_aborts() {
    let mut ctx = tx_context::dummy();
    let (mut system, mut coin) = setup(&mut ctx);
    // Stored in epoch 1 only; the certificate is for epoch 2.
    let mut blob = fixtures::register(
        &mut system,
        test_vectors::too_late_blob_id(),
        test_vectors::too_late_root_hash(),
        test_vectors::too_late_size(),
        false,
        1,
        &mut coin,
        &mut ctx,
    );
    fixtures::advance_epoch(&mut system);
    system.certify_blob(
        &mut blob,
        test_vectors::too_late_epoch2_23_signature(),
        test_vectors::too_late_epoch2_23_bitmap(),
        test_vectors::too_late_epoch2_23_message(),
    );
    destroy(blob);
    destroy(system);
    destroy(coin);
}

// === delete_blob, extend_blob, extend_blob_with_resource, burn ===

#[test]
fun delete_an_uncertified_deletable_blob() {
    let mut ctx = tx_context::dummy();
    let (mut system, mut coin) = setup(&mut ctx);
    let blob = uncertified_deletable(&mut system, &mut coin, &mut ctx);
    let storage = system.delete_blob(blob);
    assert_eq!(storage.end_epoch(), 3);
    assert_eq!(storage.storage_size(), test_vectors::uncertified_encoded_length());
    let deleted = event::events_by_type<BlobDeleted>();
    assert_eq!(deleted.length(), 1);
    // The last byte is `was_certified`.
    let bytes = bcs::to_bytes(&deleted[0]);
    assert_eq!(bytes[bytes.length() - 1], 0);
    storage.destroy();
    destroy(system);
    destroy(coin);
}

#[test, expected_failure(abort_code = system::EBlobNotDeletable)]
fun delete_a_permanent_blob_aborts() {
    let mut ctx = tx_context::dummy();
    let (mut system, mut coin) = setup(&mut ctx);
    let blob = certified_permanent(&mut system, &mut coin, &mut ctx);
    let storage = system.delete_blob(blob);
    storage.destroy();
    destroy(system);
    destroy(coin);
}

#[test, expected_failure(abort_code = system::EBlobExpired)]
fun delete_an_expired_blob_aborts() {
    let mut ctx = tx_context::dummy();
    let (mut system, mut coin) = setup(&mut ctx);
    let blob = uncertified_deletable(&mut system, &mut coin, &mut ctx);
    fixtures::advance_epoch(&mut system);
    fixtures::advance_epoch(&mut system);
    let storage = system.delete_blob(blob);
    storage.destroy();
    destroy(system);
    destroy(coin);
}

#[test, expected_failure(abort_code = system::ENotCertified)]
fun extend_an_uncertified_blob_aborts() {
    let mut ctx = tx_context::dummy();
    let (mut system, mut coin) = setup(&mut ctx);
    let mut blob = uncertified_deletable(&mut system, &mut coin, &mut ctx);
    system.extend_blob(&mut blob, 1, &mut coin);
    destroy(blob);
    destroy(system);
    destroy(coin);
}

#[test, expected_failure(abort_code = system::EInvalidEpochsAhead)]
fun extend_by_zero_epochs_aborts() {
    let mut ctx = tx_context::dummy();
    let (mut system, mut coin) = setup(&mut ctx);
    let mut blob = certified_permanent(&mut system, &mut coin, &mut ctx);
    system.extend_blob(&mut blob, 0, &mut coin);
    destroy(blob);
    destroy(system);
    destroy(coin);
}

#[test, expected_failure(abort_code = system::EInvalidEpochsAhead)]
fun extend_beyond_max_epochs_ahead_aborts() {
    // Ends at 3; 3 + 10 - 1 = 12 > 10 epochs ahead.
    let mut ctx = tx_context::dummy();
    let (mut system, mut coin) = setup(&mut ctx);
    let mut blob = certified_permanent(&mut system, &mut coin, &mut ctx);
    system.extend_blob(&mut blob, 10, &mut coin);
    destroy(blob);
    destroy(system);
    destroy(coin);
}

#[test, expected_failure(abort_code = system::EInsufficientPayment)]
fun extend_with_too_little_payment_aborts() {
    let mut ctx = tx_context::dummy();
    let (mut system, mut coin) = setup(&mut ctx);
    let mut blob = certified_permanent(&mut system, &mut coin, &mut ctx);
    let mut poor = coin::mint_for_testing<WAL>(fixtures::price() - 1, &mut ctx);
    system.extend_blob(&mut blob, 1, &mut poor);
    destroy(blob);
    destroy(system);
    destroy(coin);
    destroy(poor);
}

#[test, expected_failure(abort_code = system::EBlobExpired)]
fun extend_an_expired_blob_aborts() {
    let mut ctx = tx_context::dummy();
    let (mut system, mut coin) = setup(&mut ctx);
    let mut blob = certified_permanent(&mut system, &mut coin, &mut ctx);
    fixtures::advance_epoch(&mut system);
    fixtures::advance_epoch(&mut system);
    system.extend_blob(&mut blob, 1, &mut coin);
    destroy(blob);
    destroy(system);
    destroy(coin);
}

#[test, expected_failure(abort_code = system::ENotCertified)]
fun extend_an_uncertified_blob_with_a_resource_aborts() {
    let mut ctx = tx_context::dummy();
    let (mut system, mut coin) = setup(&mut ctx);
    let mut blob = uncertified_deletable(&mut system, &mut coin, &mut ctx);
    let size = blob.storage().storage_size();
    let extension = storage_resource::create_storage(3, 4, size, &mut ctx);
    system.extend_blob_with_resource(&mut blob, extension);
    destroy(blob);
    destroy(system);
    destroy(coin);
}

#[test, expected_failure(abort_code = storage_resource::EIncompatibleEpochs)]
fun extend_with_a_resource_not_starting_at_the_end_aborts() {
    let mut ctx = tx_context::dummy();
    let (mut system, mut coin) = setup(&mut ctx);
    let mut blob = certified_permanent(&mut system, &mut coin, &mut ctx);
    let size = blob.storage().storage_size();
    let extension = storage_resource::create_storage(5, 6, size, &mut ctx);
    system.extend_blob_with_resource(&mut blob, extension);
    destroy(blob);
    destroy(system);
    destroy(coin);
}

#[test, expected_failure(abort_code = storage_resource::EIncompatibleAmount)]
fun extend_with_a_resource_of_another_size_aborts() {
    let mut ctx = tx_context::dummy();
    let (mut system, mut coin) = setup(&mut ctx);
    let mut blob = certified_permanent(&mut system, &mut coin, &mut ctx);
    let size = blob.storage().storage_size();
    let extension = storage_resource::create_storage(3, 4, size + 1, &mut ctx);
    system.extend_blob_with_resource(&mut blob, extension);
    destroy(blob);
    destroy(system);
    destroy(coin);
}

#[test, expected_failure(abort_code = system::EBlobExpired)]
fun extend_an_expired_blob_with_a_resource_aborts() {
    let mut ctx = tx_context::dummy();
    let (mut system, mut coin) = setup(&mut ctx);
    let mut blob = certified_permanent(&mut system, &mut coin, &mut ctx);
    fixtures::advance_epoch(&mut system);
    fixtures::advance_epoch(&mut system);
    let size = blob.storage().storage_size();
    let extension = storage_resource::create_storage(3, 4, size, &mut ctx);
    system.extend_blob_with_resource(&mut blob, extension);
    destroy(blob);
    destroy(system);
    destroy(coin);
}

#[test]
fun burn_an_expired_blob() {
    let mut ctx = tx_context::dummy();
    let (mut system, mut coin) = setup(&mut ctx);
    let blob = certified_permanent(&mut system, &mut coin, &mut ctx);
    fixtures::advance_epoch(&mut system);
    fixtures::advance_epoch(&mut system);
    system.burn_blob(blob);
    destroy(system);
    destroy(coin);
}

// === invalidate_blob_id ===

#[test]
fun invalidate_with_one_correct_shard() {
    // Member 3: 4 of 10 shards, 12 >= 11.
    let mut ctx = tx_context::dummy();
    let (system, coin) = setup(&mut ctx);
    let blob_id = system.invalidate_blob_id(
        test_vectors::invalid_3_signature(),
        test_vectors::invalid_3_bitmap(),
        test_vectors::invalid_3_message(),
    );
    assert_eq!(blob_id, test_vectors::invalid_blob_id());
    let invalid = event::events_by_type<InvalidBlobID>();
    assert_eq!(invalid.length(), 1);
    let mut expected = bcs::to_bytes(&1u32);
    expected.append(bcs::to_bytes(&blob_id));
    assert_eq!(bcs::to_bytes(&invalid[0]), expected);
    destroy(system);
    destroy(coin);
}

#[test, expected_failure(abort_code = bls_aggregate::ENotEnoughStake)]
fun invalidate_with_too_little_stake_aborts() {
    // Member 2: 3 of 10 shards, 9 < 11.
    let mut ctx = tx_context::dummy();
    let (system, coin) = setup(&mut ctx);
    system.invalidate_blob_id(
        test_vectors::invalid_2_signature(),
        test_vectors::invalid_2_bitmap(),
        test_vectors::invalid_2_message(),
    );
    destroy(system);
    destroy(coin);
}

#[test, expected_failure(abort_code = messages::EInvalidMsgType)]
fun invalidate_with_a_storage_confirmation_aborts() {
    let mut ctx = tx_context::dummy();
    let (system, coin) = setup(&mut ctx);
    system.invalidate_blob_id(
        test_vectors::confirmation_3_signature(),
        test_vectors::confirmation_3_bitmap(),
        test_vectors::confirmation_3_message(),
    );
    destroy(system);
    destroy(coin);
}
