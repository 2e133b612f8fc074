//! Encoding a blob in stripes, in memory bounded by a constant: the blob is read and the
//! slivers are written through a [`StripeStorage`] (a file on disk in the SDK), a stripe of
//! lines at a time.
//!
//! The result is byte for byte the one of [`super::encode_blob`]: same slivers, same
//! metadata, same blob ID. Two passes over the message matrix (see `encoder` for the layout):
//!
//! 1. **Rows**, a stripe of source rows at a time (contiguous in the blob): each row is
//!    extended to `n` symbols with the secondary code, and the stripe's symbols of every
//!    column are written into the secondary slivers (column `c`, rows `r0..r1`).
//! 2. **Columns**, a stripe of secondary slivers at a time (contiguous in the spill): each is
//!    extended to `n` symbols with the primary code; every leaf of the expansion is hashed
//!    once (its hash serves its column tree now and its row tree at the end), and the new
//!    symbols of source columns are written into the primary slivers `n - 2f .. n`.
//!
//! The source rows (zero padded past the blob's end) are primary slivers `0 .. n - 2f`: pass 1
//! copies them into the spill too, so the blob is read once, in order, and the slivers do not
//! depend on the blob's file staying unchanged. The spill holds the `n` secondary slivers, then
//! the `n` primary slivers: [`SpillLayout`]. Memory: the stripe buffers (about `stripe_bytes`)
//! plus `32 * n^2` bytes of leaf hashes.

use rayon::prelude::*;
use thiserror::Error;

use super::{
    decoder::restore_rows,
    encoder::batch_lines,
    erasure::DecodePlan,
    rs::{self, Packing},
    BlobLayout, EncodingConfig, PrimarySliver, SecondarySliver, SliverPair, Symbols,
};
use crate::{
    merkle::{hash_leaves_into, root_from_leaf_hashes, Digest, Node},
    metadata::{SliverPairMetadata, VerifiedBlobMetadataWithId},
    EncodeError, SliverIndex, SliverPairIndex,
};

/// Default memory budget of one stripe's buffers.
pub const DEFAULT_STRIPE_BYTES: usize = 64 << 20;

/// Where a striped encoding reads its blob and keeps the slivers it produces. Offsets are in
/// bytes; the encoder reads only bytes it wrote before, and only blob bytes below the blob's
/// length.
pub trait StripeStorage {
    /// The storage's error.
    type Error;
    /// Fills `buf` with the blob's bytes at `offset`.
    fn read_blob(&self, offset: u64, buf: &mut [u8]) -> Result<(), Self::Error>;
    /// Writes `data` at `offset` of the spill.
    fn write_spill(&self, offset: u64, data: &[u8]) -> Result<(), Self::Error>;
    /// Fills `buf` from `offset` of the spill.
    fn read_spill(&self, offset: u64, buf: &mut [u8]) -> Result<(), Self::Error>;
}

/// Why a striped encoding or a sliver read failed.
#[derive(Debug, Error)]
pub enum StripedError<E> {
    /// The blob cannot be encoded (too large for the shard count, or a codec failure).
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The storage failed.
    #[error("stripe storage: {0}")]
    Storage(E),
    /// A sliver index beyond the shard count was asked for.
    #[error("no sliver pair {index} among {n_shards}")]
    NoSuchPair {
        /// The index asked for.
        index: u16,
        /// The shard count.
        n_shards: u16,
    },
}

/// Where each sliver of a striped encoding is in the spill: secondary slivers `0..n`, then
/// primary slivers `0..n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpillLayout {
    layout: BlobLayout,
}

impl SpillLayout {
    /// The spill layout of a blob of `layout`.
    pub fn new(layout: BlobLayout) -> Self {
        Self { layout }
    }

    /// The blob's layout.
    pub fn blob_layout(&self) -> BlobLayout {
        self.layout
    }

    fn secondary_length(&self) -> u64 {
        self.layout.sliver_length(super::SliverType::Secondary) as u64
    }

    fn primary_length(&self) -> u64 {
        self.layout.row_length() as u64
    }

    /// Offset of secondary sliver `column` in the spill.
    pub fn secondary_offset(&self, column: usize) -> u64 {
        column as u64 * self.secondary_length()
    }

    /// Offset of primary sliver `row` in the spill.
    pub fn primary_offset(&self, row: usize) -> u64 {
        self.secondary_offset(self.layout.config.n()) + row as u64 * self.primary_length()
    }

