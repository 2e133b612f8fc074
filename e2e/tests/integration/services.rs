//! The publisher, the aggregator and the `walrus` CLI against a network of real processes
//! (chain, 4 storage nodes): round trips of 0 B, 1 B, 1 MiB and 100 MiB
//! through the HTTP API, range and HEAD reads, reads by object ID, `alreadyCertified`, the
//! publisher's 4xx answers, an inconsistent blob read as invalid, and the CLI's store, read,
//! status, list, extend and delete, a dry run, the largest blob of the shard count and one byte
//! more.

use std::{net::TcpListener, process::Stdio, time::Duration};

use reqwest::{header, StatusCode};
use serde_json::Value;
use walrus_core::{encoding::EncodingConfig, BlobId, SliverPairIndex};
use walrus_e2e::{inconsistent_encoding, poll, run, test_data, write_file, TestNetwork};
use walrus_sdk::client::{NoProgress, StoreOptions};

/// The blob ID of a publisher answer.
fn blob_id_of(answer: &Value) -> String {
    let id = answer["newlyCreated"]["blobObject"]["blobId"]
        .as_str()
        .or_else(|| answer["alreadyCertified"]["blobId"].as_str());
    id.unwrap_or_else(|| panic!("no blob ID in {answer}"))
        .to_owned()
}

/// `GET /v1/blobs/BLOB_ID` from the aggregator with `Range: RANGE`.
async fn aggregate_range(net: &TestNetwork, blob_id: &str, range: &str) -> reqwest::Response {
    let path = format!("/v1/blobs/{blob_id}");
    net.aggregate(&path, &[(header::RANGE, range)]).await
}

