//! The HTTP API over an in-memory source: bodies, headers, ranges, HEAD, conditional requests,
//! the cache, objects, quilt patches and error mapping.

use crate::common;

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use axum::{http::StatusCode, Router};
use common::{call, call_body, get, MockSource};
use walrus_aggregator::{router, AggregatorConfig, BlobObjectInfo, BlobSource};
use walrus_core::{
    encoding::{ConsistencyCheck, EncodingConfig},
    quilt::{encode_quilt, QuiltFile, QuiltIndex, QuiltPatchId},
    BlobId, ObjectId,
};

const PNG_HEADER: [u8; 16] = [
    0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, b'I', b'H', b'D', b'R',
];

fn id(n: u8) -> BlobId {
    BlobId([n; 32])
}

/// Deterministic bytes that are neither a known format nor UTF-8 text.
fn binary(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| u8::try_from((i * 131 + 7) % 251).unwrap() | 0x80)
        .collect()
}

fn png(len: usize) -> Vec<u8> {
    let mut bytes = PNG_HEADER.to_vec();
    bytes.resize(len, 0);
    bytes
}

fn setup(config: AggregatorConfig) -> (Arc<MockSource>, Router) {
    setup_with(MockSource::default(), config)
}

fn setup_with(source: MockSource, config: AggregatorConfig) -> (Arc<MockSource>, Router) {
    let source = Arc::new(source);
    let app = router(source.clone() as Arc<dyn BlobSource>, config);
    (source, app)
}

fn path(blob_id: &BlobId) -> String {
    format!("/v1/blobs/{blob_id}")
}

#[tokio::test]
async fn get_serves_the_blob_with_its_headers() {
    let (source, app) = setup(AggregatorConfig::default());
    source.add(id(1), png(1000));
    source.add(id(2), binary(1000));
    source.add(id(3), b"hello, walrus\n".to_vec());

    let answer = get(&app, &path(&id(1))).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body.as_ref(), png(1000).as_slice());
    assert_eq!(answer.header("etag"), format!("\"{}\"", id(1)));
    assert_eq!(
        answer.header("cache-control"),
        "public, max-age=86400, stale-while-revalidate=3600"
    );
    assert_eq!(answer.header("x-content-type-options"), "nosniff");
    assert_eq!(answer.header("accept-ranges"), "bytes");
    assert_eq!(answer.header("content-type"), "image/png");
    assert_eq!(answer.header("content-length"), "1000");

    let answer = get(&app, &path(&id(2))).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), "application/octet-stream");
    assert_eq!(answer.body.as_ref(), binary(1000).as_slice());

    let answer = get(&app, &path(&id(3))).await;
    assert_eq!(answer.header("content-type"), "text/plain; charset=utf-8");

    source.add(id(4), Vec::new());
    let answer = get(&app, &path(&id(4))).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.body.is_empty());
    assert_eq!(answer.header("content-type"), "application/octet-stream");
}

