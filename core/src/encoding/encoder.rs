//! Encoding a whole blob: the message matrix, its 2-D expansion, the slivers and the metadata.
//!
//! Layout: the blob, zero-padded, fills a `(n - 2f) x (n - f)` matrix of symbols row by row.
//! Each source row is extended to `n` columns with the secondary code and each of the `n`
//! columns to `n` rows with the primary code, giving the expanded matrix `E`. Primary sliver
//! `r` is row `r` of `E` on its first `n - f` columns, secondary sliver `c` column `c` on its
//! first `n - 2f` rows. The metadata hold, per pair `i`, the Merkle roots over all `n` symbols
//! of row `i` and of column `n - 1 - i`.
//!
//! Every symbol of `E` is a leaf of one row tree and one column tree, with the same leaf hash
//! in both: each leaf is hashed once (multi-buffer) and both trees are built from the shared
//! hashes. Lines are coded in batches (see `rs`) and batches run on all cores (rayon).

use rayon::prelude::*;

use super::{
    rs::{self, PackedShards},
    BlobLayout, EncodingConfig, PrimarySliver, SecondarySliver, SliverPair, Symbols,
};
use crate::{
    merkle::{leaf_hashes_into, root_from_leaf_hashes, Digest, Node},
    metadata::{SliverPairMetadata, VerifiedBlobMetadataWithId},
    EncodeError, SliverIndex,
};

/// Target size of one packed shard: large enough to amortise the codec's per-call work, small
/// enough that a batch's working set stays in cache.
const TARGET_PACKED_SHARD_BYTES: usize = 16 * 1024;

/// A blob encoded into sliver pairs, with its metadata.
#[derive(Debug, Clone)]
pub struct EncodedBlob {
    /// One pair per pair index `0..n` (not yet rotated onto shards).
    pub sliver_pairs: Vec<SliverPair>,
    /// The verified metadata, including the blob ID.
    pub metadata: VerifiedBlobMetadataWithId,
}

/// Encodes `blob` into `n` sliver pairs and computes its metadata and blob ID.
pub fn encode_blob(config: &EncodingConfig, blob: &[u8]) -> Result<EncodedBlob, EncodeError> {
    let expansion = Expansion::run(config, blob, true)?;
    let layout = expansion.layout;
    let n = config.n();
    let symbol_size = layout.symbol_size;
    let metadata = expansion.metadata();
    let mut secondaries: Vec<Option<Vec<u8>>> =
        expansion.secondary_slivers.into_iter().map(Some).collect();
    let mut sliver_pairs = Vec::with_capacity(n);
    for (pair, primary) in expansion.primary_slivers.into_iter().enumerate() {
        let secondary_index = n - 1 - pair;
        let secondary = secondaries[secondary_index]
            .take()
            .expect("each secondary sliver is taken once");
        sliver_pairs.push(SliverPair {
            primary: PrimarySliver::new(
                Symbols::new(primary, symbol_size).map_err(internal)?,
                SliverIndex::try_from(pair).map_err(internal)?,
            ),
            secondary: SecondarySliver::new(
                Symbols::new(secondary, symbol_size).map_err(internal)?,
                SliverIndex::try_from(secondary_index).map_err(internal)?,
            ),
        });
    }
    Ok(EncodedBlob {
        sliver_pairs,
        metadata,
    })
}

/// Computes only the metadata and blob ID of `blob` (no slivers are kept).
pub fn compute_metadata(
    config: &EncodingConfig,
    blob: &[u8],
) -> Result<VerifiedBlobMetadataWithId, EncodeError> {
    Ok(Expansion::run(config, blob, false)?.metadata())
}

fn internal(error: impl std::fmt::Display) -> EncodeError {
    EncodeError::Codec(error.to_string())
}

/// How many lines to code together so that a packed shard is about the target size, while
/// leaving enough batches to keep every core busy.
fn batch_lines(total_lines: usize, symbol_size: usize) -> usize {
    let by_size = (TARGET_PACKED_SHARD_BYTES / symbol_size).max(1);
    let by_cores = total_lines
        .div_ceil(4 * rayon::current_num_threads())
        .max(1);
    by_size.min(by_cores)
}

/// The result of expanding a blob.
struct Expansion {
    layout: BlobLayout,
    /// All `n` primary slivers (empty when slivers are not kept).
    primary_slivers: Vec<Vec<u8>>,
    /// All `n` secondary slivers (empty when slivers are not kept).
    secondary_slivers: Vec<Vec<u8>>,
    row_roots: Vec<Node>,
    column_roots: Vec<Node>,
}

/// Output of coding one batch of columns.
struct ColumnBatch {
    /// Recovery symbols (rows `k_p..n`) of the batch's columns; kept only if needed.
    recovery: Option<PackedShards>,
    /// Leaf hashes of the batch's columns, column by column (`n` per column).
    leaf_hashes: Vec<Digest>,
    roots: Vec<Node>,
}

