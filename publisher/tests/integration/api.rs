//! The publisher's HTTP behaviour in process: query validation, body limits, auth, capacity,
//! errors as JSON, health (with sub-wallets), metrics, serving and shutdown. The chain client
//! points at an unused port, so every store that gets past validation fails at the chain (503).

use crate::common;

use std::time::Duration;

use axum::{
    body::{Body, Bytes},
    http::{header, Request, StatusCode},
    Router,
};
use common::{offline_sdk, publisher};
use futures::channel::mpsc;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use walrus_publisher::{Publisher, PublisherConfig};
use walrus_sdk::{
    client::SdkConfig,
    wallet_pool::{WalletPoolConfig, SUB_WALLET_DOMAIN},
};

fn put(uri: &str, body: Body) -> Request<Body> {
    Request::put(uri).body(body).unwrap()
}

async fn send(router: &Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = tokio::time::timeout(Duration::from_secs(30), router.clone().oneshot(request))
        .await
        .expect("answers in time")
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("{status}: not JSON: {}", String::from_utf8_lossy(&bytes)));
    (status, json)
}

/// Asserts an `ApiError` envelope with `status` and `reason` whose message contains `needle`.
fn assert_error(answer: &(StatusCode, Value), status: u16, reason: &str, needle: &str) {
    let (code, json) = answer;
    assert_eq!(code.as_u16(), status, "{json}");
    assert_eq!(json["error"]["code"], status, "{json}");
    assert_eq!(json["error"]["reason"], reason, "{json}");
    let message = json["error"]["message"].as_str().unwrap();
    assert!(message.contains(needle), "{message:?} lacks {needle:?}");
}

/// A request body that stays open until the sender is dropped.
fn open_body() -> (mpsc::Sender<Result<Bytes, std::io::Error>>, Body) {
    let (sender, receiver) = mpsc::channel(1);
    (sender, Body::from_stream(receiver))
}