#[tokio::test]
async fn ranges_of_an_uncached_blob_read_only_the_range() {
    let (source, app) = setup(AggregatorConfig::default());
    let bytes = png(1000);
    source.add(id(1), bytes.clone());
    let blob = path(&id(1));
    let cases: [(&str, std::ops::Range<usize>); 5] = [
        ("bytes=0-99", 0..100),
        ("bytes=100-199", 100..200),
        ("bytes=900-", 900..1000),
        ("bytes=-10", 990..1000),
        ("bytes=990-5000", 990..1000),
    ];
    for (header, expected) in cases.clone() {
        let answer = call(&app, "GET", &blob, &[("range", header)]).await;
        assert_eq!(answer.status, StatusCode::PARTIAL_CONTENT, "{header}");
        assert_eq!(answer.body.as_ref(), &bytes[expected.clone()], "{header}");
        assert_eq!(
            answer.header("content-range"),
            format!("bytes {}-{}/1000", expected.start, expected.end - 1)
        );
        assert_eq!(answer.header("content-length"), expected.len().to_string());
        // The type is the whole blob's, even for a range that does not hold the signature.
        assert_eq!(answer.header("content-type"), "image/png", "{header}");
        assert_eq!(answer.header("etag"), format!("\"{}\"", id(1)));
    }
    assert_eq!(source.reads(), 0, "no whole read for ranges");
    // One read per range and one of the first bytes to guess the type; the size and type are
    // remembered after the first request.
    assert_eq!(source.range_reads(), cases.len() + 1);
    assert_eq!(
        source.size_calls.load(std::sync::atomic::Ordering::SeqCst),
        1
    );

    for header in ["bytes=1000-", "bytes=5000-6000", "bytes=-0"] {
        let answer = call(&app, "GET", &blob, &[("range", header)]).await;
        assert_eq!(answer.status, StatusCode::RANGE_NOT_SATISFIABLE, "{header}");
        assert_eq!(answer.header("content-range"), "bytes */1000");
        assert_eq!(answer.reason(), "INVALID_REQUEST");
        assert_eq!(answer.json()["error"]["code"], 416);
    }

    // Several ranges or a malformed header: the whole blob.
    for header in ["bytes=0-1,5-6", "bytes=9-1", "pages=1-2", "bytes=x-"] {
        let answer = call(&app, "GET", &blob, &[("range", header)]).await;
        assert_eq!(answer.status, StatusCode::OK, "{header}");
        assert_eq!(answer.body.len(), 1000);
        assert!(answer.headers.get("content-range").is_none());
    }
}

#[tokio::test]
async fn ranges_of_a_cached_blob_come_from_the_cache() {
    let (source, app) = setup(AggregatorConfig::default());
    let bytes = binary(500);
    source.add(id(1), bytes.clone());
    let blob = path(&id(1));
    assert_eq!(get(&app, &blob).await.status, StatusCode::OK);
    let answer = call(&app, "GET", &blob, &[("range", "bytes=10-19")]).await;
    assert_eq!(answer.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(answer.body.as_ref(), &bytes[10..20]);
    assert_eq!(answer.header("content-range"), "bytes 10-19/500");
    assert_eq!((source.reads(), source.range_reads()), (1, 0));
}

#[tokio::test]
async fn head_sends_headers_without_reading_the_blob() {
    let (source, app) = setup(AggregatorConfig::default());
    source.add(id(1), png(5000));
    let blob = path(&id(1));
    let answer = call(&app, "HEAD", &blob, &[]).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.body.is_empty());
    assert_eq!(answer.header("content-length"), "5000");
    assert_eq!(answer.header("content-type"), "image/png");
    assert_eq!(answer.header("etag"), format!("\"{}\"", id(1)));
    assert_eq!(source.reads(), 0, "HEAD must not read the whole blob");

    let answer = call(&app, "HEAD", &blob, &[("range", "bytes=100-199")]).await;
    assert_eq!(answer.status, StatusCode::PARTIAL_CONTENT);
    assert!(answer.body.is_empty());
    assert_eq!(answer.header("content-length"), "100");
    assert_eq!(answer.header("content-range"), "bytes 100-199/5000");
    assert_eq!(source.reads(), 0);

    let answer = call(&app, "HEAD", &path(&id(9)), &[]).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn if_none_match_answers_304_without_reading() {
    let (source, app) = setup(AggregatorConfig::default());
    source.add(id(1), binary(100));
    let etag = format!("\"{}\"", id(1));
    for tag in [etag.clone(), format!("W/{etag}"), format!("\"x\", {etag}")] {
        let answer = call(&app, "GET", &path(&id(1)), &[("if-none-match", &tag)]).await;
        assert_eq!(answer.status, StatusCode::NOT_MODIFIED, "{tag}");
        assert!(answer.body.is_empty());
        assert_eq!(answer.header("etag"), etag);
    }
    assert_eq!(source.reads() + source.range_reads(), 0);
    let answer = call(
        &app,
        "GET",
        &path(&id(1)),
        &[("if-none-match", "\"other\"")],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn the_cache_serves_repeated_reads_and_evicts_past_its_limit() {
    // Four blobs of 100 bytes fit; each is at most a quarter of the cache.
    let (source, app) = setup(AggregatorConfig {
        cache_bytes: 400,
        ..AggregatorConfig::default()
    });
    for n in 1..=5 {
        source.add(id(n), binary(100));
    }
    source.add(id(6), binary(101));
    assert_eq!(get(&app, &path(&id(1))).await.status, StatusCode::OK);
    assert_eq!(get(&app, &path(&id(1))).await.body.len(), 100);
    assert_eq!(source.reads(), 1, "the second GET is a cache hit");

    for n in 2..=5 {
        get(&app, &path(&id(n))).await;
    }
    assert_eq!(source.reads(), 5);
    // Blob 1 was the least recently used: evicted by blob 5.
    get(&app, &path(&id(1))).await;
    assert_eq!(source.reads(), 6);
    get(&app, &path(&id(5))).await;
    assert_eq!(source.reads(), 6);

    // Larger than a quarter of the cache: never cached.
    get(&app, &path(&id(6))).await;
    get(&app, &path(&id(6))).await;
    assert_eq!(source.reads(), 8);

    let health = get(&app, "/v1/health").await.json();
    assert_eq!(health["cache"]["entries"], 4);
    assert_eq!(health["cache"]["bytes"], 400);
    assert_eq!(health["cache"]["hits"], 2);
    assert_eq!(health["cache"]["misses"], 8);
}

#[tokio::test]
async fn concurrent_reads_of_one_blob_share_one_read() {
    let (source, app) = setup_with(
        MockSource {
            read_delay: Some(Duration::from_millis(100)),
            ..MockSource::default()
        },
        AggregatorConfig::default(),
    );
    source.add(id(1), binary(1000));
    let requests: Vec<_> = (0..8)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { get(&app, &path(&id(1))).await })
        })
        .collect();
    for request in requests {
        let answer = request.await.unwrap();
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.body.len(), 1000);
    }
    assert_eq!(source.reads(), 1);
}

