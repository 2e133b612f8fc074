//! Blake2b-256 Merkle trees as Walrus builds them, with multi-buffer hashing.
//!
//! Leaf hash `H(0x00 || leaf)`, inner hash `H(0x01 || left || right)`; a level with an odd
//! number of nodes is padded with the empty node (32 zero bytes, not hashed). Hashing runs
//! through `blake2b_simd::many`, which hashes up to four (AVX2) independent inputs at once:
//! the trees here have thousands of tiny leaves, where a one-at-a-time hasher is the bottleneck.

use std::sync::OnceLock;

use blake2b_simd::{
    many::{hash_many, update_many, HashManyJob},
    Params,
};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A 32-byte digest.
pub type Digest = [u8; 32];

const LEAF_PREFIX: u8 = 0x00;
const INNER_PREFIX: u8 = 0x01;

/// The most inputs hashed in one `hash_many` call.
const HASH_BATCH: usize = 512;

/// The most bytes copied into the scratch buffer for one `hash_many` call: large leaves are
/// hashed a few at a time, which is all the 4-way SIMD hasher needs, and keeps scratch small.
const HASH_BATCH_BYTES: usize = 256 * 1024;

/// Leaves at least this long are hashed in place with `update_many` instead of being copied
/// behind their prefix byte: the copy would cost more than the one unaligned block it saves.
const LARGE_LEAF_BYTES: usize = 2048;

/// Inputs hashed in parallel by the widest `blake2b_simd` kernel (AVX2).
const SIMD_DEGREE: usize = 4;

fn blake2b256_params() -> &'static Params {
    static PARAMS: OnceLock<Params> = OnceLock::new();
    PARAMS.get_or_init(|| {
        let mut params = Params::new();
        params.hash_length(32);
        params
    })
}

/// Blake2b-256 of `data` (the hash Walrus uses everywhere).
pub fn blake2b256(data: &[u8]) -> Digest {
    to_digest(blake2b256_params().hash(data))
}

fn to_digest(hash: blake2b_simd::Hash) -> Digest {
    let mut digest = [0u8; 32];
    digest.copy_from_slice(hash.as_bytes());
    digest
}

/// A node of a Merkle tree: either a digest or the empty padding node.
///
/// BCS: enum, `Empty` = tag 0, `Digest` = tag 1 followed by 32 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Node {
    /// The empty node: pads odd levels; its bytes are 32 zeros.
    Empty,
    /// A 32-byte digest.
    Digest(#[serde(with = "digest_words")] Digest),
}

/// Serde of a 32-byte digest with the bytes serde derives for `[u8; 32]` (a tuple of 32 bytes,
/// no length), written and read as four little-endian `u64` words in binary formats: the same
/// bytes in BCS, in four calls instead of 32 (proofs and metadata are mostly digests). Human
/// readable formats get the derived form.
mod digest_words {
    use serde::{
        de::{Error, SeqAccess, Visitor},
        ser::SerializeTuple,
        Deserialize, Deserializer, Serialize, Serializer,
    };

    use super::Digest;

    pub(super) fn serialize<S: Serializer>(
        digest: &Digest,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            return digest.serialize(serializer);
        }
        let mut words = serializer.serialize_tuple(4)?;
        for chunk in digest.chunks_exact(8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            words.serialize_element(&u64::from_le_bytes(word))?;
        }
        words.end()
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Digest, D::Error> {
        if deserializer.is_human_readable() {
            return Digest::deserialize(deserializer);
        }
        deserializer.deserialize_tuple(4, Words)
    }

    struct Words;

    impl<'de> Visitor<'de> for Words {
        type Value = Digest;

        fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
            formatter.write_str("32 bytes as four little-endian u64 words")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut words: A) -> Result<Digest, A::Error> {
            let mut digest = [0u8; 32];
            for (number, chunk) in digest.chunks_exact_mut(8).enumerate() {
                let word: u64 = words
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(number, &self))?;
                chunk.copy_from_slice(&word.to_le_bytes());
            }
            Ok(digest)
        }
    }
}