impl Expansion {
    fn run(config: &EncodingConfig, blob: &[u8], keep_slivers: bool) -> Result<Self, EncodeError> {
        let length = u64::try_from(blob.len()).map_err(internal)?;
        let layout = config.blob_layout(length)?;
        let n = config.n();
        let k_primary = config.n_primary_source_symbols();
        let k_secondary = config.n_secondary_source_symbols();
        let ss = layout.symbol_size();
        let row_length = layout.row_length();

        // Source rows: full rows borrow the blob, the rest come from a zero-padded copy of the
        // blob's tail.
        let full_rows = (blob.len() / row_length).min(k_primary);
        let mut padded_tail = vec![0u8; (k_primary - full_rows) * row_length];
        let tail = &blob[full_rows * row_length..];
        padded_tail[..tail.len()].copy_from_slice(tail);
        let rows: Vec<&[u8]> = blob[..full_rows * row_length]
            .chunks_exact(row_length)
            .chain(padded_tail.chunks_exact(row_length))
            .collect();

        // 1. Extend each source row to n columns (secondary code).
        let row_batch = batch_lines(k_primary, ss);
        let row_recovery: Vec<PackedShards> = (0..k_primary)
            .step_by(row_batch)
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|first| {
                let lines = row_batch.min(k_primary - first);
                rs::encode_lines(k_secondary, n, ss, lines, |line, i| {
                    &rows[first + line][i * ss..(i + 1) * ss]
                })
            })
            .collect::<Result<_, _>>()?;

        // 2. Secondary slivers: the first k_p rows of every column.
        let secondary_slivers: Vec<Vec<u8>> = (0..n)
            .into_par_iter()
            .map(|column| {
                let mut sliver = vec![0u8; k_primary * ss];
                for (row, out) in sliver.chunks_exact_mut(ss).enumerate() {
                    if column < k_secondary {
                        out.copy_from_slice(&rows[row][column * ss..(column + 1) * ss]);
                    } else {
                        row_recovery[row / row_batch].symbol_into(
                            row % row_batch,
                            column - k_secondary,
                            out,
                        );
                    }
                }
                sliver
            })
            .collect();
        drop(row_recovery);

        // 3. Extend every column to n rows (primary code), hash all its leaves, build its tree.
        let column_batch = batch_lines(n, ss);
        let columns: Vec<ColumnBatch> = (0..n)
            .step_by(column_batch)
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|first| {
                let lines = column_batch.min(n - first);
                let recovery = rs::encode_lines(k_primary, n, ss, lines, |line, i| {
                    &secondary_slivers[first + line][i * ss..(i + 1) * ss]
                })?;
                let mut leaf_hashes = Vec::with_capacity(lines * n);
                let mut roots = Vec::with_capacity(lines);
                let mut column_symbols = vec![0u8; (n - k_primary) * ss];
                let mut scratch = Vec::new();
                for line in 0..lines {
                    for (j, out) in column_symbols.chunks_exact_mut(ss).enumerate() {
                        recovery.symbol_into(line, j, out);
                    }
                    let start = leaf_hashes.len();
                    let source = secondary_slivers[first + line].chunks_exact(ss);
                    leaf_hashes_into(
                        source.chain(column_symbols.chunks_exact(ss)),
                        &mut scratch,
                        &mut leaf_hashes,
                    );
                    roots.push(root_from_leaf_hashes(&leaf_hashes[start..]));
                }
                let needed_for_primary = keep_slivers && first < k_secondary;
                Ok(ColumnBatch {
                    recovery: needed_for_primary.then_some(recovery),
                    leaf_hashes,
                    roots,
                })
            })
            .collect::<Result<_, EncodeError>>()?;

        // 4. Primary slivers: source rows as they are, the others from the column codes.
        let primary_slivers: Vec<Vec<u8>> = if keep_slivers {
            (0..n)
                .into_par_iter()
                .map(|row| {
                    if row < k_primary {
                        return rows[row].to_vec();
                    }
                    let mut sliver = vec![0u8; row_length];
                    for (column, out) in sliver.chunks_exact_mut(ss).enumerate() {
                        let batch = &columns[column / column_batch];
                        batch
                            .recovery
                            .as_ref()
                            .expect("batches covering source columns keep their recovery")
                            .symbol_into(column % column_batch, row - k_primary, out);
                    }
                    sliver
                })
                .collect()
        } else {
            Vec::new()
        };

        // 5. Row trees from the shared leaf hashes.
        let row_roots: Vec<Node> = (0..n)
            .into_par_iter()
            .map(|row| {
                let leaves: Vec<Digest> = (0..n)
                    .map(|column| {
                        let batch = &columns[column / column_batch];
                        batch.leaf_hashes[(column % column_batch) * n + row]
                    })
                    .collect();
                root_from_leaf_hashes(&leaves)
            })
            .collect();
        let column_roots = columns.into_iter().flat_map(|batch| batch.roots).collect();

        Ok(Self {
            layout,
            primary_slivers,
            secondary_slivers: if keep_slivers {
                secondary_slivers
            } else {
                Vec::new()
            },
            row_roots,
            column_roots,
        })
    }

    fn metadata(&self) -> VerifiedBlobMetadataWithId {
        let n = self.layout.config.n();
        let hashes = (0..n)
            .map(|pair| SliverPairMetadata {
                primary_hash: self.row_roots[pair],
                secondary_hash: self.column_roots[n - 1 - pair],
            })
            .collect();
        VerifiedBlobMetadataWithId::from_encoder(self.layout, hashes)
    }
}