#[tokio::test]
async fn by_object_id_serves_the_blob_with_its_attributes() {
    let (source, app) = setup(AggregatorConfig::default());
    source.add(id(1), png(300));
    let with_attributes = ObjectId([0xab; 32]);
    let plain = ObjectId([0xcd; 32]);
    source.objects.lock().unwrap().insert(
        with_attributes,
        BlobObjectInfo {
            blob_id: id(1),
            attributes: vec![
                (
                    "Content-Type".to_owned(),
                    "text/html; charset=utf-8".to_owned(),
                ),
                (
                    "content-disposition".to_owned(),
                    "attachment; filename=\"a.html\"".to_owned(),
                ),
                (
                    "link".to_owned(),
                    "<https://walrus.xyz>; rel=about".to_owned(),
                ),
                ("owner".to_owned(), "not a header".to_owned()),
                ("content-language".to_owned(), "bad\nvalue".to_owned()),
            ],
        },
    );
    source.objects.lock().unwrap().insert(
        plain,
        BlobObjectInfo {
            blob_id: id(1),
            attributes: Vec::new(),
        },
    );

    let answer = get(&app, &format!("/v1/blobs/by-object-id/{with_attributes}")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body.as_ref(), png(300).as_slice());
    // An active type from the attributes is not served as such (see tests/integration/hostile.rs).
    assert_eq!(answer.header("content-type"), "application/octet-stream");
    assert_eq!(
        answer.header("content-disposition"),
        "attachment; filename=\"a.html\""
    );
    assert_eq!(answer.header("link"), "<https://walrus.xyz>; rel=about");
    assert!(answer.headers.get("owner").is_none());
    assert!(answer.headers.get("content-language").is_none());
    assert_eq!(answer.header("etag"), format!("\"{}\"", id(1)));
    assert_eq!(answer.header("x-content-type-options"), "nosniff");

    let answer = get(&app, &format!("/v1/blobs/by-object-id/{plain}")).await;
    assert_eq!(answer.header("content-type"), "image/png");

    let answer = call(
        &app,
        "GET",
        &format!("/v1/blobs/by-object-id/{with_attributes}"),
        &[("range", "bytes=0-9")],
    )
    .await;
    assert_eq!(answer.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(answer.body.as_ref(), &png(300)[..10]);

    let answer = call(
        &app,
        "HEAD",
        &format!("/v1/blobs/by-object-id/{with_attributes}"),
        &[],
    )
    .await;
    assert_eq!(answer.header("content-length"), "300");
    assert!(answer.body.is_empty());

    let missing = get(
        &app,
        &format!("/v1/blobs/by-object-id/{}", ObjectId([1; 32])),
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.reason(), "NOT_FOUND");
    let malformed = get(&app, "/v1/blobs/by-object-id/0xnothex").await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(malformed.reason(), "INVALID_REQUEST");
}

#[tokio::test]
async fn errors_are_api_errors_with_the_right_status() {
    let (source, app) = setup(AggregatorConfig::default());
    source.failing.lock().unwrap().insert(id(2), "invalid");
    source.failing.lock().unwrap().insert(id(3), "unavailable");

    let answer = get(&app, "/v1/blobs/not-a-blob-id").await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.reason(), "INVALID_REQUEST");
    assert_eq!(answer.json()["error"]["code"], 400);

    let answer = get(&app, &path(&id(1))).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.reason(), "NOT_FOUND");

    let answer = get(&app, &path(&id(2))).await;
    assert_eq!(answer.status, StatusCode::GONE);
    assert_eq!(answer.reason(), "BLOB_INVALID");

    let answer = get(&app, &path(&id(3))).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.reason(), "UNAVAILABLE");
    let message = answer.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("only 2 of 7 nodes answered"), "{message}");

    // Errors are not cached: the blob is served once it is there.
    source.failing.lock().unwrap().remove(&id(3));
    source.add(id(3), binary(10));
    assert_eq!(get(&app, &path(&id(3))).await.status, StatusCode::OK);

    let answer = get(&app, "/v2/nothing").await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.reason(), "NOT_FOUND");
}

