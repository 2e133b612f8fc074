// Cases of `chain/src/contract/bls_aggregate.rs`'s unit tests, and every abort of
// `bls_aggregate`. The certificates are real aggregate signatures of the test committee,
// generated and checked against the Rust twin by `contracts/test-vectors`.
#[test_only]
module walrus::bls_aggregate_tests;

use std::unit_test::assert_eq;
use sui::bcs;
use walrus::{bls_aggregate, fixtures, messages, test_vectors};

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

#[test]
fun thresholds() {
    // 3w >= 2n + 1 and 3w >= n + 1.
    assert!(bls_aggregate::is_quorum(7, 10));
    assert!(!bls_aggregate::is_quorum(6, 10));
    assert!(bls_aggregate::is_one_correct(4, 10));
    assert!(!bls_aggregate::is_one_correct(3, 10));
}

#[test]
fun quorum_certificate() {
    let committee = fixtures::committee(1);
    assert_eq!(committee.n_shards(), 10);
    assert_eq!(committee.epoch(), 1);
    // Members 2 and 3: 3 + 4 = 7 of 10 shards, 21 >= 21.
    let certified = committee.verify_quorum_in_epoch(
        test_vectors::bls_23_signature(),
        test_vectors::bls_23_bitmap(),
        test_vectors::bls_23_message(),
    );
    assert_eq!(certified.stake_support(), 7);
    assert_eq!(certified.cert_epoch(), 1);
    assert_eq!(certified.intent_type(), 1);
}

#[test, expected_failure(abort_code = bls_aggregate::ENotEnoughStake)]
fun under_quorum_aborts() {
    // Members 1 and 3: 2 + 4 = 6 shards.
    let committee = fixtures::committee(1);
    committee.verify_quorum_in_epoch(
        test_vectors::bls_13_signature(),
        test_vectors::bls_13_bitmap(),
        test_vectors::bls_13_message(),
    );
}

#[test]
fun under_quorum_is_above_validity() {
    let committee = fixtures::committee(1);
    let certified = committee.verify_one_correct_node_in_epoch(
        test_vectors::bls_13_signature(),
        test_vectors::bls_13_bitmap(),
        test_vectors::bls_13_message(),
    );
    assert_eq!(certified.stake_support(), 6);
}

#[test, expected_failure(abort_code = bls_aggregate::ESigVerification)]
fun claimed_signer_that_did_not_sign_aborts() {
    // Bitmap {1, 2, 3} (9 shards) for a signature by {1, 3}.
    let committee = fixtures::committee(1);
    committee.verify_quorum_in_epoch(
        test_vectors::bls_13_signature(),
        vector[0x0e],
        test_vectors::bls_13_message(),
    );
}

#[test, expected_failure(abort_code = bls_aggregate::EInvalidBitmap)]
fun long_bitmap_aborts() {
    let committee = fixtures::committee(1);
    committee.verify_quorum_in_epoch(
        test_vectors::bls_23_signature(),
        vector[0x0c, 0],
        test_vectors::bls_23_message(),
    );
}

#[test, expected_failure(abort_code = bls_aggregate::EInvalidBitmap)]
fun bit_past_the_members_aborts() {
    let committee = fixtures::committee(1);
    committee.verify_quorum_in_epoch(
        test_vectors::bls_23_signature(),
        vector[0x1c],
        test_vectors::bls_23_message(),
    );
}

#[test, expected_failure(abort_code = messages::EIncorrectEpoch)]
fun certificate_for_another_epoch_aborts() {
    // A valid certificate for epoch 2: the epoch is checked after the signature.
    let committee = fixtures::committee(1);
    committee.verify_quorum_in_epoch(
        test_vectors::bls_epoch2_23_signature(),
        test_vectors::bls_epoch2_23_bitmap(),
        test_vectors::bls_epoch2_23_message(),
    );
}

#[test, expected_failure(abort_code = bls_aggregate::ESigVerification)]
fun zero_signature_aborts() {
    let committee = fixtures::committee(1);
    committee.verify_quorum_in_epoch(
        repeat(0, 96),
        vector[0x0c],
        test_vectors::bls_epoch2_23_message(),
    );
}

#[test]
fun signers_of_a_bitmap() {
    let committee = fixtures::committee(1);
    assert_eq!(committee.signers(&vector[0x0d]), vector[0, 2, 3]);
    assert_eq!(committee.signers(&vector[0]), vector[]);
}

#[test, expected_failure(abort_code = 1, location = sui::group_ops)]
fun key_that_is_no_point_aborts() {
    // The twin aborts with `EInvalidCommittee`; Move cannot validate a G1 point without
    // aborting in `sui::group_ops` (`EInvalidInput`, 1): a documented difference.
    let member = bls_aggregate::new_bls_committee_member(
        repeat(0, 48),
        1,
        object::id_from_address(@0x0),
    );
    bls_aggregate::new_bls_committee(1, vector[member]);
}

#[test, expected_failure(abort_code = bls_aggregate::EInvalidCommittee)]
fun short_key_aborts() {
    let keys = test_vectors::public_keys();
    let mut key = keys[0];
    key.pop_back();
    let member = bls_aggregate::new_bls_committee_member(key, 1, object::id_from_address(@0x0));
    bls_aggregate::new_bls_committee(1, vector[member]);
}

#[test, expected_failure(abort_code = bls_aggregate::EInvalidCommittee)]
fun identity_key_aborts() {
    // The compressed point at infinity.
    let mut identity = vector[0xc0];
    identity.append(repeat(0, 47));
    let member = bls_aggregate::new_bls_committee_member(
        identity,
        1,
        object::id_from_address(@0x0),
    );
    bls_aggregate::new_bls_committee(1, vector[member]);
}

#[test, expected_failure(abort_code = bls_aggregate::EInvalidCommittee)]
fun weights_beyond_u16_abort() {
    let keys = test_vectors::public_keys();
    let a = bls_aggregate::new_bls_committee_member(keys[0], 40_000, object::id_from_address(@0x0));
    let b = bls_aggregate::new_bls_committee_member(keys[1], 40_000, object::id_from_address(@0x1));
    bls_aggregate::new_bls_committee(1, vector[a, b]);
}

#[test]
fun committee_bcs_layout() {
    let keys = test_vectors::public_keys();
    let node_id = object::id_from_address(
        @0x0606060606060606060606060606060606060606060606060606060606060606,
    );
    let member = bls_aggregate::new_bls_committee_member(keys[0], 3, node_id);
    let committee = bls_aggregate::new_bls_committee(2, vector[member]);
    // { members: [{ public_key (ULEB 48, 48 bytes), weight u16, node_id }], n_shards, epoch }.
    let mut expected = vector[1, 48];
    expected.append(keys[0]);
    expected.append(vector[3, 0]);
    expected.append(repeat(6, 32));
    expected.append(vector[3, 0, 2, 0, 0, 0]);
    assert_eq!(bcs::to_bytes(&committee), expected);
    let stored = &committee.members()[0];
    assert_eq!(stored.weight(), 3);
    assert_eq!(stored.node_id(), node_id);
    assert_eq!(*stored.public_key(), keys[0]);
}
