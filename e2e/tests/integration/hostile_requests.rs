//! Hostile clients against real node processes ([`StorageCluster`]): bodies that are tiny on the wire and large in
//! memory, oversize and slow bodies, floods of expensive requests. Each attack is shown to
//! have reached the node (its refusal counter or its answer), and the victim's peak RSS
//! (`VmHWM`) is bounded.
//!
//! Bound on memory: an attack may raise the node's peak RSS by at most [`MAX_RSS_GROWTH`]
//! (64 MiB: a few times an idle node's RSS of about 20-40 MB, and a small fraction of the
//! 64 MiB-256 MiB bodies sent). Before this was fixed, one 64 MiB metadata body raised a
//! node's RSS by over 2 GB.

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    time::{Duration, Instant},
};

use walrus_core::{encoding::EncodingConfig, BlobId, SliverPairIndex};
use walrus_e2e::{test_data, StorageCluster, TestNetwork};
use walrus_node_client::api::ErrorReason;

/// The most an attack may raise a node's peak RSS.
const MAX_RSS_GROWTH: u64 = 64 << 20;

/// The peak resident set size (`VmHWM`) of process `pid`, in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kib| kib * 1024)
        .expect("VmHWM in /proc status")
}

/// Sends a raw HTTP/1.1 request with `headers` and streams `body_len` bytes of `pattern`
/// (stopping early if the node closes the connection); returns the response status and body.
fn raw_request(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    pattern: &[u8],
    body_len: usize,
) -> (u16, String) {
    let mut stream = TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("send the head");
    let chunk: Vec<u8> = pattern.iter().copied().cycle().take(1 << 20).collect();
    let mut sent = 0;
    while sent < body_len {
        let n = chunk.len().min(body_len - sent);
        if stream.write_all(&chunk[..n]).is_err() {
            break; // The node answered and closed: it did not read the rest.
        }
        sent += n;
    }
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {text:?} (sent {sent} bytes)"));
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
    (status, body)
}

/// A BCS metadata body of `len` bytes that is tiny on the wire and huge in memory: version,
/// encoding type, length, then a hash count and `Node::Empty` tags (1 byte each, 33 bytes
/// decoded).
fn inflated_metadata(len: usize) -> Vec<u8> {
    let count = (len - 16) / 2;
    let mut body = vec![0u8, 1];
    body.extend_from_slice(&7u64.to_le_bytes());
    let mut value = count;
    loop {
        let byte = u8::try_from(value & 0x7f).expect("seven bits");
        value >>= 7;
        if value == 0 {
            body.push(byte);
            break;
        }
        body.push(byte | 0x80);
    }
    body.resize(len, 0);
    body
}

/// `PUT path` of 64 MiB of inflatable metadata (declared with `Content-Length`); the answer.
fn put_64_mib_of_inflatable_metadata(address: SocketAddr, path: &str) -> (u16, String) {
    raw_request(
        address,
        "PUT",
        path,
        &[
            ("Content-Type", "application/octet-stream".to_owned()),
            ("Content-Length", (64usize << 20).to_string()),
        ],
        &inflated_metadata(1 << 20),
        64 << 20,
    )
}