#[tokio::test]
async fn blobs_over_the_limit_are_refused_before_reading() {
    let (source, app) = setup(AggregatorConfig {
        cache_bytes: 1 << 20,
        max_blob_bytes: Some(100),
        ..AggregatorConfig::default()
    });
    source.add(id(1), binary(101));
    source.add(id(2), binary(100));
    let answer = get(&app, &path(&id(1))).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer.reason(), "PAYLOAD_TOO_LARGE");
    assert_eq!(source.reads() + source.range_reads(), 0);
    assert_eq!(get(&app, &path(&id(2))).await.body.len(), 100);
}

#[tokio::test]
async fn health_and_metrics() {
    let (source, app) = setup(AggregatorConfig::default());
    source.add(id(1), binary(64));
    get(&app, &path(&id(1))).await;
    get(&app, &path(&id(1))).await;
    get(&app, &path(&id(2))).await;

    for route in ["/health", "/v1/health"] {
        let answer = get(&app, route).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.json()["status"], "ok");
    }
    // Walrus's liveness route: plain text.
    let answer = get(&app, "/status").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(&answer.body[..], b"OK");
    let answer = get(&app, "/metrics").await;
    assert_eq!(answer.status, StatusCode::OK);
    let text = String::from_utf8(answer.body.to_vec()).unwrap();
    for expected in [
        "walrus_aggregator_requests_total{route=\"/v1/blobs/{blob_id}\",status=\"200\"} 2",
        "walrus_aggregator_requests_total{route=\"/v1/blobs/{blob_id}\",status=\"404\"} 1",
        "walrus_aggregator_bytes_served_total 128",
        "walrus_aggregator_cache_hits_total 1",
        "walrus_aggregator_cache_misses_total 2",
        "walrus_aggregator_cache_bytes 64",
        "walrus_aggregator_cache_entries 1",
        "walrus_aggregator_read_seconds_count{kind=\"blob\",result=\"ok\"} 1",
        // The missing blob fails at its metadata, before any data is read.
        "walrus_aggregator_read_seconds_count{kind=\"size\",result=\"error\"} 1",
    ] {
        assert!(text.contains(expected), "missing {expected} in\n{text}");
    }
}

