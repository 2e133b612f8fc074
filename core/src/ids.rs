//! Identifier newtypes: blob IDs, object IDs and the three index spaces (shard, sliver pair,
//! sliver) that must never be mixed up.

use std::{fmt, str::FromStr};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use crate::encoding::SliverType;

/// A Walrus epoch number (`u32` on chain and in every signed message).
pub type Epoch = u32;

/// Error parsing an identifier from its text form.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum IdParseError {
    /// The text is not valid unpadded URL-safe base64.
    #[error("invalid base64url text: {0}")]
    InvalidBase64(String),
    /// The text is not valid hexadecimal.
    #[error("invalid hex text: {0}")]
    InvalidHex(String),
    /// The decoded bytes do not have the expected length.
    #[error("expected {expected} bytes, got {actual}")]
    WrongLength {
        /// Bytes required.
        expected: usize,
        /// Bytes found.
        actual: usize,
    },
}

/// The 32-byte identifier of a blob: a Blake2b-256 hash committing to the encoding type, the
/// unencoded length and the Merkle root of the sliver-pair metadata.
///
/// Text form: URL-safe base64 without padding (43 characters), as Walrus prints it. In BCS it
/// is 32 raw bytes; in human-readable formats (JSON) it is the text form.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct BlobId(pub [u8; 32]);

impl BlobId {
    /// Length of a blob ID in bytes.
    pub const LENGTH: usize = 32;

    /// The blob ID as a `u256`, as the Move contracts see it: the 32 bytes read little-endian,
    /// returned here as the little-endian byte array (identical to the ID bytes).
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The offset by which sliver pairs are rotated onto shards: the ID read as a big-endian
    /// unsigned integer, modulo `n_shards`.
    pub fn rotation_offset(&self, n_shards: u16) -> u16 {
        let modulus = u64::from(n_shards.max(1));
        // Four bytes at a time: `acc < 2^16`, so `acc * 2^32 + word < 2^48` fits.
        let remainder = self.0.chunks_exact(4).fold(0u64, |acc, word| {
            let word = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
            ((acc << 32) | u64::from(word)) % modulus
        });
        // `remainder < modulus <= u16::MAX`.
        u16::try_from(remainder).expect("remainder is smaller than a u16 modulus")
    }
}

impl fmt::Display for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&URL_SAFE_NO_PAD.encode(self.0))
    }
}

impl fmt::Debug for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobId({self})")
    }
}

impl FromStr for BlobId {
    type Err = IdParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim())
            .map_err(|error| IdParseError::InvalidBase64(error.to_string()))?;
        let actual = bytes.len();
        let array: [u8; 32] = bytes.try_into().map_err(|_| IdParseError::WrongLength {
            expected: Self::LENGTH,
            actual,
        })?;
        Ok(Self(array))
    }
}

/// Serde for a 32-byte identifier: its text form (`Display`/`FromStr`) in human-readable
/// formats such as JSON, its 32 raw bytes in BCS.
macro_rules! text_or_bytes_serde {
    ($name:ident) => {
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                if serializer.is_human_readable() {
                    serializer.collect_str(self)
                } else {
                    self.0.serialize(serializer)
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                if deserializer.is_human_readable() {
                    let text = String::deserialize(deserializer)?;
                    text.parse().map_err(de::Error::custom)
                } else {
                    <[u8; 32]>::deserialize(deserializer).map(Self)
                }
            }
        }
    };
}

text_or_bytes_serde!(BlobId);

/// A 32-byte Sui object ID (the `UID` of a Move object). Text form: `0x` followed by 64 hex
/// digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ObjectId(pub [u8; 32]);

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectId({self})")
    }
}

impl FromStr for ObjectId {
    type Err = IdParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let digits = text.trim().trim_start_matches("0x");
        if digits.len() > 64 {
            return Err(IdParseError::WrongLength {
                expected: 32,
                actual: digits.len().div_ceil(2),
            });
        }
        // Sui accepts short forms (`0x2`): left-pad with zeros.
        let padded = format!("{digits:0>64}");
        let bytes =
            hex::decode(padded).map_err(|error| IdParseError::InvalidHex(error.to_string()))?;
        let mut array = [0u8; 32];
        array.copy_from_slice(&bytes);
        Ok(Self(array))
    }
}

text_or_bytes_serde!(ObjectId);

macro_rules! index_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub u16);

        impl $name {
            /// The index as a `usize`, for indexing vectors.
            pub fn as_usize(self) -> usize {
                usize::from(self.0)
            }

            /// The index as a `u16`, its wire form.
            pub fn get(self) -> u16 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl From<u16> for $name {
            fn from(value: u16) -> Self {
                Self(value)
            }
        }

        impl TryFrom<usize> for $name {
            type Error = std::num::TryFromIntError;

            fn try_from(value: usize) -> Result<Self, Self::Error> {
                u16::try_from(value).map(Self)
            }
        }
    };
}

index_newtype!(
    /// Index of a shard in the committee's shard space `0..n_shards`.
    ShardIndex
);
index_newtype!(
    /// Index of a sliver pair `0..n_shards`; pair `i` holds primary sliver `i` and secondary
    /// sliver `n_shards - 1 - i`. Pairs are rotated onto shards by the blob ID.
    SliverPairIndex
);
index_newtype!(
    /// Index of a sliver along its own axis (`0..n_shards`): a primary sliver index is a row of
    /// the expanded matrix, a secondary sliver index a column.
    SliverIndex
);

