//! Decoding a blob from slivers of one axis: any `n - 2f` primary slivers or any `n - f`
//! secondary slivers, followed by one of Walrus's three consistency checks
//! ([`ConsistencyCheck`]).

use std::{borrow::Borrow, collections::BTreeMap, fmt, str::FromStr};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::{
    compute_metadata, erasure::DecodePlan, rs::Packing, BlobLayout, EncodingAxis, EncodingConfig,
    PrimarySliver, SliverData, SliverType,
};
use crate::{metadata::VerifiedBlobMetadataWithId, BlobId, EncodeError, SliverIndex};

/// How a reader checks that the bytes it decoded are those the writer committed to: Walrus's
/// three consistency checks, weakest first (so `a >= b` means `a` checks at least what `b`
/// does). Every sliver used is first verified against the metadata in all three.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ConsistencyCheck {
    /// No check after decoding: trusts the writer. If it encoded the blob inconsistently,
    /// readers using different slivers may get different bytes.
    Skip,
    /// Each source row (primary slivers `0 .. n - 2f`, which hold the blob's bytes) must match
    /// its hash in the metadata: rows received from nodes were verified on arrival, rows
    /// restored by decoding are extended and hashed. Every reader that passes it gets the same
    /// bytes, those the blob ID commits to. Walrus's default, and ours.
    #[default]
    Default,
    /// The whole decoded blob is re-encoded and must give the blob ID: also refuses a blob
    /// whose repair slivers are inconsistent even when its source rows are not.
    Strict,
}

impl ConsistencyCheck {
    /// The check chosen by Walrus's pair of flags (`strict_consistency_check`,
    /// `skip_consistency_check`); `None` if both are set.
    pub fn from_flags(strict: bool, skip: bool) -> Option<Self> {
        match (strict, skip) {
            (true, true) => None,
            (true, false) => Some(Self::Strict),
            (false, true) => Some(Self::Skip),
            (false, false) => Some(Self::Default),
        }
    }

    /// The check's name: `skip`, `default` or `strict`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Skip => "skip",
            Self::Default => "default",
            Self::Strict => "strict",
        }
    }
}

impl fmt::Display for ConsistencyCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ConsistencyCheck {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "skip" => Ok(Self::Skip),
            "default" => Ok(Self::Default),
            "strict" => Ok(Self::Strict),
            other => Err(format!(
                "unknown consistency check '{other}' (skip, default or strict)"
            )),
        }
    }
}

/// Why a blob could not be decoded.
#[derive(Debug, Error, PartialEq, Eq, Clone)]
pub enum DecodeError {
    /// Fewer distinct well-formed slivers than decoding needs.
    #[error("not enough slivers: {available} distinct valid {axis} slivers, {required} needed")]
    NotEnoughSlivers {
        /// Axis of the slivers.
        axis: SliverType,
        /// Distinct usable slivers given.
        available: usize,
        /// Slivers required.
        required: usize,
    },
    /// The blob length or shard count is not encodable.
    #[error(transparent)]
    Encoding(#[from] EncodeError),
    /// The decoded blob does not re-encode to the expected blob ID: the writer uploaded an
    /// inconsistent encoding, and the blob must be treated as invalid.
    #[error(
        "inconsistent blob: decoded data re-encode to blob ID {computed}, expected {expected}"
    )]
    InconsistentBlob {
        /// The blob ID asked for.
        expected: BlobId,
        /// The blob ID of the decoded data.
        computed: BlobId,
    },
    /// A source row restored by decoding does not match its hash in the metadata (the
    /// default consistency check): the writer uploaded an inconsistent encoding.
    #[error("inconsistent blob {blob_id}: decoded source row {row} does not match its metadata")]
    InconsistentSourceRow {
        /// The blob read.
        blob_id: BlobId,
        /// The primary sliver index of the row.
        row: usize,
    },
}

