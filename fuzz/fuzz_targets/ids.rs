//! Untrusted identifiers and Merkle proofs: `BlobId`, `ObjectId` and `SliverType` from text (URL
//! path segments, CLI arguments, JSON), from BCS, and index mapping with untrusted values;
//! BCS `MerkleProof`, verified against a fixed tree.
//!
//! Input: the text (if UTF-8) and the BCS bytes are the whole input.

#![no_main]

use std::str::FromStr;

use libfuzzer_sys::fuzz_target;
use walrus_core::{
    merkle::{leaf_hash, tree_depth, MerkleProof, MerkleProofError, Node},
    metadata::sliver_pair_index,
    BlobId, ObjectId, SliverIndex, SliverPairIndex, SliverType,
};
use walrus_fuzz::{merkle_tree, MERKLE_LEAVES};

fn text(text: &str) {
    if let Ok(id) = BlobId::from_str(text) {
        // Unpadded base64 with no trailing bits: one text per ID (up to surrounding space).
        assert_eq!(
            id.to_string(),
            text.trim(),
            "non-canonical blob ID text accepted"
        );
        assert_eq!(id.to_string().parse::<BlobId>(), Ok(id));
    }
    if let Ok(id) = ObjectId::from_str(text) {
        assert_eq!(id.to_string().parse::<ObjectId>(), Ok(id));
    }
    if let Ok(axis) = SliverType::from_str(text) {
        assert_eq!(axis.as_str(), text);
        assert_eq!(axis.to_string().parse::<SliverType>(), Ok(axis));
    }
}

fn json(data: &[u8]) {
    if let Ok(id) = serde_json::from_slice::<BlobId>(data) {
        let json = serde_json::to_string(&id).expect("IDs serialize");
        assert_eq!(serde_json::from_str::<BlobId>(&json).ok(), Some(id));
    }
    if let Ok(id) = serde_json::from_slice::<ObjectId>(data) {
        let json = serde_json::to_string(&id).expect("IDs serialize");
        assert_eq!(serde_json::from_str::<ObjectId>(&json).ok(), Some(id));
    }
    let _ = serde_json::from_slice::<SliverType>(data);
}

/// Index arithmetic with untrusted shard counts and indices (`n_shards`, blob ID, index).
fn indices(data: &[u8]) {
    let Some((n_shards, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let Some((id, rest)) = rest.split_first_chunk::<32>() else {
        return;
    };
    let Some((index, _)) = rest.split_first_chunk::<2>() else {
        return;
    };
    let n_shards = u16::from_le_bytes(*n_shards);
    let index = u16::from_le_bytes(*index);
    let blob_id = BlobId(*id);
    if n_shards == 0 {
        return;
    }
    let offset = blob_id.rotation_offset(n_shards);
    assert!(offset < n_shards);
    for axis in [SliverType::Primary, SliverType::Secondary] {
        let pair = sliver_pair_index(axis, SliverIndex(index), n_shards);
        assert_eq!(pair.is_some(), index < n_shards);
    }
    if index < n_shards {
        let pair = SliverPairIndex(index);
        let shard = pair.to_shard_index(n_shards, &blob_id);
        assert!(shard.get() < n_shards);
        assert_eq!(shard.to_pair_index(n_shards, &blob_id), pair);
        let secondary = pair
            .secondary_sliver_index(n_shards)
            .expect("in-range pair has a secondary sliver");
        assert_eq!(
            sliver_pair_index(SliverType::Secondary, secondary, n_shards),
            Some(pair)
        );
        assert_eq!(pair.primary_sliver_index(), SliverIndex(index));
    } else {
        assert_eq!(
            SliverPairIndex(index).secondary_sliver_index(n_shards),
            None
        );
    }
}

fn merkle(data: &[u8]) {
    let Ok(proof) = bcs::from_bytes::<MerkleProof>(data) else {
        return;
    };
    let tree = merkle_tree();
    let root = tree.root();
    let count = tree.leaf_count();
    assert_eq!(count, MERKLE_LEAVES.len());
    for index in 0..count + 2 {
        let leaf = MERKLE_LEAVES.get(index).copied().unwrap_or(b"no such leaf");
        match proof.verify(&root, leaf, index, count) {
            Ok(()) => {
                assert!(index < count);
                assert_eq!(proof.path.len(), tree_depth(count));
                assert_eq!(
                    Node::Digest(proof.compute_root(leaf_hash(leaf), index)),
                    root
                );
                // The proof is for this leaf only.
                assert_eq!(
                    proof.verify(&root, b"not a leaf of the tree", index, count),
                    Err(MerkleProofError::RootMismatch),
                    "a Merkle proof verified two different leaves"
                );
            }
            Err(MerkleProofError::IndexOutOfRange { .. }) => assert!(index >= count),
            Err(_) => {}
        }
        // The honest proof always verifies.
        if index < count {
            let honest = tree.proof(index).expect("in-range proof");
            assert_eq!(honest.verify(&root, leaf, index, count), Ok(()));
        }
    }
    // Untrusted indices must not panic (leaf counts come from the trusted configuration).
    let _ = proof.compute_root(leaf_hash(data), usize::MAX);
    let _ = proof.verify(&root, data, usize::from(u16::MAX), count);
    let _ = proof.verify(&root, data, 0, 1);
}

fuzz_target!(init: walrus_fuzz::seeds::init("ids"), |data: &[u8]| {
    if let Ok(text_input) = std::str::from_utf8(data) {
        text(text_input);
    }
    json(data);
    indices(data);
    if let Ok(id) = bcs::from_bytes::<BlobId>(data) {
        assert_eq!(bcs::to_bytes(&id).expect("IDs encode"), data);
    }
    let _ = bcs::from_bytes::<ObjectId>(data);
    let _ = bcs::from_bytes::<SliverType>(data);
    merkle(data);
});
