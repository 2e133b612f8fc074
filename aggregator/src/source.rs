//! Where the aggregator gets blobs from: the [`BlobSource`] trait, implemented for
//! [`WalrusSdk`] (the network) and, in the tests, for an in-memory mock.

use std::ops::Range;

use futures::future::BoxFuture;
use walrus_core::{
    encoding::ConsistencyCheck,
    quilt::{QuiltIndex, QuiltPatchId},
    BlobId, ObjectId,
};
use walrus_sdk::client::{BlobStream, NoProgress, PatchSelection, ReadPatch, SdkError, WalrusSdk};

/// What the aggregator needs of a `Blob` object on chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobObjectInfo {
    /// The blob the object registers.
    pub blob_id: BlobId,
    /// The object's attributes (key, value), in the chain's order (e.g. `content-type`).
    pub attributes: Vec<(String, String)>,
}

/// A source of blobs. Errors are the SDK's, so a mock answers exactly what the network would.
///
/// The futures are boxed so that the trait is object safe (`Arc<dyn BlobSource>`).
pub trait BlobSource: Send + Sync + 'static {
    /// The blob's size in bytes, without reading its data (verified metadata).
    fn blob_size<'a>(&'a self, blob_id: &'a BlobId) -> BoxFuture<'a, Result<u64, SdkError>>;

    /// The whole blob, decoded and checked with `check`.
    fn read<'a>(
        &'a self,
        blob_id: &'a BlobId,
        check: ConsistencyCheck,
    ) -> BoxFuture<'a, Result<Vec<u8>, SdkError>>;

    /// The blob's size, then its bytes in order as they pass `check` (memory bounded by a
    /// constant whatever the blob's size).
    fn read_stream<'a>(
        &'a self,
        blob_id: &'a BlobId,
        check: ConsistencyCheck,
    ) -> BoxFuture<'a, Result<BlobStream, SdkError>>;

    /// The bytes `range` of the blob (`range.end` at most its size), reading as little as
    /// possible.
    fn read_range<'a>(
        &'a self,
        blob_id: &'a BlobId,
        range: Range<u64>,
    ) -> BoxFuture<'a, Result<Vec<u8>, SdkError>>;

    /// The `Blob` object `object_id`: its blob ID and attributes.
    fn blob_object(&self, object_id: ObjectId) -> BoxFuture<'_, Result<BlobObjectInfo, SdkError>>;

    /// The index of the quilt `quilt_id`.
    fn quilt_index<'a>(
        &'a self,
        quilt_id: &'a BlobId,
    ) -> BoxFuture<'a, Result<QuiltIndex, SdkError>>;

    /// The patches of `quilt_id` that `selection` names.
    fn quilt_patches<'a>(
        &'a self,
        quilt_id: &'a BlobId,
        selection: &'a PatchSelection,
    ) -> BoxFuture<'a, Result<Vec<ReadPatch>, SdkError>>;

    /// The patch `patch_id`.
    fn quilt_patch<'a>(
        &'a self,
        patch_id: &'a QuiltPatchId,
    ) -> BoxFuture<'a, Result<ReadPatch, SdkError>>;
}

impl BlobSource for WalrusSdk {
    fn blob_size<'a>(&'a self, blob_id: &'a BlobId) -> BoxFuture<'a, Result<u64, SdkError>> {
        Box::pin(WalrusSdk::blob_size(self, blob_id))
    }

    fn read<'a>(
        &'a self,
        blob_id: &'a BlobId,
        check: ConsistencyCheck,
    ) -> BoxFuture<'a, Result<Vec<u8>, SdkError>> {
        Box::pin(WalrusSdk::read_checked(self, blob_id, check, &NoProgress))
    }

    fn read_stream<'a>(
        &'a self,
        blob_id: &'a BlobId,
        check: ConsistencyCheck,
    ) -> BoxFuture<'a, Result<BlobStream, SdkError>> {
        Box::pin(WalrusSdk::read_stream(self, blob_id, check))
    }

    fn read_range<'a>(
        &'a self,
        blob_id: &'a BlobId,
        range: Range<u64>,
    ) -> BoxFuture<'a, Result<Vec<u8>, SdkError>> {
        Box::pin(WalrusSdk::read_range(self, blob_id, range, &NoProgress))
    }

    fn quilt_index<'a>(
        &'a self,
        quilt_id: &'a BlobId,
    ) -> BoxFuture<'a, Result<QuiltIndex, SdkError>> {
        Box::pin(WalrusSdk::read_quilt_index(self, quilt_id, &NoProgress))
    }

    fn quilt_patches<'a>(
        &'a self,
        quilt_id: &'a BlobId,
        selection: &'a PatchSelection,
    ) -> BoxFuture<'a, Result<Vec<ReadPatch>, SdkError>> {
        Box::pin(WalrusSdk::read_quilt(
            self,
            quilt_id,
            selection,
            &NoProgress,
        ))
    }

    fn quilt_patch<'a>(
        &'a self,
        patch_id: &'a QuiltPatchId,
    ) -> BoxFuture<'a, Result<ReadPatch, SdkError>> {
        Box::pin(WalrusSdk::read_quilt_patch(self, patch_id, &NoProgress))
    }

    fn blob_object(&self, object_id: ObjectId) -> BoxFuture<'_, Result<BlobObjectInfo, SdkError>> {
        Box::pin(async move {
            let blob = WalrusSdk::blob_object(self, object_id).await?;
            Ok(BlobObjectInfo {
                blob_id: BlobId::from(blob.blob_id),
                attributes: blob
                    .attributes
                    .contents
                    .into_iter()
                    .map(|entry| (entry.key, entry.value))
                    .collect(),
            })
        })
    }
}
