//! Twin of `walrus::blob`: the `Blob` object that records a registered (and later certified)
//! blob and the storage it occupies.

use serde::{Deserialize, Serialize};
use walrus_core::{
    merkle::Node,
    metadata::{blob_id_from_root, EncodingType},
    ObjectId,
};

use super::{
    ensure, redstuff,
    storage_resource::Storage,
    sui::{VecMap, U256},
    Abort, MoveResult,
};

/// `EBlobNotExpired`: `burn` of a blob that is still stored.
pub const E_BLOB_NOT_EXPIRED: Abort = Abort::new("blob", 0, "EBlobNotExpired");
/// `EAttributeNotFound`: removing an attribute that is not set.
pub const E_ATTRIBUTE_NOT_FOUND: Abort = Abort::new("blob", 1, "EAttributeNotFound");

/// `Blob`: a registered blob, its storage and its certification state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blob {
    /// Object ID.
    pub id: ObjectId,
    /// Epoch of registration.
    pub registered_epoch: u32,
    /// The blob ID.
    pub blob_id: U256,
    /// Unencoded size in bytes.
    pub size: u64,
    /// Encoding type (1 = RS2).
    pub encoding_type: u8,
    /// Epoch of the first certification, if certified.
    pub certified_epoch: Option<u32>,
    /// The storage the blob occupies.
    pub storage: Storage,
    /// Whether the owner may delete it before it expires.
    pub deletable: bool,
    /// Key/value attributes (e.g. `content-type`).
    pub attributes: VecMap<String, String>,
}

/// `derive_blob_id`: `Blake2b256(BCS(encoding_type u8, size u64, root_hash u256))` read as a
/// little-endian `u256`, i.e. exactly the blob ID the encoder computes.
pub fn derive_blob_id(root_hash: U256, encoding_type: u8, size: u64) -> MoveResult<U256> {
    ensure(
        encoding_type == redstuff::RS2,
        redstuff::E_INVALID_ENCODING_TYPE,
    )?;
    Ok(U256(
        blob_id_from_root(EncodingType::RS2, size, &Node::Digest(root_hash.0)).0,
    ))
}

impl Blob {
    /// The end epoch (exclusive) of the blob's storage.
    pub fn end_epoch(&self) -> u32 {
        self.storage.end_epoch
    }

    /// Whether the blob is certified.
    pub fn is_certified(&self) -> bool {
        self.certified_epoch.is_some()
    }

    /// The encoded size the blob occupies.
    pub fn encoded_size(&self, n_shards: u16) -> MoveResult<u64> {
        redstuff::encoded_blob_length(self.size, self.encoding_type, n_shards)
    }

    /// `add_or_replace_attribute`.
    pub fn add_or_replace_attribute(&mut self, key: String, value: String) {
        self.attributes.insert_or_replace(key, value);
    }

    /// `remove_attribute`.
    pub fn remove_attribute(&mut self, key: &String) -> MoveResult<()> {
        self.attributes
            .remove(key)
            .map(|_| ())
            .ok_or(E_ATTRIBUTE_NOT_FOUND)
    }

    /// `burn` (`public(package)`; called by `system::burn_blob` with the current epoch):
    /// destroys an expired blob (`current_epoch >= end_epoch`).
    pub(crate) fn burn(self, current_epoch: u32) -> MoveResult<()> {
        ensure(current_epoch >= self.end_epoch(), E_BLOB_NOT_EXPIRED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use walrus_core::encoding::{compute_metadata, EncodingConfig};

    #[test]
    fn derived_blob_id_matches_the_encoder() {
        let config = EncodingConfig::new(10).unwrap();
        let metadata = compute_metadata(&config, b"hello walrus").unwrap();
        let root = match metadata.root_hash() {
            Node::Digest(digest) => U256(digest),
            Node::Empty => unreachable!("ten pairs have a root"),
        };
        assert_eq!(
            derive_blob_id(root, 1, 12).unwrap(),
            U256::from(*metadata.blob_id())
        );
        assert_eq!(
            derive_blob_id(root, 0, 12),
            Err(redstuff::E_INVALID_ENCODING_TYPE)
        );
    }

    #[test]
    fn layout_and_attributes() {
        let mut blob = Blob {
            id: ObjectId([1; 32]),
            registered_epoch: 2,
            blob_id: U256([3; 32]),
            size: 4,
            encoding_type: 1,
            certified_epoch: Some(5),
            storage: Storage {
                id: ObjectId([6; 32]),
                start_epoch: 2,
                end_epoch: 7,
                storage_size: 8,
            },
            deletable: true,
            attributes: VecMap::default(),
        };
        let bytes = bcs::to_bytes(&blob).unwrap();
        assert_eq!(
            bytes.len(),
            32 + 4 + 32 + 8 + 1 + 5 + (32 + 4 + 4 + 8) + 1 + 1
        );
        assert_eq!(&bytes[76..82], &[1, 1, 5, 0, 0, 0]);
        blob.add_or_replace_attribute("content-type".into(), "text/plain".into());
        assert_eq!(
            blob.attributes
                .get(&"content-type".to_string())
                .map(String::as_str),
            Some("text/plain")
        );
        assert_eq!(blob.remove_attribute(&"content-type".to_string()), Ok(()));
        assert_eq!(
            blob.remove_attribute(&"content-type".to_string()),
            Err(E_ATTRIBUTE_NOT_FOUND)
        );
        assert_eq!(blob.clone().burn(6), Err(E_BLOB_NOT_EXPIRED));
        assert_eq!(blob.burn(7), Ok(()));
    }
}
