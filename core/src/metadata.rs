//! Blob metadata (V1): one primary and one secondary Merkle root per sliver pair, and the blob
//! ID that commits to them.

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use crate::{
    encoding::{BlobLayout, EncodingConfig},
    merkle::{self, blake2b256, Digest, Node},
    BlobId, SliverIndex, SliverPairIndex, SliverType,
};

/// The encoding of a blob. Only RS2 exists; its wire value is 1 (0 was the retired
/// RaptorQ encoding and is refused). BCS: one byte; JSON: `"RS2"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EncodingType {
    /// Red Stuff with Reed-Solomon over GF(2^16).
    #[default]
    RS2,
}

impl EncodingType {
    /// The wire byte of the encoding type.
    pub fn as_u8(self) -> u8 {
        1
    }
}

impl TryFrom<u8> for EncodingType {
    type Error = MetadataError;

    fn try_from(value: u8) -> Result<Self, Self::Error> {
        match value {
            1 => Ok(EncodingType::RS2),
            other => Err(MetadataError::UnsupportedEncodingType(other)),
        }
    }
}

impl std::fmt::Display for EncodingType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedStuff/Reed-Solomon")
    }
}

impl Serialize for EncodingType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str("RS2")
        } else {
            // A one-byte ULEB128 enum tag is the same byte as a u8.
            serializer.serialize_u8(self.as_u8())
        }
    }
}

impl<'de> Deserialize<'de> for EncodingType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let text = String::deserialize(deserializer)?;
            match text.to_ascii_lowercase().as_str() {
                "rs2" | "reed-solomon" | "redstuff/reed-solomon" => Ok(EncodingType::RS2),
                _ => Err(de::Error::custom(format!(
                    "unsupported encoding type '{text}'"
                ))),
            }
        } else {
            let value = u8::deserialize(deserializer)?;
            EncodingType::try_from(value).map_err(de::Error::custom)
        }
    }
}

/// The Merkle roots of one sliver pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SliverPairMetadata {
    /// Root over the `n` symbols of the expanded primary sliver.
    pub primary_hash: Node,
    /// Root over the `n` symbols of the expanded secondary sliver.
    pub secondary_hash: Node,
}

impl SliverPairMetadata {
    /// The leaf of this pair in the tree whose root enters the blob ID.
    pub fn pair_leaf_input(&self) -> [u8; 64] {
        let mut leaf = [0u8; 64];
        leaf[..32].copy_from_slice(&self.primary_hash.bytes());
        leaf[32..].copy_from_slice(&self.secondary_hash.bytes());
        leaf
    }

    /// The hash of the sliver of `axis`.
    pub fn hash(&self, axis: SliverType) -> &Node {
        match axis {
            SliverType::Primary => &self.primary_hash,
            SliverType::Secondary => &self.secondary_hash,
        }
    }
}

/// Version 1 of the blob metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobMetadataV1 {
    /// The encoding type (RS2).
    pub encoding_type: EncodingType,
    /// Length of the blob in bytes.
    pub unencoded_length: u64,
    /// The roots of each sliver pair, by pair index (exactly `n_shards` entries; at most
    /// `u16::MAX` when decoded).
    #[serde(deserialize_with = "crate::bounded::bounded_vec::<_, { u16::MAX as usize }, _>")]
    pub hashes: Vec<SliverPairMetadata>,
}

/// Blob metadata, versioned. BCS: enum, `V1` = tag 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BlobMetadata {
    /// Version 1.
    V1(BlobMetadataV1),
}

impl BlobMetadata {
    /// The version-1 contents.
    pub fn v1(&self) -> &BlobMetadataV1 {
        match self {
            BlobMetadata::V1(inner) => inner,
        }
    }

    /// Length of the blob in bytes.
    pub fn unencoded_length(&self) -> u64 {
        self.v1().unencoded_length
    }

    /// The encoding type.
    pub fn encoding_type(&self) -> EncodingType {
        self.v1().encoding_type
    }

    /// The per-pair roots.
    pub fn hashes(&self) -> &[SliverPairMetadata] {
        &self.v1().hashes
    }

    /// The Merkle root over the pair leaves (the root hash registered on chain).
    pub fn root_hash(&self) -> Node {
        let leaves: Vec<[u8; 64]> = self.hashes().iter().map(|h| h.pair_leaf_input()).collect();
        merkle::root_from_leaves(leaves.iter().map(|leaf| leaf.as_slice()))
    }

