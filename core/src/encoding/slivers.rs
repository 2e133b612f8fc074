//! Slivers: the symbols of one row (primary) or column (secondary) of the expanded matrix
//! restricted to its source part, and their verification against blob metadata.

use std::{marker::PhantomData, num::NonZeroU16};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::{rs, BlobLayout, EncodingAxis, Primary, Secondary, SliverType};
use crate::{
    merkle::{Digest, MerkleTree, Node},
    metadata::VerifiedBlobMetadataWithId,
    EncodeError, SliverIndex, SliverPairIndex,
};

/// A sequence of equally sized symbols. BCS: `{ data: Vec<u8>, symbol_size: u16 }`.
///
/// The bytes go through serde as one byte string (`serde_bytes`: the same BCS, a length and
/// the bytes), not element by element: decoding a sliver was most of a storage node's CPU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SymbolsWire")]
pub struct Symbols {
    #[serde(with = "serde_bytes")]
    data: Vec<u8>,
    symbol_size: NonZeroU16,
}

#[derive(Deserialize)]
struct SymbolsWire {
    #[serde(with = "serde_bytes")]
    data: Vec<u8>,
    symbol_size: u16,
}

impl TryFrom<SymbolsWire> for Symbols {
    type Error = String;

    fn try_from(wire: SymbolsWire) -> Result<Self, Self::Error> {
        Symbols::new(wire.data, wire.symbol_size).map_err(|error| error.to_string())
    }
}

/// Why a symbol sequence could not be built.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SymbolsError {
    /// The symbol size is zero.
    #[error("symbol size must be positive")]
    ZeroSymbolSize,
    /// The data length is not a multiple of the symbol size.
    #[error("{length} bytes is not a whole number of {symbol_size}-byte symbols")]
    RaggedData {
        /// Bytes of data.
        length: usize,
        /// The symbol size.
        symbol_size: u16,
    },
}

/// `symbol_size` if `length` bytes are a whole number of symbols of that (positive) size.
fn checked_symbol_size(length: usize, symbol_size: u16) -> Result<NonZeroU16, SymbolsError> {
    let size = NonZeroU16::new(symbol_size).ok_or(SymbolsError::ZeroSymbolSize)?;
    if length.is_multiple_of(usize::from(symbol_size)) {
        Ok(size)
    } else {
        Err(SymbolsError::RaggedData {
            length,
            symbol_size,
        })
    }
}

impl Symbols {
    /// Wraps `data` as symbols of `symbol_size` bytes.
    pub fn new(data: Vec<u8>, symbol_size: u16) -> Result<Self, SymbolsError> {
        let symbol_size = checked_symbol_size(data.len(), symbol_size)?;
        Ok(Self { data, symbol_size })
    }

    /// Bytes per symbol.
    pub fn symbol_size(&self) -> u16 {
        self.symbol_size.get()
    }

    /// The raw bytes.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Unwraps into the raw bytes.
    pub fn into_data(self) -> Vec<u8> {
        self.data
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        self.data.len() / usize::from(self.symbol_size.get())
    }

    /// Whether there are no symbols.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Symbol `index`, if present.
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        let size = usize::from(self.symbol_size.get());
        self.data.get(index * size..(index + 1) * size)
    }

    /// Iterates over the symbols.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[u8]> {
        self.data.chunks_exact(usize::from(self.symbol_size.get()))
    }
}

