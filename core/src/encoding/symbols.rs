//! Recovery symbols: single symbols of the expanded matrix with Merkle proofs, which let a node
//! rebuild a lost sliver from other nodes' slivers, and inconsistency proofs when the rebuilt
//! sliver does not match the metadata.
//!
//! Symbol `E[r][c]` is symbol `c` of the expanded primary sliver `r` and symbol `r` of the
//! expanded secondary sliver `c`. A node holding primary sliver `r` helps rebuild secondary
//! sliver `c` by sending `E[r][c]` with its proof at leaf `c` of row `r`'s tree; a node holding
//! secondary sliver `c` helps rebuild primary sliver `r` with `E[r][c]` at leaf `r` of column
//! `c`'s tree. Rebuilding a primary sliver takes `n - f` such symbols, a secondary `n - 2f`.

use std::{
    collections::{BTreeMap, BTreeSet},
    marker::PhantomData,
};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::{
    erasure::DecodePlan, expand_symbols, BlobLayout, EncodingAxis, Primary, Secondary, SliverBytes,
    SliverData, SliverType, SliverVerificationError, Symbols,
};
use crate::{
    merkle::{MerkleProof, MerkleProofError, MerkleTree},
    metadata::VerifiedBlobMetadataWithId,
    EncodeError, SliverIndex,
};

/// One symbol of a sliver of axis `T`, tagged with the index of the orthogonal sliver it was
/// taken from. BCS: `{ index: u16, data: Vec<u8> }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct DecodingSymbol<T: EncodingAxis> {
    /// Index of the source sliver (on the orthogonal axis).
    pub index: u16,
    /// The symbol bytes (one byte string in serde: see [`super::Symbols`]).
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
    #[serde(skip)]
    axis: PhantomData<T>,
}

impl<T: EncodingAxis> DecodingSymbol<T> {
    /// A symbol taken from orthogonal sliver `index`.
    pub fn new(index: u16, data: Vec<u8>) -> Self {
        Self {
            index,
            data,
            axis: PhantomData,
        }
    }
}

/// A decoding symbol with the Merkle proof that it belongs to its source sliver.
/// BCS: `{ symbol: DecodingSymbol, proof: MerkleProof }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct RecoverySymbol<T: EncodingAxis> {
    /// The symbol.
    pub symbol: DecodingSymbol<T>,
    /// Its proof in the tree of the source sliver's expansion.
    pub proof: MerkleProof,
}

/// Why a recovery symbol was refused.
#[derive(Debug, Error, PartialEq, Eq, Clone)]
pub enum SymbolVerificationError {
    /// The source or target sliver index is not below the number of shards.
    #[error("symbol index {index} is out of range for {n_shards} shards")]
    IndexTooLarge {
        /// The index.
        index: u16,
        /// Shards of the committee.
        n_shards: u16,
    },
    /// The symbol has the wrong number of bytes.
    #[error("symbol has {actual} bytes, expected {expected}")]
    SymbolSizeMismatch {
        /// Bytes expected.
        expected: usize,
        /// Bytes found.
        actual: usize,
    },
    /// The Merkle proof does not prove the symbol against the metadata.
    #[error("invalid Merkle proof: {0}")]
    InvalidProof(#[from] MerkleProofError),
    /// The symbol does not help rebuild the requested sliver.
    #[error("the symbol cannot be used to recover the requested sliver")]
    SymbolNotUsable,
}

impl<T: EncodingAxis> RecoverySymbol<T> {
    /// Checks that this is symbol `target_index` of the source sliver it names, as committed
    /// in `metadata`.
    pub fn verify(
        &self,
        metadata: &VerifiedBlobMetadataWithId,
        target_index: SliverIndex,
    ) -> Result<(), SymbolVerificationError> {
        self.verify_hashed(
            metadata,
            target_index,
            crate::merkle::leaf_hash(&self.symbol.data),
        )
    }

    /// [`Self::verify`] with the symbol's leaf hash computed by the caller; `leaf_hash` must be
    /// the hash of this symbol's data.
    fn verify_hashed(
        &self,
        metadata: &VerifiedBlobMetadataWithId,
        target_index: SliverIndex,
        leaf_hash: crate::merkle::Digest,
    ) -> Result<(), SymbolVerificationError> {
        let root = self.expected_root(metadata, target_index)?;
        self.proof.verify_leaf_hash(
            root,
            leaf_hash,
            target_index.as_usize(),
            metadata.layout().config.n(),
        )?;
        Ok(())
    }

