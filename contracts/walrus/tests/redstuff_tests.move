// Cases of `chain/src/contract/redstuff.rs`'s unit tests.
#[test_only]
module walrus::redstuff_tests;

use std::unit_test::assert_eq;
use walrus::{redstuff, test_vectors};

#[test]
fun matches_the_encoder() {
    // [n_shards, size, encoded length] computed by the Rust RS2 encoder.
    let rows = test_vectors::encoded_lengths();
    let mut i = 0;
    while (i < rows.length()) {
        let row = &rows[i];
        assert_eq!(redstuff::encoded_blob_length(row[1], 1, (row[0] as u16)), row[2]);
        i = i + 1;
    };
    // A vector from the Walrus encoder: 1000 bytes on 10 shards.
    assert_eq!(redstuff::encoded_blob_length(1000, 1, 10), 10_680);
}

#[test, expected_failure(abort_code = redstuff::EInvalidEncodingType)]
fun encoding_type_zero_aborts() {
    redstuff::encoded_blob_length(1, 0, 10);
}

#[test, expected_failure(abort_code = redstuff::EInvalidEncodingType)]
fun encoding_type_two_aborts() {
    redstuff::encoded_blob_length(1, 2, 10);
}

#[test, expected_failure(abort_code = redstuff::EInvalidShardCount)]
fun zero_shards_abort() {
    redstuff::encoded_blob_length(1, 1, 0);
}