/// Why a sliver does not match the blob metadata.
#[derive(Debug, Error, PartialEq, Eq, Clone)]
pub enum SliverVerificationError {
    /// The sliver index is not below the number of shards.
    #[error("sliver index {index} is out of range for {n_shards} shards")]
    IndexTooLarge {
        /// The index.
        index: u16,
        /// Shards of the committee.
        n_shards: u16,
    },
    /// The sliver length differs from the length the metadata imply.
    #[error("sliver has {actual} bytes, expected {expected}")]
    SliverSizeMismatch {
        /// Bytes expected.
        expected: usize,
        /// Bytes found.
        actual: usize,
    },
    /// The symbol size differs from the one the metadata imply.
    #[error("sliver symbol size is {actual}, expected {expected}")]
    SymbolSizeMismatch {
        /// Symbol size expected.
        expected: u16,
        /// Symbol size found.
        actual: u16,
    },
    /// The Merkle root of the expanded sliver differs from the metadata.
    #[error("the sliver's Merkle root does not match the metadata")]
    MerkleRootMismatch,
    /// The sliver could not be expanded (should not happen for a well-formed sliver).
    #[error("the sliver could not be expanded: {0}")]
    Expansion(String),
}

/// The source symbols of one sliver of axis `T`. BCS:
/// `{ symbols: { data: Vec<u8>, symbol_size: u16 }, index: u16 }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct SliverData<T: EncodingAxis> {
    /// The symbols.
    pub symbols: Symbols,
    /// The sliver index along its axis.
    pub index: SliverIndex,
    #[serde(skip)]
    axis: PhantomData<T>,
}

/// A primary sliver (a row).
pub type PrimarySliver = SliverData<Primary>;
/// A secondary sliver (a column).
pub type SecondarySliver = SliverData<Secondary>;

impl<T: EncodingAxis> SliverData<T> {
    /// A sliver with the given symbols and index.
    pub fn new(symbols: Symbols, index: SliverIndex) -> Self {
        Self {
            symbols,
            index,
            axis: PhantomData,
        }
    }

    /// Builds a sliver from raw data; fails if the data are not whole symbols.
    pub fn from_data(
        data: Vec<u8>,
        symbol_size: u16,
        index: SliverIndex,
    ) -> Result<Self, SymbolsError> {
        Ok(Self::new(Symbols::new(data, symbol_size)?, index))
    }

    /// The axis of the sliver.
    pub fn sliver_type(&self) -> SliverType {
        T::TYPE
    }

    /// The pair this sliver belongs to, or `None` if its index is not below `n_shards`.
    pub fn pair_index(&self, n_shards: u16) -> Option<SliverPairIndex> {
        crate::metadata::sliver_pair_index(T::TYPE, self.index, n_shards)
    }

    /// The `n` symbols of the sliver extended with the code of its own axis (for a primary
    /// sliver, the full row of the expanded matrix), concatenated.
    pub fn expand(&self, layout: &BlobLayout) -> Result<Vec<u8>, EncodeError> {
        expand_symbols(layout, T::TYPE, self.symbols.data())
    }

    /// The Merkle tree over the `n` symbols of the expanded sliver (hashed straight from the
    /// sliver and the codec's output: the expansion is never assembled).
    pub fn merkle_tree(&self, layout: &BlobLayout) -> Result<MerkleTree, EncodeError> {
        Ok(MerkleTree::from_leaf_hashes(expanded_leaf_hashes(
            layout,
            T::TYPE,
            self.symbols.data(),
        )?))
    }

    /// Checks the sliver against verified metadata: index, length, symbol size and the Merkle
    /// root of its expansion.
    pub fn verify(
        &self,
        metadata: &VerifiedBlobMetadataWithId,
    ) -> Result<(), SliverVerificationError> {
        self.verify_with_tree(metadata).map(drop)
    }

    /// [`Self::verify`], returning the Merkle tree of the expansion it computed (over `n`
    /// leaves): with its nodes a holder hands out recovery symbols and proofs without
    /// expanding or hashing anything again ([`crate::encoding::ExpandedSliver::with_tree_nodes`]).
    pub fn verify_with_tree(
        &self,
        metadata: &VerifiedBlobMetadataWithId,
    ) -> Result<MerkleTree, SliverVerificationError> {
        self.borrowed().verify_with_tree(metadata)
    }