    /// Every check of [`Self::verify`] that needs no hashing (indices, size, proof shape); the
    /// root the proof must lead to.
    fn expected_root<'m>(
        &self,
        metadata: &'m VerifiedBlobMetadataWithId,
        target_index: SliverIndex,
    ) -> Result<&'m crate::merkle::Node, SymbolVerificationError> {
        let layout = metadata.layout();
        let n_shards = layout.config.n_shards();
        for index in [self.symbol.index, target_index.get()] {
            if index >= n_shards {
                return Err(SymbolVerificationError::IndexTooLarge { index, n_shards });
            }
        }
        if self.symbol.data.len() != layout.symbol_size() {
            return Err(SymbolVerificationError::SymbolSizeMismatch {
                expected: layout.symbol_size(),
                actual: self.symbol.data.len(),
            });
        }
        let root = metadata
            .sliver_hash(T::Orthogonal::TYPE, SliverIndex(self.symbol.index))
            .ok_or(SymbolVerificationError::IndexTooLarge {
                index: self.symbol.index,
                n_shards,
            })?;
        self.proof
            .check_shape(target_index.as_usize(), layout.config.n())?;
        Ok(root)
    }
}

/// A decoding symbol of either axis. BCS: enum, `Primary` = 0, `Secondary` = 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EitherDecodingSymbol {
    /// A symbol of a primary sliver.
    Primary(DecodingSymbol<Primary>),
    /// A symbol of a secondary sliver.
    Secondary(DecodingSymbol<Secondary>),
}

/// A recovery symbol as the storage-node API serves it: the symbol, the index of the sliver it
/// helps rebuild (on the symbol's axis) and the proof. BCS:
/// `{ symbol: EitherDecodingSymbol, target_index: u16, proof: MerkleProof }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeneralRecoverySymbol {
    /// The symbol.
    pub symbol: EitherDecodingSymbol,
    /// The sliver it belongs to, on the symbol's own axis.
    pub target_index: SliverIndex,
    /// Proof in the source sliver's tree at leaf `target_index`.
    pub proof: MerkleProof,
}

impl GeneralRecoverySymbol {
    /// Wraps a typed recovery symbol for sliver `target_index`.
    pub fn from_recovery_symbol<T: EncodingAxis>(
        symbol: RecoverySymbol<T>,
        target_index: SliverIndex,
    ) -> Self {
        let RecoverySymbol { symbol, proof } = symbol;
        let symbol = match T::TYPE {
            SliverType::Primary => {
                EitherDecodingSymbol::Primary(DecodingSymbol::new(symbol.index, symbol.data))
            }
            SliverType::Secondary => {
                EitherDecodingSymbol::Secondary(DecodingSymbol::new(symbol.index, symbol.data))
            }
        };
        Self {
            symbol,
            target_index,
            proof,
        }
    }

    /// The axis of the sliver this symbol rebuilds.
    pub fn target_type(&self) -> SliverType {
        match self.symbol {
            EitherDecodingSymbol::Primary(_) => SliverType::Primary,
            EitherDecodingSymbol::Secondary(_) => SliverType::Secondary,
        }
    }

    /// The typed symbol, if it rebuilds a sliver of axis `T` with index `target_index`.
    pub fn into_recovery_symbol<T: EncodingAxis>(
        self,
        target_index: SliverIndex,
    ) -> Result<RecoverySymbol<T>, SymbolVerificationError> {
        if self.target_type() != T::TYPE || self.target_index != target_index {
            return Err(SymbolVerificationError::SymbolNotUsable);
        }
        let (index, data) = match self.symbol {
            EitherDecodingSymbol::Primary(symbol) => (symbol.index, symbol.data),
            EitherDecodingSymbol::Secondary(symbol) => (symbol.index, symbol.data),
        };
        Ok(RecoverySymbol {
            symbol: DecodingSymbol::new(index, data),
            proof: self.proof,
        })
    }
}

/// A sliver with its expansion (or the symbols of it that will be asked) and Merkle tree,
/// ready to hand out recovery symbols.
#[derive(Debug, Clone)]
pub struct ExpandedSliver<T: EncodingAxis> {
    index: SliverIndex,
    symbol_size: usize,
    /// The symbols held, in the order of `positions`.
    symbols: Vec<u8>,
    /// The positions held, ascending; `None`: all `n`.
    positions: Option<Vec<usize>>,
    tree: MerkleTree,
    axis: PhantomData<T>,
}

impl<T: EncodingAxis> ExpandedSliver<T> {
    /// Expands `sliver` (one Reed-Solomon encode and one tree).
    pub fn new(sliver: &SliverData<T>, layout: &BlobLayout) -> Result<Self, EncodeError> {
        Self::from_bytes(sliver.into(), layout)
    }

    /// [`Self::new`] on a sliver read in place.
    pub fn from_bytes(
        sliver: SliverBytes<'_, T>,
        layout: &BlobLayout,
    ) -> Result<Self, EncodeError> {
        let expanded = expand_symbols(layout, T::TYPE, sliver.data())?;
        let tree = MerkleTree::from_leaves(expanded.chunks_exact(layout.symbol_size()));
        Ok(Self {
            index: sliver.index(),
            symbol_size: layout.symbol_size(),
            symbols: expanded,
            positions: None,
            tree,
            axis: PhantomData,
        })
    }