/// Decodes a blob of `unencoded_length` bytes from slivers of axis `T`. Slivers with a wrong
/// index, length or symbol size are skipped, duplicates are used once; source slivers are
/// preferred so that a full set of them is a plain copy. The slivers are not checked against
/// metadata here: verify them first, or use [`decode_and_verify`].
pub fn decode_blob<T: EncodingAxis, S: Borrow<SliverData<T>>>(
    config: &EncodingConfig,
    unencoded_length: u64,
    slivers: impl IntoIterator<Item = S>,
) -> Result<Vec<u8>, DecodeError> {
    let layout = config.blob_layout(unencoded_length)?;
    let required = config.n_source_symbols(T::TYPE);
    let mut usable: BTreeMap<usize, S> = BTreeMap::new();
    for item in slivers {
        let sliver = item.borrow();
        if fits(&layout, sliver) {
            usable.entry(sliver.index.as_usize()).or_insert(item);
        }
    }
    if usable.len() < required {
        return Err(DecodeError::NotEnoughSlivers {
            axis: T::TYPE,
            available: usable.len(),
            required,
        });
    }
    // Lowest indices first: source slivers need no decoding.
    let chosen: Vec<(usize, &[u8])> = usable
        .iter()
        .take(required)
        .map(|(index, sliver)| (*index, sliver.borrow().symbols.data()))
        .collect();
    let mut blob = match T::TYPE {
        SliverType::Primary => decode_from_rows(&layout, &chosen)?,
        SliverType::Secondary => decode_from_columns(&layout, &chosen)?,
    };
    blob.truncate(
        usize::try_from(unencoded_length).map_err(|_| EncodeError::DataTooLarge {
            length: unencoded_length,
            max: config.max_blob_size(),
        })?,
    );
    Ok(blob)
}

/// Decodes as [`decode_blob`], then re-encodes the result and checks that it has `blob_id`;
/// an inconsistent encoding yields [`DecodeError::InconsistentBlob`], never the bytes.
pub fn decode_and_verify<T: EncodingAxis, S: Borrow<SliverData<T>>>(
    config: &EncodingConfig,
    blob_id: &BlobId,
    unencoded_length: u64,
    slivers: impl IntoIterator<Item = S>,
) -> Result<Vec<u8>, DecodeError> {
    let blob = decode_blob(config, unencoded_length, slivers)?;
    let computed = *compute_metadata(config, &blob)?.blob_id();
    if computed != *blob_id {
        return Err(DecodeError::InconsistentBlob {
            expected: *blob_id,
            computed,
        });
    }
    Ok(blob)
}

/// Decodes as [`decode_blob`] slivers already verified against `metadata`, then runs `check`
/// (see [`ConsistencyCheck`]); a failed check yields [`DecodeError::InconsistentBlob`] or
/// [`DecodeError::InconsistentSourceRow`], never the bytes.
pub fn decode_and_check<T: EncodingAxis, S: Borrow<SliverData<T>>>(
    metadata: &VerifiedBlobMetadataWithId,
    slivers: impl IntoIterator<Item = S>,
    check: ConsistencyCheck,
) -> Result<Vec<u8>, DecodeError> {
    let layout = metadata.layout();
    let config = &layout.config;
    let length = metadata.metadata().unencoded_length();
    let k_primary = config.n_primary_source_symbols();
    let slivers: Vec<S> = slivers.into_iter().collect();
    // Source rows given as (verified) primary slivers are used as they are by the decoder.
    let mut given = vec![false; k_primary];
    if T::TYPE == SliverType::Primary {
        for sliver in &slivers {
            let sliver = sliver.borrow();
            if fits(layout, sliver) {
                if let Some(flag) = given.get_mut(sliver.index.as_usize()) {
                    *flag = true;
                }
            }
        }
    }
    let blob = decode_blob(config, length, slivers)?;
    match check {
        ConsistencyCheck::Skip => {}
        ConsistencyCheck::Default => {
            let row_length = layout.row_length();
            (0..k_primary)
                .into_par_iter()
                .filter(|row| !given[*row])
                .try_for_each(|row| {
                    let start = (row * row_length).min(blob.len());
                    let end = ((row + 1) * row_length).min(blob.len());
                    verify_source_row(metadata, row, &blob[start..end])
                })?;
        }
        ConsistencyCheck::Strict => {
            let computed = *compute_metadata(config, &blob)?.blob_id();
            if computed != *metadata.blob_id() {
                return Err(DecodeError::InconsistentBlob {
                    expected: *metadata.blob_id(),
                    computed,
                });
            }
        }
    }
    Ok(blob)
}

