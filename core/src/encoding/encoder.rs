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
    rs::{self, Packing},
    BlobLayout, EncodingConfig, PrimarySliver, SecondarySliver, SliverPair, Symbols,
};
use crate::{
    merkle::{hash_leaves_into, root_from_leaf_hashes, Digest, Node},
    metadata::{SliverPairMetadata, VerifiedBlobMetadataWithId},
    EncodeError, SliverIndex,
};

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

/// How many lines to code together so that a packed shard is about the target size for a code
/// of length `n` (larger symbols are split into segments instead), while leaving enough
/// batches to keep every core busy.
pub(crate) fn batch_lines(total_lines: usize, symbol_size: usize, n: usize) -> usize {
    let by_size = (rs::target_shard_bytes(n) / symbol_size).max(1);
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

impl Expansion {
    /// Expands the blob. Every output byte is written once, straight into its sliver: coded
    /// batches write into disjoint chunks of the slivers they produce, so nothing is staged in
    /// intermediate buffers (on this class of machine, touching fresh memory costs more than
    /// the coding).
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

        // 1. Secondary slivers (the first k_p rows of every column): source columns are a
        //    transpose of the source rows, the others come from extending each source row to n
        //    columns with the secondary code.
        let mut secondary: Vec<Vec<u8>> = (0..n).map(|_| vec![0u8; k_primary * ss]).collect();
        secondary[..k_secondary]
            .par_iter_mut()
            .enumerate()
            .for_each(|(column, sliver)| {
                for (row, out) in rows.iter().zip(sliver.chunks_exact_mut(ss)) {
                    out.copy_from_slice(&row[column * ss..(column + 1) * ss]);
                }
            });
        let row_batch = batch_lines(k_primary, ss, n);
        let mut row_batch_targets: Vec<Vec<&mut [u8]>> = (0..k_primary.div_ceil(row_batch))
            .map(|_| Vec::new())
            .collect();
        for sliver in secondary[k_secondary..].iter_mut() {
            for (batch, chunk) in sliver.chunks_mut(row_batch * ss).enumerate() {
                row_batch_targets[batch].push(chunk);
            }
        }
        row_batch_targets
            .into_par_iter()
            .enumerate()
            .try_for_each(|(batch, mut targets)| {
                let first = batch * row_batch;
                let lines = row_batch.min(k_primary - first);
                for packing in Packing::segments(ss, lines, rs::target_shard_bytes(n)) {
                    rs::encode_packed(
                        &packing,
                        k_secondary,
                        n,
                        |line, i| &rows[first + line][i * ss..(i + 1) * ss],
                        |j, shard| {
                            for (line, out) in targets[j].chunks_exact_mut(ss).enumerate() {
                                packing.unpack(shard, line, out);
                            }
                        },
                    )?;
                }
                Ok::<(), EncodeError>(())
            })?;

        // 2. Extend every column to n rows with the primary code; hash all n leaves of the
        //    column once (the hashes serve the row trees too), build the column tree, and write
        //    rows k_p..n of source columns into the primary slivers.
        let mut primary_extension: Vec<Vec<u8>> = if keep_slivers {
            (k_primary..n).map(|_| vec![0u8; row_length]).collect()
        } else {
            Vec::new()
        };
        let column_batch = batch_lines(n, ss, n);
        let n_column_batches = n.div_ceil(column_batch);
        let mut primary_targets: Vec<Vec<&mut [u8]>> =
            (0..n_column_batches).map(|_| Vec::new()).collect();
        for row in primary_extension.iter_mut() {
            for (batch, chunk) in row.chunks_mut(column_batch * ss).enumerate() {
                primary_targets[batch].push(chunk);
            }
        }
        // Leaf hashes, column by column: the hash of E[r][c] is at `c * n + r`.
        let mut leaf_hashes: Vec<Digest> = vec![[0u8; 32]; n * n];
        let extension_length = (n - k_primary) * ss;
        let column_roots: Vec<Vec<Node>> = leaf_hashes
            .par_chunks_mut(column_batch * n)
            .zip(primary_targets.into_par_iter())
            .enumerate()
            .map_init(
                || (Vec::new(), Vec::new()),
                |(extension, hash_scratch), (batch, (hashes, mut targets))| {
                    let first = batch * column_batch;
                    let lines = column_batch.min(n - first);
                    extension.resize(lines * extension_length, 0);
                    for packing in Packing::segments(ss, lines, rs::target_shard_bytes(n)) {
                        rs::encode_packed(
                            &packing,
                            k_primary,
                            n,
                            |line, i| &secondary[first + line][i * ss..(i + 1) * ss],
                            |j, shard| {
                                for line in 0..lines {
                                    let start = line * extension_length + j * ss;
                                    packing.unpack(shard, line, &mut extension[start..start + ss]);
                                }
                            },
                        )?;
                    }
                    let mut roots = Vec::with_capacity(lines);
                    for (line, column_hashes) in hashes.chunks_exact_mut(n).enumerate() {
                        let column = first + line;
                        let column_extension =
                            &extension[line * extension_length..(line + 1) * extension_length];
                        hash_leaves_into(
                            secondary[column]
                                .chunks_exact(ss)
                                .chain(column_extension.chunks_exact(ss)),
                            hash_scratch,
                            column_hashes,
                        );
                        roots.push(root_from_leaf_hashes(column_hashes));
                        if column < k_secondary {
                            for (target, symbol) in
                                targets.iter_mut().zip(column_extension.chunks_exact(ss))
                            {
                                target[line * ss..(line + 1) * ss].copy_from_slice(symbol);
                            }
                        }
                    }
                    Ok(roots)
                },
            )
            .collect::<Result<_, EncodeError>>()?;

        // 3. Row trees from the shared leaf hashes.
        let row_roots: Vec<Node> = (0..n)
            .into_par_iter()
            .map_init(Vec::new, |row_hashes: &mut Vec<Digest>, row| {
                row_hashes.clear();
                row_hashes.extend((0..n).map(|column| leaf_hashes[column * n + row]));
                root_from_leaf_hashes(row_hashes)
            })
            .collect();

        let (primary_slivers, secondary_slivers) = if keep_slivers {
            let primary = rows
                .iter()
                .map(|row| row.to_vec())
                .chain(primary_extension)
                .collect();
            (primary, secondary)
        } else {
            (Vec::new(), Vec::new())
        };
        Ok(Self {
            layout,
            primary_slivers,
            secondary_slivers,
            row_roots,
            column_roots: column_roots.concat(),
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