#[test]
fn inflated_and_oversize_bodies_are_refused_before_they_are_decoded() {
    StorageCluster::run(|StorageCluster { net, client }| async move {
        let address = net.node_address(0);
        let pid = net.node_pid(0).expect("node 0 runs");
        let (blob, _) = client.store(&test_data(20_000, 7), &[0, 1, 2, 3]).await;
        let blob_id = *blob.metadata.blob_id();
        let unregistered = BlobId([0x5a; 32]);
        let idle = peak_rss(pid);
        let path = |blob_id: &BlobId| walrus_node_client::api::metadata_path(blob_id);
        let bcs = ("Content-Type", "application/octet-stream".to_owned());

        // 1. 64 MiB of inflatable metadata for a blob that is not registered: the body is not
        // read while the node waits for the registration, then NOT_REGISTERED.
        let started = Instant::now();
        let (status, answer) = put_64_mib_of_inflatable_metadata(address, &path(&unregistered));
        assert_eq!(status, 400, "{answer}");
        assert!(answer.contains("NOT_REGISTERED"), "{answer}");
        assert!(started.elapsed() < Duration::from_secs(10));

        // 2. The same for a registered blob: 413 from the declared length, nothing decoded.
        let (status, answer) = put_64_mib_of_inflatable_metadata(address, &path(&blob_id));
        assert_eq!(status, 413, "{answer}");
        assert!(answer.contains("PAYLOAD_TOO_LARGE"), "{answer}");

        // 3. Chunked, without a declared length: cut off at the legitimate size.
        let chunked = chunked_body(&inflated_metadata(8 << 20));
        let (status, answer) = raw_request(
            address,
            "PUT",
            &path(&blob_id),
            &[bcs.clone(), ("Transfer-Encoding", "chunked".to_owned())],
            &chunked,
            chunked.len(),
        );
        assert_eq!(status, 413, "{answer}");

        // 4. A legitimate-size body of inflatable metadata decodes within its bound and is
        // refused as invalid.
        let limit = walrus_core::bounded::max_metadata_len(StorageCluster::SHARDS);
        let small = inflated_metadata(limit);
        let (status, answer) = raw_request(
            address,
            "PUT",
            &path(&blob_id),
            &[bcs.clone(), ("Content-Length", small.len().to_string())],
            &small,
            small.len(),
        );
        assert_eq!(status, 400, "{answer}");
        assert!(answer.contains("INVALID_METADATA"), "{answer}");

        // 5. A 256 MiB sliver: 413 before the body is read (its exact length is known).
        let pair = net.shards.pairs_of(0, &blob_id)[0];
        let sliver_path =
            walrus_node_client::api::sliver_path(&blob_id, pair, walrus_core::SliverType::Primary);
        let (status, answer) = raw_request(
            address,
            "PUT",
            &sliver_path,
            &[
                bcs.clone(),
                ("Content-Length", (256usize << 20).to_string()),
            ],
            &[0xff],
            256 << 20,
        );
        assert_eq!(status, 413, "{answer}");

        // 6. Inconsistency proofs: a body declaring millions of symbols, and one of the
        // legitimate size made of the smallest elements, are refused without inflating.
        let proof_path = walrus_node_client::api::inconsistency_proof_path(
            &blob_id,
            walrus_core::SliverType::Primary,
        );
        let mut huge_count = vec![0u8, 0, 0xff, 0xff, 0xff, 0x0f];
        huge_count.resize(1 << 20, 0);
        let (status, answer) = raw_request(
            address,
            "POST",
            &proof_path,
            &[
                bcs.clone(),
                ("Content-Length", huge_count.len().to_string()),
            ],
            &huge_count,
            huge_count.len(),
        );
        assert!(status == 400 || status == 413, "{status} {answer}");
        // Declares the right count, then symbols of empty data with 32-node empty proofs.
        let required = EncodingConfig::new(StorageCluster::SHARDS)
            .expect("an encoding config")
            .n_symbols_in_sliver(walrus_core::SliverType::Primary);
        let mut tiny = vec![0u8, 0, u8::try_from(required).expect("small")];
        for i in 0..required {
            tiny.extend_from_slice(&u16::try_from(i).expect("small").to_le_bytes());
            tiny.push(0); // no data
            tiny.push(32); // 32 proof nodes
            tiny.extend_from_slice(&[0u8; 32]); // all Node::Empty
        }
        let (status, answer) = raw_request(
            address,
            "POST",
            &proof_path,
            &[bcs.clone(), ("Content-Length", tiny.len().to_string())],
            &tiny,
            tiny.len(),
        );
        assert_eq!(status, 400, "{answer}");
        assert!(answer.contains("INVALID_PROOF"), "{answer}");

        let refused = refused_count(&net, 0, "too_large").await;
        assert!(refused >= 4.0, "{refused} oversize bodies counted");
        let peak = peak_rss(pid);
        eprintln!(
            "node peak RSS: idle {} MiB, after the attacks {} MiB",
            idle >> 20,
            peak >> 20
        );
        assert!(
            peak <= idle + MAX_RSS_GROWTH,
            "peak RSS grew from {idle} to {peak} bytes"
        );
        // The node still serves.
        client
            .node(0)
            .get_metadata(&blob_id)
            .await
            .expect("metadata still served");
    });
}

