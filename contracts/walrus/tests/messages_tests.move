// Cases of `chain/src/contract/messages.rs`'s unit tests, and every abort of `messages`.
#[test_only]
module walrus::messages_tests;

use std::unit_test::assert_eq;
use sui::bcs;
use walrus::{messages, test_vectors};

/// A message header: intent type, intent version, app id, epoch (u32 LE).
fun header(intent: u8, version: u8, app: u8, epoch: u32): vector<u8> {
    let mut bytes = vector[intent, version, app];
    bytes.append(bcs::to_bytes(&epoch));
    bytes
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

#[test]
fun parses_a_core_confirmation() {
    // Confirmation::for_blob(5, BlobId([7; 32]), Deletable { object_id: [9; 32] }), BCS by
    // walrus-core.
    let certified = messages::new_certified_message(test_vectors::core_confirmation(), 5, 10);
    assert_eq!(certified.intent_type(), 1);
    assert_eq!(certified.intent_version(), 0);
    assert_eq!(certified.cert_epoch(), 5);
    assert_eq!(certified.stake_support(), 10);
    let parsed = messages::certify_blob_message(certified);
    assert_eq!(
        parsed.blob_id(),
        0x0707070707070707070707070707070707070707070707070707070707070707,
    );
    assert_eq!(
        parsed.blob_persistence_type(),
        messages::deletable(
            object::id_from_address(
                @0x0909090909090909090909090909090909090909090909090909090909090909,
            ),
        ),
    );
}

#[test]
fun permanent_body_with_trailing_bytes() {
    let mut bytes = header(1, 0, 3, 5);
    // A blob ID whose first (least significant) byte is 1.
    let mut blob_id = vector[1];
    blob_id.append(repeat(0, 31));
    bytes.append(blob_id);
    bytes.push_back(0);
    bytes.append(b"trailing bytes are allowed");
    let parsed = messages::certify_blob_message(messages::new_certified_message(bytes, 5, 1));
    assert_eq!(parsed.blob_id(), 1);
    assert_eq!(parsed.blob_persistence_type(), messages::permanent());
}

#[test, expected_failure(abort_code = messages::EIncorrectAppId)]
fun wrong_app_id_aborts() {
    messages::new_certified_message(header(1, 0, 2, 5), 5, 1);
}

#[test, expected_failure(abort_code = messages::EIncorrectAppId)]
fun app_id_is_checked_first() {
    // Wrong app id, epoch and version: the app id is checked first.
    messages::new_certified_message(header(1, 1, 2, 4), 5, 1);
}

#[test, expected_failure(abort_code = messages::EIncorrectEpoch)]
fun wrong_epoch_aborts() {
    messages::new_certified_message(header(1, 0, 3, 4), 5, 1);
}

#[test, expected_failure(abort_code = messages::EIncorrectEpoch)]
fun epoch_is_checked_before_the_version() {
    messages::new_certified_message(header(1, 1, 3, 4), 5, 1);
}

#[test, expected_failure(abort_code = messages::EIncorrectIntentVersion)]
fun wrong_intent_version_aborts() {
    messages::new_certified_message(header(1, 1, 3, 5), 5, 1);
}

#[test, expected_failure(abort_code = messages::EMalformedMessage)]
fun short_header_aborts() {
    messages::new_certified_message(vector[1, 0, 3], 5, 1);
}

#[test, expected_failure(abort_code = messages::EInvalidMsgType)]
fun invalid_blob_message_is_no_confirmation() {
    let message = messages::new_certified_message(header(2, 0, 3, 5), 5, 1);
    messages::certify_blob_message(message);
}

#[test, expected_failure(abort_code = messages::EMalformedMessage)]
fun empty_confirmation_body_aborts() {
    let message = messages::new_certified_message(header(1, 0, 3, 5), 5, 1);
    messages::certify_blob_message(message);
}

#[test, expected_failure(abort_code = messages::EMalformedMessage)]
fun confirmation_without_persistence_type_aborts() {
    let mut bytes = header(1, 0, 3, 5);
    bytes.append(repeat(4, 32));
    messages::certify_blob_message(messages::new_certified_message(bytes, 5, 1));
}

#[test, expected_failure(abort_code = messages::EMalformedMessage)]
fun unknown_persistence_type_aborts() {
    let mut bytes = header(1, 0, 3, 5);
    bytes.append(repeat(4, 32));
    bytes.push_back(2);
    messages::certify_blob_message(messages::new_certified_message(bytes, 5, 1));
}

#[test, expected_failure(abort_code = messages::EMalformedMessage)]
fun deletable_without_object_id_aborts() {
    let mut bytes = header(1, 0, 3, 5);
    bytes.append(repeat(4, 32));
    bytes.push_back(1);
    bytes.append(repeat(9, 31));
    messages::certify_blob_message(messages::new_certified_message(bytes, 5, 1));
}

#[test]
fun invalid_blob_id_body() {
    let mut bytes = header(2, 0, 3, 1);
    bytes.append(repeat(4, 32));
    let message = messages::new_certified_message(bytes, 1, 4);
    assert_eq!(
        messages::invalid_blob_id_message(message).invalid_blob_id(),
        0x0404040404040404040404040404040404040404040404040404040404040404,
    );
}

#[test, expected_failure(abort_code = messages::EInvalidMsgType)]
fun confirmation_is_no_invalid_blob_message() {
    let mut bytes = header(1, 0, 3, 1);
    bytes.append(repeat(4, 32));
    messages::invalid_blob_id_message(messages::new_certified_message(bytes, 1, 4));
}

#[test, expected_failure(abort_code = messages::EMalformedMessage)]
fun short_invalid_blob_body_aborts() {
    let mut bytes = header(2, 0, 3, 1);
    bytes.append(repeat(4, 31));
    messages::invalid_blob_id_message(messages::new_certified_message(bytes, 1, 4));
}

#[test]
fun proof_of_possession_layout_matches_core() {
    let public_key = test_vectors::pop_public_key();
    assert_eq!(
        messages::proof_of_possession_bytes(4, test_vectors::pop_address(), &public_key),
        test_vectors::pop_message(),
    );
}

#[test]
fun proof_of_possession_verifies() {
    // The key of seed [3; 32] signed the proof for address [8; 32] in epoch 4 (walrus-core).
    let public_key = test_vectors::pop_public_key();
    let signature = test_vectors::pop_signature();
    let sui_address = test_vectors::pop_address();
    assert!(messages::verify_proof_of_possession(4, sui_address, &public_key, &signature));
    // Another epoch, another address, another key: no proof.
    assert!(!messages::verify_proof_of_possession(5, sui_address, &public_key, &signature));
    assert!(!messages::verify_proof_of_possession(4, @0xA, &public_key, &signature));
    let keys = test_vectors::public_keys();
    let other_key = keys[0];
    assert!(!messages::verify_proof_of_possession(4, sui_address, &other_key, &signature));
}
