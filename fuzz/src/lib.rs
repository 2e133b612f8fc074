//! Fixed, valid context shared by the fuzz targets and the seed-corpus generator.
//!
//! Everything here is deterministic and built once per process (`OnceLock`), so a fuzz
//! iteration only pays for decoding and verifying its input.

use std::sync::OnceLock;

pub mod node_http;
pub mod seeds;

use walrus_core::{
    crypto::{Committee, CommitteeMember, ProtocolKeyPair},
    encoding::{
        encode_blob, expand_sliver_data, EncodedBlob, EncodingConfig, SliverData, SliverPair,
    },
    merkle::MerkleTree,
    metadata::{sliver_pair_index, BlobMetadata, BlobMetadataWithId, VerifiedBlobMetadataWithId},
    Epoch, SliverIndex, SliverType,
};

/// Shard count of the fixed blobs (n = 7, f = 2: primary slivers hold 5 symbols, secondary 3).
pub const N_SHARDS: u16 = 7;

/// The fixed blob: small (a handful of symbols per sliver), but not a multiple of the row
/// length, so the encoder pads it.
pub const BLOB: &[u8] = b"walrus-fuzz fixed blob: the quick brown fox jumps over the lazy dog; \
    Red Stuff encodes me into seven sliver pairs, and the fuzzer checks untrusted slivers, \
    symbols and proofs against my metadata.";

/// The primary sliver that the inconsistent fixture replaces with garbage.
pub const BAD_ROW: usize = 1;

/// Epoch of the fixed committee.
pub const EPOCH: Epoch = 5;

/// Shard weights of the fixed committee's members (10 shards in all: a quorum is 7 shards, the
/// validity threshold 4).
pub const WEIGHTS: [u16; 4] = [1, 2, 3, 4];

/// The encoding configuration of the fixed blobs.
pub fn config() -> &'static EncodingConfig {
    static CONFIG: OnceLock<EncodingConfig> = OnceLock::new();
    CONFIG.get_or_init(|| EncodingConfig::new(N_SHARDS).expect("7 shards is a valid shard count"))
}

/// [`BLOB`] encoded honestly: slivers and verified metadata.
pub fn consistent() -> &'static EncodedBlob {
    static BLOB_ENCODED: OnceLock<EncodedBlob> = OnceLock::new();
    BLOB_ENCODED.get_or_init(|| encode_blob(config(), BLOB).expect("the fixed blob encodes"))
}

/// [`BLOB`] encoded inconsistently: primary sliver [`BAD_ROW`] is replaced with garbage and
/// the metadata commit to the garbage, so every sliver verifies on its own but the axes
/// disagree (recovering that row yields a valid inconsistency proof).
pub fn inconsistent() -> &'static EncodedBlob {
    static BLOB_INCONSISTENT: OnceLock<EncodedBlob> = OnceLock::new();
    BLOB_INCONSISTENT.get_or_init(|| {
        let mut encoded = encode_blob(config(), BLOB).expect("the fixed blob encodes");
        let layout = *encoded.metadata.layout();
        let garbage: Vec<u8> = (0..layout.row_length())
            .map(|i| u8::try_from((i * 7 + 1) % 256).expect("reduced mod 256"))
            .collect();
        let expanded = expand_sliver_data(&layout, SliverType::Primary, &garbage)
            .expect("garbage of the right length expands");
        let root = MerkleTree::from_leaves(expanded.chunks_exact(layout.symbol_size())).root();
        let pair = &mut encoded.sliver_pairs[BAD_ROW];
        pair.primary = SliverData::from_data(garbage, layout.symbol_size, pair.primary.index)
            .expect("whole symbols");
        let mut v1 = encoded.metadata.metadata().v1().clone();
        v1.hashes[BAD_ROW].primary_hash = root;
        let metadata = BlobMetadata::V1(v1);
        let with_id = BlobMetadataWithId {
            blob_id: metadata.compute_blob_id(),
            metadata,
        };
        encoded.metadata = with_id.verify(config()).expect("re-hashed metadata verify");
        encoded
    })
}

/// Both fixtures' verified metadata, honest first.
pub fn all_metadata() -> [&'static VerifiedBlobMetadataWithId; 2] {
    [&consistent().metadata, &inconsistent().metadata]
}

/// The pair of the honest encoding that holds `index` on `axis`, if in range.
pub fn honest_pair(axis: SliverType, index: u16) -> Option<&'static SliverPair> {
    let pair = sliver_pair_index(axis, SliverIndex(index), N_SHARDS)?;
    consistent().sliver_pairs.get(pair.as_usize())
}

/// The fixed committee's key pairs (seeds `[101; 32]`, `[102; 32]`, ...).
pub fn keys() -> &'static [ProtocolKeyPair] {
    static KEYS: OnceLock<Vec<ProtocolKeyPair>> = OnceLock::new();
    KEYS.get_or_init(|| {
        (0..WEIGHTS.len())
            .map(|i| {
                let seed = 101 + u8::try_from(i).expect("few members");
                ProtocolKeyPair::from_seed([seed; 32])
            })
            .collect()
    })
}

/// The fixed committee: [`keys`] with [`WEIGHTS`] in epoch [`EPOCH`].
pub fn committee() -> &'static Committee {
    static COMMITTEE: OnceLock<Committee> = OnceLock::new();
    COMMITTEE.get_or_init(|| {
        let members = keys()
            .iter()
            .zip(WEIGHTS)
            .map(|(key, weight)| CommitteeMember {
                public_key: key.public().clone(),
                weight,
            })
            .collect();
        let n_shards = WEIGHTS.iter().sum();
        Committee::new(EPOCH, n_shards, members).expect("valid fixed committee")
    })
}

/// Leaves of the fixed Merkle tree (5 leaves: an odd count, so the tree has padding).
pub const MERKLE_LEAVES: [&[u8]; 5] = [b"leaf 0", b"leaf 1", b"", b"leaf 3", b"leaf four"];

/// The Merkle tree over [`MERKLE_LEAVES`].
pub fn merkle_tree() -> &'static MerkleTree {
    static TREE: OnceLock<MerkleTree> = OnceLock::new();
    TREE.get_or_init(|| MerkleTree::from_leaves(MERKLE_LEAVES.iter().copied()))
}

/// Builds every fixture (each fuzz target's start-up calls this through [`seeds::init`]).
pub fn warm_up() {
    let _ = (consistent(), inconsistent(), committee(), merkle_tree());
}