    /// [`Self::verify_with_tree`] given some of the leaf hashes: `known` holds
    /// `(position, hash)` pairs of symbols of the expansion already hashed (a rebuilt sliver's
    /// verified recovery symbols); only the other positions are hashed. A wrong known hash
    /// makes the root differ, as a wrong symbol would. With the hashes come the symbols of the
    /// expansion at the positions `keep` (ascending, distinct, in range), one after another.
    pub(crate) fn verify_with_known_leaf_hashes(
        &self,
        metadata: &VerifiedBlobMetadataWithId,
        known: &[(usize, Digest)],
        keep: &[usize],
    ) -> Result<(MerkleTree, Vec<u8>), SliverVerificationError> {
        let data = self.symbols.data();
        check_shape(
            T::TYPE,
            self.index,
            data.len(),
            self.symbols.symbol_size(),
            metadata,
        )?;
        let (leaf_hashes, kept) =
            expanded_leaf_hashes_with_known(metadata.layout(), T::TYPE, data, known, keep)
                .map_err(|error| SliverVerificationError::Expansion(error.to_string()))?;
        let tree = check_root(T::TYPE, self.index, leaf_hashes, metadata)?;
        Ok((tree, kept))
    }

    /// The sliver as a [`SliverBytes`] view (the symbols borrowed).
    fn borrowed(&self) -> SliverBytes<'_, T> {
        SliverBytes {
            data: self.symbols.data(),
            symbol_size: self.symbols.symbol_size,
            index: self.index,
            axis: PhantomData,
        }
    }

    /// The cheap checks of [`Self::verify`]: index, length and symbol size.
    pub fn check_shape(
        &self,
        metadata: &VerifiedBlobMetadataWithId,
    ) -> Result<(), SliverVerificationError> {
        check_shape(
            T::TYPE,
            self.index,
            self.symbols.data().len(),
            self.symbols.symbol_size(),
            metadata,
        )
    }

    /// The Merkle root of the sliver's expansion (what the metadata should hold for it).
    pub fn root(&self, layout: &BlobLayout) -> Result<Node, EncodeError> {
        Ok(self.merkle_tree(layout)?.root())
    }
}

/// The cheap checks of a sliver of `axis` against verified metadata: index, length and
/// symbol size.
fn check_shape(
    axis: SliverType,
    index: SliverIndex,
    length: usize,
    symbol_size: u16,
    metadata: &VerifiedBlobMetadataWithId,
) -> Result<(), SliverVerificationError> {
    let layout = metadata.layout();
    let n_shards = layout.config.n_shards();
    if index.get() >= n_shards {
        return Err(SliverVerificationError::IndexTooLarge {
            index: index.get(),
            n_shards,
        });
    }
    let expected = layout.sliver_length(axis);
    if length != expected {
        return Err(SliverVerificationError::SliverSizeMismatch {
            expected,
            actual: length,
        });
    }
    if symbol_size != layout.symbol_size {
        return Err(SliverVerificationError::SymbolSizeMismatch {
            expected: layout.symbol_size,
            actual: symbol_size,
        });
    }
    Ok(())
}

/// Verifies the sliver of `axis` with `index` and the source symbols `data` against
/// `metadata`, returning the Merkle tree of its expansion.
fn verified_tree(
    axis: SliverType,
    index: SliverIndex,
    data: &[u8],
    symbol_size: u16,
    metadata: &VerifiedBlobMetadataWithId,
) -> Result<MerkleTree, SliverVerificationError> {
    check_shape(axis, index, data.len(), symbol_size, metadata)?;
    let leaf_hashes = expanded_leaf_hashes(metadata.layout(), axis, data)
        .map_err(|error| SliverVerificationError::Expansion(error.to_string()))?;
    check_root(axis, index, leaf_hashes, metadata)
}

