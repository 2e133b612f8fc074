// Cases of `chain/src/contract/blob.rs`'s unit tests, and every abort of `blob`.
#[test_only]
module walrus::blob_tests;

use std::unit_test::assert_eq;
use sui::bcs;
use walrus::{blob::{Self, Blob}, redstuff, storage_resource, test_vectors};

#[test]
fun derived_blob_ids_match_the_encoder() {
    // Blob IDs and root hashes computed by the Rust RS2 encoder (10 shards).
    assert_eq!(
        blob::derive_blob_id(test_vectors::hello_root_hash(), 1, test_vectors::hello_size()),
        test_vectors::hello_blob_id(),
    );
    assert_eq!(
        blob::derive_blob_id(
            test_vectors::certify_me_root_hash(),
            1,
            test_vectors::certify_me_size(),
        ),
        test_vectors::certify_me_blob_id(),
    );
    assert_eq!(
        blob::derive_blob_id(
            test_vectors::uncertified_root_hash(),
            1,
            test_vectors::uncertified_size(),
        ),
        test_vectors::uncertified_blob_id(),
    );
}

#[test, expected_failure(abort_code = redstuff::EInvalidEncodingType)]
fun derive_with_another_encoding_aborts() {
    blob::derive_blob_id(test_vectors::hello_root_hash(), 0, test_vectors::hello_size());
}

/// The twin test's blob: registered in epoch 2, blob ID with every byte 3, 4 bytes, RS2,
/// certified in epoch 5, storage of 8 bytes for [2, 7), deletable.
fun test_blob(ctx: &mut TxContext): Blob {
    let storage = storage_resource::create_storage(2, 7, 8, ctx);
    let mut value = blob::new(
        2,
        0x0303030303030303030303030303030303030303030303030303030303030303,
        4,
        1,
        storage,
        true,
        ctx,
    );
    value.set_certified_epoch(5);
    value
}

#[test]
fun layout_and_attributes() {
    let mut ctx = tx_context::dummy();
    let mut value = test_blob(&mut ctx);
    let bytes = bcs::to_bytes(&value);
    assert_eq!(bytes.length(), 32 + 4 + 32 + 8 + 1 + 5 + (32 + 4 + 4 + 8) + 1 + 1);
    // encoding_type 1, then Some(5u32).
    let mut i = 76;
    let expected = vector[1, 1, 5, 0, 0, 0];
    while (i < 82) {
        assert_eq!(bytes[i], expected[i - 76]);
        i = i + 1;
    };
    assert_eq!(value.end_epoch(), 7);
    assert!(value.is_certified());
    assert_eq!(value.encoded_size(10), redstuff::encoded_blob_length(4, 1, 10));

    value.add_or_replace_attribute(b"content-type".to_string(), b"text/html".to_string());
    value.add_or_replace_attribute(b"name".to_string(), b"index".to_string());
    value.add_or_replace_attribute(b"content-type".to_string(), b"text/plain".to_string());
    // Replaced in place: the order of the map is kept.
    let (keys, values) = (*value.attributes()).into_keys_values();
    assert_eq!(keys, vector[b"content-type".to_string(), b"name".to_string()]);
    assert_eq!(values, vector[b"text/plain".to_string(), b"index".to_string()]);
    value.remove_attribute(&b"content-type".to_string());
    assert_eq!(value.attributes().size(), 1);
    value.burn(7);
}

#[test, expected_failure(abort_code = blob::EAttributeNotFound)]
fun removing_a_missing_attribute_aborts() {
    let mut ctx = tx_context::dummy();
    let mut value = test_blob(&mut ctx);
    value.remove_attribute(&b"content-type".to_string());
    value.burn(7);
}

#[test, expected_failure(abort_code = blob::EBlobNotExpired)]
fun burning_a_stored_blob_aborts() {
    let mut ctx = tx_context::dummy();
    let value = test_blob(&mut ctx);
    value.burn(6);
}
