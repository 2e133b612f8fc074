//! `walrus-core`: the pure logic of a Walrus-compatible storage network, without I/O.
//!
//! - [`encoding`]: Red Stuff RS2 (2-D Reed-Solomon) encoding and decoding of blobs into sliver
//!   pairs, byte-compatible with the public Walrus encoder.
//! - [`metadata`]: per-pair Merkle roots and the blob ID.
//! - [`merkle`]: Blake2b-256 Merkle trees and proofs.
//! - [`ids`]: blob/object IDs and the shard, pair and sliver index spaces.
//! - [`bft`]: fault-tolerance thresholds.
//! - [`quilt`]: quilts (`QuiltV1`), many small files in one blob, byte-compatible with Walrus.
//! - [`bounded`]: bounded decoding of untrusted BCS (sequence length limits).

pub mod bft;
mod blake2b_many;
pub mod bounded;
pub mod crypto;
pub mod encoding;
pub mod ids;
pub mod merkle;
pub mod messages;
pub mod metadata;
pub mod quilt;

pub use encoding::SliverType;
pub use ids::{BlobId, Epoch, IdParseError, ObjectId, ShardIndex, SliverIndex, SliverPairIndex};

use thiserror::Error;

/// `value` in BCS, written into a buffer of exactly its size: `bcs::to_bytes` grows its
/// buffer by doubling, which for a sliver copies it once more and touches up to twice its
/// size in fresh memory (the trailing `symbol_size` after the data always reallocates).
pub fn to_bcs_exact<T: serde::Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, bcs::Error> {
    let mut bytes = Vec::with_capacity(bcs::serialized_size(value)?);
    bcs::serialize_into(&mut bytes, value)?;
    Ok(bytes)
}

/// Appends `value` as BCS writes a length: ULEB128, seven bits a byte, low bits first.
pub fn write_uleb128(out: &mut Vec<u8>, mut value: usize) {
    while value >= 0x80 {
        out.push(value.to_le_bytes()[0] | 0x80);
        value >>= 7;
    }
    out.push(value.to_le_bytes()[0]);
}

/// Why data could not be encoded.
#[derive(Debug, Error, PartialEq, Eq, Clone)]
pub enum EncodeError {
    /// The blob is larger than the largest blob this shard count can encode.
    #[error("the data is too large to be encoded/decoded: {length} bytes, at most {max} for this shard count")]
    DataTooLarge {
        /// Bytes given.
        length: u64,
        /// Largest encodable blob.
        max: u64,
    },
    /// The shard count is zero or beyond what the Reed-Solomon codec supports.
    #[error("invalid shard count {0}: must be between 1 and the codec's limit")]
    InvalidShardCount(u16),
    /// The Reed-Solomon codec refused its input (a bug or malformed symbols).
    #[error("Reed-Solomon codec error: {0}")]
    Codec(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_written_as_bcs_writes_them() {
        for len in [
            0usize, 1, 127, 128, 300, 16_383, 16_384, 2_097_151, 2_097_152,
        ] {
            let mut written = Vec::new();
            write_uleb128(&mut written, len);
            let serialized = bcs::to_bytes(&vec![0u8; len]).unwrap();
            assert_eq!(written, serialized[..serialized.len() - len], "{len}");
        }
    }
}