    /// Bytes of the spill: every sliver (the blob's encoded size without metadata, about 4.5x
    /// the blob).
    pub fn spill_length(&self) -> u64 {
        self.primary_offset(self.layout.config.n())
    }

    /// Reads primary sliver `row` from the spill.
    pub fn read_primary<S: StripeStorage>(
        &self,
        storage: &S,
        row: usize,
    ) -> Result<PrimarySliver, StripedError<S::Error>> {
        let index = self.checked_index(row)?;
        let mut data = vec![0u8; self.layout.row_length()];
        storage
            .read_spill(self.primary_offset(row), &mut data)
            .map_err(StripedError::Storage)?;
        Ok(PrimarySliver::new(self.symbols(data)?, index))
    }

    /// Reads secondary sliver `column` from the spill.
    pub fn read_secondary<S: StripeStorage>(
        &self,
        storage: &S,
        column: usize,
    ) -> Result<SecondarySliver, StripedError<S::Error>> {
        let index = self.checked_index(column)?;
        let mut data = vec![0u8; self.layout.sliver_length(super::SliverType::Secondary)];
        storage
            .read_spill(self.secondary_offset(column), &mut data)
            .map_err(StripedError::Storage)?;
        Ok(SecondarySliver::new(self.symbols(data)?, index))
    }

    /// Reads sliver pair `pair`: primary sliver `pair` and secondary sliver `n - 1 - pair`.
    pub fn read_pair<S: StripeStorage>(
        &self,
        storage: &S,
        pair: SliverPairIndex,
    ) -> Result<SliverPair, StripedError<S::Error>> {
        let index = usize::from(pair.0);
        let n = self.layout.config.n();
        self.checked_index(index)?;
        Ok(SliverPair {
            primary: self.read_primary(storage, index)?,
            secondary: self.read_secondary(storage, n - 1 - index)?,
        })
    }

    fn checked_index<E>(&self, index: usize) -> Result<SliverIndex, StripedError<E>> {
        let n_shards = self.layout.config.n_shards();
        u16::try_from(index)
            .ok()
            .filter(|index| *index < n_shards)
            .map(SliverIndex)
            .ok_or(StripedError::NoSuchPair {
                index: u16::try_from(index).unwrap_or(u16::MAX),
                n_shards,
            })
    }

    fn symbols<E>(&self, data: Vec<u8>) -> Result<Symbols, StripedError<E>> {
        Symbols::new(data, self.layout.symbol_size)
            .map_err(|error| StripedError::Encode(EncodeError::Codec(error.to_string())))
    }
}

/// Encodes the blob of `length` bytes that `storage` holds, writing its slivers into the
/// spill ([`SpillLayout`]), in stripes of about `stripe_bytes`; returns its metadata.
pub fn encode_striped<S: StripeStorage + Sync>(
    config: &EncodingConfig,
    length: u64,
    storage: &S,
    stripe_bytes: usize,
) -> Result<VerifiedBlobMetadataWithId, StripedError<S::Error>>
where
    S::Error: Send,
{
    run(config, length, storage, stripe_bytes, true)
}

/// Computes the metadata of the blob of `length` bytes that `storage` holds as
/// [`encode_striped`] does, but writes only the secondary slivers (the column pass needs them;
/// the spill needs only [`SpillLayout::primary_offset`]`(0)` bytes).
pub fn compute_metadata_striped<S: StripeStorage + Sync>(
    config: &EncodingConfig,
    length: u64,
    storage: &S,
    stripe_bytes: usize,
) -> Result<VerifiedBlobMetadataWithId, StripedError<S::Error>>
where
    S::Error: Send,
{
    run(config, length, storage, stripe_bytes, false)
}

/// Reads `buf.len()` bytes of the blob at `offset`, zeros past the blob's end.
fn read_blob_padded<S: StripeStorage>(
    layout: &BlobLayout,
    storage: &S,
    offset: u64,
    buf: &mut [u8],
) -> Result<(), StripedError<S::Error>> {
    let available = layout.unencoded_length.saturating_sub(offset);
    let from_blob = usize::try_from(available).map_or(buf.len(), |a| a.min(buf.len()));
    let (data, padding) = buf.split_at_mut(from_blob);
    if !data.is_empty() {
        storage
            .read_blob(offset, data)
            .map_err(StripedError::Storage)?;
    }
    padding.fill(0);
    Ok(())
}

