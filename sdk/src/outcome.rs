//! What a store returns, in exactly the JSON shape of Walrus's `BlobStoreResult` (camelCase,
//! externally tagged), so the publisher's answer and `walrus store --json` match Walrus's:
//!
//! ```json
//! {"newlyCreated": {"blobObject": {"id": "0x…", "registeredEpoch": 1, "blobId": "…",
//!   "size": 1024, "encodingType": "RS2", "certifiedEpoch": 1,
//!   "storage": {"id": "0x…", "startEpoch": 1, "endEpoch": 3, "storageSize": 66034000},
//!   "deletable": true},
//!  "resourceOperation": {"registerFromScratch": {"encodedLength": 66034000, "epochsAhead": 2}},
//!  "cost": 132068000}}
//! {"alreadyCertified": {"blobId": "…", "event": {"txDigest": "…", "eventSeq": "0"},
//!  "endEpoch": 3}}
//! ```

use serde::{Deserialize, Serialize};
use walrus_chain::contract::{blob::Blob, storage_resource::Storage};
use walrus_core::{metadata::EncodingType, quilt::QuiltPatchId, BlobId, Epoch, ObjectId};
use walrus_node_client::api::EventId;

use crate::client::SdkError;

/// The outcome of a quilt store, in Walrus's `QuiltStoreResult` JSON shape:
/// `{"blobStoreResult": {...}, "storedQuiltBlobs": [{"identifier": "…", "quiltPatchId": "…"}]}`
/// (patches in quilt order, by identifier).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuiltStoreOutcome {
    /// The store of the quilt blob.
    pub blob_store_result: StoreOutcome,
    /// Every patch stored, with its ID.
    pub stored_quilt_blobs: Vec<StoredQuiltPatch>,
}

/// One patch of a stored quilt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredQuiltPatch {
    /// The patch's identifier.
    pub identifier: String,
    /// Its quilt patch ID (read it with `walrus read-quilt --quilt-patch-ids` or the
    /// aggregator's `/v1/blobs/by-quilt-patch-id/{id}`).
    pub quilt_patch_id: QuiltPatchId,
}

/// The outcome of a store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StoreOutcome {
    /// The blob was registered, uploaded and certified by this call.
    #[serde(rename_all = "camelCase")]
    NewlyCreated {
        /// The certified `Blob` object.
        blob_object: BlobObject,
        /// How its storage was obtained.
        resource_operation: ResourceOperation,
        /// WAL (FROST) paid for storage and the write.
        cost: u64,
    },
    /// The nodes already store the blob certified until at least the requested end epoch.
    #[serde(rename_all = "camelCase")]
    AlreadyCertified {
        /// The blob ID.
        blob_id: BlobId,
        /// The event that certified it (as the storage nodes report it).
        event: EventId,
        /// Its end epoch (exclusive).
        end_epoch: Epoch,
    },
}

impl StoreOutcome {
    /// The blob ID.
    pub fn blob_id(&self) -> BlobId {
        match self {
            StoreOutcome::NewlyCreated { blob_object, .. } => blob_object.blob_id,
            StoreOutcome::AlreadyCertified { blob_id, .. } => *blob_id,
        }
    }

    /// The first epoch in which the blob is no longer stored.
    pub fn end_epoch(&self) -> Epoch {
        match self {
            StoreOutcome::NewlyCreated { blob_object, .. } => blob_object.storage.end_epoch,
            StoreOutcome::AlreadyCertified { end_epoch, .. } => *end_epoch,
        }
    }
}

/// A `Blob` object on chain, as Walrus's JSON shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlobObject {
    /// The object ID.
    pub id: ObjectId,
    /// The epoch it was registered in.
    pub registered_epoch: Epoch,
    /// The blob ID.
    pub blob_id: BlobId,
    /// Unencoded size in bytes.
    pub size: u64,
    /// The encoding (`"RS2"`).
    pub encoding_type: EncodingType,
    /// The epoch it was first certified in, if it is certified.
    pub certified_epoch: Option<Epoch>,
    /// The storage it occupies.
    pub storage: StorageResource,
    /// Whether its owner may delete it before it expires.
    pub deletable: bool,
}

impl From<&Blob> for BlobObject {
    fn from(blob: &Blob) -> Self {
        Self {
            id: blob.id,
            registered_epoch: blob.registered_epoch,
            blob_id: BlobId::from(blob.blob_id),
            size: blob.size,
            encoding_type: EncodingType::RS2,
            certified_epoch: blob.certified_epoch,
            storage: StorageResource::from(&blob.storage),
            deletable: blob.deletable,
        }
    }
}

/// A `Storage` reservation, as Walrus's JSON shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageResource {
    /// The object ID.
    pub id: ObjectId,
    /// The first epoch covered.
    pub start_epoch: Epoch,
    /// The first epoch no longer covered.
    pub end_epoch: Epoch,
    /// Encoded bytes reserved.
    pub storage_size: u64,
}

