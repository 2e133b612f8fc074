//! Twin of `walrus::redstuff`: the encoded length the system charges storage for.

use super::{ensure, Abort, MoveResult, ARITHMETIC_ERROR};

/// `EInvalidEncodingType`: only RS2 (1) is supported.
pub const E_INVALID_ENCODING_TYPE: Abort = Abort::new("redstuff", 0, "EInvalidEncodingType");

/// `EInvalidShardCount`: there must be at least one shard.
pub const E_INVALID_SHARD_COUNT: Abort = Abort::new("redstuff", 1, "EInvalidShardCount");

/// The RS2 encoding type.
pub const RS2: u8 = 1;

/// `encoded_blob_length`: `n * (n * 64 + 32) + n * (k_p + k_s) * symbol_size`, with
/// `symbol_size = ceil(max(size, 1) / (k_p * k_s))` rounded up to even. Computed in `u64` as
/// the Move code does (it cannot overflow for `n < 2^16` and any `u64` size that encodes).
pub fn encoded_blob_length(
    unencoded_length: u64,
    encoding_type: u8,
    n_shards: u16,
) -> MoveResult<u64> {
    ensure(encoding_type == RS2, E_INVALID_ENCODING_TYPE)?;
    ensure(n_shards > 0, E_INVALID_SHARD_COUNT)?;
    let n = u64::from(n_shards);
    let max_faulty = (n - 1) / 3;
    let primary = n - 2 * max_faulty;
    let secondary = n - max_faulty;
    let symbol_size = unencoded_length.max(1).div_ceil(primary * secondary);
    let symbol_size = symbol_size.div_ceil(2) * 2;
    let metadata = n * 64 + 32;
    // The only products that can overflow for a `u64` size: Move aborts there.
    (n * (primary + secondary))
        .checked_mul(symbol_size)
        .and_then(|slivers| slivers.checked_add(n * metadata))
        .ok_or(ARITHMETIC_ERROR)
}

#[cfg(test)]
mod tests {
    use super::*;
    use walrus_core::encoding::EncodingConfig;

    #[test]
    fn matches_the_encoder() {
        for n in [1u16, 4, 7, 10, 100, 1000] {
            let config = EncodingConfig::new(n).unwrap();
            for size in [0u64, 1, 2, 100, 65_537, 1_000_000] {
                if let Some(expected) = config.encoded_blob_length(size) {
                    assert_eq!(
                        encoded_blob_length(size, RS2, n),
                        Ok(expected),
                        "n={n} size={size}"
                    );
                }
            }
        }
        // A vector from the Walrus encoder: 1000 bytes on 10 shards.
        assert_eq!(encoded_blob_length(1000, RS2, 10), Ok(10_680));
    }

    #[test]
    fn other_encodings_abort() {
        assert_eq!(encoded_blob_length(1, 0, 10), Err(E_INVALID_ENCODING_TYPE));
        assert_eq!(encoded_blob_length(1, 2, 10), Err(E_INVALID_ENCODING_TYPE));
        assert_eq!(encoded_blob_length(1, RS2, 0), Err(E_INVALID_SHARD_COUNT));
        assert_eq!(
            encoded_blob_length(u64::MAX, RS2, 1000),
            Err(ARITHMETIC_ERROR)
        );
    }
}