    /// From `sliver` and the nodes of its expansion's tree ([`MerkleTree::nodes`] of the tree
    /// [`SliverData::verify_with_tree`] gave when the sliver was verified, or its leaf hashes
    /// alone, which are then hashed up to the root), holding
    /// only the symbols for rebuilding `targets` (slivers of the orthogonal axis): no symbol is
    /// hashed, the expansion is not assembled (only the symbols asked are copied out of the
    /// codec), and the sliver is not expanded at all if every target is in its source part;
    /// a few repair targets are computed each as a linear combination of the source symbols
    /// (where that is cheaper than the whole expansion).
    /// `None` if the nodes are not those of a tree over `n` leaves or do not lead to
    /// `expected_root` (the caller expands the sliver with [`Self::from_bytes`]).
    pub fn with_tree_nodes(
        sliver: SliverBytes<'_, T>,
        layout: &BlobLayout,
        nodes: Vec<crate::merkle::Digest>,
        expected_root: &crate::merkle::Node,
        targets: &[SliverIndex],
    ) -> Option<Result<Self, EncodeError>> {
        let n = layout.config.n();
        let tree = MerkleTree::from_nodes(nodes, n)?;
        if tree.root() != *expected_root {
            return None;
        }
        let positions = positions_in_range(targets, n);
        let ss = layout.symbol_size();
        let data = sliver.data();
        let in_sliver = layout.config.n_symbols_in_sliver(T::TYPE);
        if data.len() != in_sliver * ss {
            return Some(Err(EncodeError::Codec(format!(
                "sliver has {} bytes, expected {}",
                data.len(),
                in_sliver * ss
            ))));
        }
        let mut symbols = Vec::with_capacity(positions.len() * ss);
        let (source, repair) = positions.split_at(positions.partition_point(|p| *p < in_sliver));
        for position in source {
            symbols.extend_from_slice(&data[position * ss..(position + 1) * ss]);
        }
        let n_symbols = layout.config.n();
        if super::erasure::direct_is_cheaper(in_sliver, n_symbols, repair.len()) {
            // A few repair symbols: each a linear combination of the source symbols.
            let source = |i: usize| &data[i * ss..(i + 1) * ss];
            let computed = super::erasure::recovery_symbols_direct(
                in_sliver,
                n_symbols,
                ss,
                source,
                repair,
                &mut symbols,
            );
            if let Err(error) = computed {
                return Some(Err(error));
            }
        } else if !repair.is_empty() {
            let copied = super::slivers::with_expanded_symbols(layout, T::TYPE, data, |all| {
                let mut wanted = repair.iter().peekable();
                for (position, symbol) in all.enumerate().skip(in_sliver) {
                    if wanted.next_if_eq(&&position).is_some() {
                        symbols.extend_from_slice(symbol);
                    }
                    if wanted.peek().is_none() {
                        break;
                    }
                }
            });
            if let Err(error) = copied {
                return Some(Err(error));
            }
        }
        Some(Ok(Self {
            index: sliver.index(),
            symbol_size: ss,
            symbols,
            positions: Some(positions),
            tree,
            axis: PhantomData,
        }))
    }

    /// The Merkle root of the expansion.
    pub fn root(&self) -> crate::merkle::Node {
        self.tree.root()
    }

    /// The symbol that helps rebuild sliver `target_index` of the orthogonal axis, with its
    /// proof; `None` if the index is out of range (or not among the targets the symbols were
    /// kept for).
    pub fn recovery_symbol(
        &self,
        target_index: SliverIndex,
    ) -> Option<RecoverySymbol<T::Orthogonal>> {
        let data = self.symbol_data(target_index)?.to_vec();
        Some(RecoverySymbol {
            symbol: DecodingSymbol::new(self.index.get(), data),
            proof: self.tree.proof(target_index.as_usize())?,
        })
    }

    /// Appends the BCS of the [`GeneralRecoverySymbol`] that [`Self::recovery_symbol`] gives
    /// for `target_index` to `out`, without building it (no copy of the symbol of its own,
    /// no proof path); `false` (nothing appended) where that gives `None`.
    pub fn write_recovery_symbol_bcs(&self, target_index: SliverIndex, out: &mut Vec<u8>) -> bool {
        let Some(data) = self.symbol_data(target_index) else {
            return false;
        };
        if target_index.as_usize() >= self.tree.leaf_count() {
            return false;
        }
        // `EitherDecodingSymbol`'s tag: the symbol belongs to a sliver of the orthogonal axis.
        out.push(match T::Orthogonal::TYPE {
            SliverType::Primary => 0,
            SliverType::Secondary => 1,
        });
        out.extend_from_slice(&self.index.get().to_le_bytes());
        crate::write_uleb128(out, data.len());
        out.extend_from_slice(data);
        out.extend_from_slice(&target_index.get().to_le_bytes());
        self.tree.write_proof_bcs(target_index.as_usize(), out)
    }

