//! The OpenAPI document at `/v1/api` against the aggregator's real router: the shared checks of
//! `walrus_service::openapi::check` (document and router walk), and every described operation
//! answers 200 for a blob, an object and a quilt patch that exist.

use crate::common;

use std::sync::Arc;

use axum::http::StatusCode;
use common::MockSource;
use walrus_aggregator::{router, AggregatorConfig};
use walrus_core::{
    encoding::EncodingConfig,
    quilt::{encode_quilt, QuiltFile},
    BlobId, ObjectId,
};
use walrus_service::openapi::check::check_router;

#[tokio::test]
async fn the_router_serves_the_document_and_every_described_operation() {
    let source = Arc::new(MockSource::default());
    let blob_id = BlobId([3; 32]);
    let object_id = ObjectId([4; 32]);
    source.add(blob_id, vec![1, 2, 3]);
    source.objects.lock().unwrap().insert(
        object_id,
        walrus_aggregator::BlobObjectInfo {
            blob_id,
            attributes: Vec::new(),
        },
    );
    // A quilt with one patch, `a`.
    let quilt_id = BlobId([5; 32]);
    let config = EncodingConfig::new(common::QUILT_SHARDS).unwrap();
    let quilt = encode_quilt(&config, &[QuiltFile::new("a", b"patch".to_vec())]).unwrap();
    let patch_id = quilt.index.patches[0].patch_id(quilt_id);
    source.add(quilt_id, quilt.bytes);
    let app = router(source, AggregatorConfig::default());
    let (_, answers) = check_router(
        &app,
        &[
            ("blob_id", &blob_id.to_string()),
            ("object_id", &object_id.to_string()),
            ("quilt_id", &quilt_id.to_string()),
            ("identifier", "a"),
            ("quilt_patch_id", &patch_id.to_string()),
        ],
    )
    .await;
    for answer in answers {
        // The byte-range read requires its query (`start`, `length`): without it, 400.
        let expected = if answer.path.ends_with("/byte-range") {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        };
        assert_eq!(answer.status, expected, "{} {}", answer.method, answer.path);
    }
    let range = common::get(
        &app,
        &format!("/v1/blobs/{blob_id}/byte-range?start=1&length=2"),
    )
    .await;
    assert_eq!(range.status, StatusCode::OK);
    assert_eq!(range.body.as_ref(), &[2, 3]);
}