fn run<S: StripeStorage + Sync>(
    config: &EncodingConfig,
    length: u64,
    storage: &S,
    stripe_bytes: usize,
    write_primaries: bool,
) -> Result<VerifiedBlobMetadataWithId, StripedError<S::Error>>
where
    S::Error: Send,
{
    let layout = config.blob_layout(length)?;
    let spill = SpillLayout::new(layout);
    let n = config.n();
    let ss = layout.symbol_size();
    // One line of either pass with its extension takes `n` symbols of buffer.
    let lines_per_stripe = (stripe_bytes / (n * ss)).max(1);
    extend_rows(&spill, storage, lines_per_stripe, write_primaries)?;
    let (leaf_hashes, column_roots) =
        extend_columns(&spill, storage, lines_per_stripe, write_primaries)?;
    let row_roots: Vec<Node> = (0..n)
        .into_par_iter()
        .map_init(Vec::new, |row_hashes: &mut Vec<Digest>, row| {
            row_hashes.clear();
            row_hashes.extend((0..n).map(|column| leaf_hashes[column * n + row]));
            root_from_leaf_hashes(row_hashes)
        })
        .collect();
    let hashes = (0..n)
        .map(|pair| SliverPairMetadata {
            primary_hash: row_roots[pair],
            secondary_hash: column_roots[n - 1 - pair],
        })
        .collect();
    Ok(VerifiedBlobMetadataWithId::from_encoder(layout, hashes))
}

/// Pass 1: every secondary sliver, a stripe of rows at a time (and the source primary slivers
/// if asked).
fn extend_rows<S: StripeStorage + Sync>(
    spill: &SpillLayout,
    storage: &S,
    lines_per_stripe: usize,
    write_primaries: bool,
) -> Result<(), StripedError<S::Error>>
where
    S::Error: Send,
{
    let layout = spill.layout;
    let config = layout.config;
    let (n, ss) = (config.n(), layout.symbol_size());
    let k_primary = config.n_primary_source_symbols();
    let k_secondary = config.n_secondary_source_symbols();
    let row_length = layout.row_length();
    let mut rows = Vec::new();
    let mut column = Vec::new();
    for first_row in (0..k_primary).step_by(lines_per_stripe) {
        let lines = lines_per_stripe.min(k_primary - first_row);
        rows.resize(lines * row_length, 0);
        read_blob_padded(&layout, storage, (first_row * row_length) as u64, &mut rows)?;
        // The repair columns of this stripe: repair column `j` (column `k_s + j`) holds the
        // stripe's `lines` symbols back to back.
        let mut repair: Vec<Vec<u8>> = (k_secondary..n).map(|_| vec![0u8; lines * ss]).collect();
        let batch = batch_lines(lines, ss, n);
        let mut targets: Vec<Vec<&mut [u8]>> =
            (0..lines.div_ceil(batch)).map(|_| Vec::new()).collect();
        for sliver in repair.iter_mut() {
            for (index, chunk) in sliver.chunks_mut(batch * ss).enumerate() {
                targets[index].push(chunk);
            }
        }
        let rows_ref = &rows;
        targets
            .into_par_iter()
            .enumerate()
            .try_for_each(|(index, mut targets)| {
                let first = index * batch;
                let batch_lines = batch.min(lines - first);
                for packing in Packing::segments(ss, batch_lines, rs::target_shard_bytes(n)) {
                    rs::encode_packed(
                        &packing,
                        k_secondary,
                        n,
                        |line, i| {
                            let start = (first + line) * row_length + i * ss;
                            &rows_ref[start..start + ss]
                        },
                        |j, shard| {
                            for (line, out) in targets[j].chunks_exact_mut(ss).enumerate() {
                                packing.unpack(shard, line, out);
                            }
                        },
                    )?;
                }
                Ok::<(), EncodeError>(())
            })?;
        if write_primaries {
            storage
                .write_spill(spill.primary_offset(first_row), &rows)
                .map_err(StripedError::Storage)?;
        }
        let row_offset = (first_row * ss) as u64;
        for c in 0..k_secondary {
            column.clear();
            for row in rows.chunks_exact(row_length) {
                column.extend_from_slice(&row[c * ss..(c + 1) * ss]);
            }
            storage
                .write_spill(spill.secondary_offset(c) + row_offset, &column)
                .map_err(StripedError::Storage)?;
        }
        for (j, data) in repair.iter().enumerate() {
            storage
                .write_spill(spill.secondary_offset(k_secondary + j) + row_offset, data)
                .map_err(StripedError::Storage)?;
        }
    }
    Ok(())
}