    /// The bytes of the symbol for rebuilding `target_index`, if held.
    fn symbol_data(&self, target_index: SliverIndex) -> Option<&[u8]> {
        let position = target_index.as_usize();
        let slot = match &self.positions {
            None => position,
            Some(positions) => positions.binary_search(&position).ok()?,
        };
        self.symbols
            .get(slot * self.symbol_size..(slot + 1) * self.symbol_size)
    }
}

/// A BCS `Vec<GeneralRecoverySymbol>` written one symbol at a time, straight from expanded
/// slivers ([`ExpandedSliver::write_recovery_symbol_bcs`]) into one buffer: a storage node's
/// answer to a recovery-symbol request, without a `GeneralRecoverySymbol` of its own per symbol
/// and without copying the list to put its length in front.
#[derive(Debug)]
pub struct RecoverySymbolsBcs {
    count: usize,
    /// [`Self::LENGTH_ROOM`] bytes for the length, then the symbols.
    buffer: Vec<u8>,
}

impl RecoverySymbolsBcs {
    /// Room for the list's length in front: the longest ULEB128 of a `u32`.
    const LENGTH_ROOM: usize = 5;

    /// An empty list with room for `symbols` symbols of a blob of `layout`.
    pub fn with_capacity(symbols: usize, layout: &BlobLayout) -> Self {
        // Tag, index, length, data, target index, path length and nodes (at most 33 bytes).
        let symbol_size = layout.symbol_size();
        let depth = crate::merkle::tree_depth(layout.config.n());
        let per_symbol = 1 + 2 + 3 + symbol_size + 2 + 1 + depth * 33;
        let mut buffer = Vec::with_capacity(Self::LENGTH_ROOM + symbols * per_symbol);
        buffer.resize(Self::LENGTH_ROOM, 0);
        Self { count: 0, buffer }
    }

    /// Appends the symbol of `sliver` for rebuilding `target_index`, if it holds one; whether
    /// it did.
    pub fn push<T: EncodingAxis>(
        &mut self,
        sliver: &ExpandedSliver<T>,
        target_index: SliverIndex,
    ) -> bool {
        let pushed = sliver.write_recovery_symbol_bcs(target_index, &mut self.buffer);
        self.count += usize::from(pushed);
        pushed
    }

    /// The symbols appended.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether none was appended.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The BCS bytes of the list (the buffer itself, from where its length starts).
    pub fn into_bytes(self) -> bytes::Bytes {
        let mut length = Vec::with_capacity(Self::LENGTH_ROOM);
        crate::write_uleb128(&mut length, self.count);
        let mut buffer = self.buffer;
        let start = Self::LENGTH_ROOM - length.len();
        buffer[start..Self::LENGTH_ROOM].copy_from_slice(&length);
        bytes::Bytes::from(buffer).slice(start..)
    }
}

/// Why a sliver could not be rebuilt.
#[derive(Debug, Error, PartialEq, Eq, Clone)]
pub enum RecoveryError {
    /// Fewer distinct valid symbols than the sliver needs.
    #[error("not enough valid recovery symbols: {available} of {required} (rejected {rejected})")]
    NotEnoughSymbols {
        /// Distinct valid symbols.
        available: usize,
        /// Symbols required.
        required: usize,
        /// Symbols refused because they did not verify.
        rejected: usize,
    },
    /// The rebuilt sliver does not match the metadata: the blob was encoded inconsistently,
    /// and the proof shows it to anyone holding the metadata.
    #[error("the recovered sliver does not match the metadata: inconsistent encoding")]
    Inconsistent(Box<InconsistencyProofEither>),
    /// The Reed-Solomon decoder failed.
    #[error(transparent)]
    Codec(#[from] EncodeError),
}

/// A recovery symbol that verified against the metadata for one target sliver, with the leaf
/// hash its verification computed. Only [`verify_recovery_symbols`] makes one, and a rebuild
/// that keeps the symbols of a sliver it verified ([`RebuiltSliver::kept`]). The leaf hash is
/// also the one of the rebuilt target sliver's expansion at the symbol's source index (symbol
/// `E[r][c]` is a leaf of both row `r`'s and column `c`'s trees, and leaves are hashed without
/// their position), so verifying the rebuilt sliver need not hash it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRecoverySymbol<T: EncodingAxis> {
    symbol: RecoverySymbol<T>,
    target_index: SliverIndex,
    leaf_hash: crate::merkle::Digest,
}

impl<T: EncodingAxis> VerifiedRecoverySymbol<T> {
    /// The index of the source sliver (on the orthogonal axis) the symbol comes from.
    pub fn source_index(&self) -> u16 {
        self.symbol.symbol.index
    }

    /// The sliver the symbol was verified for.
    pub fn target_index(&self) -> SliverIndex {
        self.target_index
    }

