//! Hostile content and hostile clients: active content types are not served as such,
//! `If-None-Match: *` needs an existing blob, reads of the network are bounded (503 with
//! `Retry-After` beyond running + queued) and a read nobody waits for is cancelled.

use crate::common;

use std::{future::Future, sync::Arc, time::Duration};

use axum::{http::StatusCode, Router};
use common::{call, get, MockSource};
use tokio::sync::Semaphore;
use walrus_aggregator::{
    router, server::sniff_content_type, AggregatorConfig, BlobObjectInfo, BlobSource,
};
use walrus_core::{BlobId, ObjectId};

const HTML: &[u8] =
    b"<!DOCTYPE html>\n<html><body><script>alert(document.cookie)</script></body></html>\n";
const SVG: &[u8] = b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(document.domain)</script></svg>\n";
const JS: &[u8] = b"fetch('/steal?c=' + document.cookie);\n";
const PNG: [u8; 16] = [
    0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, b'I', b'H', b'D', b'R',
];

fn id(n: u8) -> BlobId {
    BlobId([n; 32])
}

fn path(blob_id: &BlobId) -> String {
    format!("/v1/blobs/{blob_id}")
}

fn object_path(object_id: &ObjectId) -> String {
    format!("/v1/blobs/by-object-id/{object_id}")
}

fn setup_with(source: MockSource, config: AggregatorConfig) -> (Arc<MockSource>, Router) {
    let source = Arc::new(source);
    let app = router(source.clone() as Arc<dyn BlobSource>, config);
    (source, app)
}

/// A source holding the HTML, SVG, JavaScript and PNG blobs (1..=4) and objects typing the
/// JavaScript blob `text/javascript` (0x01..), the SVG blob `image/svg+xml` (0x02..) and the
/// PNG blob `text/html` (0x03..).
fn hostile_source() -> MockSource {
    let source = MockSource::default();
    source.add(id(1), HTML.to_vec());
    source.add(id(2), SVG.to_vec());
    source.add(id(3), JS.to_vec());
    source.add(id(4), PNG.to_vec());
    for (n, blob, content_type) in [
        (1, 3, "text/javascript"),
        (2, 2, "image/svg+xml"),
        (3, 4, "text/html; charset=utf-8"),
    ] {
        source.objects.lock().unwrap().insert(
            ObjectId([n; 32]),
            BlobObjectInfo {
                blob_id: id(blob),
                attributes: vec![("content-type".to_owned(), content_type.to_owned())],
            },
        );
    }
    source
}

fn assert_protected(answer: &common::Answer) {
    assert_eq!(answer.header("x-content-type-options"), "nosniff");
    assert_eq!(answer.header("content-security-policy"), "sandbox");
}

#[tokio::test]
async fn active_content_is_served_as_octet_stream_by_default() {
    let (_, app) = setup_with(hostile_source(), AggregatorConfig::default());
    // Sniffed types: HTML and an SVG with a script.
    for (blob, bytes) in [(1, HTML), (2, SVG)] {
        let answer = get(&app, &path(&id(blob))).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.body.as_ref(), bytes);
        assert_eq!(answer.header("content-type"), "application/octet-stream");
        assert_protected(&answer);
        for method in ["HEAD", "GET"] {
            let answer = call(&app, method, &path(&id(blob)), &[("range", "bytes=0-9")]).await;
            assert_eq!(answer.status, StatusCode::PARTIAL_CONTENT);
            assert_eq!(answer.header("content-type"), "application/octet-stream");
            assert_protected(&answer);
        }
    }
    // Types from the object's attributes: JavaScript, SVG, and HTML over PNG bytes.
    for n in 1..=3 {
        let answer = get(&app, &object_path(&ObjectId([n; 32]))).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(
            answer.header("content-type"),
            "application/octet-stream",
            "{n}"
        );
        assert_protected(&answer);
    }
    // Passive types keep their type, with the same protective headers.
    let answer = get(&app, &path(&id(4))).await;
    assert_eq!(answer.header("content-type"), "image/png");
    assert_protected(&answer);
    let answer = get(&app, &path(&id(3))).await;
    assert_eq!(answer.header("content-type"), "text/plain; charset=utf-8");
    assert_protected(&answer);
    let health = get(&app, "/v1/health").await.json();
    assert_eq!(health["allow_active_content"], false);
}

#[tokio::test]
async fn allow_active_content_keeps_the_detected_type() {
    let config = AggregatorConfig {
        allow_active_content: true,
        ..AggregatorConfig::default()
    };
    let (_, app) = setup_with(hostile_source(), config);
    assert_eq!(sniff_content_type(HTML), "text/html");
    for (blob, bytes) in [(1, HTML), (2, SVG)] {
        let answer = get(&app, &path(&id(blob))).await;
        assert_eq!(answer.header("content-type"), sniff_content_type(bytes));
        assert_ne!(answer.header("content-type"), "application/octet-stream");
        assert_protected(&answer);
    }
    for (n, expected) in [
        (1, "text/javascript"),
        (2, "image/svg+xml"),
        (3, "text/html; charset=utf-8"),
    ] {
        let answer = get(&app, &object_path(&ObjectId([n; 32]))).await;
        assert_eq!(answer.header("content-type"), expected);
        assert_protected(&answer);
    }
    let answer = get(&app, &path(&id(4))).await;
    assert_eq!(answer.header("content-type"), "image/png");
}