#[tokio::test]
async fn serve_answers_over_tcp_and_shuts_down_gracefully() {
    let source = Arc::new(MockSource::default());
    source.add(id(1), b"over the wire".to_vec());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(walrus_aggregator::serve(
        listener,
        source.clone(),
        AggregatorConfig::default(),
        async move {
            let _ = stopped.await;
        },
    ));
    let response = reqwest::get(format!("http://{address}/v1/blobs/{}", id(1)))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().as_ref(), b"over the wire");
    let response = reqwest::Client::new()
        .head(format!("http://{address}/v1/blobs/{}", id(1)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-length"].to_str().unwrap(), "13");
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server stops")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn large_blobs_are_streamed_and_cached_if_small_enough() {
    let (source, app) = setup(AggregatorConfig {
        cache_bytes: 40_000,
        stream_threshold_bytes: 1000,
        ..AggregatorConfig::default()
    });
    source.add(id(1), png(5000));
    source.add(id(2), binary(20_000));
    source.add(id(3), binary(1000));

    let answer = get(&app, &path(&id(1))).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body.as_ref(), png(5000).as_slice());
    assert_eq!(answer.header("content-length"), "5000");
    assert_eq!(answer.header("content-type"), "image/png");
    assert_eq!((source.streams(), source.reads()), (1, 0));
    // At most a quarter of the cache: kept once streamed whole.
    assert_eq!(get(&app, &path(&id(1))).await.body.len(), 5000);
    assert_eq!(source.streams(), 1);

    // Larger than a quarter of the cache: streamed each time.
    for _ in 0..2 {
        let answer = get(&app, &path(&id(2))).await;
        assert_eq!(answer.body.as_ref(), binary(20_000).as_slice());
    }
    assert_eq!(source.streams(), 3);
    // Not above the threshold: read whole.
    assert_eq!(get(&app, &path(&id(3))).await.body.len(), 1000);
    assert_eq!((source.streams(), source.reads()), (3, 1));
    let health = get(&app, "/v1/health").await.json();
    assert_eq!(health["cache"]["entries"], 2);
}

#[tokio::test]
async fn a_stream_failing_before_its_first_bytes_is_an_error_answer_and_after_them_a_cut_body() {
    let (source, app) = setup_with(
        MockSource {
            stream_fails_after: Some(2),
            ..MockSource::default()
        },
        AggregatorConfig {
            stream_threshold_bytes: 100,
            ..AggregatorConfig::default()
        },
    );
    source.add(id(1), binary(5000));
    source.add(id(2), binary(5000));
    source.failing.lock().unwrap().insert(id(2), "invalid");
    let (answer, body) = call_body(&app, "GET", &path(&id(1)), &[]).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-length"), "5000");
    assert!(body.is_err(), "the body is cut short");
    let answer = get(&app, &path(&id(2))).await;
    assert_eq!(answer.status, StatusCode::GONE);
    assert_eq!(answer.reason(), "BLOB_INVALID");
    assert_eq!(source.streams(), 1, "an invalid blob's stream never starts");
    // A failed stream is not cached.
    let (_, body) = call_body(&app, "GET", &path(&id(1)), &[]).await;
    assert!(body.is_err());
    assert_eq!(source.streams(), 2);
}