#[test]
fn expensive_requests_are_shed_with_retry_after_and_slow_bodies_time_out() {
    StorageCluster::run(|StorageCluster { mut net, client }| async move {
        let (blob, _) = client.store(&test_data(400_000, 9), &[0, 1, 2, 3]).await;
        let blob_id = *blob.metadata.blob_id();
        net.reconfigure_node(
            3,
            "[limits]\nmax_concurrent_symbol_requests = 1\nmax_queued_symbol_requests = 1\n\
             max_registration_waits = 2\nbody_timeout_ms = 1000\n",
        )
        .await
        .expect("node 3 restarted with tight limits");
        let node = client.node(3);
        let http = node.http_client().clone();

        // Recovery symbols: one computed, one queued, the rest refused at once.
        let target = walrus_core::SliverIndex(0);
        let url = node.url(&walrus_node_client::api::recovery_symbols_path(
            &blob_id,
            target,
            walrus_core::SliverType::Primary,
        ));
        let requests = (0..24).map(|_| {
            let (http, url) = (http.clone(), url.clone());
            tokio::spawn(async move {
                let response = http.get(url).send().await.expect("a response");
                let retry_after = response.headers().get("retry-after").cloned();
                (response.status().as_u16(), retry_after)
            })
        });
        let answers: Vec<(u16, Option<_>)> = futures_join(requests).await;
        let ok = answers.iter().filter(|(status, _)| *status == 200).count();
        let shed = answers
            .iter()
            .filter(|(status, retry)| *status == 429 && retry.is_some())
            .count();
        eprintln!("recoverySymbols: {ok} answered, {shed} shed");
        assert_eq!(ok + shed, answers.len(), "{answers:?}");
        assert!(ok >= 2, "{answers:?}");
        assert!(shed >= 1, "{answers:?}");

        // Registration waits: at most 2 wait, the others are refused at once.
        let unregistered = BlobId([0x77; 32]);
        let started = Instant::now();
        let waits = (0..10).map(|_| {
            let client = node.clone();
            tokio::spawn(async move {
                let answer = client.get_confirmation(&unregistered, None).await;
                (answer.map(|_| ()).map_err(|e| e.reason()), Instant::now())
            })
        });
        let answers = futures_join(waits).await;
        let refused: Vec<_> = answers
            .iter()
            .filter(|(answer, _)| *answer == Err(Some(ErrorReason::RateLimited)))
            .collect();
        let waited = answers
            .iter()
            .filter(|(answer, _)| *answer == Err(Some(ErrorReason::NotRegistered)))
            .count();
        assert_eq!(refused.len() + waited, 10, "{answers:?}");
        assert!(waited <= 2 && refused.len() >= 8, "{answers:?}");
        for (_, at) in &refused {
            assert!(
                at.duration_since(started) < Duration::from_millis(400),
                "a refusal took {:?}",
                at.duration_since(started)
            );
        }

        // A body that never arrives: 408 after the deadline, the connection freed.
        let pair: SliverPairIndex = net.shards.pairs_of(3, &blob_id)[0];
        let started = Instant::now();
        let (status, answer) = raw_request(
            net.node_address(3),
            "PUT",
            &walrus_node_client::api::sliver_path(&blob_id, pair, walrus_core::SliverType::Primary),
            &[(
                "Content-Length",
                walrus_core::bounded::sliver_len(
                    blob.metadata.layout(),
                    walrus_core::SliverType::Primary,
                )
                .to_string(),
            )],
            &[1],
            10, // of thousands declared
        );
        assert_eq!(status, 408, "{answer}");
        assert!(answer.contains("REQUEST_TIMEOUT"), "{answer}");
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(5),
            "{elapsed:?}"
        );
        assert_eq!(refused_count(&net, 3, "body_timeout").await, 1.0);
        assert!(refused_count(&net, 3, "busy").await >= 9.0);
    });
}

/// Awaits every task.
async fn futures_join<T: Send + 'static>(
    tasks: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    let mut out = Vec::new();
    for task in tasks.collect::<Vec<_>>() {
        out.push(task.await.expect("task"));
    }
    out
}

/// `walrus_node_requests_refused_total{reason}` of node `i`.
async fn refused_count(net: &TestNetwork, i: usize, reason: &str) -> f64 {
    net.node_metric(
        i,
        "walrus_node_requests_refused_total",
        &[&format!("reason=\"{reason}\"")],
    )
    .await
    .expect("the node's metrics")
}

/// `data` as one HTTP/1.1 chunk per MiB, then the last chunk.
fn chunked_body(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in data.chunks(1 << 20) {
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}
