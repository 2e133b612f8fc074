//! The OpenAPI document at `/v1/api` against the publisher's real router: the shared checks of
//! `walrus_service::openapi::check` (document and router walk), and the store's query
//! parameters are exactly those the publisher accepts.

use crate::common;

use std::collections::BTreeSet;

use walrus_publisher::{PublisherConfig, BLOBS_ENDPOINT};
use walrus_service::openapi::check::check_router;

#[tokio::test]
async fn the_document_describes_the_router() {
    let router = common::publisher(PublisherConfig::default()).router();
    let (document, _) = check_router(&router, &[]).await;

    let described: BTreeSet<&str> = document["paths"][BLOBS_ENDPOINT]["put"]["parameters"]
        .as_array()
        .expect("the store's parameters")
        .iter()
        .map(|parameter| {
            assert_eq!(parameter["in"], "query");
            parameter["name"].as_str().unwrap()
        })
        .collect();
    let accepted: BTreeSet<&str> = walrus_publisher::query::PARAMETERS
        .iter()
        .copied()
        .collect();
    assert_eq!(described, accepted);
}