#[tokio::test]
async fn reads_run_the_consistency_check_asked_for() {
    let (source, app) = setup(AggregatorConfig::default());
    source.add(id(1), binary(100));
    source.add(id(2), binary(100));
    let blob = path(&id(1));

    assert_eq!(get(&app, &blob).await.status, StatusCode::OK);
    // The cached blob passed the default check: a strict read reads again, a skip read
    // does not.
    let strict = format!("{blob}?strict_consistency_check=true");
    assert_eq!(get(&app, &strict).await.status, StatusCode::OK);
    let skip = format!("{blob}?skip_consistency_check=true");
    assert_eq!(get(&app, &skip).await.status, StatusCode::OK);
    assert_eq!(get(&app, &strict).await.status, StatusCode::OK);
    assert_eq!(
        source.checks(),
        [ConsistencyCheck::Default, ConsistencyCheck::Strict]
    );
    let skip = format!("{}?skip_consistency_check=true", path(&id(2)));
    assert_eq!(get(&app, &skip).await.status, StatusCode::OK);
    assert_eq!(source.checks()[2], ConsistencyCheck::Skip);

    for query in [
        "?strict_consistency_check=true&skip_consistency_check=true",
        "?strict_consistency_check=yes",
    ] {
        let answer = get(&app, &format!("{blob}{query}")).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(answer.reason(), "INVALID_REQUEST");
    }
    assert_eq!(source.checks().len(), 3);
}

/// A quilt (for the mock's shard count) stored under `id(50)`: an HTML page tagged with its
/// type and a disposition, a PNG, and text with a space in its identifier.
fn quilt_source() -> (Arc<MockSource>, Router, QuiltIndex) {
    let (source, app) = setup(AggregatorConfig::default());
    let tags = BTreeMap::from([
        ("content-type".to_string(), "text/html".to_string()),
        ("content-disposition".to_string(), "inline".to_string()),
        ("author".to_string(), "ann".to_string()),
    ]);
    let files = [
        QuiltFile::new("page.html", b"<html>hi</html>".to_vec()).with_tags(tags),
        QuiltFile::new("logo.png", png(700)),
        QuiltFile::new("read me.txt", b"plain words\n".to_vec()),
    ];
    let config = EncodingConfig::new(common::QUILT_SHARDS).unwrap();
    let quilt = encode_quilt(&config, &files).unwrap();
    source.add(id(50), quilt.bytes);
    (source, app, quilt.index)
}

#[tokio::test]
async fn quilt_patches_by_id_and_identifier_and_the_patch_list() {
    let (source, app, index) = quilt_source();
    let quilt_id = id(50);

    // The list: Walrus's field names, quilt order.
    let answer = get(&app, &format!("/v1/quilts/{quilt_id}/patches")).await;
    assert_eq!(answer.status, StatusCode::OK);
    let list = answer.json();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 3);
    for (entry, patch) in list.iter().zip(&index.patches) {
        assert_eq!(entry["identifier"], patch.identifier.as_str());
        assert_eq!(entry["patch_id"], patch.patch_id(quilt_id).to_string());
        assert_eq!(entry["tags"].as_object().unwrap().len(), patch.tags.len());
    }

    // By patch ID and by identifier: the same bytes and headers.
    let png_patch = index.by_identifiers(&["logo.png"]).unwrap()[0].patch_id(quilt_id);
    for path in [
        format!("/v1/blobs/by-quilt-patch-id/{png_patch}"),
        format!("/v1/blobs/by-quilt-id/{quilt_id}/logo.png"),
    ] {
        let answer = get(&app, &path).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        assert_eq!(answer.body.as_ref(), png(700).as_slice());
        assert_eq!(answer.header("content-type"), "image/png");
        assert_eq!(answer.header("x-quilt-patch-identifier"), "logo.png");
        assert_eq!(answer.header("etag"), format!("\"{png_patch}\""));
        assert_eq!(answer.header("x-content-type-options"), "nosniff");
        assert_eq!(answer.header("content-security-policy"), "sandbox");
        assert!(answer.header("cache-control").contains("max-age"));
    }

    // A percent-encoded identifier; sniffed text.
    let answer = get(
        &app,
        &format!("/v1/blobs/by-quilt-id/{quilt_id}/read%20me.txt"),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body.as_ref(), b"plain words\n");
    assert_eq!(answer.header("content-type"), "text/plain; charset=utf-8");
    assert_eq!(answer.header("x-quilt-patch-identifier"), "read me.txt");

    // Tags named like headers become headers; an active type from a tag is not served as
    // such; other tags are not headers.
    let answer = get(&app, &format!("/v1/blobs/by-quilt-id/{quilt_id}/page.html")).await;
    assert_eq!(answer.header("content-type"), "application/octet-stream");
    assert_eq!(answer.header("content-disposition"), "inline");
    assert!(answer.headers.get("author").is_none());

    // If-None-Match with the patch ID: 304 without reading.
    let reads = source.quilt_reads.load(std::sync::atomic::Ordering::SeqCst);
    let etag = format!("\"{png_patch}\"");
    let answer = call(
        &app,
        "GET",
        &format!("/v1/blobs/by-quilt-patch-id/{png_patch}"),
        &[("if-none-match", &etag)],
    )
    .await;
    assert_eq!(answer.status, StatusCode::NOT_MODIFIED);
    assert_eq!(
        source.quilt_reads.load(std::sync::atomic::Ordering::SeqCst),
        reads
    );
}