#[test]
fn publisher_and_aggregator_serve_the_walrus_http_api() {
    run(|| async {
        // 100 shards: 10 shards cap blobs at 1.8 MB, 100 at ~149 MB.
        let net = TestNetwork::start(4, 100).await.expect("a network");

        // Round trips, as the Walrus docs' curl examples do them.
        let mut stored = Vec::new();
        for (len, seed) in [(0usize, 1u64), (1, 2), (1 << 20, 3), (100 << 20, 4)] {
            let data = test_data(len, seed);
            let (status, answer) = net.publish("epochs=2", data.clone()).await;
            assert_eq!(status, StatusCode::OK, "{len} bytes: {answer}");
            let object = &answer["newlyCreated"]["blobObject"];
            assert_eq!(object["size"], len as u64, "{answer}");
            assert_eq!(object["deletable"], true, "deletable is the default");
            assert_eq!(object["encodingType"], "RS2");
            assert!(object["certifiedEpoch"].is_u64(), "{answer}");
            let blob_id = blob_id_of(&answer);
            let response = net.aggregate(&format!("/v1/blobs/{blob_id}"), &[]).await;
            assert_eq!(response.status(), StatusCode::OK, "reading {len} bytes");
            let headers = response.headers().clone();
            assert!(headers[header::ETAG]
                .to_str()
                .unwrap()
                .contains(blob_id.as_str()));
            assert!(
                headers[header::CACHE_CONTROL]
                    .to_str()
                    .unwrap()
                    .contains("immutable")
                    || headers[header::CACHE_CONTROL]
                        .to_str()
                        .unwrap()
                        .contains("max-age")
            );
            let body = response.bytes().await.expect("the body");
            assert!(body[..] == data[..], "{len} bytes read back differ");
            stored.push((blob_id, object["id"].as_str().unwrap().to_owned(), data));
        }

        // (The 100 MiB blob, above the aggregator's stream threshold, was streamed.)
        // Range and HEAD reads of the 1 MiB blob (rows of 67 symbols of 460 B: the range
        // spans ten rows).
        let (blob_id, object_id, data) = &stored[2];
        // Walrus's consistency checks by query parameter; not both.
        for query in [
            "strict_consistency_check=true",
            "skip_consistency_check=true",
        ] {
            let response = net
                .aggregate(&format!("/v1/blobs/{blob_id}?{query}"), &[])
                .await;
            assert_eq!(response.status(), StatusCode::OK, "{query}");
            assert!(response.bytes().await.unwrap()[..] == data[..], "{query}");
        }
        let both = format!(
            "/v1/blobs/{blob_id}?strict_consistency_check=true&skip_consistency_check=true"
        );
        assert_eq!(
            net.aggregate(&both, &[]).await.status(),
            StatusCode::BAD_REQUEST
        );
        let response = aggregate_range(&net, blob_id, "bytes=1000-299999").await;
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(
            response.headers()[header::CONTENT_RANGE],
            format!("bytes 1000-299999/{}", data.len()).as_str()
        );
        assert!(response.bytes().await.unwrap()[..] == data[1000..300_000]);
        let response = aggregate_range(&net, blob_id, "bytes=-10").await;
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
        assert!(response.bytes().await.unwrap()[..] == data[data.len() - 10..]);
        let response = aggregate_range(&net, blob_id, "bytes=2000000-").await;
        assert_eq!(response.status(), StatusCode::RANGE_NOT_SATISFIABLE);
        let head = net
            .http
            .head(format!("{}/v1/blobs/{blob_id}", net.aggregator()))
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), StatusCode::OK);
        assert_eq!(
            head.headers()[header::CONTENT_LENGTH],
            data.len().to_string().as_str()
        );

        // By object ID.
        let response = net
            .aggregate(&format!("/v1/blobs/by-object-id/{object_id}"), &[])
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.bytes().await.unwrap()[..] == data[..]);

        // A permanent blob stored twice: the second store is answered `alreadyCertified`.
        let permanent = test_data(50_000, 5);
        let (status, first) = net
            .publish("epochs=3&permanent=true", permanent.clone())
            .await;
        assert_eq!(status, StatusCode::OK, "{first}");
        assert_eq!(first["newlyCreated"]["blobObject"]["deletable"], false);
        let (status, second) = net.publish("epochs=2&permanent=true", permanent).await;
        assert_eq!(status, StatusCode::OK, "{second}");
        assert_eq!(second["alreadyCertified"]["blobId"], blob_id_of(&first));
        assert_eq!(
            second["alreadyCertified"]["endEpoch"],
            first["newlyCreated"]["blobObject"]["storage"]["endEpoch"]
        );

        // Bad requests.
        for query in [
            "epochs=0",
            "epochs=abc",
            "epochs=1&colour=blue",
            "permanent=true&deletable=true",
        ] {
            let (status, answer) = net.publish(query, vec![1, 2, 3]).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {answer}");
            assert!(answer["error"]["message"].is_string(), "{answer}");
        }
        let (status, answer) = net.publish("epochs=100000", vec![1, 2, 3]).await;
        assert!(status.is_client_error(), "{status}: {answer}");

        // Over-size bodies, against a second publisher with a 64 KiB limit.
        let limited = LimitedPublisher::start(&net, 64 << 10);
        let response = net
            .http
            .put(format!("{}/v1/blobs", limited.url))
            .body(vec![0u8; (64 << 10) + 1])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let answer: Value = response.json().await.unwrap();
        assert!(answer["error"]["message"].is_string(), "{answer}");

        // Unknown and malformed blob IDs.
        let unknown = BlobId([9; 32]);
        let response = net.aggregate(&format!("/v1/blobs/{unknown}"), &[]).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let response = net.aggregate("/v1/blobs/not-a-blob-id", &[]).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);

        // A writer that committed to an inconsistent encoding (a doctored source row): the
        // strict check re-encodes and finds it invalid at once. (The default check reads the
        // bytes its source rows commit to, the same for every reader, until the nodes prove
        // the blob invalid: as Walrus does.)
        let sdk = net.sdk().expect("an SDK client");
        let inconsistent = inconsistent_encoding(test_data(30_000, 6), 100, SliverPairIndex(0));
        let outcome = sdk
            .store_encoded(inconsistent, StoreOptions::deletable(1), &NoProgress)
            .await
            .expect("the nodes accept slivers that match the metadata");
        let response = net
            .aggregate(
                &format!(
                    "/v1/blobs/{}?strict_consistency_check=true",
                    outcome.blob_id()
                ),
                &[],
            )
            .await;
        assert_eq!(response.status(), StatusCode::GONE);
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["error"]["reason"], "BLOB_INVALID", "{answer}");
    });
}