impl Node {
    /// The 32 bytes that enter a parent hash.
    pub fn bytes(&self) -> Digest {
        match self {
            Node::Empty => [0; 32],
            Node::Digest(digest) => *digest,
        }
    }
}

impl From<Digest> for Node {
    fn from(digest: Digest) -> Self {
        Node::Digest(digest)
    }
}

/// Hash of one leaf, `H(0x00 || leaf)`.
pub fn leaf_hash(leaf: &[u8]) -> Digest {
    let mut state = blake2b256_params().to_state();
    state.update(&[LEAF_PREFIX]).update(leaf);
    to_digest(state.finalize())
}

fn inner_hash(left: &Digest, right: &Digest) -> Digest {
    let mut input = [0u8; 65];
    input[0] = INNER_PREFIX;
    input[1..33].copy_from_slice(left);
    input[33..].copy_from_slice(right);
    blake2b256(&input)
}

/// Hashes the leaves `0x00 || leaf` of many leaves at once (multi-buffer), writing one digest
/// per leaf into `out` (which must have exactly one slot per leaf). `scratch` is reused memory.
pub fn hash_leaves_into<'a>(
    leaves: impl Iterator<Item = &'a [u8]>,
    scratch: &mut Vec<u8>,
    out: &mut [Digest],
) {
    if crate::blake2b_many::avx512_available() {
        // Eight leaves at a time straight from their memory, prefix included by the kernel.
        let leaves: Vec<&[u8]> = leaves.collect();
        if leaves.windows(2).all(|pair| pair[0].len() == pair[1].len()) {
            crate::blake2b_many::hash_prefixed_leaves(LEAF_PREFIX, &leaves, out);
        } else {
            hash_leaves_portable(leaves.into_iter(), scratch, out);
        }
        return;
    }
    hash_leaves_portable(leaves, scratch, out);
}

/// [`hash_leaves_into`] with `blake2b_simd` (AVX2, four at a time).
fn hash_leaves_portable<'a>(
    leaves: impl Iterator<Item = &'a [u8]>,
    scratch: &mut Vec<u8>,
    out: &mut [Digest],
) {
    let params = blake2b256_params();
    let mut leaves = leaves.peekable();
    let mut bounds = Vec::with_capacity(HASH_BATCH);
    let mut written = 0;
    if leaves
        .peek()
        .is_some_and(|leaf| leaf.len() >= LARGE_LEAF_BYTES)
    {
        // Large leaves: hash in place, SIMD_DEGREE states at a time (no copy for the prefix).
        let mut group: Vec<&[u8]> = Vec::with_capacity(SIMD_DEGREE);
        while leaves.peek().is_some() {
            group.clear();
            group.extend(leaves.by_ref().take(SIMD_DEGREE));
            let mut states: Vec<blake2b_simd::State> = group
                .iter()
                .map(|_| {
                    let mut state = params.to_state();
                    state.update(&[LEAF_PREFIX]);
                    state
                })
                .collect();
            update_many(states.iter_mut().zip(group.iter()));
            for (slot, state) in out[written..].iter_mut().zip(&states) {
                *slot = to_digest(state.finalize());
            }
            written += states.len();
        }
        debug_assert_eq!(written, out.len());
        return;
    }
    let at_most = leaves.size_hint().1.unwrap_or(HASH_BATCH).min(HASH_BATCH);
    if let Some(leaf) = leaves.peek() {
        // Room for a whole batch up front: growing by doubling would copy it again and again.
        let batch =
            (HASH_BATCH_BYTES + SIMD_DEGREE * (leaf.len() + 1)).min(at_most * (leaf.len() + 1));
        scratch.reserve(batch);
    }
    while leaves.peek().is_some() {
        scratch.clear();
        bounds.clear();
        // Whole groups of the SIMD degree, so that no lane is hashed alone mid-stream.
        while let Some(leaf) = leaves.next_if(|_| {
            bounds.len() < HASH_BATCH
                && (bounds.len() % SIMD_DEGREE != 0 || scratch.len() < HASH_BATCH_BYTES)
        }) {
            let start = scratch.len();
            scratch.push(LEAF_PREFIX);
            scratch.extend_from_slice(leaf);
            bounds.push(start..scratch.len());
        }
        let count = bounds.len();
        let inputs: Vec<&[u8]> = bounds.iter().map(|range| &scratch[range.clone()]).collect();
        hash_inputs(&inputs, &mut out[written..written + count]);
        written += count;
    }
    debug_assert_eq!(written, out.len());
}

