// Rust twin: chain/src/contract/redstuff.rs

/// The encoded length the system charges storage for (RS2 only).
module walrus::redstuff;

// === Errors (codes = position, as the twin's `Abort::new("redstuff", code, name)`) ===

/// Only RS2 (1) is supported.
const EInvalidEncodingType: u64 = 0;
/// There must be at least one shard.
const EInvalidShardCount: u64 = 1;

/// The RS2 encoding type.
const RS2: u8 = 1;

/// `n * (n * 64 + 32) + n * (k_p + k_s) * symbol_size`, with `k_p = n - 2f`, `k_s = n - f`,
/// `f = (n - 1) / 3` and `symbol_size = ceil(max(size, 1) / (k_p * k_s))` rounded up to even:
/// the metadata (a primary and a secondary hash per pair and the blob's root, per shard) plus
/// the primary and secondary slivers of every shard.
public fun encoded_blob_length(unencoded_length: u64, encoding_type: u8, n_shards: u16): u64 {
    assert!(encoding_type == RS2, EInvalidEncodingType);
    assert!(n_shards > 0, EInvalidShardCount);
    let n = (n_shards as u64);
    let max_faulty = (n - 1) / 3;
    let primary = n - 2 * max_faulty;
    let secondary = n - max_faulty;
    let size = if (unencoded_length > 1) unencoded_length else 1;
    let symbol_size = div_ceil(size, primary * secondary);
    let symbol_size = div_ceil(symbol_size, 2) * 2;
    let metadata = n * 64 + 32;
    n * metadata + n * (primary + secondary) * symbol_size
}

/// Aborts with `EInvalidEncodingType` unless `encoding_type` is RS2. `blob::derive_blob_id`
/// checks the encoding type with this module's error (the twin: `ensure(encoding_type ==
/// redstuff::RS2, redstuff::E_INVALID_ENCODING_TYPE)` in `blob.rs`; Move constants are private
/// to their module).
public(package) fun assert_encoding_type(encoding_type: u8) {
    assert!(encoding_type == RS2, EInvalidEncodingType);
}

/// `ceil(a / b)` without overflow.
fun div_ceil(a: u64, b: u64): u64 {
    if (a % b == 0) a / b else a / b + 1
}