    /// The blob ID these metadata commit to.
    pub fn compute_blob_id(&self) -> BlobId {
        blob_id_from_root(
            self.encoding_type(),
            self.unencoded_length(),
            &self.root_hash(),
        )
    }
}

/// The blob ID for a root hash: `Blake2b256(encoding_type u8 || length u64 LE || root)`.
pub fn blob_id_from_root(
    encoding_type: EncodingType,
    unencoded_length: u64,
    root: &Node,
) -> BlobId {
    let mut preimage = [0u8; 41];
    preimage[0] = encoding_type.as_u8();
    preimage[1..9].copy_from_slice(&unencoded_length.to_le_bytes());
    preimage[9..].copy_from_slice(&root.bytes());
    BlobId(blake2b256(&preimage))
}

/// Why metadata was refused.
#[derive(Debug, Error, PartialEq, Eq, Clone)]
pub enum MetadataError {
    /// The number of pair hashes is not the number of shards.
    #[error("metadata has {actual} sliver-pair hashes, the committee has {expected} shards")]
    InvalidHashCount {
        /// Shards of the committee.
        expected: usize,
        /// Hashes present.
        actual: usize,
    },
    /// The blob is larger than any blob encodable with this many shards.
    #[error("unencoded length {length} exceeds the maximum {max} for this shard count")]
    UnencodedLengthTooLarge {
        /// Length claimed.
        length: u64,
        /// Largest encodable.
        max: u64,
    },
    /// The metadata do not hash to the blob ID they claim.
    #[error("metadata hash to blob ID {computed}, not {claimed}")]
    BlobIdMismatch {
        /// The blob ID claimed.
        claimed: BlobId,
        /// The blob ID computed from the metadata.
        computed: BlobId,
    },
    /// An encoding type other than RS2.
    #[error("unsupported encoding type {0} (only RS2 = 1 is supported)")]
    UnsupportedEncodingType(u8),
}

/// Metadata together with the blob ID they claim to belong to (unverified: as received).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobMetadataWithId {
    /// The blob ID.
    pub blob_id: BlobId,
    /// The metadata.
    pub metadata: BlobMetadata,
}

impl BlobMetadataWithId {
    /// Checks the metadata against the encoding configuration and the blob ID: the hash count,
    /// the length limit, and that the metadata hash to the blob ID.
    pub fn verify(
        self,
        config: &EncodingConfig,
    ) -> Result<VerifiedBlobMetadataWithId, MetadataError> {
        let hashes = self.metadata.hashes().len();
        if hashes != config.n() {
            return Err(MetadataError::InvalidHashCount {
                expected: config.n(),
                actual: hashes,
            });
        }
        let length = self.metadata.unencoded_length();
        let layout =
            config
                .blob_layout(length)
                .map_err(|_| MetadataError::UnencodedLengthTooLarge {
                    length,
                    max: config.max_blob_size(),
                })?;
        let computed = self.metadata.compute_blob_id();
        if computed != self.blob_id {
            return Err(MetadataError::BlobIdMismatch {
                claimed: self.blob_id,
                computed,
            });
        }
        Ok(VerifiedBlobMetadataWithId {
            inner: self,
            layout,
        })
    }
}

/// Metadata that were checked against their blob ID and a shard count; only [`BlobMetadataWithId::verify`]
/// and the encoder make them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedBlobMetadataWithId {
    inner: BlobMetadataWithId,
    layout: BlobLayout,
}

impl VerifiedBlobMetadataWithId {
    /// Builds verified metadata from parts the encoder computed itself.
    pub(crate) fn from_encoder(layout: BlobLayout, hashes: Vec<SliverPairMetadata>) -> Self {
        let metadata = BlobMetadata::V1(BlobMetadataV1 {
            encoding_type: EncodingType::RS2,
            unencoded_length: layout.unencoded_length,
            hashes,
        });
        let blob_id = metadata.compute_blob_id();
        Self {
            inner: BlobMetadataWithId { blob_id, metadata },
            layout,
        }
    }

    /// The blob ID.
    pub fn blob_id(&self) -> &BlobId {
        &self.inner.blob_id
    }

    /// The metadata.
    pub fn metadata(&self) -> &BlobMetadata {
        &self.inner.metadata
    }

    /// The metadata with their blob ID, as sent over the wire.
    pub fn as_unverified(&self) -> &BlobMetadataWithId {
        &self.inner
    }

    /// Unwraps into the wire form.
    pub fn into_unverified(self) -> BlobMetadataWithId {
        self.inner
    }