    /// The symbol with its proof.
    pub fn symbol(&self) -> &RecoverySymbol<T> {
        &self.symbol
    }

    /// The symbol with its proof, without the verification.
    pub fn into_symbol(self) -> RecoverySymbol<T> {
        self.symbol
    }
}

/// Verifies each `(target sliver, symbol)` of `symbols` against `metadata`
/// ([`RecoverySymbol::verify`]), hashing their leaves together (multi-buffer): the verified
/// symbols, or why each other one was refused, in the order given.
pub fn verify_recovery_symbols<T: EncodingAxis>(
    metadata: &VerifiedBlobMetadataWithId,
    symbols: Vec<(SliverIndex, RecoverySymbol<T>)>,
) -> Vec<Result<VerifiedRecoverySymbol<T>, SymbolVerificationError>> {
    // Every check that needs no hashing first; then the leaves and the proof paths of the
    // symbols that passed, all at once (multi-buffer hashing, level by level).
    let checked: Vec<Result<&crate::merkle::Node, SymbolVerificationError>> = symbols
        .iter()
        .map(|(target_index, symbol)| symbol.expected_root(metadata, *target_index))
        .collect();
    let passed = || {
        symbols
            .iter()
            .zip(&checked)
            .filter(|(_, checked)| checked.is_ok())
            .map(|((target_index, symbol), _)| (target_index, symbol))
    };
    let mut leaf_hashes = vec![[0u8; 32]; checked.iter().filter(|c| c.is_ok()).count()];
    crate::merkle::hash_leaves_into(
        passed().map(|(_, symbol)| symbol.symbol.data.as_slice()),
        &mut Vec::new(),
        &mut leaf_hashes,
    );
    let paths: Vec<(&crate::merkle::MerkleProof, crate::merkle::Digest, usize)> = passed()
        .zip(&leaf_hashes)
        .map(|((target_index, symbol), leaf_hash)| {
            (&symbol.proof, *leaf_hash, target_index.as_usize())
        })
        .collect();
    let roots = crate::merkle::compute_roots(&paths);
    let mut hashed = leaf_hashes.into_iter().zip(roots);
    let outcomes: Vec<Result<crate::merkle::Digest, SymbolVerificationError>> = checked
        .into_iter()
        .map(|checked| {
            let expected = checked?;
            let (leaf_hash, root) = hashed.next().unwrap_or_default();
            if crate::merkle::Node::Digest(root) == *expected {
                Ok(leaf_hash)
            } else {
                Err(MerkleProofError::RootMismatch.into())
            }
        })
        .collect();
    symbols
        .into_iter()
        .zip(outcomes)
        .map(|((target_index, symbol), outcome)| {
            Ok(VerifiedRecoverySymbol {
                symbol,
                target_index,
                leaf_hash: outcome?,
            })
        })
        .collect()
}

/// Rebuilds sliver `target_index` of axis `T` from recovery symbols. Symbols that do not verify
/// against `metadata` are dropped (and counted), duplicates are used once, and exactly the
/// required number is used. If the result does not match the metadata, the error carries an
/// inconsistency proof made of the symbols used.
pub fn recover_sliver<T: EncodingAxis>(
    metadata: &VerifiedBlobMetadataWithId,
    target_index: SliverIndex,
    symbols: impl IntoIterator<Item = RecoverySymbol<T>>,
) -> Result<SliverData<T>, RecoveryError>
where
    InconsistencyProofEither: From<InconsistencyProof<T>>,
{
    let required = metadata.config().n_symbols_in_sliver(T::TYPE);
    let mut rejected = 0;
    let mut valid: BTreeMap<u16, VerifiedRecoverySymbol<T>> = BTreeMap::new();
    let symbols = symbols.into_iter().map(|symbol| (target_index, symbol));
    for verified in verify_recovery_symbols(metadata, symbols.collect()) {
        let Ok(verified) = verified else {
            rejected += 1;
            continue;
        };
        if valid.len() < required {
            valid.entry(verified.source_index()).or_insert(verified);
        }
    }
    if valid.len() < required {
        return Err(RecoveryError::NotEnoughSymbols {
            available: valid.len(),
            required,
            rejected,
        });
    }
    recover_sliver_from_verified(metadata, target_index, valid.into_values().collect())
        .map(|rebuilt| rebuilt.sliver)
}

/// A sliver rebuilt from verified recovery symbols ([`recover_slivers_from_verified`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuiltSliver<T: EncodingAxis> {
    /// The sliver, verified against the metadata.
    pub sliver: SliverData<T>,
    /// The Merkle tree of its expansion (over `n` leaves), as its verification built it.
    pub tree: MerkleTree,
    /// The recovery symbols its expansion gives the slivers of the other axis asked to be
    /// kept, by ascending target: verified by the rebuild (the expansion's root is the
    /// metadata's), taken from the expansion the verification computed anyway.
    pub kept: Vec<VerifiedRecoverySymbol<T::Orthogonal>>,
}

