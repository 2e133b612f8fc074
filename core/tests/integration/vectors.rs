//! Reproduces every vector of the public Walrus encoder (`data/blob_ids.json`, a copy of
//! `shared/vectors/blob_ids.json`): blob ID, root hash, symbol size, encoded length, sliver
//! bytes and hashes; and refuses the blobs it lists as too large.

use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use walrus_core::{
    encoding::{decode_and_verify, encode_blob, EncodingConfig, Primary, Secondary},
    metadata::node_digest,
    EncodeError,
};

#[derive(Deserialize)]
struct Vectors {
    vectors: Vec<Vector>,
    rejected: Vec<Rejected>,
}

#[derive(Deserialize)]
struct Vector {
    len: usize,
    n_shards: u16,
    blob_id: String,
    blob_id_hex: String,
    root_hash_hex: String,
    unencoded_length: u64,
    primary_source_symbols: usize,
    secondary_source_symbols: usize,
    symbol_size: u16,
    primary_sliver_len: usize,
    secondary_sliver_len: usize,
    encoded_slivers_length: u64,
    encoded_length: u64,
    sha256_primary_slivers: String,
    sha256_secondary_slivers: String,
    sliver_pair_hashes_sha256: String,
    #[serde(default)]
    sliver_pairs: Vec<PairVector>,
}

#[derive(Deserialize)]
struct PairVector {
    pair_index: usize,
    primary: SliverVector,
    secondary: SliverVector,
    primary_hash_hex: String,
    secondary_hash_hex: String,
}

#[derive(Deserialize)]
struct SliverVector {
    index: u16,
    data_hex: String,
}

#[derive(Deserialize)]
struct Rejected {
    len: usize,
    n_shards: u16,
    max_blob_size: u64,
}

fn load() -> Vectors {
    serde_json::from_str(include_str!("../data/blob_ids.json")).expect("vectors parse")
}

/// The generator of the vectors: byte i = (i * 31 + 7) mod 256.
fn input(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| u8::try_from((i * 31 + 7) % 256).expect("a value mod 256 fits in u8"))
        .collect()
}

#[test]
fn every_vector_is_reproduced() {
    let vectors = load();
    assert!(vectors.vectors.len() >= 20);
    for vector in &vectors.vectors {
        let context = format!("len {} n_shards {}", vector.len, vector.n_shards);
        let config = EncodingConfig::new(vector.n_shards).unwrap();
        assert_eq!(
            config.n_primary_source_symbols(),
            vector.primary_source_symbols
        );
        assert_eq!(
            config.n_secondary_source_symbols(),
            vector.secondary_source_symbols
        );
        let blob = input(vector.len);
        let encoded = encode_blob(&config, &blob).unwrap();
        let metadata = &encoded.metadata;
        let layout = metadata.layout();

        assert_eq!(metadata.blob_id().to_string(), vector.blob_id, "{context}");
        assert_eq!(
            hex::encode(metadata.blob_id().0),
            vector.blob_id_hex,
            "{context}"
        );
        assert_eq!(
            hex::encode(node_digest(&metadata.root_hash()).unwrap()),
            vector.root_hash_hex,
            "{context}"
        );
        assert_eq!(
            metadata.metadata().unencoded_length(),
            vector.unencoded_length
        );
        assert_eq!(layout.symbol_size, vector.symbol_size, "{context}");
        assert_eq!(layout.row_length(), vector.primary_sliver_len, "{context}");
        assert_eq!(
            layout.sliver_length(walrus_core::SliverType::Secondary),
            vector.secondary_sliver_len
        );
        assert_eq!(
            layout.encoded_slivers_length(),
            vector.encoded_slivers_length
        );
        assert_eq!(layout.encoded_length(), vector.encoded_length, "{context}");
        assert_eq!(
            config.encoded_blob_length(vector.unencoded_length),
            Some(vector.encoded_length)
        );

        let mut primary_digest = Sha256::new();
        let mut secondary_digest = Sha256::new();
        let mut pair_hash_digest = Sha256::new();
        for (pair, hashes) in encoded
            .sliver_pairs
            .iter()
            .zip(metadata.metadata().hashes())
        {
            primary_digest.update(pair.primary.symbols.data());
            secondary_digest.update(pair.secondary.symbols.data());
            pair_hash_digest.update(hashes.primary_hash.bytes());
            pair_hash_digest.update(hashes.secondary_hash.bytes());
        }
        assert_eq!(
            hex::encode(primary_digest.finalize()),
            vector.sha256_primary_slivers,
            "{context}"
        );
        assert_eq!(
            hex::encode(secondary_digest.finalize()),
            vector.sha256_secondary_slivers,
            "{context}"
        );
        assert_eq!(
            hex::encode(pair_hash_digest.finalize()),
            vector.sliver_pair_hashes_sha256,
            "{context}"
        );

        for expected in &vector.sliver_pairs {
            let pair = &encoded.sliver_pairs[expected.pair_index];
            let hashes = &metadata.metadata().hashes()[expected.pair_index];
            assert_eq!(pair.primary.index.get(), expected.primary.index);
            assert_eq!(pair.secondary.index.get(), expected.secondary.index);
            assert_eq!(
                hex::encode(pair.primary.symbols.data()),
                expected.primary.data_hex
            );
            assert_eq!(
                hex::encode(pair.secondary.symbols.data()),
                expected.secondary.data_hex
            );
            assert_eq!(
                hex::encode(hashes.primary_hash.bytes()),
                expected.primary_hash_hex
            );
            assert_eq!(
                hex::encode(hashes.secondary_hash.bytes()),
                expected.secondary_hash_hex
            );
        }

        // Every sliver verifies against the metadata, and the blob decodes back from either axis.
        for pair in &encoded.sliver_pairs {
            pair.primary.verify(metadata).unwrap();
            pair.secondary.verify(metadata).unwrap();
        }
        let primaries = encoded.sliver_pairs.iter().rev().map(|p| p.primary.clone());
        let decoded = decode_and_verify::<Primary, _>(
            &config,
            metadata.blob_id(),
            vector.unencoded_length,
            primaries,
        )
        .unwrap();
        assert_eq!(decoded, blob, "{context}");
        let secondaries = encoded.sliver_pairs.iter().map(|p| p.secondary.clone());
        let decoded = decode_and_verify::<Secondary, _>(
            &config,
            metadata.blob_id(),
            vector.unencoded_length,
            secondaries,
        )
        .unwrap();
        assert_eq!(decoded, blob, "{context}");
    }
}

#[test]
fn oversized_blobs_are_refused() {
    let vectors = load();
    assert!(!vectors.rejected.is_empty());
    for rejected in &vectors.rejected {
        let config = EncodingConfig::new(rejected.n_shards).unwrap();
        assert_eq!(config.max_blob_size(), rejected.max_blob_size);
        let error = encode_blob(&config, &input(rejected.len)).unwrap_err();
        assert!(matches!(error, EncodeError::DataTooLarge { .. }), "{error}");
        assert!(error
            .to_string()
            .contains("the data is too large to be encoded/decoded"));
        assert!(config.encoded_blob_length(rejected.len as u64).is_none());
    }
}