async fn wait_for(what: &str, condition: impl Fn() -> bool) {
    for _ in 0..500 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn bad_queries_are_400_naming_the_parameter() {
    let router = publisher(PublisherConfig::default()).router();
    for (query, needle) in [
        ("bogus=1", "bogus"),
        ("epochs=0", "epochs"),
        ("epochs=abc", "epochs"),
        ("epochs=1&epochs=2", "epochs"),
        ("permanent=true&deletable=true", "mutually exclusive"),
        ("send_object_to=nobody", "send_object_to"),
        ("share=true", "not supported"),
        ("force=maybe", "force"),
    ] {
        let answer = send(&router, put(&format!("/v1/blobs?{query}"), Body::from("x"))).await;
        assert_error(&answer, 400, "INVALID_REQUEST", needle);
    }
}

#[tokio::test]
async fn valid_requests_of_the_walrus_docs_reach_the_store() {
    // `curl -d` sends a form content type; every documented flag is accepted. The chain is
    // down, so the store fails with 503, after validation.
    let router = publisher(PublisherConfig::default()).router();
    let address = format!("0x{}", "ab".repeat(32));
    for query in [
        String::new(),
        "?epochs=5".into(),
        "?permanent=true".into(),
        "?deletable=true".into(),
        "?force=true&epochs=2".into(),
        format!("?send_object_to={address}"),
    ] {
        let request = Request::put(format!("/v1/blobs{query}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from("some string"))
            .unwrap();
        let answer = send(&router, request).await;
        assert_error(&answer, 503, "UNAVAILABLE", "chain");
    }
}

fn quilt_form(parts: &[(&str, &str)]) -> Request<Body> {
    let mut body = String::new();
    for (name, contents) in parts {
        body.push_str(&format!(
            "--B0UND\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{contents}\r\n"
        ));
    }
    body.push_str("--B0UND--\r\n");
    Request::put("/v1/quilts?epochs=2&quilt_version=V1")
        .header(header::CONTENT_TYPE, "multipart/form-data; boundary=B0UND")
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn quilt_forms_are_checked_before_the_store() {
    let router = publisher(PublisherConfig::default()).router();
    // A well-formed form reaches the store (which fails at the offline chain: 503).
    let metadata = r#"[{"identifier":"a.txt","tags":{"kind":"note"}}]"#;
    let answer = send(
        &router,
        quilt_form(&[("a.txt", "hello"), ("b", "world"), ("_metadata", metadata)]),
    )
    .await;
    assert_error(&answer, 503, "UNAVAILABLE", "chain");
    // Malformed forms and queries are 400 before any chain work.
    for (request, needle) in [
        (quilt_form(&[]), "no files"),
        (quilt_form(&[("a", "x"), ("_metadata", "[1]")]), "_metadata"),
        (
            Request::put("/v1/quilts")
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .body(Body::from("x"))
                .unwrap(),
            "multipart/form-data",
        ),
        (
            Request::put("/v1/quilts?quilt_version=V2")
                .body(Body::from("x"))
                .unwrap(),
            "quilt_version",
        ),
    ] {
        let answer = send(&router, request).await;
        assert_error(&answer, 400, "INVALID_REQUEST", needle);
    }
    // The blob route takes no quilt version.
    let answer = send(&router, put("/v1/blobs?quilt_version=V1", Body::from("x"))).await;
    assert_error(&answer, 400, "INVALID_REQUEST", "quilt_version");
}

#[tokio::test]
async fn too_large_bodies_are_413_json() {
    let config = PublisherConfig {
        max_body_bytes: 10,
        ..Default::default()
    };
    let router = publisher(config).router();
    // Announced by Content-Length.
    let request = Request::put("/v1/blobs")
        .header(header::CONTENT_LENGTH, "11")
        .body(Body::from("0123456789a"))
        .unwrap();
    assert_error(
        &send(&router, request).await,
        413,
        "PAYLOAD_TOO_LARGE",
        "10 bytes",
    );
    // Chunked, no length: refused once the limit is passed.
    let chunks: Vec<Result<Bytes, std::io::Error>> =
        vec![Ok(Bytes::from("012345")), Ok(Bytes::from("6789ab"))];
    let body = Body::from_stream(futures::stream::iter(chunks));
    let answer = send(&router, put("/v1/blobs", body)).await;
    assert_error(&answer, 413, "PAYLOAD_TOO_LARGE", "10 bytes");
    // Exactly the limit passes (and fails at the chain).
    let answer = send(&router, put("/v1/blobs", Body::from("0123456789"))).await;
    assert_error(&answer, 503, "UNAVAILABLE", "chain");
}

#[tokio::test]
async fn bearer_auth_when_configured() {
    let config = PublisherConfig {
        auth_token: Some("s3cret".into()),
        ..Default::default()
    };
    let router = publisher(config).router();
    let answer = send(&router, put("/v1/blobs", Body::from("x"))).await;
    assert_error(&answer, 401, "INVALID_REQUEST", "Authorization");
    let request = Request::put("/v1/blobs")
        .header(header::AUTHORIZATION, "Bearer wrong")
        .body(Body::from("x"))
        .unwrap();
    assert_error(
        &send(&router, request).await,
        401,
        "INVALID_REQUEST",
        "invalid bearer token",
    );
    let request = Request::put("/v1/blobs")
        .header(header::AUTHORIZATION, "Bearer s3cret")
        .body(Body::from("x"))
        .unwrap();
    assert_error(&send(&router, request).await, 503, "UNAVAILABLE", "chain");
    // Other routes stay open.
    let answer = send(
        &router,
        Request::get("/health").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(answer.0, StatusCode::OK);
}

#[tokio::test]
async fn capacity_beyond_running_and_queued_is_429() {
    let config = PublisherConfig {
        max_concurrent_uploads: 1,
        max_queued: 1,
        ..Default::default()
    };
    let publisher = publisher(config);
    let router = publisher.router();
    let metrics = publisher.metrics().clone();
    // The first upload holds the store slot while its body stays open...
    let (first_sender, first_body) = open_body();
    let first = tokio::spawn(send_owned(router.clone(), put("/v1/blobs", first_body)));
    wait_for("a running upload", || metrics.in_flight.get() == 1).await;
    // ... the second waits for it ...
    let (second_sender, second_body) = open_body();
    let second = tokio::spawn(send_owned(router.clone(), put("/v1/blobs", second_body)));
    wait_for("a queued upload", || metrics.queued.get() == 1).await;
    // ... and the third is refused.
    let request = Request::put("/v1/blobs").body(Body::from("x")).unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()[header::RETRY_AFTER], "5");
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let json: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(json["error"]["reason"], "RATE_LIMITED");
    // Ending the bodies lets both run (into the unreachable chain).
    drop(first_sender);
    assert_error(&first.await.unwrap(), 503, "UNAVAILABLE", "chain");
    drop(second_sender);
    assert_error(&second.await.unwrap(), 503, "UNAVAILABLE", "chain");
    assert_eq!((metrics.in_flight.get(), metrics.queued.get()), (0, 0));
    publisher.wait_idle().await;
}

async fn send_owned(router: Router, request: Request<Body>) -> (StatusCode, Value) {
    send(&router, request).await
}

#[tokio::test]
async fn unknown_routes_are_404_json() {
    let router = publisher(PublisherConfig::default()).router();
    let answer = send(
        &router,
        Request::get("/v1/nope").body(Body::empty()).unwrap(),
    )
    .await;
    assert_error(&answer, 404, "NOT_FOUND", "no such endpoint");
}

#[tokio::test]
async fn health_docs_and_metrics() {
    let publisher = publisher(PublisherConfig::default());
    let router = publisher.router();
    let wallet = publisher.sdk().chain().address().to_string();
    for path in ["/health", "/v1/health"] {
        let (status, json) = send(&router, Request::get(path).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        // The chain is unreachable: degraded, no balance.
        assert_eq!(json["status"], "degraded", "{json}");
        assert_eq!(json["walletAddress"], wallet.as_str());
        assert!(json["walBalance"].is_null() && json["chainError"].is_string());
        // The main wallet stores itself.
        assert_eq!(json["nClients"], 1, "{json}");
        assert_eq!(json["subWallets"], serde_json::json!([]), "{json}");
    }
    // Walrus's liveness route: plain text `OK`, even while the chain is unreachable.
    let response = router
        .clone()
        .oneshot(Request::get("/status").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = axum::body::to_bytes(response.into_body(), 64)
        .await
        .unwrap();
    assert_eq!(&body[..], b"OK");
    let (status, json) = send(
        &router,
        Request::get("/v1/api").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(json["paths"]["/v1/blobs"]["put"].is_object());
    let _ = send(&router, put("/v1/blobs?epochs=0", Body::empty())).await;
    let response = router
        .clone()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    for needle in [
        "walrus_publisher_requests_total{route=\"/v1/blobs\",status=\"400\"} 1",
        "walrus_publisher_requests_total{route=\"/health\",status=\"200\"} 1",
        "walrus_publisher_store_seconds",
        "walrus_publisher_stores_in_flight 0",
        "walrus_publisher_uploads_queued 0",
    ] {
        assert!(text.contains(needle), "{needle} missing from\n{text}");
    }
}

#[tokio::test]
async fn health_lists_the_sub_wallets() {
    let sdk = offline_sdk();
    let pool = WalletPoolConfig {
        n_clients: 3,
        ..WalletPoolConfig::default()
    };
    let publisher = Publisher::with_sub_wallets(
        sdk.clone(),
        SdkConfig::default(),
        pool,
        PublisherConfig::default(),
    )
    .await;
    let (status, json) = send(
        &publisher.router(),
        Request::get("/health").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["nClients"], 3, "{json}");
    assert_eq!(json["walletAddress"], sdk.chain().address().to_string());
    let wallets = json["subWallets"].as_array().expect("sub-wallets");
    assert_eq!(wallets.len(), 3, "{json}");
    for (i, wallet) in wallets.iter().enumerate() {
        let expected = sdk.chain().derived_client(SUB_WALLET_DOMAIN, i as u64);
        assert_eq!(wallet["address"], expected.address().to_string());
        assert_eq!(wallet["busy"], false);
        // The chain is unreachable: no balance was ever seen.
        assert!(wallet["suiBalance"].is_null() && wallet["walBalance"].is_null());
    }
    // A store needs the chain to price the blob for a sub-wallet: 503.
    let answer = send(&publisher.router(), put("/v1/blobs", Body::from("x"))).await;
    assert_error(&answer, 503, "UNAVAILABLE", "chain");
}

#[tokio::test]
async fn serves_on_a_listener_and_shuts_down() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(walrus_publisher::serve(
        listener,
        offline_sdk(),
        PublisherConfig {
            max_body_bytes: 1024,
            ..Default::default()
        },
        async move {
            let _ = stopped.await;
        },
    ));
    let http = reqwest::Client::new();
    let url = format!("http://{address}/v1/blobs");
    // `curl -X PUT "$PUBLISHER/v1/blobs" -d "some string"`
    let response = http
        .put(&url)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("some string")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let json: Value = response.json().await.unwrap();
    assert_eq!(json["error"]["reason"], "UNAVAILABLE");
    // A large body is refused by its Content-Length.
    let response = http.put(&url).body(vec![0u8; 4096]).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let json: Value = response.json().await.unwrap();
    assert_eq!(json["error"]["reason"], "PAYLOAD_TOO_LARGE");
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("stops in time")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn shutdown_waits_for_running_uploads_at_most_the_grace_period() {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let publisher = publisher(PublisherConfig {
        shutdown_grace: Duration::from_millis(300),
        ..Default::default()
    });
    let metrics = publisher.metrics().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        publisher
            .serve(listener, async move {
                let _ = stopped.await;
            })
            .await
    });
    // An upload whose chunked body never ends holds a store slot.
    let mut client = tokio::net::TcpStream::connect(address).await.unwrap();
    client
        .write_all(
            b"PUT /v1/blobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
        )
        .await
        .unwrap();
    wait_for("a running upload", || metrics.in_flight.get() == 1).await;
    let start = std::time::Instant::now();
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("stops after the grace period")
        .unwrap()
        .unwrap();
    assert!(start.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn a_slow_body_gets_408_and_frees_the_store_slot() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let timeout = Duration::from_millis(300);
    let publisher = publisher(PublisherConfig {
        max_concurrent_uploads: 1,
        max_queued: 1,
        body_read_timeout: timeout,
        body_min_bytes_per_sec: 1024,
        ..Default::default()
    });
    let metrics = publisher.metrics().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = {
        let publisher = publisher.clone();
        tokio::spawn(async move {
            publisher
                .serve(listener, async move {
                    let _ = stopped.await;
                })
                .await
        })
    };
    let http = reqwest::Client::new();
    // A client that stops after 10 of 1000 announced bytes, and one that trickles a byte every
    // 50 ms (never idle for the timeout, but far below 1 KiB/s).
    for trickle in [false, true] {
        let client = tokio::net::TcpStream::connect(address).await.unwrap();
        let (mut reader, mut writer) = client.into_split();
        writer
            .write_all(
                b"PUT /v1/blobs HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789",
            )
            .await
            .unwrap();
        let start = std::time::Instant::now();
        let sender = tokio::spawn(async move {
            while trickle && writer.write_all(b"x").await.is_ok() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            // Halted: keep the connection open.
            std::future::pending::<()>().await;
        });
        wait_for("the slow upload in the only slot", || {
            metrics.in_flight.get() == 1
        })
        .await;
        // A second upload waits for the slot.
        let second = tokio::spawn(
            http.put(format!("http://{address}/v1/blobs"))
                .body("some string")
                .send(),
        );
        wait_for("a queued upload", || metrics.queued.get() == 1).await;

        // The slow one gets 408 after its deadline ...
        let mut response = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), reader.read_to_end(&mut response))
            .await
            .expect("the publisher answers and closes the connection")
            .unwrap();
        let elapsed = start.elapsed();
        assert!(elapsed >= timeout, "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
        let response = String::from_utf8(response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 408"), "{head}");
        let json: Value = serde_json::from_str(body).unwrap();
        assert_error(
            &(StatusCode::REQUEST_TIMEOUT, json.clone()),
            408,
            "REQUEST_TIMEOUT",
            "too slow",
        );
        assert_eq!(json["error"]["status"], "DEADLINE_EXCEEDED");
        sender.abort();

        // ... and the second gets the slot (and fails at the unreachable chain).
        let answer = second.await.unwrap().unwrap();
        assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
        let json: Value = answer.json().await.unwrap();
        assert_eq!(json["error"]["reason"], "UNAVAILABLE");
        wait_for("no upload", || {
            metrics.in_flight.get() == 0 && metrics.queued.get() == 0
        })
        .await;
    }
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("stops in time")
        .unwrap()
        .unwrap();
}