/// [`recover_sliver`] from `used`: exactly the required number of symbols verified for
/// `target_index`, from distinct source slivers, as a caller that checks each peer's answer on
/// arrival holds them; they are not verified again. The inconsistency proof of a mismatch is
/// made of them. With the sliver comes the Merkle tree of its expansion (as
/// [`SliverData::verify_with_tree`] gives it); the leaf hashes of the symbols used are not
/// computed again.
pub fn recover_sliver_from_verified<T: EncodingAxis>(
    metadata: &VerifiedBlobMetadataWithId,
    target_index: SliverIndex,
    used: Vec<VerifiedRecoverySymbol<T>>,
) -> Result<RebuiltSliver<T>, RecoveryError>
where
    InconsistencyProofEither: From<InconsistencyProof<T>>,
{
    rebuild_verified(
        metadata,
        target_index,
        used,
        &[],
        &mut DecodePlans::default(),
    )
}

/// [`recover_sliver_from_verified`] for several slivers of axis `T` of one blob, one result
/// per `(target, used)` in order. Slivers rebuilt from the symbols of the same source slivers
/// share one decode plan (the erasure locator and the pruned transforms are computed once), as
/// the slivers a node rebuilds of one blob usually are. Each rebuilt sliver keeps the recovery
/// symbols it gives the slivers `keep` of the other axis (out-of-range indices ignored): a node
/// rebuilding both axes of a blob rebuilds the second from them without expanding the first
/// axis' slivers again.
pub fn recover_slivers_from_verified<T: EncodingAxis>(
    metadata: &VerifiedBlobMetadataWithId,
    work: Vec<(SliverIndex, Vec<VerifiedRecoverySymbol<T>>)>,
    keep: &[SliverIndex],
) -> Vec<Result<RebuiltSliver<T>, RecoveryError>>
where
    InconsistencyProofEither: From<InconsistencyProof<T>>,
{
    let keep = positions_in_range(keep, metadata.config().n());
    let mut plans = DecodePlans::default();
    work.into_iter()
        .map(|(target, used)| rebuild_verified(metadata, target, used, &keep, &mut plans))
        .collect()
}

/// [`recover_sliver_from_verified`] with the decode plans made so far for this blob and axis.
/// `keep`: positions of the expansion (ascending, distinct, `< n`) whose symbols are kept.
fn rebuild_verified<T: EncodingAxis>(
    metadata: &VerifiedBlobMetadataWithId,
    target_index: SliverIndex,
    mut used: Vec<VerifiedRecoverySymbol<T>>,
    keep: &[usize],
    plans: &mut DecodePlans,
) -> Result<RebuiltSliver<T>, RecoveryError>
where
    InconsistencyProofEither: From<InconsistencyProof<T>>,
{
    let required = metadata.config().n_symbols_in_sliver(T::TYPE);
    let usable = used
        .iter()
        .filter(|symbol| symbol.target_index == target_index);
    let distinct: BTreeSet<u16> = usable.map(VerifiedRecoverySymbol::source_index).collect();
    if used.len() != required || distinct.len() != required {
        return Err(RecoveryError::NotEnoughSymbols {
            available: distinct.len(),
            required,
            rejected: 0,
        });
    }
    // In source order, so that slivers rebuilt from the same source slivers share a plan.
    used.sort_by_key(VerifiedRecoverySymbol::source_index);
    let decoding: Vec<&DecodingSymbol<T>> = used.iter().map(|used| &used.symbol.symbol).collect();
    let plan = plans.plan(metadata.layout(), &decoding)?;
    let sliver = decode_sliver::<T>(metadata.layout(), target_index, &decoding, plan)?;
    let known: Vec<(usize, crate::merkle::Digest)> = used
        .iter()
        .map(|symbol| (usize::from(symbol.source_index()), symbol.leaf_hash))
        .collect();
    if let Ok((tree, kept)) = sliver.verify_with_known_leaf_hashes(metadata, &known, keep) {
        let (kept, tree) = kept_symbols(&sliver, tree, keep, kept);
        return Ok(RebuiltSliver { sliver, tree, kept });
    }
    Err(RecoveryError::Inconsistent(Box::new(
        InconsistencyProof {
            target_sliver_index: target_index,
            recovery_symbols: used
                .into_iter()
                .map(VerifiedRecoverySymbol::into_symbol)
                .collect(),
        }
        .into(),
    )))
}

/// The positions of `targets` below `n`, ascending and distinct.
fn positions_in_range(targets: &[SliverIndex], n: usize) -> Vec<usize> {
    let mut positions: Vec<usize> = targets
        .iter()
        .map(|target| target.as_usize())
        .filter(|position| *position < n)
        .collect();
    positions.sort_unstable();
    positions.dedup();
    positions
}