    /// The blob's layout (symbol size, lengths) under the verified shard count.
    pub fn layout(&self) -> &BlobLayout {
        &self.layout
    }

    /// The encoding configuration the metadata were verified against.
    pub fn config(&self) -> &EncodingConfig {
        &self.layout.config
    }

    /// The root of the tree over the pair hashes (registered on chain as `root_hash`).
    pub fn root_hash(&self) -> Node {
        self.inner.metadata.root_hash()
    }

    /// The metadata hash of sliver `index` on `axis`: primary sliver `i` belongs to pair `i`,
    /// secondary sliver `i` to pair `n - 1 - i`.
    pub fn sliver_hash(&self, axis: SliverType, index: SliverIndex) -> Option<&Node> {
        let pair = sliver_pair_index(axis, index, self.config().n_shards())?;
        self.inner
            .metadata
            .hashes()
            .get(pair.as_usize())
            .map(|hashes| hashes.hash(axis))
    }
}

/// The pair holding sliver `index` of `axis`, or `None` if the index is out of range.
pub fn sliver_pair_index(
    axis: SliverType,
    index: SliverIndex,
    n_shards: u16,
) -> Option<SliverPairIndex> {
    if index.get() >= n_shards {
        return None;
    }
    Some(match axis {
        SliverType::Primary => SliverPairIndex(index.get()),
        SliverType::Secondary => SliverPairIndex(n_shards - 1 - index.get()),
    })
}

/// Convenience: the digest of a node, `None` for the empty node.
pub fn node_digest(node: &Node) -> Option<Digest> {
    match node {
        Node::Empty => None,
        Node::Digest(digest) => Some(*digest),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_type_wire_forms() {
        assert_eq!(bcs::to_bytes(&EncodingType::RS2).unwrap(), vec![1]);
        assert_eq!(
            serde_json::to_string(&EncodingType::RS2).unwrap(),
            "\"RS2\""
        );
        assert!(bcs::from_bytes::<EncodingType>(&[0]).is_err());
        assert!(bcs::from_bytes::<EncodingType>(&[2]).is_err());
        assert_eq!(
            bcs::from_bytes::<EncodingType>(&[1]).unwrap(),
            EncodingType::RS2
        );
    }

    #[test]
    fn metadata_bcs_layout() {
        let metadata = BlobMetadataWithId {
            blob_id: BlobId([3; 32]),
            metadata: BlobMetadata::V1(BlobMetadataV1 {
                encoding_type: EncodingType::RS2,
                unencoded_length: 258,
                hashes: vec![SliverPairMetadata {
                    primary_hash: Node::Digest([4; 32]),
                    secondary_hash: Node::Empty,
                }],
            }),
        };
        let bytes = bcs::to_bytes(&metadata).unwrap();
        let mut expected = vec![3; 32];
        expected.extend([0, 1, 2, 1, 0, 0, 0, 0, 0, 0, 1, 1]);
        expected.extend([4; 32]);
        expected.push(0);
        assert_eq!(bytes, expected);
        assert_eq!(
            bcs::from_bytes::<BlobMetadataWithId>(&bytes).unwrap(),
            metadata
        );
    }

    #[test]
    fn verify_rejects_wrong_count_and_id() {
        let config = EncodingConfig::new(4).unwrap();
        let hashes = vec![
            SliverPairMetadata {
                primary_hash: Node::Digest([1; 32]),
                secondary_hash: Node::Digest([2; 32]),
            };
            4
        ];
        let metadata = BlobMetadata::V1(BlobMetadataV1 {
            encoding_type: EncodingType::RS2,
            unencoded_length: 10,
            hashes: hashes.clone(),
        });
        let good = BlobMetadataWithId {
            blob_id: metadata.compute_blob_id(),
            metadata: metadata.clone(),
        };
        assert!(good.clone().verify(&config).is_ok());
        let wrong_id = BlobMetadataWithId {
            blob_id: BlobId([0; 32]),
            ..good.clone()
        };
        assert!(matches!(
            wrong_id.verify(&config),
            Err(MetadataError::BlobIdMismatch { .. })
        ));
        assert!(matches!(
            good.clone().verify(&EncodingConfig::new(5).unwrap()),
            Err(MetadataError::InvalidHashCount { .. })
        ));
        let mut huge = good;
        let BlobMetadata::V1(inner) = &mut huge.metadata;
        inner.unencoded_length = u64::MAX;
        assert!(matches!(
            huge.verify(&config),
            Err(MetadataError::UnencodedLengthTooLarge { .. })
        ));
    }
}