#[tokio::test]
async fn if_none_match_star_needs_an_existing_blob() {
    let (source, app) = setup_with(MockSource::default(), AggregatorConfig::default());
    source.add(id(1), PNG.to_vec());
    source.failing.lock().unwrap().insert(id(2), "invalid");
    source.objects.lock().unwrap().insert(
        ObjectId([9; 32]),
        BlobObjectInfo {
            blob_id: id(3),
            attributes: Vec::new(),
        },
    );
    let star = [("if-none-match", "*")];

    // A missing blob: the normal 404, also through an object whose blob is gone.
    let answer = call(&app, "GET", &path(&id(3)), &star).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.reason(), "NOT_FOUND");
    let answer = call(&app, "HEAD", &path(&id(3)), &star).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    let answer = call(&app, "GET", &object_path(&ObjectId([9; 32])), &star).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    // A blob proven invalid: 410.
    let answer = call(&app, "GET", &path(&id(2)), &star).await;
    assert_eq!(answer.status, StatusCode::GONE);
    assert_eq!(answer.reason(), "BLOB_INVALID");

    // An existing blob: 304 from its metadata alone, without reading its data.
    for method in ["GET", "HEAD"] {
        let answer = call(&app, method, &path(&id(1)), &star).await;
        assert_eq!(answer.status, StatusCode::NOT_MODIFIED, "{method}");
        assert!(answer.body.is_empty());
        assert!(answer.headers.get("content-type").is_none());
        assert_eq!(answer.header("etag"), format!("\"{}\"", id(1)));
    }
    assert_eq!(source.reads() + source.range_reads(), 0);

    // Lists of tags, weak tags, several fields.
    let etag = format!("\"{}\"", id(1));
    let weak = format!("W/{etag}");
    let listed = format!("\"a,b\", W/\"x\", {etag}");
    let not_modified: [&[(&str, &str)]; 4] = [
        &[("if-none-match", &etag)],
        &[("if-none-match", &weak)],
        &[("if-none-match", &listed)],
        &[("if-none-match", "\"x\""), ("if-none-match", &weak)],
    ];
    for headers in not_modified {
        let answer = call(&app, "GET", &path(&id(1)), headers).await;
        assert_eq!(answer.status, StatusCode::NOT_MODIFIED, "{headers:?}");
    }
    let lowercase_weak = format!("w/{etag}");
    let unquoted = id(1).to_string();
    let modified: [&[(&str, &str)]; 4] = [
        &[("if-none-match", "\"x\", W/\"y\"")],
        &[("if-none-match", &lowercase_weak)],
        &[("if-none-match", &unquoted)],
        &[("if-none-match", "")],
    ];
    for headers in modified {
        let answer = call(&app, "GET", &path(&id(1)), headers).await;
        assert_eq!(answer.status, StatusCode::OK, "{headers:?}");
        assert_eq!(answer.body.as_ref(), PNG.as_slice());
    }
}

/// Spawns `GET path` on `app`.
fn spawn_get(app: &Router, path: String) -> tokio::task::JoinHandle<common::Answer> {
    let app = app.clone();
    tokio::spawn(async move { get(&app, &path).await })
}

async fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    for _ in 0..500 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn wait_for_health(app: &Router, what: &str, condition: impl Fn(&serde_json::Value) -> bool) {
    for _ in 0..500 {
        if condition(&get(app, "/v1/health").await.json()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn promptly<T>(request: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(2), request)
        .await
        .expect("answered promptly")
}

#[tokio::test]
async fn reads_beyond_running_and_queued_are_refused_with_503() {
    let gate = Arc::new(Semaphore::new(0));
    let source = MockSource {
        gate: Some(gate.clone()),
        ..MockSource::default()
    };
    let config = AggregatorConfig {
        max_concurrent_reads: 2,
        max_queued_reads: 1,
        ..AggregatorConfig::default()
    };
    let (source, app) = setup_with(source, config);
    for n in 1..=6 {
        source.add(id(n), vec![n; 100]);
    }
    // Blob 6 is cached before the aggregator gets busy.
    gate.add_permits(1);
    assert_eq!(get(&app, &path(&id(6))).await.status, StatusCode::OK);

    // Two reads of distinct blobs run (blocked in the source), a third waits...
    let running: Vec<_> = (1..=3).map(|n| spawn_get(&app, path(&id(n)))).collect();
    wait_for("two running reads", || source.reads() == 3).await;
    wait_for_health(&app, "a queued read", |health| {
        health["reads"]["running"] == 2 && health["reads"]["queued"] == 1
    })
    .await;
    // ... a request for a blob being read joins its read and takes no place ...
    let joined = spawn_get(&app, path(&id(1)));
    // ... and a fourth distinct read is refused at once, as is a range read.
    for headers in [&[][..], &[("range", "bytes=0-9")][..]] {
        let answer = promptly(call(&app, "GET", &path(&id(4)), headers)).await;
        assert_eq!(
            answer.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{headers:?}"
        );
        assert_eq!(answer.header("retry-after"), "5");
        assert_eq!(answer.reason(), "UNAVAILABLE");
        assert_eq!(answer.json()["error"]["code"], 503);
        let message = answer.json()["error"]["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(message.contains("busy"), "{message}");
    }
    // The cache still answers.
    let answer = promptly(get(&app, &path(&id(6)))).await;
    assert_eq!(answer.status, StatusCode::OK);

    gate.add_permits(100);
    for request in running.into_iter().chain([joined]) {
        let answer = request.await.unwrap();
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.body.len(), 100);
    }
    // Blob 6, then blobs 1, 2 and 3 once each; the refused requests read nothing.
    assert_eq!((source.reads(), source.range_reads()), (4, 0));
    let health = get(&app, "/v1/health").await.json();
    assert_eq!(health["reads"]["rejected"], 2);
    assert_eq!(health["reads"]["running"], 0);
    assert_eq!(health["reads"]["queued"], 0);
    let metrics = String::from_utf8(get(&app, "/metrics").await.body.to_vec()).unwrap();
    assert!(
        metrics.contains("walrus_aggregator_reads_rejected_total 2"),
        "{metrics}"
    );
    // With the load gone, blob 4 is served.
    assert_eq!(get(&app, &path(&id(4))).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_read_nobody_waits_for_is_cancelled() {
    let gate = Arc::new(Semaphore::new(0));
    let source = MockSource {
        gate: Some(gate.clone()),
        ..MockSource::default()
    };
    let config = AggregatorConfig {
        max_concurrent_reads: 1,
        max_queued_reads: 0,
        ..AggregatorConfig::default()
    };
    let (source, app) = setup_with(source, config);
    for n in 1..=3 {
        source.add(id(n), vec![n; 100]);
    }

    // Two clients wait for one read of blob 1; the first goes away, the read goes on for the
    // second.
    let first = spawn_get(&app, path(&id(1)));
    wait_for("the read", || source.reads() == 1).await;
    let second = spawn_get(&app, path(&id(1)));
    tokio::time::sleep(Duration::from_millis(100)).await;
    first.abort();
    let _ = first.await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(source.cancelled(), 0);
    gate.add_permits(1);
    let answer = second.await.unwrap();
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body.as_ref(), vec![1; 100].as_slice());

    // The only client of the read of blob 2 goes away: the read is cancelled, its place freed.
    let only = spawn_get(&app, path(&id(2)));
    wait_for("the read", || source.reads() == 2).await;
    only.abort();
    let _ = only.await;
    wait_for("the cancelled read", || source.cancelled() == 1).await;
    let health = get(&app, "/v1/health").await.json();
    assert_eq!(health["reads"]["cancelled"], 1);
    assert_eq!(health["reads"]["running"], 0);

    // The only place is free again, and blob 2 is read afresh.
    gate.add_permits(100);
    assert_eq!(get(&app, &path(&id(3))).await.status, StatusCode::OK);
    let answer = get(&app, &path(&id(2))).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body.as_ref(), vec![2; 100].as_slice());
    assert_eq!(source.reads(), 4);
}

#[tokio::test]
async fn closing_the_connection_cancels_the_read() {
    use tokio::io::AsyncWriteExt;

    let gate = Arc::new(Semaphore::new(0));
    let source = Arc::new(MockSource {
        gate: Some(gate.clone()),
        ..MockSource::default()
    });
    source.add(id(1), vec![1; 100]);
    source.add(id(2), PNG.to_vec());
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
    for (blob, range) in [(id(1), ""), (id(2), "Range: bytes=0-3\r\n")] {
        let before = source.cancelled();
        let started = source.reads() + source.range_reads();
        let mut client = tokio::net::TcpStream::connect(address).await.unwrap();
        let request = format!("GET /v1/blobs/{blob} HTTP/1.1\r\nHost: x\r\n{range}\r\n");
        client.write_all(request.as_bytes()).await.unwrap();
        wait_for("the read", || {
            source.reads() + source.range_reads() > started
        })
        .await;
        drop(client);
        wait_for("the cancelled read", || source.cancelled() == before + 1).await;
    }
    gate.add_permits(100);
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server stops")
        .unwrap()
        .unwrap();
}