/// The recovery symbols of `sliver` (verified against the metadata: `tree` is its
/// expansion's) at the positions `keep`, whose data `kept` holds one after another; the tree
/// comes back.
fn kept_symbols<T: EncodingAxis>(
    sliver: &SliverData<T>,
    tree: MerkleTree,
    keep: &[usize],
    kept: Vec<u8>,
) -> (Vec<VerifiedRecoverySymbol<T::Orthogonal>>, MerkleTree) {
    if keep.is_empty() {
        return (Vec::new(), tree);
    }
    let expanded = ExpandedSliver::<T> {
        index: sliver.index,
        symbol_size: usize::from(sliver.symbols.symbol_size()),
        symbols: kept,
        positions: Some(keep.to_vec()),
        tree,
        axis: PhantomData,
    };
    let leaf_hashes = expanded.tree.leaf_hashes();
    let symbols = keep
        .iter()
        .filter_map(|position| {
            let target_index = SliverIndex(u16::try_from(*position).ok()?);
            Some(VerifiedRecoverySymbol {
                symbol: expanded.recovery_symbol(target_index)?,
                target_index,
                leaf_hash: *leaf_hashes.get(*position)?,
            })
        })
        .collect();
    (symbols, expanded.tree)
}

/// The decode plans made for one blob and axis, by the source positions they decode from.
#[derive(Default)]
struct DecodePlans {
    plans: Vec<(Vec<usize>, DecodePlan)>,
}

impl DecodePlans {
    /// The plan that decodes a sliver of axis `T` from `symbols` (in this order), made if new.
    fn plan<T: EncodingAxis>(
        &mut self,
        layout: &BlobLayout,
        symbols: &[&DecodingSymbol<T>],
    ) -> Result<&DecodePlan, EncodeError> {
        let positions: Vec<usize> = symbols.iter().map(|s| usize::from(s.index)).collect();
        let found = self.plans.iter().position(|(known, _)| *known == positions);
        let at = match found {
            Some(at) => at,
            None => {
                let k = layout.config.n_symbols_in_sliver(T::TYPE);
                let plan = DecodePlan::new(k, layout.config.n(), &positions)?;
                self.plans.push((positions, plan));
                self.plans.len() - 1
            }
        };
        Ok(&self.plans[at].1)
    }
}

/// Decodes sliver `target_index` of axis `T` from exactly the required number of symbols with
/// distinct source indices (no verification), with `plan`, made for their source indices in
/// this order: the source symbols among them are copied, the others restored.
fn decode_sliver<T: EncodingAxis>(
    layout: &BlobLayout,
    target_index: SliverIndex,
    symbols: &[&DecodingSymbol<T>],
    plan: &DecodePlan,
) -> Result<SliverData<T>, EncodeError> {
    let k = layout.config.n_symbols_in_sliver(T::TYPE);
    let ss = layout.symbol_size();
    if symbols.len() != k || symbols.iter().any(|symbol| symbol.data.len() != ss) {
        return Err(EncodeError::Codec(format!(
            "{} symbols to decode a sliver of {k} symbols of {ss} bytes",
            symbols.len()
        )));
    }
    let mut given: Vec<Option<&[u8]>> = vec![None; k];
    for symbol in symbols {
        if let Some(slot) = given.get_mut(usize::from(symbol.index)) {
            *slot = Some(&symbol.data);
        }
    }
    let mut data = vec![0u8; k * ss];
    let mut missing = Vec::new();
    for (position, out) in data.chunks_exact_mut(ss).enumerate() {
        match given[position] {
            Some(symbol) => out.copy_from_slice(symbol),
            None => missing.push(out),
        }
    }
    if missing.len() != plan.restored().len() {
        return Err(EncodeError::Codec(
            "the decode plan is not the one of these symbols".into(),
        ));
    }
    let given: Vec<&[u8]> = symbols
        .iter()
        .map(|symbol| symbol.data.as_slice())
        .collect();
    // A sliver is a line of `k` symbols: one column of width one symbol.
    super::decoder::restore_rows(plan, ss, 1, &given, missing);
    let symbols =
        Symbols::new(data, layout.symbol_size).map_err(|e| EncodeError::Codec(e.to_string()))?;
    Ok(SliverData::new(symbols, target_index))
}

/// Proof that a blob's encoding is inconsistent: exactly the number of recovery symbols needed
/// to rebuild sliver `target_sliver_index` of axis `T`, each proven against the metadata, which
/// rebuild a sliver whose root differs from the metadata. BCS:
/// `{ target_sliver_index: u16, recovery_symbols: Vec<RecoverySymbol<T>> }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct InconsistencyProof<T: EncodingAxis> {
    /// The sliver the symbols rebuild.
    pub target_sliver_index: SliverIndex,
    /// The symbols, each with its Merkle proof (at most `u16::MAX` when decoded).
    #[serde(deserialize_with = "crate::bounded::bounded_vec::<_, { u16::MAX as usize }, _>")]
    pub recovery_symbols: Vec<RecoverySymbol<T>>,
}