fn hash_leaves<'a>(leaves: impl ExactSizeIterator<Item = &'a [u8]>) -> Vec<Digest> {
    let mut hashes = vec![[0u8; 32]; leaves.len()];
    hash_leaves_into(leaves, &mut Vec::new(), &mut hashes);
    hashes
}

/// Hashes many independent inputs: the 8-way AVX-512 kernel when every input fits in one
/// Blake2b block and the CPU has it, otherwise `blake2b_simd`'s 4-way AVX2 `hash_many`.
fn hash_inputs(inputs: &[&[u8]], out: &mut [Digest]) {
    if crate::blake2b_many::avx512_available() && inputs.iter().all(|input| input.len() <= 128) {
        crate::blake2b_many::hash_short_many(inputs, out);
        return;
    }
    let params = blake2b256_params();
    let mut jobs: Vec<HashManyJob<'_>> = inputs
        .iter()
        .map(|input| HashManyJob::new(params, input))
        .collect();
    hash_many(jobs.iter_mut());
    for (slot, job) in out.iter_mut().zip(&jobs) {
        *slot = to_digest(job.to_hash());
    }
}

/// Computes the parent level of `level` (padding an odd level with the empty node).
fn parent_level(level: &[Digest], scratch: &mut Vec<u8>, out: &mut Vec<Digest>) {
    out.clear();
    for chunk in level.chunks(2 * HASH_BATCH) {
        let pairs = chunk
            .chunks(2)
            .map(|pair| (&pair[0], pair.get(1).unwrap_or(&[0; 32])));
        append_inner_hashes(pairs, scratch, out);
    }
}

/// Appends to `out` the inner hashes of the `(left, right)` pairs, hashed side by side
/// (multi-buffer); `scratch` holds their inputs.
fn append_inner_hashes<'a>(
    pairs: impl Iterator<Item = (&'a Digest, &'a Digest)>,
    scratch: &mut Vec<u8>,
    out: &mut Vec<Digest>,
) {
    scratch.clear();
    for (left, right) in pairs {
        scratch.push(INNER_PREFIX);
        scratch.extend_from_slice(left);
        scratch.extend_from_slice(right);
    }
    let inputs: Vec<&[u8]> = scratch.chunks_exact(65).collect();
    let start = out.len();
    out.resize(start + inputs.len(), [0; 32]);
    hash_inputs(&inputs, &mut out[start..]);
}

/// The Merkle root over already-hashed leaves.
pub fn root_from_leaf_hashes(leaf_hashes: &[Digest]) -> Node {
    match leaf_hashes.len() {
        0 => Node::Empty,
        1 => Node::Digest(leaf_hashes[0]),
        _ => {
            let mut scratch = Vec::new();
            let mut current = Vec::new();
            parent_level(leaf_hashes, &mut scratch, &mut current);
            let mut next = Vec::new();
            while current.len() > 1 {
                parent_level(&current, &mut scratch, &mut next);
                std::mem::swap(&mut current, &mut next);
            }
            Node::Digest(current[0])
        }
    }
}

/// The Merkle root over raw leaves.
pub fn root_from_leaves<'a>(leaves: impl ExactSizeIterator<Item = &'a [u8]>) -> Node {
    root_from_leaf_hashes(&hash_leaves(leaves))
}

