//! The OpenAPI document at `/v1/api` against the node's real router (over an empty store): the
//! shared checks of `walrus_service::openapi::check` (document and router walk).

use std::{sync::Arc, time::Duration};

use walrus_core::{crypto::ProtocolKeyPair, BlobId, ObjectId};
use walrus_node::{
    config::RequestLimits, metrics::Metrics, server::router, solo_committee_view, store::NodeStore,
    StorageNode,
};
use walrus_service::openapi::check::check_router;

#[tokio::test]
async fn the_document_describes_the_router() {
    let dir = tempfile::tempdir().unwrap();
    let keys = ProtocolKeyPair::from_seed([7; 32]);
    let view = solo_committee_view(&keys, 1, 4).unwrap();
    let store = Arc::new(NodeStore::open(dir.path()).unwrap());
    // Requests for unknown blobs do not wait for their registration.
    let node = StorageNode::new(
        store,
        keys,
        view,
        Metrics::new(),
        Duration::ZERO,
        RequestLimits::default(),
        1 << 20,
    )
    .unwrap();
    let blob_id = BlobId([3; 32]).to_string();
    let object_id = ObjectId([4; 32]).to_string();
    check_router(
        &router(Arc::new(node)),
        &[
            ("blob_id", &blob_id),
            ("sliver_pair_index", "1"),
            ("sliver_type", "primary"),
            ("object_id", &object_id),
        ],
    )
    .await;
}