/// The tree over `leaf_hashes`, checked to have the root `metadata` holds for sliver `index`
/// of `axis`.
fn check_root(
    axis: SliverType,
    index: SliverIndex,
    leaf_hashes: Vec<Digest>,
    metadata: &VerifiedBlobMetadataWithId,
) -> Result<MerkleTree, SliverVerificationError> {
    let tree = MerkleTree::from_leaf_hashes(leaf_hashes);
    if Some(&tree.root()) == metadata.sliver_hash(axis, index) {
        Ok(tree)
    } else {
        Err(SliverVerificationError::MerkleRootMismatch)
    }
}

/// A sliver of axis `T` read in place from its BCS bytes (the layout of [`SliverData`]): the
/// symbols are borrowed, not copied. A node checks an upload with it and stores the bytes as
/// they came: BCS decoding is canonical (minimal lengths, no trailing bytes), so bytes that
/// decode are exactly the encoding of the sliver they hold.
#[derive(Debug, Clone, Copy)]
pub struct SliverBytes<'a, T: EncodingAxis> {
    data: &'a [u8],
    symbol_size: NonZeroU16,
    index: SliverIndex,
    axis: PhantomData<T>,
}

#[derive(Deserialize)]
struct SliverBytesWire<'a> {
    #[serde(borrow)]
    symbols: SymbolsBytesWire<'a>,
    index: SliverIndex,
}

#[derive(Deserialize)]
struct SymbolsBytesWire<'a> {
    #[serde(borrow)]
    data: &'a [u8],
    symbol_size: u16,
}

impl<'a, T: EncodingAxis> SliverBytes<'a, T> {
    /// Reads the BCS of a sliver of axis `T`, with the checks of decoding a [`SliverData`]
    /// (positive symbol size, whole symbols, no bytes left over).
    pub fn decode(bcs_bytes: &'a [u8]) -> Result<Self, bcs::Error> {
        let wire: SliverBytesWire<'a> = bcs::from_bytes(bcs_bytes)?;
        let SymbolsBytesWire { data, symbol_size } = wire.symbols;
        let symbol_size = checked_symbol_size(data.len(), symbol_size)
            .map_err(|error| bcs::Error::Custom(error.to_string()))?;
        Ok(Self {
            data,
            symbol_size,
            index: wire.index,
            axis: PhantomData,
        })
    }

    /// The sliver index along its axis.
    pub fn index(&self) -> SliverIndex {
        self.index
    }

    /// The symbols' bytes, one after another.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// An owned copy.
    pub fn to_sliver(self) -> SliverData<T> {
        let symbols = Symbols {
            data: self.data.to_vec(),
            symbol_size: self.symbol_size,
        };
        SliverData::new(symbols, self.index)
    }

    /// [`SliverData::verify_with_tree`] on the borrowed symbols.
    pub fn verify_with_tree(
        &self,
        metadata: &VerifiedBlobMetadataWithId,
    ) -> Result<MerkleTree, SliverVerificationError> {
        verified_tree(
            T::TYPE,
            self.index,
            self.data,
            self.symbol_size.get(),
            metadata,
        )
    }
}

impl<'a, T: EncodingAxis> From<&'a SliverData<T>> for SliverBytes<'a, T> {
    fn from(sliver: &'a SliverData<T>) -> Self {
        Self {
            data: sliver.symbols.data(),
            symbol_size: sliver.symbols.symbol_size,
            index: sliver.index,
            axis: PhantomData,
        }
    }
}

/// Extends `data` (the source symbols of one sliver of `axis`) to all `n` symbols and hands
/// them, source symbols first, to `use_symbols` (without assembling the expansion).
pub(crate) fn with_expanded_symbols<R>(
    layout: &BlobLayout,
    axis: SliverType,
    data: &[u8],
    use_symbols: impl FnOnce(&mut dyn Iterator<Item = &[u8]>) -> R,
) -> Result<R, EncodeError> {
    let n = layout.config.n();
    let k = layout.config.n_symbols_in_sliver(axis);
    let symbol_size = layout.symbol_size();
    if data.len() != k * symbol_size {
        return Err(EncodeError::Codec(format!(
            "sliver has {} bytes, expected {}",
            data.len(),
            k * symbol_size
        )));
    }
    rs::encode_symbols(
        k,
        n,
        symbol_size,
        |i| &data[i * symbol_size..(i + 1) * symbol_size],
        |recovery| {
            // `dyn Iterator` is invariant in its item lifetime: shorten it by mapping.
            let recovery = recovery.map(|symbol| -> &[u8] { symbol });
            use_symbols(&mut data.chunks_exact(symbol_size).chain(recovery))
        },
    )
}