/// Checks source row `row` (primary sliver `row < n - 2f`; `data` its bytes, without the
/// padding past the blob's end) against its hash in `metadata`: the default consistency check
/// of one restored row.
pub fn verify_source_row(
    metadata: &VerifiedBlobMetadataWithId,
    row: usize,
    data: &[u8],
) -> Result<(), DecodeError> {
    let layout = metadata.layout();
    let mismatch = || DecodeError::InconsistentSourceRow {
        blob_id: *metadata.blob_id(),
        row,
    };
    let index = u16::try_from(row).map_err(|_| mismatch())?;
    if row >= layout.config.n_primary_source_symbols() || data.len() > layout.row_length() {
        return Err(mismatch());
    }
    let mut padded = vec![0u8; layout.row_length()];
    padded[..data.len()].copy_from_slice(data);
    let sliver = PrimarySliver::from_data(padded, layout.symbol_size, SliverIndex(index))
        .map_err(|_| mismatch())?;
    sliver.verify(metadata).map_err(|_| mismatch())
}

/// Whether `sliver` has an index, length and symbol size the layout allows.
fn fits<T: EncodingAxis>(layout: &BlobLayout, sliver: &SliverData<T>) -> bool {
    sliver.index.as_usize() < layout.config.n()
        && sliver.symbols.symbol_size() == layout.symbol_size
        && sliver.symbols.data().len() == layout.sliver_length(T::TYPE)
}

/// How many lines to decode together so that a packed shard is about `target_shard_bytes`
/// (larger symbols are split into segments instead), while leaving enough batches to keep
/// every core busy.
fn batch_lines(total_lines: usize, symbol_size: usize, target_shard_bytes: usize) -> usize {
    let by_size = (target_shard_bytes / symbol_size).max(1);
    let by_cores = total_lines
        .div_ceil(4 * rayon::current_num_threads())
        .max(1);
    by_size.min(by_cores)
}

/// Rows `0..k_p` from `k_p` distinct rows (primary slivers): given source rows are copied,
/// the others restored column by column ([`restore_rows`]).
fn decode_from_rows(layout: &BlobLayout, rows: &[(usize, &[u8])]) -> Result<Vec<u8>, EncodeError> {
    let config = &layout.config;
    let (n, k_primary, k_secondary) = (
        config.n(),
        config.n_primary_source_symbols(),
        config.n_secondary_source_symbols(),
    );
    let ss = layout.symbol_size();
    let row_length = layout.row_length();
    let positions: Vec<usize> = rows.iter().map(|(index, _)| *index).collect();
    let plan = DecodePlan::new(k_primary, n, &positions)?;
    let mut blob = vec![0u8; k_primary * row_length];
    // Given source rows are copied; the others are restored below.
    let mut given: Vec<Option<&[u8]>> = vec![None; k_primary];
    for (index, data) in rows {
        if let Some(slot) = given.get_mut(*index) {
            *slot = Some(data);
        }
    }
    let mut missing = Vec::new();
    for (row, out) in blob.chunks_exact_mut(row_length).enumerate() {
        match given[row] {
            Some(data) => out.copy_from_slice(data),
            None => missing.push(out),
        }
    }
    let rows: Vec<&[u8]> = rows.iter().map(|(_, data)| *data).collect();
    restore_rows(&plan, ss, k_secondary, &rows, missing);
    Ok(blob)
}