/// An inconsistency proof of either axis. BCS: enum, `Primary` = 0, `Secondary` = 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum InconsistencyProofEither {
    /// The proof rebuilds a primary sliver.
    Primary(InconsistencyProof<Primary>),
    /// The proof rebuilds a secondary sliver.
    Secondary(InconsistencyProof<Secondary>),
}

impl From<InconsistencyProof<Primary>> for InconsistencyProofEither {
    fn from(proof: InconsistencyProof<Primary>) -> Self {
        Self::Primary(proof)
    }
}

impl From<InconsistencyProof<Secondary>> for InconsistencyProofEither {
    fn from(proof: InconsistencyProof<Secondary>) -> Self {
        Self::Secondary(proof)
    }
}

impl InconsistencyProofEither {
    /// Verifies the proof of whichever axis.
    pub fn verify(
        &self,
        metadata: &VerifiedBlobMetadataWithId,
    ) -> Result<(), InconsistencyVerificationError> {
        match self {
            Self::Primary(proof) => proof.verify(metadata),
            Self::Secondary(proof) => proof.verify(metadata),
        }
    }
}

/// Why an inconsistency proof was refused.
#[derive(Debug, Error, PartialEq, Eq, Clone)]
pub enum InconsistencyVerificationError {
    /// The proof does not hold exactly the required number of symbols.
    #[error("the proof holds {actual} symbols, exactly {expected} are required")]
    IncorrectSymbolCount {
        /// Symbols required.
        expected: usize,
        /// Symbols present.
        actual: usize,
    },
    /// A symbol does not verify against the metadata.
    #[error("recovery symbol {position} is invalid: {error}")]
    InvalidRecoverySymbol {
        /// Position of the symbol in the proof.
        position: usize,
        /// Why it was refused.
        error: SymbolVerificationError,
    },
    /// Two symbols come from the same source sliver.
    #[error("two symbols come from source sliver {0}")]
    DuplicateSymbol(u16),
    /// The sliver could not be decoded from the symbols.
    #[error("the sliver could not be decoded from the symbols: {0}")]
    RecoveryFailure(String),
    /// The rebuilt sliver matches the metadata: there is no inconsistency.
    #[error("the recovered sliver matches the metadata: not an inconsistency")]
    SliverNotInconsistent,
    /// The rebuilt sliver failed a check other than its Merkle root.
    #[error("the recovered sliver is malformed: {0}")]
    VerificationError(SliverVerificationError),
}

impl<T: EncodingAxis> InconsistencyProof<T> {
    /// Verifies the proof with nothing but the metadata: the count is exact, every symbol is
    /// proven, and the rebuilt sliver's root differs from the metadata.
    pub fn verify(
        &self,
        metadata: &VerifiedBlobMetadataWithId,
    ) -> Result<(), InconsistencyVerificationError> {
        let expected = metadata.config().n_symbols_in_sliver(T::TYPE);
        if self.recovery_symbols.len() != expected {
            return Err(InconsistencyVerificationError::IncorrectSymbolCount {
                expected,
                actual: self.recovery_symbols.len(),
            });
        }
        let mut seen = std::collections::BTreeSet::new();
        for (position, symbol) in self.recovery_symbols.iter().enumerate() {
            symbol
                .verify(metadata, self.target_sliver_index)
                .map_err(
                    |error| InconsistencyVerificationError::InvalidRecoverySymbol {
                        position,
                        error,
                    },
                )?;
            if !seen.insert(symbol.symbol.index) {
                return Err(InconsistencyVerificationError::DuplicateSymbol(
                    symbol.symbol.index,
                ));
            }
        }
        let decoding: Vec<&DecodingSymbol<T>> = self
            .recovery_symbols
            .iter()
            .map(|symbol| &symbol.symbol)
            .collect();
        let sliver = DecodePlans::default()
            .plan(metadata.layout(), &decoding)
            .and_then(|plan| {
                decode_sliver::<T>(metadata.layout(), self.target_sliver_index, &decoding, plan)
            })
            .map_err(|error| InconsistencyVerificationError::RecoveryFailure(error.to_string()))?;
        match sliver.verify(metadata) {
            Ok(()) => Err(InconsistencyVerificationError::SliverNotInconsistent),
            Err(SliverVerificationError::MerkleRootMismatch) => Ok(()),
            Err(error) => Err(InconsistencyVerificationError::VerificationError(error)),
        }
    }
}

/// The symbols of the expansion of raw sliver data of `axis` (helper for tests and tools that
/// build deliberately inconsistent encodings).
pub fn expand_sliver_data(
    layout: &BlobLayout,
    axis: SliverType,
    data: &[u8],
) -> Result<Vec<u8>, EncodeError> {
    expand_symbols(layout, axis, data)
}