/// The depth of a tree with `leaf_count` leaves: `ceil(log2(leaf_count))`.
pub fn tree_depth(leaf_count: usize) -> usize {
    let depth = leaf_count.max(1).next_power_of_two().trailing_zeros();
    usize::try_from(depth).expect("a bit count fits in usize")
}

/// A full Merkle tree, kept to produce inclusion proofs.
///
/// Its nodes are one list, level by level: the leaf hashes first, then each parent level
/// (odd levels padded with the empty node, which is not listed), the root last. A holder
/// can keep that list ([`Self::nodes`]) and build the tree again without hashing
/// ([`Self::from_nodes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerkleTree {
    nodes: Vec<Digest>,
    leaf_count: usize,
}

/// The number of nodes in each level of a tree over `leaf_count` leaves, from the leaves up
/// (none for an empty tree).
fn level_lengths(leaf_count: usize) -> impl Iterator<Item = usize> {
    std::iter::successors((leaf_count > 0).then_some(leaf_count), |&len| {
        (len > 1).then(|| len.div_ceil(2))
    })
}

impl MerkleTree {
    /// Builds the tree over already-hashed leaves.
    pub fn from_leaf_hashes(leaf_hashes: Vec<Digest>) -> Self {
        let leaf_count = leaf_hashes.len();
        let mut nodes = leaf_hashes;
        nodes.reserve(Self::node_count(leaf_count).saturating_sub(leaf_count));
        let mut scratch = Vec::new();
        let mut parents = Vec::new();
        let mut start = 0;
        for len in level_lengths(leaf_count).take_while(|len| *len > 1) {
            parent_level(&nodes[start..start + len], &mut scratch, &mut parents);
            start += len;
            nodes.extend_from_slice(&parents);
        }
        Self { nodes, leaf_count }
    }

    /// Builds the tree over raw leaves.
    pub fn from_leaves<'a>(leaves: impl ExactSizeIterator<Item = &'a [u8]>) -> Self {
        Self::from_leaf_hashes(hash_leaves(leaves))
    }

    /// The tree over `leaf_count` leaves from `nodes`: all of its nodes as [`Self::nodes`]
    /// lists them (taken as they are, nothing is hashed), or its leaf hashes alone (hashed up
    /// as [`Self::from_leaf_hashes`] does). `None` for any other number of nodes. Nodes kept
    /// by someone else must be checked against a known root ([`Self::root`]).
    pub fn from_nodes(nodes: Vec<Digest>, leaf_count: usize) -> Option<Self> {
        if nodes.len() == leaf_count {
            Some(Self::from_leaf_hashes(nodes))
        } else if nodes.len() == Self::node_count(leaf_count) {
            Some(Self { nodes, leaf_count })
        } else {
            None
        }
    }

    /// The number of nodes a tree over `leaf_count` leaves lists ([`Self::nodes`]).
    pub fn node_count(leaf_count: usize) -> usize {
        level_lengths(leaf_count).sum()
    }

    /// All nodes, level by level from the leaf hashes to the root.
    pub fn nodes(&self) -> &[Digest] {
        &self.nodes
    }

    /// All nodes, as [`Self::nodes`] lists them.
    pub fn into_nodes(self) -> Vec<Digest> {
        self.nodes
    }

    /// The leaf hashes.
    pub fn leaf_hashes(&self) -> &[Digest] {
        &self.nodes[..self.leaf_count]
    }

    /// The leaf hashes (what [`Self::from_leaf_hashes`] takes back).
    pub fn into_leaf_hashes(mut self) -> Vec<Digest> {
        self.nodes.truncate(self.leaf_count);
        self.nodes
    }

    /// The number of leaves.
    pub fn leaf_count(&self) -> usize {
        self.leaf_count
    }

    /// The root node (`Empty` for a tree without leaves).
    pub fn root(&self) -> Node {
        match self.nodes.last() {
            Some(digest) => Node::Digest(*digest),
            None => Node::Empty,
        }
    }

    /// The inclusion proof of leaf `index`, or `None` if out of range.
    pub fn proof(&self, index: usize) -> Option<MerkleProof> {
        let mut path = Vec::with_capacity(tree_depth(self.leaf_count));
        path.extend(self.proof_path(index)?);
        Some(MerkleProof { path })
    }

    /// Appends the BCS of [`Self::proof`]`(index)` to `out` (without building it); `false`
    /// (nothing appended) if `index` is out of range.
    pub fn write_proof_bcs(&self, index: usize, out: &mut Vec<u8>) -> bool {
        let Some(path) = self.proof_path(index) else {
            return false;
        };
        crate::write_uleb128(out, tree_depth(self.leaf_count));
        for node in path {
            match node {
                Node::Empty => out.push(0),
                Node::Digest(digest) => {
                    out.push(1);
                    out.extend_from_slice(&digest);
                }
            }
        }
        true
    }

    /// The siblings from leaf `index` up to the root ([`tree_depth`] of them), or `None` if
    /// out of range.
    fn proof_path(&self, index: usize) -> Option<impl Iterator<Item = Node> + '_> {
        if index >= self.leaf_count {
            return None;
        }
        let mut position = index;
        let mut start = 0;
        Some(
            level_lengths(self.leaf_count)
                .take_while(|len| *len > 1)
                .map(move |len| {
                    let sibling = position ^ 1;
                    let node = if sibling < len {
                        Node::Digest(self.nodes[start + sibling])
                    } else {
                        Node::Empty
                    };
                    start += len;
                    position /= 2;
                    node
                }),
        )
    }
}

