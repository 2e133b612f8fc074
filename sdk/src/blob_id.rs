//! Offline blob-ID computation (`walrus blob-id`).

use std::path::{Path, PathBuf};

use serde::Serialize;
use thiserror::Error;
use walrus_core::{
    encoding::{compute_metadata, EncodingConfig},
    metadata::{node_digest, EncodingType},
    BlobId, EncodeError,
};

/// Why a blob ID could not be computed.
#[derive(Debug, Error)]
pub enum BlobIdError {
    /// The file could not be read.
    #[error("cannot read '{path}': {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The blob cannot be encoded with this shard count (too large, bad count).
    #[error(transparent)]
    Encoding(#[from] EncodeError),
}

/// What `walrus blob-id` reports, in Walrus's JSON field names (`blobId`, `file`,
/// `unencodedLength`, `encodingType`) plus the encoding facts a client needs to pay for and
/// register the blob.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BlobIdOutput {
    /// The blob ID (base64url, no padding).
    pub blob_id: BlobId,
    /// The file the blob was read from.
    pub file: PathBuf,
    /// Length of the blob in bytes.
    pub unencoded_length: u64,
    /// The encoding type (`RS2`).
    pub encoding_type: EncodingType,
    /// The Merkle root over the sliver-pair hashes, hex (registered on chain as `root_hash`).
    pub root_hash: String,
    /// Bytes per symbol.
    pub symbol_size: u16,
    /// The encoded length the system charges storage for.
    pub encoded_length: u64,
    /// The shard count the ID was computed for.
    pub n_shards: u16,
}

/// Computes the blob ID and encoding facts of `blob` for `n_shards` shards.
pub fn blob_id_of_bytes(
    blob: &[u8],
    n_shards: u16,
    file: &Path,
) -> Result<BlobIdOutput, BlobIdError> {
    let config = EncodingConfig::new(n_shards)?;
    let metadata = compute_metadata(&config, blob)?;
    let layout = metadata.layout();
    Ok(BlobIdOutput {
        blob_id: *metadata.blob_id(),
        file: file.to_path_buf(),
        unencoded_length: layout.unencoded_length,
        encoding_type: metadata.metadata().encoding_type(),
        root_hash: node_digest(&metadata.root_hash())
            .map(hex::encode)
            .unwrap_or_default(),
        symbol_size: layout.symbol_size,
        encoded_length: layout.encoded_length(),
        n_shards,
    })
}

/// Reads `path` once into memory and computes its blob ID for `n_shards` shards. The size is
/// checked against the shard count's limit before the file is read.
pub fn blob_id_of_file(path: &Path, n_shards: u16) -> Result<BlobIdOutput, BlobIdError> {
    let read_error = |source| BlobIdError::Read {
        path: path.to_path_buf(),
        source,
    };
    let config = EncodingConfig::new(n_shards)?;
    let length = std::fs::metadata(path).map_err(read_error)?.len();
    config.blob_layout(length)?;
    let blob = std::fs::read(path).map_err(read_error)?;
    blob_id_of_bytes(&blob, n_shards, path)
}
