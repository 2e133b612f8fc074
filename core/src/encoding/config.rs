//! Encoding parameters of Red Stuff RS2 for a committee of `n_shards` shards, and the layout
//! of one blob (symbol size, sliver lengths, encoded length).

use std::num::NonZeroU16;

use crate::{bft, EncodeError, SliverType};

/// The only symbol size alignment RS2 allows: reed-solomon-simd works on 16-bit elements.
pub const SYMBOL_ALIGNMENT: usize = 2;

/// The largest symbol RS2 allows (`u16::MAX - 1`, the largest even `u16`).
pub const MAX_SYMBOL_SIZE: usize = 65_534;

/// Bytes of a Blake2b-256 digest (Merkle nodes, blob IDs).
pub const DIGEST_LEN: usize = 32;

/// Parameters of RS2 encoding for a fixed number of shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EncodingConfig {
    n_shards: NonZeroU16,
}

impl EncodingConfig {
    /// The configuration for `n_shards` shards; fails for zero shards or for a count that the
    /// underlying Reed-Solomon codec cannot handle.
    pub fn new(n_shards: u16) -> Result<Self, EncodeError> {
        let n = NonZeroU16::new(n_shards).ok_or(EncodeError::InvalidShardCount(n_shards))?;
        let config = Self { n_shards: n };
        let n_usize = usize::from(n_shards);
        for k in [
            config.n_primary_source_symbols(),
            config.n_secondary_source_symbols(),
        ] {
            let recovery = n_usize - k;
            if recovery > 0 && !reed_solomon_simd::ReedSolomonEncoder::supports(k, recovery) {
                return Err(EncodeError::InvalidShardCount(n_shards));
            }
        }
        Ok(config)
    }

    /// The number of shards `n`.
    pub fn n_shards(&self) -> u16 {
        self.n_shards.get()
    }

    /// The number of shards as a `usize`.
    pub fn n(&self) -> usize {
        usize::from(self.n_shards.get())
    }

    /// `f`, the maximum number of faulty shards.
    pub fn max_n_faulty(&self) -> usize {
        usize::from(bft::max_n_faulty(self.n_shards()))
    }

    /// Source symbols of the primary code, `n - 2f`: rows of the message matrix, and the number
    /// of primary slivers needed to decode a blob.
    pub fn n_primary_source_symbols(&self) -> usize {
        self.n() - 2 * self.max_n_faulty()
    }

    /// Source symbols of the secondary code, `n - f`: columns of the message matrix, and the
    /// number of secondary slivers needed to decode a blob.
    pub fn n_secondary_source_symbols(&self) -> usize {
        self.n() - self.max_n_faulty()
    }

    /// Number of source symbols of the code along `axis`: `n - 2f` for primary, `n - f` for
    /// secondary. This is also how many slivers of that axis decode a blob.
    pub fn n_source_symbols(&self, axis: SliverType) -> usize {
        match axis {
            SliverType::Primary => self.n_primary_source_symbols(),
            SliverType::Secondary => self.n_secondary_source_symbols(),
        }
    }

    /// Number of symbols in one sliver of `axis`: a primary sliver is a row of `n - f` symbols,
    /// a secondary sliver a column of `n - 2f` symbols. It is also the number of recovery
    /// symbols needed to rebuild such a sliver.
    pub fn n_symbols_in_sliver(&self, axis: SliverType) -> usize {
        self.n_source_symbols(axis.orthogonal())
    }

    /// Largest blob this configuration can encode: `(n - 2f) * (n - f) * 65534` bytes.
    pub fn max_blob_size(&self) -> u64 {
        let cells = self.n_primary_source_symbols() * self.n_secondary_source_symbols();
        u64::try_from(cells * MAX_SYMBOL_SIZE).unwrap_or(u64::MAX)
    }

    /// The symbol size for a blob of `unencoded_length` bytes:
    /// `ceil(max(len, 1) / ((n - 2f) * (n - f)))` rounded up to even; an error above 65534.
    pub fn symbol_size_for(&self, unencoded_length: u64) -> Result<u16, EncodeError> {
        let too_large = EncodeError::DataTooLarge {
            length: unencoded_length,
            max: self.max_blob_size(),
        };
        if unencoded_length > self.max_blob_size() {
            return Err(too_large);
        }
        let cells =
            u64::try_from(self.n_primary_source_symbols() * self.n_secondary_source_symbols())
                .map_err(|_| too_large.clone())?;
        let size = unencoded_length.max(1).div_ceil(cells);
        let aligned = size.div_ceil(2) * 2;
        u16::try_from(aligned)
            .ok()
            .filter(|size| usize::from(*size) <= MAX_SYMBOL_SIZE)
            .ok_or(too_large)
    }