/// Why a Merkle proof was refused.
#[derive(Debug, Error, PartialEq, Eq, Clone)]
pub enum MerkleProofError {
    /// The path length does not match the depth of a tree with that many leaves.
    #[error("proof path has {actual} nodes, a tree of {leaf_count} leaves needs {expected}")]
    WrongPathLength {
        /// Leaves of the tree.
        leaf_count: usize,
        /// Path length required.
        expected: usize,
        /// Path length found.
        actual: usize,
    },
    /// The leaf index is outside the tree.
    #[error("leaf index {index} is outside a tree of {leaf_count} leaves")]
    IndexOutOfRange {
        /// The index claimed.
        index: usize,
        /// Leaves of the tree.
        leaf_count: usize,
    },
    /// The recomputed root differs from the expected root.
    #[error("the proof does not lead to the expected root")]
    RootMismatch,
}

/// An inclusion proof: the sibling path from a leaf up to the root.
///
/// BCS: `{ path: Vec<Node> }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MerkleProof {
    /// Siblings, from the leaf's level upwards (at most [`crate::bounded::MAX_PROOF_PATH`]
    /// when decoded).
    #[serde(
        deserialize_with = "crate::bounded::bounded_vec::<_, { crate::bounded::MAX_PROOF_PATH }, _>"
    )]
    pub path: Vec<Node>,
}

impl MerkleProof {
    /// The root this proof leads to from a leaf whose hash is `leaf_hash` at `index`.
    pub fn compute_root(&self, leaf_hash: Digest, index: usize) -> Digest {
        let mut current = leaf_hash;
        let mut position = index;
        for sibling in &self.path {
            current = if position.is_multiple_of(2) {
                inner_hash(&current, &sibling.bytes())
            } else {
                inner_hash(&sibling.bytes(), &current)
            };
            position /= 2;
        }
        current
    }

    /// Checks that `leaf` sits at `index` in a tree of `leaf_count` leaves with root `root`.
    pub fn verify(
        &self,
        root: &Node,
        leaf: &[u8],
        index: usize,
        leaf_count: usize,
    ) -> Result<(), MerkleProofError> {
        self.verify_leaf_hash(root, leaf_hash(leaf), index, leaf_count)
    }