impl From<&Storage> for StorageResource {
    fn from(storage: &Storage) -> Self {
        Self {
            id: storage.id,
            start_epoch: storage.start_epoch,
            end_epoch: storage.end_epoch,
            storage_size: storage.storage_size,
        }
    }
}

/// How a store obtained its storage. Only fresh reservations exist today; Walrus also reuses
/// owned storage or registrations (`reuseStorage`, `reuseRegistration`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ResourceOperation {
    /// Storage was reserved and the blob registered in one transaction.
    #[serde(rename_all = "camelCase")]
    RegisterFromScratch {
        /// The encoded length storage was bought for.
        encoded_length: u64,
        /// Epochs of storage bought, from the current one.
        epochs_ahead: u32,
    },
}

/// One blob's result in a multi-blob answer, in Walrus's `BlobStoreResult` JSON shape with
/// its two failure variants: `{"newlyCreated": ...}`, `{"alreadyCertified": ...}`,
/// `{"markedInvalid": {"blobId", "event"}}` (the nodes report the blob ID proven invalid; it
/// was not stored again) or `{"error": {"blobId", "failurePhase", "errorMsg"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum BlobStoreResult {
    /// The blob is marked invalid on chain.
    #[serde(rename_all = "camelCase")]
    MarkedInvalid {
        /// The blob ID.
        blob_id: BlobId,
        /// The event that marked it invalid.
        event: EventId,
    },
    /// The store failed.
    #[serde(rename_all = "camelCase")]
    Error {
        /// The blob ID, if it was computed before the failure.
        blob_id: Option<BlobId>,
        /// Where the store failed: `encode`, `register` (chain transactions), `upload` (too
        /// few storage confirmations) or `store` (anything else).
        failure_phase: String,
        /// What went wrong.
        error_msg: String,
    },
    /// The blob was stored, or already was.
    #[serde(untagged)]
    Stored(StoreOutcome),
}

