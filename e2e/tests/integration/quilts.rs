//! Quilts end to end through real processes (chain, 4 storage nodes holding 10 shards,
//! publisher, aggregator, the `walrus` CLI): a quilt at the network's patch limit (n - f - 1 =
//! 6 files) stored through the CLI and another through the publisher with curl, then with the
//! nodes of 2f shards stopped, every patch read back byte-exact by identifier and by quilt
//! patch ID through the CLI and the aggregator, and the patch lists.

use std::{collections::BTreeMap, path::Path, process::Stdio};

use reqwest::StatusCode;
use serde_json::Value;
use walrus_core::{bft, BlobId, ObjectId};
use walrus_e2e::{run, test_data, write_file, TestNetwork};

/// Shards of the network: `f = 3`, so a quilt holds at most 10 - 3 - 1 = 6 files.
const N_SHARDS: u16 = 10;
/// The most files a quilt may hold at [`N_SHARDS`].
const MAX_PATCHES: usize = 6;

/// One file of a quilt: identifier, contents, tags.
struct File {
    identifier: String,
    contents: Vec<u8>,
    tags: BTreeMap<String, String>,
}

/// [`MAX_PATCHES`] files of mixed sizes (an empty one, one spanning several columns, a
/// non-ASCII identifier, tagged ones).
fn files(seed: u64) -> Vec<File> {
    let sizes = [0usize, 1, 700, 9_000, 30_000, 123];
    let names = [
        "empty",
        "one.bin",
        "notes.txt",
        "image.dat",
        "big file.bin",
        "héllo",
    ];
    sizes
        .iter()
        .zip(names)
        .enumerate()
        .map(|(i, (&size, name))| File {
            identifier: name.to_owned(),
            contents: test_data(size, seed + i as u64),
            tags: if i % 2 == 0 {
                BTreeMap::from([("kind".to_owned(), format!("k{}", i % 4))])
            } else {
                BTreeMap::new()
            },
        })
        .collect()
}