impl SliverPairIndex {
    /// The shard that stores this pair for the blob whose rotation offset is given.
    pub fn to_shard_index(self, n_shards: u16, blob_id: &BlobId) -> ShardIndex {
        let offset = u32::from(blob_id.rotation_offset(n_shards));
        let shard = (u32::from(self.0) + offset) % u32::from(n_shards.max(1));
        ShardIndex(u16::try_from(shard).expect("a value mod n_shards fits in u16"))
    }

    /// The primary sliver index held by this pair (equal to the pair index).
    pub fn primary_sliver_index(self) -> SliverIndex {
        SliverIndex(self.0)
    }

    /// The secondary sliver index held by this pair (`n_shards - 1 - pair`), or `None` if the
    /// pair index is not below `n_shards`.
    pub fn secondary_sliver_index(self, n_shards: u16) -> Option<SliverIndex> {
        n_shards
            .checked_sub(1)?
            .checked_sub(self.0)
            .map(SliverIndex)
    }

    /// The sliver index this pair holds on `axis`, or `None` if the pair index is not below
    /// `n_shards`.
    pub fn sliver_index(self, axis: SliverType, n_shards: u16) -> Option<SliverIndex> {
        match axis {
            SliverType::Primary => (self.0 < n_shards).then(|| self.primary_sliver_index()),
            SliverType::Secondary => self.secondary_sliver_index(n_shards),
        }
    }
}

impl ShardIndex {
    /// The sliver pair stored on this shard for the given blob.
    pub fn to_pair_index(self, n_shards: u16, blob_id: &BlobId) -> SliverPairIndex {
        let n = u32::from(n_shards.max(1));
        let offset = u32::from(blob_id.rotation_offset(n_shards));
        let pair = (n + u32::from(self.0) % n - offset) % n;
        SliverPairIndex(u16::try_from(pair).expect("a value mod n_shards fits in u16"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_id_text_round_trip() {
        let text = "CmzciFdWJP1IIM-rD3cqXlVBXYM0fpAfHahZBvkaZUI";
        let id: BlobId = text.parse().unwrap();
        assert_eq!(id.to_string(), text);
        assert_eq!(
            hex::encode(id.0),
            "0a6cdc88575624fd4820cfab0f772a5e55415d83347e901f1da85906f91a6542"
        );
    }

    #[test]
    fn blob_id_rejects_bad_text() {
        assert!(matches!(
            "abc".parse::<BlobId>(),
            Err(IdParseError::WrongLength { .. })
        ));
        assert!(matches!(
            "not base64 !!".parse::<BlobId>(),
            Err(IdParseError::InvalidBase64(_))
        ));
    }

    #[test]
    fn blob_id_json_is_text_and_bcs_is_raw() {
        let id = BlobId([7; 32]);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(serde_json::from_str::<BlobId>(&json).unwrap(), id);
        assert_eq!(bcs::to_bytes(&id).unwrap(), vec![7; 32]);
    }

    #[test]
    fn rotation_is_big_endian_mod_n() {
        let mut bytes = [0u8; 32];
        bytes[31] = 5;
        bytes[30] = 1; // 256 + 5 = 261
        let id = BlobId(bytes);
        assert_eq!(id.rotation_offset(10), 1);
        assert_eq!(id.rotation_offset(100), 61);
        for pair in 0..100u16 {
            let shard = SliverPairIndex(pair).to_shard_index(100, &id);
            assert_eq!(shard.0, (pair + 61) % 100);
            assert_eq!(shard.to_pair_index(100, &id), SliverPairIndex(pair));
        }
    }

    proptest::proptest! {
        #[test]
        fn rotation_offset_is_the_id_mod_n(bytes in proptest::prelude::any::<[u8; 32]>(), n in 1u16..) {
            let bytewise = bytes
                .iter()
                .fold(0u32, |acc, byte| (acc * 256 + u32::from(*byte)) % u32::from(n));
            proptest::prop_assert_eq!(u32::from(BlobId(bytes).rotation_offset(n)), bytewise);
        }
    }

    #[test]
    fn out_of_range_pair_has_no_secondary_sliver() {
        assert_eq!(
            SliverPairIndex(0).secondary_sliver_index(10),
            Some(SliverIndex(9))
        );
        assert_eq!(
            SliverPairIndex(9).secondary_sliver_index(10),
            Some(SliverIndex(0))
        );
        assert_eq!(SliverPairIndex(10).secondary_sliver_index(10), None);
        assert_eq!(SliverPairIndex(0).secondary_sliver_index(0), None);
        assert_eq!(
            SliverPairIndex(2).sliver_index(SliverType::Primary, 10),
            Some(SliverIndex(2))
        );
        assert_eq!(
            SliverPairIndex(2).sliver_index(SliverType::Secondary, 10),
            Some(SliverIndex(7))
        );
        assert_eq!(
            SliverPairIndex(10).sliver_index(SliverType::Primary, 10),
            None
        );
        assert_eq!(
            SliverPairIndex(10).sliver_index(SliverType::Secondary, 10),
            None
        );
    }

    #[test]
    fn object_id_short_and_long_forms() {
        let id: ObjectId = "0x2".parse().unwrap();
        assert_eq!(id.0[31], 2);
        assert_eq!(id.to_string().len(), 66);
        assert_eq!(id.to_string().parse::<ObjectId>().unwrap(), id);
        assert!("0xzz".parse::<ObjectId>().is_err());
    }
}