/// Extends `data` (the source symbols of one sliver of `axis`) to all `n` symbols.
pub(crate) fn expand_symbols(
    layout: &BlobLayout,
    axis: SliverType,
    data: &[u8],
) -> Result<Vec<u8>, EncodeError> {
    with_expanded_symbols(layout, axis, data, |symbols| {
        let mut expanded = Vec::with_capacity(layout.config.n() * layout.symbol_size());
        symbols.for_each(|symbol| expanded.extend_from_slice(symbol));
        expanded
    })
}

/// The Merkle leaf hashes of the `n` symbols that `data` (the source symbols of one sliver of
/// `axis`) expands to, hashed as the codec produces them.
pub(crate) fn expanded_leaf_hashes(
    layout: &BlobLayout,
    axis: SliverType,
    data: &[u8],
) -> Result<Vec<Digest>, EncodeError> {
    let mut hashes = vec![[0u8; 32]; layout.config.n()];
    with_expanded_symbols(layout, axis, data, |symbols| {
        crate::merkle::hash_leaves_into(symbols, &mut Vec::new(), &mut hashes);
    })?;
    Ok(hashes)
}

/// [`expanded_leaf_hashes`] with the hashes at the positions of `known` given (positions out
/// of range are ignored): only the other symbols are hashed. With them, the symbols at the
/// positions `keep` (ascending), copied out of the expansion as it goes by.
fn expanded_leaf_hashes_with_known(
    layout: &BlobLayout,
    axis: SliverType,
    data: &[u8],
    known: &[(usize, Digest)],
    keep: &[usize],
) -> Result<(Vec<Digest>, Vec<u8>), EncodeError> {
    let mut slots: Vec<Option<Digest>> = vec![None; layout.config.n()];
    for (position, hash) in known {
        if let Some(slot) = slots.get_mut(*position) {
            *slot = Some(*hash);
        }
    }
    let mut computed = vec![[0u8; 32]; slots.iter().filter(|slot| slot.is_none()).count()];
    let mut kept = Vec::with_capacity(keep.len() * layout.symbol_size());
    with_expanded_symbols(layout, axis, data, |symbols| {
        let mut wanted = keep.iter().peekable();
        let unknown = symbols
            .zip(&slots)
            .enumerate()
            .filter_map(|(position, (symbol, slot))| {
                if wanted.next_if_eq(&&position).is_some() {
                    kept.extend_from_slice(symbol);
                }
                slot.is_none().then_some(symbol)
            });
        crate::merkle::hash_leaves_into(unknown, &mut Vec::new(), &mut computed);
    })?;
    let mut computed = computed.into_iter();
    let hashes = slots
        .into_iter()
        .map(|slot| slot.unwrap_or_else(|| computed.next().unwrap_or_default()))
        .collect();
    Ok((hashes, kept))
}

/// A sliver of either axis. BCS: enum, `Primary` = 0, `Secondary` = 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sliver {
    /// A primary sliver.
    Primary(PrimarySliver),
    /// A secondary sliver.
    Secondary(SecondarySliver),
}

impl<T: EncodingAxis> From<SliverData<T>> for Sliver {
    fn from(sliver: SliverData<T>) -> Self {
        let SliverData { symbols, index, .. } = sliver;
        match T::TYPE {
            SliverType::Primary => Sliver::Primary(SliverData::new(symbols, index)),
            SliverType::Secondary => Sliver::Secondary(SliverData::new(symbols, index)),
        }
    }
}