/// The quilt ID and each identifier's patch ID of a quilt store result.
fn stored(answer: &Value) -> (String, BTreeMap<String, String>) {
    let result = &answer["blobStoreResult"]["newlyCreated"]["blobObject"];
    let quilt_id = result["blobId"]
        .as_str()
        .unwrap_or_else(|| panic!("no new quilt in {answer}"))
        .to_owned();
    let patches = answer["storedQuiltBlobs"]
        .as_array()
        .unwrap_or_else(|| panic!("no patches in {answer}"))
        .iter()
        .map(|patch| {
            (
                patch["identifier"].as_str().unwrap().to_owned(),
                patch["quiltPatchId"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    (quilt_id, patches)
}

/// `curl -X PUT PUBLISHER/v1/quilts?epochs=2 -F IDENTIFIER=@FILE ... -F _metadata=JSON`.
async fn curl_store(net: &TestNetwork, dir: &Path, files: &[File]) -> Value {
    let mut command = tokio::process::Command::new("curl");
    command.args(["-sS", "--fail-with-body", "-X", "PUT"]);
    let mut metadata = Vec::new();
    for (i, file) in files.iter().enumerate() {
        let path = write_file(dir, &format!("upload-{i}"), &file.contents).unwrap();
        command
            .arg("-F")
            .arg(format!("{}=@{}", file.identifier, path.display()));
        if !file.tags.is_empty() {
            metadata.push(serde_json::json!({"identifier": file.identifier, "tags": file.tags}));
        }
    }
    command
        .arg("-F")
        .arg(format!("_metadata={}", Value::from(metadata)));
    command.arg(format!("{}/v1/quilts?epochs=2", net.publisher()));
    let output = command
        .stdin(Stdio::null())
        .output()
        .await
        .expect("curl runs");
    assert!(
        output.status.success(),
        "curl failed: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    serde_json::from_slice(&output.stdout).expect("a JSON answer")
}

#[test]
fn quilts_at_the_patch_limit_are_stored_and_read_back_with_2f_shards_down() {
    run(|| async {
        let mut net = TestNetwork::start(4, N_SHARDS).await.expect("a network");
        let scratch = net.scratch();
        let cli = &net.cli;

        // Through the CLI, from --blobs (identifiers and tags).
        let by_cli = files(100);
        let specs: Vec<String> = by_cli
            .iter()
            .enumerate()
            .map(|(i, file)| {
                let path = write_file(&scratch, &format!("cli-{i}"), &file.contents).unwrap();
                serde_json::json!({"path": path, "identifier": file.identifier, "tags": file.tags})
                    .to_string()
            })
            .collect();
        let mut args = vec!["store-quilt", "--epochs", "2", "--blobs"];
        args.extend(specs.iter().map(String::as_str));
        let answer = cli.json(&args).await.unwrap();
        let cli_quilt = stored(&answer);
        assert_eq!(cli_quilt.1.len(), MAX_PATCHES, "{answer}");

        // One file more than the limit is refused before any transaction.
        let mut too_many = args.clone();
        let extra = write_file(&scratch, "extra", b"x").unwrap();
        let extra_spec = serde_json::json!({"path": extra, "identifier": "extra"}).to_string();
        too_many.push(&extra_spec);
        let output = cli.run(&too_many).await.unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("too many files"), "{stderr}");

        // Through the publisher, with curl.
        let by_curl = files(200);
        let answer = curl_store(&net, &scratch, &by_curl).await;
        let curl_quilt = stored(&answer);
        assert_eq!(curl_quilt.1.len(), MAX_PATCHES, "{answer}");

        // The quilts are blobs marked as quilts.
        let chain = net.chain_client().unwrap();
        let object: ObjectId = answer["blobStoreResult"]["newlyCreated"]["blobObject"]["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let blob = chain.get_blob(object).await.unwrap();
        assert_eq!(
            blob.attributes.get(&"_walrusBlobType".to_string()),
            Some(&"quilt".to_string())
        );

        // Stop the nodes of (at most) 2f shards.
        let f = usize::from(bft::max_n_faulty(N_SHARDS));
        let mut order: Vec<usize> = (0..net.network.n_nodes()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(net.shards.weight(&[i])));
        let mut down = Vec::new();
        for i in order {
            let mut with = down.clone();
            with.push(i);
            if net.shards.weight(&with) <= 2 * f {
                down = with;
            }
        }
        let weight = net.shards.weight(&down);
        assert!(
            weight > f,
            "the test must stop more than f shards: {weight}"
        );
        println!("stopping nodes {down:?} ({weight} shards, 2f = {})", 2 * f);
        for &i in &down {
            net.network.stop_node(i).await.expect("stop");
        }

        for (files, (quilt_id, patch_ids)) in [(&by_cli, &cli_quilt), (&by_curl, &curl_quilt)] {
            let quilt: BlobId = quilt_id.parse().unwrap();
            // The patch lists.
            let listed = cli
                .json(&["list-patches-in-quilt", quilt_id])
                .await
                .unwrap();
            let listed = listed["patches"].as_array().unwrap().clone();
            assert_eq!(listed.len(), MAX_PATCHES);
            let response = net
                .aggregate(&format!("/v1/quilts/{quilt}/patches"), &[])
                .await;
            assert_eq!(response.status(), StatusCode::OK);
            let list: Value = response.json().await.unwrap();
            assert_eq!(list.as_array().unwrap().len(), MAX_PATCHES, "{list}");

            // Every patch by identifier (all at once to a directory) through the CLI.
            let out = scratch.join(format!("out-{quilt_id}"));
            cli.ok(&[
                "read-quilt",
                "--quilt-id",
                quilt_id,
                "--out",
                out.to_str().unwrap(),
            ])
            .await
            .unwrap();
            for file in files.iter() {
                let patch_id = &patch_ids[&file.identifier];
                let read = std::fs::read(out.join(&file.identifier)).unwrap();
                assert!(read == file.contents, "{} via the CLI", file.identifier);
                let entry = listed
                    .iter()
                    .find(|entry| entry["identifier"] == file.identifier.as_str())
                    .unwrap();
                assert_eq!(entry["quiltPatchId"], patch_id.as_str());
                assert_eq!(
                    entry["tags"].as_object().unwrap().len(),
                    file.tags.len(),
                    "{entry}"
                );

                // By patch ID through the CLI (to stdout) and the aggregator.
                let output = cli
                    .run(&["read-quilt", "--quilt-patch-ids", patch_id])
                    .await
                    .unwrap();
                assert!(
                    output.status.success(),
                    "{}",
                    String::from_utf8_lossy(&output.stderr)
                );
                assert!(
                    output.stdout == file.contents,
                    "{} by patch ID",
                    file.identifier
                );
                let response = net
                    .aggregate(&format!("/v1/blobs/by-quilt-patch-id/{patch_id}"), &[])
                    .await;
                assert_eq!(response.status(), StatusCode::OK, "{}", file.identifier);
                let header = response.headers()["x-quilt-patch-identifier"].clone();
                assert_eq!(header.as_bytes(), file.identifier.as_bytes());
                let body = response.bytes().await.unwrap();
                assert!(
                    body[..] == file.contents[..],
                    "{} by aggregator ID",
                    file.identifier
                );

                // By identifier through the aggregator (percent-encoded) and the CLI.
                let encoded: String = file
                    .identifier
                    .bytes()
                    .map(|byte| {
                        if byte.is_ascii_alphanumeric() || b".-_".contains(&byte) {
                            (byte as char).to_string()
                        } else {
                            format!("%{byte:02X}")
                        }
                    })
                    .collect();
                let response = net
                    .aggregate(&format!("/v1/blobs/by-quilt-id/{quilt}/{encoded}"), &[])
                    .await;
                assert_eq!(response.status(), StatusCode::OK, "{}", file.identifier);
                let body = response.bytes().await.unwrap();
                assert!(
                    body[..] == file.contents[..],
                    "{} by aggregator identifier",
                    file.identifier
                );
                let output = cli
                    .run(&[
                        "read-quilt",
                        "--quilt-id",
                        quilt_id,
                        "--identifiers",
                        &file.identifier,
                    ])
                    .await
                    .unwrap();
                assert!(
                    output.stdout == file.contents,
                    "{} by CLI identifier",
                    file.identifier
                );
            }

            // By tag through the CLI: the even-numbered files with `kind` = `k0`.
            let tagged = scratch.join(format!("tagged-{quilt_id}"));
            let read = cli
                .json(&[
                    "read-quilt",
                    "--quilt-id",
                    quilt_id,
                    "--tag",
                    "kind",
                    "k0",
                    "--out",
                    tagged.to_str().unwrap(),
                ])
                .await
                .unwrap();
            let mut identifiers: Vec<&str> = read["retrievedBlobs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|patch| patch["identifier"].as_str().unwrap())
                .collect();
            identifiers.sort_unstable();
            let mut expected: Vec<&str> = files
                .iter()
                .filter(|file| file.tags.get("kind").is_some_and(|kind| kind == "k0"))
                .map(|file| file.identifier.as_str())
                .collect();
            expected.sort_unstable();
            assert_eq!(identifiers, expected);
        }

        // A missing identifier: 404 QUILT_PATCH_NOT_FOUND from the aggregator, an error
        // naming it from the CLI.
        let quilt_id = &cli_quilt.0;
        let response = net
            .aggregate(&format!("/v1/blobs/by-quilt-id/{quilt_id}/nope"), &[])
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["reason"], "QUILT_PATCH_NOT_FOUND", "{body}");
        let output = cli
            .run(&[
                "read-quilt",
                "--quilt-id",
                quilt_id,
                "--identifiers",
                "nope",
            ])
            .await
            .unwrap();
        assert!(!output.status.success());
        assert!(String::from_utf8_lossy(&output.stderr).contains("nope"));
    });
}