#[test]
fn cli_stores_reads_lists_extends_and_deletes() {
    run(|| async {
        let net = TestNetwork::start(4, 10).await.expect("a network");
        let cli = &net.cli;
        let scratch = net.scratch();
        let data = test_data(300_000, 11);
        let file = write_file(&scratch, "blob.bin", &data).unwrap();

        // The offline blob ID equals what the network certifies.
        let offline = cli
            .json(&["blob-id", file.to_str().unwrap(), "--n-shards", "10"])
            .await
            .unwrap();
        // A dry run encodes and prices, and sends nothing.
        let chain = net.chain_client().unwrap();
        let sui_before = chain.sui_balance_of(chain.address()).await.unwrap();
        let dry = cli
            .json(&["store", "--dry-run", file.to_str().unwrap()])
            .await
            .unwrap();
        assert_eq!(dry[0]["dryRunResult"]["blobId"], offline["blobId"], "{dry}");
        assert_eq!(dry[0]["dryRunResult"]["unencodedSize"], 300_000);
        assert!(dry[0]["dryRunResult"]["storageCost"].as_u64().unwrap() > 0);
        assert_eq!(
            chain.sui_balance_of(chain.address()).await.unwrap(),
            sui_before
        );
        let result = cli.store(&file, 2).await.unwrap();
        let blob_id = result["blobId"].as_str().expect("a blob ID").to_owned();
        let object_id = result["id"].as_str().expect("an object ID").to_owned();
        assert_eq!(offline["blobId"], blob_id);
        assert_eq!(result["deletable"], true);

        // Read back to a file and to stdout.
        let out = scratch.join("out.bin");
        assert!(cli.read(&blob_id, &out).await.unwrap() == data);
        let output = cli.run(&["read", &blob_id]).await.unwrap();
        assert!(output.status.success());
        assert!(output.stdout == data);
        // Walrus's consistency-check flags: strict to a file, skip streamed to stdout; not
        // both.
        let out_arg = out.to_str().unwrap();
        cli.ok(&[
            "read",
            &blob_id,
            "--out",
            out_arg,
            "--strict-consistency-check",
        ])
        .await
        .unwrap();
        assert!(std::fs::read(&out).unwrap() == data);
        let output = cli
            .run(&["read", &blob_id, "--skip-consistency-check"])
            .await
            .unwrap();
        assert!(output.status.success() && output.stdout == data);
        let output = cli
            .run(&[
                "read",
                &blob_id,
                "--strict-consistency-check",
                "--skip-consistency-check",
            ])
            .await
            .unwrap();
        assert!(!output.status.success());
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("cannot be used with"),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );

        let status = cli
            .json(&["blob-status", "--blob-id", &blob_id])
            .await
            .unwrap();
        assert!(status.to_string().contains("deletable"), "{status}");
        let info = cli.json(&["info"]).await.unwrap();
        assert_eq!(info["nShards"], 10);

        // Listed, extended, deleted.
        let listed = cli.json(&["list-blobs"]).await.unwrap();
        let end_epoch = listed
            .as_array()
            .and_then(|blobs| blobs.iter().find(|blob| blob["id"] == object_id.as_str()))
            .map(|blob| blob["storage"]["endEpoch"].as_u64().unwrap())
            .unwrap_or_else(|| panic!("{object_id} not listed in {listed}"));
        let extended = cli
            .json(&[
                "extend",
                "--blob-obj-id",
                &object_id,
                "--epochs-extended",
                "2",
            ])
            .await
            .unwrap();
        assert_eq!(extended["storage"]["endEpoch"], end_epoch + 2);
        let deleted = cli
            .json(&["delete", "--blob-id", &blob_id, "--yes"])
            .await
            .unwrap();
        assert_eq!(deleted[0]["deletedBlobs"][0]["id"], object_id.as_str());
        poll(
            "the deleted blob to be gone",
            Duration::from_secs(20),
            || async {
                let output = cli
                    .run(&["read", &blob_id])
                    .await
                    .map_err(|e| e.to_string())?;
                if output.status.success() {
                    Err("still readable".into())
                } else {
                    Ok(String::from_utf8_lossy(&output.stderr).into_owned())
                }
            },
        )
        .await
        .map(|stderr| assert!(stderr.contains("not found"), "{stderr}"))
        .expect("deleted");

        // The largest blob 10 shards can encode is stored and read back; one byte more is
        // refused before any chain transaction (the wallet pays no gas).
        let max = usize::try_from(EncodingConfig::new(10).unwrap().max_blob_size()).unwrap();
        let largest = test_data(max, 12);
        let file = write_file(&scratch, "largest.bin", &largest).unwrap();
        let result = cli.store(&file, 1).await.unwrap();
        let largest_id = result["blobId"].as_str().expect("a blob ID").to_owned();
        assert!(
            cli.read(&largest_id, &scratch.join("largest-out.bin"))
                .await
                .unwrap()
                == largest
        );
        let too_large = write_file(&scratch, "too-large.bin", &test_data(max + 1, 13)).unwrap();
        let sui_before = chain.sui_balance_of(chain.address()).await.unwrap();
        let output = cli
            .run(&["store", too_large.to_str().unwrap()])
            .await
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!("at most {max} for this shard count")),
            "{stderr}"
        );
        assert_eq!(
            chain.sui_balance_of(chain.address()).await.unwrap(),
            sui_before
        );

        // Clear errors for bad input.
        let output = cli.run(&["read", "not-a-blob-id"]).await.unwrap();
        assert!(!output.status.success());
        assert!(String::from_utf8_lossy(&output.stderr).contains("invalid blob ID"));
        let output = cli.run(&["store", "/nonexistent/file"]).await.unwrap();
        assert!(!output.status.success());
    });
}

/// A second publisher process with a small body limit, killed on drop.
struct LimitedPublisher {
    url: String,
    child: std::process::Child,
}

impl LimitedPublisher {
    fn start(net: &TestNetwork, max_body_bytes: usize) -> Self {
        let address = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .unwrap();
        let binary = walrus_localnet::network::default_bin_dir().join("walrus-publisher");
        let child = std::process::Command::new(binary)
            .arg("--config")
            .arg(net.network.publisher_config_path())
            .arg("--listen")
            .arg(address.to_string())
            .arg("--max-body-bytes")
            .arg(max_body_bytes.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("walrus-publisher starts");
        let url = format!("http://{address}");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(address).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "the second publisher did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { url, child }
    }
}

impl Drop for LimitedPublisher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