    /// The layout of a blob of `unencoded_length` bytes, or an error if it is too large.
    pub fn blob_layout(&self, unencoded_length: u64) -> Result<BlobLayout, EncodeError> {
        let symbol_size = self.symbol_size_for(unencoded_length)?;
        Ok(BlobLayout {
            config: *self,
            unencoded_length,
            symbol_size,
        })
    }

    /// Bytes of metadata per shard, as the contract charges it: one primary and one secondary
    /// hash per pair plus the blob ID.
    pub fn metadata_length(&self) -> u64 {
        u64::from(self.n_shards()) * 2 * 32 + 32
    }

    /// The encoded length the contract charges storage for, or `None` if the blob is too large.
    pub fn encoded_blob_length(&self, unencoded_length: u64) -> Option<u64> {
        let layout = self.blob_layout(unencoded_length).ok()?;
        Some(layout.encoded_length())
    }
}

/// The shape of one blob under one [`EncodingConfig`]: its symbol size and everything derived
/// from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlobLayout {
    /// The encoding configuration.
    pub config: EncodingConfig,
    /// Length of the blob in bytes.
    pub unencoded_length: u64,
    /// Bytes per symbol (even, at most 65534).
    pub symbol_size: u16,
}

impl BlobLayout {
    /// The symbol size as a `usize`.
    pub fn symbol_size(&self) -> usize {
        usize::from(self.symbol_size)
    }

    /// Bytes in one sliver of `axis`.
    pub fn sliver_length(&self, axis: SliverType) -> usize {
        self.config.n_symbols_in_sliver(axis) * self.symbol_size()
    }

    /// Bytes of one message-matrix row (`n - f` symbols); also the primary sliver length.
    pub fn row_length(&self) -> usize {
        self.sliver_length(SliverType::Primary)
    }

    /// Bytes of all slivers of all shards: `n * (n - 2f + n - f) * symbol_size`.
    pub fn encoded_slivers_length(&self) -> u64 {
        let per_shard = (self.config.n_primary_source_symbols()
            + self.config.n_secondary_source_symbols())
            * self.symbol_size();
        u64::from(self.config.n_shards()) * u64::try_from(per_shard).unwrap_or(u64::MAX)
    }

    /// The encoded length the contract charges storage for: `n * metadata_length` plus all
    /// slivers.
    pub fn encoded_length(&self) -> u64 {
        u64::from(self.config.n_shards()) * self.config.metadata_length()
            + self.encoded_slivers_length()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_symbols_match_walrus() {
        for (n, p, s) in [
            (4, 2, 3),
            (7, 3, 5),
            (10, 4, 7),
            (100, 34, 67),
            (1000, 334, 667),
        ] {
            let config = EncodingConfig::new(n).unwrap();
            assert_eq!(config.n_primary_source_symbols(), p, "n = {n}");
            assert_eq!(config.n_secondary_source_symbols(), s, "n = {n}");
        }
    }

    #[test]
    fn symbol_size_rules() {
        let config = EncodingConfig::new(4).unwrap();
        assert_eq!(config.symbol_size_for(0).unwrap(), 2);
        assert_eq!(config.symbol_size_for(100).unwrap(), 18);
        assert_eq!(config.max_blob_size(), 393_204);
        assert!(config.symbol_size_for(393_204).is_ok());
        assert!(matches!(
            config.symbol_size_for(393_205),
            Err(EncodeError::DataTooLarge { .. })
        ));
        assert!(config.symbol_size_for(u64::MAX).is_err());
    }

    #[test]
    fn zero_shards_rejected() {
        assert!(EncodingConfig::new(0).is_err());
        assert!(EncodingConfig::new(1).is_ok());
        // Too many shards for reed-solomon-simd's FFT sizes: refused, not a panic later.
        assert!(EncodingConfig::new(u16::MAX).is_err());
    }
}