impl Sliver {
    /// The axis.
    pub fn sliver_type(&self) -> SliverType {
        match self {
            Sliver::Primary(_) => SliverType::Primary,
            Sliver::Secondary(_) => SliverType::Secondary,
        }
    }

    /// The sliver index along its axis.
    pub fn index(&self) -> SliverIndex {
        match self {
            Sliver::Primary(sliver) => sliver.index,
            Sliver::Secondary(sliver) => sliver.index,
        }
    }

    /// Verifies the sliver against metadata.
    pub fn verify(
        &self,
        metadata: &VerifiedBlobMetadataWithId,
    ) -> Result<(), SliverVerificationError> {
        match self {
            Sliver::Primary(sliver) => sliver.verify(metadata),
            Sliver::Secondary(sliver) => sliver.verify(metadata),
        }
    }
}

/// The primary and secondary sliver a shard stores for one blob. BCS: primary, then secondary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SliverPair {
    /// Primary sliver `i`.
    pub primary: PrimarySliver,
    /// Secondary sliver `n - 1 - i`.
    pub secondary: SecondarySliver,
}

impl SliverPair {
    /// The pair index (the primary sliver's index).
    pub fn index(&self) -> SliverPairIndex {
        SliverPairIndex(self.primary.index.get())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;
    use crate::encoding::{encode_blob, EncodingConfig};

    /// The Merkle tree over an expansion assembled from the packed codec output, the way
    /// the expansion was built before it was hashed straight from the codec.
    fn tree_of_packed_expansion<T: EncodingAxis>(
        sliver: &SliverData<T>,
        layout: &BlobLayout,
    ) -> MerkleTree {
        let (n, symbol_size) = (layout.config.n(), layout.symbol_size());
        let k = layout.config.n_symbols_in_sliver(T::TYPE);
        let data = sliver.symbols.data();
        let recovery = rs::encode_lines(k, n, symbol_size, 1, |_, i| {
            &data[i * symbol_size..(i + 1) * symbol_size]
        })
        .unwrap();
        let mut expanded = data.to_vec();
        expanded.extend((0..n - k).flat_map(|j| recovery.symbol(0, j)));
        MerkleTree::from_leaves(expanded.chunks_exact(symbol_size))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]

        #[test]
        fn slivers_verify_and_hash_like_their_assembled_expansion(
            n_shards in prop::sample::select(vec![4u16, 7, 10, 31]),
            len in 0usize..6000,
            seed in any::<u8>(),
        ) {
            let config = EncodingConfig::new(n_shards).unwrap();
            let blob: Vec<u8> = (0..len).map(|i| i.to_le_bytes()[0].wrapping_mul(31) ^ seed).collect();
            let encoded = encode_blob(&config, &blob).unwrap();
            let layout = encoded.metadata.layout();
            for pair in &encoded.sliver_pairs {
                let primary = pair.primary.verify_with_tree(&encoded.metadata).unwrap();
                let primary_bcs = bcs::to_bytes(&pair.primary).unwrap();
                let in_place = SliverBytes::<Primary>::decode(&primary_bcs).unwrap();
                prop_assert_eq!(&in_place.verify_with_tree(&encoded.metadata).unwrap(), &primary);
                let secondary = pair.secondary.verify_with_tree(&encoded.metadata).unwrap();
                prop_assert_eq!(&primary, &tree_of_packed_expansion(&pair.primary, layout));
                prop_assert_eq!(secondary, tree_of_packed_expansion(&pair.secondary, layout));
                let primary = primary.into_leaf_hashes();
                let expanded = pair.primary.expand(layout).unwrap();
                prop_assert_eq!(
                    MerkleTree::from_leaves(expanded.chunks_exact(layout.symbol_size())).root(),
                    pair.primary.merkle_tree(layout).unwrap().root()
                );
                // Some leaf hashes given (every third, and one out of range): the same hashes;
                // one of them wrong: the root differs.
                let mut known: Vec<(usize, Digest)> =
                    primary.iter().copied().enumerate().step_by(3).collect();
                known.push((primary.len(), [7; 32]));
                let metadata = &encoded.metadata;
                // Kept: the first and last source symbols and some repair symbols.
                let n = layout.config.n();
                let in_sliver = layout.config.n_symbols_in_sliver(SliverType::Primary);
                let keep: Vec<usize> = [0, in_sliver - 1, in_sliver, n - 1]
                    .into_iter()
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                let (given, kept) =
                    pair.primary.verify_with_known_leaf_hashes(metadata, &known, &keep).unwrap();
                prop_assert_eq!(given.leaf_hashes(), &primary[..]);
                let ss = layout.symbol_size();
                let wanted: Vec<u8> = keep
                    .iter()
                    .flat_map(|position| &expanded[position * ss..(position + 1) * ss])
                    .copied()
                    .collect();
                prop_assert_eq!(kept, wanted);
                known[0].1[0] ^= 1;
                prop_assert_eq!(
                    pair.primary.verify_with_known_leaf_hashes(metadata, &known, &[]),
                    Err(SliverVerificationError::MerkleRootMismatch)
                );
            }
        }
    }