impl BlobStoreResult {
    /// The result of a store of the blob `blob_id` (if known) that ended with `result`.
    pub fn from_result(result: Result<StoreOutcome, SdkError>, blob_id: Option<BlobId>) -> Self {
        let error = match result {
            Ok(outcome) => return Self::Stored(outcome),
            Err(SdkError::MarkedInvalid { blob_id, event }) => {
                return Self::MarkedInvalid { blob_id, event }
            }
            Err(error) => error,
        };
        let failure_phase = match &error {
            SdkError::Encode(_) | SdkError::Quilt(_) | SdkError::Io { .. } => "encode",
            SdkError::Chain(_) => "register",
            SdkError::NotEnoughConfirmations { .. } => "upload",
            _ => "store",
        };
        Self::Error {
            blob_id,
            failure_phase: failure_phase.into(),
            error_msg: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use walrus_node_client::api::TransactionDigest;

    #[test]
    fn json_has_walrus_shape() {
        let blob_id = BlobId([7; 32]);
        let outcome = StoreOutcome::NewlyCreated {
            blob_object: BlobObject {
                id: ObjectId([1; 32]),
                registered_epoch: 1,
                blob_id,
                size: 5,
                encoding_type: EncodingType::RS2,
                certified_epoch: Some(1),
                storage: StorageResource {
                    id: ObjectId([2; 32]),
                    start_epoch: 1,
                    end_epoch: 3,
                    storage_size: 100,
                },
                deletable: true,
            },
            resource_operation: ResourceOperation::RegisterFromScratch {
                encoded_length: 100,
                epochs_ahead: 2,
            },
            cost: 42,
        };
        let json = serde_json::to_value(&outcome).unwrap();
        let created = &json["newlyCreated"];
        assert_eq!(created["blobObject"]["blobId"], blob_id.to_string());
        assert_eq!(created["blobObject"]["encodingType"], "RS2");
        assert_eq!(created["blobObject"]["registeredEpoch"], 1);
        assert_eq!(created["blobObject"]["storage"]["endEpoch"], 3);
        assert_eq!(created["blobObject"]["storage"]["storageSize"], 100);
        assert_eq!(
            created["resourceOperation"]["registerFromScratch"]["epochsAhead"],
            2
        );
        assert_eq!(created["cost"], 42);
        let back: StoreOutcome = serde_json::from_value(json).unwrap();
        assert_eq!(back, outcome);

        let certified = StoreOutcome::AlreadyCertified {
            blob_id,
            event: EventId {
                tx_digest: TransactionDigest([1; 32]),
                event_seq: 1,
            },
            end_epoch: 4,
        };
        let json = serde_json::to_value(&certified).unwrap();
        assert_eq!(json["alreadyCertified"]["endEpoch"], 4);
        assert_eq!(json["alreadyCertified"]["event"]["eventSeq"], "1");
        assert_eq!(certified.end_epoch(), 4);
    }

    #[test]
    fn json_is_exactly_walruss_documents() {
        let blob_id = BlobId([3; 32]);
        let (object, storage) = (ObjectId([4; 32]), ObjectId([5; 32]));
        // An uncertified permanent object: `certifiedEpoch` is null, not left out.
        let outcome = StoreOutcome::NewlyCreated {
            blob_object: BlobObject {
                id: object,
                registered_epoch: 2,
                blob_id,
                size: 1024,
                encoding_type: EncodingType::RS2,
                certified_epoch: None,
                storage: StorageResource {
                    id: storage,
                    start_epoch: 2,
                    end_epoch: 4,
                    storage_size: 66_034_000,
                },
                deletable: false,
            },
            resource_operation: ResourceOperation::RegisterFromScratch {
                encoded_length: 66_034_000,
                epochs_ahead: 2,
            },
            cost: 132_068_000,
        };
        let document = serde_json::json!({"newlyCreated": {
            "blobObject": {
                "id": object.to_string(),
                "registeredEpoch": 2,
                "blobId": blob_id.to_string(),
                "size": 1024,
                "encodingType": "RS2",
                "certifiedEpoch": null,
                "storage": {
                    "id": storage.to_string(),
                    "startEpoch": 2,
                    "endEpoch": 4,
                    "storageSize": 66_034_000,
                },
                "deletable": false,
            },
            "resourceOperation": {"registerFromScratch": {"encodedLength": 66_034_000, "epochsAhead": 2}},
            "cost": 132_068_000,
        }});
        assert_eq!(serde_json::to_value(&outcome).unwrap(), document);
        assert_eq!(
            serde_json::from_value::<StoreOutcome>(document).unwrap(),
            outcome
        );
        assert_eq!((outcome.blob_id(), outcome.end_epoch()), (blob_id, 4));

        let certified = StoreOutcome::AlreadyCertified {
            blob_id,
            event: EventId {
                tx_digest: TransactionDigest([1; 32]),
                event_seq: 0,
            },
            end_epoch: 3,
        };
        let document = serde_json::json!({"alreadyCertified": {
            "blobId": blob_id.to_string(),
            "event": {"txDigest": "4vJ9JU1bJJE96FWSJKvHsmmFADCg4gpZQff4P3bkLKi", "eventSeq": "0"},
            "endEpoch": 3,
        }});
        assert_eq!(serde_json::to_value(&certified).unwrap(), document);
        assert_eq!(
            serde_json::from_value::<StoreOutcome>(document).unwrap(),
            certified
        );
        assert_eq!(certified.blob_id(), blob_id);
        // Walrus's other resource operations are not ours: refused, not misread.
        let reuse = serde_json::json!({"reuseStorage": {"encodedLength": 1}});
        assert!(serde_json::from_value::<ResourceOperation>(reuse).is_err());
    }

    #[test]
    fn blob_store_results_in_walrus_shape() {
        let blob_id = BlobId([3; 32]);
        let event = EventId {
            tx_digest: TransactionDigest([1; 32]),
            event_seq: 2,
        };
        let invalid =
            BlobStoreResult::from_result(Err(SdkError::MarkedInvalid { blob_id, event }), None);
        let document = serde_json::json!({"markedInvalid": {
            "blobId": blob_id.to_string(),
            "event": {"txDigest": "4vJ9JU1bJJE96FWSJKvHsmmFADCg4gpZQff4P3bkLKi", "eventSeq": "2"},
        }});
        assert_eq!(serde_json::to_value(&invalid).unwrap(), document);
        assert_eq!(
            serde_json::from_value::<BlobStoreResult>(document).unwrap(),
            invalid
        );

        let failed = BlobStoreResult::from_result(
            Err(SdkError::NotEnoughConfirmations {
                weight: 3,
                required: 7,
                failures: String::new(),
            }),
            Some(blob_id),
        );
        let json = serde_json::to_value(&failed).unwrap();
        assert_eq!(json["error"]["blobId"], blob_id.to_string());
        assert_eq!(json["error"]["failurePhase"], "upload");
        assert!(json["error"]["errorMsg"].as_str().unwrap().contains('7'));
        assert_eq!(
            serde_json::from_value::<BlobStoreResult>(json).unwrap(),
            failed
        );
        let unknown = BlobStoreResult::from_result(Err(SdkError::Internal("x".into())), None);
        assert_eq!(
            serde_json::to_value(&unknown).unwrap()["error"]["blobId"],
            serde_json::Value::Null
        );

        // A stored blob is exactly its StoreOutcome's JSON.
        let certified = StoreOutcome::AlreadyCertified {
            blob_id,
            event,
            end_epoch: 3,
        };
        let stored = BlobStoreResult::from_result(Ok(certified.clone()), None);
        assert_eq!(
            serde_json::to_value(&stored).unwrap(),
            serde_json::to_value(&certified).unwrap()
        );
        let back: BlobStoreResult =
            serde_json::from_value(serde_json::to_value(&certified).unwrap()).unwrap();
        assert_eq!(back, stored);
    }
}