/// Restores a window of `width` columns of the missing source rows of a blob: `rows[a]` is
/// the window of the row at the plan's available position `a`; `missing[m]` receives the
/// window of the `m`-th row the plan restores (ascending). Each column is decoded with the
/// primary code, all with the one plan (the erasure pattern is the same for every column);
/// batches of columns write straight into their disjoint chunks of the missing rows.
pub(crate) fn restore_rows(
    plan: &DecodePlan,
    ss: usize,
    width: usize,
    rows: &[&[u8]],
    missing: Vec<&mut [u8]>,
) {
    let restored = plan.restored();
    if restored.is_empty() || width == 0 {
        return;
    }
    debug_assert_eq!(missing.len(), restored.len());
    let target = plan.target_shard_bytes();
    let batch = batch_lines(width, ss, target);
    let mut targets: Vec<Vec<&mut [u8]>> = (0..width.div_ceil(batch)).map(|_| Vec::new()).collect();
    for out in missing {
        for (number, chunk) in out.chunks_mut(batch * ss).enumerate() {
            targets[number].push(chunk);
        }
    }
    targets
        .into_par_iter()
        .enumerate()
        .for_each(|(number, mut chunks)| {
            let first = number * batch;
            let lines = batch.min(width - first);
            for packing in Packing::segments(ss, lines, target) {
                plan.decode(
                    &packing,
                    |line, a| {
                        let column = first + line;
                        &rows[a][column * ss..(column + 1) * ss]
                    },
                    |position, shard| {
                        let Ok(slot) = restored.binary_search(&position) else {
                            return;
                        };
                        for (line, out) in chunks[slot].chunks_exact_mut(ss).enumerate() {
                            packing.unpack(shard, line, out);
                        }
                    },
                );
            }
        });
}

/// Rows `0..k_p` from `k_s` distinct columns (secondary slivers): each source row is decoded
/// with the secondary code (one plan for all), a batch of rows at a time, straight into the
/// output rows.
fn decode_from_columns(
    layout: &BlobLayout,
    columns: &[(usize, &[u8])],
) -> Result<Vec<u8>, EncodeError> {
    let config = &layout.config;
    let (n, k_primary, k_secondary) = (
        config.n(),
        config.n_primary_source_symbols(),
        config.n_secondary_source_symbols(),
    );
    let ss = layout.symbol_size();
    let row_length = layout.row_length();
    let positions: Vec<usize> = columns.iter().map(|(index, _)| *index).collect();
    let plan = DecodePlan::new(k_secondary, n, &positions)?;
    let mut given: Vec<Option<&[u8]>> = vec![None; k_secondary];
    for (index, data) in columns {
        if let Some(slot) = given.get_mut(*index) {
            *slot = Some(data);
        }
    }
    let target = plan.target_shard_bytes();
    let batch = batch_lines(k_primary, ss, target);
    let mut blob = vec![0u8; k_primary * row_length];
    blob.par_chunks_mut(batch * row_length)
        .enumerate()
        .for_each(|(number, out)| {
            let first = number * batch;
            for (line, row_out) in out.chunks_exact_mut(row_length).enumerate() {
                let row = first + line;
                for (column, symbol) in row_out.chunks_exact_mut(ss).enumerate() {
                    if let Some(data) = given[column] {
                        symbol.copy_from_slice(&data[row * ss..(row + 1) * ss]);
                    }
                }
            }
            let lines = batch.min(k_primary - first);
            for packing in Packing::segments(ss, lines, target) {
                plan.decode(
                    &packing,
                    |line, a| {
                        let row = first + line;
                        &columns[a].1[row * ss..(row + 1) * ss]
                    },
                    |column, shard| {
                        for (line, row_out) in out.chunks_exact_mut(row_length).enumerate() {
                            packing.unpack(
                                shard,
                                line,
                                &mut row_out[column * ss..(column + 1) * ss],
                            );
                        }
                    },
                );
            }
        });
    Ok(blob)
}
