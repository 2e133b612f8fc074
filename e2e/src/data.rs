//! Test data: deterministic bytes, honest and doctored encodings, files.

use std::path::{Path, PathBuf};

use anyhow::Context;
use walrus_core::{
    encoding::{encode_blob, EncodedBlob, EncodingAxis, EncodingConfig, SliverData},
    metadata::{BlobMetadata, BlobMetadataV1, BlobMetadataWithId},
    SliverPairIndex,
};

/// Deterministic pseudo-random bytes (xorshift).
pub fn test_data(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut data = Vec::with_capacity(len);
    while data.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let take = (len - data.len()).min(8);
        data.extend_from_slice(&state.to_le_bytes()[..take]);
    }
    data
}

/// The honest encoding of `data` for `n_shards` shards (what every node must hold).
pub fn encode(data: &[u8], n_shards: u16) -> EncodedBlob {
    let config = EncodingConfig::new(n_shards).expect("a valid shard count");
    encode_blob(&config, data).expect("an encodable blob")
}

/// `sliver` with byte `at` (modulo its length) of its data flipped.
pub fn flip_byte<T: EncodingAxis>(sliver: &SliverData<T>, at: usize) -> SliverData<T> {
    let mut data = sliver.symbols.data().to_vec();
    let at = at % data.len();
    data[at] ^= 0x01;
    SliverData::from_data(data, sliver.symbols.symbol_size(), sliver.index).expect("same shape")
}

/// Encodes `data` for `n_shards` shards, then flips a byte of the primary sliver of pair
/// `doctored` and commits to the doctored sliver in the metadata: every sliver matches the
/// metadata, but the slivers are not one encoding (a faulty writer's blob; store it with
/// `WalrusSdk::store_encoded`). Only the holder of that pair can tell for certain: recovering
/// its primary sliver from the (honest) secondary slivers yields the undoctored sliver, which
/// does not match the metadata.
pub fn inconsistent_encoding(
    data: Vec<u8>,
    n_shards: u16,
    doctored: SliverPairIndex,
) -> EncodedBlob {
    let config = EncodingConfig::new(n_shards).expect("a valid shard count");
    let mut encoded = encode_blob(&config, &data).expect("an encodable blob");
    let layout = *encoded.metadata.layout();
    let index = usize::from(doctored.0);
    let pair = &mut encoded.sliver_pairs[index];
    pair.primary = flip_byte(&pair.primary, 0);
    let mut hashes = encoded.metadata.metadata().hashes().to_vec();
    hashes[index].primary_hash = pair.primary.root(&layout).expect("a root");
    let metadata = BlobMetadata::V1(BlobMetadataV1 {
        encoding_type: encoded.metadata.metadata().encoding_type(),
        unencoded_length: data.len() as u64,
        hashes,
    });
    encoded.metadata = BlobMetadataWithId {
        blob_id: metadata.compute_blob_id(),
        metadata,
    }
    .verify(&config)
    .expect("metadata that match the doctored slivers");
    encoded
}

/// Writes `data` to `dir/name` and returns the path.
pub fn write_file(dir: &Path, name: &str, data: &[u8]) -> anyhow::Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, data).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}