/// The leaf hashes of the whole expansion (the hash of `E[r][c]` at `c * n + r`) and the
/// column roots.
type ColumnHashes = (Vec<Digest>, Vec<Node>);

/// Pass 2: every column extended and hashed, a stripe of secondary slivers at a time; the
/// repair primary slivers (`n - 2f .. n`) written if asked.
fn extend_columns<S: StripeStorage + Sync>(
    spill: &SpillLayout,
    storage: &S,
    lines_per_stripe: usize,
    write_primaries: bool,
) -> Result<ColumnHashes, StripedError<S::Error>>
where
    S::Error: Send,
{
    let layout = spill.layout;
    let config = layout.config;
    let (n, ss) = (config.n(), layout.symbol_size());
    let k_primary = config.n_primary_source_symbols();
    let k_secondary = config.n_secondary_source_symbols();
    let column_length = k_primary * ss;
    let extension_length = (n - k_primary) * ss;
    let mut leaf_hashes: Vec<Digest> = vec![[0u8; 32]; n * n];
    let mut column_roots: Vec<Node> = Vec::with_capacity(n);
    let mut columns = Vec::new();
    let mut extension = Vec::new();
    let mut row_piece = Vec::new();
    for first_column in (0..n).step_by(lines_per_stripe) {
        let lines = lines_per_stripe.min(n - first_column);
        columns.resize(lines * column_length, 0);
        storage
            .read_spill(spill.secondary_offset(first_column), &mut columns)
            .map_err(StripedError::Storage)?;
        extension.resize(lines * extension_length, 0);
        let batch = batch_lines(lines, ss, n);
        let columns_ref = &columns;
        let stripe_hashes = &mut leaf_hashes[first_column * n..(first_column + lines) * n];
        // (`chunks_mut(0)` panics: with no repair rows, every batch gets an empty slice.)
        let extension_chunks: Vec<&mut [u8]> = if extension_length == 0 {
            (0..lines.div_ceil(batch)).map(|_| &mut [][..]).collect()
        } else {
            extension.chunks_mut(batch * extension_length).collect()
        };
        let roots: Vec<Vec<Node>> = stripe_hashes
            .par_chunks_mut(batch * n)
            .zip(extension_chunks.into_par_iter())
            .enumerate()
            .map_init(Vec::new, |hash_scratch, (index, (hashes, extension))| {
                let first = index * batch;
                let batch_lines = batch.min(lines - first);
                for packing in Packing::segments(ss, batch_lines, rs::target_shard_bytes(n)) {
                    rs::encode_packed(
                        &packing,
                        k_primary,
                        n,
                        |line, i| {
                            let start = (first + line) * column_length + i * ss;
                            &columns_ref[start..start + ss]
                        },
                        |j, shard| {
                            for line in 0..batch_lines {
                                let start = line * extension_length + j * ss;
                                packing.unpack(shard, line, &mut extension[start..start + ss]);
                            }
                        },
                    )?;
                }
                let mut roots = Vec::with_capacity(batch_lines);
                for (line, column_hashes) in hashes.chunks_exact_mut(n).enumerate() {
                    let source = &columns_ref
                        [(first + line) * column_length..(first + line + 1) * column_length];
                    let repair = &extension[line * extension_length..(line + 1) * extension_length];
                    hash_leaves_into(
                        source.chunks_exact(ss).chain(repair.chunks_exact(ss)),
                        hash_scratch,
                        column_hashes,
                    );
                    roots.push(root_from_leaf_hashes(column_hashes));
                }
                Ok(roots)
            })
            .collect::<Result<_, EncodeError>>()?;
        column_roots.extend(roots.into_iter().flatten());
        if write_primaries && first_column < k_secondary {
            // Rows k_p..n of the stripe's source columns, one contiguous piece per row.
            let source_lines = lines.min(k_secondary - first_column);
            for row in k_primary..n {
                row_piece.clear();
                for line in 0..source_lines {
                    let start = line * extension_length + (row - k_primary) * ss;
                    row_piece.extend_from_slice(&extension[start..start + ss]);
                }
                storage
                    .write_spill(
                        spill.primary_offset(row) + (first_column * ss) as u64,
                        &row_piece,
                    )
                    .map_err(StripedError::Storage)?;
            }
        }
    }
    Ok((leaf_hashes, column_roots))
}