    #[test]
    fn sliver_bcs_layout() {
        let sliver = PrimarySliver::from_data(vec![1, 2, 3, 4], 2, SliverIndex(5)).unwrap();
        let bytes = bcs::to_bytes(&sliver).unwrap();
        assert_eq!(bytes, vec![4, 1, 2, 3, 4, 2, 0, 5, 0]);
        assert_eq!(bcs::from_bytes::<PrimarySliver>(&bytes).unwrap(), sliver);
        let either = bcs::to_bytes(&Sliver::Secondary(SecondarySliver::new(
            sliver.symbols.clone(),
            SliverIndex(5),
        )))
        .unwrap();
        assert_eq!(either[0], 1);
    }

    #[test]
    fn sliver_bytes_read_what_sliver_data_reads_and_nothing_else() {
        let sliver = PrimarySliver::from_data(vec![1, 2, 3, 4], 2, SliverIndex(5)).unwrap();
        let bytes = bcs::to_bytes(&sliver).unwrap();
        let view = SliverBytes::<Primary>::decode(&bytes).unwrap();
        assert_eq!(view.index(), SliverIndex(5));
        assert_eq!(view.to_sliver(), sliver);
        assert_eq!(bcs::to_bytes(&view.to_sliver()).unwrap(), bytes);
        // A length in two bytes where one does (not canonical), a byte left over, a zero
        // symbol size, ragged symbols, truncation: each refused as `SliverData` refuses it.
        let refused: [&[u8]; 5] = [
            &[0x84, 0x00, 1, 2, 3, 4, 2, 0, 5, 0],
            &[4, 1, 2, 3, 4, 2, 0, 5, 0, 9],
            &[2, 1, 2, 0, 0, 5, 0],
            &[3, 1, 2, 3, 2, 0, 5, 0],
            &[9, 1],
        ];
        for bytes in refused {
            assert!(SliverBytes::<Primary>::decode(bytes).is_err(), "{bytes:?}");
            assert!(
                bcs::from_bytes::<PrimarySliver>(bytes).is_err(),
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn malformed_symbols_are_refused() {
        // symbol size 0
        assert!(bcs::from_bytes::<PrimarySliver>(&[2, 1, 2, 0, 0, 5, 0]).is_err());
        // 3 bytes of 2-byte symbols
        assert!(bcs::from_bytes::<PrimarySliver>(&[3, 1, 2, 3, 2, 0, 5, 0]).is_err());
        // truncated
        assert!(bcs::from_bytes::<PrimarySliver>(&[9, 1]).is_err());
    }
}