    /// [`Self::verify`] for a leaf already hashed (`leaf_hash`, e.g. many at once with
    /// [`hash_leaves_into`]).
    pub fn verify_leaf_hash(
        &self,
        root: &Node,
        leaf_hash: Digest,
        index: usize,
        leaf_count: usize,
    ) -> Result<(), MerkleProofError> {
        self.check_shape(index, leaf_count)?;
        if Node::Digest(self.compute_root(leaf_hash, index)) == *root {
            Ok(())
        } else {
            Err(MerkleProofError::RootMismatch)
        }
    }

    /// The checks of [`Self::verify_leaf_hash`] that need no hashing: `index` is inside a tree
    /// of `leaf_count` leaves and the path has that tree's depth.
    pub fn check_shape(&self, index: usize, leaf_count: usize) -> Result<(), MerkleProofError> {
        if index >= leaf_count {
            return Err(MerkleProofError::IndexOutOfRange { index, leaf_count });
        }
        let expected = tree_depth(leaf_count);
        if self.path.len() != expected {
            return Err(MerkleProofError::WrongPathLength {
                leaf_count,
                expected,
                actual: self.path.len(),
            });
        }
        Ok(())
    }
}

/// The roots that many proofs lead to ([`MerkleProof::compute_root`] of each `(proof,
/// leaf_hash, index)`), computed level by level with the hashes of all proofs at one level side
/// by side (multi-buffer Blake2b) instead of one proof after another.
pub fn compute_roots(proofs: &[(&MerkleProof, Digest, usize)]) -> Vec<Digest> {
    let mut current: Vec<Digest> = proofs.iter().map(|(_, leaf_hash, _)| *leaf_hash).collect();
    let mut positions: Vec<usize> = proofs.iter().map(|(_, _, index)| *index).collect();
    let depth = proofs
        .iter()
        .map(|(proof, ..)| proof.path.len())
        .max()
        .unwrap_or(0);
    let mut scratch = Vec::new();
    let mut hashed = Vec::new();
    for level in 0..depth {
        // The proofs with a node at this level, and that node's bytes.
        let active: Vec<(usize, Digest)> = proofs
            .iter()
            .enumerate()
            .filter_map(|(item, (proof, ..))| Some((item, proof.path.get(level)?.bytes())))
            .collect();
        let pairs = active.iter().map(|(item, sibling)| {
            if positions[*item].is_multiple_of(2) {
                (&current[*item], sibling)
            } else {
                (sibling, &current[*item])
            }
        });
        hashed.clear();
        append_inner_hashes(pairs, &mut scratch, &mut hashed);
        for ((item, _), digest) in active.iter().zip(&hashed) {
            current[*item] = *digest;
            positions[*item] /= 2;
        }
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`Node`] as serde derives it for a plain `[u8; 32]` (byte by byte).
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum DerivedNode {
        Empty,
        Digest(Digest),
    }

    proptest::proptest! {
        #[test]
        fn nodes_serialize_as_derived_for_byte_arrays(digest in proptest::prelude::any::<Digest>()) {
            for (node, derived) in [
                (Node::Digest(digest), DerivedNode::Digest(digest)),
                (Node::Empty, DerivedNode::Empty),
            ] {
                let bytes = bcs::to_bytes(&node).unwrap();
                proptest::prop_assert_eq!(&bytes, &bcs::to_bytes(&derived).unwrap());
                proptest::prop_assert_eq!(bcs::from_bytes::<Node>(&bytes).unwrap(), node);
                let json = serde_json::to_string(&node).unwrap();
                proptest::prop_assert_eq!(&json, &serde_json::to_string(&derived).unwrap());
                proptest::prop_assert_eq!(serde_json::from_str::<Node>(&json).unwrap(), node);
            }
            let mut bytes = bcs::to_bytes(&Node::Digest(digest)).unwrap();
            bytes.pop();
            proptest::prop_assert!(bcs::from_bytes::<Node>(&bytes).is_err());
        }
    }

    proptest::proptest! {
        #[test]
        fn proofs_written_as_bcs_are_the_proofs_serialized(
            leaf_count in 1usize..300,
            index in proptest::prelude::any::<proptest::sample::Index>(),
        ) {
            let leaves: Vec<Digest> = (0..leaf_count)
                .map(|i| leaf_hash(&i.to_le_bytes()))
                .collect();
            let tree = MerkleTree::from_leaf_hashes(leaves);
            let index = index.index(leaf_count);
            let mut written = vec![7];
            proptest::prop_assert!(tree.write_proof_bcs(index, &mut written));
            let serialized = bcs::to_bytes(&tree.proof(index).unwrap()).unwrap();
            proptest::prop_assert_eq!(&written[1..], serialized.as_slice());
            // Out of range: nothing written.
            proptest::prop_assert!(!tree.write_proof_bcs(leaf_count, &mut written));
            proptest::prop_assert_eq!(written.len(), 1 + serialized.len());
        }
    }

    #[test]
    fn blake2b256_known_answer() {
        assert_eq!(
            hex::encode(blake2b256(b"abc")),
            "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319"
        );
    }

    fn naive_root(leaves: &[Vec<u8>]) -> Node {
        if leaves.is_empty() {
            return Node::Empty;
        }
        let mut level: Vec<Digest> = leaves.iter().map(|leaf| leaf_hash(leaf)).collect();
        while level.len() > 1 {
            if level.len() % 2 == 1 {
                level.push([0; 32]);
            }
            level = level
                .chunks(2)
                .map(|pair| inner_hash(&pair[0], &pair[1]))
                .collect();
        }
        Node::Digest(level[0])
    }

    #[test]
    fn multi_buffer_root_matches_naive_root() {
        for count in [0usize, 1, 2, 3, 5, 8, 13, 100, 1000, 1025] {
            let leaves: Vec<Vec<u8>> = (0..count)
                .map(|i| vec![u8::try_from(i % 251).unwrap(); i % 7 + 1])
                .collect();
            let tree = MerkleTree::from_leaves(leaves.iter().map(Vec::as_slice));
            assert_eq!(tree.root(), naive_root(&leaves), "count = {count}");
            assert_eq!(
                root_from_leaves(leaves.iter().map(Vec::as_slice)),
                tree.root()
            );
        }
    }

    #[test]
    fn large_leaves_hashed_in_place_match_naive_root() {
        for (count, size) in [(1usize, 2048usize), (3, 3000), (9, 5000)] {
            let leaves: Vec<Vec<u8>> = (0..count)
                .map(|i| (0..size).map(|j| (i * 7 + j).to_le_bytes()[0]).collect())
                .collect();
            let tree = MerkleTree::from_leaves(leaves.iter().map(Vec::as_slice));
            assert_eq!(
                tree.root(),
                naive_root(&leaves),
                "count = {count}, size = {size}"
            );
        }
    }

    #[test]
    fn portable_leaf_hashing_matches_naive_hashing() {
        for (count, size) in [(5usize, 6usize), (9, 604), (5, 3000)] {
            let leaves: Vec<Vec<u8>> = (0..count)
                .map(|i| (0..size).map(|j| (i * 3 + j).to_le_bytes()[0]).collect())
                .collect();
            let mut out = vec![[0u8; 32]; count];
            hash_leaves_portable(leaves.iter().map(Vec::as_slice), &mut Vec::new(), &mut out);
            let expected: Vec<Digest> = leaves.iter().map(|leaf| leaf_hash(leaf)).collect();
            assert_eq!(out, expected, "size {size}");
        }
    }

    #[test]
    fn proofs_verify_and_reject_tampering() {
        let leaves: Vec<Vec<u8>> = (0..11u8).map(|i| vec![i; 3]).collect();
        let tree = MerkleTree::from_leaves(leaves.iter().map(Vec::as_slice));
        let root = tree.root();
        for (index, leaf) in leaves.iter().enumerate() {
            let proof = tree.proof(index).unwrap();
            assert_eq!(proof.verify(&root, leaf, index, 11), Ok(()));
            assert_eq!(
                proof.verify(&root, b"other", index, 11),
                Err(MerkleProofError::RootMismatch)
            );
            let wrong_index = (index + 1) % 11;
            assert!(proof.verify(&root, leaf, wrong_index, 11).is_err());
        }
        assert!(tree.proof(11).is_none());
        let mut short = tree.proof(0).unwrap();
        short.path.pop();
        assert!(matches!(
            short.verify(&root, &leaves[0], 0, 11),
            Err(MerkleProofError::WrongPathLength { .. })
        ));
    }

    #[test]
    fn roots_computed_together_are_those_computed_one_by_one() {
        let leaves: Vec<Vec<u8>> = (0..37u8).map(|i| vec![i; 40]).collect();
        let tree = MerkleTree::from_leaves(leaves.iter().map(Vec::as_slice));
        let mut proofs: Vec<(MerkleProof, Digest, usize)> = (0..37)
            .map(|index| (tree.proof(index).unwrap(), tree.leaf_hashes()[index], index))
            .collect();
        // A wrong leaf, a short path, a long one, an empty one and an index beyond the tree.
        proofs[3].1[0] ^= 1;
        proofs[5].0.path.pop();
        proofs[7].0.path.push(Node::Digest([9; 32]));
        proofs[9].0.path.clear();
        proofs[11].2 = 1000;
        let items: Vec<(&MerkleProof, Digest, usize)> = proofs
            .iter()
            .map(|(proof, leaf_hash, index)| (proof, *leaf_hash, *index))
            .collect();
        let together = compute_roots(&items);
        let one_by_one: Vec<Digest> = proofs
            .iter()
            .map(|(proof, leaf_hash, index)| proof.compute_root(*leaf_hash, *index))
            .collect();
        assert_eq!(together, one_by_one);
        let root = tree.root();
        let leading_to_root = together
            .iter()
            .filter(|digest| Node::Digest(**digest) == root);
        assert_eq!(leading_to_root.count(), 37 - 5);
        assert!(compute_roots(&[]).is_empty());
    }

    #[test]
    fn a_tree_is_built_again_from_its_nodes_or_its_leaf_hashes() {
        for leaf_count in (0..=20).chain([33, 100, 128, 1000]) {
            let leaves: Vec<Vec<u8>> = (0..leaf_count)
                .map(|i: usize| i.to_le_bytes().to_vec())
                .collect();
            let tree = MerkleTree::from_leaves(leaves.iter().map(Vec::as_slice));
            assert_eq!(tree.root(), naive_root(&leaves));
            assert_eq!(tree.nodes().len(), MerkleTree::node_count(leaf_count));
            assert_eq!(
                tree.leaf_hashes(),
                &hash_leaves(leaves.iter().map(Vec::as_slice))[..]
            );
            let from_nodes = MerkleTree::from_nodes(tree.nodes().to_vec(), leaf_count).unwrap();
            let from_leaves =
                MerkleTree::from_nodes(tree.leaf_hashes().to_vec(), leaf_count).unwrap();
            for rebuilt in [&from_nodes, &from_leaves] {
                assert_eq!(rebuilt.nodes(), tree.nodes());
                assert_eq!(rebuilt.root(), tree.root());
                for index in 0..=leaf_count {
                    assert_eq!(rebuilt.proof(index), tree.proof(index));
                }
            }
            if leaf_count > 1 {
                // Neither the leaves alone nor the whole tree: refused.
                let mut extra = tree.nodes().to_vec();
                extra.push([7; 32]);
                assert!(MerkleTree::from_nodes(extra, leaf_count).is_none());
            }
            if leaf_count > 2 {
                let short = tree.nodes()[..tree.nodes().len() - 1].to_vec();
                assert!(MerkleTree::from_nodes(short, leaf_count).is_none());
            }
        }
    }

    #[test]
    fn node_bcs_layout() {
        assert_eq!(bcs::to_bytes(&Node::Empty).unwrap(), vec![0]);
        let mut expected = vec![1];
        expected.extend([9; 32]);
        assert_eq!(bcs::to_bytes(&Node::Digest([9; 32])).unwrap(), expected);
    }
}