/// Where a striped decode reads the primary slivers it has and writes the rows it restores.
pub trait RowStorage {
    /// The storage's error.
    type Error;
    /// Fills `buf` from byte `offset` of the primary sliver in `slot` (the position of its
    /// index in the `available` list given to [`restore_source_rows_striped`]).
    fn read_row(&self, slot: usize, offset: u64, buf: &mut [u8]) -> Result<(), Self::Error>;
    /// Writes `data` at byte `offset` of source row `row` (rows are `row_length` bytes; bytes
    /// past the blob's length are padding).
    fn write_row(&self, row: usize, offset: u64, data: &[u8]) -> Result<(), Self::Error>;
}

/// Restores the source rows (primary slivers `0 .. n - 2f`) missing from `available`, the
/// indices of the primary slivers `storage` holds (the first `n - 2f` are used; they must be
/// distinct), a window of columns of about `stripe_bytes` at a time. Source rows that are
/// available are not touched: the caller has them. Returns the rows restored.
pub fn restore_source_rows_striped<S: RowStorage>(
    layout: &BlobLayout,
    available: &[usize],
    storage: &S,
    stripe_bytes: usize,
) -> Result<Vec<usize>, StripedError<S::Error>> {
    let config = layout.config;
    let (n, ss) = (config.n(), layout.symbol_size());
    let k_primary = config.n_primary_source_symbols();
    let k_secondary = config.n_secondary_source_symbols();
    let plan = DecodePlan::new(k_primary, n, available)?;
    let restored = plan.restored().to_vec();
    if restored.is_empty() {
        return Ok(restored);
    }
    let width = (stripe_bytes / (ss * (k_primary + restored.len()))).clamp(1, k_secondary);
    let mut given = Vec::new();
    let mut missing = Vec::new();
    for first_column in (0..k_secondary).step_by(width) {
        let columns = width.min(k_secondary - first_column);
        let window = columns * ss;
        let offset = (first_column * ss) as u64;
        given.resize(k_primary * window, 0);
        for (slot, buf) in given.chunks_exact_mut(window).enumerate() {
            storage
                .read_row(slot, offset, buf)
                .map_err(StripedError::Storage)?;
        }
        missing.resize(restored.len() * window, 0);
        let rows: Vec<&[u8]> = given.chunks_exact(window).collect();
        restore_rows(
            &plan,
            ss,
            columns,
            &rows,
            missing.chunks_exact_mut(window).collect(),
        );
        for (row, data) in restored.iter().zip(missing.chunks_exact(window)) {
            storage
                .write_row(*row, offset, data)
                .map_err(StripedError::Storage)?;
        }
    }
    Ok(restored)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use proptest::prelude::*;

    use super::*;
    use crate::encoding::{compute_metadata, encode_blob};

    /// A blob and a spill in memory.
    struct MemoryStorage {
        blob: Vec<u8>,
        spill: Mutex<Vec<u8>>,
    }

    impl MemoryStorage {
        fn new(blob: Vec<u8>, spill: &SpillLayout) -> Self {
            let length = usize::try_from(spill.spill_length()).unwrap();
            Self {
                blob,
                spill: Mutex::new(vec![0xAA; length]),
            }
        }
    }

    impl StripeStorage for MemoryStorage {
        type Error = String;

        fn read_blob(&self, offset: u64, buf: &mut [u8]) -> Result<(), String> {
            let start = usize::try_from(offset).unwrap();
            let bytes = self
                .blob
                .get(start..start + buf.len())
                .ok_or("read past the blob's end")?;
            buf.copy_from_slice(bytes);
            Ok(())
        }

        fn write_spill(&self, offset: u64, data: &[u8]) -> Result<(), String> {
            let start = usize::try_from(offset).unwrap();
            let mut spill = self.spill.lock().unwrap();
            spill
                .get_mut(start..start + data.len())
                .ok_or("write past the spill's end")?
                .copy_from_slice(data);
            Ok(())
        }

        fn read_spill(&self, offset: u64, buf: &mut [u8]) -> Result<(), String> {
            let start = usize::try_from(offset).unwrap();
            let spill = self.spill.lock().unwrap();
            buf.copy_from_slice(
                spill
                    .get(start..start + buf.len())
                    .ok_or("read past the spill's end")?,
            );
            Ok(())
        }
    }

    fn blob(length: usize, seed: u8) -> Vec<u8> {
        (0..length)
            .map(|i| {
                let [b0, b1, b2, _] = u32::try_from(i).unwrap().to_le_bytes();
                b0.wrapping_mul(31).wrapping_add(seed) ^ b1.rotate_left(1) ^ b2
            })
            .collect()
    }

    /// The striped encoding of `data` equals the in-memory one: metadata and every pair.
    fn assert_same_as_in_memory(n_shards: u16, data: Vec<u8>, stripe_bytes: usize) {
        let config = EncodingConfig::new(n_shards).unwrap();
        let expected = encode_blob(&config, &data).unwrap();
        let length = data.len() as u64;
        let spill = SpillLayout::new(config.blob_layout(length).unwrap());
        let storage = MemoryStorage::new(data.clone(), &spill);
        let metadata = encode_striped(&config, length, &storage, stripe_bytes).unwrap();
        assert_eq!(
            metadata, expected.metadata,
            "n = {n_shards}, {length} bytes"
        );
        for (pair, expected_pair) in expected.sliver_pairs.iter().enumerate() {
            let pair = SliverPairIndex(u16::try_from(pair).unwrap());
            assert_eq!(
                spill.read_pair(&storage, pair).unwrap(),
                *expected_pair,
                "pair {} (n = {n_shards}, {length} bytes)",
                pair.0
            );
        }
        let only_metadata = MemoryStorage::new(data.clone(), &spill);
        assert_eq!(
            compute_metadata_striped(&config, length, &only_metadata, stripe_bytes).unwrap(),
            compute_metadata(&config, &data).unwrap()
        );
    }

    #[test]
    fn same_slivers_and_blob_id_as_in_memory_at_the_largest_blob() {
        for n_shards in [4u16, 10] {
            let config = EncodingConfig::new(n_shards).unwrap();
            let max = usize::try_from(config.max_blob_size()).unwrap();
            // One line per stripe, a few lines per stripe, everything in one stripe.
            for stripe_bytes in [1, 3 * usize::from(n_shards) * 65_534, usize::MAX / 2] {
                assert_same_as_in_memory(n_shards, blob(max, 7), stripe_bytes);
            }
        }
    }

    #[test]
    fn same_slivers_and_blob_id_as_in_memory_for_small_and_odd_blobs() {
        for n_shards in [1u16, 2, 4, 7, 10, 31] {
            for length in [0usize, 1, 2, 63, 64, 65, 1000, 4097] {
                assert_same_as_in_memory(n_shards, blob(length, 3), 1);
                assert_same_as_in_memory(n_shards, blob(length, 3), 2048);
            }
        }
    }

    #[test]
    fn too_large_is_an_error_before_any_storage_access() {
        struct Untouchable;
        impl StripeStorage for Untouchable {
            type Error = String;
            fn read_blob(&self, _: u64, _: &mut [u8]) -> Result<(), String> {
                panic!("read the blob")
            }
            fn write_spill(&self, _: u64, _: &[u8]) -> Result<(), String> {
                panic!("wrote the spill")
            }
            fn read_spill(&self, _: u64, _: &mut [u8]) -> Result<(), String> {
                panic!("read the spill")
            }
        }
        let config = EncodingConfig::new(10).unwrap();
        let result = encode_striped(&config, config.max_blob_size() + 1, &Untouchable, 1 << 20);
        assert!(matches!(
            result,
            Err(StripedError::Encode(EncodeError::DataTooLarge { .. }))
        ));
    }

    #[test]
    fn a_storage_error_is_returned() {
        let config = EncodingConfig::new(10).unwrap();
        let data = blob(5000, 1);
        let spill = SpillLayout::new(config.blob_layout(5000).unwrap());
        // The blob is shorter than the length claimed: the read fails, nothing panics.
        let storage = MemoryStorage::new(data[..100].to_vec(), &spill);
        assert!(matches!(
            encode_striped(&config, 5000, &storage, 1024),
            Err(StripedError::Storage(_))
        ));
        assert!(matches!(
            spill.read_pair(&storage, SliverPairIndex(10)),
            Err(StripedError::NoSuchPair { index: 10, .. })
        ));
    }

    /// Primary slivers in memory, and the rows restored from them.
    struct MemoryRows {
        slivers: Vec<Vec<u8>>,
        matrix: Mutex<Vec<u8>>,
        row_length: usize,
    }

    impl RowStorage for MemoryRows {
        type Error = String;

        fn read_row(&self, slot: usize, offset: u64, buf: &mut [u8]) -> Result<(), String> {
            let start = usize::try_from(offset).unwrap();
            buf.copy_from_slice(&self.slivers[slot][start..start + buf.len()]);
            Ok(())
        }

        fn write_row(&self, row: usize, offset: u64, data: &[u8]) -> Result<(), String> {
            let start = row * self.row_length + usize::try_from(offset).unwrap();
            self.matrix.lock().unwrap()[start..start + data.len()].copy_from_slice(data);
            Ok(())
        }
    }

    /// Restores the blob from the primary slivers `available` and compares.
    fn assert_restores(n_shards: u16, data: &[u8], available: &[usize], stripe_bytes: usize) {
        let config = EncodingConfig::new(n_shards).unwrap();
        let encoded = encode_blob(&config, data).unwrap();
        let layout = config.blob_layout(data.len() as u64).unwrap();
        let row_length = layout.row_length();
        let k_primary = config.n_primary_source_symbols();
        let slivers: Vec<Vec<u8>> = available
            .iter()
            .map(|index| encoded.sliver_pairs[*index].primary.symbols.data().to_vec())
            .collect();
        // The caller places the source rows it has; the rest is restored.
        let mut matrix = vec![0u8; k_primary * row_length];
        for (index, sliver) in available.iter().zip(&slivers).take(k_primary) {
            if *index < k_primary {
                matrix[index * row_length..(index + 1) * row_length].copy_from_slice(sliver);
            }
        }
        let storage = MemoryRows {
            slivers,
            matrix: Mutex::new(matrix),
            row_length,
        };
        let restored =
            restore_source_rows_striped(&layout, available, &storage, stripe_bytes).unwrap();
        let used = &available[..k_primary];
        let expected_restored: Vec<usize> =
            (0..k_primary).filter(|row| !used.contains(row)).collect();
        assert_eq!(restored, expected_restored);
        let matrix = storage.matrix.into_inner().unwrap();
        assert_eq!(
            &matrix[..data.len()],
            data,
            "n = {n_shards}, rows {available:?}"
        );
    }

    #[test]
    fn striped_restore_gives_the_blob_back() {
        let config = EncodingConfig::new(10).unwrap();
        let max = usize::try_from(config.max_blob_size()).unwrap();
        let data = blob(max, 5);
        // Only repair rows, a mix, only source rows (nothing to restore).
        for available in [vec![9, 8, 7, 6], vec![5, 0, 9, 2], vec![0, 1, 2, 3]] {
            for stripe_bytes in [1, 100_000, usize::MAX / 2] {
                assert_restores(10, &data, &available, stripe_bytes);
            }
        }
        let config = EncodingConfig::new(4).unwrap();
        assert!(matches!(
            restore_source_rows_striped(
                &config.blob_layout(10).unwrap(),
                &[3, 3],
                &MemoryRows {
                    slivers: vec![],
                    matrix: Mutex::new(vec![]),
                    row_length: 0
                },
                1 << 20,
            ),
            Err(StripedError::Encode(_))
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn striped_restore_equals_the_blob(
            n_shards in 1u16..40,
            length in 0usize..20_000,
            stripe_bytes in 1usize..100_000,
            seed: u64,
        ) {
            let config = EncodingConfig::new(n_shards).unwrap();
            let mut indices: Vec<usize> = (0..config.n()).collect();
            // A seeded shuffle: any k_p distinct rows.
            let mut state = seed | 1;
            for i in (1..indices.len()).rev() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                indices.swap(i, usize::try_from(state % (i as u64 + 1)).unwrap());
            }
            indices.truncate(config.n_primary_source_symbols());
            assert_restores(n_shards, &blob(length, 9), &indices, stripe_bytes);
        }


        #[test]
        fn striped_equals_in_memory(
            n_shards in 1u16..40,
            length in 0usize..20_000,
            stripe_bytes in 1usize..200_000,
            seed: u8,
        ) {
            assert_same_as_in_memory(n_shards, blob(length, seed), stripe_bytes);
        }
    }
}