#[tokio::test]
async fn quilt_errors_are_api_errors() {
    let (source, app, _) = quilt_source();
    source.add(id(51), binary(1000));
    let quilt_id = id(50);
    for (path, status, reason) in [
        (
            format!("/v1/blobs/by-quilt-id/{quilt_id}/nope"),
            StatusCode::NOT_FOUND,
            "QUILT_PATCH_NOT_FOUND",
        ),
        (
            format!("/v1/blobs/by-quilt-id/{}/x", id(52)),
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        ),
        (
            "/v1/blobs/by-quilt-patch-id/not-an-id".to_owned(),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            format!("/v1/blobs/by-quilt-id/{quilt_id}x/a"),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            format!("/v1/quilts/{}/patches", id(51)),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            // Columns that hold no patch start.
            format!(
                "/v1/blobs/by-quilt-patch-id/{}",
                QuiltPatchId {
                    quilt_id,
                    start_index: 0,
                    end_index: 1
                }
            ),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
    ] {
        let answer = get(&app, &path).await;
        assert_eq!(answer.status, status, "{path}");
        assert_eq!(answer.reason(), reason, "{path}");
    }
}

#[tokio::test]
async fn byte_range_serves_the_range_as_walrus_does() {
    let (source, app) = setup(AggregatorConfig {
        max_blob_bytes: Some(500),
        ..AggregatorConfig::default()
    });
    let bytes = png(1000);
    source.add(id(1), bytes.clone());
    let range = |query: &str| format!("/v1/blobs/{}/byte-range?{query}", id(1));

    let answer = get(&app, &range("start=100&length=50")).await;
    assert_eq!(answer.status, StatusCode::OK, "200, not 206");
    assert_eq!(answer.body.as_ref(), &bytes[100..150]);
    assert_eq!(answer.header("etag"), format!("\"{}-100-50\"", id(1)));
    assert_eq!(answer.header("content-type"), "application/octet-stream");
    assert_eq!(answer.header("x-content-type-options"), "nosniff");
    assert_eq!(
        answer.header("cache-control"),
        "public, max-age=86400, stale-while-revalidate=3600"
    );
    assert_eq!(answer.header("content-length"), "50");
    // The last byte exactly.
    let answer = get(&app, &range("start=999&length=1")).await;
    assert_eq!(answer.body.as_ref(), &bytes[999..]);
    assert_eq!(source.reads(), 0, "only ranges are read");
    assert_eq!(source.range_reads(), 2);

    // The range's ETag: 304 without a read.
    let answer = call(
        &app,
        "GET",
        &range("start=100&length=50"),
        &[("if-none-match", &format!("\"{}-100-50\"", id(1)))],
    )
    .await;
    assert_eq!(answer.status, StatusCode::NOT_MODIFIED);
    assert_eq!(source.range_reads(), 2);

    for query in [
        "start=0&length=0",
        "start=990&length=11",
        "start=1000&length=1",
        "start=18446744073709551615&length=2",
    ] {
        let answer = get(&app, &range(query)).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(answer.reason(), "INVALID_BYTE_RANGE", "{query}");
    }
    for query in [
        "start=1",
        "length=1",
        "start=a&length=1",
        "start=0&length=1&x=1",
    ] {
        let answer = get(&app, &range(query)).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(answer.reason(), "INVALID_REQUEST", "{query}");
    }
    let answer = get(&app, &range("start=0&length=501")).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    let answer = get(
        &app,
        &format!("/v1/blobs/{}/byte-range?start=0&length=1", id(9)),
    )
    .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(source.range_reads(), 2, "no read for a refused range");
}

#[tokio::test]
async fn attribute_and_tag_headers_follow_the_allowed_list() {
    let allowed = ["content-disposition", "x-walrus-note", "etag", "set-cookie"]
        .map(axum::http::HeaderName::from_static)
        .to_vec();
    let (source, app) = setup(AggregatorConfig {
        allowed_headers: allowed.clone(),
        ..AggregatorConfig::default()
    });
    source.add(id(1), png(100));
    let object = ObjectId([0xab; 32]);
    source.objects.lock().unwrap().insert(
        object,
        BlobObjectInfo {
            blob_id: id(1),
            attributes: vec![
                ("X-Walrus-Note".to_owned(), "hello".to_owned()),
                ("link".to_owned(), "<https://walrus.xyz>".to_owned()),
                ("etag".to_owned(), "\"forged\"".to_owned()),
                ("set-cookie".to_owned(), "session=stolen".to_owned()),
            ],
        },
    );
    let answer = get(&app, &format!("/v1/blobs/by-object-id/{object}")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("x-walrus-note"), "hello");
    // Not in the list (a default one), or one the aggregator owns: never from an attribute.
    assert!(answer.headers.get("link").is_none());
    assert_eq!(answer.header("etag"), format!("\"{}\"", id(1)));
    assert!(answer.headers.get("set-cookie").is_none());

    // Patch tags: only allowed names by default; every valid one with the flag, still never
    // one the aggregator sets or a cookie.
    let tags = BTreeMap::from([
        ("content-disposition".to_string(), "inline".to_string()),
        ("x-custom".to_string(), "yes".to_string()),
        ("x-quilt-patch-identifier".to_string(), "forged".to_string()),
        ("content-security-policy".to_string(), "none".to_string()),
        ("set-cookie".to_string(), "a=b".to_string()),
    ]);
    let files = [QuiltFile::new("note.txt", b"words\n".to_vec()).with_tags(tags)];
    let config = EncodingConfig::new(common::QUILT_SHARDS).unwrap();
    let quilt = encode_quilt(&config, &files).unwrap();
    let patch = format!("/v1/blobs/by-quilt-id/{}/note.txt", id(50));
    for allow_all in [false, true] {
        let (source, app) = setup(AggregatorConfig {
            allowed_headers: allowed.clone(),
            allow_quilt_patch_tags_in_response: allow_all,
            ..AggregatorConfig::default()
        });
        source.add(id(50), quilt.bytes.clone());
        let answer = get(&app, &patch).await;
        assert_eq!(answer.status, StatusCode::OK, "{allow_all}");
        assert_eq!(answer.header("content-disposition"), "inline");
        assert_eq!(answer.headers.get("x-custom").is_some(), allow_all);
        assert_eq!(answer.header("x-quilt-patch-identifier"), "note.txt");
        assert_eq!(answer.header("content-security-policy"), "sandbox");
        assert!(answer.headers.get("set-cookie").is_none());
    }
}
