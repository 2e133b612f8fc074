//! Twin of `walrus::events`: the events the contracts emit, with their BCS layouts.

use serde::{Deserialize, Serialize};
use walrus_core::ObjectId;

use super::sui::U256;

/// A blob was registered: nodes accept its slivers from now on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobRegistered {
    /// Epoch of registration.
    pub epoch: u32,
    /// The blob ID.
    pub blob_id: U256,
    /// Unencoded size in bytes.
    pub size: u64,
    /// Encoding type (1 = RS2).
    pub encoding_type: u8,
    /// First epoch the blob is no longer stored.
    pub end_epoch: u32,
    /// Whether the blob can be deleted.
    pub deletable: bool,
    /// The `Blob` object.
    pub object_id: ObjectId,
}

/// A blob was certified (or its certified lifetime extended).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobCertified {
    /// Epoch of certification.
    pub epoch: u32,
    /// The blob ID.
    pub blob_id: U256,
    /// First epoch the blob is no longer stored.
    pub end_epoch: u32,
    /// Whether the blob can be deleted.
    pub deletable: bool,
    /// The `Blob` object.
    pub object_id: ObjectId,
    /// Whether this is an extension of an already certified blob.
    pub is_extension: bool,
}

/// A deletable blob was deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobDeleted {
    /// Epoch of deletion.
    pub epoch: u32,
    /// The blob ID.
    pub blob_id: U256,
    /// The end epoch the blob had.
    pub end_epoch: u32,
    /// The deleted `Blob` object.
    pub object_id: ObjectId,
    /// Whether the blob had been certified.
    pub was_certified: bool,
}

/// A blob ID was proven inconsistent by at least one correct node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidBlobId {
    /// Epoch of the certificate.
    pub epoch: u32,
    /// The blob ID.
    pub blob_id: U256,
}

/// An epoch change started: the new committee takes over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochChangeStart {
    /// The new epoch.
    pub epoch: u32,
}

/// A quorum of the new committee holds its shards: the epoch change is done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochChangeDone {
    /// The epoch.
    pub epoch: u32,
}

/// A node received shards at an epoch change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardsReceived {
    /// The epoch.
    pub epoch: u32,
    /// The shards.
    pub shards: Vec<u16>,
}

/// The committee and parameters of the next epoch were selected (`staking::voting_end`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochParametersSelected {
    /// The epoch they are for.
    pub next_epoch: u32,
}

/// A staking pool was created for a new storage node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StakingPoolCreated {
    /// The node (pool) ID.
    pub node_id: ObjectId,
}

/// Any event of the `walrus` package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `events::BlobRegistered`.
    BlobRegistered(BlobRegistered),
    /// `events::BlobCertified`.
    BlobCertified(BlobCertified),
    /// `events::BlobDeleted`.
    BlobDeleted(BlobDeleted),
    /// `events::InvalidBlobID`.
    InvalidBlobId(InvalidBlobId),
    /// `events::EpochChangeStart`.
    EpochChangeStart(EpochChangeStart),
    /// `events::EpochChangeDone`.
    EpochChangeDone(EpochChangeDone),
    /// `events::ShardsReceived`.
    ShardsReceived(ShardsReceived),
    /// `events::EpochParametersSelected`.
    EpochParametersSelected(EpochParametersSelected),
    /// `events::StakingPoolCreated`.
    StakingPoolCreated(StakingPoolCreated),
}

impl Event {
    /// The Move struct name of the event (`events::<name>`).
    pub fn type_name(&self) -> &'static str {
        match self {
            Event::BlobRegistered(_) => "BlobRegistered",
            Event::BlobCertified(_) => "BlobCertified",
            Event::BlobDeleted(_) => "BlobDeleted",
            Event::InvalidBlobId(_) => "InvalidBlobID",
            Event::EpochChangeStart(_) => "EpochChangeStart",
            Event::EpochChangeDone(_) => "EpochChangeDone",
            Event::ShardsReceived(_) => "ShardsReceived",
            Event::EpochParametersSelected(_) => "EpochParametersSelected",
            Event::StakingPoolCreated(_) => "StakingPoolCreated",
        }
    }

    /// The event's BCS contents (what Sui stores as the event's `contents`).
    pub fn bcs_contents(&self) -> Vec<u8> {
        let bytes = match self {
            Event::BlobRegistered(event) => bcs::to_bytes(event),
            Event::BlobCertified(event) => bcs::to_bytes(event),
            Event::BlobDeleted(event) => bcs::to_bytes(event),
            Event::InvalidBlobId(event) => bcs::to_bytes(event),
            Event::EpochChangeStart(event) => bcs::to_bytes(event),
            Event::EpochChangeDone(event) => bcs::to_bytes(event),
            Event::ShardsReceived(event) => bcs::to_bytes(event),
            Event::EpochParametersSelected(event) => bcs::to_bytes(event),
            Event::StakingPoolCreated(event) => bcs::to_bytes(event),
        };
        bytes.expect("events are plain structs and always serialize")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_registered_layout() {
        let event = Event::BlobRegistered(BlobRegistered {
            epoch: 7,
            blob_id: U256([1; 32]),
            size: 258,
            encoding_type: 1,
            end_epoch: 9,
            deletable: true,
            object_id: ObjectId([2; 32]),
        });
        let mut expected = vec![7, 0, 0, 0];
        expected.extend([1; 32]);
        expected.extend([2, 1, 0, 0, 0, 0, 0, 0]);
        expected.push(1);
        expected.extend([9, 0, 0, 0]);
        expected.push(1);
        expected.extend([2; 32]);
        assert_eq!(event.bcs_contents(), expected);
        assert_eq!(event.type_name(), "BlobRegistered");
    }

    #[test]
    fn blob_certified_and_deleted_layout() {
        let certified = Event::BlobCertified(BlobCertified {
            epoch: 1,
            blob_id: U256([5; 32]),
            end_epoch: 2,
            deletable: false,
            object_id: ObjectId([6; 32]),
            is_extension: true,
        });
        assert_eq!(certified.bcs_contents().len(), 4 + 32 + 4 + 1 + 32 + 1);
        let deleted = Event::BlobDeleted(BlobDeleted {
            epoch: 1,
            blob_id: U256([5; 32]),
            end_epoch: 2,
            object_id: ObjectId([6; 32]),
            was_certified: true,
        });
        assert_eq!(*deleted.bcs_contents().last().unwrap(), 1);
        let invalid = Event::InvalidBlobId(InvalidBlobId {
            epoch: 2,
            blob_id: U256([3; 32]),
        });
        let mut expected = vec![2, 0, 0, 0];
        expected.extend([3; 32]);
        assert_eq!(invalid.bcs_contents(), expected);
        assert_eq!(invalid.type_name(), "InvalidBlobID");
        for (event, epoch) in [
            (Event::EpochChangeStart(EpochChangeStart { epoch: 5 }), 5u32),
            (Event::EpochChangeDone(EpochChangeDone { epoch: 6 }), 6),
            (
                Event::EpochParametersSelected(EpochParametersSelected { next_epoch: 7 }),
                7,
            ),
        ] {
            assert_eq!(event.bcs_contents(), epoch.to_le_bytes());
        }
        let created = Event::StakingPoolCreated(StakingPoolCreated {
            node_id: ObjectId([4; 32]),
        });
        assert_eq!(created.bcs_contents(), vec![4; 32]);
        let shards = Event::ShardsReceived(ShardsReceived {
            epoch: 3,
            shards: vec![1, 258],
        });
        assert_eq!(shards.bcs_contents(), vec![3, 0, 0, 0, 2, 1, 0, 2, 1]);
    }
}
